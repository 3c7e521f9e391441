r"""Evaluation of candidate solutions: measurement error, feasibility, PSNR, diversity.

The measurement error of ``x`` for measurements ``y`` is the mean squared residual on the
[0, 1] intensity scale (images live in [-1, 1], so the difference is halved):

.. math:: e(x) = \operatorname{mean}\big(((A x - y) / 2)^2\big)

A solution is *feasible* when :math:`e(x) \le \tau`; the paper's threshold is
:math:`\tau = 10^{-2}`, and :math:`10^{-3}` is the stricter level reported beside it.
"""

from __future__ import annotations

import torch

from .utils import check_images

__all__ = ["TAU", "TAU_STRICT", "measurement_error", "feasible", "psnr"]

TAU = 1e-2
TAU_STRICT = 1e-3


def measurement_error(A, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""Per-sample measurement error :math:`\operatorname{mean}(((A x - y)/2)^2)`.

    Args:
        A: a linear operator (``eglass.operators``) or any callable images -> measurements.
        x: images ``(N, C, H, W)`` in [-1, 1].
        y: measurements, shape ``A(x).shape`` or broadcastable to it (e.g. ``(1, ...)``).

    Returns:
        ``(N,)`` tensor.
    """
    check_images("x", x)
    ax = A(x)
    if y.ndim != ax.ndim or any(b not in (a, 1) for a, b in zip(ax.shape, y.shape)):
        raise ValueError(
            f"y has shape {tuple(y.shape)} but A(x) has shape {tuple(ax.shape)}; "
            "expected equal shapes (or a batch of 1 to broadcast)"
        )
    return ((ax - y) / 2).pow(2).flatten(1).mean(dim=1)


def feasible(A, x: torch.Tensor, y: torch.Tensor, tau: float = TAU) -> torch.Tensor:
    """Boolean ``(N,)``: which images satisfy ``measurement_error(A, x, y) <= tau``."""
    if not tau > 0:
        raise ValueError(f"tau must be positive, got {tau}")
    return measurement_error(A, x, y) <= tau


def psnr(x: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Per-sample PSNR in dB on the [0, 1] scale between images in [-1, 1], shape ``(N,)``."""
    check_images("x", x)
    check_images("reference", reference)
    mse = ((x - reference) / 2).pow(2).flatten(1).mean(dim=1)
    return -10 * torch.log10(mse.clamp_min(1e-12))
