r"""Pictures of a latent direction: the images :math:`G(z_0 + \eta v)` along it."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..problem import InverseProblem
from ..utils import check_number

__all__ = ["images_along"]


def images_along(
    G: nn.Module, z0: torch.Tensor, direction: torch.Tensor, etas: Sequence[float]
) -> torch.Tensor:
    r"""Images :math:`G(z_0 + \eta v)` along a latent direction, one per step ``eta``.

    ``z0`` ``(d,)`` or ``(1, d)``; ``direction`` ``(d,)`` (e.g. an eigenvector column).
    Returns ``(len(etas), C, H, W)``.

    >>> import torch
    >>> from eglass import models
    >>> G = models.load_generator("mnist-dcgan")
    >>> images_along(G, torch.zeros(1, 64), torch.eye(64)[0], [-1.0, 0.0, 1.0]).shape
    torch.Size([3, 1, 32, 32])
    """
    z0 = InverseProblem(G).latent(z0)
    dim = z0.shape[1]
    if not isinstance(direction, torch.Tensor) or direction.shape != (dim,):
        got = tuple(direction.shape) if isinstance(direction, torch.Tensor) else direction
        raise ValueError(f"direction must have shape ({dim},), got {got}")
    etas = [check_number(f"etas[{i}]", eta) for i, eta in enumerate(etas)]
    etas_t = torch.as_tensor(etas, dtype=z0.dtype, device=z0.device)
    with torch.no_grad():
        return G(z0 + etas_t[:, None] * direction.to(z0)[None])
