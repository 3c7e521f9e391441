"""Benchmark: what e-GLASS costs at the paper's own sizes (full-size random-weight generators).

One process, one device, for every model:

* ``mnist-dcgan`` (the embedded prior, 64-d, 32x32 grey) with SR x8 and the default distance;
* BigGAN-deep-128 and -256 (128-d noise, full channel width 128, random weights), SR x8 -- the
  paper's problem is 256x256 -> 32x32;
* PGGAN-256, -512 and -1024 (512-d latent, full widths, random weights), inpainting of a
  face-region box (the paper's problem at 1024: a box of 256 x 384 at the face's centre, scaled
  for the smaller models);
* StyleGAN2-256 (SR x8) and -1024 (the face-region inpainting), config F widths
  (``channel_base`` 32768, 8 mapping layers), random weights, in W (``d = 512``) and in W+
  (rows ``stylegan2-256-w+``, ``stylegan2-1024-w+``: ``d = num_ws x 512`` = 7,168 and 9,216),
  truncation 1; in W+ Algorithm 1 runs on the top-32 eigenpairs alone
  (``MetricPair.from_spectra``: O(d k), no ``d x d`` matrix).

The colour models use LPIPS with a *random* AlexNet backbone at the image's native size (the
cost of a pass does not depend on the weights; no perceptual result is claimed). Costs:

* ``forward_s``: one generator forward pass (median of 3), with its peak memory;
* ``metrics_exact_s``: both metrics exact, in blocks of latent directions under the memory cap
  (:func:`eglass.geometry.plan_metrics`); measured whole where it takes under
  ``--full-limit`` seconds, otherwise one block is timed and multiplied by the number of blocks
  (``metrics_exact_extrapolated: true``);
* ``metrics_topk_s``: the top-32 eigenpairs of both metrics by Lanczos
  (:func:`eglass.geometry.metric_spectra`, ``tol=1e-6``); where not run whole, the time of one
  Hessian-vector product of the full model times the number of products Lanczos needed on a
  reduced-width model of the same latent size and problem (``metrics_topk_extrapolated``);
* ``algorithm1_s``: Algorithm 1 for K = 1..10 from the metrics (depends on ``d`` only; from
  the top-32 spectra where the exact metrics are not computed, i.e. in W+);
* ``solutions10_s``: ten solutions ``G(z0 + eta d_K)`` in one batch with their errors;
* ``first_solution_s``: the IAGAN inversion's budget (defaults: 4 restarts x 300 latent steps
  + 300 fine-tuning steps) times one measured Adam step of the full model, extrapolated;
* each cost also as a multiple of one forward pass (``*_x_forward``);
* GAN-Geometry's row-by-row double backprop for ``H_X`` (``reference_hessian``), on
  ``mnist-dcgan`` whole and on BigGAN-deep-128 from a few timed rows, beside our exact ``H_X``.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/scale.py [--threads 1] [--max-memory-gib 8]
        [--models mnist-dcgan,biggan-deep-128,...] [--device cpu|cuda] [--quick]

Writes ``benchmarks/results/scale.json`` (``--out``) and ``scale.png`` (the log-log figure,
:func:`eglass.figures.scaling_figure`) and prints a table. ``--quick`` checks the script in a
minute: every model at reduced width (StyleGAN2 also with ``w_dim`` 64), written to
``scale_quick.json``, no GAN-Geometry comparison; its numbers are not the benchmark's.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import time
from pathlib import Path

import torch

from eglass import figures
from eglass.directions import MetricPair, directions
from eglass.distances import LPIPS, default_distance
from eglass.geometry import (
    GramBlocks,
    measurement_hvp,
    metric_spectra,
    metrics,
    perceptual_hvp,
    perceptual_metric,
    plan_metrics,
    reference_hessian,
)
from eglass.memory import peak_memory
from eglass.models import (
    BigGANGenerator,
    biggan_config,
    load_generator,
    pggan_config,
    random_biggan,
    random_pggan,
)
from eglass.operators import Inpainting, SuperResolution, box_mask
from eglass.problem import InverseProblem
from eglass.stylegan import latent_generator, random_stylegan2, stylegan2_config
from eglass.utils import median_time

RESULTS = Path(__file__).resolve().parent / "results" / "scale.json"
MODELS = ("mnist-dcgan", "biggan-deep-128", "biggan-deep-256", "pggan-256", "pggan-512",
          "pggan-1024", "stylegan2-256", "stylegan2-256-w+", "stylegan2-1024",
          "stylegan2-1024-w+")
NARROW = 32  # reduced models: every width divided by this (same depth, latent, resolution)
TOP_K = 32
IAGAN_STEPS = 4 * 300 + 300  # restarts x latent steps (one batch of 4) + fine-tuning steps
PAPER_TABLE_1 = {  # seconds to 10 solutions, the paper's hardware (not stated beyond a GPU)
    "SR, BigGAN": {"e-GLASS": 3.7e3, "PULSE": 3.5e4, "ours": "biggan-deep-256"},
    "inpainting, PGGAN": {"e-GLASS": 1.3e3, "PULSE": 7.9e3, "ours": "pggan-1024"},
}


def _generator(name: str, size: str = "full"):
    """The model ``name`` at ``size``: ``"full"``; ``"narrow"``, the same depth, latent and
    resolution with every width divided by :data:`NARROW` -- used only to count Lanczos
    products and time Algorithm 1; ``"quick"``, narrow and (StyleGAN2) ``w_dim`` 64."""
    if name == "mnist-dcgan":
        return load_generator("mnist-dcgan")
    family, resolution = name.removesuffix("-w+").rsplit("-", 1)
    resolution, divisor = int(resolution), 1 if size == "full" else NARROW
    if family == "biggan-deep":
        config = biggan_config(resolution, channel_width=128 // divisor)
        return BigGANGenerator(random_biggan(config, seed=0), class_id=207)
    if family == "stylegan2":
        latent = 64 if size == "quick" else 512
        config = stylegan2_config(resolution, channel_base=32768 // divisor,
                                  channel_max=512 // divisor, z_dim=latent, w_dim=latent)
        space = "w+" if name.endswith("-w+") else "w"
        return latent_generator(random_stylegan2(config, seed=0), space)
    return random_pggan(pggan_config(resolution, width_divisor=divisor), seed=0)


def _problem(name: str, G, device) -> InverseProblem:
    """The paper's problem for this model, with a measurement made by the model itself."""
    G = G.to(device).eval()
    z_star = torch.randn(1, G.latent_dim, generator=torch.Generator().manual_seed(1)).to(device)
    if name == "mnist-dcgan":
        A, distance = SuperResolution(8), default_distance()
    elif name.startswith(("biggan", "stylegan2-256")):
        A, distance = SuperResolution(8), LPIPS("alex", pnet_rand=True)
    else:
        n = int(name.removesuffix("-w+").rsplit("-", 1)[1])
        mask = box_mask(n, (n // 4, 3 * n // 8), center=(560 * n // 1024, n // 2))
        A, distance = Inpainting(mask), LPIPS("alex", pnet_rand=True)
    A, distance = A.to(device), distance.to(device)
    with torch.no_grad():
        y = A(G(0.5 * z_star))
    return InverseProblem(G, A, y, distance)


def _synced(fn, device):
    """``fn`` followed by a wait for the device: GPU work is asynchronous, so a timer around
    a bare call on CUDA would measure the kernel launches only."""
    def run():
        out = fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return out
    return run


def _timed(fn, device):
    """``(result, seconds, peak bytes)`` of one call."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    with peak_memory(device) as peak:
        start = time.perf_counter()
        out = _synced(fn, device)()
        seconds = time.perf_counter() - start
    return out, seconds, peak.bytes


def _adam_step_s(problem: InverseProblem, z: torch.Tensor, device) -> float:
    """One IAGAN step on the full model: generator forward + backward to latent and weights."""
    G = copy.deepcopy(problem.generator).requires_grad_(True)
    w = z.clone().requires_grad_(True)
    params = [w, *G.parameters()]

    def step():
        with torch.enable_grad():
            loss = (problem.operator(G(w)) - problem.y).pow(2).sum()
            return torch.autograd.grad(loss, params, allow_unused=True)[0]

    return median_time(_synced(step, device), repeats=2)


def _reduced_spectra(name: str, device, k: int, size: str):
    """Top-k spectra of both metrics on the reduced model (same latent size, depth,
    resolution and problem): its ``products`` are the Lanczos counts the full model needs."""
    problem = _problem(name, _generator(name, size), device)
    return metric_spectra(problem, _latent(problem, device), k=k, method="top-k")


def _latent(problem: InverseProblem, device) -> torch.Tensor:
    g = torch.Generator().manual_seed(2)
    return (0.5 * torch.randn(1, problem.latent_dim, generator=g)).to(device)


def _forward(problem: InverseProblem, z: torch.Tensor, device) -> dict:
    with torch.no_grad():
        _, _, peak = _timed(lambda: problem.generator(z), device)
        seconds = median_time(_synced(lambda: problem.generator(z), device), repeats=3)
    return {"forward_s": seconds, "forward_peak_bytes": peak}


def _exact_metrics(problem, z, device, max_memory: int, full_limit: float):
    """The exact metrics (whole, or one block timed and multiplied): ``(row, H_Y, H_X)``,
    the matrices ``None`` where extrapolated."""
    d = problem.latent_dim
    plan = plan_metrics(problem, z, max_memory=max_memory)
    auto = plan_metrics(problem, z, max_memory=max_memory, k=min(TOP_K, d - 1))
    row = {"plan": {"method": plan.method, "chunk_size": plan.chunk_size,
                    "estimate_bytes": plan.estimate, "reason": plan.reason},
           "auto_plan_top32": {"method": auto.method, "chunk_size": auto.chunk_size,
                               "reason": auto.reason}}  # what metric_spectra(k=32) would use
    chunk = plan.chunk_size
    blocks = -(-d // chunk)
    # a first block (kernel warm-up) and an estimate of the whole from a second one
    block = GramBlocks(problem.generator, [problem.operator, problem.feature_map], z)
    block(0, min(chunk, d))
    _, block_s, block_peak = _timed(lambda: block(0, min(chunk, d)), device)
    block = None  # free its saved activations before the next stage
    H_Y = H_X = None
    if blocks * block_s <= full_limit:
        (H_Y, H_X), exact_s, exact_peak = _timed(
            lambda: metrics(problem, z, max_memory=max_memory), device)
        row.update(metrics_exact_s=exact_s, metrics_exact_peak_bytes=exact_peak,
                   metrics_exact_extrapolated=False)
    else:
        row.update(metrics_exact_s=blocks * block_s, metrics_exact_peak_bytes=block_peak,
                   metrics_exact_extrapolated=True)
    row["metrics_exact_block"] = {"directions": chunk, "seconds": block_s,
                                  "peak_bytes": block_peak}
    print(f"  exact metrics: {row['metrics_exact_s']:.1f} s "
          f"({'extrapolated from one block' if H_Y is None else 'measured'}; blocks of {chunk})",
          flush=True)
    return row, H_Y, H_X


def _topk_metrics(name, problem, z, device, full_limit: float, size: str):
    """Top-32 of both metrics by Lanczos: ``(row, spectra)``; where not run whole, one
    product of each metric timed on this model times the products the reduced model needed
    (then ``spectra`` are the reduced model's, which have the same shapes)."""
    d = problem.latent_dim
    v = torch.randn(d, generator=torch.Generator().manual_seed(3)).to(device)
    hvps = [measurement_hvp(problem, z), perceptual_hvp(problem, z)]
    for hvp in hvps:
        hvp(v)
    hvp_s = [median_time(_synced(lambda h=h: h(v), device), repeats=2, warmup=0) for h in hvps]
    _, _, hvp_peak = _timed(lambda: hvps[1](v), device)
    hvps = None
    if sum(hvp_s) * 6 * TOP_K <= full_limit:
        spectra, topk_s, topk_peak = _timed(
            lambda: metric_spectra(problem, z, k=min(TOP_K, d - 1), method="top-k"), device)
        extrapolated = False
    else:
        spectra = _reduced_spectra(name, device, min(TOP_K, d - 1), size)
        topk_s = spectra.products[0] * hvp_s[0] + spectra.products[1] * hvp_s[1]
        topk_peak, extrapolated = hvp_peak, True
    products = spectra.products
    print(f"  top-{TOP_K}: {topk_s:.1f} s ({products} products, "
          f"{'extrapolated' if extrapolated else 'measured'})", flush=True)
    return {"metrics_topk_s": topk_s, "metrics_topk_peak_bytes": topk_peak,
            "metrics_topk_extrapolated": extrapolated, "lanczos_products": list(products),
            "hvp_s": hvp_s}, spectra


def _solutions(problem, z, find, device) -> dict:
    """Algorithm 1 for K = 1..10 (``find()``: from the metrics or the spectra, their
    eigen-decompositions included), then ten solutions in one batch."""
    alg1_s = median_time(_synced(find, device), repeats=3)
    dirs = find()
    D = torch.stack([dr.d for dr in dirs]).to(z)

    def ten_solutions():
        x = problem.generate(z + 1.5 * D)
        return problem.error(x)

    _, solutions_s, solutions_peak = _timed(ten_solutions, device)
    return {"algorithm1_s": alg1_s, "solutions10_s": solutions_s,
            "solutions10_peak_bytes": solutions_peak}


def bench_model(name: str, device, max_memory: int, full_limit: float,
                quick: bool = False) -> dict:
    """One row of the results: every cost of e-GLASS on model ``name``."""
    size = "quick" if quick else "full"
    problem = _problem(name, _generator(name, size), device)
    z = _latent(problem, device)
    d, pixels = problem.latent_dim, problem.generate(z)[0].numel()
    row = {"name": name, "latent_dim": d, "pixels": pixels, **_forward(problem, z, device)}
    print(f"{name}: d={d}, {pixels:,} pixel values, forward {row['forward_s']:.3f} s",
          flush=True)
    exact, H_Y, H_X = _exact_metrics(problem, z, device, max_memory, full_limit)
    topk, spectra = _topk_metrics(name, problem, z, device, full_limit,
                                  "quick" if quick else "narrow")
    row.update(exact, **topk)
    if H_Y is None and name.endswith("-w+"):  # W+: Algorithm 1 from the top-32 eigenpairs
        def find():
            return directions(MetricPair.from_spectra(spectra), None, range(1, 11))
        row["algorithm1_from"] = "top-32 spectra"
    else:
        if H_Y is None:  # the matrices' values do not change the cost: the reduced model's
            small = _problem(name, _generator(name, "quick" if quick else "narrow"), device)
            H_Y, H_X = metrics(small, z, max_memory=max_memory)

        def find():
            return directions(H_Y, H_X, range(1, 11))
        row["algorithm1_from"] = "exact metrics"
    row.update(_solutions(problem, z, find, device))
    row["first_solution_s"] = IAGAN_STEPS * _adam_step_s(problem, z, device)
    row["first_solution_extrapolated"] = True
    row["to_10_solutions_exact_s"] = (row["first_solution_s"] + row["metrics_exact_s"]
                                      + row["algorithm1_s"] + row["solutions10_s"])
    row["to_10_solutions_topk_s"] = (row["first_solution_s"] + row["metrics_topk_s"]
                                     + row["algorithm1_s"] + row["solutions10_s"])
    for key in ("metrics_exact_s", "metrics_topk_s", "algorithm1_s", "solutions10_s",
                "first_solution_s"):
        row[key.removesuffix("_s") + "_x_forward"] = row[key] / row["forward_s"]
    print(f"  Algorithm 1 {row['algorithm1_s'] * 1e3:.1f} ms, 10 solutions "
          f"{row['solutions10_s']:.2f} s, first solution ~{row['first_solution_s']:.0f} s "
          "(extrapolated)", flush=True)
    return row


def gan_geometry(name: str, device, rows: int, full_limit: float) -> dict:
    """H_X by GAN-Geometry's double backprop beside ours (exact, one pass or blocks)."""
    problem = _problem(name, _generator(name), device)
    z = _latent(problem, device)
    d = problem.latent_dim
    reference_hessian(problem, z, rows=1)  # warm-up
    _, ref_s, _ = _timed(lambda: reference_hessian(problem, z, rows=rows), device)
    per_row = ref_s / rows
    whole = per_row * d <= full_limit
    if whole:
        _, ref_s, _ = _timed(lambda: reference_hessian(problem, z), device)
    _, ours_s, _ = _timed(lambda: perceptual_metric(problem, z), device) \
        if whole else (None, None, None)
    if ours_s is None:  # time one block of ours as well and extrapolate both the same way
        block = GramBlocks(problem.generator, [problem.feature_map], z)
        block(0, 8)
        _, block_s, _ = _timed(lambda: block(0, 8), device)
        ours_s = block_s * d / 8
    double_s = ref_s if whole else per_row * d
    out = {"model": name, "latent_dim": d, "double_backprop_HX_s": double_s,
           "ours_exact_HX_s": ours_s, "ratio": double_s / ours_s, "extrapolated": not whole,
           "rows_timed": d if whole else rows}
    print(f"GAN-Geometry double backprop on {name}: {double_s:.1f} s vs ours {ours_s:.1f} s "
          f"({out['ratio']:.1f}x; {'measured' if whole else 'extrapolated'})", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--max-memory-gib", type=float, default=8.0)
    parser.add_argument("--full-limit", type=float, default=120.0,
                        help="run a cost whole when it is expected under this many seconds")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"results file (default {RESULTS.name}; scale_quick.json with "
                        "--quick)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the models already in --out that this run does not measure")
    parser.add_argument("--quick", action="store_true",
                        help="reduced-width models: checks the script, not a benchmark")
    args = parser.parse_args()
    if args.out is None:
        args.out = RESULTS.with_name("scale_quick.json") if args.quick else RESULTS
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    max_memory = int(args.max_memory_gib * 2**30)
    results = {
        "device": str(device), "threads": args.threads, "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "max_memory_bytes": max_memory, "top_k": TOP_K,
        "note": ("QUICK CHECK: reduced-width models, not the benchmark" if args.quick else
                 "random-weight full-size architectures: costs only, no image quality; "
                 "*_extrapolated marks costs not run whole (see the script's docstring)"),
        "models": [],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    names = args.models.split(",")
    if args.keep and args.out.is_file():
        results["models"] = [m for m in json.loads(args.out.read_text())["models"]
                             if m["name"] not in names]
    models = results["models"]
    for name in names:
        models.append(bench_model(name, device, max_memory, args.full_limit, args.quick))
        args.out.write_text(json.dumps(results, indent=1))  # a partial file survives a crash
    comparison = [] if args.quick else [gan_geometry("mnist-dcgan", device, 8, args.full_limit)]
    if any(m["name"] == "biggan-deep-128" for m in models) and not args.quick:
        comparison.append(gan_geometry("biggan-deep-128", device, 3, 0.0))

    def ours(name: str, key: str) -> float | None:
        return next((m[key] for m in models if m["name"] == name), None)

    paper = {problem: {**row, "ours_exact_s": ours(row["ours"], "to_10_solutions_exact_s"),
                       "ours_topk_s": ours(row["ours"], "to_10_solutions_topk_s")}
             for problem, row in PAPER_TABLE_1.items()}
    results.update(gan_geometry=comparison, paper_table_1=paper)
    args.out.write_text(json.dumps(results, indent=1))
    figures.scaling_figure(results).savefig(args.out.with_suffix(".png"), dpi=120)
    print(f"\n{'model':18s} {'d':>4s} {'fwd s':>7s} {'exact s':>9s} {'x fwd':>7s} "
          f"{'top32 s':>8s} {'x fwd':>7s} {'alg1 ms':>8s} {'10 sol s':>8s} {'to 10 s':>8s}")
    for m in models:
        print(f"{m['name']:18s} {m['latent_dim']:4d} {m['forward_s']:7.3f} "
              f"{m['metrics_exact_s']:9.1f} {m['metrics_exact_x_forward']:7.0f} "
              f"{m['metrics_topk_s']:8.1f} {m['metrics_topk_x_forward']:7.0f} "
              f"{1e3 * m['algorithm1_s']:8.1f} {m['solutions10_s']:8.2f} "
              f"{m['to_10_solutions_exact_s']:8.0f}")
    for problem, row in paper.items():
        print(f"paper Table 1, {problem}: e-GLASS {row['e-GLASS']:.2g} s, PULSE "
              f"{row['PULSE']:.2g} s; ours ({row['ours']}, {device}) {row['ours_exact_s']} s")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
