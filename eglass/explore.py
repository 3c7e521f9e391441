r"""e-GLASS: new solutions of a linear inverse problem from latent directions (chapter 5).

From one solution :math:`G(z_0)` and the two latent metrics at :math:`z_0` --
:math:`H_Y = J_\phi^\top J_\phi` (measurements, :math:`\phi = A \circ G`) and :math:`H_X`
(perceptual) -- this module finds directions :math:`d` that move the image a lot and the
measurements hardly at all, and the new solutions :math:`G(z_0 + \eta d)`.

Directions (``method``):

- ``"eigenvector"``: :math:`v^K`, the K-th top eigenvector of :math:`H_X` alone (the middle
  row of the paper's Figs. 2-3).
- ``"eglass"``: Algorithm 1 of Montanaro et al. (ICIP 2022), :func:`eglass_direction`.
- ``"generalized"``: the K-th generalized eigenvector of :math:`(H_X, H_Y + \epsilon I)`,
  maximizing :math:`d^\top H_X d / (d^\top H_Y d + \epsilon\|d\|^2)`,
  :func:`generalized_direction` (not in the paper).
- ``"walk"``: small steps that start along the Algorithm 1 direction, turn towards larger
  perceptual distance from :math:`G(z_0)`, stay in the local near-null space of
  :math:`J_\phi`, and are pulled back towards :math:`A G(z) = y` by damped Gauss-Newton
  corrections orthogonal to the walk whenever the error nears :math:`\tau`,
  :func:`null_space_walk` (not in the paper).

Defaults (``threshold = 0.05``, ``top = 8``; the paper gives none) come from the sweep in
chapter 5 (:func:`sweep`).

Conventions: latents ``(N, d)``, images ``(N, C, H, W)`` in [-1, 1], eigen-indices are
1-based as in the paper (:math:`v^1` is the top eigenvector).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
import torch

from .evaluate import TAU, measurement_error
from .utils import check_finite, check_generator, check_latents

__all__ = [
    "METHODS",
    "Direction",
    "Exploration",
    "WalkPath",
    "WalkVersusLine",
    "eglass_direction",
    "eigenvector_direction",
    "generalized_direction",
    "directions",
    "null_space_walk",
    "walk_versus_line",
    "explore",
    "evaluate_solutions",
    "concat",
    "summarize",
    "summary_table",
    "Sweep",
    "sweep",
    "StartingPoint",
    "starting_points",
]

METHODS = ("eigenvector", "eglass", "generalized", "walk")

# Defaults of Algorithm 1 (the paper publishes none); chapter 5 measures how feasibility and
# perceptual change depend on them on the embedded MNIST prior.
THRESHOLD = 0.05
TOP = 8
EPS = 1e-3
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


def _check_pair(H_Y: torch.Tensor, H_X: torch.Tensor) -> int:
    _check_metric("H_Y", H_Y)
    _check_metric("H_X", H_X)
    if H_Y.shape != H_X.shape:
        raise ValueError(
            f"H_Y and H_X must have the same shape (d,d), got {tuple(H_Y.shape)} "
            f"and {tuple(H_X.shape)}"
        )
    return H_Y.shape[0]


def _check_index(name: str, value: int, d: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer in [1, {d}], got {value!r}")
    if not 1 <= value <= d:
        raise ValueError(f"{name} must be in [1, d] = [1, {d}] (1-based, as in the paper), "
                         f"got {name}={value}")
    return int(value)


@contextmanager
def _one_thread():
    """Run small dense linear algebra (``d x d`` eigh, pinv, QR) on one thread, restoring the
    setting after: on a busy 2-core machine a multithreaded LAPACK call on a 64 x 64 matrix
    was measured ~600x slower (0.12 s against 0.2 ms) than the single-threaded one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _eigh_desc(H: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`eglass.geometry.eigh_desc` in float64 (descending, deterministic signs)."""
    from .geometry import eigh_desc

    with _one_thread():
        return eigh_desc(H.detach().to(torch.float64))


# --------------------------------------------------------------------------- directions


@dataclass
class Direction:
    r"""A unit latent direction ``d`` ``(d,)`` with the diagnostics of how it was found.

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
        threshold, top, eps: the parameters used (``None`` where not applicable).
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
    eps: float | None = None

    @property
    def max_corr_top_Y(self) -> float:
        r""":math:`\max_{j \le top} |d^\top u^j|` (``nan`` when ``top`` is not set)."""
        if self.top is None:
            return float("nan")
        return self.corr_Y[: self.top].abs().max().item()


class _Pair:
    """Checked metrics ``H_Y, H_X`` in float64 with their eigen-decompositions, computed once
    and shared by every direction taken from them."""

    def __init__(self, H_Y: torch.Tensor, H_X: torch.Tensor):
        self.dim = _check_pair(H_Y, H_X)
        self.like = H_Y
        self.HY = H_Y.detach().to(torch.float64)
        self.HX = H_X.detach().to(torch.float64)
        self.HY = (self.HY + self.HY.T) / 2
        self.HX = (self.HX + self.HX.T) / 2
        self.lam_Y, self.U = _eigh_desc(self.HY)
        self.V = _eigh_desc(self.HX)[1]
        self._generalized: dict[float, torch.Tensor] = {}

    def generalized(self, eps: float) -> torch.Tensor:
        """Generalized eigenvectors of ``(H_X, H_Y + eps lam_max I)`` as columns, descending,
        unit norm, signed like :func:`eglass.geometry.eigh_desc`."""
        if eps not in self._generalized:
            lam_max = max(self.lam_Y[0].item(), 0.0)
            reg = eps * lam_max if lam_max > 0 else eps
            B = self.HY.cpu().numpy() + reg * np.eye(self.dim)
            with _one_thread():
                _, W = scipy.linalg.eigh(self.HX.cpu().numpy(), B)
            W = torch.from_numpy(W[:, ::-1].copy()).to(self.HY.device)
            W = W / W.norm(dim=0)
            idx = W.abs().argmax(dim=0)
            signs = torch.sign(W[idx, torch.arange(self.dim)])
            signs[signs == 0] = 1
            self._generalized[eps] = W * signs
        return self._generalized[eps]

    def diagnostics(self, start: torch.Tensor, d: torch.Tensor) -> dict:
        HY, HX, U, V = self.HY, self.HX, self.U, self.V
        return dict(
            corr_Y_start=U.T @ start,
            corr_Y=U.T @ d,
            corr_X_start=V.T @ start,
            corr_X=V.T @ d,
            quad_Y_start=(start @ HY @ start).item(),
            quad_Y=(d @ HY @ d).item(),
            quad_X_start=(start @ HX @ start).item(),
            quad_X=(d @ HX @ d).item(),
        )


def _finish(direction: Direction, like: torch.Tensor) -> Direction:
    """Cast tensors of a float64 ``Direction`` to the dtype/device of ``like``."""
    for name in ("d", "start", "corr_Y_start", "corr_Y", "corr_X_start", "corr_X"):
        setattr(direction, name, getattr(direction, name).to(dtype=like.dtype, device=like.device))
    return direction


def _orthogonalize(
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
    return _eglass(_Pair(H_Y, H_X), K, threshold, top, max_iter)


def _eglass(pair: _Pair, K: int, threshold: float, top: int | None, max_iter: int) -> Direction:
    dim = pair.dim
    K = _check_index("K", K, dim)
    top = _check_index("top", min(TOP, dim) if top is None else top, dim)
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")

    U, V = pair.U, pair.V
    start = V[:, K - 1].clone()
    try:
        d, removed, iterations = _orthogonalize(start, U[:, :top], threshold, max_iter)
    except ValueError as err:
        raise ValueError(f"v^{K}: {err}. Use a larger K or a smaller top.") from None
    out = Direction(
        d=d, start=start, method="eglass", K=K,
        **pair.diagnostics(start, d),
        removed=tuple(removed), iterations=iterations, threshold=float(threshold), top=top,
    )
    return _finish(out, pair.like)


def eigenvector_direction(H_Y: torch.Tensor, H_X: torch.Tensor, K: int) -> Direction:
    r""":math:`v^K`, the K-th top eigenvector of :math:`H_X`, used as is (the paper's baseline
    row). Same diagnostics as :func:`eglass_direction`."""
    return _eigenvector(_Pair(H_Y, H_X), K)


def _eigenvector(pair: _Pair, K: int) -> Direction:
    K = _check_index("K", K, pair.dim)
    v = pair.V[:, K - 1].clone()
    out = Direction(d=v, start=v, method="eigenvector", K=K, **pair.diagnostics(v, v))
    return _finish(out, pair.like)


def generalized_direction(
    H_Y: torch.Tensor, H_X: torch.Tensor, K: int, eps: float = EPS
) -> Direction:
    r"""The K-th top generalized eigenvector of :math:`(H_X,\; H_Y + \epsilon' I)`.

    It maximizes (for ``K = 1``; the next ones under :math:`B`-orthogonality) the Rayleigh
    quotient

    .. math:: r(d) = \frac{d^\top H_X d}{d^\top H_Y d + \epsilon' \|d\|^2},
        \qquad \epsilon' = \epsilon \, \lambda_{\max}(H_Y),

    the principled version of Algorithm 1's heuristic: perceptual change per unit of
    measurement change. ``eps`` is relative to the top eigenvalue of ``H_Y`` so the result
    does not depend on the scale of the measurements; it keeps the problem definite where
    :math:`H_Y` is singular (e.g. super-resolution, rank :math:`\le m < d`). Solved with
    ``scipy.linalg.eigh(H_X, H_Y + eps' I)`` in float64.

    Args:
        H_Y, H_X: ``(d, d)`` symmetric metrics.
        K: 1-based index in ``[1, d]`` (descending generalized eigenvalue).
        eps: relative regularization, > 0. Default 1e-3.

    Returns:
        :class:`Direction` (``d`` normalized to unit Euclidean norm, deterministic sign).
    """
    return _generalized(_Pair(H_Y, H_X), K, eps)


def _generalized(pair: _Pair, K: int, eps: float) -> Direction:
    K = _check_index("K", K, pair.dim)
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps}")
    w = pair.generalized(eps)[:, K - 1].clone()
    out = Direction(d=w, start=w, method="generalized", K=K, **pair.diagnostics(w, w),
                    eps=float(eps))
    return _finish(out, pair.like)


def directions(
    H_Y: torch.Tensor,
    H_X: torch.Tensor,
    Ks: Sequence[int],
    method: str = "eglass",
    *,
    threshold: float = THRESHOLD,
    top: int | None = None,
    eps: float = EPS,
    max_iter: int = MAX_ITER,
) -> list[Direction]:
    """One :class:`Direction` per K in ``Ks`` by ``method`` (``"walk"`` starts from the
    ``"eglass"`` direction)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    Ks = list(Ks)
    if not Ks:
        raise ValueError("Ks must hold at least one index K")
    pair = _Pair(H_Y, H_X)  # one pair of eigen-decompositions for all Ks
    if method in ("eglass", "walk"):
        return [_eglass(pair, K, threshold, top, max_iter) for K in Ks]
    if method == "generalized":
        return [_generalized(pair, K, eps) for K in Ks]
    return [_eigenvector(pair, K) for K in Ks]


# --------------------------------------------------------------------------- the walk


def _phi(G: torch.nn.Module, A) -> Callable[[torch.Tensor], torch.Tensor]:
    r""":math:`\phi(z) = A G(z)` for one latent ``(1, d)``."""
    return lambda w: A(G(w))


def _jacobian(G: torch.nn.Module, A, z: torch.Tensor) -> torch.Tensor:
    r""":math:`J_\phi(z)` ``(m, d)`` at one latent ``(d,)`` (:func:`eglass.geometry.jacobian`)."""
    from .geometry import jacobian

    return jacobian(_phi(G, A), z.unsqueeze(0))


_DAMPING = torch.tensor([1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0])  # LM damping, relative to lambda_max
_HALVINGS = 3  # null_space_walk: a step whose correction fails is split, down to 1/8 of it


def _range_basis(J: torch.Tensor, top: int, rtol: float = 1e-6) -> torch.Tensor:
    r"""Orthonormal ``(d, k)`` basis of the top-``top`` right singular vectors of ``J``
    (top eigenvectors of :math:`H_Y = J^\top J`), dropping those with eigenvalue below
    ``rtol`` times the largest (they are already null)."""
    evals, U = _eigh_desc(J.T @ J)
    keep = int((evals[:top] > rtol * evals[0].clamp_min(1e-300)).sum())
    return U[:, : max(keep, 1)].to(J.dtype)


@dataclass
class WalkPath:
    r"""A null-space walk: the latents visited and their measurement errors.

    Attributes:
        z: ``(S + 1, d)`` latents, ``z[0] = z0``; ``z[k]`` is after ``k`` steps.
        length: ``(S + 1,)`` distance travelled along the tangent, :math:`k h`.
        errors: ``(S + 1,)`` measurement error of ``G(z[k])`` (after the correction).
        correction: ``(S + 1,)`` norm of the Gauss-Newton correction applied at each step.
        direction: the :class:`Direction` the walk started from.
    """

    z: torch.Tensor
    length: torch.Tensor
    errors: torch.Tensor
    correction: torch.Tensor
    direction: Direction


def null_space_walk(
    G: torch.nn.Module,
    A,
    y: torch.Tensor,
    z0: torch.Tensor,
    direction: Direction | torch.Tensor,
    length: float,
    steps: int = 20,
    top: int | None = None,
    corrections: int = 4,
    refresh: int = 1,
    target: float = 0.0,
    threshold: float | None = 0.0,
    distance: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    ascent: float = 1.0,
) -> WalkPath:
    r"""Walk from ``z0`` along ``direction`` while staying on :math:`A G(z) = y`.

    At every step, with :math:`J \approx J_\phi(z_k)` and :math:`U_k` its top-``top`` right
    singular vectors (the measurement-sensitive latent directions, the top eigenvectors of
    :math:`H_Y(z_k)`):

    1. steer (only with a ``distance`` and ``ascent > 0``): turn the tangent towards the
       gradient of the perceptual distance to the start,
       :math:`t \leftarrow t + \text{ascent}\; g / \|g\|`,
       :math:`g = \nabla_z\, d(G(z_k), G(z_0))` (one backward pass), so that the walk keeps
       moving *away* from :math:`G(z_0)` instead of drifting back; :math:`g = 0` at
       :math:`z_0`, so the first step follows ``direction``;
    2. re-orthogonalize the tangent against the local :math:`U_k` as Algorithm 1 does at
       :math:`z_0` (remove every :math:`u^j` with :math:`|t^\top u^j| >` ``threshold``,
       renormalize); the default ``threshold=0`` projects it onto the local near-null space,
       :math:`t \leftarrow (I - U_k U_k^\top) t / \|\cdot\|`; ``None`` keeps it as is;
    3. predict :math:`z \leftarrow z_k + h\, t` with :math:`h = \text{length}/\text{steps}`;
    4. correct back towards the measurements with damped Gauss-Newton (Levenberg-Marquardt)
       steps *orthogonal to the tangent* (pseudo-arclength continuation), so they cannot
       undo the walk: with :math:`B` an orthonormal basis of :math:`t^\perp` and
       :math:`M = B^\top J^\top J B`,
       :math:`z \leftarrow z - B (M + \lambda I)^{-1} B^\top J^\top (\phi(z) - y)`, with
       :math:`\lambda / \lambda_{\max}(M) \in \{10^{-3}, \dots, 10^{2}\}` tried in
       one batched generator call and the best kept if it lowers the residual; up to
       ``corrections`` times. With a ``target > 0``, a step whose corrected error is still
       above ``target`` is redone as two half steps along the same tangent, down to an eighth
       of a step (step-size control: the errors of the returned points are what they are,
       ``WalkPath.errors``).

    :math:`J` is recomputed exactly (``d`` batched JVPs, :func:`eglass.geometry.jacobian`)
    every ``refresh`` steps and kept up to date in between by Broyden rank-one updates
    :math:`J \leftarrow J + (\Delta\phi - J \Delta z)\Delta z^\top / \|\Delta z\|^2` from
    the generator calls the walk makes anyway (one per step and one batched call per
    correction); a correction that fails with the updated :math:`J` is retried once with an
    exact one.

    Where :math:`J` has a null space (super-resolution: rank :math:`\le m < d`) the path
    follows :math:`A G(z) = y`; where it has none (inpainting, :math:`m > d`) the correction
    uses every other latent direction to cancel the drift of the measurements.

    Args:
        G: generator ``(N, d) -> (N, C, H, W)``.
        A: linear operator (``eglass.operators``) or callable images -> measurements.
        y: measurements ``(1, ...)``, the shape of ``A(G(z0))``.
        z0: starting latent ``(1, d)``.
        direction: a :class:`Direction` or a ``(d,)`` tensor (normalized here).
        length: signed distance to travel along the tangent (negative walks backwards).
        steps: number of steps ``S`` >= 1.
        top: size of the measurement-sensitive subspace (default ``min(8, d)``).
        corrections: Gauss-Newton corrections per step (0 disables the correction).
        refresh: recompute the exact Jacobian every ``refresh`` steps (1: every step).
        threshold: the re-orthogonalization threshold of step 2, in [0, 1) (default 0:
            project onto the near-null space), or ``None`` to keep the tangent.
        distance: perceptual distance ``dist(x0, x1) -> (N,)`` (``eglass.distances``) to
            steer by (step 1); ``None``: no steering.
        ascent: weight of the steering gradient, >= 0 (default 1).

    Chapter 5 measures the defaults on held-out digits: steering with ``ascent=1`` and
    projecting (``threshold=0``) keeps every step feasible and ends perceptually farther from
    :math:`G(z_0)` than the straight line :math:`z_0 + s\,d` is where it leaves the feasible
    set; without steering the corrections undo much of the change (inpainting), and without
    the projection the steered tangent picks up measurement-sensitive components.
        target: measurement-error level to hold: a step is corrected only while its error
            exceeds ``target`` (0: always pull back onto :math:`A G(z) = y`; e.g.
            :math:`\tau / 2` lets the walk move freely inside the feasible set and
            correct only near its edge).
    """
    dim = check_generator(G)
    check_latents("z0", z0, dim)
    if z0.shape[0] != 1:
        raise ValueError(f"z0 must be a single latent (1,{dim}), got {tuple(z0.shape)}")
    check_finite("y", y)
    d = direction.d if isinstance(direction, Direction) else direction
    if not isinstance(d, torch.Tensor) or d.shape != (dim,):
        raise ValueError(f"direction must have shape ({dim},), got "
                         f"{tuple(d.shape) if isinstance(d, torch.Tensor) else type(d).__name__}")
    check_finite("direction", d)
    for name, value, least in (("steps", steps, 1), ("corrections", corrections, 0),
                               ("refresh", refresh, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            kind = "positive" if least else "non-negative"
            raise ValueError(f"{name} must be a {kind} integer, got {value!r}")
    if not math.isfinite(length):
        raise ValueError(f"length must be finite, got {length}")
    if not (math.isfinite(target) and target >= 0):
        raise ValueError(f"target must be a finite number >= 0, got {target}")
    if threshold is not None and not 0 <= threshold < 1:
        raise ValueError(f"threshold must be None or in [0, 1), got {threshold}")
    if not (math.isfinite(ascent) and ascent >= 0):
        raise ValueError(f"ascent must be a finite number >= 0, got {ascent}")
    if distance is not None and not callable(distance):
        raise TypeError(
            f"distance must be callable (x0, x1) -> (N,), got {type(distance).__name__}")
    top = _check_index("top", min(TOP, dim) if top is None else top, dim)
    if not isinstance(direction, Direction):
        direction = Direction(
            d=d, start=d, method="given", K=0, corr_Y_start=d.new_zeros(0), corr_Y=d.new_zeros(0),
            corr_X_start=d.new_zeros(0), corr_X=d.new_zeros(0), quad_Y_start=float("nan"),
            quad_Y=float("nan"), quad_X_start=float("nan"), quad_X=float("nan"),
        )

    h = abs(length) / steps
    sign = 1.0 if length >= 0 else -1.0
    t = (d / d.norm()).detach().to(z0.dtype) * sign
    z = z0.detach()[0].clone()
    y_flat = y.detach().reshape(-1).to(z.dtype)
    eye = torch.eye(dim, dtype=z.dtype, device=z.device)

    def residual(w: torch.Tensor) -> torch.Tensor:
        """``(d,) -> (m,)`` or a batch ``(k, d) -> (k, m)``."""
        with torch.no_grad():
            out = A(G(w.reshape(-1, dim))).reshape(-1, y_flat.numel()) - y_flat
        return out[0] if w.ndim == 1 else out

    def error(r: torch.Tensor) -> float:
        return (r / 2).pow(2).mean().item()

    steer = None
    if distance is not None and ascent > 0:
        with torch.no_grad():
            x0 = G(z0.detach())

        def steer(w: torch.Tensor) -> torch.Tensor:
            """Gradient of ``distance(G(w), G(z0))`` at one latent ``(d,)``."""
            return torch.func.grad(lambda v: distance(G(v.unsqueeze(0)), x0).sum())(w)

    def correct(z, r, J, B):
        """Gauss-Newton corrections within ``span(B)``; returns ``z, r, J`` and the distance
        moved."""
        moved, fresh = 0.0, False
        for _ in range(corrections):
            if error(r) <= target:
                break
            with _one_thread():
                JB = J @ B
                lam, Q = torch.linalg.eigh(JB.T @ JB)
                g = Q.T @ (JB.T @ r)
                damping = lam.max().clamp_min(1e-30) * _DAMPING.to(lam)
                deltas = -(B @ Q @ (g[:, None] / (lam[:, None] + damping[None, :]))).T
            r_all = residual(z + deltas)
            best = r_all.norm(dim=1).argmin()
            if r_all[best].norm() >= r.norm():
                if fresh:
                    break
                J, fresh = _jacobian(G, A, z).detach(), True  # Broyden J too stale: refresh
                continue
            delta, r_try = deltas[best], r_all[best]
            step = delta.norm()
            J = J + torch.outer(r_try - r - J @ delta, delta) / step.pow(2)
            z, r = z + delta, r_try
            moved += step.item()
        return z, r, J, moved

    def advance(z, r, J, t, B, h, halvings):
        """Predict ``h`` along ``t``, then correct; while the corrected error stays above a
        ``target > 0``, redo the step as two halves (at most ``halvings`` times)."""
        r_new = residual(z + h * t)
        J_new = J + torch.outer(r_new - r - h * (J @ t), t) / h  # Broyden, |dz| = h
        z_new, r_new, J_new, moved = correct(z + h * t, r_new, J_new, B)
        if target == 0 or error(r_new) <= target or halvings == 0:
            return z_new, r_new, J_new, moved
        z, r, J, first = advance(z, r, J, t, B, h / 2, halvings - 1)
        z, r, J, second = advance(z, r, J, t, B, h / 2, halvings - 1)
        return z, r, J, first + second

    r = residual(z)
    zs, errs, corr = [z.clone()], [error(r)], [0.0]
    J = None
    for k in range(steps):
        if k % refresh == 0:
            J = _jacobian(G, A, z).detach()
        U = _range_basis(J, top)
        if steer is not None and k > 0:
            g = steer(z)
            t = t + ascent * g / g.norm().clamp_min(1e-30)
            t = t / t.norm().clamp_min(1e-30)
        if threshold is None:
            pass
        elif threshold > 0:
            try:
                t = _orthogonalize(t, U, threshold, MAX_ITER)[0]
            except ValueError as err:
                raise ValueError(f"the walking direction at step {k}: {err}") from None
        else:
            t = t - U @ (U.T @ t)
            norm = t.norm()
            if norm < 1e-8:
                raise ValueError(
                    "the walking direction lies in the measurement-sensitive subspace "
                    f"span(U_top) (top={top}); use a smaller top or another direction")
            t = t / norm
        with _one_thread():
            B = torch.linalg.qr(torch.cat([t.unsqueeze(1), eye], dim=1))[0][:, 1:]  # t-perp
        z, r, J, moved = advance(z, r, J, t, B, h, _HALVINGS)
        zs.append(z.clone())
        errs.append(error(r))
        corr.append(moved)
    return WalkPath(
        z=torch.stack(zs),
        length=torch.arange(steps + 1, dtype=z.dtype) * h * sign,
        errors=torch.tensor(errs, dtype=z.dtype),
        correction=torch.tensor(corr, dtype=z.dtype),
        direction=direction,
    )


@dataclass
class WalkVersusLine:
    r"""A walk and the straight line :math:`z_0 + s\,d` along its starting direction, compared
    at the same distances :math:`s` (:func:`walk_versus_line`).

    Attributes:
        path: the :class:`WalkPath` (``S + 1`` points).
        walk, line: images ``(S + 1, C, H, W)`` of the walk's points and of the line's.
        walk_change, line_change: perceptual distance of each to :math:`G(z_0)` ``(S + 1,)``.
        line_errors: measurement errors along the line ``(S + 1,)`` (the walk's are
            ``path.errors``).
        tau: the feasibility level compared at.
        exit: index of the first point where the line's error exceeds ``tau`` (``None`` if
            it never does within the distance).
    """

    path: WalkPath
    walk: torch.Tensor
    line: torch.Tensor
    walk_change: torch.Tensor
    line_change: torch.Tensor
    line_errors: torch.Tensor
    tau: float
    exit: int | None

    @property
    def line_at_exit(self) -> float | None:
        """Perceptual change of the line where it leaves the feasible set (``None``: never)."""
        return None if self.exit is None else self.line_change[self.exit].item()

    @property
    def walk_farthest(self) -> float:
        """Largest perceptual change among the walk's feasible points."""
        feasible = self.path.errors <= self.tau
        return self.walk_change[feasible].max().item()


