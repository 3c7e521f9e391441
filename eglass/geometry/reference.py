r"""The tests' oracle: the metric Hessians by double backprop of the distance itself, the
slow way :func:`eglass.geometry.perceptual_metric` and
:func:`eglass.geometry.measurement_metric` are checked against."""

from __future__ import annotations

import torch

from ..problem import InverseProblem
from ..utils import check_positive_int

__all__ = ["reference_hessian"]


def reference_hessian(
    problem: InverseProblem,
    z0: torch.Tensor,
    *,
    metric: str = "perceptual",
    rows: int | None = None,
) -> torch.Tensor:
    r"""Slow reference: :math:`\tfrac12 \partial_z^2` of the distance itself, by double backprop.

    The GAN-Geometry "backward iteration" of Wang & Ponce: one gradient
    :math:`g = \nabla_z D(z)` with ``create_graph=True``, then one more backward pass per latent
    dimension, :math:`\partial (g \cdot e_i) / \partial z`. Here
    :math:`D(z) = d_X(G(z), G(z_0))` (``metric="perceptual"``, the problem's distance) or
    :math:`\lVert A G(z) - A G(z_0)\rVert^2` (``metric="measurement"``). Used by the tests
    and ``benchmarks/hessian.py`` to check :func:`perceptual_metric` and
    :func:`measurement_metric`; not meant for users (``d`` backward passes). ``rows``: only
    the first ``rows`` rows (to time the method on a large latent).

    Returns ``(d, d)`` (or ``(rows, d)``) in the dtype of ``z0``.
    """
    if metric not in ("perceptual", "measurement"):
        raise ValueError(f"metric must be 'perceptual' or 'measurement', got {metric!r}")
    z0 = problem.latent(z0)
    if metric == "measurement":
        with torch.no_grad():
            target = problem.measure(z0)

        def distance(w):
            return (problem.measure(w) - target).pow(2).sum()
    else:
        perceptual = problem.perceptual_distance()  # the given one or the default
        x0 = problem.generate(z0)

        def distance(w):
            return perceptual(problem.generator(w), x0).sum()

    n = z0.shape[1] if rows is None else check_positive_int("rows", rows)
    if n > z0.shape[1]:
        raise ValueError(f"rows must be an integer in [1, {z0.shape[1]}] or None, got {rows!r}")
    with torch.enable_grad():
        w = z0.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(distance(w), w, create_graph=True)
        hessian_rows = [
            torch.autograd.grad(g[0, i], w, retain_graph=i < n - 1)[0][0] for i in range(n)
        ]
    return 0.5 * torch.stack(hessian_rows).detach()
