r"""Exploration methods as registered plugins: one object per method, one registry.

A :class:`Method` is a name, one display label, a settings dataclass, whether it needs the
metrics :math:`H_Y, H_X`, and a call from a starting point to :class:`eglass.results.Solutions`.
:func:`eglass.explore.explore`, the explorer widget, the batch item and the comparison ask
:func:`get_method` for it; adding a method is one :func:`register_method` call.

Registered here:

============  ===========  ==============================================================
name          label        solutions
============  ===========  ==============================================================
eigenvector   eigenvector  :math:`G(z_0 + \eta v^K)`, the K-th eigenvector of :math:`H_X`
eglass        e-GLASS      Algorithm 1: :math:`v^K` orthogonalized against :math:`H_Y`
generalized   generalized  the generalized eigenproblem :math:`H_X v = \lambda H_Y v`
walk          walk         the null-space walk from the e-GLASS direction
pulse         PULSE        random restarts of spherical inversion (Menon et al. 2020)
langevin      Langevin     latent Langevin samples of :math:`p(z \mid y)`
============  ===========  ==============================================================

A *point* is anything with ``problem``, ``z0``, ``H_Y``, ``H_X`` (an
:class:`eglass.explore.StartingPoint`); the baselines, which restart from scratch, use its
``original`` problem (the generator before any fine-tuning) when it has one.

>>> [m.label for m in list_methods()]
['eigenvector', 'e-GLASS', 'generalized', 'walk', 'PULSE', 'Langevin']
>>> get_method("eglass").needs_metrics, get_method("pulse").needs_metrics
(True, False)
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch

from .baselines import langevin, pulse
from .directions import MAX_ITER, REGULARIZATION, THRESHOLD, Direction, check_indices, directions
from .inversion import back_project as back_projection
from .reach import reach
from .results import Solutions, distance_note
from .settings import Resolved, record, resolve
from .utils import check_number, check_one_of, check_positive_int, stopwatch
from .walk import WalkPath, WalkSettings, null_space_walk

__all__ = [
    "Method",
    "LineSettings",
    "PulseSettings",
    "LangevinSettings",
    "register_method",
    "get_method",
    "list_methods",
    "method_names",
    "label",
    "run",
    "check_etas",
    "walk_index",
    "walk_settings",
]

_METHODS: dict[str, Method] = {}
PLACEMENTS = ("eta", "reach")
PULSE_EPS = 2e-3  # upstream PULSE's stopping criterion, where the noise is not known
LANGEVIN_SIGMA = 0.05  # the likelihood's noise level where the problem does not know its own


def check_etas(etas) -> list[float]:
    """``etas`` as a non-empty list of finite floats, or a clear error."""
    if isinstance(etas, int | float):
        raise TypeError(f"etas must be a sequence of steps, e.g. etas=({etas},), "
                        f"got the number {etas!r}")
    if isinstance(etas, torch.Tensor) and etas.ndim != 1:
        raise ValueError(f"etas must be one-dimensional, got a tensor of shape "
                         f"{tuple(etas.shape)}")
    values = etas.tolist() if isinstance(etas, torch.Tensor) else list(etas)
    if any(isinstance(e, list | tuple) for e in values):
        raise ValueError(f"etas must be a flat sequence of numbers, got {values}")
    values = [float(e) for e in values]
    if not values or not all(math.isfinite(e) for e in values):
        raise ValueError(f"etas must be a non-empty list of finite numbers, got {values}")
    return values


@dataclass(frozen=True)
class LineSettings:
    r"""Settings of the methods that explore from :math:`z_0` along directions.

    Ks: 1-based direction indices; etas: steps along each direction (latent units);
    threshold, top, max_iter: Algorithm 1 (``top`` is also the walk's measurement-sensitive
    subspace unless ``walk`` sets it); regularization: ``"generalized"``; tau: feasibility
    level (``None``: the problem's, :attr:`eglass.problem.InverseProblem.tau` -- from the
    noise where it is known, else :math:`10^{-2}`); back_project: also
    :math:`x + A^\dagger(y - Ax)`; walk: the walk's :class:`eglass.walk.WalkSettings`
    (default: holding ``0.9 * tau``); batch_size: latents per generator pass.
    placement: ``"eta"`` (default): the solutions sit at the steps ``etas``; ``"reach"``:
    ``etas`` are signed fractions in [-1, 1] of each direction's feasible reach at ``tau``
    (:func:`eglass.reach.reach`), so that the solutions are feasible by construction
    (straight-line methods). reach: also measure each direction's reach (columns
    ``"reach"``, the reach on the side of each solution's step, and
    ``"reach_perceptual"``, the perceptual change there); always on with
    ``placement="reach"``.
    """

    Ks: tuple = (8,)
    etas: tuple = (-3.0, -1.5, 1.5, 3.0)
    threshold: float = THRESHOLD
    top: int | None = None
    regularization: float = REGULARIZATION
    max_iter: int = MAX_ITER
    tau: float | None = None
    back_project: bool = False
    walk: WalkSettings | None = None
    batch_size: int = 256
    placement: str = "eta"
    reach: bool = False

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "Ks", tuple(check_indices(self.Ks)))
        set_(self, "etas", tuple(check_etas(self.etas)))
        if self.tau is not None:
            set_(self, "tau", check_number("tau", self.tau, positive=True))
        set_(self, "batch_size", check_positive_int("batch_size", self.batch_size))
        check_one_of("placement", self.placement, PLACEMENTS)
        if self.placement == "reach":
            outside = [e for e in self.etas if not (0 < abs(e) <= 1)]
            if outside:
                raise ValueError(f"with placement='reach', etas are signed fractions of each "
                                 f"direction's feasible reach, in [-1, 0) or (0, 1]; got "
                                 f"{outside} (e.g. etas=(-1, -0.5, 0.5, 1))")

    def at(self, problem) -> LineSettings:
        """These settings with ``tau`` resolved: the problem's level where ``tau`` is
        ``None``."""
        return self if self.tau is not None else replace(self, tau=problem.tau)


@dataclass(frozen=True)
class PulseSettings:
    """:func:`eglass.baselines.pulse`'s settings: ``n`` restarts, upstream's defaults.
    ``eps`` ``None``: upstream's ``2e-3``, or where the problem knows its noise, the level
    the noise sets (:attr:`eglass.problem.InverseProblem.tau`: stop when the fit reaches
    the noise, not below it)."""

    n: int = 10
    eps: float | None = None
    steps: int = 100
    lr: float = 0.4
    seed: int | torch.Generator = 0
    tau: float | None = None


@dataclass(frozen=True)
class LangevinSettings:
    """:func:`eglass.baselines.langevin`'s settings: ``n`` samples. ``sigma`` ``None``:
    the problem's noise where known, else 0.05."""

    n: int = 10
    sigma: float | None = None
    step_size: float | None = None
    burn_in: int = 500
    thin: int = 20
    chains: int = 1
    seed: int | torch.Generator = 0
    tau: float | None = None