def walk_versus_line(
    G: torch.nn.Module,
    A,
    y: torch.Tensor,
    z0: torch.Tensor,
    direction: Direction | torch.Tensor,
    distance: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    tau: float = TAU,
    length: float = 12.0,
    steps: int = 24,
    **walk_options,
) -> WalkVersusLine:
    r"""Walk from ``z0`` (:func:`null_space_walk`, holding ``0.9 * tau``, steered by
    ``distance`` unless ``walk_options`` say otherwise) and follow the straight line along
    the same starting direction for the same distance; measure both against ``G(z0)``.

    The walk's promise is to stay feasible where the line leaves the feasible set *and* to
    get perceptually farther than the line is at that point: compare
    :attr:`WalkVersusLine.walk_farthest` with :attr:`WalkVersusLine.line_at_exit`.

    Args:
        G, A, y, z0, direction: as for :func:`null_space_walk`.
        distance: perceptual distance ``dist(x0, x1) -> (N,)``.
        tau: feasibility level; length, steps: distance walked and number of steps.
        walk_options: further :func:`null_space_walk` arguments (``top``, ``refresh``,
            ``threshold``, ``ascent``, ...); ``ascent=0`` walks without steering.
    """
    if not tau > 0:
        raise ValueError(f"tau must be positive, got {tau}")
    walk_options.setdefault("target", 0.9 * tau)
    walk_options.setdefault("distance", distance)
    path = null_space_walk(G, A, y, z0, direction, length, steps, **walk_options)
    d = path.direction.d
    d = (d / d.norm()).to(z0)
    with torch.no_grad():
        x0 = G(z0)
        walk = G(path.z)
        line = G(z0 + path.length[:, None] * d)
        line_errors = measurement_error(A, line, y)
        left = (line_errors > tau).nonzero()
        return WalkVersusLine(
            path=path, walk=walk, line=line, walk_change=distance(walk, x0),
            line_change=distance(line, x0), line_errors=line_errors, tau=float(tau),
            exit=int(left[0, 0]) if len(left) else None,
        )


