r"""Timed runs to ``n`` feasible solutions: e-GLASS against PULSE and Langevin (chapter 6).

Each method makes candidates in rounds until ``n`` of them have measurement error
:math:`\le \tau`; every candidate records when its round finished (the ``"ready_at"``
column of :class:`eglass.results.Solutions`), so :meth:`~eglass.results.Solutions.time_to`
answers "how long to k feasible solutions" for any ``k`` and :math:`\tau`. e-GLASS runs the
pipeline of :mod:`eglass.explore` (inversion, both metrics, Algorithm 1); PULSE and Langevin
are those of :mod:`eglass.baselines`.

>>> from eglass import data, models, operators
>>> from eglass.problem import InverseProblem
>>> digits, _ = data.mnist("test")
>>> A = operators.SuperResolution(8)
>>> problem = InverseProblem(models.load_generator("mnist-dcgan"), A, A(digits[:1]))
>>> run = run_pulse(problem, n=2, batch=4, max_candidates=8)
>>> run.method, len(run) <= 8, run.columns["ready_at"].shape == (len(run),)
('pulse', True, True)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import torch

from .baselines import langevin, pulse
from .explore import explore as explore_from
from .explore import starting_points
from .methods import label
from .problem import InverseProblem, accepts_problem
from .results import Solutions, concat
from .tables import benchmark_table, diversity_table, solutions_table  # noqa: F401 (moved)
from .utils import check_positive_int, make_generator

__all__ = [
    "EGLASS_START",
    "EGLASS_INVERSION",
    "EXTRA_STARTS",
    "run_pulse",
    "run_langevin",
    "run_eglass",
    "compare",
    "solutions_table",
    "benchmark_table",
    "diversity_table",
]

# e-GLASS's first solution in the comparisons: the encoder's guess refined until the error is
# below 3e-4 (eglass.inversion.fast_start) -- a few tens of latent steps on SR x8.
EGLASS_START = dict(method="fast")

# The extra first solutions of run_eglass(starts > 1): Gaussian starts, the latent fit alone
# (no fine-tuning, no fall-back to the full inversion); a start that ends infeasible is dropped.
EXTRA_STARTS = dict(encoder=False, steps=60, tol=1e-3, finetune_steps=1, fallback=False)

# The full inversion it replaced (``inversion=EGLASS_INVERSION``): IAGAN with 4 starts x 200
# latent steps, then 100 joint fine-tuning steps -- about 900 latent-step equivalents, i.e.
# the budget of nine PULSE restarts (100 steps each).
EGLASS_INVERSION = dict(method="iagan", restarts=4, steps=200, finetune_steps=100)


def _check_count(n: int, max_candidates: int | None = None) -> None:
    check_positive_int("n", n)
    if max_candidates is not None:
        check_positive_int("max_candidates", max_candidates)


def collect(
    method: str,
    rounds: Iterator[Solutions],
    n: int,
    tau: float,
    params: dict,
    setup: Callable[[], None] = lambda: None,
) -> Solutions:
    """Run ``setup``, then the ``rounds`` (each a :class:`Solutions`) until ``n`` candidates
    have error ``<= tau`` or the rounds end; time everything. Returns the candidates pooled
    (new objects: the rounds are left as they are), with a ``"ready_at"`` column (seconds
    from the start to the end of each one's round) and ``params["rounds"]``, the params of
    each round that ran. ``method`` is a name of :mod:`eglass.methods`."""
    start = time.perf_counter()
    setup()
    setup_seconds = time.perf_counter() - start
    parts, found = [], 0
    for part in rounds:
        now = time.perf_counter() - start
        ready = torch.full((len(part),), now, dtype=torch.float64)
        parts.append(replace(part, columns={**part.columns, "ready_at": ready}, tau=tau,
                             method=method))
        found += int(parts[-1].feasible().sum())
        if found >= n:
            break
    if not parts:
        raise RuntimeError(f"{label(method)}: no round ran (check max_candidates)")
    return replace(concat(parts), params={**params, "rounds": [p.params for p in parts]},
                   setup_seconds=setup_seconds, seconds=time.perf_counter() - start,
                   directions=[], paths=[])


@accepts_problem("A", "y")
def run_pulse(
    problem: InverseProblem,
    *,
    n: int,
    tau: float | None = None,
    batch: int = 20,
    max_candidates: int = 200,
    eps: float | None = None,
    seed: int | torch.Generator = 0,
    **pulse_options,
) -> Solutions:
    r"""PULSE restarts in batches of ``batch`` until ``n`` have error :math:`\le \tau`
    (or ``max_candidates`` restarts ran). ``tau`` ``None``: the problem's (from the noise
    where it is known). ``eps`` defaults to :math:`\min(2\cdot10^{-3},\tau)`: upstream's
    criterion, tightened when :math:`\tau` is stricter; where the problem knows its noise,
    to :math:`\tau` itself (the discrepancy principle: a fit below the noise level is
    fitting the noise). One ``torch.Generator``
    feeds all batches, so no restart repeats. ``params["failures"]`` counts the restarts
    that never reached ``eps``."""
    _check_count(n, max_candidates)
    tau = problem.tau if tau is None else tau
    if eps is None:  # where the noise is known, stop at the level it sets (not below it)
        eps = tau if problem.noise else min(2e-3, tau)
    gen = make_generator(seed, problem.y.device)
    failures = []

    def rounds():
        done = 0
        while done < max_candidates:
            size = min(batch, max_candidates - done)
            r = pulse(problem, size, eps=eps, seed=gen, progress=False, warn=False,
                      **pulse_options)
            failures.append(int((~r.feasible()).sum()))
            done += size
            yield r

    params = dict(eps=eps, batch=batch, max_candidates=max_candidates,
                  steps=pulse_options.get("steps", 100), lr=pulse_options.get("lr", 0.4))
    run = collect("pulse", rounds(), n, tau, params)
    run.params["failures"] = sum(failures)
    return run


@accepts_problem("A", "y")
def run_langevin(
    problem: InverseProblem,
    *,
    n: int,
    tau: float | None = None,
    sigma: float | None = None,
    step_size: float | None = None,
    chains: int = 10,
    burn_in: int = 300,
    thin: int = 10,
    per_round: int = 20,
    max_candidates: int = 200,
    seed: int | torch.Generator = 0,
) -> Solutions:
    r"""Latent Langevin chains (:func:`eglass.baselines.langevin`) continued round after
    round, ``per_round`` samples a round (``burn_in`` only before the first), until ``n``
    samples have error :math:`\le \tau` (``None``: the problem's) or ``max_candidates``
    were drawn. Default noise level: the problem's where known, else
    :math:`\sigma = 0.03` (expected error :math:`\sigma^2/4 \approx 2\cdot10^{-4}`, below both
    thresholds); default step size from the curvature at the starts."""
    _check_count(n, max_candidates)
    tau = problem.tau if tau is None else tau
    sigma = (problem.noise or 0.03) if sigma is None else sigma
    if per_round % chains:
        raise ValueError(f"per_round ({per_round}) must be a multiple of chains ({chains})")
    gen = make_generator(seed, problem.y.device)
    used = {}

    def rounds():
        state, done, h = None, 0, step_size
        while done < max_candidates:
            r = langevin(problem, per_round, sigma=sigma, step_size=h,
                         burn_in=burn_in if state is None else 0, thin=thin, chains=chains,
                         init=state, seed=gen, progress=False)
            state = r.z[-chains:]  # the chains' current states
            h = used["step_size"] = r.params["step_size"]  # keep the first round's step size
            done += per_round
            yield r

    params = dict(sigma=sigma, chains=chains, burn_in=burn_in, thin=thin,
                  max_candidates=max_candidates)
    run = collect("langevin", rounds(), n, tau, params)
    run.params["step_size"] = used["step_size"]
    return run


@accepts_problem("A", "y", "distance")
def run_eglass(
    problem: InverseProblem,
    *,
    n: int,
    tau: float | None = None,
    Ks=range(2, 42),
    etas=(-6.0, -4.0, -2.0, 2.0, 4.0, 6.0),
    ks_per_round: int = 10,
    spread: bool = True,
    starts: int = 1,
    inversion: dict | None = None,
    explore: dict | None = None,
    seed: int | torch.Generator = 0,
) -> Solutions:
    r"""e-GLASS end to end (:func:`eglass.explore.starting_points`: the first solution -- by
    default the fast start of :func:`eglass.inversion.fast_start` -- and both metrics at
    :math:`z_0`, on the fine-tuned generator where IAGAN fine-tuning ran), then Algorithm 1
    solutions
    :math:`G(z_0 + \eta d_K)` (:func:`eglass.explore.explore`), ``ks_per_round`` directions a
    round, until ``n`` have error :math:`\le \tau`. The setup time (inversion + metrics) is
    part of every time-to-k. Default steps :math:`|\eta| \le 6` (with
    :math:`\|z_0\| \approx 8`): on held-out digits nearly all SR x8 candidates stay below
    :math:`\tau = 10^{-2}` while the images change visibly; :math:`|\eta| \le 3` is more
    feasible but about 3x less diverse. ``inversion`` overrides keys of
    :data:`EGLASS_START` (``inversion=EGLASS_INVERSION``: the full IAGAN inversion instead),
    ``explore`` passes settings (``threshold``, ``top``) to :func:`eglass.explore.explore`.
    ``spread``: order each round's candidates by decreasing :math:`|\eta|`, then K (both
    signs of a direction side by side, measured the more diverse of the two orders), so that
    the first feasible ones come from different directions at the largest steps (``False``:
    K-major, all steps of one direction first). ``starts``: explore from that many first
    solutions -- the fast start's, and ``starts - 1`` more from Gaussian draws
    (:data:`EXTRA_STARTS`: the latent fit alone, one batch; those that end infeasible are
    dropped), each with its own metrics -- taking each
    round's candidates from the starts in turn, so that the first ones cover every start
    (the fast start only).
    ``params["seconds"]`` says where the time went: ``first_solution``, ``metrics``,
    ``directions`` (Algorithm 1) and ``solutions`` (generator passes and errors), the last two
    summed over the rounds that ran. ``context`` holds the starting point
    (:class:`eglass.explore.StartingPoint`) for further exploration."""
    _check_count(n)
    tau = problem.tau if tau is None else tau
    inversion = dict(inversion or {})
    defaults = EGLASS_START if inversion.get("method", "fast") == "fast" else EGLASS_INVERSION
    inversion = {**defaults, **inversion}
    starts = check_positive_int("starts", starts)
    if starts > 1 and inversion["method"] != "fast":
        raise ValueError("starts > 1 takes its extra first solutions from the fast start; "
                         f"got inversion method {inversion['method']!r}")
    state = {}

    def setup():
        state["points"] = starting_points(problem, seed=seed, back_project=False, **inversion)
        if starts > 1:  # more first solutions: Gaussian draws, latent fit only (one batch)
            copies = problem.measurements([0] * (starts - 1))
            extra = starting_points(copies, seed=seed, back_project=False,
                                    **{**inversion, **EXTRA_STARTS})
            state["points"] += [p for p in extra if p.problem.error(p.x0).item() <= tau]

    Ks = list(Ks)

    def rounds():
        for i in range(0, len(Ks), ks_per_round):
            parts = []
            for point in state["points"]:
                bare = point.problem.with_distance(None)  # no perceptual scores in the timing
                part = explore_from(bare, point.z0, point.H_Y, point.H_X, method="eglass",
                                    Ks=Ks[i : i + ks_per_round], etas=etas, tau=tau,
                                    **(explore or {}))
                if spread:  # stable sort: by decreasing |eta|, K order within each step size
                    part = part.select(torch.argsort(-part.eta.abs(), stable=True))
                parts.append(part)
            yield _in_turn(parts)

    params = dict(inversion=inversion, Ks=[Ks[0], Ks[-1]], etas=list(etas))
    run = collect("eglass", rounds(), n, tau, params, setup)
    point = state["points"][0]
    run.params["inversion_error"] = point.problem.error(point.x0).item()
    run.params["starts"] = starts
    first = run.params["rounds"][0] if run.params.get("rounds") else {}
    for key in ("resolved", "sources"):  # explore's resolution (e.g. the prior's top)
        if key in first:
            run.params[key] = first[key]
    ran = [part["seconds"] for part in run.params["rounds"]]
    points = state["points"]  # the extra starts share one inversion (the second point's)
    run.params["seconds"] = {
        "first_solution": sum(p.seconds["first_solution"] for p in points[:2]),
        "metrics": sum(p.seconds["metrics"] for p in points),
        **{key: sum(r[key] for r in ran) for key in ("directions", "solutions")}}
    return replace(run, context=dict(point=point, points=state["points"]))


def _in_turn(parts: list[Solutions]) -> Solutions:
    """The candidates of several starting points, one from each in turn (a ``"start"``
    column says whose)."""
    if len(parts) == 1:
        return parts[0]
    order = torch.cat([torch.arange(len(p), dtype=torch.float64) for p in parts])
    start = torch.cat([torch.full((len(p),), j) for j, p in enumerate(parts)])
    pooled = concat([replace(p, columns={**p.columns, "start": start[start == j]})
                     for j, p in enumerate(parts)])
    seconds = {key: sum(p.params["seconds"][key] for p in parts)
               for key in ("directions", "solutions")}
    pooled = replace(pooled, params={**parts[0].params, "seconds": seconds})
    return pooled.select(torch.argsort(order * len(parts) + start, stable=True))


@accepts_problem("A", "y", "distance")
def compare(
    problem: InverseProblem,
    *,
    n: int = 10,
    tau: float | None = None,
    max_candidates: int = 100,
    seed: int = 0,
) -> dict[str, Solutions]:
    """e-GLASS, PULSE and Langevin on the same measurements, each until ``n`` feasible
    solutions (or ``max_candidates`` for the two baselines), in that order, same process.
    ``tau`` ``None``: the problem's (:attr:`eglass.problem.InverseProblem.tau`, from the
    noise where it is known; then PULSE stops at it and Langevin's likelihood uses the
    noise)."""
    runs = (run_eglass(problem, n=n, tau=tau, seed=seed),
            run_pulse(problem, n=n, tau=tau, max_candidates=max_candidates, seed=seed),
            run_langevin(problem, n=n, tau=tau, max_candidates=max_candidates, seed=seed))
    return {label(run.method): run for run in runs}