@dataclass(frozen=True)
class Method:
    """One exploration method.

    Attributes:
        name: registry key; label: the one display label (tables, figures, reports).
        settings: its settings dataclass; ``settings(**options)`` validates them.
        needs_metrics: whether it explores from :math:`z_0` with :math:`H_Y, H_X`.
        solve: ``(point, settings) -> Solutions``.
        find: for methods along directions, ``(H_Y, H_X, Ks, settings) -> [Direction]``
            (one eigen-decomposition of each metric for all Ks).
        walks: its solutions follow a curved path (the walk) rather than a straight line.
        description: one line.
    """

    name: str
    label: str
    settings: type
    needs_metrics: bool
    solve: Callable
    find: Callable | None = None
    walks: bool = False
    description: str = ""

    def configure(self, **options):
        """Its settings from ``options``, or a ``TypeError`` naming the ones it takes."""
        known = {f.name for f in dataclasses.fields(self.settings)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(f"method {self.name!r} takes the settings {sorted(known)}; got "
                            f"unknown {unknown}")
        return self.settings(**options)

    def resolve(self, problem=None, /, **options) -> Resolved:
        """Its settings for ``problem`` (or a starting point) and the user's ``options``,
        with the source of each (:func:`eglass.settings.resolve`: the method's defaults, then
        the prior's, then what the problem implies, then ``options``)."""
        return resolve(self, problem, **options)

    def directions(self, H_Y: torch.Tensor, H_X: torch.Tensor, Ks: Sequence[int],
                   settings: LineSettings) -> list[Direction]:
        """One :class:`eglass.directions.Direction` per K (methods along directions)."""
        if self.find is None:
            raise TypeError(f"method {self.name!r} does not explore along directions")
        return self.find(H_Y, H_X, check_indices(Ks), settings)


def register_method(method: Method, *, replace: bool = False) -> Method:
    """Register ``method`` under ``method.name`` (twice is an error unless ``replace``)."""
    if not isinstance(method, Method):
        raise TypeError(f"register_method expects a Method, got {type(method).__name__}")
    if method.name in _METHODS and not replace:
        raise ValueError(f"a method named {method.name!r} is already registered")
    _METHODS[method.name] = method
    return method


def get_method(name: str | Method) -> Method:
    """The registered :class:`Method` called ``name``."""
    if isinstance(name, Method):
        return name
    if name not in _METHODS:
        raise ValueError(f"method must be one of {method_names()}, got {name!r}")
    return _METHODS[name]


def list_methods(*, needs_metrics: bool | None = None) -> list[Method]:
    """The registered methods, in registration order (only those that need the metrics,
    or only those that do not, where ``needs_metrics`` says)."""
    return [m for m in _METHODS.values()
            if needs_metrics is None or m.needs_metrics == needs_metrics]


def method_names(*, needs_metrics: bool | None = None) -> tuple[str, ...]:
    """Names of :func:`list_methods`."""
    return tuple(m.name for m in list_methods(needs_metrics=needs_metrics))


def label(name: str) -> str:
    """The display label of a method name (a name that is not registered is returned)."""
    return _METHODS[name].label if name in _METHODS else name


def run(name: str | Method, point, **options) -> Solutions:
    """Run method ``name`` from ``point`` with settings ``options`` over the defaults of the
    method, of the prior and of the problem (:func:`eglass.settings.resolve`); the solutions
    record each setting and its source (``params["sources"]``)."""
    method = get_method(name)
    resolved = method.resolve(point.problem, **options)
    return record(method.solve(point, resolved.settings), resolved)


# --- methods along directions -------------------------------------------------------------

def walk_index(eta: float, reach: float, steps: int) -> int:
    r"""The step of a walk of ``steps`` steps to :math:`|\eta| =` ``reach`` nearest
    :math:`|\eta|` (the walk is read there)."""
    return round(abs(eta) / reach * steps)


def walk_settings(settings: LineSettings) -> WalkSettings:
    """The walk's settings: ``settings.walk`` (default ``WalkSettings()``) holding
    ``0.9 * tau``, with Algorithm 1's ``top`` unless it sets its own."""
    walk = WalkSettings() if settings.walk is None else settings.walk
    walk = walk if walk.top is not None else replace(walk, top=settings.top)
    return replace(walk, hold=walk.holding(settings.tau))


def _walk_latents(problem, z0, dirs, etas, walk: WalkSettings) -> tuple[torch.Tensor, list]:
    """Latents of the walk's solutions: one walk per (K, sign of eta) to the largest |eta|,
    read at the step nearest each |eta|."""
    rows, paths = [], []
    for dr in dirs:
        row = z0.new_empty(len(etas), problem.latent_dim)
        for sign in (1.0, -1.0):
            picks = [i for i, e in enumerate(etas) if (e > 0 if sign > 0 else e <= 0)]
            reach = max((abs(etas[i]) for i in picks), default=0.0)
            if reach == 0:
                row[picks] = z0[0]
                continue
            path = null_space_walk(problem, z0, dr, sign * reach, settings=walk)
            paths.append(path)
            for i in picks:
                row[i] = path.z[walk_index(etas[i], reach, walk.steps)]
        rows.append(row)
    return torch.cat(rows), paths


def _solve_along(method: Method):
    def solve(point, settings: LineSettings) -> Solutions:
        problem, z0 = point.problem, point.z0
        settings = settings.at(problem)
        if method.walks and (settings.placement == "reach" or settings.reach):
            raise ValueError("the walk holds its solutions feasible as it goes: placement="
                             "'reach' and reach=True are for the straight-line methods "
                             "(eglass.reach.walk_reach measures how far a walk stays "
                             "feasible)")
        with stopwatch() as finding:
            dirs = method.directions(point.H_Y, point.H_X, settings.Ks, settings)
        generating = time.perf_counter()
        paths: list[WalkPath] = []
        walk, columns = None, {}
        if method.walks:
            walk = walk_settings(settings)
            z, paths = _walk_latents(problem, z0, dirs, settings.etas, walk)
            eta = torch.tensor(settings.etas, dtype=z0.dtype).repeat(len(dirs))
        else:
            D = torch.stack([dr.d.to(z0) for dr in dirs])  # (k, d)
            eta, columns = _steps(problem, z0, D, settings)
            z = z0 + eta.to(z0)[:, None] * D.repeat_interleave(len(settings.etas), dim=0)
        x = problem.generate(z, settings.batch_size)
        reference = problem.generate(z0)
        with torch.no_grad():
            errors = problem.error(x)
            distance = problem.perceptual_distance(required=False)
            perceptual = None if distance is None else distance(x, reference)
            x_bp = (back_projection(problem.operator, x, problem.y)
                    if settings.back_project else None)
        K = torch.tensor([dr.K for dr in dirs], device=z0.device)
        seconds = dict(directions=finding(), solutions=time.perf_counter() - generating)
        return Solutions(
            z=z, x=x, errors=errors, method=method.name, tau=settings.tau,
            params=dict(Ks=[dr.K for dr in dirs], etas=list(settings.etas),
                        threshold=settings.threshold, top=settings.top,
                        regularization=settings.regularization, walk=walk or settings.walk,
                        placement=settings.placement, seconds=seconds),
            columns=dict(eta=eta.to(z0.device), K=K.repeat_interleave(len(settings.etas)),
                         **columns),
            perceptual=None if perceptual is None else perceptual.detach(),
            reference=reference, reference_error=problem.error(reference).item(),
            x_bp=x_bp, errors_bp=None if x_bp is None else problem.error(x_bp),
            directions=dirs, paths=paths, notes=distance_note(problem, distance),
        )

    return solve


def _steps(problem, z0, D: torch.Tensor, settings: LineSettings) -> tuple[torch.Tensor, dict]:
    """The steps of every solution, K-major ``(k * len(etas),)``, and the reach columns:
    ``etas`` themselves, or (``placement="reach"``) fractions of each direction's reach."""
    etas = torch.tensor(settings.etas, dtype=torch.float64)
    if settings.placement == "eta" and not settings.reach:
        return etas.repeat(len(D)).to(z0.dtype), {}
    found = reach(problem, z0, D, tau=settings.tau, batch_size=settings.batch_size)
    side = (etas > 0).long()  # the reach on the side of each step: column 1 for eta > 0
    columns = dict(reach=found.eta[:, side].flatten())
    if found.perceptual is not None:
        columns["reach_perceptual"] = found.perceptual[:, side].flatten()
    if settings.placement == "reach":
        columns["fraction"] = etas.repeat(len(D))
        return found.signed(settings.etas).flatten().to(z0.dtype), columns
    return etas.repeat(len(D)).to(z0.dtype), columns


def _along(name: str, label_: str, find: Callable, description: str, walks: bool = False):
    method = Method(name, label_, LineSettings, True, solve=lambda p, s: None, find=find,
                    walks=walks, description=description)
    return register_method(replace(method, solve=_solve_along(method)))


def _finder(kind: str) -> Callable:
    """The directions of :func:`eglass.directions.directions` of ``kind`` for all Ks."""

    def find(H_Y, H_X, Ks, s: LineSettings) -> list[Direction]:
        return directions(H_Y, H_X, Ks, kind, threshold=s.threshold, top=s.top,
                          regularization=s.regularization, max_iter=s.max_iter)

    return find


_along("eigenvector", "eigenvector", _finder("eigenvector"), "the K-th eigenvector of H_X")
_along("eglass", "e-GLASS", _finder("eglass"),
       "Algorithm 1: v^K orthogonalized against the top of H_Y")
_along("generalized", "generalized", _finder("generalized"),
       "the K-th generalized eigenvector of (H_X, H_Y + regularization)")
_along("walk", "walk", _finder("eglass"), "the null-space walk from the e-GLASS direction",
       walks=True)


# --- methods that restart from scratch ----------------------------------------------------

def _original(point):
    return getattr(point, "original", None) or point.problem


def _solve_pulse(point, s: PulseSettings) -> Solutions:
    problem = _original(point)
    eps = s.eps if s.eps is not None else problem.tau if problem.noise else PULSE_EPS
    solutions = pulse(problem, s.n, eps=eps, steps=s.steps, lr=s.lr, seed=s.seed,
                      progress=False, warn=False)
    return solutions if s.tau is None else replace(solutions, tau=s.tau)


def _solve_langevin(point, s: LangevinSettings) -> Solutions:
    problem = _original(point)
    sigma = s.sigma if s.sigma is not None else problem.noise or LANGEVIN_SIGMA
    solutions = langevin(problem, s.n, sigma=sigma, step_size=s.step_size,
                         burn_in=s.burn_in, thin=s.thin, chains=s.chains, seed=s.seed,
                         progress=False)
    return replace(solutions, tau=problem.tau if s.tau is None else s.tau)


register_method(Method("pulse", "PULSE", PulseSettings, False, _solve_pulse,
                       description="random restarts of spherical inversion"))
register_method(Method("langevin", "Langevin", LangevinSettings, False, _solve_langevin,
                       description="latent Langevin samples of p(z | y)"))

