r"""Latent directions of new solutions at :math:`z_0` (paper, Sec. 3, Algorithm 1).

From the two metrics at :math:`z_0` -- :math:`H_Y = J_\phi^\top J_\phi` (measurements,
:math:`\phi = A \circ G`) and :math:`H_X` (perceptual) -- a direction :math:`d` moves the
image a lot and the measurements hardly at all; the new solution is :math:`G(z_0 + \eta d)`.

- ``"eigenvector"``: :math:`v^K`, the K-th top eigenvector of :math:`H_X` alone (the middle
  row of the paper's Figs. 2-3), :func:`eigenvector_direction`.
- ``"eglass"``: Algorithm 1 of Montanaro et al. (ICIP 2022), :func:`eglass_direction`:
  :math:`v^K` orthogonalized against the top eigenvectors of :math:`H_Y`.
- ``"generalized"``: the K-th generalized eigenvector of :math:`(H_X, H_Y + \epsilon I)`,
  maximizing :math:`d^\top H_X d / (d^\top H_Y d + \epsilon\|d\|^2)`,
  :func:`generalized_direction` (not in the paper).

Defaults (``threshold = 0.05``, ``top = 8``; the paper gives none) come from the sweep in
chapter 5 (:func:`eglass.explore.sweep`). Eigen-indices are 1-based as in the paper
(:math:`v^1` is the top eigenvector); the latent dimension is ``dim``, a direction ``d``.

>>> import torch
>>> H_Y, H_X = torch.diag(torch.tensor([4.0, 1.0, 0.0])), torch.diag(torch.tensor([1.0, 3.0, 2.0]))
>>> dr = eglass_direction(H_Y, H_X, K=1, top=1)   # v^1 = e_2 has no component along u^1 = e_1
>>> dr.d.tolist(), dr.removed
([0.0, 1.0, 0.0], ())
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch

from .display import Summarized, brief, settings_text, shape
from .geometry import eigh_desc, fix_signs
from .utils import check_finite, check_positive_int

__all__ = [
    "DIRECTIONS",
    "THRESHOLD",
    "TOP",
    "REGULARIZATION",
    "Direction",
    "MetricPair",
    "eglass_direction",
    "eigenvector_direction",
    "generalized_direction",
    "directions",
    "orthogonalize",
    "check_indices",
    "check_index",
]

DIRECTIONS = ("eigenvector", "eglass", "generalized")

# Defaults of Algorithm 1 (the paper publishes none); chapter 5 measures how feasibility and
# perceptual change depend on them on the embedded MNIST prior.
THRESHOLD = 0.05
TOP = 8
REGULARIZATION = 1e-3
MAX_ITER = 50
SYMMETRY_RTOL = 1e-4

# --------------------------------------------------------------------------- input checks


def _check_metric(name: str, H: torch.Tensor, rtol: float = SYMMETRY_RTOL) -> torch.Tensor:
    """Check that ``H`` is a finite, square, symmetric ``(d, d)`` matrix."""
    if not isinstance(H, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (d,d), got {type(H).__name__}")
    if H.ndim != 2 or H.shape[0] != H.shape[1]:
        raise ValueError(f"{name} must be a square (d,d) matrix, got shape {tuple(H.shape)}")
    if not H.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {H.dtype}")
    check_finite(name, H)
    scale = H.abs().max().item()
    asym = (H - H.T).abs().max().item()
    if asym > rtol * max(scale, 1e-30):
        raise ValueError(
            f"{name} must be symmetric: max |H - H^T| = {asym:.3g} exceeds {rtol:g} x max|H| "
            f"= {rtol * scale:.3g}"
        )
    return H


def check_semidefinite(name: str, eigenvalues: torch.Tensor, rtol: float = SYMMETRY_RTOL) -> None:
    """A ValueError unless a metric's eigenvalues (descending) are ``>= 0`` up to ``rtol``
    times the largest magnitude: a metric :math:`J^\top J` is positive semi-definite."""
    lowest, scale = eigenvalues[-1].item(), eigenvalues.abs().max().item()
    if lowest < -rtol * max(scale, 1e-30):
        raise ValueError(f"{name} must be positive semi-definite (a metric J^T J), but its "
                         f"smallest eigenvalue is {lowest:.3g} (largest magnitude {scale:.3g})")


def _check_pair(H_Y: torch.Tensor, H_X: torch.Tensor) -> int:
    _check_metric("H_Y", H_Y)
    _check_metric("H_X", H_X)
    if H_Y.shape != H_X.shape:
        raise ValueError(
            f"H_Y and H_X must have the same shape (d,d), got {tuple(H_Y.shape)} "
            f"and {tuple(H_X.shape)}"
        )
    return H_Y.shape[0]


def check_index(name: str, value: int, dim: int) -> int:
    """``value`` as an ``int`` if it is a 1-based eigen-index in ``[1, dim]`` (``TypeError``
    for a non-integer, ``ValueError`` out of range).

    >>> check_index("K", 3, 8)
    3
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer in [1, {dim}], got {value!r}")
    if not 1 <= value <= dim:
        raise ValueError(f"{name} must be in [1, latent_dim] = [1, {dim}] (1-based, as in the "
                         f"paper; K cannot exceed the latent dimension), "
                         f"got {name}={value}")
    return int(value)


