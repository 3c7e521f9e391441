r"""Chapter 4's statistics of the metrics: how anisotropic a spectrum is, how two eigenbases
couple, how alike the metrics at different latents are."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..utils import check_finite
from .eigen import check_square, eigh_desc

__all__ = ["trace_fraction", "Anisotropy", "anisotropy", "coupling", "Homogeneity",
           "homogeneity"]


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
    hessians = [check_square(f"hessians[{i}]", H).double() for i, H in enumerate(hessians)]
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
