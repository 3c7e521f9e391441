r"""The e-GLASS pipeline: from measurements to many solutions (chapter 5).

:func:`starting_points` inverts the generator (:func:`eglass.inversion.invert`) and computes
both metrics at each solution (:func:`eglass.geometry.metrics`); :func:`explore` turns the
directions at :math:`z_0` (:mod:`eglass.directions`, or the walk of :mod:`eglass.walk`) into
solutions :math:`G(z_0 + \eta d_K)` with their measurement errors, as one
:class:`eglass.results.Solutions`. Everything that makes e-GLASS solutions -- the timed runs
of :mod:`eglass.comparison`, the explorer widget, the book -- calls these two.

The directions are re-exported here (``explore.eglass_direction`` etc.) for the names of
DESIGN.md.

>>> import torch
>>> from eglass import models, operators
>>> from eglass.distances import default_distance
>>> G = models.load_generator("mnist-dcgan")
>>> A = operators.SuperResolution(8)
>>> x = G(torch.randn(1, 64, generator=torch.Generator().manual_seed(1)))
>>> point = starting_points(G, A, A(x), default_distance(), method="latent", steps=100)[0]
>>> solutions = point.explore(Ks=(4, 8), etas=(-2.0, 2.0))
>>> len(solutions), solutions.K.tolist()
(4, [4, 4, 8, 8])
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import torch

from .directions import (
    DIRECTIONS,
    MAX_ITER,
    REGULARIZATION,
    THRESHOLD,
    Direction,
    _eglass,
    _Pair,
    check_indices,
    directions,
    eglass_direction,
    eigenvector_direction,
    generalized_direction,
)
from .evaluate import TAU
from .geometry import MetricSpectra
from .problem import InverseProblem, accepts_problem
from .results import Solutions, concat, summarize, summary_table
from .utils import stopwatch
from .walk import WalkPath, WalkSettings, null_space_walk, walk_versus_line

__all__ = [
    "METHODS",
    "explore",
    "Sweep",
    "sweep",
    "Faithfulness",
    "faithfulness",
    "StartingPoint",
    "starting_points",
    # re-exported
    "Direction",
    "eglass_direction",
    "eigenvector_direction",
    "generalized_direction",
    "directions",
    "null_space_walk",
    "walk_versus_line",
    "WalkSettings",
    "concat",
    "summarize",
    "summary_table",
]

METHODS = (*DIRECTIONS, "walk")


def _check_etas(etas) -> list[float]:
    if isinstance(etas, (int, float)):
        raise TypeError(f"etas must be a sequence of steps, e.g. etas=({etas},), "
                        f"got the number {etas!r}")
    if isinstance(etas, torch.Tensor) and etas.ndim != 1:
        raise ValueError(f"etas must be one-dimensional, got a tensor of shape "
                         f"{tuple(etas.shape)}")
    values = etas.tolist() if isinstance(etas, torch.Tensor) else list(etas)
    if any(isinstance(e, (list, tuple)) for e in values):
        raise ValueError(f"etas must be a flat sequence of numbers, got {values}")
    values = [float(e) for e in values]
    if not values or not all(math.isfinite(e) for e in values):
        raise ValueError(f"etas must be a non-empty list of finite numbers, got {values}")
    return values


def _walk_latents(problem, z0, dirs, etas, settings, tau) -> tuple[torch.Tensor, list]:
    """Latents of the walk's solutions: one walk per (K, sign of eta) to the largest |eta|,
    read at the step nearest each |eta|."""
    settings = replace(settings, hold=settings.holding(tau))
    rows, paths = [], []
    for dr in dirs:
        row = z0.new_empty(len(etas), problem.latent_dim)
        for sign in (1.0, -1.0):
            picks = [i for i, e in enumerate(etas) if (e > 0 if sign > 0 else e <= 0)]
            reach = max((abs(etas[i]) for i in picks), default=0.0)
            if reach == 0:
                row[picks] = z0[0]
                continue
            path = null_space_walk(problem, z0, dr, sign * reach, settings=settings)
            paths.append(path)
            for i in picks:
                row[i] = path.z[round(abs(etas[i]) / reach * settings.steps)]
        rows.append(row)
    return torch.cat(rows), paths


@accepts_problem("A", "y")
def explore(
    problem: InverseProblem,
    z0: torch.Tensor,
    H_Y: torch.Tensor | MetricSpectra,
    H_X: torch.Tensor | None = None,
    *,
    method: str = "eglass",
    Ks: Sequence[int] = (8,),
    etas: Sequence[float] | torch.Tensor = (-3.0, -1.5, 1.5, 3.0),
    threshold: float = THRESHOLD,
    top: int | None = None,
    regularization: float = REGULARIZATION,
    max_iter: int = MAX_ITER,
    tau: float = TAU,
    back_project: bool = False,
    walk: WalkSettings | None = None,
    batch_size: int = 256,
) -> Solutions:
    r"""Many solutions from one :math:`z_0`: :math:`G(z_0 + \eta\, d_K)` for every K in ``Ks``
    and every :math:`\eta` in ``etas`` (``N = len(Ks) * len(etas)``, K-major order).

    For ``"eigenvector"``, ``"eglass"`` and ``"generalized"`` the ``N`` latents go through
    ``G`` as one batch (chunks of ``batch_size``): ``N`` solutions cost about one batched
    forward pass plus two ``d x d`` eigen-decompositions. For ``"walk"`` each K and each sign
    of :math:`\eta` is one :func:`eglass.walk.null_space_walk` to the largest
    :math:`|\eta|`, read at the step nearest each :math:`|\eta|`.

    Args:
        problem: the :class:`eglass.problem.InverseProblem` of one measurement, on the
            generator :math:`z_0` solves (for IAGAN the fine-tuned one); its distance, if
            any, gives ``perceptual`` and steers the walk. (Older form:
            ``explore(G, A, y, z0, H_Y, H_X, distance=...)``.)
        z0: latent ``(1, d)``; H_Y, H_X: metrics ``(d, d)`` at ``z0``
            (:func:`eglass.geometry.metrics`), or in place of both a
            :class:`eglass.geometry.MetricSpectra` (:func:`eglass.geometry.metric_spectra`;
            on its top-k path ``Ks`` and ``top`` must not exceed its ``k``).
        method: one of :data:`METHODS`.
        Ks: 1-based direction indices (the paper: K, K-1, K-2, ...).
        etas: steps along each direction, in latent units (:math:`\|z_0\| \approx \sqrt d`).
        threshold, top, max_iter: Algorithm 1 (:func:`eglass.directions.eglass_direction`);
            ``top`` is also the walk's measurement-sensitive subspace unless ``walk`` sets it.
        regularization: ``"generalized"`` (:func:`eglass.directions.generalized_direction`).
        tau: feasibility level. back_project: also return :math:`x + A^\dagger(y - Ax)`.
        walk: :class:`eglass.walk.WalkSettings` of each walk (default ``WalkSettings()``,
            holding ``0.9 * tau``).
        batch_size: latents per generator pass.

    Returns:
        :class:`eglass.results.Solutions` with columns ``"eta"`` and ``"K"``;
        ``params["seconds"]`` splits its wall time into ``directions`` (Algorithm 1, or the
        other method's directions) and ``solutions`` (latents, generator passes, errors and
        the distance).
    """
    z0 = problem.require_one("explore").latent(z0)
    dim = problem.latent_dim
    if isinstance(H_Y, MetricSpectra):
        H_Y.check_indices(check_indices(Ks), top)
        H_Y, H_X = H_Y.matrices()
    elif H_X is None:
        raise TypeError("explore needs H_X beside H_Y (or a MetricSpectra in place of both)")
    if H_Y.shape != (dim, dim):
        raise ValueError(f"H_Y must be ({dim},{dim}) for this generator's latent_dim={dim}, "
                         f"got {tuple(H_Y.shape)}")
    if not tau > 0:
        raise ValueError(f"tau must be positive, got {tau}")
    eta_list = _check_etas(etas)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    with stopwatch() as finding:
        dirs = directions(H_Y, H_X, check_indices(Ks), method, threshold=threshold, top=top,
                          regularization=regularization, max_iter=max_iter)
    eta = torch.tensor(eta_list, dtype=z0.dtype, device=z0.device)
    generating = time.perf_counter()
    paths: list[WalkPath] = []
    if method == "walk":
        walk = WalkSettings() if walk is None else walk
        walk = walk if walk.top is not None else replace(walk, top=top)
        z, paths = _walk_latents(problem, z0, dirs, eta_list, walk, tau)
    else:
        D = torch.stack([dr.d.to(z0) for dr in dirs])  # (k, d)
        z = (z0 + eta[None, :, None] * D[:, None, :]).reshape(-1, dim)
    x = problem.generate(z, batch_size)
    reference = problem.generate(z0)
    with torch.no_grad():
        errors = problem.error(x)
        perceptual = None if problem.distance is None else problem.distance(x, reference)
        x_bp = None
        if back_project:
            from .inversion import back_project as _back_project

            x_bp = _back_project(problem.operator, x, problem.y)
    K = torch.tensor([dr.K for dr in dirs], device=z0.device)
    seconds = dict(directions=finding(), solutions=time.perf_counter() - generating)
    return Solutions(
        z=z, x=x, errors=errors, method=method, tau=float(tau),
        params=dict(Ks=[dr.K for dr in dirs], etas=eta_list, threshold=threshold, top=top,
                    regularization=regularization, walk=walk, seconds=seconds),
        columns=dict(eta=eta.repeat(len(dirs)), K=K.repeat_interleave(len(eta_list))),
        perceptual=None if perceptual is None else perceptual.detach(),
        reference=reference, reference_error=problem.error(reference).item(),
        x_bp=x_bp, errors_bp=None if x_bp is None else problem.error(x_bp),
        directions=dirs, paths=paths,
    )


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

    @staticmethod
    def mean(sweeps: Sequence[Sweep]) -> Sweep:
        """The average of sweeps over the same grid (e.g. of several starting points)."""
        first = sweeps[0]
        return Sweep(first.thresholds, first.tops,
                     torch.stack([s.feasible for s in sweeps]).mean(0),
                     torch.stack([s.perceptual for s in sweeps]).mean(0))


@accepts_problem("A", "y")
def sweep(
    problem: InverseProblem,
    z0: torch.Tensor,
    H_Y: torch.Tensor,
    H_X: torch.Tensor,
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

    One eigen-decomposition of each metric and one batched pass of ``G`` and of the
    problem's distance over all ``len(thresholds) * len(tops) * len(Ks) * len(etas)``
    solutions."""
    z0 = problem.require_one("sweep").latent(z0)
    if problem.distance is None:
        raise TypeError("sweep measures perceptual change: give the problem a distance")
    pair = _Pair(H_Y, H_X)
    eta = torch.tensor(_check_etas(etas), dtype=z0.dtype, device=z0.device)
    Ks = check_indices(Ks)
    D = torch.stack([_eglass(pair, K, threshold, top, MAX_ITER).d.to(z0)
                     for threshold in thresholds for top in tops for K in Ks])
    z = (z0 + eta[None, :, None] * D[:, None, :]).reshape(-1, problem.latent_dim)
    x = problem.generate(z, batch_size)
    reference = problem.generate(z0)
    with torch.no_grad():
        errors = problem.error(x).view(len(thresholds), len(tops), -1)
        perceptual = torch.cat([problem.distance(chunk, reference)
                                for chunk in x.split(batch_size)])
    perceptual = perceptual.view(len(thresholds), len(tops), -1)
    ok = errors <= tau
    perc = torch.zeros(len(thresholds), len(tops))
    for i in range(len(thresholds)):
        for j in range(len(tops)):
            if ok[i, j].any():
                perc[i, j] = perceptual[i, j][ok[i, j]].median().item()
    return Sweep(list(thresholds), list(tops), ok.float().mean(dim=2).cpu(), perc)