# --------------------------------------------------------------------------- exploration


@dataclass
class Exploration:
    r"""``N`` candidate solutions with the evaluation every method shares.

    Attributes:
        z: latents ``(N, d)`` (``None`` for methods that produce images only).
        x: images ``(N, C, H, W)`` in [-1, 1] (generator outputs).
        errors: measurement error of ``x`` ``(N,)`` (:func:`eglass.evaluate.measurement_error`).
        feasible: ``errors <= tau`` ``(N,)`` bool.
        perceptual: distance to the reference ``G(z0)`` ``(N,)``, or ``None`` without a
            distance.
        eta: step of each solution ``(N,)`` (for ``"walk"``: signed length walked).
        K: 1-based index of each solution's direction ``(N,)`` (long).
        method: how the solutions were made.
        tau: feasibility threshold.
        reference: ``G(z0)`` ``(1, C, H, W)``; ``reference_error``: its measurement error.
        x_bp, errors_bp: back-projected images :math:`x + A^\dagger(y - Ax)` and their errors,
            or ``None``.
        directions: the :class:`Direction` of each K used (in order of ``Ks``).
        paths: the :class:`WalkPath` of each (K, sign) walked (``"walk"`` only).
    """

    z: torch.Tensor | None
    x: torch.Tensor
    errors: torch.Tensor
    feasible: torch.Tensor
    perceptual: torch.Tensor | None
    eta: torch.Tensor
    K: torch.Tensor
    method: str
    tau: float
    reference: torch.Tensor
    reference_error: float
    x_bp: torch.Tensor | None = None
    errors_bp: torch.Tensor | None = None
    directions: list[Direction] = field(default_factory=list)
    paths: list[WalkPath] = field(default_factory=list)

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def feasible_fraction(self) -> float:
        """Fraction of the solutions with measurement error <= tau."""
        return self.feasible.float().mean().item()

    def error_range(self) -> tuple[float, float]:
        """``(min, max)`` measurement error over the solutions (the paper's figure captions)."""
        return self.errors.min().item(), self.errors.max().item()

    def summary(self, distance=None, classifier: torch.nn.Module | None = None) -> dict:
        """:func:`summarize` of this exploration alone."""
        return summarize([self], distance, classifier)


