r"""The null-space walk: many small steps that stay on :math:`A G(z) = y` (not in the paper).

Algorithm 1 takes one straight step :math:`z_0 + \eta d`; far from :math:`z_0` the
measurements drift because :math:`H_Y` changes. The walk starts along the same direction,
turns towards larger perceptual distance from :math:`G(z_0)`, stays in the local near-null
space of :math:`J_\phi` and is pulled back towards the measurements by damped Gauss-Newton
corrections orthogonal to its tangent whenever the error nears a level it holds
(:func:`null_space_walk`). Its settings travel together as one :class:`WalkSettings`.

>>> import torch
>>> from eglass import models, operators
>>> from eglass.problem import InverseProblem
>>> G = models.load_generator("mnist-dcgan")
>>> A = operators.SuperResolution(8)
>>> z0 = torch.randn(1, 64, generator=torch.Generator().manual_seed(0))
>>> x = G(z0)
>>> problem = InverseProblem(G, A, A(x))
>>> path = null_space_walk(problem, z0, torch.eye(64)[0], 2.0,
...                        settings=WalkSettings(steps=4, hold=1e-4))
>>> path.z.shape, bool(path.errors.max() < 1e-3)
(torch.Size([5, 64]), True)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from .directions import MAX_ITER, TOP, Direction, check_index, orthogonalize
from .evaluate import TAU, residual_error
from .geometry import eigh_desc, jacobian
from .problem import InverseProblem, accepts_problem
from .utils import check_finite, check_positive_int, format_shape

__all__ = ["WalkSettings", "WalkPath", "null_space_walk", "WalkVersusLine", "walk_versus_line"]

_DAMPING = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)  # LM damping, relative to lambda_max
_HALVINGS = 3  # a step whose correction fails is split, down to 1/8 of it


@dataclass(frozen=True)
class WalkSettings:
    r"""How :func:`null_space_walk` walks.

    Attributes:
        steps: number of steps ``S`` >= 1 over the walk's length.
        top: size of the measurement-sensitive subspace :math:`U_k` (default ``min(8, d)``).
        corrections: Gauss-Newton corrections per step (0 disables the correction).
        refresh: recompute the exact Jacobian every ``refresh`` steps (Broyden updates in
            between; 1: every step).
        hold: measurement-error level to hold: a step is corrected only while its error
            exceeds it (0: always pull back onto :math:`A G(z) = y`); ``None``: 0.9 x the
            feasibility level :math:`\tau` of the caller (0 for a bare
            :func:`null_space_walk`). With ``hold > 0`` a step still above it after its
            corrections is redone in halves, down to an eighth.
        threshold: re-orthogonalization of the tangent against :math:`U_k`, in [0, 1): 0
            projects onto the near-null space; ``None`` keeps the tangent.
        ascent: weight of the steering towards larger perceptual distance, >= 0 (needs the
            problem's distance; 0: no steering).
    """

    steps: int = 16
    top: int | None = None
    corrections: int = 4
    refresh: int = 4
    hold: float | None = None
    threshold: float | None = 0.0
    ascent: float = 1.0

    def __post_init__(self):
        for name, least in (("steps", 1), ("corrections", 0), ("refresh", 1)):
            check_positive_int(f"WalkSettings.{name}", getattr(self, name), minimum=least)
        if self.hold is not None and not (math.isfinite(self.hold) and self.hold >= 0):
            raise ValueError(f"WalkSettings.hold must be None or a finite number >= 0, "
                             f"got {self.hold}")
        if self.threshold is not None and not 0 <= self.threshold < 1:
            raise ValueError(f"WalkSettings.threshold must be None or in [0, 1), "
                             f"got {self.threshold}")
        if not (math.isfinite(self.ascent) and self.ascent >= 0):
            raise ValueError(f"WalkSettings.ascent must be a finite number >= 0, "
                             f"got {self.ascent}")

    def holding(self, tau: float) -> float:
        """The error level held for a caller whose feasibility level is ``tau``."""
        return 0.9 * tau if self.hold is None else self.hold


@dataclass
class WalkPath:
    r"""A null-space walk: the latents visited and their measurement errors.

    Attributes:
        z: ``(S + 1, d)`` latents, ``z[0] = z0``; ``z[k]`` is after ``k`` steps.
        length: ``(S + 1,)`` distance travelled along the tangent, :math:`k h`.
        errors: ``(S + 1,)`` measurement error of ``G(z[k])`` (after the correction).
        correction: ``(S + 1,)`` norm of the Gauss-Newton correction applied at each step.
        direction: the :class:`eglass.directions.Direction` the walk started from.
    """

    z: torch.Tensor
    length: torch.Tensor
    errors: torch.Tensor
    correction: torch.Tensor
    direction: Direction


def _given_direction(d: torch.Tensor) -> Direction:
    """A bare ``(d,)`` tensor as a :class:`Direction` without diagnostics."""
    empty, nan = d.new_zeros(0), float("nan")
    return Direction(d=d, start=d, method="given", K=0, corr_Y_start=empty, corr_Y=empty,
                     corr_X_start=empty, corr_X=empty, quad_Y_start=nan, quad_Y=nan,
                     quad_X_start=nan, quad_X=nan)


def _check_direction(direction: Direction | torch.Tensor, dim: int) -> Direction:
    d = direction.d if isinstance(direction, Direction) else direction
    if not isinstance(d, torch.Tensor) or d.shape != (dim,):
        got = format_shape(d) if isinstance(d, torch.Tensor) else type(d).__name__
        raise ValueError(f"direction must have shape ({dim},), got {got}")
    check_finite("direction", d)
    if not bool(d.abs().max() > 0):
        raise ValueError(f"direction is zero; expected a non-zero ({dim},) direction to walk "
                         "along (it is normalized)")
    return direction if isinstance(direction, Direction) else _given_direction(d)


def range_basis(J: torch.Tensor, top: int, rtol: float = 1e-6) -> torch.Tensor:
    r"""Orthonormal ``(d, k)`` basis of the top-``top`` right singular vectors of ``J``
    ``(m, d)`` (the top eigenvectors of :math:`H_Y = J^\top J`), dropping those with
    eigenvalue below ``rtol`` times the largest (they are already null)."""
    evals, U = eigh_desc((J.T @ J).detach().to(torch.float64))
    keep = int((evals[:top] > rtol * evals[0].clamp_min(1e-300)).sum())
    return U[:, : max(keep, 1)].to(J.dtype)


def exact_jacobian(problem: InverseProblem, z: torch.Tensor) -> torch.Tensor:
    r""":math:`J_\phi(z)` ``(m, d)`` at one latent ``(d,)`` (:func:`eglass.geometry.jacobian`
    of :meth:`InverseProblem.measure`)."""
    return jacobian(problem.measure, z.unsqueeze(0)).detach()


def broyden(J: torch.Tensor, dz: torch.Tensor, dr: torch.Tensor) -> torch.Tensor:
    r"""Broyden's rank-one update :math:`J + (\Delta r - J \Delta z)\Delta z^\top /
    \|\Delta z\|^2` from one move ``dz`` ``(d,)`` and the residual change ``dr`` ``(m,)``."""
    return J + torch.outer(dr - J @ dz, dz) / dz.pow(2).sum()


def turn_tangent(t: torch.Tensor, U: torch.Tensor, threshold: float | None) -> torch.Tensor:
    r"""Re-orthogonalize the unit tangent ``t`` against the local basis ``U`` ``(d, k)`` as
    Algorithm 1 does at :math:`z_0` (``threshold > 0``), project it onto the complement
    of ``span(U)`` (``threshold = 0``), or keep it (``None``)."""
    if threshold is None:
        return t
    if threshold > 0:
        return orthogonalize(t, U, threshold, MAX_ITER)[0]
    t = t - U @ (U.T @ t)
    norm = t.norm()
    if norm < 1e-8:
        raise ValueError("the walking direction lies in the measurement-sensitive subspace "
                         f"span(U_top) (top={U.shape[1]}); use a smaller top or another "
                         "direction")
    return t / norm


def correct(problem, z, r, J, B, settings: WalkSettings, hold: float):
    r"""Damped Gauss-Newton corrections of ``z`` ``(d,)`` within ``span(B)`` (the tangent's
    complement): :math:`z \leftarrow z - B (M + \lambda I)^{-1} B^\top J^\top r`,
    :math:`M = B^\top J^\top J B`, every damping of ``_DAMPING`` tried in one batched call of
    the generator and the best kept if it lowers the residual; up to
    ``settings.corrections`` times while the error exceeds ``hold``. A stale (Broyden)
    ``J`` that fails is refreshed once. Returns ``z, r, J`` and the distance moved."""
    moved, fresh = 0.0, False
    for _ in range(settings.corrections):
        if residual_error(r[None]).item() <= hold:
            break
        JB = J @ B
        lam, Q = torch.linalg.eigh(JB.T @ JB)
        g = Q.T @ (JB.T @ r)
        damping = lam.max().clamp_min(1e-30) * torch.tensor(_DAMPING).to(lam)
        deltas = -(B @ Q @ (g[:, None] / (lam[:, None] + damping[None, :]))).T
        with torch.no_grad():
            r_all = problem.residual(z + deltas)
        best = r_all.norm(dim=1).argmin()
        if r_all[best].norm() >= r.norm():
            if fresh:
                break
            J, fresh = exact_jacobian(problem, z), True
            continue
        delta, r_try = deltas[best], r_all[best]
        J = broyden(J, delta, r_try - r)
        z, r = z + delta, r_try
        moved += delta.norm().item()
    return z, r, J, moved


def advance(problem, z, r, J, t, B, h, settings: WalkSettings, hold: float, halvings: int):
    """Predict ``h`` along ``t``, then ``correct``; while the corrected error stays above
    a ``hold > 0``, redo the step as two halves (at most ``halvings`` times)."""
    with torch.no_grad():
        r_new = problem.residual((z + h * t)[None])[0]
    J_new = broyden(J, h * t, r_new - r)
    z_new, r_new, J_new, moved = correct(problem, z + h * t, r_new, J_new, B, settings, hold)
    if hold == 0 or residual_error(r_new[None]).item() <= hold or halvings == 0:
        return z_new, r_new, J_new, moved
    z, r, J, first = advance(problem, z, r, J, t, B, h / 2, settings, hold, halvings - 1)
    z, r, J, second = advance(problem, z, r, J, t, B, h / 2, settings, hold, halvings - 1)
    return z, r, J, first + second


def _steering(problem: InverseProblem, z0: torch.Tensor, ascent: float) -> Callable | None:
    """Gradient of ``distance(G(w), G(z0))`` at one latent ``(d,)``, or ``None``."""
    distance = None if ascent == 0 else problem.perceptual_distance(required=False)
    if distance is None:
        return None
    x0 = problem.generate(z0)
    G = problem.generator
    return torch.func.grad(lambda v: distance(G(v.unsqueeze(0)), x0).sum())


@accepts_problem("A", "y")
def null_space_walk(
    problem: InverseProblem,
    z0: torch.Tensor,
    direction: Direction | torch.Tensor,
    length: float,
    *,
    settings: WalkSettings | None = None,
) -> WalkPath:
    r"""Walk from ``z0`` along ``direction`` while staying on :math:`A G(z) = y`.

    At every step, with :math:`J \approx J_\phi(z_k)` and :math:`U_k` its top-``top`` right
    singular vectors (the measurement-sensitive latent directions):

    1. steer (with the problem's distance and ``ascent > 0``): turn the tangent towards the
       gradient :math:`g` of the perceptual distance to :math:`G(z_0)`,
       :math:`t \leftarrow t + \text{ascent}\; g / \|g\|` (:math:`g = 0` at :math:`z_0`, so
       the first step follows ``direction``);
    2. re-orthogonalize the tangent against :math:`U_k` (``turn_tangent``);
    3. predict :math:`z \leftarrow z_k + h\, t`, :math:`h = \text{length}/\text{steps}`;
    4. correct back towards the measurements orthogonally to the tangent (pseudo-arclength
       continuation, ``correct``), redoing the step in halves where the error stays
       above ``hold`` (``advance``).

    :math:`J` is exact (``d`` batched JVPs) every ``refresh`` steps and kept up to date by
    Broyden updates (``broyden``) from the generator calls the walk makes anyway.

    Args:
        problem: the :class:`eglass.problem.InverseProblem` (one measurement); its distance,
            if any, steers the walk.
        z0: starting latent ``(1, d)``.
        direction: a :class:`eglass.directions.Direction` or a ``(d,)`` tensor.
        length: signed distance to travel along the tangent (negative walks backwards).
        settings: :class:`WalkSettings` (default ``WalkSettings()``; ``hold=None`` holds 0).

    Chapter 5 measures the defaults on held-out digits: steering and projecting keep every
    step feasible and end perceptually farther from :math:`G(z_0)` than the straight line
    is where it leaves the feasible set.
    """
    settings = WalkSettings() if settings is None else settings
    z0 = problem.require_one("null_space_walk").latent(z0)
    direction = _check_direction(direction, problem.latent_dim)
    if not math.isfinite(length):
        raise ValueError(f"length must be finite, got {length}")
    dim = problem.latent_dim
    top = check_index("top", min(TOP, dim) if settings.top is None else settings.top, dim)
    hold = settings.holding(0.0)
    steer = _steering(problem, z0, settings.ascent)

    h = abs(length) / settings.steps
    sign = 1.0 if length >= 0 else -1.0
    d = direction.d.detach().to(z0)
    t = d / d.norm() * sign
    z = z0[0].clone()
    eye = torch.eye(dim, dtype=z.dtype, device=z.device)
    with torch.no_grad():
        r = problem.residual(z[None])[0]
    zs, errs, moves = [z.clone()], [residual_error(r[None]).item()], [0.0]
    J = None
    for k in range(settings.steps):
        if k % settings.refresh == 0:
            J = exact_jacobian(problem, z)
        if steer is not None and k > 0:
            g = steer(z)
            t = t + settings.ascent * g / g.norm().clamp_min(1e-30)
            t = t / t.norm().clamp_min(1e-30)
        try:
            t = turn_tangent(t, range_basis(J, top), settings.threshold)
        except ValueError as err:
            raise ValueError(f"the walking direction at step {k}: {err}") from None
        B = torch.linalg.qr(torch.cat([t.unsqueeze(1), eye], dim=1))[0][:, 1:]  # t-perp
        z, r, J, moved = advance(problem, z, r, J, t, B, h, settings, hold, _HALVINGS)
        zs.append(z.clone())
        errs.append(residual_error(r[None]).item())
        moves.append(moved)
    return WalkPath(
        z=torch.stack(zs),
        length=torch.arange(settings.steps + 1, dtype=z.dtype) * h * sign,
        errors=torch.tensor(errs, dtype=z.dtype),
        correction=torch.tensor(moves, dtype=z.dtype),
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


@accepts_problem("A", "y")
def walk_versus_line(
    problem: InverseProblem,
    z0: torch.Tensor,
    direction: Direction | torch.Tensor,
    *,
    tau: float = TAU,
    length: float = 12.0,
    settings: WalkSettings | None = None,
) -> WalkVersusLine:
    r"""Walk from ``z0`` (:func:`null_space_walk`, holding ``0.9 * tau`` unless ``settings``
    say otherwise, steered by the problem's distance) and follow the straight line along the
    same starting direction for the same distance; measure both against ``G(z0)``.

    The walk's promise is to stay feasible where the line leaves the feasible set *and* to
    get perceptually farther than the line is at that point: compare
    :attr:`WalkVersusLine.walk_farthest` with :attr:`WalkVersusLine.line_at_exit`.

    Args:
        problem: with a distance (the perceptual change is measured with it).
        tau: feasibility level; length: distance walked.
        settings: :class:`WalkSettings` (default: 24 steps, ``hold = 0.9 tau``).
    """
    if not tau > 0:
        raise ValueError(f"tau must be positive, got {tau}")
    distance = problem.perceptual_distance()  # walk_versus_line measures perceptual change
    settings = WalkSettings(steps=24) if settings is None else settings
    settings = replace(settings, hold=settings.holding(tau))
    path = null_space_walk(problem, z0, direction, length, settings=settings)
    d = path.direction.d
    d = (d / d.norm()).to(z0)
    with torch.no_grad():
        x0 = problem.generate(z0)
        walk = problem.generate(path.z)
        line = problem.generate(z0 + path.length[:, None] * d)
        line_errors = problem.error(line)
        left = (line_errors > tau).nonzero()
        return WalkVersusLine(
            path=path, walk=walk, line=line, walk_change=distance(walk, x0),
            line_change=distance(line, x0), line_errors=line_errors, tau=float(tau),
            exit=int(left[0, 0]) if len(left) else None,
        )
