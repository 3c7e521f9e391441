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
>>> from eglass.problem import InverseProblem
>>> G = models.load_generator("mnist-dcgan")
>>> A = operators.SuperResolution(8)
>>> x = G(torch.randn(1, 64, generator=torch.Generator().manual_seed(1)))
>>> problem = InverseProblem(G, A, A(x), default_distance())
>>> point = starting_points(problem, method="latent", steps=100)[0]
>>> solutions = point.explore(Ks=(4, 8), etas=(-2.0, 2.0))
>>> len(solutions), solutions.K.tolist()
(4, [4, 4, 8, 8])
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace

import torch

from .directions import (
    MAX_ITER,
    Direction,
    MetricPair,
    check_indices,
    directions,
    eglass_direction,
    eigenvector_direction,
    generalized_direction,
)
from .display import Summarized, shape
from .evaluate import TAU, residual_error
from .geometry import MetricSpectra, metrics
from .inversion import fast_start, invert
from .methods import check_etas, get_method, method_names, walk_settings
from .methods import run as run_method
from .problem import InverseProblem, accepts_problem
from .reach import Reach, reach, walk_reach
from .results import Solutions, concat, summarize
from .settings import record
from .utils import check_one_of, stopwatch
from .walk import WalkSettings, null_space_walk, walk_versus_line

__all__ = [
    "METHODS",
    "INVERSIONS",
    "explore",
    "Sweep",
    "sweep",
    "Faithfulness",
    "faithfulness",
    "reach",
    "walk_reach",
    "Reach",
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
]


# The registered methods that explore from z0 (eglass.methods.method_names for the current list).
METHODS = method_names(needs_metrics=True)