def concat(explorations: Sequence[Exploration]) -> Exploration:
    """Pool explorations (e.g. of several starting points) into one; ``reference`` and
    ``reference_error`` are the first one's, ``directions`` and ``paths`` are joined."""
    if not explorations:
        raise ValueError("concat needs at least one Exploration")
    first = explorations[0]
    if any(e.tau != first.tau for e in explorations):
        raise ValueError(f"explorations use different tau: {[e.tau for e in explorations]}")

    def cat(name):
        parts = [getattr(e, name) for e in explorations]
        return None if any(p is None for p in parts) else torch.cat(parts)

    methods = sorted({e.method for e in explorations})
    return Exploration(
        z=cat("z"), x=cat("x"), errors=cat("errors"), feasible=cat("feasible"),
        perceptual=cat("perceptual"), eta=cat("eta"), K=cat("K"),
        method=methods[0] if len(methods) == 1 else "+".join(methods), tau=first.tau,
        reference=first.reference, reference_error=first.reference_error,
        x_bp=cat("x_bp"), errors_bp=cat("errors_bp"),
        directions=[d for e in explorations for d in e.directions],
        paths=[p for e in explorations for p in e.paths],
    )


def summarize(
    explorations: Sequence[Exploration], distance=None, classifier: torch.nn.Module | None = None
) -> dict:
    """One summary row over explorations from several starting points.

    Pooled over all solutions: ``feasible`` fraction (at the explorations' ``tau``) and
    ``feasible_strict`` (at :data:`eglass.evaluate.TAU_STRICT`), ``error_min``/``error_max``, the
    median ``perceptual`` change to each point's ``G(z0)``. Averaged over the points (solutions
    of different points are different problems): ``pairwise``, the mean pairwise perceptual
    distance among each point's feasible solutions, and ``classes``, the number of distinct
    digits the classifier sees among them (:func:`eglass.evaluate.diversity`; needs
    ``distance``; points with fewer than two feasible solutions count 0 pairwise).
    """
    from .evaluate import TAU_STRICT, diversity

    pooled = concat(explorations)
    lo, hi = pooled.error_range()
    row = dict(method=pooled.method, n=len(pooled), feasible=pooled.feasible_fraction,
               feasible_strict=(pooled.errors <= TAU_STRICT).float().mean().item(),
               error_min=lo, error_max=hi,
               perceptual=(float("nan") if pooled.perceptual is None
                           else pooled.perceptual.median().item()))
    if distance is not None:
        divs = [diversity(e.x, distance, classifier, mask=e.feasible) for e in explorations]
        row["pairwise"] = sum(0.0 if math.isnan(d.mean_distance) else d.mean_distance
                              for d in divs) / len(divs)
        if classifier is not None:
            row["classes"] = sum(d.classes for d in divs) / len(divs)
    return row


