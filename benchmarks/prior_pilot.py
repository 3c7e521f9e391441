"""Pilot run of one generator recipe: the shipped recipe with a few settings changed.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/prior_pilot.py NAME '{"lr_g": 2e-4}' \
        [--steps 6000] [--out /tmp/pilots]

Trains ``eglass.training.train_generator`` from seed 0 with ``scripts/train_prior.py``'s
generator settings updated by the JSON object, and every 1,000 steps scores the EMA and the
raw generator (BatchNorm re-estimated) on 2,000 samples (seed 7) with the embedded classifier
-- the scoring of the shipped run's ``progress`` records in ``eglass/weights/quality.json``, so
a pilot is compared with the shipped run at the same step. Each scoring rewrites
``OUT/pilot-NAME.json`` (name, config, progress with wall seconds) and prints the row; stop the
run once it has answered its question. The ``pilot-*`` recipes of
``benchmarks/results/prior_recipes.json`` came from this script (one thread, two at a time).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import torch

from eglass import models, training
from eglass.data import mnist

ROOT = Path(__file__).resolve().parents[1]


def load_train_prior():
    """``scripts/train_prior.py`` as a module: its settings and its progress scoring."""
    spec = importlib.util.spec_from_file_location("train_prior", ROOT / "scripts/train_prior.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("name")
    parser.add_argument("changes", type=json.loads, help="JSON object of changed settings")
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/pilots"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    train_prior = load_train_prior()
    settings = dict(train_prior.DEFAULTS["generator"])
    allowed = set(settings)
    unknown = set(args.changes) - allowed
    if unknown:
        raise SystemExit(f"unknown settings {sorted(unknown)}; expected some of {sorted(allowed)}")
    settings.update(args.changes, steps=args.steps)
    settings["betas"] = tuple(settings["betas"])
    classifier = models.load_classifier("mnist-cnn")
    x_train, _ = mnist("train")
    x_test, _ = mnist("test")
    args.out.mkdir(parents=True, exist_ok=True)
    record_path = args.out / f"pilot-{args.name}.json"
    progress: list[dict] = []
    start = time.perf_counter()

    def score(step: int, G_ema, G_raw) -> None:
        row = {"step": step, "seconds": round(time.perf_counter() - start),
               **train_prior.progress_scores(G_ema, G_raw, classifier, x_test, seed=0)}
        progress.append(row)
        print(json.dumps(row), flush=True)
        record = {"name": args.name, "config": args.changes, "progress": progress}
        record_path.write_text(json.dumps(record, indent=1) + "\n")

    training.train_generator(x_train, seed=0, callback=score, callback_every=1000, **settings)


if __name__ == "__main__":
    sys.exit(main())
