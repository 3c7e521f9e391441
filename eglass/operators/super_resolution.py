r"""Super-resolution: down-scaling by an integer factor (box average or antialiased bicubic)."""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F

from ..utils import check_one_of, check_positive_int, format_shape
from .base import LinearOperator, Shape, cast_like

__all__ = ["SuperResolution"]


@lru_cache(maxsize=64)
def _bicubic_matrices(n: int, factor: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``(n // factor, n)`` antialiased bicubic down-scaling matrix and its pinv (float64).

    Read off ``F.interpolate(..., mode="bicubic", antialias=True)`` applied to the identity
    along the width axis (the operator is separable, the same matrix serves the height axis).
    """
    eye = torch.eye(n, dtype=torch.float64).view(n, 1, 1, n)
    rows = F.interpolate(eye, size=(1, n // factor), mode="bicubic", antialias=True)
    matrix = rows.view(n, n // factor).T.contiguous()
    return matrix, torch.linalg.pinv(matrix)


class SuperResolution(LinearOperator):
    r"""Down-scaling by an integer ``factor``: ``(N,C,H,W) -> (N,C,H/f,W/f)``.

    - ``kernel="box"``: average pooling over ``f x f`` blocks. :math:`A A^\top = I/f^2`, so
      :math:`A^\dagger = f^2 A^\top` is nearest-neighbour up-sampling (exact).
    - ``kernel="bicubic"``: antialiased bicubic down-scaling, identical to
      ``F.interpolate(x, scale_factor=1/f, mode="bicubic", antialias=True)`` (PIL-style
      ``resize``; the paper down-scales 256 -> 32 this way). It is separable,
      :math:`A x = B_H X B_W^\top` per channel, i.e. :math:`A = B_H \otimes B_W`, so
      :math:`A^\dagger y = B_H^\dagger Y (B_W^\dagger)^\top` with the 1-D pseudo-inverses
      computed once per size (exact).

    DeepInverse: ``"box"`` is ``deepinv.physics.Downsampling(filter=torch.ones(1, 1, f, f) /
    f**2, factor=f, padding="valid")`` exactly; none of its named filters is (``None`` is bare
    decimation; ``"bilinear"``, ``"gaussian"``, ``"sinc"`` are other low-pass filters).
    Its ``"bicubic"`` uses the same Keys (a = -0.5) kernel stretched by ``f`` but is *not* our
    ``"bicubic"``: it samples low-resolution pixel ``j`` at input position ``f j + 1/2`` where
    ours (PIL, ``F.interpolate``) samples the block centre ``f j + (f - 1)/2`` -- the same for
    ``f = 2``, a shift of ``(f - 2)/2`` pixels otherwise -- and it pads the image where ours
    renormalizes the kernel at the border; away from the border they agree after that shift
    (``tests/test_deepinv.py``).

    >>> op = SuperResolution(2, "bicubic")
    >>> y = op(torch.rand(3, 1, 32, 32))
    >>> tuple(y.shape), tuple(op.A_dagger(y).shape)
    ((3, 1, 16, 16), (3, 1, 32, 32))
    """

    def __init__(self, factor: int, kernel: str = "box"):
        super().__init__()
        self.factor = check_positive_int("factor", factor)
        self.kernel = check_one_of("kernel", kernel, ("box", "bicubic"))

    def extra_repr(self) -> str:
        return f"factor={self.factor}, kernel={self.kernel!r}"

    def measurement_shape(self, image_shape: Shape) -> tuple[int, ...]:
        n, c, h, w = self._check_image_shape(image_shape)
        f = self.factor
        if h % f or w % f:
            raise ValueError(
                f"{self!r} needs H and W divisible by {f}, got images of shape "
                f"{format_shape((n, c, h, w), 'N')}"
            )
        return (n, c, h // f, w // f)

    def image_shape(self, measurement_shape: Shape) -> tuple[int, ...]:
        if len(measurement_shape) != 4:
            raise ValueError(
                f"y must have shape (N,C,h,w) for {self!r}, got {format_shape(measurement_shape)}"
            )
        n, c, h, w = measurement_shape
        return (n, c, h * self.factor, w * self.factor)

    def _matrices(self, h: int, w: int, like: torch.Tensor, pinv: bool):
        (bh, bh_pinv), (bw, bw_pinv) = (_bicubic_matrices(n, self.factor) for n in (h, w))
        if pinv:
            return cast_like(bh_pinv, like), cast_like(bw_pinv, like)
        return cast_like(bh, like), cast_like(bw, like)

    def _A(self, x):
        f = self.factor
        if self.kernel == "box":
            return F.avg_pool2d(x, f)
        bh, bw = self._matrices(x.shape[-2], x.shape[-1], x, pinv=False)
        return bh @ x @ bw.T

    def _A_adjoint(self, y):
        f = self.factor
        if self.kernel == "box":
            return y.repeat_interleave(f, dim=-2).repeat_interleave(f, dim=-1) / f**2
        bh, bw = self._matrices(y.shape[-2] * f, y.shape[-1] * f, y, pinv=False)
        return bh.T @ y @ bw

    def _A_dagger(self, y):
        f = self.factor
        if self.kernel == "box":
            return y.repeat_interleave(f, dim=-2).repeat_interleave(f, dim=-1)
        bh_pinv, bw_pinv = self._matrices(y.shape[-2] * f, y.shape[-1] * f, y, pinv=True)
        return bh_pinv @ y @ bw_pinv.T
