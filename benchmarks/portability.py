"""How far the numbers the tests keep on disk move on a CPU unlike the one that recorded them.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/portability.py [--only NAME ...]

The tests compare three kinds of stored numbers with what this machine computes: ImageNet
logits of EfficientNet-Lite0 (``tests/data/efficientnet_lite0_reference.pt``) and the weights
of the two shipped fast-start encoders, retrained from their recipes (``mnist-encoder``,
``faces-encoder``). Each is recomputed here once per instruction set that torch's CPU kernels
can be limited to on this machine -- ``native`` (what the CPU offers), ``avx2``
(``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2``) and ``default``
(``ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41``), each in a fresh process, since
both variables are read once at start-up -- and compared with the stored numbers.

Results go to ``benchmarks/results/portability.json``; the tolerances of the tests that hold
stored references (the ``stored_reference`` marker) are set from them (see
``tests/references.py``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "portability.json"
CAPABILITIES = {
    "native": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "default": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"},
}


def _script(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def efficientnet() -> dict:
    """Largest logit difference to the stored reference, absolute and relative to the
    largest reference logit, per input size."""
    from eglass.efficientnet import load_efficientnet_lite0

    network = load_efficientnet_lite0()
    script = _script(ROOT / "tests" / "data" / "efficientnet_reference.py")
    reference = torch.load(ROOT / "tests" / "data" / "efficientnet_lite0_reference.pt",
                           weights_only=True)
    out = {}
    with torch.no_grad():
        for size in script.SIZES:
            logits, stored = network(script.images(size)), reference[f"logits_{size}"]
            diff = (logits - stored).abs().max().item()
            out[str(size)] = {"max_abs": diff, "relative": diff / stored.abs().max().item()}
    return out


def _encoder_row(comparison, seconds: float) -> dict:
    return {"max_drift": comparison.max_drift, "worst_ratio": comparison.worst_ratio,
            "weight_drift": comparison.weight_drift,
            "guess_error": {k: list(v) for k, v in comparison.guess_error.items()},
            "train_seconds": round(seconds, 1)}


def mnist_encoder() -> dict:
    from eglass import models, training
    from eglass.data import mnist
    from eglass.inversion import benchmark_problems

    cfg = _script(ROOT / "scripts" / "train_prior.py").DEFAULTS["encoder"]
    G = models.load_generator("mnist-dcgan")
    problems = {name: benchmark_problems()[name] for name in cfg["operators"]}
    torch.set_num_threads(cfg["threads"])
    start = time.perf_counter()
    E = training.train_encoder(G, list(problems.values()), seed=0,
                               **{k: cfg[k] for k in ("samples", "steps", "batch_size", "lr",
                                                      "width")})
    seconds = time.perf_counter() - start
    x, _ = mnist("test")
    comparison = training.compare_encoders(E, models.load_encoder(), G, problems, x[::5])
    return _encoder_row(comparison, seconds)


def faces_encoder() -> dict:
    from eglass import checkpoints, training
    from eglass.priors import get_prior
    from eglass.priors.faces import NAME, PooledEncoder, face_problems

    script = _script(ROOT / "scripts" / "train_faces_encoder.py")
    torch.set_num_threads(script.RECIPE["threads"])
    start = time.perf_counter()
    E = script.train(script.RECIPE)
    seconds = time.perf_counter() - start
    prior = get_prior(NAME)
    _, x = prior.samples(64, seed=1)
    problems = {name: face_problems()[name] for name in script.RECIPE["operators"]}
    shipped = PooledEncoder(checkpoints.load_shipped("faces-encoder", "encoder"))
    comparison = training.compare_encoders(E, shipped, prior.generator(), problems, x)
    return _encoder_row(comparison, seconds)


MEASURES = {"efficientnet": efficientnet, "mnist-encoder": mnist_encoder,
            "faces-encoder": faces_encoder}


def worker(names: list[str]) -> dict:
    """This process's measurements (run under one capability's environment)."""
    row = {"capability": torch.backends.cpu.get_cpu_capability()}
    for name in names:
        row[name] = MEASURES[name]()
    return row


def _report(results: dict) -> None:
    for cap, row in results["capabilities"].items():
        print(f"{cap} (torch reports {row['capability']}):")
        for size, r in row.get("efficientnet", {}).items():
            print(f"  efficientnet {size}px: max |logit diff| {r['max_abs']:.2e} "
                  f"(relative {r['relative']:.2e})")
        for name in ("mnist-encoder", "faces-encoder"):
            if name in row:
                r = row[name]
                print(f"  {name}: max weight drift {r['max_drift']:.2e}, guess error ratio "
                      f"{r['worst_ratio']:.3f} ({r['train_seconds']:.0f} s)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(MEASURES), default=list(MEASURES))
    parser.add_argument("--capabilities", nargs="+", choices=list(CAPABILITIES),
                        default=list(CAPABILITIES))
    parser.add_argument("--jobs", type=int, default=2, help="capabilities run at once")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.only)))
        return
    pending = list(args.capabilities)
    running, rows = {}, {}
    while pending or running:
        while pending and len(running) < args.jobs:
            cap = pending.pop(0)
            env = {**os.environ, "OMP_NUM_THREADS": "1", **CAPABILITIES[cap]}
            running[cap] = subprocess.Popen(
                [sys.executable, __file__, "--worker", "--only", *args.only],
                env=env, stdout=subprocess.PIPE, text=True)
        cap = next(iter(running))
        out, _ = running.pop(cap).communicate()
        rows[cap] = json.loads(out.strip().splitlines()[-1])
    results = {"torch": torch.__version__, "machine": platform.processor() or platform.machine(),
               "native": torch.backends.cpu.get_cpu_capability(),
               "environment": CAPABILITIES, "capabilities": rows}
    _report(results)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
