r"""Matrix-free metrics: Hessian-vector products :math:`v \mapsto J^\top (J v)` and their
top-``k`` eigenpairs by Lanczos (``scipy.sparse.linalg.eigsh``), for latents too large for a
dense Hessian."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, eigsh

from ..problem import InverseProblem, accepts_problem
from ..utils import check_positive_int, make_generator
from .eigen import fix_signs
from .jacobian import jvp

__all__ = ["MetricHVP", "measurement_hvp", "perceptual_hvp", "top_eigs"]


class MetricHVP:
    r"""Matrix-free Hessian-vector product :math:`v \mapsto J^\top (J v)` of a metric at ``z``.

    ``J v`` by ``torch.func.jvp``, :math:`J^\top u` by a ``torch.func.vjp`` closure built once.
    Call with ``v`` of shape ``(d,)``; returns ``(d,)``. Attributes ``d``, ``dtype``, ``device``.
    """

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor):
        self.fn = fn
        self.z = z
        self.d = z.shape[1]
        self.dtype = z.dtype
        self.device = z.device
        _, self._vjp = torch.func.vjp(fn, z)

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        if v.shape != (self.d,):
            raise ValueError(f"v must have shape ({self.d},), got {tuple(v.shape)}")
        v = v.to(dtype=self.dtype, device=self.device).view(1, self.d)
        with torch.no_grad():
            jv = jvp(self.fn, self.z, v)
        return self._vjp(jv)[0].view(self.d).detach()


@accepts_problem("A")
def measurement_hvp(problem: InverseProblem, z0: torch.Tensor) -> MetricHVP:
    """Matrix-free :math:`H_Y(z_0)`: a :class:`MetricHVP` (same arguments as
    :func:`measurement_metric`)."""
    return MetricHVP(problem.measure, problem.latent(z0))


@accepts_problem("distance")
def perceptual_hvp(problem: InverseProblem, z0: torch.Tensor) -> MetricHVP:
    """Matrix-free :math:`H_X(z_0)`: a :class:`MetricHVP` (same arguments as
    :func:`perceptual_metric`).

    >>> import torch
    >>> from eglass import models
    >>> from eglass.distances import default_distance
    >>> G = models.load_generator("mnist-dcgan")
    >>> hvp = perceptual_hvp(InverseProblem(G, distance=default_distance()), torch.zeros(1, 64))
    >>> evals, evecs = top_eigs(hvp, 64, 3, seed=0)
    >>> evals.shape, evecs.shape
    (torch.Size([3]), torch.Size([64, 3]))
    """
    return MetricHVP(problem.features, problem.latent(z0))


def top_eigs(
    hvp: Callable[[torch.Tensor], torch.Tensor],
    d: int,
    k: int,
    *,
    seed: int | torch.Generator = 0,
    tol: float = 0.0,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Top-``k`` eigenpairs of a symmetric PSD operator given only by ``hvp`` (Lanczos).

    ``scipy.sparse.linalg.eigsh(which="LA")`` on ``hvp`` (:math:`v \mapsto Hv`, ``(d,) -> (d,)``),
    started from a seeded random vector, so the same seed gives the same numbers.

    Args:
        hvp: e.g. :func:`measurement_hvp` / :func:`perceptual_hvp`; any callable works.
        d: dimension; ``k``: number of eigenpairs, ``1 <= k < d``.
        tol: relative accuracy passed to ``eigsh`` (0: machine precision).
        dtype, device: of the vectors handed to ``hvp`` (default: ``hvp.dtype`` /
            ``hvp.device`` if it has them, else float64 on the CPU).

    Returns:
        ``(evals (k,), evecs (d, k))`` in descending order, signs as in :func:`eigh_desc`.
    """
    d, k = check_positive_int("d", d), check_positive_int("k", k)
    if k >= d:
        raise ValueError(
            f"top_eigs needs integers 1 <= k < d, got k={k!r}, d={d!r}; for k = d use "
            "eigh_desc on the dense Hessian"
        )
    dtype = dtype or getattr(hvp, "dtype", torch.float64)
    device = device or getattr(hvp, "device", "cpu")

    def matvec(v: np.ndarray) -> np.ndarray:
        t = torch.as_tensor(np.ravel(v), dtype=dtype, device=device)
        return hvp(t).detach().to("cpu", torch.float64).numpy()

    gen = make_generator(seed)
    v0 = torch.randn(d, generator=gen, dtype=torch.float64).numpy()
    op = LinearOperator((d, d), matvec=matvec, dtype=np.float64)
    evals, evecs = eigsh(op, k=k, which="LA", v0=v0, tol=tol)
    order = np.argsort(evals)[::-1].copy()
    evals = torch.as_tensor(evals[order], dtype=dtype, device=device)
    evecs = torch.as_tensor(evecs[:, order], dtype=dtype, device=device)
    return evals, fix_signs(evecs)