@accepts_problem("A", "y")
def explore(
    problem: InverseProblem,
    z0: torch.Tensor,
    H_Y: torch.Tensor | MetricSpectra,
    H_X: torch.Tensor | None = None,
    *,
    method: str = "eglass",
    **settings,
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
            on its top-k path ``Ks`` and ``top`` must not exceed its ``k``, directions come
            from the eigenpairs alone, :meth:`eglass.directions.MetricPair.from_spectra`,
            and ``"generalized"`` is refused: it needs the full metrics).
        method: a method of :mod:`eglass.methods` that explores from :math:`z_0` (one of
            :data:`METHODS`: ``"eigenvector"``, ``"eglass"``, ``"generalized"``, ``"walk"``).
        settings: its :class:`eglass.methods.LineSettings`: ``Ks`` (1-based direction
            indices, default ``(8,)``), ``etas`` (steps in latent units, default
            ``(-3, -1.5, 1.5, 3)``; :math:`\|z_0\| \approx \sqrt d`), ``threshold``,
            ``top``, ``max_iter`` (Algorithm 1, :func:`eglass.directions.eglass_direction`;
            ``top`` is also the walk's measurement-sensitive subspace unless ``walk`` sets
            it), ``regularization`` (``"generalized"``), ``tau`` (feasibility level),
            ``back_project`` (also return :math:`x + A^\dagger(y - Ax)`), ``walk``
            (:class:`eglass.walk.WalkSettings` of each walk, default holding ``0.9 * tau``),
            ``batch_size`` (latents per generator pass), ``placement`` (``"reach"``: ``etas``
            are signed fractions in [-1, 1] of each direction's feasible reach,
            :func:`eglass.reach.reach`, so every solution is feasible by construction) and
            ``reach`` (also measure the reach: columns ``"reach"`` and
            ``"reach_perceptual"``). Settings not given are resolved
            (:func:`eglass.settings.resolve`): the method's defaults, then the prior's (e.g.
            ``top`` and ``etas`` of ``"faces-dcgan64"``), then the problem's ``tau``
            (:attr:`eglass.problem.InverseProblem.tau`: from the noise where it is known).

    Returns:
        :class:`eglass.results.Solutions` with columns ``"eta"`` and ``"K"``;
        ``params["sources"]`` says where each setting came from
        (:func:`eglass.settings.record`);
        ``params["seconds"]`` splits its wall time into ``directions`` (Algorithm 1, or the
        other method's directions) and ``solutions`` (latents, generator passes, errors and
        the distance).
    """
    chosen = get_method(method)
    if not chosen.needs_metrics:
        raise ValueError(f"method must be one of {method_names(needs_metrics=True)} (explore "
                         f"starts from z0 and its metrics); {method!r} restarts from "
                         f"scratch: call eglass.methods.run({method!r}, point) instead")
    resolved = chosen.resolve(problem, **settings)
    options = resolved.settings
    z0 = problem.require_one("explore").latent(z0)
    dim = problem.latent_dim
    if isinstance(H_Y, MetricSpectra):
        if H_X is not None:
            raise TypeError("explore takes either H_Y and H_X, or a MetricSpectra in place of "
                            "both; got a MetricSpectra and an H_X")
        H_Y.check_indices(list(options.Ks), options.top)
        if H_Y.method == "top-k":  # Algorithm 1 in O(d k), no (d, d) matrix
            point = SimpleNamespace(problem=problem, z0=z0, x0=None,
                                    H_Y=MetricPair.from_spectra(H_Y), H_X=None)
            return record(chosen.solve(point, options), resolved)
        H_Y, H_X = H_Y.matrices()
    elif H_X is None:
        raise TypeError("explore needs H_X beside H_Y (or a MetricSpectra in place of both)")
    for name, H in (("H_Y", H_Y), ("H_X", H_X)):
        if not isinstance(H, torch.Tensor) or H.shape != (dim, dim):
            got = tuple(H.shape) if isinstance(H, torch.Tensor) else type(H).__name__
            raise ValueError(f"{name} must be ({dim},{dim}) for this generator's "
                             f"latent_dim={dim}, got {got}")
    point = StartingPoint(problem=problem, z0=z0, x0=None, H_Y=H_Y, H_X=H_X)
    return record(chosen.solve(point, options), resolved)


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
    distance = problem.perceptual_distance()  # sweep measures perceptual change
    pair = MetricPair(H_Y, H_X)
    eta = torch.tensor(check_etas(etas), dtype=z0.dtype, device=z0.device)
    Ks = check_indices(Ks)
    D = torch.stack([pair.eglass(K, threshold, top, MAX_ITER).d.to(z0)
                     for threshold in thresholds for top in tops for K in Ks])
    z = (z0 + eta[None, :, None] * D[:, None, :]).reshape(-1, problem.latent_dim)
    x = problem.generate(z, batch_size)
    reference = problem.generate(z0)
    with torch.no_grad():
        errors = problem.error(x).view(len(thresholds), len(tops), -1)
        perceptual = torch.cat([distance(chunk, reference)
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
    r"""How much the measurements change along :math:`v^K` and along Algorithm 1's :math:`d`,
    as curves over :math:`\eta` (see :func:`faithfulness`).

    The change a step causes is measured against the start, :math:`A G(z_0)`, not against
    ``y``: :math:`c(\eta) = e(A G(z_0 + \eta d), A G(z_0)) =
    \operatorname{mean}(((A G(z_0 + \eta d) - A G(z_0))/2)^2)`. The error against ``y``
    mixes in the start's own residual :math:`e_0`, which no direction changes and which
    dominates at small steps (its ratio tends to 1 as :math:`\eta \to 0` whatever the
    direction).

    Attributes:
        Ks, etas: the grid; every array below is ``(len(Ks), len(etas))``.
        change_v, change_d: the measurement change along :math:`v^K` and along :math:`d`.
        predicted_v, predicted_d: the first-order prediction
            :math:`\eta^2\, d^\top H_Y d / (4m)` of each (``m`` measurement entries).
        error_v, error_d: the measurement errors against ``y`` of the same solutions.
        e0: the measurement error of :math:`G(z_0)` against ``y``.
    """

    Ks: list[int]
    etas: list[float]
    change_v: torch.Tensor
    change_d: torch.Tensor
    predicted_v: torch.Tensor
    predicted_d: torch.Tensor
    error_v: torch.Tensor
    error_d: torch.Tensor
    e0: float

    @property
    def ratio(self) -> torch.Tensor:
        r"""The change along :math:`v^K` over that along :math:`d`, per solution, K-major
        ``(len(Ks) * len(etas),)``."""
        return (self.change_v / self.change_d).flatten()

    @property
    def linear_share(self) -> torch.Tensor:
        r"""For :math:`d`: the first-order prediction over the change measured, K-major. Near
        1 the change is first order; far from 1 the curvature of :math:`A \circ G` along
        :math:`d` has taken over (no direction chosen from :math:`H_Y` removes it)."""
        return (self.predicted_d / self.change_d).flatten()

    @property
    def median(self) -> float:
        """``ratio.median()``."""
        return self.ratio.median().item()

    @staticmethod
    def pool(items: Sequence[Faithfulness]) -> Faithfulness:
        """Several measurements on the same ``etas`` (e.g. one per starting point) as one:
        their rows stacked, ``e0`` their median."""
        first = items[0]
        if any(f.etas != first.etas for f in items):
            raise ValueError("pool needs faithfulness measured on the same etas")
        stacked = {name: torch.cat([getattr(f, name) for f in items])
                   for name in ("change_v", "change_d", "predicted_v", "predicted_d",
                                "error_v", "error_d")}
        return Faithfulness(Ks=[K for f in items for K in f.Ks], etas=first.etas,
                            e0=torch.tensor([f.e0 for f in items]).median().item(), **stacked)

    def curves(self) -> dict[str, torch.Tensor]:
        r"""Medians over K at each :math:`|\eta|` (both signs pooled), sorted by
        :math:`|\eta|`: ``{"eta", "change_v", "change_d", "predicted_v", "predicted_d",
        "ratio"}`` (what :func:`eglass.figures.faithfulness_figure` draws)."""
        eta = torch.tensor(self.etas, dtype=torch.float64).abs()
        steps = eta.unique()
        out = {"eta": steps}
        for name in ("change_v", "change_d", "predicted_v", "predicted_d"):
            values = getattr(self, name)
            out[name] = torch.stack([values[:, eta == s].median() for s in steps])
        ratio = self.change_v / self.change_d
        out["ratio"] = torch.stack([ratio[:, eta == s].median() for s in steps])
        return out


@accepts_problem("A", "y")
def faithfulness(
    problem: InverseProblem,
    z0: torch.Tensor,
    H_Y: torch.Tensor,
    H_X: torch.Tensor,
    *,
    Ks: Sequence[int] = range(2, 12),
    etas: Sequence[float] = (-6.0, -3.0, -1.0, -0.25, 0.25, 1.0, 3.0, 6.0),
    **algorithm1,
) -> Faithfulness:
    r"""The paper's Figs. 2-3 as curves: solutions :math:`G(z_0 + \eta v^K)` and
    :math:`G(z_0 + \eta d_K)` (Algorithm 1, settings ``algorithm1``: ``threshold``, ``top``)
    for every K and :math:`\eta`, the measurement change each step causes (against
    :math:`A G(z_0)`), its first-order prediction, and the errors against ``y``
    (:class:`Faithfulness`). One batched generator pass over both sets of solutions.

    >>> import torch
    >>> from eglass import models, operators
    >>> from eglass.geometry import metrics
    >>> from eglass.distances import default_distance
    >>> G, A = models.load_generator(), operators.SuperResolution(8)
    >>> z0 = torch.randn(1, 64, generator=torch.Generator().manual_seed(0))
    >>> problem = InverseProblem(G, A, A(G(z0)), default_distance())
    >>> f = faithfulness(problem, z0, *metrics(problem, z0), Ks=(4, 8), etas=(-1.0, 1.0))
    >>> f.change_d.shape, f.median > 1
    (torch.Size([2, 2]), True)
    """
    z0 = problem.require_one("faithfulness").latent(z0)
    pair = MetricPair(H_Y, H_X)
    Ks = check_indices(Ks)
    eta = torch.tensor(check_etas(etas), dtype=torch.float64)
    algorithm1 = get_method("eglass").resolve(problem, **algorithm1).settings
    found = {"v": [pair.eigenvector(K) for K in Ks],
             "d": [pair.eglass(K, algorithm1.threshold, algorithm1.top, algorithm1.max_iter)
                   for K in Ks]}
    D = torch.stack([dr.d for dr in found["v"] + found["d"]]).to(z0)  # (2k, dim)
    z = z0 + eta.to(z0)[None, :, None] * D[:, None, :]
    with torch.no_grad():
        measured = problem.A(problem.generate(z.reshape(-1, problem.latent_dim)))
        start = problem.A(problem.generate(z0))
        change = residual_error(measured - start).double().view(2, len(Ks), len(eta)).cpu()
        error = residual_error(measured - problem.y).double().view(2, len(Ks), len(eta)).cpu()
        e0 = residual_error(start - problem.y).item()
    m = problem.y[0].numel()
    quad = torch.tensor([[dr.quad_Y for dr in found[w]] for w in ("v", "d")],
                        dtype=torch.float64)
    # a quadratic form of a semi-definite matrix: a negative value is round-off
    predicted = eta[None, None, :] ** 2 * quad.clamp_min(0)[:, :, None] / (4 * m)
    return Faithfulness(Ks=list(Ks), etas=eta.tolist(), change_v=change[0], change_d=change[1],
                        predicted_v=predicted[0], predicted_d=predicted[1], error_v=error[0],
                        error_d=error[1], e0=e0)


@dataclass(repr=False)
class StartingPoint(Summarized):
    r"""One solution :math:`G(z_0)` to explore from, with its metrics (``print(point)``: a
    paragraph of its facts; a notebook: a table).

    Attributes:
        problem: the :class:`eglass.problem.InverseProblem` of its measurement, on the
            generator of the solution (for IAGAN, the fine-tuned copy), with the distance
            ``H_X`` was built from.
        z0: latent ``(1, d)``; x0: :math:`G(z_0)` ``(1, C, H, W)``.
        H_Y, H_X: metrics ``(d, d)`` at ``z0`` (:mod:`eglass.geometry`).
        seconds: wall time of its parts, ``{"first_solution": ..., "metrics": ...}`` (empty
            when built by hand).
        original: the problem on the generator before any fine-tuning (what the baselines,
            which restart from scratch, run on); ``None``: ``problem`` itself.
    """

    problem: InverseProblem
    z0: torch.Tensor
    x0: torch.Tensor | None
    H_Y: torch.Tensor
    H_X: torch.Tensor
    seconds: dict = field(default_factory=dict)
    original: InverseProblem | None = None

    def summary_rows(self) -> list[tuple[str, str]]:
        """The facts ``repr`` and the notebook table show (:class:`eglass.display.Summarized`)."""
        rows = [("problem", repr(self.problem)), ("z0", shape(self.z0)), ("x0", shape(self.x0))]
        if self.x0 is not None and self.problem.y is not None:
            with torch.no_grad():
                error = self.problem.error(self.x0).max().item()
            rows.append(("G(z0) error", f"{error:.2e} (feasible at tau={TAU:g}: "
                                        f"{'yes' if error <= TAU else 'no'})"))
        for name, H in (("H_Y", self.H_Y), ("H_X", self.H_X)):
            rows.append((name, f"{shape(H)}, trace {H.diagonal().sum().item():.3g}"))
        if self.original is not None and self.original.generator is not self.problem.generator:
            rows.append(("generator", "fine-tuned copy (the baselines run on the original)"))
        if self.seconds:
            rows.append(("time", ", ".join(f"{k} {v:.2f} s" for k, v in self.seconds.items())))
        return rows

    def explore(self, **kwargs) -> Solutions:
        """:func:`explore` from this point."""
        return explore(self.problem, self.z0, self.H_Y, self.H_X, **kwargs)

    def run(self, method: str, **settings) -> Solutions:
        """Any registered method from this point (:func:`eglass.methods.run`)."""
        return run_method(method, self, **settings)

    def direction(self, K: int, method: str = "eglass", **kwargs) -> Direction:
        """:func:`eglass.directions.directions` for one K at this point."""
        chosen = get_method(method)
        settings = chosen.resolve(self.problem, **kwargs).settings
        return chosen.directions(self.H_Y, self.H_X, [K], settings)[0]

    def sweep(self, **kwargs) -> Sweep:
        """:func:`sweep` at this point."""
        return sweep(self.problem, self.z0, self.H_Y, self.H_X, **kwargs)

    def faithfulness(self, **kwargs) -> Faithfulness:
        """:func:`faithfulness` at this point."""
        return faithfulness(self.problem, self.z0, self.H_Y, self.H_X, **kwargs)

    def reach(self, Ks: Sequence[int] | None = None, method: str = "eglass", **kwargs
              ) -> Reach:
        """The feasible reach (:func:`eglass.reach.reach`; for ``"walk"``,
        :func:`eglass.reach.walk_reach`) of ``method``'s direction for each K; ``kwargs``
        are the method's settings (``top``, ``threshold``, ...) and the reach's (``tau``,
        ``max_eta``); those not given, ``Ks`` included, are resolved
        (:func:`eglass.settings.resolve`)."""
        tau, max_eta = kwargs.pop("tau", None), kwargs.pop("max_eta", None)
        chosen = get_method(method)
        settings = chosen.resolve(self.problem, Ks=Ks, tau=tau, **kwargs).settings
        dirs = chosen.directions(self.H_Y, self.H_X, settings.Ks, settings)
        if chosen.walks:
            return walk_reach(self.problem, self.z0, dirs, tau=settings.tau, length=max_eta,
                              settings=walk_settings(settings))
        return reach(self.problem, self.z0, dirs, tau=settings.tau, max_eta=max_eta)


# The first solution: each inversion by name (the fast start finds the prior's encoder).
INVERSIONS = {"iagan": invert, "latent": invert, "fast": fast_start}


@accepts_problem("A", "y", "distance")
def starting_points(
    problem: InverseProblem,
    *,
    method: str = "iagan",
    seed: int | torch.Generator = 0,
    max_memory: int | None = None,
    **invert_options,
) -> list[StartingPoint]:
    """Invert the generator on the problem's ``N`` measurements and compute :math:`H_Y, H_X`
    at each solution (:func:`eglass.geometry.metrics`): ``N`` starting points. The one
    place that wires first solution -> metrics: the batch item, the comparison and the
    book call it.

    ``method``: ``"iagan"`` or ``"latent"`` (:func:`eglass.inversion.invert`, one batch), or
    ``"fast"`` (:func:`eglass.inversion.fast_start`: the prior's encoder's guess -- a
    Gaussian draw for a prior without one -- refined only until the error is below
    ``tol``); ``invert_options`` go to that function (``noise_sigma`` defaults to the
    problem's ``noise``). ``max_memory`` (bytes) bounds the
    metrics (:func:`eglass.geometry.plan_metrics`). Each point's ``seconds`` records where
    its time went (``first_solution``: the inversion, shared by the ``N`` points;
    ``metrics``: its own).

    Older form: ``starting_points(G, A, y, distance, ...)``."""
    inverting_with = INVERSIONS[check_one_of("method", method, tuple(INVERSIONS))]
    allowed = sorted(set(inspect.signature(inverting_with).parameters) - {"problem", "seed",
                                                                          "method"})
    unknown = sorted(set(invert_options) - set(allowed))
    if unknown:
        what = "the fast start" if method == "fast" else f"the {method!r} inversion"
        raise ValueError(f"{what} takes {allowed}, got {unknown[0]!r}"
                         + ("; for the full inversion pass method='iagan'"
                            if method == "fast" else ""))
    invert_options.setdefault("progress", False)
    if problem.noise is not None:  # stop the fit at the level the noise sets
        invert_options.setdefault("noise_sigma", problem.noise)
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
            H_Y, H_X = metrics(point, z0, max_memory=max_memory)
        points.append(StartingPoint(problem=point, z0=z0, x0=result.x[i : i + 1],
                                    H_Y=H_Y, H_X=H_X,
                                    seconds=dict(first_solution=inverting(),
                                                 metrics=measuring()),
                                    original=problem.measurement(i)))
    return points
