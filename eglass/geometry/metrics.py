r"""Latent metric Hessians, their spectra, and the coupling between them (paper, Sec. 3).

For a generator :math:`G` and a linear operator :math:`A`, with :math:`\phi = A \circ G`,

.. math::
    H_Y(z_0) = \tfrac12 \partial_z^2 \lVert \phi(z) - \phi(z_0) \rVert^2 \big|_{z_0}
             = J_\phi^\top J_\phi ,
    \qquad
    H_X(z_0) = \tfrac12 \partial_z^2\, d_X(G(z), G(z_0)) \big|_{z_0} = J_F^\top J_F ,

where :math:`F(z)` is the scaled feature vector of :math:`G(z)` (:mod:`eglass.distances`): the
distance is a sum of squared feature differences and vanishes at :math:`z_0`, so the
Gauss--Newton form is the exact Hessian (Wang & Ponce 2021). Both Jacobians come from one
helper, :func:`jacobian` (``torch.func.vmap`` over ``torch.func.jvp``, one tangent per latent
dimension -- or over ``vjp`` when there are fewer outputs than latent dimensions -- chunked to
bound memory). For latents too large for a dense Hessian,
:func:`top_eigs` runs Lanczos (``scipy.sparse.linalg.eigsh``) on Hessian-vector products
:math:`J^\top (J v)`.

Memory: the plain call holds the whole Jacobian (``d`` tangent images at once). With
``chunk_size`` the exact metrics are built that many latent directions at a time,
:math:`H_{:,B} = J^\top (J E_B)` (a block of jvps, then a block of vjps), and never hold a full
Jacobian; with ``max_memory`` (bytes) the block is chosen from an estimate
(:func:`plan_metrics`). :func:`metric_spectra` goes one step further and picks, by the same
estimate, between the exact metrics and the matrix-free top-``k`` eigenpairs that Algorithm 1
needs, and records which in its result. Everything runs on the device of ``z0`` and the
generator (CPU or CUDA).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, eigsh
from torch import nn

from .memory import available_memory, saved_bytes
from .problem import InverseProblem, accepts_problem
from .utils import check_finite, make_generator

__all__ = [
    "jacobian",
    "pushforward",
    "measurement_metric",
    "metrics",
    "perceptual_metric",
    "chunked_gram",
    "MetricPlan",
    "plan_metrics",
    "MetricSpectra",
    "metric_spectra",
    "eigh_desc",
    "MetricHVP",
    "measurement_hvp",
    "perceptual_hvp",
    "top_eigs",
    "Anisotropy",
    "anisotropy",
    "trace_fraction",
    "coupling",
    "Homogeneity",
    "homogeneity",
    "reference_hessian",
    "images_along",
]


# --------------------------------------------------------------------------- dense metrics


def jacobian(
    fn: Callable[[torch.Tensor], torch.Tensor],
    z: torch.Tensor,
    chunk_size: int | None = None,
) -> torch.Tensor:
    r"""Jacobian :math:`J = \partial \operatorname{vec} f / \partial z` with ``torch.func``.

    With :math:`P` outputs and :math:`d` latent dimensions: if :math:`d \le P` (the usual
    case: images, features) ``vmap`` over ``jvp`` pushes the :math:`d` unit tangents forward
    (one column each); if :math:`P < d` (few measurements, e.g. strong super-resolution)
    ``vmap`` over ``vjp`` pulls the :math:`P` unit cotangents back (one row each). ``chunk_size``
    vectors at a time (``None``: all at once; smaller bounds memory).

    Args:
        fn: a function of one latent ``(1, d)`` returning any tensor (``P`` entries in all).
        z: the latent ``(1, d)``.

    Returns:
        ``(P, d)`` tensor in the dtype of ``fn``'s output.
    """
    if z.ndim != 2 or z.shape[0] != 1:
        raise ValueError(f"z must have shape (1,d), got {tuple(z.shape)}")
    _check_chunk(chunk_size)
    d = z.shape[1]
    with torch.no_grad():
        out_shape = fn(z).shape
    P = math.prod(out_shape)
    if P < d:  # reverse mode: one vector-Jacobian product per output entry
        _, pullback = torch.func.vjp(fn, z)
        cotangents = torch.eye(P, dtype=z.dtype, device=z.device).view(P, *out_shape)
        rows = torch.func.vmap(lambda u: pullback(u)[0], chunk_size=chunk_size)(cotangents)
        return rows.reshape(P, d).detach()
    tangents = torch.eye(d, dtype=z.dtype, device=z.device).unsqueeze(1)  # (d, 1, d)
    return pushforward(fn, z, tangents, chunk_size).reshape(d, -1).T


def pushforward(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    tangents: torch.Tensor,
    chunk_size: int | None = None,
) -> torch.Tensor:
    r"""Jacobian-vector products :math:`J_f(x)\, v_k` for a batch of tangents, forward mode.

    Args:
        fn: a function of ``x`` returning any tensor.
        x: the point, any shape.
        tangents: ``(k, *x.shape)``, one tangent per row.
        chunk_size: tangents per vectorized pass (``None``: all at once).

    Returns:
        ``(k, *fn(x).shape)``.
    """
    if tangents.shape[1:] != x.shape:
        raise ValueError(
            f"tangents must have shape (k,{','.join(map(str, x.shape))}), "
            f"got {tuple(tangents.shape)}"
        )

    def column(v: torch.Tensor) -> torch.Tensor:
        return _jvp(fn, x, v)

    with torch.no_grad():
        return torch.func.vmap(column, chunk_size=chunk_size)(tangents)


def _jvp(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, v: torch.Tensor
) -> torch.Tensor:
    """``torch.func.jvp(fn, (x,), (v,))[1]``, without the deprecation warning torch raises the
    first time it compiles its own forward-mode rules (``torch.jit.script`` inside
    ``torch._decomp``): nothing a caller could act on, and it filled a stderr block in the
    book's chapters."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated", FutureWarning)
        return torch.func.jvp(fn, (x,), (v,))[1]