def summary_table(rows: Sequence[dict], markdown: bool = False) -> str:
    """A table of :func:`summarize` rows: plain text, or a Markdown table if ``markdown``."""
    cols = ["method", "solutions", "feasible", "feasible 1e-3", "error range",
            "median perceptual",
            "mean pairwise", "digits"]
    cells = []
    for r in rows:
        classes = r.get("classes")
        cells.append([
            r["method"], str(r["n"]), f"{r['feasible']:.0%}", f"{r['feasible_strict']:.0%}",
            f"[{r['error_min']:.1e}, {r['error_max']:.1e}]", f"{r['perceptual']:.3g}",
            f"{r.get('pairwise', float('nan')):.3g}",
            "-" if classes is None else f"{classes:.3g}",
        ])
    if markdown:
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        return "\n".join(lines + ["| " + " | ".join(c) + " |" for c in cells])
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(cols)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(cols, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(c, widths, strict=True)) for c in cells]
    return "\n".join(lines)


def evaluate_solutions(
    A,
    y: torch.Tensor,
    x: torch.Tensor,
    reference: torch.Tensor,
    *,
    distance: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    tau: float = TAU,
    back_project: bool = False,
    z: torch.Tensor | None = None,
    eta: torch.Tensor | None = None,
    K: torch.Tensor | None = None,
    method: str = "",
) -> Exploration:
    r"""Evaluate candidate images ``x`` ``(N, C, H, W)`` against measurements ``y`` and a
    reference solution ``(1, C, H, W)``: measurement errors, feasibility at ``tau``,
    perceptual distance to the reference, optional back-projection. Any method of making
    solutions (e-GLASS, PULSE, ...) can be scored by the same code."""
    if not tau > 0:
        raise ValueError(f"tau must be positive, got {tau}")
    n = x.shape[0]
    with torch.no_grad():
        errors = measurement_error(A, x, y)
        ref_error = measurement_error(A, reference, y).item()
        perceptual = None if distance is None else distance(x, reference).detach()
        x_bp = errors_bp = None
        if back_project:
            from .inversion import back_project as _bp

            x_bp = _bp(A, x, y)
            errors_bp = measurement_error(A, x_bp, y)
    return Exploration(
        z=z, x=x.detach(), errors=errors, feasible=errors <= tau, perceptual=perceptual,
        eta=torch.full((n,), float("nan")) if eta is None else eta,
        K=torch.zeros(n, dtype=torch.long) if K is None else K,
        method=method, tau=float(tau), reference=reference.detach(), reference_error=ref_error,
        x_bp=x_bp, errors_bp=errors_bp,
    )


