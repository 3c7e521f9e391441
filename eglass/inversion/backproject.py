r"""Back-projection onto the measurement-consistent affine set (IAGAN)."""

from __future__ import annotations

import torch

from ..operators import as_operator
from ..problem import check_measurements
from ..utils import check_images

__all__ = ["back_project"]


def back_project(A, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""Back-projection :math:`x_{bp} = x + A^\dagger(y - A x)` (IAGAN).

    Replaces the component of ``x`` in the row space of ``A`` by the one the measurements
    fix and keeps its null-space component, so :math:`A x_{bp} = y` (exactly, up to float
    error, when ``y`` is noiseless and :math:`A A^\dagger = I`).

    Args:
        A: a linear operator with ``A(x)`` and ``A_dagger(y)`` (``eglass.operators``).
        x: images ``(N, C, H, W)``.
        y: measurements ``(N, ...)`` (or a batch of 1, broadcast), shape of ``A(x)``.

    Returns:
        ``(N, C, H, W)`` images (not clipped to [-1, 1], which would break consistency).

    >>> from eglass.operators import SuperResolution
    >>> A = SuperResolution(2)
    >>> x_bp = back_project(A, torch.zeros(1, 1, 4, 4), torch.ones(1, 1, 2, 2))
    >>> bool(torch.allclose(A(x_bp), torch.ones(1, 1, 2, 2)))
    True
    """
    check_images("x", x)
    A = as_operator(A)
    if not callable(getattr(A, "A_dagger", None)):
        raise TypeError(
            f"A must provide A_dagger(y) for back-projection; {type(A).__name__} does not"
        )
    ax = A(x)
    check_measurements(y, ax.shape, "A(x)", batch=ax.shape[0])
    return x + A.A_dagger(y - ax)
