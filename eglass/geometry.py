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

from .problem import InverseProblem, accepts_problem
from .utils import check_finite, make_generator

__all__ = [
    "jacobian",
    "pushforward",
    "measurement_metric",
    "metrics",
    "perceptual_metric",
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
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"chunk_size must be a positive int or None, got {chunk_size!r}")
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


def chunked_gram(
    fn: Callable[[torch.Tensor], torch.Tensor],
    z: torch.Tensor,
    chunk_size: int = 8,
) -> torch.Tensor:
    r"""Exact :math:`H = J^\top J` of ``fn`` at ``z``, built ``chunk_size`` columns at a time.

    Column block :math:`B`: :math:`H_{:,B} = J^\top (J E_B)`, a vmapped chunk of jvps then a
    vmapped chunk of vjps, so peak memory is :math:`O(P \cdot \text{chunk\_size})`, never the
    full ``(P, d)`` Jacobian.

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
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
    d = z.shape[1]
    _, pullback = torch.func.vjp(fn, z)
    eye = torch.eye(d, dtype=z.dtype, device=z.device)
    cols = []
    for start in range(0, d, chunk_size):
        tangents = eye[start : start + chunk_size].unsqueeze(1)  # (b, 1, d)
        JE = pushforward(fn, z, tangents)  # (b, *out)
        cols.append(torch.func.vmap(lambda u: pullback(u)[0])(JE).reshape(-1, d).detach())
    H = torch.cat(cols).T
    return (H + H.T) / 2


@accepts_problem("A")
def measurement_metric(
    problem: InverseProblem, z0: torch.Tensor, *, chunk_size: int | None = None
) -> torch.Tensor:
    r"""The measurement metric :math:`H_Y(z_0) = J_\phi^\top J_\phi`, :math:`\phi = A \circ G`.

    Args:
        problem: an :class:`eglass.problem.InverseProblem` (its ``y`` is not needed), or
            the older form ``measurement_metric(G, A, z0)``.
        z0: the latent, ``(d,)`` or ``(1, d)``, same dtype as ``G``.
        chunk_size: latent directions per vectorized forward pass (``None``: all ``d``).

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
    return _gram(jacobian(problem.measure, z0, chunk_size))


@accepts_problem("distance")
def perceptual_metric(
    problem: InverseProblem, z0: torch.Tensor, *, chunk_size: int | None = None
) -> torch.Tensor:
    r"""The perceptual metric :math:`H_X(z_0) = J_F^\top J_F` (exact Hessian of
    :math:`\tfrac12 d_X(G(z), G(z_0))` at :math:`z_0`).

    Args:
        problem: an :class:`eglass.problem.InverseProblem` with a distance (an
            :class:`eglass.distances.Distance`), or the older form
            ``perceptual_metric(G, distance, z0)``.
        z0: the latent :math:`z_0`, ``(d,)`` or ``(1, d)``.

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
    return _gram(jacobian(problem.features, z0, chunk_size))


@accepts_problem("A", "distance")
def metrics(
    problem: InverseProblem, z0: torch.Tensor, *, chunk_size: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Both metrics at once, :math:`(H_Y(z_0), H_X(z_0))`, sharing the generator's Jacobian.

    The image Jacobian :math:`J_G` (``d`` tangent images, one forward-mode pass through
    ``G``) is pushed through ``A`` and through the distance's features (:func:`pushforward`):
    :math:`J_\phi = J_A J_G` and :math:`J_F = J_{F \circ x} J_G` by the chain rule, exactly
    what :func:`measurement_metric` and :func:`perceptual_metric` compute, for one pass of
    ``G`` instead of two. Older form: ``metrics(G, A, distance, z0)``.

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
    x0 = problem.generate(z0)
    dim = z0.shape[1]
    eye = torch.eye(dim, dtype=z0.dtype, device=z0.device).unsqueeze(1)  # (d, 1, d)
    images = pushforward(problem.generator, z0, eye, chunk_size)  # (d, 1, C, H, W): J_G
    J_phi = pushforward(problem._operator, x0, images, chunk_size).reshape(dim, -1).T
    J_F = pushforward(features, x0, images, chunk_size).reshape(dim, -1).T
    return _gram(J_phi), _gram(J_F)


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
    problem: InverseProblem, z0: torch.Tensor, *, metric: str = "perceptual"
) -> torch.Tensor:
    r"""Slow reference: :math:`\tfrac12 \partial_z^2` of the distance itself, by double backprop.

    The GAN-Geometry "backward iteration" of Wang & Ponce: one gradient
    :math:`g = \nabla_z D(z)` with ``create_graph=True``, then one more backward pass per latent
    dimension, :math:`\partial (g \cdot e_i) / \partial z`. Here
    :math:`D(z) = d_X(G(z), G(z_0))` (``metric="perceptual"``, the problem's distance) or
    :math:`\lVert A G(z) - A G(z_0)\rVert^2` (``metric="measurement"``). Used by the tests
    and ``benchmarks/hessian.py`` to check :func:`perceptual_metric` and
    :func:`measurement_metric`; not meant for users (``d`` backward passes).

    Returns ``(d, d)`` in the dtype of ``z0``.
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

    with torch.enable_grad():
        w = z0.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(distance(w), w, create_graph=True)
        rows = [
            torch.autograd.grad(g[0, i], w, retain_graph=i < z0.shape[1] - 1)[0][0]
            for i in range(z0.shape[1])
        ]
    return 0.5 * torch.stack(rows).detach()


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