@dataclass
class Faithfulness:
    r"""How much better Algorithm 1 keeps the measurements than :math:`v^K` alone, at equal
    :math:`\eta` (see :func:`faithfulness`).

    Attributes:
        Ks, etas: the grid (``ratio`` etc. are K-major, ``len(Ks) * len(etas)``).
        ratio: measurement error along :math:`v^K` over that along :math:`d`, per solution.
        linear_share: for :math:`d`, the error the linearization predicts,
            :math:`\eta^2 d^\top H_Y d / (4m)` (``m`` measurement entries), over the error
            measured: near 1, the error is first order and a better orthogonalization could
            lower it; near 0, it is the curvature of :math:`A \circ G` along :math:`d`,
            which no direction chosen from :math:`H_Y` removes.
        median: ``ratio.median()``.
    """

    Ks: list[int]
    etas: list[float]
    ratio: torch.Tensor
    linear_share: torch.Tensor

    @property
    def median(self) -> float:
        return self.ratio.median().item()


@accepts_problem("A", "y")
def faithfulness(
    problem: InverseProblem,
    z0: torch.Tensor,
    H_Y: torch.Tensor,
    H_X: torch.Tensor,
    *,
    Ks: Sequence[int] = range(2, 12),
    etas: Sequence[float] = (-6.0, -4.0, -2.0, 2.0, 4.0, 6.0),
    **algorithm1,
) -> Faithfulness:
    r"""The paper's Figs. 2-3 in one number: solutions :math:`G(z_0 + \eta v^K)` and
    :math:`G(z_0 + \eta d_K)` (Algorithm 1, settings ``algorithm1``: ``threshold``, ``top``)
    for every K and :math:`\eta`, and the ratio of their measurement errors, with the share
    of :math:`d`'s error that is first order (:class:`Faithfulness`).

    >>> import torch
    >>> from eglass import models, operators
    >>> from eglass.geometry import metrics
    >>> from eglass.distances import default_distance
    >>> G, A = models.load_generator(), operators.SuperResolution(8)
    >>> z0 = torch.randn(1, 64, generator=torch.Generator().manual_seed(0))
    >>> problem = InverseProblem(G, A, A(G(z0)), default_distance())
    >>> f = faithfulness(problem, z0, *metrics(problem, z0), Ks=(4, 8), etas=(-1.0, 1.0))
    >>> f.ratio.shape, f.median > 1
    (torch.Size([4]), True)
    """
    bare = problem.with_distance(None)
    v = explore(bare, z0, H_Y, H_X, method="eigenvector", Ks=Ks, etas=etas)
    d = explore(bare, z0, H_Y, H_X, method="eglass", Ks=Ks, etas=etas, **algorithm1)
    quad = torch.tensor([dr.quad_Y for dr in d.directions]).repeat_interleave(len(d.params["etas"]))
    eta = d.eta.cpu().double()
    m = problem.y[0].numel()
    predicted = eta**2 * quad.double() / (4 * m)
    return Faithfulness(Ks=list(d.params["Ks"]), etas=list(d.params["etas"]),
                        ratio=(v.errors / d.errors).cpu(),
                        linear_share=(predicted / d.errors.cpu().double()).float())