def _generate(G: torch.nn.Module, z: torch.Tensor, batch_size: int) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([G(chunk) for chunk in z.split(batch_size)])


def explore(
    G: torch.nn.Module,
    A,
    y: torch.Tensor,
    z0: torch.Tensor,
    H_Y: torch.Tensor,
    H_X: torch.Tensor,
    *,
    method: str = "eglass",
    Ks: Sequence[int] = (8,),
    etas: Sequence[float] | torch.Tensor = (-3.0, -1.5, 1.5, 3.0),
    threshold: float = THRESHOLD,
    top: int | None = None,
    eps: float = EPS,
    max_iter: int = MAX_ITER,
    distance: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    tau: float = TAU,
    back_project: bool = False,
    walk_steps: int = 16,
    walk_corrections: int = 4,
    walk_refresh: int = 4,
    walk_target: float | None = None,
    walk_threshold: float | None = 0.0,
    walk_ascent: float = 1.0,
    batch_size: int = 256,
) -> Exploration:
    r"""Many solutions from one :math:`z_0`: :math:`G(z_0 + \eta\, d_K)` for every K in ``Ks``
    and every :math:`\eta` in ``etas`` (``N = len(Ks) * len(etas)``, K-major order).

    For ``"eigenvector"``, ``"eglass"`` and ``"generalized"`` the ``N`` latents go through
    ``G`` as one batch (chunks of ``batch_size``), so ``N`` solutions cost about one batched
    forward pass plus two ``d x d`` eigen-decompositions. For ``"walk"`` each K and each sign
    of :math:`\eta` is one :func:`null_space_walk` to the largest :math:`|\eta|`, and the
    solutions are read off the path at the step nearest each :math:`|\eta|`.

    Args:
        G: generator; for IAGAN pass the fine-tuned one (``result.generator``).
        A: linear operator; ``y``: measurements ``(1, ...)``; ``z0``: latent ``(1, d)``.
        H_Y, H_X: metrics ``(d, d)`` at ``z0`` (``eglass.geometry``).
        method: one of :data:`METHODS`.
        Ks: 1-based direction indices (the paper: K, K-1, K-2, ...).
        etas: steps along each direction, in latent units (:math:`\|z_0\| \approx \sqrt d`).
        threshold, top, max_iter: Algorithm 1 (:func:`eglass_direction`); ``top`` is also
            the walk's measurement-sensitive subspace.
        eps: ``"generalized"`` regularization (:func:`generalized_direction`).
        distance: perceptual distance ``dist(x0, x1) -> (N,)`` (``eglass.distances``);
            ``None`` skips ``perceptual`` (and the walk's steering).
        tau: feasibility threshold. back_project: also return :math:`x + A^\dagger(y - Ax)`.
        walk_steps, walk_corrections, walk_refresh, walk_target, walk_threshold, walk_ascent:
            :func:`null_space_walk` settings (``steps``, ``corrections``, ``refresh``,
            ``target``, ``threshold``, ``ascent``) of each walk, which steers by
            ``distance``; ``walk_target`` defaults to ``0.9 * tau``: move freely inside the
            feasible set, correct near its edge.

    Returns:
        :class:`Exploration`.
    """
    dim = check_generator(G)
    check_latents("z0", z0, dim)
    if z0.shape[0] != 1:
        raise ValueError(f"z0 must be a single latent (1,{dim}), got {tuple(z0.shape)}")
    check_finite("y", y)
    if H_Y.shape != (dim, dim):
        raise ValueError(f"H_Y must be ({dim},{dim}) for this generator's latent_dim={dim}, "
                         f"got {tuple(H_Y.shape)}")
    eta_list = [float(e) for e in (etas.tolist() if isinstance(etas, torch.Tensor) else etas)]
    if not eta_list or not all(math.isfinite(e) for e in eta_list):
        raise ValueError(f"etas must be a non-empty list of finite numbers, got {eta_list}")
    dirs = directions(H_Y, H_X, Ks, method, threshold=threshold, top=top, eps=eps,
                      max_iter=max_iter)
    z0 = z0.detach()
    eta = torch.tensor(eta_list, dtype=z0.dtype, device=z0.device)
    if method != "walk":
        D = torch.stack([dr.d.to(z0) for dr in dirs])  # (k, d)
        z = (z0 + eta[None, :, None] * D[:, None, :]).reshape(-1, dim)
        paths: list[WalkPath] = []
    else:
        z_rows, paths = [], []
        for dr in dirs:
            row = torch.empty(len(eta_list), dim, dtype=z0.dtype, device=z0.device)
            for sign in (1.0, -1.0):
                picks = [i for i, e in enumerate(eta_list) if (e > 0 if sign > 0 else e <= 0)]
                if not picks:
                    continue
                reach = max(abs(eta_list[i]) for i in picks)
                if reach == 0:
                    row[picks] = z0[0]
                    continue
                path = null_space_walk(
                    G, A, y, z0, dr, sign * reach, walk_steps, top, walk_corrections,
                    walk_refresh, 0.9 * tau if walk_target is None else walk_target,
                    walk_threshold, distance, walk_ascent)
                paths.append(path)
                for i in picks:
                    row[i] = path.z[round(abs(eta_list[i]) / reach * walk_steps)]
            z_rows.append(row)
        z = torch.cat(z_rows)
    x = _generate(G, z, batch_size)
    reference = _generate(G, z0, 1)
    out = evaluate_solutions(
        A, y, x, reference, distance=distance, tau=tau, back_project=back_project, z=z,
        eta=eta.repeat(len(dirs)),
        K=torch.tensor([dr.K for dr in dirs], device=z0.device).repeat_interleave(len(eta_list)),
        method=method,
    )
    out.directions = dirs
    out.paths = paths
    return out


