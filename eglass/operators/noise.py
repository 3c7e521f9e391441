r"""Measurement noise, kept apart from the operators: ``y = add_noise(A(x), sigma, seed)``."""

from __future__ import annotations

import torch

from ..utils import check_finite, make_generator
from .base import check_sigma

__all__ = ["add_noise"]


def add_noise(y: torch.Tensor, sigma: float, seed: int | torch.Generator) -> torch.Tensor:
    r"""Noisy measurements :math:`y + \sigma n`, :math:`n \sim \mathcal{N}(0, I)` drawn from
    ``seed`` (same seed, same noise), ``sigma`` (finite, ``>= 0``) in the units of ``y``
    ([-1, 1] images).

    >>> y = torch.zeros(1, 1, 100, 100)
    >>> torch.equal(add_noise(y, 0.1, seed=0), add_noise(y, 0.1, seed=0))
    True
    >>> round(add_noise(y, 0.1, seed=0).std().item(), 2)
    0.1
    """
    sigma = check_sigma(sigma, positive=False)
    if isinstance(y, torch.Tensor) and not y.is_floating_point():
        raise TypeError(f"y must be a floating-point tensor (measurements of [-1, 1] images), "
                        f"got dtype {y.dtype}; convert it first, e.g. y.float()")
    check_finite("y", y)
    g = make_generator(seed, device=y.device)
    return y + sigma * torch.randn(y.shape, generator=g, dtype=y.dtype, device=y.device)
