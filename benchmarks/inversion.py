"""GAN inversion on held-out digits: speed of batched restarts, and the fine-tuning defaults.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/inversion.py [--part speed|defaults|sweep|all]

* ``speed``: one digit, ``R`` restarts optimized as one batch vs the same ``R`` inversions
  run one after the other in a Python loop (same steps); prints and saves the ratio.
* ``defaults``: every problem on the same 10 digits with the library's defaults (IAGAN, seed
  0): mean error, share below the strict threshold and PSNR of each candidate (latent, IAGAN,
  each back-projected), and the wall time -- the table chapter 2 shows;
* ``sweep``: for each problem of ``eglass.inversion.benchmark_problems()`` and 10 held-out
  digits (one per class), one latent fit, then IAGAN fine-tuning under several settings
  (steps x generator learning rate x latent learning rate). Records the mean measurement
  error and the PSNR to the truth of every candidate (with and without back-projection);
  this is how the defaults of ``eglass.inversion.invert`` were chosen.

Results go to ``benchmarks/results/inversion.json`` (each sweep is appended to ``sweeps``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import statistics
from pathlib import Path

import torch

from eglass import inversion, tables
from eglass.data import mnist
from eglass.models import load_generator, registry
from eglass.problem import InverseProblem
from eglass.utils import median_time

RESULTS = Path(__file__).resolve().parent / "results" / "inversion.json"


def heldout_digits(n_per_class: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_per_class`` held-out digits of each class, ``(10 n, 1, 32, 32)`` and labels."""
    x, labels = mnist("test")
    index = torch.cat([torch.arange(k * 50, k * 50 + n_per_class) for k in range(10)])
    return x[index], labels[index]


def speed(G, restarts: int = 8, steps: int = 100, repeats: int = 5) -> dict:
    A = inversion.benchmark_problems()["SR x4"]
    x, _ = heldout_digits()
    problem = InverseProblem(G, A, A(x[:1]))
    kw = dict(steps=steps, tol=None, progress=False)

    def batched():
        inversion.invert(problem, "latent", restarts=restarts, seed=0, **kw)

    def loop():
        for r in range(restarts):
            inversion.invert(problem, "latent", restarts=1, seed=r, **kw)

    # alternate the two so that load from other processes hits both alike
    pairs = [(median_time(batched, 1, 0), median_time(loop, 1, 0)) for _ in range(1 + repeats)]
    t_batch = statistics.median(b for b, _ in pairs[1:])
    t_loop = statistics.median(lo for _, lo in pairs[1:])
    full = inversion.invert(problem, "iagan", progress=False)
    out = {
        "restarts": restarts,
        "steps": steps,
        "batched_s": t_batch,
        "loop_s": t_loop,
        "speedup": t_loop / t_batch,
        "default_iagan_one_digit_s": full.seconds,
    }
    print(
        f"{restarts} restarts x {steps} steps, one digit: batched {t_batch:.2f} s, "
        f"loop {t_loop:.2f} s, speed-up x{t_loop / t_batch:.1f}; "
        f"default IAGAN inversion of one digit: {full.seconds:.2f} s"
    )
    return out


def defaults(G) -> dict:
    x_true, _ = heldout_digits()
    out = {}
    for label, A in inversion.benchmark_problems().items():
        y = A(x_true)
        result = inversion.invert(InverseProblem(G, A, y), "iagan", seed=0, progress=False)
        candidates = tables.compare_solutions(result, A, y, x_true)
        table = tables.candidates_table({label: candidates})
        out[label] = {
            "seconds": result.seconds,
            "latent_seconds": result.latent_seconds,
            "candidates": {name: row.to_dict() for (_, name), row in table.iterrows()},
        }
        print(f"\n{label}: {result.seconds:.1f} s for {len(y)} digits")
        print(table.to_string())
    return out


def sweep(G, settings: list[dict], latent_kw: dict, names: list[str] | None = None) -> dict:
    x_true, _ = heldout_digits()
    out = {}
    for label, A in inversion.benchmark_problems().items():
        if names is not None and label not in names:
            continue
        y = A(x_true)
        problem = InverseProblem(G, A, y)
        start = inversion.invert(problem, "latent", progress=False, **latent_kw)
        latent = tables.compare_solutions(start, A, y, x_true)
        rows = {name: _row(c, start.seconds) for name, c in latent.items()}
        print(f"\n{label}: latent fit {start.seconds:.1f} s for {len(y)} digits")
        _print(rows)
        for s in settings:
            tuned = inversion.finetune(problem, start, progress=False, **s)
            c = tables.compare_solutions(tuned, A, y, x_true)
            key = "steps={steps} lr_g={lr_generator:g} lr_z={lr_latent:g} tol={tol:g}".format(**s)
            new = {
                f"iagan {key}": _row(c["iagan"], tuned.seconds - start.seconds),
                f"iagan + BP {key}": _row(c["iagan + BP"], tuned.seconds - start.seconds),
            }
            _print(new)
            rows.update(new)
        out[label] = rows
    return out


def _row(c: dict, seconds: float) -> dict:
    return {
        "error_mean": c["error"].mean().item(),
        "error_max": c["error"].max().item(),
        "psnr_mean": c["psnr"].mean().item(),
        "psnr": [round(v, 2) for v in c["psnr"].tolist()],
        "seconds": seconds,
    }


def _print(rows: dict) -> None:
    for name, r in rows.items():
        print(
            f"  {name:45s} error {r['error_mean']:.2e} (max {r['error_max']:.2e})  "
            f"PSNR {r['psnr_mean']:6.2f} dB  {r['seconds']:.1f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["speed", "defaults", "sweep", "all"], default="all")
    parser.add_argument("--steps", type=int, nargs="+", default=[100, 200, 400])
    parser.add_argument("--lr-generator", type=float, nargs="+", default=[1e-4, 3e-4, 1e-3])
    parser.add_argument("--lr-latent", type=float, nargs="+", default=[1e-4, 1e-3])
    parser.add_argument("--tol", type=float, nargs="+", default=[1e-6, 1e-4])
    parser.add_argument("--restarts", type=int, default=8, help="latent fit restarts")
    parser.add_argument("--latent-steps", type=int, default=400, help="latent fit Adam steps")
    parser.add_argument("--problems", nargs="+", default=None, help="default: all four")
    args = parser.parse_args()
    G = load_generator("mnist-dcgan")
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results["machine"] = {
        "platform": platform.platform(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    weights = {"mnist-dcgan": registry()["mnist-dcgan"]["sha256"]}
    results["weights_sha256"] = weights
    if args.part in ("speed", "all"):
        results["speed"] = speed(G)
    if args.part in ("defaults", "all"):
        results["defaults"] = defaults(G)
    if args.part in ("sweep", "all"):
        settings = [
            {"steps": s, "lr_generator": g, "lr_latent": z, "tol": t}
            for s, g, z, t in itertools.product(
                args.steps, args.lr_generator, args.lr_latent, args.tol
            )
        ]
        latent_kw = {"restarts": args.restarts, "steps": args.latent_steps, "seed": 0}
        sweeps = results.setdefault("sweeps", [])
        sweeps.append(
            {"latent": latent_kw, "weights_sha256": weights,
             "problems": sweep(G, settings, latent_kw, args.problems)}
        )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
