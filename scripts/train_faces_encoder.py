"""Train the fast-start encoder of the face prior ``faces-dcgan64`` and ship it.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/train_faces_encoder.py [--out DIR]

The recipe (:data:`RECIPE`, seed 0, one thread): :func:`eglass.training.train_encoder` on
``samples`` generator samples ``G(z)``, ``z ~ N(0, I)``, pushed through the three face
problems of :func:`eglass.priors.faces.face_problems` (SR x8, the mouth and the eyes boxes)
in turn and back with their pseudo-inverses; the encoder is a
:class:`eglass.networks.LatentEncoder` (3 channels, latent 100) on 2x average-pooled images
(:class:`eglass.priors.faces.PooledEncoder`). No real face is seen. It writes
``faces-encoder.pt`` (the inner ``LatentEncoder``, :func:`eglass.checkpoints.save_checkpoint`)
and its entry in ``registry.json`` under ``--out`` (default: the package's weights folder),
and prints how well its guess fits held-out samples. ``tests/test_faces.py`` retrains with
the same recipe and compares the weights and the guesses (``tests/references.py``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from eglass.checkpoints import REGISTRY_FILE, WEIGHTS_DIR, save_checkpoint
from eglass.networks import LatentEncoder
from eglass.priors import get_prior
from eglass.priors.faces import ENCODER, NAME, PooledEncoder, face_problems
from eglass.training import train_encoder
from eglass.utils import stopwatch

RECIPE = dict(samples=4000, steps=2000, batch_size=64, lr=2e-3, width=32, seed=0, threads=1,
              operators=["SR x8", "inpainting (mouth)", "inpainting (eyes)"])


def train(recipe: dict = RECIPE) -> PooledEncoder:
    """The encoder of ``recipe`` (the caller sets the thread count: results depend on it)."""
    G = get_prior(NAME).generator()
    problems = face_problems()
    with torch.random.fork_rng():  # the initialization from the seed, the caller's RNG intact
        torch.manual_seed(recipe["seed"])
        encoder = PooledEncoder(LatentEncoder(G.latent_dim, recipe["width"], 3))
    return train_encoder(G, [problems[name] for name in recipe["operators"]],
                         encoder=encoder, log=print,
                         **{k: recipe[k] for k in ("samples", "steps", "batch_size", "lr",
                                                   "seed")})


def check(encoder: PooledEncoder, n: int = 64) -> dict:
    """Median measurement error of the guess ``G(E(A^+ y))`` on ``n`` held-out samples per
    problem (truths from :meth:`eglass.priors.Prior.samples`), against ``G(0)``'s."""
    prior = get_prior(NAME)
    G = prior.generator()
    _, x = prior.samples(n, seed=1)
    out = {}
    with torch.no_grad():
        for name, A in face_problems().items():
            y = A(x)
            guess = G(encoder(A.A_dagger(y)))
            zero = G(torch.zeros(1, G.latent_dim)).expand_as(x)
            err = ((A(guess) - y) / 2).pow(2).flatten(1).mean(1)
            err0 = ((A(zero) - y) / 2).pow(2).flatten(1).mean(1)
            out[name] = dict(guess=err.median().item(), zero=err0.median().item())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    args = parser.parse_args()
    torch.set_num_threads(RECIPE["threads"])
    with stopwatch() as elapsed:
        encoder = train()
    seconds = elapsed()
    args.out.mkdir(parents=True, exist_ok=True)
    sha = save_checkpoint(encoder.encoder, args.out / f"{ENCODER}.pt")
    path = args.out / REGISTRY_FILE
    entries = json.loads(path.read_text()) if path.is_file() else {}
    entries[ENCODER] = {
        "description": "LatentEncoder (A^+ y, 2x average-pooled -> z) for faces-dcgan64, "
                       "trained on its samples through the listed operators "
                       "(scripts/train_faces_encoder.py)",
        "file": f"{ENCODER}.pt", "generator": NAME, "kind": "encoder",
        "operators": RECIPE["operators"], "seed": RECIPE["seed"], "sha256": sha,
    }
    path.write_text(json.dumps(dict(sorted(entries.items())), indent=2) + "\n")
    print(f"trained in {seconds:.0f} s; {ENCODER} sha256 {sha}")
    for name, r in check(encoder).items():
        print(f"{name}: median error of the guess {r['guess']:.2e} (G(0): {r['zero']:.2e})")


if __name__ == "__main__":
    main()