@dataclass
class Sweep:
    """Algorithm 1 over a grid of ``threshold`` x ``top`` (see :func:`sweep`).

    Attributes:
        thresholds, tops: the grid axes.
        feasible: fraction of feasible solutions ``(len(thresholds), len(tops))``.
        perceptual: median perceptual distance to ``G(z0)`` of the feasible solutions, 0
            where there are none ``(len(thresholds), len(tops))``.
    """

    thresholds: list[float]
    tops: list[int]
    feasible: torch.Tensor
    perceptual: torch.Tensor


def sweep(
    G: torch.nn.Module,
    A,
    y: torch.Tensor,
    z0: torch.Tensor,
    H_Y: torch.Tensor,
    H_X: torch.Tensor,
    distance: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    thresholds: Sequence[float] = (0.01, 0.05, 0.1, 0.3),
    tops: Sequence[int] = (4, 8, 16, 32),
    Ks: Sequence[int] = range(2, 13),
    etas: Sequence[float] = (-3.0, -1.5, 1.5, 3.0),
    tau: float = TAU,
    batch_size: int = 256,
) -> Sweep:
    """Feasible fraction and perceptual change of Algorithm 1's solutions (all ``Ks`` x
    ``etas``) for every ``threshold`` and ``top``: the measurement behind the defaults.

    One eigen-decomposition of each metric and one batched pass of ``G`` and ``distance`` over
    all ``len(thresholds) * len(tops) * len(Ks) * len(etas)`` solutions."""
    dim = check_generator(G)
    check_latents("z0", z0, dim)
    pair = _Pair(H_Y, H_X)
    eta = torch.tensor([float(e) for e in etas], dtype=z0.dtype, device=z0.device)
    D = torch.stack([_eglass(pair, K, threshold, top, MAX_ITER).d.to(z0)
                     for threshold in thresholds for top in tops for K in Ks])
    z = (z0.detach() + eta[None, :, None] * D[:, None, :]).reshape(-1, dim)
    x = _generate(G, z, batch_size)
    with torch.no_grad():
        errors = measurement_error(A, x, y).view(len(thresholds), len(tops), -1)
        perceptual = torch.cat([distance(chunk, _generate(G, z0, 1))
                                for chunk in x.split(batch_size)])
    perceptual = perceptual.view(len(thresholds), len(tops), -1)
    ok = errors <= tau
    feas = ok.float().mean(dim=2).cpu()
    perc = torch.zeros(len(thresholds), len(tops))
    for i in range(len(thresholds)):
        for j in range(len(tops)):
            if ok[i, j].any():
                perc[i, j] = perceptual[i, j][ok[i, j]].median().item()
    return Sweep(list(thresholds), list(tops), feas, perc)