def check_indices(Ks) -> list[int]:
    """``Ks`` as a non-empty list of integers (range checks come with the metrics' size).

    >>> check_indices(range(2, 5))
    [2, 3, 4]
    """
    if isinstance(Ks, (int, np.integer, float, str)) or not hasattr(Ks, "__iter__"):
        raise TypeError(f"Ks must be a sequence of 1-based direction indices, e.g. Ks=({Ks},) "
                        f"or range(2, 10); got the {type(Ks).__name__} {Ks!r}")
    Ks = list(Ks)
    if not Ks:
        raise ValueError("Ks must hold at least one index K, got an empty sequence")
    return Ks


# --------------------------------------------------------------------------- directions


@dataclass(repr=False)
class Direction(Summarized):
    r"""A unit latent direction ``d`` ``(d,)`` with the diagnostics of how it was found
    (``print(direction)``: a paragraph of them; a notebook: a table).

    Correlations are cosines with the eigenvectors of :math:`H_Y` (columns of ``U``) and
    :math:`H_X` (columns of ``V``), both in descending eigenvalue order: ``corr_Y[j-1]`` is
    :math:`d^\top u^j` -- the data of the paper's Fig. 1.

    Attributes:
        d: final direction ``(d,)``, unit norm (dtype/device of the inputs).
        start: starting direction :math:`v^K` ``(d,)`` (equal to ``d`` for the eigenvector
            and generalized methods).
        method, K: how it was made; ``K`` is 1-based.
        corr_Y_start, corr_Y: ``(d,)`` :math:`U^\top v^K` and :math:`U^\top d`.
        corr_X_start, corr_X: ``(d,)`` :math:`V^\top v^K` and :math:`V^\top d`.
        quad_Y_start, quad_Y: :math:`v^\top H_Y v` and :math:`d^\top H_Y d` (squared
            measurement change per unit step, to second order).
        quad_X_start, quad_X: the same for :math:`H_X` (perceptual change).
        removed: 1-based indices ``j`` of the :math:`u^j` projected out, in order.
        iterations: passes of Algorithm 1's loop (the last one finds nothing to remove).
        threshold, top, regularization: the parameters used (``None`` where not applicable).
    """

    d: torch.Tensor
    start: torch.Tensor
    method: str
    K: int
    corr_Y_start: torch.Tensor
    corr_Y: torch.Tensor
    corr_X_start: torch.Tensor
    corr_X: torch.Tensor
    quad_Y_start: float
    quad_Y: float
    quad_X_start: float
    quad_X: float
    removed: tuple[int, ...] = ()
    iterations: int = 0
    threshold: float | None = None
    top: int | None = None
    regularization: float | None = None

    def summary_rows(self) -> list[tuple[str, str]]:
        """The facts ``repr`` and the notebook table show (:class:`eglass.display.Summarized`)."""
        rows = [("method", self.method), ("K", str(self.K)), ("d", shape(self.d)),
                ("d^T H_Y d", f"{self.quad_Y:.3g} (start v^K: {self.quad_Y_start:.3g})"),
                ("d^T H_X d", f"{self.quad_X:.3g} (start v^K: {self.quad_X_start:.3g})")]
        if self.top is not None:
            start = self.corr_Y_start[: self.top].abs().max().item()
            rows.append((f"max |d.u^j|, j <= {self.top}",
                         f"{self.max_corr_top_Y:.3g} (start {start:.3g})"))
        if self.iterations:
            removed = brief(list(self.removed)) if self.removed else "none"
            rows.append(("removed u^j", f"j = {removed} in {self.iterations} pass(es)"))
        settings = dict(threshold=self.threshold, top=self.top,
                        regularization=self.regularization)
        if any(v is not None for v in settings.values()):
            rows.append(("settings", settings_text(settings)))
        return rows

    @property
    def max_corr_top_Y(self) -> float:
        r""":math:`\max_{j \le top} |d^\top u^j|` (``nan`` when ``top`` is not set)."""
        if self.top is None:
            return float("nan")
        return self.corr_Y[: self.top].abs().max().item()