def _gram(J: torch.Tensor) -> torch.Tensor:
    H = J.T @ J
    return (H + H.T) / 2


def _check_chunk(chunk_size) -> None:
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1
    ):
        raise ValueError(f"chunk_size must be a positive int or None, got {chunk_size!r}")


def chunked_gram(
    fn: Callable[[torch.Tensor], torch.Tensor],
    z: torch.Tensor,
    chunk_size: int = 8,
) -> torch.Tensor:
    r"""Exact :math:`H = J^\top J` of ``fn`` at ``z``, built ``chunk_size`` columns at a time.

    Column block :math:`B`: :math:`H_{:,B} = J^\top (J E_B)`, a vmapped chunk of jvps then a
    vmapped chunk of vjps, so peak memory is :math:`O(P \cdot \text{chunk\_size})` plus one
    backward pass's saved activations, never the full ``(P, d)`` Jacobian.

    Args:
        fn: a function of one latent ``(1, d)`` returning any tensor.
        z: the latent ``(1, d)``.
        chunk_size: columns per block (positive int).

    Returns:
        ``(d, d)`` symmetric tensor.

    >>> f = lambda z: torch.cat([z, 2 * z], dim=1)
    >>> chunked_gram(f, torch.zeros(1, 3), chunk_size=2).diagonal().tolist()
    [5.0, 5.0, 5.0]
    """
    if z.ndim != 2 or z.shape[0] != 1:
        raise ValueError(f"z must have shape (1,d), got {tuple(z.shape)}")
    if chunk_size is None:
        raise ValueError("chunk_size must be a positive int, got None")
    _check_chunk(chunk_size)
    return _block_grams(_identity, [fn], z, chunk_size)[0]


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _block_grams(
    inner: Callable, outers: Sequence[Callable], z: torch.Tensor, chunk_size: int
) -> list[torch.Tensor]:
    r"""Exact Grams :math:`J_k^\top J_k` of every :math:`f_k = \text{outer}_k \circ
    \text{inner}`, ``chunk_size`` latent directions at a time (:class:`_Blocks`)."""
    blocks = _Blocks(inner, outers, z)
    columns = [blocks(start, start + chunk_size) for start in range(0, blocks.d, chunk_size)]
    grams = []
    for cols in zip(*columns, strict=True):
        H = torch.cat(cols).T
        grams.append((H + H.T) / 2)
    return grams


class _Blocks:
    r"""Column blocks :math:`J_k^\top J_k E_B` of the Grams of :math:`\text{outer}_k \circ
    \text{inner}` at ``z``.

    The block of unit tangents goes through ``inner`` once (forward mode) and then through
    each outer map; each block of outputs comes back through that map's vjp and ``inner``'s
    vjp (closures built once). Peak memory: the saved activations of one backward pass of each
    map, plus the block's tangents of ``inner``'s and each outer map's output.
    """

    def __init__(self, inner: Callable, outers: Sequence[Callable], z: torch.Tensor):
        self.inner, self.outers, self.z, self.d = inner, list(outers), z, z.shape[1]
        x, self.pull_inner = torch.func.vjp(inner, z)
        self.x = x.detach()
        self.pulls = [torch.func.vjp(outer, self.x)[1] for outer in self.outers]

    def __call__(self, start: int, stop: int) -> list[torch.Tensor]:
        """``(stop - start, d)`` rows of each Gram: directions ``start ... stop - 1``."""
        eye = torch.eye(self.d, dtype=self.z.dtype, device=self.z.device)
        tangents = eye[start:stop].unsqueeze(1)  # (b, 1, d)
        inner_tangents = pushforward(self.inner, self.z, tangents)  # (b, *x.shape)
        rows = []
        for outer, pull in zip(self.outers, self.pulls, strict=True):
            outputs = pushforward(outer, self.x, inner_tangents)  # (b, *out)
            back = torch.func.vmap(lambda u, pull=pull: self.pull_inner(pull(u)[0])[0])(outputs)
            rows.append(back.reshape(-1, self.d).detach())
            del outputs, back
        return rows


