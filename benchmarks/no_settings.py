r"""e-GLASS with no settings against a grid of hand settings: what the defaults leave on the table.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/no_settings.py [--quick]

For each case (a prior, a problem, truths, optional noise) the first solutions come from the
fast start (:func:`eglass.explore.starting_points` with ``method="fast"``); from each one
Algorithm 1 runs with no settings (``point.explore()``: the resolved defaults, see
:mod:`eglass.settings`) and on the grid of the issue that asks for settings derived from the
problem: ``top`` in {8, 24, 48} x (fixed steps ``eta`` in {±2, ±4} | ``placement="reach"`` at
±0.5 and ±1), ``K = 2..11``. Each row: the number of solutions, the share feasible at the
problem's level ``tau``, and the mean pairwise change ``|dx|`` (mean absolute pixel
difference on the [-1, 1] scale, over all pairs of solutions). The best hand setting is the
one of largest ``|dx|`` among those at least 95 % feasible.

Noise (the issue's question of where the first solution should sit): the noisy case runs twice,
once with the first solution stopped at the level the noise sets (the default: the fit stops
at :math:`\sigma^2/4`, close to ``tau``, leaving little slack to explore) and once fitted
through the noise (``noise_sigma=None, tol=1e-5``: as well as the data allow), each with its
first solutions' errors against ``tau``.

Results go to ``benchmarks/results/no_settings.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import time
from pathlib import Path

import torch

from eglass.data import mnist
from eglass.explore import starting_points
from eglass.inversion import benchmark_problems
from eglass.operators import add_noise
from eglass.priors import get_prior
from eglass.priors.faces import face_problems, grace_hopper
from eglass.problem import InverseProblem

RESULTS = Path(__file__).resolve().parent / "results" / "no_settings.json"
KS = tuple(range(2, 12))
GRID = {f"top={top}, {label}": dict(top=top, Ks=KS, **options)
        for top, (label, options) in itertools.product(
            (8, 24, 48),
            (("eta ±2, ±4", dict(etas=(-4.0, -2.0, 2.0, 4.0))),
             ("reach ±0.5, ±1", dict(placement="reach", etas=(-1.0, -0.5, 0.5, 1.0)))))}
FEASIBLE_GOAL = 0.95


def mean_change(x: torch.Tensor) -> float:
    """Mean absolute pixel difference over all pairs of images ``(N, C, H, W)``."""
    flat = x.flatten(1).double()
    return (torch.pdist(flat, p=1) / flat.shape[1]).mean().item() if len(x) > 1 else 0.0


def row(solutions, tau: float) -> dict:
    return {"n": len(solutions), "feasible": solutions.feasible(tau).double().mean().item(),
            "change": mean_change(solutions.x),
            "sources": {k: v for k, v in solutions.params.get("sources", {}).items()
                        if v != "method"}}


THROUGH = dict(noise_sigma=None, tol=1e-5)  # the first solution fitted through the noise


def cases(quick: bool) -> dict:
    """name -> (prior name, operator, truths ``(n, C, H, W)``, noise sigma or None, options of
    the first solution)."""
    digits, _ = mnist("test")
    digits = digits[torch.tensor([0, 150, 300])[: 2 if quick else 3]]  # three classes
    faces = get_prior("faces-dcgan64")
    _, samples = faces.samples(1 if quick else 2, seed=3)
    face_truths = torch.cat([samples, grace_hopper()])
    out = {
        "digits SR x8": ("mnist-dcgan", benchmark_problems()["SR x8"], digits, None, {}),
        "digits inpainting": ("mnist-dcgan", benchmark_problems()["inpainting (box)"], digits,
                              None, {}),
        "faces SR x8": ("faces-dcgan64", face_problems()["SR x8"], face_truths, None, {}),
        "faces SR x8, noise 0.05": ("faces-dcgan64", face_problems()["SR x8"], face_truths,
                                    0.05, {}),
        "faces SR x8, noise 0.05, fitted through": ("faces-dcgan64", face_problems()["SR x8"],
                                                    face_truths, 0.05, THROUGH),
    }
    if not quick:
        out["faces inpainting (mouth)"] = ("faces-dcgan64", face_problems()["inpainting (mouth)"],
                                           face_truths, None, {})
    return out


def run_case(prior_name, A, x, noise, start: dict) -> dict:
    G = get_prior(prior_name).generator()
    y = A(x)
    if noise:
        y = add_noise(y, noise, seed=0)
    problem = InverseProblem(G, A, y, noise=noise)
    points = starting_points(problem, method="fast", **start)
    tau = problem.tau
    found = {"tau": tau, "first_errors": [p.problem.error(p.x0).item() for p in points],
             "no settings": [], **{name: [] for name in GRID}}
    for point in points:
        found["no settings"].append(row(point.explore(), tau))
        for name, settings in GRID.items():
            found[name].append(row(point.explore(**settings), tau))
    return found


def pooled(rows: list[dict]) -> dict:
    n = len(rows)
    return {"n": sum(r["n"] for r in rows) / n,
            "feasible": sum(r["feasible"] for r in rows) / n,
            "change": sum(r["change"] for r in rows) / n}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer truths, fewer cases")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    results = {"machine": platform.processor() or platform.machine(),
               "torch": torch.__version__, "Ks": list(KS), "cases": {}}
    for name, (prior_name, A, x, noise, first) in cases(args.quick).items():
        found = run_case(prior_name, A, x, noise, first)
        summary = {setting: pooled(rows) for setting, rows in found.items()
                   if isinstance(rows, list) and rows and isinstance(rows[0], dict)}
        usable = {k: v for k, v in summary.items()
                  if k != "no settings" and v["feasible"] >= FEASIBLE_GOAL}
        best = max(usable, key=lambda k: usable[k]["change"]) if usable else None
        results["cases"][name] = {"tau": found["tau"], "first_errors": found["first_errors"],
                                  "rows": found, "summary": summary, "best_hand": best}
        errors = ", ".join(f"{e / found['tau']:.0%}" for e in found["first_errors"])
        print(f"{name} (tau {found['tau']:.2e}; first solutions at {errors} of tau):")
        for setting, s in summary.items():
            mark = " <- best hand setting" if setting == best else ""
            print(f"  {setting:28s} n {s['n']:5.1f}  feasible {s['feasible']:6.1%}  "
                  f"|dx| {s['change']:.3f}{mark}")
    results["seconds"] = round(time.perf_counter() - start, 1)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{results['seconds']:.0f} s; wrote {RESULTS.name}")


if __name__ == "__main__":
    main()