@dataclass
class StartingPoint:
    r"""One solution :math:`G(z_0)` to explore from, with its metrics.

    Attributes:
        problem: the :class:`eglass.problem.InverseProblem` of its measurement, on the
            generator of the solution (for IAGAN, the fine-tuned copy), with the distance
            ``H_X`` was built from.
        z0: latent ``(1, d)``; x0: :math:`G(z_0)` ``(1, C, H, W)``.
        H_Y, H_X: metrics ``(d, d)`` at ``z0`` (:mod:`eglass.geometry`).
        seconds: wall time of its parts, ``{"first_solution": ..., "metrics": ...}`` (empty
            when built by hand).
    """

    problem: InverseProblem
    z0: torch.Tensor
    x0: torch.Tensor
    H_Y: torch.Tensor
    H_X: torch.Tensor
    seconds: dict = field(default_factory=dict)

    def explore(self, **kwargs) -> Solutions:
        """:func:`explore` from this point."""
        return explore(self.problem, self.z0, self.H_Y, self.H_X, **kwargs)

    def direction(self, K: int, method: str = "eglass", **kwargs) -> Direction:
        """:func:`eglass.directions.directions` for one K at this point."""
        return directions(self.H_Y, self.H_X, [K], method, **kwargs)[0]

    def sweep(self, **kwargs) -> Sweep:
        """:func:`sweep` at this point."""
        return sweep(self.problem, self.z0, self.H_Y, self.H_X, **kwargs)

    def faithfulness(self, **kwargs) -> Faithfulness:
        """:func:`faithfulness` at this point."""
        return faithfulness(self.problem, self.z0, self.H_Y, self.H_X, **kwargs)