def _chunk_for(problem: InverseProblem, z0, chunk_size, max_memory, *, measurement, perceptual):
    """The block size for the exact metrics: ``chunk_size`` as given, or planned from
    ``max_memory``; ``None`` means one pass over all ``d`` directions (dense)."""
    _check_chunk(chunk_size)
    if max_memory is None or chunk_size is not None:
        return chunk_size
    plan = plan_metrics(problem, z0, max_memory=max_memory, measurement=measurement,
                        perceptual=perceptual)
    if plan.method == "top-k":
        raise MemoryError(plan.reason)
    return None if plan.method == "dense" else plan.chunk_size


@accepts_problem("A")
def measurement_metric(
    problem: InverseProblem,
    z0: torch.Tensor,
    *,
    chunk_size: int | None = None,
    max_memory: int | None = None,
) -> torch.Tensor:
    r"""The measurement metric :math:`H_Y(z_0) = J_\phi^\top J_\phi`, :math:`\phi = A \circ G`.

    Args:
        problem: an :class:`eglass.problem.InverseProblem` (its ``y`` is not needed), or
            the older form ``measurement_metric(G, A, z0)``.
        z0: the latent, ``(d,)`` or ``(1, d)``, same dtype as ``G``.
        chunk_size: build the metric this many latent directions at a time
            (:func:`chunked_gram`: memory bounded by the block, never a full Jacobian).
            ``None``: all ``d`` in one vectorized pass (fastest for small problems).
        max_memory: bytes; choose ``chunk_size`` from a memory estimate
            (:func:`plan_metrics`). ``MemoryError`` if not even one direction fits.

    Returns:
        ``(d, d)`` symmetric PSD matrix in the dtype of ``z0``.

    >>> import torch
    >>> from eglass import models, operators
    >>> G = models.load_generator("mnist-dcgan")
    >>> H_Y = measurement_metric(G, operators.SuperResolution(8), torch.zeros(1, 64))
    >>> lam = torch.linalg.eigvalsh(H_Y.double())  # ascending; rank <= 16 measurements
    >>> H_Y.shape, bool(lam[:-16].abs().max() < 1e-4 * lam[-1])
    (torch.Size([64, 64]), True)
    """
    z0 = problem.latent(z0)
    chunk = _chunk_for(problem, z0, chunk_size, max_memory, measurement=True, perceptual=False)
    if chunk is None:
        return _gram(jacobian(problem.measure, z0))
    return _block_grams(problem.generator, [problem._operator], z0, chunk)[0]


@accepts_problem("distance")
def perceptual_metric(
    problem: InverseProblem,
    z0: torch.Tensor,
    *,
    chunk_size: int | None = None,
    max_memory: int | None = None,
) -> torch.Tensor:
    r"""The perceptual metric :math:`H_X(z_0) = J_F^\top J_F` (exact Hessian of
    :math:`\tfrac12 d_X(G(z), G(z_0))` at :math:`z_0`).

    Args:
        problem: an :class:`eglass.problem.InverseProblem` with a distance (an
            :class:`eglass.distances.Distance`), or the older form
            ``perceptual_metric(G, distance, z0)``.
        z0: the latent :math:`z_0`, ``(d,)`` or ``(1, d)``.
        chunk_size, max_memory: as in :func:`measurement_metric`.

    Returns:
        ``(d, d)`` symmetric PSD matrix in the dtype of ``z0``.

    >>> import torch
    >>> from eglass import models
    >>> from eglass.distances import default_distance
    >>> G = models.load_generator("mnist-dcgan")
    >>> H_X = perceptual_metric(G, default_distance(), torch.zeros(1, 64))
    >>> bool(torch.allclose(H_X, H_X.T)), bool(torch.linalg.eigvalsh(H_X).min() > -1e-4)
    (True, True)
    """
    z0 = problem.latent(z0)
    chunk = _chunk_for(problem, z0, chunk_size, max_memory, measurement=False, perceptual=True)
    if chunk is None:
        return _gram(jacobian(problem.features, z0))
    return _block_grams(problem.generator, [problem.feature_map], z0, chunk)[0]