def _finish(direction: Direction, like: torch.Tensor) -> Direction:
    """Cast tensors of a float64 ``Direction`` to the dtype/device of ``like``."""
    for name in ("d", "start", "corr_Y_start", "corr_Y", "corr_X_start", "corr_X"):
        setattr(direction, name, getattr(direction, name).to(dtype=like.dtype, device=like.device))
    return direction


def orthogonalize(
    d: torch.Tensor, U_top: torch.Tensor, threshold: float, max_iter: int
) -> tuple[torch.Tensor, list[int], int]:
    r"""Algorithm 1's loop: remove from the unit vector ``d`` its component along every column
    :math:`u^j` of ``U_top`` with :math:`|d^\top u^j| >` ``threshold`` (renormalizing after
    each), until none exceeds it. Returns ``(d, removed 1-based j, passes)``."""
    top = U_top.shape[1]
    removed: list[int] = []
    for iterations in range(1, max_iter + 1):
        exceed = [j for j in range(top) if abs(float(d @ U_top[:, j])) > threshold]
        if not exceed:
            return d, removed, iterations
        for j in exceed:
            u = U_top[:, j]
            d = d - (d @ u) * u
            norm = d.norm()
            if norm < 1e-8:
                raise ValueError(
                    f"it lies in the span of the top-{top} eigenvectors of H_Y that exceed "
                    f"threshold={threshold}: nothing is left after removing them "
                    f"(removed u^j for j={[*removed, j + 1]})"
                )
            d = d / norm
            removed.append(j + 1)
    raise RuntimeError(
        f"Algorithm 1 did not converge in max_iter={max_iter} passes (top={top}); "
        f"raise max_iter (it needs at most top + 1 = {top + 1})"
    )