@dataclass
class StartingPoint:
    r"""One solution :math:`G(z_0)` to explore from, with its metrics.

    Attributes:
        G: the generator of the solution (for IAGAN, the fine-tuned copy).
        A, y: operator and measurements ``(1, ...)``.
        z0: latent ``(1, d)``; x0: :math:`G(z_0)` ``(1, C, H, W)``.
        H_Y, H_X: metrics ``(d, d)`` at ``z0`` (:mod:`eglass.geometry`).
        distance: the perceptual distance ``H_X`` was built from.
    """

    G: torch.nn.Module
    A: object
    y: torch.Tensor
    z0: torch.Tensor
    x0: torch.Tensor
    H_Y: torch.Tensor
    H_X: torch.Tensor
    distance: object

    def explore(self, **kwargs) -> Exploration:
        """:func:`explore` from this point (``distance`` defaults to this point's)."""
        kwargs.setdefault("distance", self.distance)
        return explore(self.G, self.A, self.y, self.z0, self.H_Y, self.H_X, **kwargs)

    def direction(self, K: int, method: str = "eglass", **kwargs) -> Direction:
        """:func:`directions` for one K at this point."""
        return directions(self.H_Y, self.H_X, [K], method, **kwargs)[0]


def starting_points(
    G: torch.nn.Module,
    A,
    y: torch.Tensor,
    distance,
    *,
    method: str = "iagan",
    seed: int | torch.Generator = 0,
    **invert_kwargs,
) -> list[StartingPoint]:
    """Invert ``G`` on measurements ``y`` ``(N, ...)`` (:func:`eglass.inversion.invert`, one
    batch) and compute :math:`H_Y, H_X` at each solution: ``N`` starting points."""
    from .geometry import metrics
    from .inversion import invert

    invert_kwargs.setdefault("progress", False)
    result = invert(G, A, y, method, seed=seed, **invert_kwargs)
    points = []
    for i in range(len(result)):
        Gi, zi = result.generators[i], result.z[i : i + 1]
        H_Y, H_X = metrics(Gi, A, distance, zi)
        points.append(StartingPoint(
            G=Gi, A=A, y=y[i : i + 1], z0=zi, x0=result.x[i : i + 1], H_Y=H_Y, H_X=H_X,
            distance=distance,
        ))
    return points
