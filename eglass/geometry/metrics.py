r"""The two metrics of the paper (Sec. 3) at one latent: :math:`H_Y = J_\phi^\top J_\phi`,
:math:`\phi = A \circ G`, and :math:`H_X = J_F^\top J_F`, alone or both from one pass of
:math:`G`; dense, or in blocks of latent directions within a memory cap."""

from __future__ import annotations

import torch

from ..problem import InverseProblem, accepts_problem
from .blocks import block_grams
from .jacobian import gram, jacobian, pushforward
from .plan import plan_chunk

__all__ = ["measurement_metric", "perceptual_metric", "metrics"]


@accepts_problem("A", legacy="silent")
def measurement_metric(
    problem: InverseProblem,
    z0: torch.Tensor,
    *,
    chunk_size: int | None = None,
    max_memory: int | None = None,
) -> torch.Tensor:
    r"""The measurement metric :math:`H_Y(z_0) = J_\phi^\top J_\phi`, :math:`\phi = A \circ G`.

    Args:
        problem: an :class:`eglass.problem.InverseProblem` (its ``y`` is not needed), or
            the older form ``measurement_metric(G, A, z0)``.
        z0: the latent, ``(d,)`` or ``(1, d)``, same dtype as ``G``.
        chunk_size: build the metric this many latent directions at a time
            (:func:`chunked_gram`: memory bounded by the block, never a full Jacobian).
            ``None``: all ``d`` in one vectorized pass (fastest for small problems).
        max_memory: bytes; choose ``chunk_size`` from a memory estimate
            (:func:`plan_metrics`). ``MemoryError`` if not even one direction fits.

    Returns:
        ``(d, d)`` symmetric PSD matrix in the dtype of ``z0``.

    >>> import torch
    >>> from eglass import models, operators
    >>> G = models.load_generator("mnist-dcgan")
    >>> problem = InverseProblem(G, operators.SuperResolution(8))
    >>> H_Y = measurement_metric(problem, torch.zeros(1, 64))
    >>> lam = torch.linalg.eigvalsh(H_Y.double())  # ascending; rank <= 16 measurements
    >>> H_Y.shape, bool(lam[:-16].abs().max() < 1e-4 * lam[-1])
    (torch.Size([64, 64]), True)
    """
    z0 = problem.latent(z0)
    chunk = plan_chunk(problem, z0, chunk_size, max_memory, measurement=True, perceptual=False)
    if chunk is None:
        H = gram(jacobian(problem.measure, z0))
    else:
        H = block_grams(problem.generator, [problem.A], z0, chunk)[0]
    return check_metric_finite("H_Y", H, "A(G(z0))")


def check_metric_finite(name: str, H: torch.Tensor, of: str) -> torch.Tensor:
    """``H``, or a ValueError saying that the images (or measurements) it came from are not
    finite at this ``z0`` (a NaN matrix would otherwise flow into the directions)."""
    if not bool(torch.isfinite(H).all()):
        raise ValueError(f"{name} has NaN/inf values: {of} is not finite (or not "
                         f"differentiable) at this z0; check the generator and the operator "
                         f"there")
    return H


@accepts_problem("distance", legacy="silent")
def perceptual_metric(
    problem: InverseProblem,
    z0: torch.Tensor,
    *,
    chunk_size: int | None = None,
    max_memory: int | None = None,
) -> torch.Tensor:
    r"""The perceptual metric :math:`H_X(z_0) = J_F^\top J_F` (exact Hessian of
    :math:`\tfrac12 d_X(G(z), G(z_0))` at :math:`z_0`).

    Args:
        problem: an :class:`eglass.problem.InverseProblem` with a distance (an
            :class:`eglass.distances.Distance`), or the older form
            ``perceptual_metric(G, distance, z0)``.
        z0: the latent :math:`z_0`, ``(d,)`` or ``(1, d)``.
        chunk_size, max_memory: as in :func:`measurement_metric`.

    Returns:
        ``(d, d)`` symmetric PSD matrix in the dtype of ``z0``.

    >>> import torch
    >>> from eglass import models
    >>> from eglass.distances import default_distance
    >>> G = models.load_generator("mnist-dcgan")
    >>> H_X = perceptual_metric(InverseProblem(G, distance=default_distance()), torch.zeros(1, 64))
    >>> bool(torch.allclose(H_X, H_X.T)), bool(torch.linalg.eigvalsh(H_X).min() > -1e-4)
    (True, True)
    """
    z0 = problem.latent(z0)
    chunk = plan_chunk(problem, z0, chunk_size, max_memory, measurement=False, perceptual=True)
    if chunk is None:
        return gram(jacobian(problem.features, z0))
    return block_grams(problem.generator, [problem.feature_map], z0, chunk)[0]


@accepts_problem("A", "distance")
def metrics(
    problem: InverseProblem,
    z0: torch.Tensor,
    *,
    chunk_size: int | None = None,
    max_memory: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Both metrics at once, :math:`(H_Y(z_0), H_X(z_0))`, sharing the generator's Jacobian.

    The image Jacobian :math:`J_G` (``d`` tangent images, one forward-mode pass through
    ``G``) is pushed through ``A`` and through the distance's features (:func:`pushforward`):
    :math:`J_\phi = J_A J_G` and :math:`J_F = J_{F \circ x} J_G` by the chain rule, exactly
    what :func:`measurement_metric` and :func:`perceptual_metric` compute, for one pass of
    ``G`` instead of two. Older form: ``metrics(G, A, distance, z0)``.

    With ``chunk_size`` (or ``max_memory``, as in :func:`measurement_metric`) each block of
    tangent images is pushed through both maps and pulled back (``A``'s and the features' vjp,
    then ``G``'s), so nothing of size ``d x pixels`` is ever held: about 2.5x the work of the
    one-pass form, in memory bounded by the block.

    >>> import torch
    >>> from eglass import models, operators
    >>> from eglass.distances import default_distance
    >>> G = models.load_generator("mnist-dcgan")
    >>> problem = InverseProblem(G, operators.SuperResolution(8), distance=default_distance())
    >>> H_Y, H_X = metrics(problem, torch.zeros(1, 64))
    >>> H_Y.shape == H_X.shape == (64, 64)
    True
    """
    z0 = problem.latent(z0)
    features, operator = problem.feature_map, problem.A
    chunk = plan_chunk(problem, z0, chunk_size, max_memory, measurement=True, perceptual=True)
    if chunk is not None:
        H_Y, H_X = block_grams(problem.generator, [operator, features], z0, chunk)
        return H_Y, H_X
    x0 = problem.generate(z0)
    dim = z0.shape[1]
    eye = torch.eye(dim, dtype=z0.dtype, device=z0.device).unsqueeze(1)  # (d, 1, d)
    images = pushforward(problem.generator, z0, eye)  # (d, 1, C, H, W): J_G
    J_phi = pushforward(operator, x0, images).reshape(dim, -1).T
    J_F = pushforward(features, x0, images).reshape(dim, -1).T
    return gram(J_phi), gram(J_F)