class MetricPair:
    """Checked metrics ``H_Y, H_X`` ``(d, d)`` in float64 with their eigen-decompositions,
    computed once and shared by every direction taken from them (many ``K``, or a sweep over
    Algorithm 1's settings). Its methods make the directions of :func:`eglass_direction`,
    :func:`eigenvector_direction` and :func:`generalized_direction`.

    >>> pair = MetricPair(torch.diag(torch.tensor([4.0, 1.0, 0.0])),
    ...                   torch.diag(torch.tensor([1.0, 3.0, 2.0])))
    >>> [pair.eglass(K, top=1).d.tolist() for K in (1, 2)]
    [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]

    :meth:`from_spectra` builds one from the top eigenpairs alone (the matrix-free path of
    :func:`eglass.geometry.metric_spectra`): ``U`` and ``V`` then have ``k`` columns, not
    ``dim``, and ``HY``, ``HX`` are ``None``.
    """

    def __init__(self, H_Y: torch.Tensor, H_X: torch.Tensor):
        self.dim = _check_pair(H_Y, H_X)
        self.like = H_Y
        self.HY = H_Y.detach().to(torch.float64)
        self.HX = H_X.detach().to(torch.float64)
        self.HY = (self.HY + self.HY.T) / 2
        self.HX = (self.HX + self.HX.T) / 2
        self.lam_Y, self.U = eigh_desc(self.HY)
        self.lam_X, self.V = eigh_desc(self.HX)
        check_semidefinite("H_Y", self.lam_Y)
        check_semidefinite("H_X", self.lam_X)
        self._generalized: dict[float, torch.Tensor] = {}

    @classmethod
    def from_spectra(cls, spectra) -> MetricPair:
        r"""A pair from the top-``k`` eigenpairs of both metrics (a
        :class:`eglass.geometry.MetricSpectra`, or anything with ``lam_Y, U, lam_X, V``),
        without forming a ``(d, d)`` matrix: Algorithm 1 and :math:`v^K` cost
        :math:`O(d\,k)` instead of two :math:`O(d^3)` eigen-decompositions, which matters
        in W+ (``d`` = 9,216 at 1024 x 1024).

        Its directions equal those of ``MetricPair(*spectra.matrices())`` for ``K`` and
        ``top`` up to ``k`` (the rank-``k`` metrics :math:`U \Lambda U^\top` have exactly
        these top eigenpairs); quadratic forms are those of the rank-``k`` metrics. A ``K``
        or ``top`` above ``k`` is refused, as is ``generalized``, which needs all of
        :math:`H_Y` (its small eigenvalues decide the generalized eigenvectors).

        >>> from types import SimpleNamespace
        >>> spectra = SimpleNamespace(lam_Y=torch.tensor([4.0]), U=torch.eye(3)[:, :1],
        ...                           lam_X=torch.tensor([3.0, 2.0]), V=torch.eye(3)[:, 1:])
        >>> MetricPair.from_spectra(spectra).eglass(2, top=1).d.tolist()
        [0.0, 0.0, 1.0]
        """
        pair = cls.__new__(cls)
        tensors = {}
        for lam, vecs in (("lam_Y", "U"), ("lam_X", "V")):
            values, vectors = getattr(spectra, lam), getattr(spectra, vecs)
            if vectors.dim() != 2 or values.shape != vectors.shape[1:]:
                raise ValueError(f"{vecs} must be (d, k) with {lam} (k,), got "
                                 f"{tuple(vectors.shape)} and {tuple(values.shape)}")
            check_finite(vecs, vectors)
            check_finite(lam, values)
            tensors[lam] = values.detach().to(torch.float64)
            tensors[vecs] = fix_signs(vectors.detach().to(torch.float64))
        if tensors["U"].shape[0] != tensors["V"].shape[0]:
            raise ValueError(f"U and V must have the same number of rows d, got "
                             f"{tuple(tensors['U'].shape)} and {tuple(tensors['V'].shape)}")
        pair.dim = tensors["U"].shape[0]
        pair.like = spectra.U
        pair.HY = pair.HX = None
        pair.lam_Y, pair.U = tensors["lam_Y"].clamp_min(0), tensors["U"]
        pair.lam_X, pair.V = tensors["lam_X"].clamp_min(0), tensors["V"]
        pair._generalized = {}
        return pair

    def _index(self, name: str, value: int, vectors: torch.Tensor) -> int:
        """A 1-based eigen-index within the eigenvectors held (all ``dim`` of them, or the
        top ``k`` from spectra): ``K`` indexes ``V`` (H_X), ``top`` ``U`` (H_Y)."""
        held = vectors.shape[1]
        if held == self.dim or isinstance(value, bool) or not isinstance(
                value, (int, np.integer)):
            return check_index(name, value, self.dim)
        if not 1 <= value <= held:
            metric = "H_X" if vectors is self.V else "H_Y"
            raise ValueError(f"{name} must be in [1, {held}]: only the top {held} "
                             f"eigenpairs of {metric} are held (top-k path), got "
                             f"{name}={value}; compute more (metric_spectra(..., k=...))")
        return int(value)

    def _quad(self, which: str, d: torch.Tensor) -> float:
        r""":math:`d^\top H d` of the metric, or of its rank-``k`` part from spectra."""
        H = self.HY if which == "Y" else self.HX
        if H is not None:
            return (d @ H @ d).item()
        lam, vecs = (self.lam_Y, self.U) if which == "Y" else (self.lam_X, self.V)
        return (lam * (vecs.T @ d) ** 2).sum().item()

    def generalized_basis(self, regularization: float) -> torch.Tensor:
        """Generalized eigenvectors of ``(H_X, H_Y + regularization * lam_max I)`` as columns,
        descending, unit norm, signed like :func:`eglass.geometry.eigh_desc`."""
        if self.HY is None:
            raise ValueError("the generalized directions need the full metrics (their "
                             "small eigenvalues decide them), but this pair holds only the "
                             f"top {self.V.shape[1]} eigenpairs (top-k path); use 'eglass' or "
                             "'eigenvector', or compute the metrics exactly")
        if regularization not in self._generalized:
            lam_max = max(self.lam_Y[0].item(), 0.0)
            reg = regularization * lam_max if lam_max > 0 else regularization
            B = self.HY.cpu().numpy() + reg * np.eye(self.dim)
            _, W = scipy.linalg.eigh(self.HX.cpu().numpy(), B)
            W = torch.from_numpy(W[:, ::-1].copy()).to(self.HY.device)
            self._generalized[regularization] = fix_signs(W / W.norm(dim=0))
        return self._generalized[regularization]

    def diagnostics(self, start: torch.Tensor, d: torch.Tensor) -> dict:
        """The correlations and quadratic forms of :class:`Direction` for a start and a
        final direction ``(d,)`` (float64)."""
        U, V = self.U, self.V
        return dict(
            corr_Y_start=U.T @ start,
            corr_Y=U.T @ d,
            corr_X_start=V.T @ start,
            corr_X=V.T @ d,
            quad_Y_start=self._quad("Y", start),
            quad_Y=self._quad("Y", d),
            quad_X_start=self._quad("X", start),
            quad_X=self._quad("X", d),
        )

    def eglass(self, K: int, threshold: float = THRESHOLD, top: int | None = None,
               max_iter: int = MAX_ITER) -> Direction:
        """Algorithm 1 from :math:`v^K` (:func:`eglass_direction`)."""
        K = self._index("K", K, self.V)
        top = self._index("top", min(TOP, self.U.shape[1]) if top is None else top, self.U)
        if not 0 < threshold < 1:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}")
        max_iter = check_positive_int("max_iter", max_iter)
        start = self.V[:, K - 1].clone()
        try:
            d, removed, iterations = orthogonalize(start, self.U[:, :top], threshold, max_iter)
        except ValueError as err:
            raise ValueError(f"v^{K}: {err}. Use a larger K or a smaller top.") from None
        out = Direction(
            d=d, start=start, method="eglass", K=K,
            **self.diagnostics(start, d),
            removed=tuple(removed), iterations=iterations, threshold=float(threshold), top=top,
        )
        return _finish(out, self.like)

    def eigenvector(self, K: int) -> Direction:
        """:math:`v^K` as is (:func:`eigenvector_direction`)."""
        K = self._index("K", K, self.V)
        v = self.V[:, K - 1].clone()
        out = Direction(d=v, start=v, method="eigenvector", K=K, **self.diagnostics(v, v))
        return _finish(out, self.like)

    def generalized(self, K: int, regularization: float = REGULARIZATION) -> Direction:
        """The K-th generalized eigenvector (:func:`generalized_direction`)."""
        K = check_index("K", K, self.dim)
        if not regularization > 0:
            raise ValueError(f"regularization must be positive, got {regularization}")
        w = self.generalized_basis(regularization)[:, K - 1].clone()
        out = Direction(d=w, start=w, method="generalized", K=K, **self.diagnostics(w, w),
                        regularization=float(regularization))
        return _finish(out, self.like)


