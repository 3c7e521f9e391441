r"""The contract of every linear operator: the dot test (PyLops' ``dottest``)."""

from __future__ import annotations

import torch

from ..utils import make_generator
from .base import LinearOperator, Shape

__all__ = ["dot_test"]


def dot_test(
    op: LinearOperator,
    image_shape: Shape,
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> float:
    r"""Relative error of the adjoint, :math:`\frac{|\langle Ax, y\rangle - \langle x, A^\top
    y\rangle|}{(|\langle Ax, y\rangle| + |\langle x, A^\top y\rangle|)/2}`, for random
    Gaussian ``x`` of shape ``image_shape`` and ``y`` of the measurement shape (PyLops'
    ``dottest``); 0 when both sides are 0 (e.g. an empty batch).

    >>> from eglass.operators import SuperResolution
    >>> dot_test(SuperResolution(2, "bicubic"), (2, 1, 16, 16)) < 1e-12
    True
    """
    if device is None:
        device = next((b.device for b in op.buffers()), torch.device("cpu"))
    g = make_generator(seed)
    x = torch.randn(tuple(image_shape), generator=g, dtype=dtype).to(device)
    y = torch.randn(op.measurement_shape(image_shape), generator=g, dtype=dtype).to(device)
    lhs = (op.A(x) * y).sum().item()
    rhs = (x * op.A_adjoint(y)).sum().item()
    scale = (abs(lhs) + abs(rhs)) / 2
    return abs(lhs - rhs) / scale if scale > 0 else 0.0
