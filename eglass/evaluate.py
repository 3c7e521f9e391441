r"""Evaluation of candidate solutions: measurement error, feasibility, PSNR, diversity.

The measurement error of ``x`` for measurements ``y`` is the mean squared residual on the
[0, 1] intensity scale (images live in [-1, 1], so the difference is halved):

.. math:: e(x) = \operatorname{mean}\big(((A x - y) / 2)^2\big)

A solution is *feasible* when :math:`e(x) \le \tau`; the paper's threshold is
:math:`\tau = 10^{-2}`, and :math:`10^{-3}` is the stricter level reported beside it. When the
measurement noise :math:`\sigma` is known, :func:`noise_tau` gives the level the noise itself
sets (the discrepancy principle).
"""

from __future__ import annotations

from dataclasses import dataclass

import scipy.stats
import torch

from .operators import as_operator
from .utils import check_images, check_number, check_positive_int

__all__ = [
    "TAU",
    "TAU_STRICT",
    "NOISE_CONFIDENCE",
    "noise_tau",
    "measurement_error",
    "residual_error",
    "feasible",
    "psnr",
    "Diversity",
    "diversity",
]

TAU = 1e-2
TAU_STRICT = 1e-3
NOISE_CONFIDENCE = 0.99


def noise_tau(sigma: float, m: int, *, confidence: float = NOISE_CONFIDENCE) -> float:
    r"""The feasibility level that measurement noise of standard deviation ``sigma`` sets
    (the discrepancy principle): no solution can be asked to fit ``y`` better than the
    truth does.

    With :math:`y = A x^\star + \sigma n` (``sigma`` in the units of ``y``, the [-1, 1] image
    scale; :func:`eglass.operators.add_noise`) the truth's error is
    :math:`e(x^\star) = \sigma^2 \chi^2_m / (4m)`, expected :math:`\sigma^2/4`. The level is that
    expectation times a margin, the ``confidence`` quantile of :math:`\chi^2_m / m`:

    .. math:: \tau(\sigma) = \frac{\sigma^2}{4} \cdot \frac{\chi^2_{m}(\text{confidence})}{m}

    so the truth itself is feasible with probability ``confidence`` (0.99 by default). The
    margin is large where there are few measurements (2.0 for ``m = 16``, SR x8 of a 32x32
    digit) and tends to 1 as ``m`` grows (1.11 for ``m = 880``).

    Args:
        sigma: noise standard deviation, finite and > 0.
        m: measurement entries per image (``y[0].numel()``), > 0.
        confidence: in (0, 1).

    >>> round(noise_tau(0.05, 16), 6)  # 0.05**2 / 4 * 2.0
    0.00125
    """
    sigma = check_number("sigma", sigma, positive=True)
    m = check_positive_int("m", m)
    confidence = check_number("confidence", confidence, positive=True)
    if confidence >= 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    margin = scipy.stats.chi2.ppf(confidence, m) / m
    return sigma**2 / 4 * float(margin)


def measurement_error(A, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""Per-sample measurement error :math:`\operatorname{mean}(((A x - y)/2)^2)`.

    Args:
        A: a linear operator (``eglass.operators``), a deepinv ``LinearPhysics`` or any
            callable images -> measurements.
        x: images ``(N, C, H, W)`` in [-1, 1].
        y: measurements, shape ``A(x).shape`` or broadcastable to it (e.g. ``(1, ...)``).

    Returns:
        ``(N,)`` tensor.
    """
    check_images("x", x)
    ax = as_operator(A)(x)
    if y.ndim != ax.ndim or any(b not in (a, 1) for a, b in zip(ax.shape, y.shape, strict=True)):
        raise ValueError(
            f"y has shape {tuple(y.shape)} but A(x) has shape {tuple(ax.shape)}; "
            "expected equal shapes (or a batch of 1 to broadcast)"
        )
    return residual_error(ax - y)


def residual_error(residual: torch.Tensor) -> torch.Tensor:
    r"""The measurement error of residuals :math:`r = A x - y` ``(N, ...)``:
    :math:`\operatorname{mean}((r/2)^2)` per row, ``(N,)``.

    >>> residual_error(torch.full((1, 4), 0.2))
    tensor([0.0100])
    """
    return (residual / 2).pow(2).flatten(1).mean(dim=1)


def feasible(A, x: torch.Tensor, y: torch.Tensor, tau: float = TAU) -> torch.Tensor:
    """Boolean ``(N,)``: which images satisfy ``measurement_error(A, x, y) <= tau``."""
    tau = check_number("tau", tau, positive=True)
    return measurement_error(A, x, y) <= tau


def psnr(x: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Per-sample PSNR in dB on the [0, 1] scale between images in [-1, 1], shape ``(N,)``."""
    check_images("x", x)
    check_images("reference", reference)
    mse = ((x - reference) / 2).pow(2).flatten(1).mean(dim=1)
    return -10 * torch.log10(mse.clamp_min(1e-12))


@dataclass
class Diversity:
    """How different a set of solutions is (see :func:`diversity`).

    Attributes:
        n: number of solutions counted (the feasible ones when a mask is given).
        mean_distance: mean perceptual distance over the ``n (n - 1) / 2`` pairs
            (``nan`` when ``n < 2``).
        classes: number of distinct classes the classifier predicts (``None`` without one).
        labels: predicted class of each counted solution ``(n,)`` (``None`` without one).
    """

    n: int
    mean_distance: float
    classes: int | None = None
    labels: torch.Tensor | None = None


def diversity(
    x: torch.Tensor,
    distance,
    classifier: torch.nn.Module | None = None,
    mask: torch.Tensor | None = None,
) -> Diversity:
    r"""Diversity of solutions ``x`` ``(N, C, H, W)``: mean pairwise perceptual distance and
    number of distinct classes, over the solutions selected by ``mask`` (e.g. the feasible
    ones).

    .. math:: \bar d = \frac{2}{n(n-1)} \sum_{i<j} d(x_i, x_j)

    Args:
        x: images ``(N, C, H, W)`` in [-1, 1].
        distance: an ``eglass.distances.Distance`` (uses ``flat_features`` once per image),
            or any callable ``dist(x0, x1) -> (M,)``.
        classifier: optional ``nn.Module`` images -> logits ``(N, classes)``.
        mask: optional boolean ``(N,)``: which solutions to count.
    """
    check_images("x", x)
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.shape != (
            x.shape[0],
        ):
            got = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise ValueError(f"mask must be a boolean tensor of shape ({x.shape[0]},), got {got}")
        x = x[mask.to(x.device)]
    n = x.shape[0]
    with torch.no_grad():
        if n < 2:
            mean = float("nan")
        elif hasattr(distance, "flat_features"):
            f = distance.flat_features(x).flatten(1)
            pair = torch.cdist(f.double(), f.double()).pow(2)
            mean = (pair.sum() / (n * (n - 1))).item()
        else:
            i, j = torch.triu_indices(n, n, offset=1)
            mean = distance(x[i], x[j]).mean().item()
        labels = classes = None
        if classifier is not None and n > 0:
            labels = classifier(x).argmax(dim=1)
            classes = int(labels.unique().numel())
        elif classifier is not None:
            labels, classes = torch.zeros(0, dtype=torch.long), 0
    return Diversity(n=n, mean_distance=mean, classes=classes, labels=labels)
