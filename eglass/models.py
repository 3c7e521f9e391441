r"""Generators, classifiers and encoders by name, and the loaders of upstream formats.

One place to get a network: :func:`load_generator` takes any prior registered in
:mod:`eglass.priors` (``"mnist-dcgan"``, the embedded default), :func:`load_classifier` and
:func:`load_encoder` the shipped weights (``torch.load(weights_only=True)`` after checking the
SHA-256 recorded in ``eglass/weights/registry.json``). The networks are in
:mod:`eglass.networks`, checkpoints in :mod:`eglass.checkpoints`, the upstream formats in
:mod:`eglass.biggan` and :mod:`eglass.pggan`; this module re-exports their public names.

**The generator protocol.** Every function of eglass that takes a generator ``G`` accepts
*any* ``nn.Module`` that maps latents ``(N, d)`` to images ``(N, C, H, W)`` in [-1, 1] and
has an integer attribute ``latent_dim == d``. Put it in ``eval()`` mode so that it is a
deterministic function of ``z``; it must be differentiable in ``z`` and run under
``torch.func.jvp`` / ``torch.func.vmap`` (plain ``nn`` layers, BatchNorm in eval mode and
no in-place ops on the output all do).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .biggan import BigGANGenerator, biggan_config, load_biggan, random_biggan, save_biggan
from .checkpoints import (
    REGISTRY_FILE,
    WEIGHTS_DIR,
    available,
    load_checkpoint,
    load_shipped,
    registry,
    save_checkpoint,
    sha256_of,
)
from .dcgan import DCGANGenerator, load_dcgan
from .networks import DigitClassifier, Discriminator, Generator, LatentEncoder
from .pggan import PGGANGenerator, load_pggan, pggan_config, random_pggan
from .priors import default_prior, get_prior
from .stylegan import load_stylegan

__all__ = [
    "Generator",
    "Discriminator",
    "DigitClassifier",
    "LatentEncoder",
    "WEIGHTS_DIR",
    "REGISTRY_FILE",
    "registry",
    "available",
    "sha256_of",
    "load_checkpoint",
    "save_checkpoint",
    "load_generator",
    "load_classifier",
    "load_encoder",
    "BigGANGenerator",
    "biggan_config",
    "load_biggan",
    "random_biggan",
    "save_biggan",
    "PGGANGenerator",
    "load_pggan",
    "pggan_config",
    "random_pggan",
    "load_stylegan",
    "DCGANGenerator", "load_dcgan",
]


def load_generator(
    name: str | None = None,
    *,
    device: torch.device | str | None = None,
    root: str | Path | None = None,
) -> nn.Module:
    """Load the generator of a registered prior (eval mode, gradients off, SHA-256 verified).

    Args:
        name: a prior of :func:`eglass.priors.list_priors` (default: the default prior,
            ``"mnist-dcgan"``: :class:`Generator` with ``latent_dim`` 64, images
            ``(N, 1, 32, 32)`` in [-1, 1]), or a reference such as ``"pggan:PATH"``.
        device: where to put it (default CPU).
        root: a directory holding its own ``registry.json`` and weights: load the generator
            ``name`` listed there instead.

    >>> G = load_generator()
    >>> G.latent_dim, tuple(G(torch.zeros(1, 64)).shape)
    (64, (1, 1, 32, 32))
    """
    if root is not None:
        return load_shipped(name or default_prior().name, "generator", root=root, device=device)
    return get_prior(name).generator(device)


def load_classifier(
    name: str | None = None,
    *,
    device: torch.device | str | None = None,
    root: str | Path | None = None,
) -> DigitClassifier:
    """Load shipped classifier weights (eval mode, gradients off, SHA-256 verified).

    Args:
        name: registry name (default: the default prior's classifier, ``"mnist-cnn"``:
            :class:`DigitClassifier`).
        device: where to put it (default CPU).
        root: directory holding ``registry.json`` and the weights (default the package's).

    >>> clf = load_classifier()
    >>> tuple(clf.predict_proba(torch.zeros(1, 1, 32, 32)).shape)
    (1, 10)
    """
    if name is None and root is None:
        return default_prior().classifier().to(device or "cpu")
    return load_shipped(name or _shipped("classifier"), "classifier", root=root, device=device)


def load_encoder(
    name: str | None = None,
    *,
    device: torch.device | str | None = None,
    root: str | Path | None = None,
) -> LatentEncoder:
    """Load shipped latent-encoder weights (eval mode, gradients off, SHA-256 verified).

    Args:
        name: registry name (default: the default prior's encoder, ``"mnist-encoder"``:
            :class:`LatentEncoder` for ``mnist-dcgan``, trained on SR x4, SR x8 and the
            central inpainting box; :func:`eglass.training.train_encoder`,
            ``scripts/train_prior.py --only encoder``).
        device: where to put it (default CPU).
        root: directory holding ``registry.json`` and the weights (default the package's).

    >>> E = load_encoder()
    >>> E.latent_dim, registry()["mnist-encoder"]["generator"]
    (64, 'mnist-dcgan')
    """
    return load_shipped(name or _shipped("encoder"), "encoder", root=root, device=device)


def _shipped(kind: str) -> str:
    """The shipped weights of ``kind`` that belong to the default prior's generator."""
    prior = default_prior().name
    entries = registry()
    names = [n for n, e in entries.items() if e["kind"] == kind
             and e.get("generator", prior) == prior]
    return sorted(names)[0]