def eglass_direction(
    H_Y: torch.Tensor,
    H_X: torch.Tensor,
    K: int,
    threshold: float = THRESHOLD,
    top: int | None = None,
    max_iter: int = MAX_ITER,
) -> Direction:
    r"""Algorithm 1 of e-GLASS: :math:`v^K` orthogonalized against the top of :math:`H_Y`.

    Start from :math:`d = v^K`, the K-th top eigenvector of :math:`H_X`. Repeat: for each of
    the ``top`` top eigenvectors :math:`u^j` of :math:`H_Y` (descending) with
    :math:`|d^\top u^j| > \text{threshold}`,

    .. math:: d \leftarrow d - (d^\top u^j)\, u^j, \qquad d \leftarrow d / \|d\|,

    until no correlation exceeds the threshold. Each removal zeroes one component and the
    renormalization can only lift the others, so the loop ends after at most ``top + 1``
    passes; ``max_iter`` bounds it anyway.

    Args:
        H_Y: measurement metric ``(d, d)``, symmetric.
        H_X: perceptual metric ``(d, d)``, symmetric.
        K: 1-based index of the starting eigenvector of ``H_X``, in ``[1, d]``.
        threshold: largest allowed :math:`|d^\top u^j|`, in (0, 1). Default 0.05.
        top: how many top eigenvectors of ``H_Y`` to orthogonalize against, in ``[1, d]``.
            Default ``None``: ``min(8, d)``. Chapter 5 measures both defaults: on the
            embedded prior, 8 keeps inpainting solutions feasible where 4 does not, and
            removing more costs perceptual change without gaining feasibility.
        max_iter: bound on the passes of the loop.

    Returns:
        :class:`Direction` with ``d`` of unit norm and the Fig. 1 correlations.

    Raises:
        ValueError: bad shapes, asymmetric or non-finite matrices, K or top outside
            ``[1, d]``, threshold outside (0, 1), or when :math:`v^K` lies (numerically) in
            the span of the removed :math:`u^j` so that no direction is left.
    """
    return MetricPair(H_Y, H_X).eglass(K, threshold, top, max_iter)


