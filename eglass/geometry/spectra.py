r"""The top eigenpairs of both metrics at one latent, exact or matrix-free as the memory plan
decides (:func:`metric_spectra`, :class:`MetricSpectra`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..display import Summarized, shape, span
from ..problem import InverseProblem
from ..utils import check_number, check_one_of, check_positive_int
from .eigen import eigh_desc
from .lanczos import MetricHVP, measurement_hvp, perceptual_hvp, top_eigs
from .metrics import metrics
from .plan import MetricPlan, plan_metrics

__all__ = ["MetricSpectra", "metric_spectra"]


@dataclass(repr=False)
class MetricSpectra(Summarized):
    r"""The top eigenpairs of :math:`H_Y` and :math:`H_X` at one latent, however computed
    (``print(spectra)``: a paragraph of its facts; a notebook: a table).

    Attributes:
        lam_Y, U: top-``k`` eigenvalues ``(k,)`` and eigenvectors ``(d, k)`` of :math:`H_Y`,
            descending, signs as in :func:`eigh_desc` (``k = d`` on the exact path).
        lam_X, V: the same for :math:`H_X`.
        plan: the :class:`MetricPlan` that chose the path (``plan.method`` says which).
        H_Y, H_X: the full matrices on the exact paths, ``None`` on ``"top-k"``.
        products: Hessian-vector products Lanczos used per metric (``"top-k"``), else 0.
    """

    lam_Y: torch.Tensor
    U: torch.Tensor
    lam_X: torch.Tensor
    V: torch.Tensor
    plan: MetricPlan
    H_Y: torch.Tensor | None = None
    H_X: torch.Tensor | None = None
    products: tuple[int, int] = (0, 0)

    @property
    def method(self) -> str:
        """``"dense"``, ``"blocks"`` or ``"top-k"``."""
        return self.plan.method

    @property
    def k(self) -> int:
        """Number of eigenpairs held."""
        return self.U.shape[1]

    def summary_rows(self) -> list[tuple[str, str]]:
        """The facts ``repr`` and the notebook table show (:class:`eglass.display.Summarized`)."""
        rows = [("method", self.method),
                ("eigenpairs", f"top {self.k} of d={self.U.shape[0]}"),
                ("H_Y eigenvalues", span(self.lam_Y[0].item(), self.lam_Y[-1].item(), ".3g")),
                ("H_X eigenvalues", span(self.lam_X[0].item(), self.lam_X[-1].item(), ".3g")),
                ("matrices", "held, " + shape(self.H_Y) if self.H_Y is not None else "not held")]
        if self.method == "top-k":
            rows.append(("Hessian-vector products", f"{self.products[0]} (H_Y), "
                                                    f"{self.products[1]} (H_X)"))
        rows.append(("plan", f"{self.plan.estimate / 2**20:.1f} MiB estimated of "
                             f"{self.plan.max_memory / 2**20:.0f} MiB; {self.plan.reason}"))
        return rows

    def matrices(self) -> tuple[torch.Tensor, torch.Tensor]:
        r"""``(H_Y, H_X)``: the exact matrices, or on ``"top-k"`` their rank-``k`` parts
        :math:`U \Lambda U^\top`, whose top ``k`` eigenpairs are the computed ones (so
        Algorithm 1 with ``K <= k`` and ``top <= k`` gives the same directions)."""
        if self.H_Y is not None and self.H_X is not None:
            return self.H_Y, self.H_X
        return _low_rank(self.lam_Y, self.U), _low_rank(self.lam_X, self.V)

    def check_indices(self, Ks: Sequence[int], top: int | None) -> None:
        """Refuse a K or ``top`` beyond the ``k`` eigenpairs held (``"top-k"`` only)."""
        if self.method != "top-k":
            return
        worst = max([*Ks, top or 0])
        if worst > self.k:
            raise ValueError(f"only the top {self.k} eigenpairs were computed (top-k path), "
                             f"but K/top = {worst} was asked for; call metric_spectra with "
                             f"k >= {worst}")


def _low_rank(lam: torch.Tensor, U: torch.Tensor) -> torch.Tensor:
    H = (U * lam.clamp_min(0)) @ U.T
    return (H + H.T) / 2


class _Counted:
    """A Hessian-vector product that counts its calls."""

    def __init__(self, hvp: MetricHVP):
        self.hvp, self.calls = hvp, 0
        self.dtype, self.device = hvp.dtype, hvp.device

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.hvp(v)


def metric_spectra(
    problem: InverseProblem,
    z0: torch.Tensor,
    k: int = 32,
    *,
    max_memory: int | None = None,
    method: str = "auto",
    seed: int | torch.Generator = 0,
    tol: float = 1e-6,
) -> MetricSpectra:
    r"""Top-``k`` eigenpairs of both metrics at ``z0``, exact or matrix-free by a memory estimate.

    ``method="auto"`` follows :func:`plan_metrics` (dense, exact blocks, or top-``k`` when the
    exact path would have to run nearly one direction at a time); ``"exact"`` forces the exact
    metrics (blocked as the cap needs) and ``"top-k"`` forces Lanczos (:func:`top_eigs` on
    :func:`measurement_hvp` / :func:`perceptual_hvp`, relative accuracy ``tol``). The
    result records the plan and, for Lanczos, how many Hessian-vector products it took.

    >>> import torch
    >>> from eglass import models, operators
    >>> from eglass.distances import default_distance
    >>> from eglass.problem import InverseProblem
    >>> problem = InverseProblem(models.load_generator("mnist-dcgan"),
    ...                          operators.SuperResolution(8), distance=default_distance())
    >>> s = metric_spectra(problem, torch.zeros(1, 64), k=8, method="top-k")
    >>> s.method, s.U.shape, s.H_Y is None
    ('top-k', torch.Size([64, 8]), True)
    """
    check_one_of("method", method, ("auto", "exact", "top-k"))
    z0 = problem.latent(z0)
    d = z0.shape[1]
    k = check_positive_int("k", k)
    tol = check_number("tol", tol, minimum=0)  # before ARPACK runs (nan would run for minutes)
    if k > d:
        raise ValueError(f"k must be an integer in [1, latent_dim={d}], got {k!r}")
    plan = plan_metrics(problem, z0, max_memory=max_memory,
                        k=None if method == "exact" or k == d else k)
    if method == "top-k" and plan.method != "top-k":
        plan = MetricPlan("top-k", 1, plan.max_memory, plan.saved + plan.per_direction,
                          plan.per_direction, plan.saved, "top-k asked for (method='top-k')")
    if plan.method == "top-k":
        if k == d:
            raise ValueError(f"the top-k path needs k < latent_dim={d}; use method='exact'")
        hvps = [_Counted(measurement_hvp(problem, z0)), _Counted(perceptual_hvp(problem, z0))]
        (lam_Y, U), (lam_X, V) = (top_eigs(h, d, k, seed=seed, tol=tol) for h in hvps)
        return MetricSpectra(lam_Y, U, lam_X, V, plan,
                             products=(hvps[0].calls, hvps[1].calls))
    chunk = None if plan.method == "dense" else plan.chunk_size
    H_Y, H_X = metrics(problem, z0, chunk_size=chunk)
    lam_Y, U = eigh_desc(H_Y)
    lam_X, V = eigh_desc(H_X)
    return MetricSpectra(lam_Y[:k], U[:, :k], lam_X[:k], V[:, :k], plan, H_Y=H_Y, H_X=H_X)

