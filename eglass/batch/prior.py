"""The prior of a batch run: resolved through :mod:`eglass.priors` (any registered name or
reference), its weights' SHA-256 (recorded in the store), and the models one worker process
keeps for all its items: the generator, the prior's default distance and its classifier.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..priors import Prior, get_prior
from .config import BatchConfig

__all__ = ["ItemModels", "resolve_prior", "prior_digest", "image_shape_of", "describe_prior",
           "load_prior", "item_models"]


def resolve_prior(config: BatchConfig) -> Prior:
    """The :class:`eglass.priors.Prior` of ``config.prior`` (its file checked against
    ``config.prior_sha256`` when given)."""
    return _resolve(config.prior, config.prior_sha256)


def _resolve(reference: str | None, sha256: str | None) -> Prior:
    prior = get_prior(reference)
    if sha256 is None:
        return prior
    if prior.reference != prior.name:  # a reference to a file: get_prior checks it
        return get_prior(reference, sha256=sha256)
    digest = prior_digest(prior)  # a registered prior: the digest of its weights
    if digest is not None and digest != sha256.lower():
        raise ValueError(f"prior {prior.name!r} has weights with SHA-256 {digest}, not the "
                         f"prior_sha256 {sha256.lower()} given")
    return prior


def prior_digest(prior: Prior) -> str | None:
    """The SHA-256 of the prior's weights file (``prior.sha256``, lower case); ``None`` for a
    prior without one file (e.g. a folder)."""
    return None if prior.sha256 is None else prior.sha256.lower()


def image_shape_of(prior: Prior) -> tuple[int, int, int]:
    """``prior.image_shape``, read leaving the global torch random state as it was (a first
    read may load the generator, and building its modules draws initial weights)."""
    with torch.random.fork_rng(devices=[]):
        return tuple(prior.image_shape)


def describe_prior(prior: Prior) -> dict:
    """What the store's metadata records of the prior (name, reference, shapes, whether it
    has a classifier and a data set, description and citation)."""
    shape = image_shape_of(prior)  # loads the generator if need be: latent_dim is known then
    return dict(name=prior.name, reference=prior.reference, latent_dim=prior.latent_dim,
                image_shape=list(shape), classifier=prior.classifier is not None,
                data=prior.data is not None, description=prior.description,
                citation=prior.citation)


def load_prior(prior: str | None = None, sha256: str | None = None) -> tuple[nn.Module, str | None]:
    """The generator ``prior`` names (any :func:`eglass.priors.get_prior` reference; ``None``:
    the default prior) and its weights' SHA-256 (checked against ``sha256`` when given):
    ``(generator, sha256)``."""
    with torch.random.fork_rng(devices=[]):  # building the modules draws initial weights
        resolved = _resolve(prior, sha256)
        return resolved.generator(), prior_digest(resolved)


@dataclass
class ItemModels:
    """What a worker keeps for every item of a run: the prior, its generator, its default
    distance, its classifier (``None``: no class count), the image shape and the digest."""

    prior: Prior
    generator: nn.Module
    distance: nn.Module
    classifier: nn.Module | None
    image_shape: tuple[int, int, int]
    sha256: str | None


# One set of models per worker process (the last prior asked for), loaded on first use.
WORKER_MODELS: dict[tuple, ItemModels] = {}


def item_models(config: BatchConfig) -> ItemModels:
    """The :class:`ItemModels` of ``config``'s prior, loaded once per process. Loading leaves
    the global torch random state as it was."""
    key = (config.prior, config.prior_sha256)
    if key not in WORKER_MODELS:
        with torch.random.fork_rng(devices=[]):
            prior = resolve_prior(config)
            G = prior.generator()
            classifier = None if prior.classifier is None else prior.classifier()
            models = ItemModels(prior, G, prior.distance(), classifier,
                                tuple(prior.image_shape), prior_digest(prior))
        WORKER_MODELS.clear()
        WORKER_MODELS[key] = models
    return WORKER_MODELS[key]
