r"""Denoising: the identity forward model, :math:`A = I`."""

from __future__ import annotations

from ..utils import format_shape
from .base import LinearOperator, Shape

__all__ = ["Denoising"]


class Denoising(LinearOperator):
    r"""The identity, :math:`A = I`: measurements are the (noisy) image itself.

    >>> import torch
    >>> x = torch.rand(2, 1, 8, 8)
    >>> torch.equal(Denoising()(x), x)
    True
    """

    def _A(self, x):
        return x

    def _A_adjoint(self, y):
        return y

    def _A_dagger(self, y):
        return y

    def measurement_shape(self, image_shape: Shape) -> tuple[int, ...]:
        return self._check_image_shape(image_shape)

    def image_shape(self, measurement_shape: Shape) -> tuple[int, ...]:
        if len(measurement_shape) != 4:
            raise ValueError(
                f"y must have shape (N,C,H,W) for Denoising, got {format_shape(measurement_shape)}"
            )
        return tuple(measurement_shape)
