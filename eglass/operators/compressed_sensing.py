r"""Compressed sensing: random Gaussian measurements of the flattened image."""

from __future__ import annotations

import math

import torch

from ..utils import format_shape, make_generator
from .base import LinearOperator, Shape, cast_like

__all__ = ["CompressedSensing"]


class CompressedSensing(LinearOperator):
    r"""Random Gaussian measurements :math:`y = M \operatorname{vec}(x)`, ``(N,C,H,W) -> (N,m)``.

    :math:`M \in \mathbb{R}^{m \times n}`, :math:`n = CHW`, has i.i.d.
    :math:`\mathcal{N}(0, 1/m)` entries drawn from ``seed`` (same seed, same matrix), so
    :math:`\mathbb{E}\|Mx\|^2 = \|x\|^2`. :math:`M^\dagger` is computed once
    (``torch.linalg.pinv`` in float64) and stored beside :math:`M` as a buffer. For an
    integer ``seed`` the matrix is exactly that of ``deepinv.physics.CompressedSensing(m,
    image_shape, dtype=torch.float64, rng=torch.Generator().manual_seed(seed))``.

    >>> op = CompressedSensing(20, (1, 8, 8), seed=0)
    >>> y = op(torch.rand(3, 1, 8, 8, dtype=torch.float64))
    >>> tuple(y.shape), torch.allclose(op(op.A_dagger(y)), y)
    ((3, 20), True)
    """

    matrix: torch.Tensor
    matrix_pinv: torch.Tensor

    def __init__(self, m: int, image_shape: Shape, seed: int | torch.Generator = 0):
        super().__init__()
        shape = tuple(int(s) for s in image_shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"image_shape must be (C,H,W) with positive sizes, got {shape}")
        n = math.prod(shape)
        if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= n:
            raise ValueError(f"m must be an integer in [1, C*H*W = {n}], got {m!r}")
        self.m = m
        self.shape = shape
        g = make_generator(seed)
        matrix = torch.randn(m, n, generator=g, dtype=torch.float64) / math.sqrt(m)
        self.register_buffer("matrix", matrix)
        self.register_buffer("matrix_pinv", torch.linalg.pinv(matrix))

    def extra_repr(self) -> str:
        return f"m={self.m}, image_shape={self.shape}"

    def measurement_shape(self, image_shape: Shape) -> tuple[int, ...]:
        image_shape = self._check_image_shape(image_shape)
        if tuple(image_shape[1:]) != self.shape:
            raise ValueError(
                f"{self!r} expects images of shape {format_shape((0, *self.shape), 'N')}, "
                f"got {format_shape(image_shape)}"
            )
        return (image_shape[0], self.m)

    def image_shape(self, measurement_shape: Shape) -> tuple[int, ...]:
        if len(measurement_shape) != 2 or measurement_shape[1] != self.m:
            raise ValueError(
                f"y has shape {format_shape(measurement_shape)} but {self!r} expects (N,{self.m})"
            )
        return (measurement_shape[0], *self.shape)

    def _A(self, x):
        return x.flatten(1) @ cast_like(self.matrix, x).T

    def _A_adjoint(self, y):
        return (y @ cast_like(self.matrix, y)).reshape(y.shape[0], *self.shape)

    def _A_dagger(self, y):
        return (y @ cast_like(self.matrix_pinv, y).T).reshape(y.shape[0], *self.shape)
