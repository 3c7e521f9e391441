r"""The feasible reach of a direction: how far :math:`G(z_0 + \eta d)` stays feasible, and how
much the image has changed by then.

A direction found at :math:`z_0` keeps the measurements to first order only; far enough along
it, the bending of :math:`A \circ G` takes the solution out of the feasible set
:math:`e \le \tau`. :func:`reach` measures, for every direction and both signs, the largest
:math:`|\eta|` at which the solution is still feasible -- batched bracketing on a grid, then
bisection, a few generator passes for all directions at once -- and the perceptual change
from :math:`G(z_0)` reached there. That pair (how far, how much it changed) is what a user
choosing steps needs, and it compares methods at equal :math:`\tau`: the one whose feasible
solutions change the image most wins. :func:`walk_reach` measures the same for the null-space
walk (:func:`eglass.walk.null_space_walk`): the distance it travels while feasible.

>>> import torch
>>> from eglass import models, operators
>>> from eglass.problem import InverseProblem
>>> G = models.load_generator("mnist-dcgan")
>>> A = operators.SuperResolution(8)
>>> z0 = torch.randn(1, 64, generator=torch.Generator().manual_seed(0))
>>> problem = InverseProblem(G, A, A(G(z0)))
>>> r = reach(problem, z0, torch.eye(64)[:3])
>>> r.eta.shape, bool((r.errors <= r.tau).all())
(torch.Size([3, 2]), True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from .directions import Direction
from .display import Summarized, span
from .problem import InverseProblem
from .utils import check_number, check_positive_int, format_shape
from .walk import WalkPath, WalkSettings, null_space_walk

__all__ = ["GRID", "Reach", "reach", "walk_reach", "max_reach", "last_feasible"]

GRID = 16  # bracketing points per ray, evenly spaced on (0, max_eta]


def max_reach(dim: int) -> float:
    r"""The default cap on :math:`|\eta|`: :math:`\sqrt d`, the norm of a typical latent
    (a step that long leaves the region the generator was trained on)."""
    return math.sqrt(dim)


@dataclass(repr=False)
class Reach(Summarized):
    r"""How far each of ``k`` directions stays feasible on each side (:func:`reach`).

    Column 0 is the side :math:`z_0 - \eta d`, column 1 the side :math:`z_0 + \eta d`.

    Attributes:
        eta: the reach ``(k, 2)``: the largest :math:`|\eta|` found feasible before the first
            infeasible step, >= 0, at most ``max_eta``.
        outside: the nearest infeasible :math:`|\eta|` beyond it ``(k, 2)``, within ``tol``
            of ``eta`` (``inf`` where the ray is feasible up to the cap).
        errors: measurement error at the reach ``(k, 2)`` (``<= tau``).
        perceptual: perceptual distance from :math:`G(z_0)` at the reach ``(k, 2)``, or
            ``None`` for a problem without a distance.
        capped: ``(k, 2)``: feasible on the whole bracketing grid up to ``max_eta`` (the reach
            is then a lower bound).
        tau, max_eta, tol: the level, the cap and the bisection tolerance.
        e0: the measurement error of :math:`G(z_0)`.
        passes: generator passes used (each a batch over all rays).
    """

    eta: torch.Tensor
    outside: torch.Tensor
    errors: torch.Tensor
    perceptual: torch.Tensor | None
    capped: torch.Tensor
    tau: float
    max_eta: float
    tol: float
    e0: float
    passes: int

    def __len__(self) -> int:
        return self.eta.shape[0]

    def signed(self, fractions: Sequence[float]) -> torch.Tensor:
        r"""Steps :math:`\eta` at signed ``fractions`` of each direction's reach,
        ``(k, len(fractions))``: a fraction ``f < 0`` is ``f`` times the reach on the minus
        side, ``f > 0`` on the plus side."""
        f = torch.tensor([float(v) for v in fractions], dtype=self.eta.dtype)
        side = self.eta[:, (f > 0).long()]  # (k, n): the reach on each fraction's side
        return f[None, :] * side

    def summary_rows(self) -> list[tuple[str, str]]:
        """The facts ``repr`` and the notebook table show (:class:`eglass.display.Summarized`)."""
        rows = [("directions", f"{len(self)} (both signs)"),
                ("reach |eta|", span(self.eta.min().item(), self.eta.max().item(), ".3g")
                 + f", median {self.eta.median().item():.3g}"),
                ("at the cap", f"{int(self.capped.sum())} of {self.capped.numel()} "
                               f"(max_eta={self.max_eta:.3g})"),
                ("feasibility", f"tau={self.tau:.3g}, G(z0) error {self.e0:.2e}"),
                ("passes", f"{self.passes} generator passes, tol {self.tol:.2g}")]
        if self.perceptual is not None:
            rows.append(("perceptual change there", f"median "
                                                    f"{self.perceptual.median().item():.3g}"))
        return rows


def reach(
    problem: InverseProblem,
    z0: torch.Tensor,
    directions: torch.Tensor | Sequence[Direction],
    *,
    tau: float | None = None,
    max_eta: float | None = None,
    grid: int = GRID,
    tol: float | None = None,
    batch_size: int = 256,
) -> Reach:
    r"""The feasible reach of each direction on each side: the largest :math:`|\eta|` with
    :math:`e(G(z_0 \pm \eta d)) \le \tau` before the first infeasible step, and the perceptual
    change from :math:`G(z_0)` there.

    All ``2k`` rays are bracketed together on ``grid`` evenly spaced steps in
    ``(0, max_eta]`` (one generator pass over ``2k * grid`` latents), then the first
    infeasible bracket of each is bisected down to ``tol`` (``2k`` latents a pass,
    :math:`\lceil \log_2(\text{max\_eta} / (\text{grid} \cdot \text{tol})) \rceil` passes).
    Along a ray the error is that of the first feasible stretch: a ray that leaves the
    feasible set and comes back within one grid spacing can be missed (the grid is the
    resolution of "first").

    Args:
        problem: the :class:`eglass.problem.InverseProblem` of one measurement; its
            distance, if any, gives ``perceptual``.
        z0: latent ``(1, d)``, feasible at ``tau``.
        directions: ``(k, d)`` (or one ``(d,)``), or a sequence of
            :class:`eglass.directions.Direction`; :math:`\eta` is in units of each vector
            (the directions of :mod:`eglass.directions` have unit norm).
        tau: feasibility level; ``None``: the problem's
            (:attr:`eglass.problem.InverseProblem.tau`, from the noise where known).
        max_eta: the cap on :math:`|\eta|`; ``None``: :func:`max_reach`, :math:`\sqrt d`.
        grid: bracketing steps per ray, >= 2.
        tol: bisection tolerance in :math:`|\eta|`; ``None``: ``max_eta / 1000``.
        batch_size: latents per generator pass.

    Raises:
        ValueError: ``G(z0)`` itself infeasible at ``tau`` (there is no reach to measure),
            directions of the wrong shape, non-finite or zero.
    """
    z0, D, tau, e0 = _start("reach", problem, z0, directions, tau)
    max_eta = (max_reach(problem.latent_dim) if max_eta is None
               else check_number("max_eta", max_eta, positive=True))
    grid = check_positive_int("grid", grid, minimum=2)
    tol = max_eta / 1000 if tol is None else check_number("tol", tol, positive=True)
    check_positive_int("batch_size", batch_size)
    rays = torch.stack([-D, D], dim=1).reshape(-1, problem.latent_dim)  # (2k, d), side-minor

    def errors(rows: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        """Errors ``(len(rows), n)`` of the rays ``rows`` at ``steps`` ``(len(rows), n)``."""
        z = z0 + steps[:, :, None].to(z0) * rays[rows, None, :]
        x = problem.generate(z.reshape(-1, problem.latent_dim), batch_size)
        with torch.no_grad():
            return problem.error(x).view(steps.shape).double().cpu()

    every = torch.arange(len(rays))
    steps = max_eta * torch.arange(1, grid + 1, dtype=torch.float64) / grid
    bracket = errors(every, steps.expand(len(rays), grid))
    bad = bracket > tau
    capped = ~bad.any(dim=1)
    first = torch.where(capped, grid, bad.float().argmax(dim=1))  # first infeasible step
    below = (first - 1).clamp_min(0)
    lo = torch.where(first > 0, steps[below], torch.zeros(()))
    lo_error = torch.where(first > 0, bracket.gather(1, below[:, None])[:, 0],
                           torch.full((), e0, dtype=torch.float64))
    hi = torch.where(capped, torch.full((), math.inf, dtype=torch.float64),
                     steps[first.clamp_max(grid - 1)])
    passes = 1
    while ((hi - lo > tol) & ~capped).any():
        active = ((hi - lo > tol) & ~capped).nonzero()[:, 0]
        mid = (lo[active] + hi[active]) / 2
        mid_error = errors(active, mid[:, None])[:, 0]
        passes += 1
        ok = mid_error <= tau
        lo[active[ok]], lo_error[active[ok]] = mid[ok], mid_error[ok]
        hi[active[~ok]] = mid[~ok]
    perceptual, distance = None, problem.perceptual_distance(required=False)
    if distance is not None:
        x = problem.generate(z0 + lo[:, None].to(z0) * rays, batch_size)
        with torch.no_grad():
            perceptual = distance(x, problem.generate(z0)).double().cpu().view(-1, 2)
        passes += 1
    k = D.shape[0]
    return Reach(eta=lo.view(k, 2), outside=hi.view(k, 2), errors=lo_error.view(k, 2),
                 perceptual=perceptual, capped=capped.view(k, 2), tau=tau, max_eta=max_eta,
                 tol=tol, e0=e0, passes=passes)


def walk_reach(
    problem: InverseProblem,
    z0: torch.Tensor,
    directions: torch.Tensor | Sequence[Direction],
    *,
    tau: float | None = None,
    length: float | None = None,
    settings: WalkSettings | None = None,
) -> Reach:
    r"""The reach of the null-space walk (:func:`eglass.walk.null_space_walk`) from each
    direction, both signs: the distance it travels (its ``length``, the latent units of
    :func:`reach`) before its first infeasible point, and the perceptual change from
    :math:`G(z_0)` there. One walk per direction and sign, to ``length`` (default
    :func:`max_reach`); ``settings`` default to holding ``0.9 * tau``. ``outside`` is the
    walk's first infeasible point's length (``inf`` if it stays feasible: ``capped``)."""
    z0, D, tau, e0 = _start("walk_reach", problem, z0, directions, tau)
    length = (max_reach(problem.latent_dim) if length is None
              else check_number("length", length, positive=True))
    settings = WalkSettings() if settings is None else settings
    settings = replace(settings, hold=settings.holding(tau))
    eta, outside, errs, last = [], [], [], []
    for d in D:
        for sign in (-1.0, 1.0):
            path = null_space_walk(problem, z0, d, sign * length, settings=settings)
            stop = last_feasible(path, tau)
            eta.append(path.length[stop].abs().item())
            outside.append(path.length[stop + 1].abs().item()
                           if stop + 1 < len(path.errors) else math.inf)
            errs.append(path.errors[stop].item())
            last.append(path.z[stop])
    k = D.shape[0]
    perceptual, distance = None, problem.perceptual_distance(required=False)
    if distance is not None:
        x = problem.generate(torch.stack(last))
        with torch.no_grad():
            perceptual = distance(x, problem.generate(z0)).double().cpu().view(k, 2)
    capped = torch.tensor(outside).isinf().view(k, 2)
    return Reach(eta=torch.tensor(eta, dtype=torch.float64).view(k, 2),
                 outside=torch.tensor(outside, dtype=torch.float64).view(k, 2),
                 errors=torch.tensor(errs, dtype=torch.float64).view(k, 2),
                 perceptual=perceptual, capped=capped, tau=tau, max_eta=length,
                 tol=length / settings.steps, e0=e0, passes=2 * k * settings.steps)


def last_feasible(path: WalkPath, tau: float) -> int:
    """The index of a walk's last point before its first infeasible one (0: ``z0``)."""
    bad = (path.errors > tau).nonzero()
    return max(int(bad[0]) - 1, 0) if len(bad) else len(path.errors) - 1