@accepts_problem("A", "y", "distance")
def starting_points(
    problem: InverseProblem,
    *,
    method: str = "iagan",
    seed: int | torch.Generator = 0,
    **invert_options,
) -> list[StartingPoint]:
    """Invert the generator on the problem's ``N`` measurements and compute :math:`H_Y, H_X`
    at each solution (:func:`eglass.geometry.metrics`): ``N`` starting points.

    ``method``: ``"iagan"`` or ``"latent"`` (:func:`eglass.inversion.invert`, one batch), or
    ``"fast"`` (:func:`eglass.inversion.fast_start`: the encoder's guess refined only until
    the error is below ``tol``); ``invert_options`` go to that function. Each point's
    ``seconds`` records where its time went (``first_solution``: the inversion, shared by
    the ``N`` points; ``metrics``: its own).

    Older form: ``starting_points(G, A, y, distance, ...)``."""
    from .geometry import metrics
    from .inversion import fast_start, invert

    invert_options.setdefault("progress", False)
    with stopwatch() as inverting:
        if method == "fast":
            result = fast_start(problem, seed=seed, **invert_options)
        else:
            result = invert(problem, method, seed=seed, **invert_options)
    points = []
    for i in range(len(result)):
        point = result.problem(i)
        z0 = result.z[i : i + 1]
        with stopwatch() as measuring:
            H_Y, H_X = metrics(point, z0)
        points.append(StartingPoint(problem=point, z0=z0, x0=result.x[i : i + 1],
                                    H_Y=H_Y, H_X=H_X,
                                    seconds=dict(first_solution=inverting(),
                                                 metrics=measuring())))
    return points
