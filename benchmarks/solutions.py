"""e-GLASS vs PULSE vs latent Langevin: time to 10 and 100 feasible solutions (paper Table 1).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/solutions.py [--quick] [--digits N]
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/solutions.py --prior faces-dcgan64 --count N

``--prior`` picks the prior (``mnist-dcgan``, the default, or ``faces-dcgan64``), ``--count``
the measurements per problem; ``--digits N`` is ``--prior mnist-dcgan --count N``.

**Digits** (``mnist-dcgan``): for SR x8 and the central inpainting box
(``eglass.inversion.benchmark_problems()``), on held-out digits (one per class), same generator,
same machine, same process:

* **e-GLASS** (``eglass.comparison.run_eglass``, its defaults): the fast start
  (``eglass.inversion.fast_start``: the shipped encoder's guess, refined until the error is
  below 3e-4) + H_Y + H_X (setup, counted in every time), then Algorithm 1 solutions
  ``G(z0 + eta d_K)``, ten directions a round, each round's candidates ordered by decreasing
  ``|eta|``.
* **e-GLASS (IAGAN start)**: the same from the full IAGAN inversion (4 starts x 200 steps + 100
  fine-tuning steps, ``EGLASS_INVERSION``) -- the first solution before the fast start.
* **e-GLASS (3 starts)**: the spread start (``run_eglass(starts=3)``): the fast start and two
  more first solutions from Gaussian draws (latent fit alone, ``EXTRA_STARTS``), each with its
  metrics, their candidates taken in turn so that the first ten cover all three.
* **PULSE** (``run_pulse``): restarts in batches of 20, 100 Adam steps each (upstream budget),
  stop criterion ``eps = min(2e-3, tau)`` -- so one run per tau (the 1e-3 run is skipped when
  no restart reached 1e-2: it follows the same trajectories and cannot do better).
* **Langevin** (``run_langevin``): 10 chains from the prior, unadjusted Langevin on p(z | y),
  sigma = 0.03, automatic step size, burn-in 300, every 5th state kept.

Each method runs until it has 100 feasible candidates (error <= tau; for e-GLASS and Langevin
at the strict tau = 1e-3, which also gives the 1e-2 counts) or hits its candidate cap (120
restarts / samples; e-GLASS: 40 directions x 6 steps). Run with one thread: on a shared
2-core machine two threads per process oversubscribe the cores and the timings swing. Time to
k = wall time until the k-th feasible candidate existed. Quality of the first 10 feasible
(tau = 1e-2): mean pairwise perceptual distance and distinct predicted classes
(``eglass.evaluate.diversity`` with the embedded classifier features), and the classifier's
mean confidence (a realism proxy), each also against PULSE's on the same digit (difference of
classes, ratio of distances; medians over digits). Where each method's time to 100 went
(``breakdown``: e-GLASS's first solution, metrics, Algorithm 1's directions and solutions; for
the baselines the time to their first feasible solution and the rest), the time from a new
measurement to a live explorer (e-GLASS's first solution + metrics) and Algorithm 1's
faithfulness at the first solution (``eglass.explore.faithfulness``: median ratio of
``v^K``'s error to ``d``'s at equal ``eta``, K = 2..11, ``|eta| <= 6``, shipped defaults).
A warm-up run on a training digit precedes the timed ones. Results:
``benchmarks/results/solutions.json`` (``--quick``: ``solutions_quick.json``) and printed
tables with ratios.

**Faces** (``faces-dcgan64``, pretrained on synthetic DigiFace-1M faces): SR x8 (64 -> 8) and
the mouth box (``eglass.priors.faces.face_problems()``), on generator samples from held-out
seeds (``Prior.samples``), with its ImageNet EfficientNet-Lite0 distance (uniform weights: no
calibrated weights exist offline) for the diversity and no classifier (no class counts).
e-GLASS runs once per tau, from the prior's encoder (fast start) refined to ``tol = 1e-3``
for tau = 1e-2 (PULSE stops at 2e-3 there) and to the library's ``3e-4`` for tau = 1e-3,
with the prior's defaults (Algorithm 1's ``top``; ``etas`` if it sets them) and directions
K = 2..100 (its whole latent: at 1e-3 fewer than 100 of the first 240 candidates fit);
PULSE as above;
Langevin and e-GLASS from the IAGAN start only with ``--methods``. Besides the faithfulness
against ``y``, Algorithm 1's ratio of measurement change is measured against ``A G(z0)``
(the issue's goal), with the median perceptual change along ``d`` over that along ``v^K``
at equal ``eta``. A warm-up on another sample precedes the timed runs. Results:
``benchmarks/results/solutions-faces.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from eglass.comparison import (
    EGLASS_INVERSION,
    benchmark_table,
    diversity_table,
    run_eglass,
    run_langevin,
    run_pulse,
)
from eglass.data import mnist
from eglass.distances import default_distance
from eglass.efficientnet import WEIGHTS as EFFICIENTNET
from eglass.evaluate import TAU, TAU_STRICT, diversity
from eglass.explore import explore
from eglass.inversion import benchmark_problems
from eglass.models import load_classifier, load_generator, registry
from eglass.priors import get_prior
from eglass.priors.faces import face_problems
from eglass.problem import InverseProblem
from eglass.utils import stopwatch

RESULTS = Path(__file__).resolve().parent / "results"
PROBLEMS = ("SR x8", "inpainting (box)")
TAUS = (TAU, TAU_STRICT)
TARGETS = (10, 100)
METHODS = ("e-GLASS", "e-GLASS (IAGAN start)", "e-GLASS (3 starts)", "PULSE", "Langevin")
STARTS = 3  # the spread start: first solutions explored from, in turn (run_eglass(starts=))
PARTS = ("first_solution", "metrics", "directions", "solutions")
LANGEVIN_THIN = 5
# Faces: e-GLASS's first solution is refined to this error for each tau (fast_start's tol).
FACE_TOL = {TAU: 1e-3, TAU_STRICT: 3e-4}


@dataclass
class Setup:
    """What one prior's benchmark runs on: its generator, distance (and classifier), the
    problems by name, the truths ``(count, C, H, W)`` with labels (or ``None``), the methods
    and the e-GLASS settings (``per_tau``: one e-GLASS run per tau with ``FACE_TOL``)."""

    prior: str
    G: torch.nn.Module
    distance: torch.nn.Module
    classifier: torch.nn.Module | None
    problems: dict
    truths: torch.Tensor
    labels: list | None
    warm: torch.Tensor
    methods: tuple
    eglass: dict
    per_tau: bool
    results: str
    weights: dict


def heldout_digits(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` held-out digits, cycling through the classes: ``(n, 1, 32, 32)`` and labels."""
    x, labels = mnist("test")
    index = torch.tensor([(i % 10) * 50 + i // 10 for i in range(n)])
    return x[index], labels[index]


def digit_setup(count: int, quick: bool, methods) -> Setup:
    G = load_generator("mnist-dcgan")
    classifier = load_classifier("mnist-cnn")
    x, labels = heldout_digits(count)
    problems = benchmark_problems()
    return Setup("mnist-dcgan", G, default_distance(classifier), classifier,
                 {name: problems[name] for name in PROBLEMS}, x, labels.tolist(),
                 mnist("train")[0][:1], tuple(methods or METHODS), {}, False,
                 "solutions_quick.json" if quick else "solutions.json",
                 {n: registry()[n]["sha256"] for n in ("mnist-dcgan", "mnist-cnn",
                                                       "mnist-encoder")})


def face_setup(count: int, methods) -> Setup:
    prior = get_prior("faces-dcgan64")
    G = prior.generator()
    _, x = prior.samples(count, seed=0)
    _, warm = prior.samples(1, seed=1)
    problems = face_problems()
    defaults = prior.defaults
    eglass = dict(explore={"top": defaults["top"]}, Ks=range(2, prior.latent_dim + 1),
                  etas=defaults.get("etas", (-6.0, -4.0, -2.0, 2.0, 4.0, 6.0)))
    return Setup(prior.name, G, prior.distance(), None,
                 {name: problems[name] for name in ("SR x8", "inpainting (mouth)")}, x, None,
                 warm, tuple(methods or ("e-GLASS", "PULSE")), eglass, True,
                 "solutions-faces.json",
                 {prior.name: prior.sha256, "faces-encoder": registry()["faces-encoder"]["sha256"],
                  "efficientnet-lite0": EFFICIENTNET["sha256"]})


def quality(run, distance, classifier, k: int = 10, tau: float = TAU) -> dict:
    """Diversity and realism proxy of the first ``k`` feasible candidates of a run."""
    x = run.first(k, tau).x
    if len(x) == 0:
        return dict(n=0, mean_distance=None, classes=None, confidence=None, labels=[])
    div = diversity(x, distance, classifier)
    confidence = None
    if classifier is not None:
        with torch.no_grad():
            confidence = classifier.predict_proba(x).max(dim=1).values.mean().item()
    mean = None if math.isnan(div.mean_distance) else div.mean_distance
    return dict(n=div.n, mean_distance=mean, classes=div.classes, confidence=confidence,
                labels=[] if div.labels is None else div.labels.tolist())


def eglass_options(setup: Setup, tau: float) -> dict:
    """``run_eglass``'s settings for ``tau``: its defaults for the digits; for faces the
    prior's defaults and the fast start (from the prior's encoder, which the fast start finds
    through the generator) refined to ``FACE_TOL[tau]``."""
    if not setup.per_tau:
        return {}
    s = setup.eglass
    return dict(Ks=s["Ks"], etas=s["etas"], explore=s["explore"],
                inversion=dict(method="fast", tol=FACE_TOL[tau]))


def eglass_runs(setup: Setup, problem: InverseProblem, seed: int) -> dict:
    """e-GLASS by tau: one run at the strict tau (digits: the 1e-2 counts come from it too),
    or for faces one run per tau (:func:`eglass_options`)."""
    target = max(TARGETS)
    taus = TAUS if setup.per_tau else (min(TAUS),)
    return {tau: run_eglass(problem, n=target, tau=tau, seed=seed, **eglass_options(setup, tau))
            for tau in taus}


def one_digit(setup: Setup, problem: InverseProblem, seed: int, cap: int) -> dict:
    """All methods on one measurement (``problem``: the prior's generator, the operator, the
    measurement and the prior's distance); returns per-method records."""
    target, strict = max(TARGETS), min(TAUS)
    distance, classifier = setup.distance, setup.classifier
    runs = {"e-GLASS": eglass_runs(setup, problem, seed)}
    if "e-GLASS (IAGAN start)" in setup.methods:
        options = {**eglass_options(setup, strict), "inversion": EGLASS_INVERSION}
        runs["e-GLASS (IAGAN start)"] = {strict: run_eglass(
            problem, n=target, tau=strict, seed=seed, **options)}
    if "e-GLASS (3 starts)" in setup.methods:
        runs["e-GLASS (3 starts)"] = {strict: run_eglass(
            problem, n=target, tau=strict, seed=seed, starts=STARTS,
            **eglass_options(setup, strict))}
    runs["PULSE"] = {TAU: run_pulse(problem, n=target, tau=TAU, max_candidates=cap,
                                    seed=seed)}
    implied = not runs["PULSE"][TAU].feasible(TAU).any()
    if not implied:  # eps = 1e-3 follows the same trajectories, just stops later
        runs["PULSE"][strict] = run_pulse(problem, n=target, tau=strict,
                                          max_candidates=cap, seed=seed)
    if "Langevin" in setup.methods:
        runs["Langevin"] = {strict: run_langevin(problem, n=target, tau=strict,
                                                 max_candidates=cap, thin=LANGEVIN_THIN,
                                                 seed=seed)}
    out = {}
    for method, by_tau in runs.items():
        out[method] = record(by_tau, distance, classifier)
        if method == "PULSE" and implied:
            out[method]["settings"]["note"] = (
                "no restart reached tau=1e-2, so none can reach 1e-3: the eps=1e-3 run "
                "(identical trajectories, later stop) was skipped")
    first = runs["e-GLASS"]
    point = first.get(TAU, first[strict]).context["point"]
    out["faithfulness"] = faithfulness(point, setup)
    return out


def record(by_tau: dict, distance, classifier) -> dict:
    """One method's record from its runs by tau (a tau without its own run reads the
    strict run, or the 1e-2 one)."""
    strict = min(TAUS)
    rec = {"time_to": {}, "feasible_fraction": {}, "candidates": {}, "seconds": {}}
    for tau in TAUS:
        run = by_tau.get(tau, by_tau.get(strict, by_tau.get(TAU)))
        for k in TARGETS:
            rec["time_to"][f"{k}@{tau:g}"] = run.time_to(k, tau)
        rec["feasible_fraction"][f"{tau:g}"] = run.feasible_fraction(tau)
        rec["candidates"][f"{tau:g}"] = run.x.shape[0]
        rec["seconds"][f"{tau:g}"] = run.seconds
    first = by_tau.get(TAU, by_tau.get(strict))
    rec["setup_seconds"] = first.setup_seconds
    rec["run_seconds"] = sum(r.seconds for r in by_tau.values())
    rec["settings"] = {f"{t:g}": r.params for t, r in by_tau.items()}
    rec["quality@10"] = quality(first, distance, classifier)
    rec["errors_first10"] = first.first(10, TAU).errors.tolist()
    rec["breakdown"] = breakdown(first, by_tau)
    return rec


def faithfulness(point, setup: Setup) -> dict:
    """Algorithm 1 at the first solution, K = 2..11, ``|eta|`` from 0.25 to 6, the prior's
    settings: the median ratio of ``v^K``'s measurement change to ``d``'s against
    ``A G(z0)`` (:func:`eglass.explore.faithfulness`) and of their errors against ``y``,
    and, for other priors, the median perceptual change
    along ``d`` over the median along ``v^K`` and the share of ``d``'s solutions feasible at
    1e-2, on Ks 2..11 and 2..41 (same etas)."""
    algorithm1 = setup.eglass.get("explore", {})
    f = point.faithfulness(**algorithm1)
    out = {"median_ratio": f.median, "median_linear_share": f.linear_share.median().item(),
           "median_ratio_vs_y": (f.error_v / f.error_d).median().item()}
    if not setup.per_tau:
        return out
    problem = point.problem
    out["median_ratio_at_x0"] = f.median  # the change against A G(z0): the same ratio
    for last in (11, 41):  # the faithfulness grid, and run_eglass's default one
        grid = dict(Ks=range(2, last + 1), etas=(-6.0, -4.0, -2.0, 2.0, 4.0, 6.0))
        v = explore(problem, point.z0, point.H_Y, point.H_X, method="eigenvector", **grid)
        d = explore(problem, point.z0, point.H_Y, point.H_X, method="eglass", **grid,
                    **algorithm1)
        out[f"perceptual_ratio_K2-{last}"] = (d.perceptual.median()
                                              / v.perceptual.median()).item()
        out[f"feasible_K2-{last}"] = d.feasible_fraction(TAU)
    return out


def breakdown(first, by_tau) -> dict:
    """Where a method's time went: e-GLASS's parts as its run recorded them; for the
    baselines (no setup) the time to their first feasible solution, then the rest."""
    if "seconds" in first.params:
        return {part: first.params["seconds"][part] for part in PARTS}
    to_first = first.time_to(1, TAU)
    total = sum(r.seconds for r in by_tau.values())
    return {"first_solution": to_first, "metrics": 0.0, "directions": 0.0,
            "solutions": None if to_first is None else total - to_first}


def _s(t):
    return "-" if t is None else f"{t:.1f}s"


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(records: list[dict], methods=METHODS) -> dict:
    """Medians over measurements, and per-measurement ratios (method / e-GLASS) for the
    times."""
    summary = {}
    for method in methods:
        rows = [r[method] for r in records]
        s = {"time_to": {}, "reached": {}, "ratio_vs_eglass": {}}
        for key in rows[0]["time_to"]:
            times = [row["time_to"][key] for row in rows]
            s["time_to"][key] = _median(times)
            s["reached"][key] = sum(t is not None for t in times)
            ratios = [row["time_to"][key] / r["e-GLASS"]["time_to"][key]
                      for row, r in zip(rows, records, strict=True)
                      if row["time_to"][key] is not None and r["e-GLASS"]["time_to"][key]]
            s["ratio_vs_eglass"][key] = _median(ratios)
        s["feasible_fraction"] = {t: _median([row["feasible_fraction"][t] for row in rows])
                                  for t in rows[0]["feasible_fraction"]}
        q = [row["quality@10"] for row in rows]
        s["mean_distance@10"] = _median([x["mean_distance"] for x in q])
        s["classes@10"] = _median([x["classes"] for x in q])
        s["confidence@10"] = _median([x["confidence"] for x in q])
        s["setup_seconds"] = _median([row["setup_seconds"] for row in rows])
        s["breakdown"] = {part: _median([row["breakdown"][part] for row in rows])
                          for part in PARTS}
        pulse = [r["PULSE"]["quality@10"] for r in records]
        s["distance_vs_pulse@10"] = _median([
            x["mean_distance"] / p["mean_distance"] for x, p in zip(q, pulse, strict=True)
            if x["mean_distance"] is not None and p["mean_distance"]])
        s["classes_minus_pulse@10"] = _median([
            x["classes"] - p["classes"] for x, p in zip(q, pulse, strict=True)
            if x["classes"] is not None and p["classes"] is not None])
        summary[method] = s
    summary["e-GLASS"]["to_explorer_seconds"] = _median([
        r["e-GLASS"]["breakdown"]["first_solution"] + r["e-GLASS"]["breakdown"]["metrics"]
        for r in records])
    summary["e-GLASS"]["faithfulness"] = {
        key: _median([r["faithfulness"][key] for r in records])
        for key in records[0]["faithfulness"]}
    return summary


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 measurements, small caps")
    parser.add_argument("--prior", default="mnist-dcgan",
                        choices=("mnist-dcgan", "faces-dcgan64"), help="the prior")
    parser.add_argument("--count", type=int, default=None, help="measurements per problem")
    parser.add_argument("--digits", type=int, default=None,
                        help="held-out digits per problem (--prior mnist-dcgan --count N)")
    parser.add_argument("--cap", type=int, default=None, help="max candidates per PULSE/Langevin")
    parser.add_argument("--results", default=None,
                        help="file name under benchmarks/results (default: the prior's)")
    parser.add_argument("--methods", default=None,
                        help="comma-separated methods beside e-GLASS and PULSE (default: all "
                        "for the digits; none for faces), of: e-GLASS (IAGAN start),"
                        "e-GLASS (3 starts),Langevin")
    args = parser.parse_args()
    if args.digits is not None:
        args.prior, args.count = "mnist-dcgan", args.digits
    return args


def main() -> None:
    args = arguments()
    count = args.count or (2 if args.quick else 10)
    cap = args.cap or (60 if args.quick else 120)
    methods = None if args.methods is None else ("e-GLASS", *(
        m for m in METHODS[1:] if m in args.methods.split(",") or m == "PULSE"))
    setup = (digit_setup(count, args.quick, methods) if args.prior == "mnist-dcgan"
             else face_setup(count, methods))
    results = {
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "torch": torch.__version__, "threads": torch.get_num_threads(),
                    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")},
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "prior": setup.prior, "weights_sha256": setup.weights,
        "digits": count, "labels": setup.labels,
        "cap": cap, "taus": list(TAUS), "targets": list(TARGETS), "methods": setup.methods,
        "settings": {k: [v[0], v[-1]] if isinstance(v, range) else v
                     for k, v in setup.eglass.items()},
        "problems": {},
    }
    # warm-up (first calls compile torch's forward-mode rules, fill allocator caches): one
    # e-GLASS run and one PULSE batch on a truth no timed run uses, not timed
    for A in setup.problems.values():
        warm = InverseProblem(setup.G, A, A(setup.warm), setup.distance)
        run_eglass(warm, n=10, **eglass_options(setup, TAU))
        run_pulse(warm, n=1, max_candidates=20)
    with stopwatch() as total:
        for name, A in setup.problems.items():
            records = []
            for i in range(count):
                problem = InverseProblem(setup.G, A, A(setup.truths[i : i + 1]), setup.distance)
                with stopwatch() as t:
                    rec = one_digit(setup, problem, seed=i, cap=cap)
                rec["label"] = None if setup.labels is None else int(setup.labels[i])
                records.append(rec)
                print(f"{name} truth {i} (label {rec['label']}): {t():.1f}s  " + "  ".join(
                    f"{m}: t10={_s(rec[m]['time_to']['10@0.01'])} "
                    f"ran {rec[m]['run_seconds']:.1f}s" for m in setup.methods), flush=True)
            summary = summarize(records, setup.methods)
            # "digits": the per-measurement records (the key of the digit results' readers)
            results["problems"][name] = {"summary": summary, "digits": records}
            print(f"\n== {name}: medians over {count} held-out truths ({setup.prior}) ==")
            print(benchmark_table(summary, count), "\n", flush=True)
            print(diversity_table(summary), "\n", flush=True)
            print("Algorithm 1 at the first solution:", json.dumps(
                summary["e-GLASS"]["faithfulness"]), "\n", flush=True)
    results["total_seconds"] = total()
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / (args.results or setup.results)
    out.write_text(json.dumps(results, indent=1))
    print(f"total {total():.0f}s; saved {out}")


if __name__ == "__main__":
    main()