def _start(what: str, problem: InverseProblem, z0, directions, tau):
    """The checked ``(z0, directions (k, d), tau, e0)`` of a reach; an infeasible start is
    an error."""
    problem.require_one(what)
    z0 = problem.latent(z0)
    D = _directions(directions, problem.latent_dim).to(z0)
    tau = problem.tau if tau is None else check_number("tau", tau, positive=True)
    e0 = problem.latent_error(z0).item()
    if e0 > tau:
        raise ValueError(f"G(z0) is not feasible at tau={tau:.3g} (its measurement error is "
                         f"{e0:.3g}): a reach is measured from a feasible start; refine z0 "
                         f"or pass a larger tau")
    return z0, D, tau, e0


def _directions(directions, dim: int) -> torch.Tensor:
    """``directions`` as a checked ``(k, dim)`` tensor."""
    if isinstance(directions, Direction):
        directions = [directions]
    if not isinstance(directions, torch.Tensor):
        directions = torch.stack([d.d if isinstance(d, Direction) else d for d in directions])
    D = directions.detach()
    if D.ndim == 1:
        D = D[None]
    if D.ndim != 2 or D.shape[1] != dim or D.shape[0] == 0:
        raise ValueError(f"directions must have shape (k, {dim}) for this generator "
                         f"(latent_dim={dim}), got {format_shape(directions)}")
    if not torch.isfinite(D).all() or (D.norm(dim=1) == 0).any():
        raise ValueError("directions must be finite and non-zero")
    return D