@accepts_problem("A", "distance")
def metrics(
    problem: InverseProblem,
    z0: torch.Tensor,
    *,
    chunk_size: int | None = None,
    max_memory: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Both metrics at once, :math:`(H_Y(z_0), H_X(z_0))`, sharing the generator's Jacobian.

    The image Jacobian :math:`J_G` (``d`` tangent images, one forward-mode pass through
    ``G``) is pushed through ``A`` and through the distance's features (:func:`pushforward`):
    :math:`J_\phi = J_A J_G` and :math:`J_F = J_{F \circ x} J_G` by the chain rule, exactly
    what :func:`measurement_metric` and :func:`perceptual_metric` compute, for one pass of
    ``G`` instead of two. Older form: ``metrics(G, A, distance, z0)``.

    With ``chunk_size`` (or ``max_memory``, as in :func:`measurement_metric`) each block of
    tangent images is pushed through both maps and pulled back (``A``'s and the features' vjp,
    then ``G``'s), so nothing of size ``d x pixels`` is ever held: about 2.5x the work of the
    one-pass form, in memory bounded by the block.

    >>> import torch
    >>> from eglass import models, operators
    >>> from eglass.distances import default_distance
    >>> G = models.load_generator("mnist-dcgan")
    >>> H_Y, H_X = metrics(G, operators.SuperResolution(8), default_distance(), torch.zeros(1, 64))
    >>> H_Y.shape == H_X.shape == (64, 64)
    True
    """
    z0 = problem.latent(z0)
    features = problem.feature_map
    chunk = _chunk_for(problem, z0, chunk_size, max_memory, measurement=True, perceptual=True)
    if chunk is not None:
        H_Y, H_X = _block_grams(problem.generator, [problem._operator, features], z0, chunk)
        return H_Y, H_X
    x0 = problem.generate(z0)
    dim = z0.shape[1]
    eye = torch.eye(dim, dtype=z0.dtype, device=z0.device).unsqueeze(1)  # (d, 1, d)
    images = pushforward(problem.generator, z0, eye)  # (d, 1, C, H, W): J_G
    J_phi = pushforward(problem._operator, x0, images).reshape(dim, -1).T
    J_F = pushforward(features, x0, images).reshape(dim, -1).T
    return _gram(J_phi), _gram(J_F)


# --------------------------------------------------------------------------- memory plan

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

    ``MemoryError`` (naming the bytes needed) when not even one direction fits.
    ``max_memory`` defaults to :data:`MEMORY_FRACTION` of the free memory of ``z0``'s device.
    """
    z0 = problem.latent(z0)
    if max_memory is None:
        max_memory = int(MEMORY_FRACTION * available_memory(z0.device))
    if isinstance(max_memory, bool) or not isinstance(max_memory, int) or max_memory < 1:
        raise ValueError(f"max_memory must be a positive number of bytes, got {max_memory!r}")
    d = z0.shape[1]
    item = z0.element_size()
    x0 = problem.generate(z0)
    saved = saved_bytes(problem.generator, z0)
    outputs = x0.numel()
    maps = ([problem._operator] if measurement else []) + (
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


@dataclass
class MetricSpectra:
    r"""The top eigenpairs of :math:`H_Y` and :math:`H_X` at one latent, however computed.

    Attributes:
        lam_Y, U: top-``k`` eigenvalues ``(k,)`` and eigenvectors ``(d, k)`` of :math:`H_Y`,
            descending, signs as in :func:`eigh_desc` (``k = d`` on the exact path).
        lam_X, V: the same for :math:`H_X`.
        plan: the :class:`MetricPlan` that chose the path (``plan.method`` says which).
        H_Y, H_X: the full matrices on the exact paths, ``None`` on ``"top-k"``.
        products: Hessian-vector products Lanczos used per metric (``"top-k"``), else 0.
    """

    lam_Y: torch.Tensor
    U: torch.Tensor
    lam_X: torch.Tensor
    V: torch.Tensor
    plan: MetricPlan
    H_Y: torch.Tensor | None = None
    H_X: torch.Tensor | None = None
    products: tuple[int, int] = (0, 0)

    @property
    def method(self) -> str:
        """``"dense"``, ``"blocks"`` or ``"top-k"``."""
        return self.plan.method

    @property
    def k(self) -> int:
        """Number of eigenpairs held."""
        return self.U.shape[1]

    def matrices(self) -> tuple[torch.Tensor, torch.Tensor]:
        r"""``(H_Y, H_X)``: the exact matrices, or on ``"top-k"`` their rank-``k`` parts
        :math:`U \Lambda U^\top`, whose top ``k`` eigenpairs are the computed ones (so
        Algorithm 1 with ``K <= k`` and ``top <= k`` gives the same directions)."""
        if self.H_Y is not None and self.H_X is not None:
            return self.H_Y, self.H_X
        return _low_rank(self.lam_Y, self.U), _low_rank(self.lam_X, self.V)

    def check_indices(self, Ks: Sequence[int], top: int | None) -> None:
        """Refuse a K or ``top`` beyond the ``k`` eigenpairs held (``"top-k"`` only)."""
        if self.method != "top-k":
            return
        worst = max([*Ks, top or 0])
        if worst > self.k:
            raise ValueError(f"only the top {self.k} eigenpairs were computed (top-k path), "
                             f"but K/top = {worst} was asked for; call metric_spectra with "
                             f"k >= {worst}")


def _low_rank(lam: torch.Tensor, U: torch.Tensor) -> torch.Tensor:
    H = (U * lam.clamp_min(0)) @ U.T
    return (H + H.T) / 2


class _Counted:
    def __init__(self, hvp: MetricHVP):
        self.hvp, self.calls = hvp, 0
        self.dtype, self.device = hvp.dtype, hvp.device

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.hvp(v)


def metric_spectra(
    problem: InverseProblem,
    z0: torch.Tensor,
    k: int = 32,
    *,
    max_memory: int | None = None,
    method: str = "auto",
    seed: int | torch.Generator = 0,
    tol: float = 1e-6,
) -> MetricSpectra:
    r"""Top-``k`` eigenpairs of both metrics at ``z0``, exact or matrix-free by a memory estimate.

    ``method="auto"`` follows :func:`plan_metrics` (dense, exact blocks, or top-``k`` when the
    exact path would have to run nearly one direction at a time); ``"exact"`` forces the exact
    metrics (blocked as the cap needs) and ``"top-k"`` forces Lanczos (:func:`top_eigs` on
    :func:`measurement_hvp` / :func:`perceptual_hvp`, relative accuracy ``tol``). The
    result records the plan and, for Lanczos, how many Hessian-vector products it took.

    >>> import torch
    >>> from eglass import models, operators
    >>> from eglass.distances import default_distance
    >>> from eglass.problem import InverseProblem
    >>> problem = InverseProblem(models.load_generator("mnist-dcgan"),
    ...                          operators.SuperResolution(8), distance=default_distance())
    >>> s = metric_spectra(problem, torch.zeros(1, 64), k=8, method="top-k")
    >>> s.method, s.U.shape, s.H_Y is None
    ('top-k', torch.Size([64, 8]), True)
    """
    if method not in ("auto", "exact", "top-k"):
        raise ValueError(f"method must be 'auto', 'exact' or 'top-k', got {method!r}")
    z0 = problem.latent(z0)
    d = z0.shape[1]
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= d:
        raise ValueError(f"k must be an integer in [1, latent_dim={d}], got {k!r}")
    plan = plan_metrics(problem, z0, max_memory=max_memory,
                        k=None if method == "exact" or k == d else k)
    if method == "top-k" and plan.method != "top-k":
        plan = MetricPlan("top-k", 1, plan.max_memory, plan.saved + plan.per_direction,
                          plan.per_direction, plan.saved, "top-k asked for (method='top-k')")
    if plan.method == "top-k":
        if k == d:
            raise ValueError(f"the top-k path needs k < latent_dim={d}; use method='exact'")
        hvps = [_Counted(measurement_hvp(problem, z0)), _Counted(perceptual_hvp(problem, z0))]
        (lam_Y, U), (lam_X, V) = (top_eigs(h, d, k, seed=seed, tol=tol) for h in hvps)
        return MetricSpectra(lam_Y, U, lam_X, V, plan,
                             products=(hvps[0].calls, hvps[1].calls))
    chunk = None if plan.method == "dense" else plan.chunk_size
    H_Y, H_X = metrics(problem, z0, chunk_size=chunk)
    lam_Y, U = eigh_desc(H_Y)
    lam_X, V = eigh_desc(H_X)
    return MetricSpectra(lam_Y[:k], U[:, :k], lam_X[:k], V[:, :k], plan, H_Y=H_Y, H_X=H_X)


def _check_square(name: str, H: torch.Tensor) -> torch.Tensor:
    if not isinstance(H, torch.Tensor) or H.ndim != 2 or H.shape[0] != H.shape[1]:
        shape = tuple(H.shape) if isinstance(H, torch.Tensor) else type(H).__name__
        raise ValueError(f"{name} must be a square matrix (d,d), got {shape}")
    return check_finite(name, H)


def _fix_signs(evecs: torch.Tensor) -> torch.Tensor:
    """Flip each column so that its largest-magnitude entry is positive (a fixed convention)."""
    idx = evecs.abs().argmax(dim=0)
    signs = torch.sign(evecs.gather(0, idx[None]))
    signs[signs == 0] = 1
    return evecs * signs


def eigh_desc(H: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Eigen-decomposition :math:`H = V \Omega V^\top` with eigenvalues in *descending* order.

    ``H`` ``(d, d)`` is symmetrized first. Returns ``(evals (d,), evecs (d, d))``, eigenvectors
    as columns (``evecs[:, 0]`` is the top one), each signed so that its largest-magnitude
    entry is positive.
    """
    H = _check_square("H", H)
    evals, evecs = torch.linalg.eigh((H + H.T) / 2)
    return evals.flip(0), _fix_signs(evecs.flip(1))


# --------------------------------------------------------------------------- matrix-free


class MetricHVP:
    r"""Matrix-free Hessian-vector product :math:`v \mapsto J^\top (J v)` of a metric at ``z``.

    ``J v`` by ``torch.func.jvp``, :math:`J^\top u` by a ``torch.func.vjp`` closure built once.
    Call with ``v`` of shape ``(d,)``; returns ``(d,)``. Attributes ``d``, ``dtype``, ``device``.
    """

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor):
        self.fn = fn
        self.z = z
        self.d = z.shape[1]
        self.dtype = z.dtype
        self.device = z.device
        _, self._vjp = torch.func.vjp(fn, z)

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        if v.shape != (self.d,):
            raise ValueError(f"v must have shape ({self.d},), got {tuple(v.shape)}")
        v = v.to(dtype=self.dtype, device=self.device).view(1, self.d)
        with torch.no_grad():
            jv = _jvp(self.fn, self.z, v)
        return self._vjp(jv)[0].view(self.d).detach()


@accepts_problem("A")
def measurement_hvp(problem: InverseProblem, z0: torch.Tensor) -> MetricHVP:
    """Matrix-free :math:`H_Y(z_0)`: a :class:`MetricHVP` (same arguments as
    :func:`measurement_metric`)."""
    return MetricHVP(problem.measure, problem.latent(z0))


@accepts_problem("distance")
def perceptual_hvp(problem: InverseProblem, z0: torch.Tensor) -> MetricHVP:
    """Matrix-free :math:`H_X(z_0)`: a :class:`MetricHVP` (same arguments as
    :func:`perceptual_metric`).

    >>> import torch
    >>> from eglass import models
    >>> from eglass.distances import default_distance
    >>> G = models.load_generator("mnist-dcgan")
    >>> hvp = perceptual_hvp(G, default_distance(), torch.zeros(1, 64))
    >>> evals, evecs = top_eigs(hvp, 64, 3, seed=0)
    >>> evals.shape, evecs.shape
    (torch.Size([3]), torch.Size([64, 3]))
    """
    return MetricHVP(problem.features, problem.latent(z0))


def top_eigs(
    hvp: Callable[[torch.Tensor], torch.Tensor],
    d: int,
    k: int,
    *,
    seed: int | torch.Generator = 0,
    tol: float = 0.0,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Top-``k`` eigenpairs of a symmetric PSD operator given only by ``hvp`` (Lanczos).

    ``scipy.sparse.linalg.eigsh(which="LA")`` on ``hvp`` (:math:`v \mapsto Hv`, ``(d,) -> (d,)``),
    started from a seeded random vector, so the same seed gives the same numbers.

    Args:
        hvp: e.g. :func:`measurement_hvp` / :func:`perceptual_hvp`; any callable works.
        d: dimension; ``k``: number of eigenpairs, ``1 <= k < d``.
        tol: relative accuracy passed to ``eigsh`` (0: machine precision).
        dtype, device: of the vectors handed to ``hvp`` (default: ``hvp.dtype`` /
            ``hvp.device`` if it has them, else float64 on the CPU).

    Returns:
        ``(evals (k,), evecs (d, k))`` in descending order, signs as in :func:`eigh_desc`.
    """
    if not isinstance(d, int) or not isinstance(k, int) or not 1 <= k < d:
        raise ValueError(
            f"top_eigs needs integers 1 <= k < d, got k={k!r}, d={d!r}; for k = d use "
            "eigh_desc on the dense Hessian"
        )
    dtype = dtype or getattr(hvp, "dtype", torch.float64)
    device = device or getattr(hvp, "device", "cpu")

    def matvec(v: np.ndarray) -> np.ndarray:
        t = torch.as_tensor(np.ravel(v), dtype=dtype, device=device)
        return hvp(t).detach().to("cpu", torch.float64).numpy()

    gen = make_generator(seed)
    v0 = torch.randn(d, generator=gen, dtype=torch.float64).numpy()
    op = LinearOperator((d, d), matvec=matvec, dtype=np.float64)
    evals, evecs = eigsh(op, k=k, which="LA", v0=v0, tol=tol)
    order = np.argsort(evals)[::-1].copy()
    evals = torch.as_tensor(evals[order], dtype=dtype, device=device)
    evecs = torch.as_tensor(evecs[:, order], dtype=dtype, device=device)
    return evals, _fix_signs(evecs)


# --------------------------------------------------------------------------- statistics


def _check_spectrum(evals: torch.Tensor) -> torch.Tensor:
    if not isinstance(evals, torch.Tensor) or evals.ndim != 1 or evals.numel() == 0:
        got = getattr(evals, "shape", evals)
        raise ValueError(f"evals must be a non-empty 1-D tensor, got {got}")
    check_finite("evals", evals)
    return evals.detach().double().clamp_min(0).sort(descending=True).values


def trace_fraction(evals: torch.Tensor) -> torch.Tensor:
    r"""Cumulative fraction of the trace: :math:`c_k = \sum_{i \le k} \lambda_i / \sum_i \lambda_i`.

    ``evals`` ``(d,)`` (sorted descending here; tiny negative rounding clamped to 0) -> ``(d,)``.
    """
    lam = _check_spectrum(evals)
    total = lam.sum()
    if total <= 0:
        raise ValueError("the spectrum is identically zero; its trace fractions are undefined")
    return lam.cumsum(0) / total


@dataclass(frozen=True)
class Anisotropy:
    """How concentrated a metric's spectrum is.

    ``n_eigs[f]``: the number of top eigenvalues holding a fraction ``f`` of the trace;
    ``effective_rank``: :math:`\\exp` of the entropy of :math:`\\lambda / \\sum\\lambda`
    (Roy & Vetterli); ``d``: the dimension.
    """

    n_eigs: dict[float, int]
    effective_rank: float
    d: int


def anisotropy(
    evals: torch.Tensor, fractions: Sequence[float] = (0.9, 0.99, 0.999)
) -> Anisotropy:
    r"""Anisotropy statistics of a spectrum ``evals`` ``(d,)``.

    :math:`n_f = \min\{k : c_k \ge f\}` for each fraction :math:`f` (see :func:`trace_fraction`)
    and effective rank :math:`\exp(-\sum_i p_i \log p_i)`, :math:`p = \lambda / \sum \lambda`.
    """
    for f in fractions:
        if not 0 < f <= 1:
            raise ValueError(f"fractions must lie in (0, 1], got {f}")
    c = trace_fraction(evals)
    slack = 16 * torch.finfo(evals.dtype).eps  # a fraction met up to the input's rounding counts
    n_eigs = {
        float(f): int(torch.searchsorted(c, torch.tensor(f - slack, dtype=c.dtype)).item()) + 1
        for f in fractions
    }
    p = _check_spectrum(evals)
    p = p / p.sum()
    p = p[p > 0]
    return Anisotropy(
        n_eigs={f: min(n, c.numel()) for f, n in n_eigs.items()},
        effective_rank=math.exp(-(p * p.log()).sum().item()),
        d=c.numel(),
    )


def coupling(U: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    r"""Coupling matrix :math:`C = U^\top V` between two eigenbases (columns), ``(k1, k2)``.

    ``U`` ``(d, k1)`` (e.g. eigenvectors of :math:`H_Y`), ``V`` ``(d, k2)`` (of :math:`H_X`).
    Entry :math:`C_{ij} = u_i \cdot v_j`; signs are arbitrary, so plot :math:`|C|`.
    """
    for name, M in (("U", U), ("V", V)):
        if not isinstance(M, torch.Tensor) or M.ndim != 2:
            got = getattr(M, "shape", M)
            raise ValueError(f"{name} must be a matrix (d,k) of column vectors, got {got}")
        check_finite(name, M)
    if U.shape[0] != V.shape[0]:
        raise ValueError(
            f"U and V must have the same number of rows (latent dim d), got U {tuple(U.shape)} "
            f"and V {tuple(V.shape)}"
        )
    return U.T @ V.to(U.dtype)


@dataclass(frozen=True)
class Homogeneity:
    r"""How similar metrics at different latents are (Wang & Ponce 2021).

    ``spectrum[i, j]``: Pearson correlation of the log-spectra of :math:`H_i` and :math:`H_j`.
    ``vhv[i, j]``: Pearson correlation of :math:`\log \lambda_k(H_i)` with
    :math:`\log v_k^{(i)\top} H_j v_k^{(i)}` -- do :math:`H_i`'s eigenvectors keep their
    ranking under :math:`H_j`? (1 on the diagonal; not symmetric.)
    """

    spectrum: torch.Tensor
    vhv: torch.Tensor


def _pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a - a.mean(), b - b.mean()
    denom = (a.norm() * b.norm()).item()
    return float((a @ b).item() / denom) if denom > 0 else float("nan")


def homogeneity(hessians: Sequence[torch.Tensor], floor: float = 1e-8) -> Homogeneity:
    """Homogeneity of metrics ``hessians`` (a list of ``(d, d)``, e.g. :math:`H_X` at several z0).

    Eigenvalues (and quadratic forms) below ``floor`` times the top eigenvalue of the same
    matrix are clamped there before taking logs, so numerically-zero directions do not
    dominate the correlations.
    """
    if len(hessians) < 2:
        raise ValueError(f"homogeneity needs at least 2 Hessians, got {len(hessians)}")
    hessians = [_check_square(f"hessians[{i}]", H).double() for i, H in enumerate(hessians)]
    d = hessians[0].shape[0]
    if any(H.shape != (d, d) for H in hessians):
        shapes = [tuple(H.shape) for H in hessians]
        raise ValueError(f"all Hessians must have the same shape, got {shapes}")
    if not floor > 0:
        raise ValueError(f"floor must be positive, got {floor}")
    decomps = [eigh_desc(H) for H in hessians]
    tops = [max(ev[0].item(), 0.0) for ev, _ in decomps]
    if min(tops) <= 0:
        raise ValueError("a Hessian with no positive eigenvalue has no log-spectrum")
    logs = [(ev.clamp_min(floor * t)).log() for (ev, _), t in zip(decomps, tops, strict=True)]
    n = len(hessians)
    spectrum = torch.ones(n, n, dtype=torch.float64)
    vhv = torch.ones(n, n, dtype=torch.float64)
    for i in range(n):
        Vi = decomps[i][1]
        for j in range(n):
            if i == j:
                continue
            spectrum[i, j] = _pearson(logs[i], logs[j])
            q = ((Vi * (hessians[j] @ Vi)).sum(0)).clamp_min(floor * tops[j]).log()
            vhv[i, j] = _pearson(logs[i], q)
    return Homogeneity(spectrum=spectrum, vhv=vhv)


# --------------------------------------------------------------------------- reference


def reference_hessian(
    problem: InverseProblem,
    z0: torch.Tensor,
    *,
    metric: str = "perceptual",
    rows: int | None = None,
) -> torch.Tensor:
    r"""Slow reference: :math:`\tfrac12 \partial_z^2` of the distance itself, by double backprop.

    The GAN-Geometry "backward iteration" of Wang & Ponce: one gradient
    :math:`g = \nabla_z D(z)` with ``create_graph=True``, then one more backward pass per latent
    dimension, :math:`\partial (g \cdot e_i) / \partial z`. Here
    :math:`D(z) = d_X(G(z), G(z_0))` (``metric="perceptual"``, the problem's distance) or
    :math:`\lVert A G(z) - A G(z_0)\rVert^2` (``metric="measurement"``). Used by the tests
    and ``benchmarks/hessian.py`` to check :func:`perceptual_metric` and
    :func:`measurement_metric`; not meant for users (``d`` backward passes). ``rows``: only
    the first ``rows`` rows (to time the method on a large latent).

    Returns ``(d, d)`` (or ``(rows, d)``) in the dtype of ``z0``.
    """
    if metric not in ("perceptual", "measurement"):
        raise ValueError(f"metric must be 'perceptual' or 'measurement', got {metric!r}")
    z0 = problem.latent(z0)
    if metric == "measurement":
        with torch.no_grad():
            target = problem.measure(z0)

        def distance(w):
            return (problem.measure(w) - target).pow(2).sum()
    else:
        if problem.distance is None:
            raise TypeError("reference_hessian(metric='perceptual') needs the problem's "
                            "distance; pass distance= to InverseProblem")
        x0 = problem.generate(z0)

        def distance(w):
            return problem.distance(problem.generator(w), x0).sum()

    n = z0.shape[1] if rows is None else rows
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= z0.shape[1]:
        raise ValueError(f"rows must be an integer in [1, {z0.shape[1]}] or None, got {rows!r}")
    with torch.enable_grad():
        w = z0.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(distance(w), w, create_graph=True)
        hessian_rows = [
            torch.autograd.grad(g[0, i], w, retain_graph=i < n - 1)[0][0] for i in range(n)
        ]
    return 0.5 * torch.stack(hessian_rows).detach()


# --------------------------------------------------------------------------- pictures


def images_along(
    G: nn.Module, z0: torch.Tensor, direction: torch.Tensor, etas: Sequence[float]
) -> torch.Tensor:
    r"""Images :math:`G(z_0 + \eta v)` along a latent direction, one per step ``eta``.

    ``z0`` ``(d,)`` or ``(1, d)``; ``direction`` ``(d,)`` (e.g. an eigenvector column).
    Returns ``(len(etas), C, H, W)``.

    >>> import torch
    >>> from eglass import models
    >>> G = models.load_generator("mnist-dcgan")
    >>> images_along(G, torch.zeros(1, 64), torch.eye(64)[0], [-1.0, 0.0, 1.0]).shape
    torch.Size([3, 1, 32, 32])
    """
    z0 = InverseProblem(G).latent(z0)
    dim = z0.shape[1]
    if not isinstance(direction, torch.Tensor) or direction.shape != (dim,):
        got = tuple(direction.shape) if isinstance(direction, torch.Tensor) else direction
        raise ValueError(f"direction must have shape ({dim},), got {got}")
    etas_t = torch.as_tensor(list(etas), dtype=z0.dtype, device=z0.device)
    with torch.no_grad():
        return G(z0 + etas_t[:, None] * direction.to(z0)[None])
