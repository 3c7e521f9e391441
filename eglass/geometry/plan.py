r"""The memory plan of the metrics: dense (one pass), exact blocks, or matrix-free top-``k``,
chosen from an estimate of the bytes each path needs (:func:`plan_metrics`)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..memory import available_memory, saved_bytes
from ..problem import InverseProblem
from ..utils import check_positive_int
from .jacobian import check_chunk

__all__ = ["MIN_BLOCK", "MEMORY_FRACTION", "MetricPlan", "plan_metrics", "plan_chunk"]

MIN_BLOCK = 8
"""Smallest block of latent directions for which :func:`metric_spectra` keeps the exact
metrics: below it the exact path runs nearly one direction at a time, and ``d`` sequential
jvp + vjp pairs cost more than Lanczos's few times ``k`` Hessian-vector products."""

MEMORY_FRACTION = 0.5
"""Share of the free memory (:func:`eglass.memory.available_memory`) a plan uses when no
``max_memory`` is given."""


@dataclass
class MetricPlan:
    r"""How the metrics will be computed, and the memory estimate behind the choice.

    Attributes:
        method: ``"dense"`` (one pass, holds the ``d``-column Jacobians), ``"blocks"`` (exact,
            ``chunk_size`` directions at a time) or ``"top-k"`` (matrix-free Lanczos).
        chunk_size: directions per block (``"blocks"``; ``d`` for dense, 1 for top-k).
        max_memory: the cap in bytes the plan was made for.
        estimate: bytes the chosen path is expected to need at its peak.
        per_direction: bytes each latent direction of a block adds (its tangent image,
            measurement and features, forward and backward, and the layers' tangents).
        saved: bytes of the saved activations one backward pass of each map keeps.
        reason: one sentence saying why this method was chosen.
    """

    method: str
    chunk_size: int
    max_memory: int
    estimate: int
    per_direction: int
    saved: int
    reason: str


def _numel(fn, x) -> int:
    with torch.no_grad():
        return fn(x).numel()


def plan_metrics(
    problem: InverseProblem,
    z0: torch.Tensor,
    *,
    max_memory: int | None = None,
    k: int | None = None,
    measurement: bool = True,
    perceptual: bool = True,
) -> MetricPlan:
    r"""Choose how to compute the metrics at ``z0`` within ``max_memory`` bytes.

    The estimate: a backward pass of ``G``, ``A`` and the features keeps ``saved`` bytes
    (:func:`eglass.memory.saved_bytes`, measured on one pass); each latent direction of a
    block adds its tangent image, measurement and features twice (forward and back) plus, for
    the layers' own tangents, as much again as one pass saves. Then:

    - ``"dense"`` if all ``d`` directions fit at once (``d * per_direction``);
    - else ``"blocks"`` of the largest size that fits beside ``saved``, if that is at least
      :data:`MIN_BLOCK` (or ``k`` is not given: the exact metrics were asked for);
    - else ``"top-k"`` (one direction at a time, Lanczos), when ``k`` is given.

    ``MemoryError`` (naming the bytes needed) when not even one direction fits; a
    ``ValueError`` when neither metric is asked for (nothing to plan).
    ``max_memory`` defaults to :data:`MEMORY_FRACTION` of the free memory of ``z0``'s device.
    """
    if not (measurement or perceptual):
        raise ValueError(f"plan_metrics needs at least one metric to plan for (measurement=True "
                         f"and/or perceptual=True), got measurement={measurement!r} and "
                         f"perceptual={perceptual!r}")
    if k is not None:
        k = check_positive_int("k", k)
    z0 = problem.latent(z0)
    if max_memory is None:
        max_memory = int(MEMORY_FRACTION * available_memory(z0.device))
    max_memory = check_positive_int("max_memory (bytes)", max_memory)
    d = z0.shape[1]
    item = z0.element_size()
    x0 = problem.generate(z0)
    saved = saved_bytes(problem.generator, z0)
    outputs = x0.numel()
    maps = ([problem.A] if measurement else []) + (
        [problem.feature_map] if perceptual else [])
    for fn in maps:
        saved += saved_bytes(fn, x0)
        outputs += _numel(fn, x0)
    per_direction = 2 * item * outputs + saved
    dense = d * (item * outputs + saved) + d * d * item * len(maps)
    fits = (max_memory - saved - 2 * d * d * item) // per_direction
    need = f"{saved + per_direction:,} bytes"
    if dense <= max_memory:
        return MetricPlan("dense", d, max_memory, dense, per_direction, saved,
                          f"all {d} directions fit in one pass ({dense:,} of {max_memory:,} "
                          "bytes)")
    if fits >= min(MIN_BLOCK, d) or (k is None and fits >= 1):
        chunk = int(min(fits, d))
        estimate = saved + chunk * per_direction + 2 * d * d * item
        return MetricPlan("blocks", chunk, max_memory, estimate, per_direction, saved,
                          f"the one-pass Jacobians need {dense:,} bytes, over the cap of "
                          f"{max_memory:,}: exact metrics in blocks of {chunk} directions")
    if k is not None and fits >= 1:
        estimate = saved + per_direction + 4 * k * d * 8
        return MetricPlan("top-k", 1, max_memory, estimate, per_direction, saved,
                          f"only {fits} direction(s) fit beside the {saved:,} saved bytes "
                          f"(cap {max_memory:,}): the top {k} eigenpairs by Lanczos instead")
    raise MemoryError(f"the metrics at this size need at least {need} (one direction beside "
                      f"the saved activations), but max_memory={max_memory:,}")


def plan_chunk(problem: InverseProblem, z0: torch.Tensor, chunk_size: int | None,
               max_memory: int | None, *, measurement: bool, perceptual: bool) -> int | None:
    """The block size for the exact metrics: ``chunk_size`` as given, or planned from
    ``max_memory``; ``None`` means one pass over all ``d`` directions (dense).
    ``MemoryError`` where the plan falls back to top-``k``."""
    chunk_size = check_chunk(chunk_size)
    if max_memory is None or chunk_size is not None:
        return chunk_size
    plan = plan_metrics(problem, z0, max_memory=max_memory, measurement=measurement,
                        perceptual=perceptual)
    if plan.method == "top-k":
        raise MemoryError(plan.reason)
    return None if plan.method == "dense" else plan.chunk_size

