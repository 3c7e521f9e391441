"""Retrain the embedded prior (digit classifier + generator) from a fixed seed.

    OMP_NUM_THREADS=2 .venv/bin/python scripts/train_prior.py

writes ``mnist-cnn.pt`` and ``mnist-dcgan.pt`` into ``eglass/weights/`` (or ``--out``),
records their SHA-256 in ``registry.json`` and the quality figures in ``quality.json``.
Deterministic for a given seed and thread count (``--threads``, default 2: the shipped
weights were trained with two threads) on one CPU; on a CPU with other instruction sets the
kernels sum in another order and the weights drift (``tests/references.py`` says how far
the tests let them). Measured wall time on the 2-core machine, otherwise
idle: 41 min in all -- 1.4 min (classifier) + 37 min (generator, 15,000 steps, with a
quality check of 2,000 samples every 1,000 steps) + 2.2 min (quality figures).
``--only classifier|generator|encoder`` retrains one network (the encoder, about a
minute on one thread, needs the generator already in ``--out``) (the generator's quality figures
need the classifier already in ``--out``);
``--only quality`` re-measures the generator's quality figures without training.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from eglass import models, training
from eglass.data import mnist
from eglass.inversion import benchmark_problems

DEFAULTS = {
    "classifier": {"epochs": 30, "batch_size": 128, "lr": 2e-3, "weight_decay": 1e-4,
                   "degrees": 10.0, "scale": [0.9, 1.1], "max_shift": 2.0},
    "generator": {"steps": 15000, "latent_dim": 64, "width": 48, "batch_size": 64,
                  "lr_g": 4e-4, "lr_d": 4e-4, "betas": [0.0, 0.99], "loss": "hinge",
                  "augment": ["translation"], "ema_decay": 0.999, "r1": 0.0,
                  "d_refine": True, "d_width": 32},
    "encoder": {"samples": 10_000, "steps": 1500, "batch_size": 128, "lr": 2e-3, "width": 32,
                "operators": ["SR x4", "SR x8", "inpainting (box)"], "threads": 1},
    "quality": {"n": 10_000, "inversion_images": 100, "inversion_steps": 300,
                "inversion_restarts": 4},
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def update_registry(out: Path, name: str, kind: str, file: str, sha: str, **extra) -> None:
    path = out / models.REGISTRY_FILE
    entries = json.loads(path.read_text()) if path.is_file() else {}
    entries[name] = {"file": file, "sha256": sha, "kind": kind, **extra}
    path.write_text(json.dumps(entries, indent=2, sort_keys=True) + "\n")


def update_quality(out: Path, section: str, figures: dict) -> None:
    path = out / "quality.json"
    quality = json.loads(path.read_text()) if path.is_file() else {}
    quality[section] = figures
    path.write_text(json.dumps(quality, indent=2) + "\n")


def train_classifier(out: Path, seed: int, x_train, y_train, x_test, y_test) -> None:
    cfg = DEFAULTS["classifier"]
    start = time.perf_counter()
    kwargs = {**cfg, "scale": tuple(cfg["scale"])}
    clf = training.train_classifier(x_train, y_train, seed=seed, log=log, **kwargs)
    seconds = time.perf_counter() - start
    sha = models.save_checkpoint(clf, out / "mnist-cnn.pt")
    update_registry(out, "mnist-cnn", "classifier", "mnist-cnn.pt", sha,
                    description="DigitClassifier trained on eglass.data.mnist('train')")
    _, prob = training.embeddings(clf, x_test)
    figures = {
        "test_accuracy": training.accuracy(clf, x_test, y_test),
        "train_accuracy": training.accuracy(clf, x_train, y_train),
        "test_confidence": (prob.max(1).values >= 0.9).double().mean().item(),
        "train_seconds": round(seconds, 1),
        "seed": seed,
        "config": cfg,
    }
    update_quality(out, "classifier", figures)
    log(f"classifier: {figures}")


def progress_scores(G_ema, G_raw, classifier, x_test, seed: int) -> dict:
    """The figures recorded during training: the EMA and the raw generator on 2,000 samples."""
    scores = {}
    for label, module in (("ema", G_ema), ("raw", G_raw)):
        q = training.sample_quality(module, classifier, x_test, n=2000, seed=seed + 7)
        scores[label] = {k: round(q[k], 4) for k in
                         ("confidence", "min_class_fraction", "max_class_fraction", "frechet")}
    return scores


def train_generator(out: Path, seed: int, steps: int | None, x_train, x_test) -> None:
    cfg = dict(DEFAULTS["generator"])
    if steps is not None:
        cfg["steps"] = steps
    clf = models.load_classifier("mnist-cnn", root=out)

    progress_figures = []

    def progress(step: int, G, G_raw) -> None:
        row = {"step": step, **progress_scores(G, G_raw, clf, x_test, seed)}
        progress_figures.append(row)
        log(f"progress (2,000 samples): {json.dumps(row)}")
        models.save_checkpoint(G, out / f"mnist-dcgan.step{step}.pt")

    kwargs = {k: v for k, v in cfg.items() if k != "betas"}
    start = time.perf_counter()
    G, _ = training.train_generator(
        x_train, betas=tuple(cfg["betas"]), seed=seed, log=log, log_every=200,
        callback=progress, callback_every=1000, state_path=out / "generator-state.pt",
        **kwargs,
    )
    seconds = time.perf_counter() - start
    sha = models.save_checkpoint(G, out / "mnist-dcgan.pt")
    for partial in [out / "generator-state.pt", *out.glob("mnist-dcgan.step*.pt")]:
        partial.unlink(missing_ok=True)
    update_registry(out, "mnist-dcgan", "generator", "mnist-dcgan.pt", sha,
                    latent_dim=G.latent_dim,
                    description="DCGAN Generator trained on eglass.data.mnist('train')")
    update_quality(out, "generator", {"train_seconds": round(seconds, 1), "seed": seed,
                                      "config": cfg, "progress": progress_figures})
    log(f"generator trained in {seconds:.0f} s; measuring quality")
    measure_generator(out, seed, x_train, x_test)


def measure_generator(out: Path, seed: int, x_train, x_test) -> None:
    """Quality figures of ``out/mnist-dcgan.pt``, merged into ``quality.json``."""
    qcfg = DEFAULTS["quality"]
    G = models.load_generator("mnist-dcgan", root=out)
    clf = models.load_classifier("mnist-cnn", root=out)
    q = training.sample_quality(G, clf, x_test, n=qcfg["n"], seed=seed + 1)
    train_emb, _ = training.embeddings(clf, x_train)
    test_emb, test_prob = training.embeddings(clf, x_test)
    q["frechet_train_vs_test"] = training.frechet_distance(train_emb, test_emb)
    q["confidence_real_test"] = (test_prob.max(1).values >= 0.9).double().mean().item()
    # Held-out digits to invert: the first `inversion_images / 10` test digits of each class.
    per_class = qcfg["inversion_images"] // 10
    idx = torch.cat([torch.arange(c * 50, c * 50 + per_class) for c in range(10)])
    inv_start = time.perf_counter()
    _, p = training.invert_latent(
        G, x_test[idx], steps=qcfg["inversion_steps"], restarts=qcfg["inversion_restarts"],
        seed=seed + 2,
    )
    q["inversion_psnr_median"] = p.median().item()
    q["inversion_psnr_quartiles"] = [p.quantile(0.25).item(), p.quantile(0.75).item()]
    q["inversion_seconds"] = round(time.perf_counter() - inv_start, 1)
    q["quality_config"] = qcfg
    path = out / "quality.json"
    previous = json.loads(path.read_text()).get("generator", {}) if path.is_file() else {}
    update_quality(out, "generator", {**previous, **q})
    log(f"generator quality: {json.dumps(q)}")


def train_encoder(out: Path, seed: int) -> None:
    """The latent encoder of ``mnist-dcgan`` (in ``out``), one thread whatever ``--threads``
    says, so that ``tests/test_encoder.py`` can retrain it to the same weights."""
    cfg = DEFAULTS["encoder"]
    problems = benchmark_problems()
    G = models.load_checkpoint(out / "mnist-dcgan.pt",
                               models.registry(out)["mnist-dcgan"]["sha256"])
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg["threads"])
    start = time.perf_counter()
    try:
        encoder = training.train_encoder(
            G, [problems[name] for name in cfg["operators"]], seed=seed, log=log,
            **{k: cfg[k] for k in ("samples", "steps", "batch_size", "lr", "width")})
    finally:
        torch.set_num_threads(threads)
    seconds = time.perf_counter() - start
    sha = models.save_checkpoint(encoder, out / "mnist-encoder.pt")
    update_registry(out, "mnist-encoder", "encoder", "mnist-encoder.pt", sha,
                    generator="mnist-dcgan", operators=cfg["operators"], seed=seed,
                    description="LatentEncoder (A^+ y -> z) for mnist-dcgan, trained on its "
                                "samples through the listed operators")
    update_quality(out, "encoder", {"train_seconds": round(seconds, 1), "seed": seed,
                                    "config": cfg})
    log(f"encoder: {seconds:.0f} s, sha256 {sha}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=models.WEIGHTS_DIR)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=["classifier", "generator", "encoder", "quality"],
                        default=None,
                        help="retrain one network, or only re-measure the generator's quality")
    parser.add_argument("--steps", type=int, default=None, help="generator steps override")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    log(f"torch {torch.__version__}, python {platform.python_version()}, "
        f"{args.threads} threads, seed {args.seed}, out {args.out}")
    x_train, y_train = mnist("train")
    x_test, y_test = mnist("test")
    total = time.perf_counter()
    if args.only in (None, "classifier"):
        train_classifier(args.out, args.seed, x_train, y_train, x_test, y_test)
    if args.only in (None, "generator"):
        train_generator(args.out, args.seed, args.steps, x_train, x_test)
    if args.only in (None, "encoder"):
        train_encoder(args.out, args.seed)
    if args.only == "quality":
        measure_generator(args.out, args.seed, x_train, x_test)
    log(f"done in {time.perf_counter() - total:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
