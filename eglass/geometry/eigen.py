r"""Dense eigen-decompositions in the paper's order: descending eigenvalues, eigenvectors as
columns with a fixed sign. The one low-level spectral helper of :mod:`eglass.geometry`,
:mod:`eglass.directions` and :mod:`eglass.walk`."""

from __future__ import annotations

import torch

from ..utils import check_finite

__all__ = ["eigh_desc", "fix_signs", "check_square"]


def check_square(name: str, H: torch.Tensor) -> torch.Tensor:
    """Check that ``H`` is a finite square ``(d, d)`` tensor; return it unchanged."""
    if not isinstance(H, torch.Tensor) or H.ndim != 2 or H.shape[0] != H.shape[1]:
        shape = tuple(H.shape) if isinstance(H, torch.Tensor) else type(H).__name__
        raise ValueError(f"{name} must be a square matrix (d,d), got {shape}")
    return check_finite(name, H)


def fix_signs(evecs: torch.Tensor) -> torch.Tensor:
    """Flip each column so that its largest-magnitude entry is positive (a fixed convention).

    >>> fix_signs(torch.tensor([[0.5, 2.0], [-1.0, -1.0]])).tolist()
    [[-0.5, 2.0], [1.0, -1.0]]
    """
    idx = evecs.abs().argmax(dim=0)
    signs = torch.sign(evecs.gather(0, idx[None]))
    signs[signs == 0] = 1
    return evecs * signs


def eigh_desc(H: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Eigen-decomposition :math:`H = V \Omega V^\top` with eigenvalues in *descending* order.

    ``H`` ``(d, d)`` is symmetrized first. Returns ``(evals (d,), evecs (d, d))``, eigenvectors
    as columns (``evecs[:, 0]`` is the top one), each signed so that its largest-magnitude
    entry is positive.

    >>> evals, evecs = eigh_desc(torch.diag(torch.tensor([1.0, 3.0])))
    >>> evals.tolist(), evecs[:, 0].tolist()
    ([3.0, 1.0], [0.0, 1.0])
    """
    H = check_square("H", H)
    evals, evecs = torch.linalg.eigh((H + H.T) / 2)
    return evals.flip(0), fix_signs(evecs.flip(1))