def eigenvector_direction(H_Y: torch.Tensor, H_X: torch.Tensor, K: int) -> Direction:
    r""":math:`v^K`, the K-th top eigenvector of :math:`H_X`, used as is (the paper's baseline
    row). Same diagnostics as :func:`eglass_direction`."""
    return MetricPair(H_Y, H_X).eigenvector(K)


def generalized_direction(
    H_Y: torch.Tensor, H_X: torch.Tensor, K: int, regularization: float = REGULARIZATION
) -> Direction:
    r"""The K-th top generalized eigenvector of :math:`(H_X,\; H_Y + \epsilon' I)`.

    It maximizes (for ``K = 1``; the next ones under :math:`B`-orthogonality) the Rayleigh
    quotient

    .. math:: r(d) = \frac{d^\top H_X d}{d^\top H_Y d + \epsilon' \|d\|^2},
        \qquad \epsilon' = \epsilon \, \lambda_{\max}(H_Y),

    the principled version of Algorithm 1's heuristic: perceptual change per unit of
    measurement change. ``regularization`` is relative to the top eigenvalue of ``H_Y`` so
    the result does not depend on the scale of the measurements; it keeps the problem
    definite where :math:`H_Y` is singular (e.g. super-resolution, rank :math:`\le m < d`).
    Solved with
    ``scipy.linalg.eigh(H_X, H_Y + epsilon' I)`` in float64.

    Args:
        H_Y, H_X: ``(d, d)`` symmetric metrics.
        K: 1-based index in ``[1, d]`` (descending generalized eigenvalue).
        regularization: relative regularization, > 0. Default 1e-3.

    Returns:
        :class:`Direction` (``d`` normalized to unit Euclidean norm, deterministic sign).
    """
    return MetricPair(H_Y, H_X).generalized(K, regularization)


def directions(
    H_Y: torch.Tensor,
    H_X: torch.Tensor,
    Ks: Sequence[int],
    method: str = "eglass",
    *,
    threshold: float = THRESHOLD,
    top: int | None = None,
    regularization: float = REGULARIZATION,
    max_iter: int = MAX_ITER,
) -> list[Direction]:
    """One :class:`Direction` per K in ``Ks`` by ``method``, one of :data:`DIRECTIONS` (or
    ``"walk"``, whose walks start from the ``"eglass"`` direction). ``H_Y`` may be a
    :class:`MetricPair` already (``H_X`` then ``None``), e.g. one from spectra."""
    if method not in (*DIRECTIONS, "walk"):
        raise ValueError(f"method must be one of {(*DIRECTIONS, 'walk')}, got {method!r}")
    Ks = check_indices(Ks)
    if isinstance(H_Y, MetricPair) and H_X is None:
        pair = H_Y
    else:
        pair = MetricPair(H_Y, H_X)  # one pair of eigen-decompositions for all Ks
    if method in ("eglass", "walk"):
        return [pair.eglass(K, threshold, top, max_iter) for K in Ks]
    if method == "generalized":
        return [pair.generalized(K, regularization) for K in Ks]
    return [pair.eigenvector(K) for K in Ks]

