r"""One result type for a set of solutions, whatever made them, and one summary of it.

e-GLASS (:func:`eglass.explore.explore`), the walk, PULSE (:func:`eglass.baselines.pulse`),
Langevin (:func:`eglass.baselines.langevin`) and the timed runs of
:mod:`eglass.comparison` all return :class:`Solutions`: latents, images, their measurement
errors, the method and its parameters. Feasibility is asked one way,
:meth:`Solutions.feasible`, at any threshold :math:`\tau`.

>>> import torch
>>> s = Solutions(z=None, x=torch.zeros(3, 1, 4, 4), errors=torch.tensor([1e-4, 2e-2, 5e-3]),
...               method="demo")
>>> s.feasible().tolist(), s.feasible(1e-3).tolist()
([True, False, True], [True, False, False])
>>> len(s.first(2)), s.best(1).errors.tolist()
(2, [9.999999747378752e-05])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import torch

from .display import Summarized, brief, settings_text, shape, span
from .evaluate import TAU, TAU_STRICT, diversity
from .utils import check_positive_int

__all__ = ["Solutions", "concat", "summarize", "distance_note", "sources_text"]


@dataclass(repr=False)
class Solutions(Summarized):
    r"""``N`` candidate solutions of one inverse problem.

    ``print(solutions)`` gives a paragraph (count, shapes, error range, feasible share,
    method and settings) and a notebook shows it as a table (:mod:`eglass.display`).

    Attributes:
        z: latents ``(N, d)`` (``None`` for a method that makes images only).
        x: images ``(N, C, H, W)`` in [-1, 1].
        errors: measurement error of each image ``(N,)``
            (:func:`eglass.evaluate.measurement_error`).
        method: the name of the method that made them in :mod:`eglass.methods`
            (``"eglass"``, ``"walk"``, ``"pulse"``, ``"langevin"``, ...); its display label is
            ``eglass.methods.label(method)``.
        params: the settings used (for reports); where a method ran through
            :func:`eglass.methods.run` or :func:`eglass.explore.explore`, also
            ``"resolved"`` (every setting of the method) and ``"sources"`` (where each came
            from: ``"method"``, ``"prior NAME"``, ``"problem"`` or ``"user"``,
            :mod:`eglass.settings`); the summary shows the ones not the method's.
        tau: the feasibility level the solutions were made for (:meth:`feasible`'s default).
        columns: further per-solution values, each ``(N,)`` or ``(N, ...)``: ``"eta"`` and
            ``"K"`` (e-GLASS), ``"steps_used"`` and ``"start"`` (PULSE), ``"chain"`` and
            ``"step"`` (Langevin), ``"ready_at"`` (seconds from the start of a timed run).
        perceptual: distance of each to the reference ``G(z0)`` ``(N,)``, or ``None``.
        reference: ``G(z0)`` ``(1, C, H, W)`` the solutions were explored from, or ``None``;
            reference_error: its measurement error.
        x_bp, errors_bp: back-projected images :math:`x + A^\dagger(y - Ax)` and their errors.
        directions: the :class:`eglass.directions.Direction` of each K used.
        paths: the :class:`eglass.walk.WalkPath` of each walk.
        seconds: wall time of the whole call; setup_seconds: of what came before the first
            solution (e-GLASS: inversion and metrics).
        context: what a method computed on the way (e-GLASS: the problem, ``z0``, ``H_Y``,
            ``H_X``), for further exploration.
        notes: what the reader of the results should know, one line a key, shown by the
            summary: ``"distance"``, which perceptual distance gave ``perceptual`` when the
            problem was given none (:func:`distance_note`).
    """

    z: torch.Tensor | None
    x: torch.Tensor
    errors: torch.Tensor
    method: str
    params: dict = field(default_factory=dict)
    tau: float = TAU
    columns: dict[str, torch.Tensor] = field(default_factory=dict)
    perceptual: torch.Tensor | None = None
    reference: torch.Tensor | None = None
    reference_error: float | None = None
    x_bp: torch.Tensor | None = None
    errors_bp: torch.Tensor | None = None
    directions: list = field(default_factory=list)
    paths: list = field(default_factory=list)
    seconds: float = math.nan
    setup_seconds: float = 0.0
    context: dict = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        n = self.x.shape[0]
        sizes = {"errors": self.errors, "z": self.z}
        wrong = {k: tuple(v.shape) for k, v in sizes.items()
                 if isinstance(v, torch.Tensor) and (v.ndim == 0 or v.shape[0] != n)}
        if wrong:
            raise ValueError(f"Solutions needs one row per image: x has {n} images, but "
                             + ", ".join(f"{k} has shape {s}" for k, s in wrong.items()))

    def __len__(self) -> int:
        return self.x.shape[0]

    def summary_rows(self) -> list[tuple[str, str]]:
        """The facts ``repr`` and the notebook table show (:class:`eglass.display.Summarized`)."""
        n = len(self)
        rows = [("method", self.method), ("solutions", str(n)), ("x", shape(self.x)),
                ("z", shape(self.z))]
        if n:
            rows.append(("measurement error", span(*self.error_range())))
            rows.append(("feasible", f"{int(self.feasible().sum())} of {n} at tau={self.tau:g}, "
                                     f"{int(self.feasible(TAU_STRICT).sum())} at {TAU_STRICT:g}"))
            if self.perceptual is not None:
                rows.append(("perceptual change",
                             f"median {self.perceptual.median().item():.3g}"))
            if self.columns:
                rows.append(("columns", ", ".join(_column(k, v) for k, v in self.columns.items())))
        if self.reference_error is not None:
            rows.append(("G(z0) error", f"{self.reference_error:.2e}"))
        if self.params:
            rows.append(("settings", settings_text(self.params,
                                                   skip=("seconds", "sources", "resolved"))))
        chosen = sources_text(self.params)
        if chosen:
            rows.append(("settings from", chosen))
        rows.extend(self.notes.items())
        if self.directions or self.paths:
            rows.append(("kept", f"{len(self.directions)} directions, {len(self.paths)} paths"))
        if not math.isnan(self.seconds):
            rows.append(("time", f"{self.seconds:.2f} s" + (
                f" (+ {self.setup_seconds:.2f} s before the first)" if self.setup_seconds
                else "")))
        return rows

    @property
    def eta(self) -> torch.Tensor | None:
        """The step :math:`\\eta` of each solution (e-GLASS and the walk), or ``None``."""
        return self.columns.get("eta")

    @property
    def K(self) -> torch.Tensor | None:
        """The 1-based direction index of each solution (e-GLASS and the walk), or ``None``."""
        return self.columns.get("K")

    def feasible(self, tau: float | None = None) -> torch.Tensor:
        """Boolean ``(N,)``: ``errors <= tau`` (default: :attr:`tau`)."""
        tau = self.tau if tau is None else tau
        if not tau > 0:
            raise ValueError(f"tau must be positive, got {tau}")
        return self.errors <= tau

    def feasible_fraction(self, tau: float | None = None) -> float:
        """Share of the solutions with error ``<= tau`` (default: :attr:`tau`)."""
        return self.feasible(tau).float().mean().item()

    def error_range(self) -> tuple[float, float]:
        """``(min, max)`` measurement error (the paper's figure captions)."""
        return self.errors.min().item(), self.errors.max().item()

    def select(self, index: torch.Tensor) -> Solutions:
        """The solutions at ``index`` (indices or a boolean mask ``(N,)``), in that order."""
        def pick(t):
            return None if t is None else t[index.to(t.device)]

        return replace(
            self, z=pick(self.z), x=pick(self.x), errors=pick(self.errors),
            perceptual=pick(self.perceptual), x_bp=pick(self.x_bp),
            errors_bp=pick(self.errors_bp),
            columns={k: pick(v) for k, v in self.columns.items()},
        )

    def first(self, k: int, tau: float | None = None) -> Solutions:
        """The first ``k`` feasible solutions (fewer if fewer exist)."""
        k = check_positive_int("k", k, minimum=0)
        return self.select(self.feasible(tau).nonzero().flatten()[:k])

    def best(self, k: int) -> Solutions:
        """The ``k`` solutions with the lowest errors, feasible or not."""
        return self.select(self.errors.argsort()[:k])

    def time_to(self, k: int, tau: float | None = None) -> float | None:
        """Seconds until ``k`` feasible solutions existed in a timed run (the
        ``"ready_at"`` column); ``None`` if it never got there."""
        ready = self.columns.get("ready_at")
        if ready is None:
            raise ValueError(f"the {self.method} solutions carry no 'ready_at' times; "
                             "time_to needs a timed run (eglass.comparison)")
        index = self.feasible(tau).nonzero().flatten()[:k]
        return float(ready[index[-1]]) if index.numel() == k else None


def sources_text(params: dict) -> str:
    """``"top=24 (prior faces-dcgan64), tau=0.01 (problem)"``: the settings recorded in
    ``params["sources"]`` that are not the method's defaults (:func:`eglass.settings.record`)."""
    sources, values = params.get("sources") or {}, params.get("resolved") or {}
    return ", ".join(f"{name}={brief(values.get(name))} ({source})"
                     for name, source in sources.items() if source != "method")


def _column(name: str, values: torch.Tensor) -> str:
    """``"K 4, 6, 8"`` (few distinct values) or ``"eta -3 to 3"`` of a per-solution column."""
    if values.ndim != 1 or not values.numel() or values.is_complex():
        return f"{name} {shape(values)}"
    distinct = values.unique()
    if len(distinct) <= 4:
        return f"{name} {{" + ", ".join(brief(v) for v in distinct.tolist()) + "}"
    return f"{name} {span(values.min().item(), values.max().item(), '.3g')}"


def distance_note(problem, distance) -> dict[str, str]:
    """``{"distance": ...}`` for :attr:`Solutions.notes` where ``problem`` (an
    :class:`eglass.problem.InverseProblem`) was given no distance and its default was chosen
    (``distance``, what :meth:`~eglass.problem.InverseProblem.perceptual_distance` gave, or
    ``None`` where there was none); ``{}`` where the distance was given (or ``False``)."""
    if problem.distance is not None:
        return {}
    choice = problem.distance_choice
    if distance is not None:
        return {"distance": str(choice)}
    why = choice.reason if not choice.available else f"{choice.name} could not be loaded"
    return {"distance": f"none, so no perceptual change ({why}; pass distance=)"}


def concat(solutions: Sequence[Solutions]) -> Solutions:
    """Pool sets of solutions (e.g. of several starting points) into one; ``reference`` and
    ``reference_error`` are the first one's, ``directions`` and ``paths`` are joined."""
    if not solutions:
        raise ValueError("concat needs at least one Solutions")
    first = solutions[0]
    if any(s.tau != first.tau for s in solutions):
        raise ValueError(f"the solutions use different tau: {[s.tau for s in solutions]}")

    def cat(parts):
        return None if any(p is None for p in parts) else torch.cat(parts)

    names = set.intersection(*(set(s.columns) for s in solutions))
    methods = sorted({s.method for s in solutions})
    return replace(
        first,
        z=cat([s.z for s in solutions]), x=cat([s.x for s in solutions]),
        errors=cat([s.errors for s in solutions]),
        perceptual=cat([s.perceptual for s in solutions]),
        x_bp=cat([s.x_bp for s in solutions]), errors_bp=cat([s.errors_bp for s in solutions]),
        columns={k: torch.cat([s.columns[k] for s in solutions]) for k in sorted(names)},
        method=methods[0] if len(methods) == 1 else "+".join(methods),
        directions=[d for s in solutions for d in s.directions],
        paths=[p for s in solutions for p in s.paths],
        seconds=sum(s.seconds for s in solutions),
    )


def summarize(
    solutions: Sequence[Solutions], distance=None, classifier: torch.nn.Module | None = None
) -> dict:
    """One summary row over sets of solutions from several starting points.

    Pooled over all solutions: ``feasible`` fraction (at the solutions' ``tau``) and
    ``feasible_strict`` (at :data:`eglass.evaluate.TAU_STRICT`), ``error_min``/``error_max``,
    the median ``perceptual`` change to each point's ``G(z0)``. Averaged over the points
    (solutions of different points are different problems): ``pairwise``, the mean pairwise
    perceptual distance among each point's feasible solutions, and ``classes``, the number
    of distinct digits the classifier sees among them (:func:`eglass.evaluate.diversity`;
    needs ``distance``; a point with fewer than two feasible solutions counts 0 pairwise).
    """
    pooled = concat(solutions)
    lo, hi = pooled.error_range()
    row = dict(method=pooled.method, n=len(pooled), feasible=pooled.feasible_fraction(),
               feasible_strict=pooled.feasible_fraction(TAU_STRICT),
               error_min=lo, error_max=hi,
               perceptual=(math.nan if pooled.perceptual is None
                           else pooled.perceptual.median().item()))
    if distance is not None:
        divs = [diversity(s.x, distance, classifier, mask=s.feasible()) for s in solutions]
        row["pairwise"] = sum(0.0 if math.isnan(d.mean_distance) else d.mean_distance
                              for d in divs) / len(divs)
        if classifier is not None:
            row["classes"] = sum(d.classes for d in divs) / len(divs)
    return row
