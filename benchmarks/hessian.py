"""Benchmark: metric Hessians -- exact Gauss-Newton (ours) vs row-by-row double backprop vs Lanczos.

Same generator, same z0 for every method: the embedded prior (``mnist-dcgan`` fine-tuned by
IAGAN on one held-out digit, 4x super-resolution), ``H_Y`` for ``SuperResolution(4)`` and
``H_X`` for the default perceptual distance (classifier features).

* ``gn``: :func:`eglass.geometry.measurement_metric` / :func:`perceptual_metric` (forward-mode
  Jacobian, ``J^T J``), float32 as users run it; ``gn-shared``: :func:`eglass.geometry.metrics`,
  both at once from one forward-mode pass through the generator;
* ``double-backprop``: :func:`eglass.geometry.reference_hessian`, GAN-Geometry's backward
  iteration -- one double-backprop pass per latent dimension, float32;
* ``lanczos-20``: :func:`eglass.geometry.top_eigs` (``scipy`` ``eigsh``) on Hessian-vector
  products, top 20 eigenpairs, float32.

Accuracy: relative Frobenius error against the double-backprop Hessian computed in float64
(for Lanczos: relative error of the top-20 eigenvalues against the dense float64 ones, and the
smallest ``|cos|`` between matching eigenvectors). Cost: median wall time of ``--repeats`` runs
after one warm-up (``eglass.utils.median_time``), plus one fixed-budget IAGAN inversion
(8 restarts x 400 latent Adam steps + 200 joint fine-tuning steps, early stopping off) timed
once, to compare "both Hessians + both eigendecompositions" with it.

Usage::

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/hessian.py [--repeats 5] [--threads 2]

Writes ``benchmarks/results/hessian.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
from pathlib import Path

import torch

from eglass.data import mnist
from eglass.distances import default_distance
from eglass.geometry import (
    eigh_desc,
    measurement_hvp,
    measurement_metric,
    metrics,
    perceptual_hvp,
    perceptual_metric,
    reference_hessian,
    top_eigs,
)
from eglass.inversion import invert
from eglass.models import load_generator
from eglass.operators import SuperResolution
from eglass.problem import InverseProblem
from eglass.utils import median_time, stopwatch

RESULTS = Path(__file__).resolve().parent / "results" / "hessian.json"
INVERSION_BUDGET = {"method": "iagan", "restarts": 8, "steps": 400, "finetune_steps": 200,
                    "tol": None}


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


def _lanczos_accuracy(evals_k, evecs_k, evals, evecs) -> dict:
    k = evals_k.numel()
    rel = ((evals_k.double() - evals[:k]) / evals[:k]).abs().max().item()
    cos = (evecs_k.double() * evecs[:, :k]).sum(0).abs().min().item()
    return {"max_rel_eigenvalue_error": rel, "min_abs_cos_eigenvector": cos}


def _batching_gain(G, z0, repeats: int) -> float:
    """Time of one generator forward pass on 64 latents over that on one latent: 64 if the
    hardware gains nothing from batching, near 1 if a batch is almost free (a GPU)."""
    with torch.no_grad():
        z64 = z0.repeat(64, 1)
        return median_time(lambda: G(z64), repeats=repeats) / median_time(
            lambda: G(z0), repeats=repeats)


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--digit", type=int, default=7, help="index into the held-out split")
    parser.add_argument("--k", type=int, default=20, help="Lanczos eigenpairs")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    G0 = load_generator("mnist-dcgan")
    dist = default_distance()
    A = SuperResolution(4)
    digits, labels = mnist("test")
    x_true = digits[args.digit : args.digit + 1]
    y = A(x_true)

    with stopwatch() as t_inv:
        inv = invert(InverseProblem(G0, A, y), seed=0, progress=False, **INVERSION_BUDGET)
    t_inversion = t_inv()
    G, z0 = inv.generator, inv.z
    d = G.latent_dim
    problem = InverseProblem(G, A, distance=dist)  # the fine-tuned generator's metrics

    # ------------------------------------------------------------------ timings (float32)
    rows = {}

    def timed(name, metric, fn, repeats):
        rows[(name, metric)] = {"seconds": median_time(fn, repeats=repeats)}

    timed("gn", "H_Y", lambda: measurement_metric(problem, z0), args.repeats)
    timed("gn", "H_X", lambda: perceptual_metric(problem, z0), args.repeats)
    timed("gn-shared", "both", lambda: metrics(problem, z0), args.repeats)
    timed("double-backprop", "H_Y",
          lambda: reference_hessian(problem, z0, metric="measurement"), args.repeats)
    timed("double-backprop", "H_X", lambda: reference_hessian(problem, z0), args.repeats)
    k = args.k
    timed(f"lanczos-{k}", "H_Y", lambda: top_eigs(measurement_hvp(problem, z0), d, k),
          args.repeats)
    timed(f"lanczos-{k}", "H_X", lambda: top_eigs(perceptual_hvp(problem, z0), d, k),
          args.repeats)
    HY, HX = measurement_metric(problem, z0), perceptual_metric(problem, z0)
    t_eigh = median_time(lambda: (eigh_desc(HY), eigh_desc(HX)), repeats=args.repeats)

    # ------------------------------------------------------------------ accuracy (vs float64)
    G64, dist64, z64 = copy.deepcopy(G).double(), copy.deepcopy(dist).double(), z0.double()
    problem64 = InverseProblem(G64, A, distance=dist64)
    ref = {"H_Y": reference_hessian(problem64, z64, metric="measurement"),
           "H_X": reference_hessian(problem64, z64)}
    gn64 = {"H_Y": measurement_metric(problem64, z64), "H_X": perceptual_metric(problem64, z64)}
    ref32 = {"H_Y": reference_hessian(problem, z0, metric="measurement"),
             "H_X": reference_hessian(problem, z0)}
    gn32 = {"H_Y": HY, "H_X": HX}
    hvps = {"H_Y": measurement_hvp(problem, z0), "H_X": perceptual_hvp(problem, z0)}
    for metric in ("H_Y", "H_X"):
        rows[("gn", metric)]["rel_error_float32"] = _rel(gn32[metric], ref[metric])
        rows[("gn", metric)]["rel_error_float64"] = _rel(gn64[metric], ref[metric])
        rows[("double-backprop", metric)]["rel_error_float32"] = _rel(ref32[metric], ref[metric])
        rows[("double-backprop", metric)]["rel_error_float64"] = 0.0
        evals, evecs = eigh_desc(ref[metric])
        rows[(f"lanczos-{k}", metric)].update(
            _lanczos_accuracy(*top_eigs(hvps[metric], d, k), evals, evecs)
        )
        t_gn = rows[("gn", metric)]["seconds"]
        rows[("double-backprop", metric)]["slowdown_vs_gn"] = (
            rows[("double-backprop", metric)]["seconds"] / t_gn
        )
        rows[(f"lanczos-{k}", metric)]["slowdown_vs_gn"] = (
            rows[(f"lanczos-{k}", metric)]["seconds"] / t_gn
        )

    shared = metrics(problem64, z64)
    rows[("gn-shared", "both")]["rel_error_float64"] = max(
        _rel(shared[0], ref["H_Y"]), _rel(shared[1], ref["H_X"]))
    rows[("gn-shared", "both")]["rel_error_float32"] = max(
        _rel(H, ref[m]) for H, m in zip(metrics(problem, z0), ("H_Y", "H_X"), strict=True))
    t_ours = rows[("gn-shared", "both")]["seconds"] + t_eigh
    t_ref = sum(rows[("double-backprop", h)]["seconds"] for h in ("H_Y", "H_X"))
    t_separate = rows[("gn", "H_Y")]["seconds"] + rows[("gn", "H_X")]["seconds"]
    summary = {
        "speedup_gn_vs_double_backprop_both": t_ref / (t_ours - t_eigh),
        "speedup_separate_gn_vs_double_backprop_both": t_ref / t_separate,
        "speedup_goal": 20.0,
        "batch64_over_batch1_generator_forward": _batching_gain(G, z0, args.repeats),
        "hessians_plus_eigh_seconds": t_ours,
        "eigh_both_seconds": t_eigh,
        "inversion_seconds": t_inversion,
        "hessians_plus_eigh_fraction_of_inversion": t_ours / t_inversion,
        "fraction_goal": 0.05,
    }
    result = {
        "setup": {
            "generator": "mnist-dcgan, IAGAN fine-tuned copy", "latent_dim": d,
            "operator": repr(A), "distance": "default_distance() (classifier blocks 1-3)",
            "digit_index": args.digit, "digit_label": int(labels[args.digit]),
            "inversion_budget": INVERSION_BUDGET, "inversion_error": inv.errors.item(),
            "repeats": args.repeats, "threads": torch.get_num_threads(),
            "load_average_1min": os.getloadavg()[0], "torch": torch.__version__,
            "machine": platform.processor() or platform.machine(),
        },
        "rows": [{"method": m, "metric": h, **v} for (m, h), v in rows.items()],
        "summary": summary,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    _print_table(result)
    return result


def _print_table(result: dict) -> None:
    print(f"{'method':<17}{'metric':<7}{'seconds':>10}{'x gn':>8}{'rel err f32':>13}"
          f"{'rel err f64':>13}")
    for r in result["rows"]:
        err32 = r.get("rel_error_float32", r.get("max_rel_eigenvalue_error"))
        err64 = r.get("rel_error_float64")
        print(
            f"{r['method']:<17}{r['metric']:<7}{r['seconds']:>10.3f}"
            f"{r.get('slowdown_vs_gn', 1.0):>8.1f}{err32:>13.1e}"
            + (f"{err64:>13.1e}" if err64 is not None else f"{'':>13}")
        )
    s = result["summary"]
    print(f"speed-up of GN over double backprop (H_Y + H_X): "
          f"{s['speedup_gn_vs_double_backprop_both']:.1f}x with the shared generator Jacobian, "
          f"{s['speedup_separate_gn_vs_double_backprop_both']:.1f}x computed separately "
          f"(goal >= {s['speedup_goal']:.0f}x)")
    print(f"one forward pass of 64 latents costs {s['batch64_over_batch1_generator_forward']:.0f}x "
          "one of a single latent on this machine")
    print(f"Hessians + eigh: {s['hessians_plus_eigh_seconds']:.2f} s = "
          f"{100 * s['hessians_plus_eigh_fraction_of_inversion']:.1f} % of one inversion "
          f"({s['inversion_seconds']:.1f} s; goal <= {100 * s['fraction_goal']:.0f} %)")
    print("(Lanczos rows: 'rel err f32' is the largest relative error of the top eigenvalues.)")


if __name__ == "__main__":
    main()
