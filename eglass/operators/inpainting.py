r"""Inpainting: pixel masking with a binary mask, and the masks :func:`box_mask`,
:func:`half_mask` and :func:`random_mask`."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ..utils import check_finite, check_number, check_one_of, format_shape, make_generator
from .base import LinearOperator, Shape, cast_like

__all__ = ["Inpainting", "box_mask", "half_mask", "random_mask"]


def _image_size(image_size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    size = tuple(int(s) for s in image_size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"image_size must be an int or (H, W) with positive sizes, got {size}")
    return size


def box_mask(
    image_size: int | Sequence[int],
    box_size: int | Sequence[int] | None = None,
    *,
    fraction: float | None = None,
    center: Sequence[int] | None = None,
) -> torch.Tensor:
    """Inpainting mask ``(1, 1, H, W)``: 1 where observed, 0 inside a missing rectangle.

    Args:
        image_size: ``H`` (square) or ``(H, W)``.
        box_size: ``h`` or ``(h, w)`` of the hidden box; or give ``fraction`` instead, the
            share of the image area to hide (a box of the image's aspect ratio).
        center: ``(row, col)`` of the box centre, default the image centre.

    >>> box_mask(6, 2)[0, 0]
    tensor([[1., 1., 1., 1., 1., 1.],
            [1., 1., 1., 1., 1., 1.],
            [1., 1., 0., 0., 1., 1.],
            [1., 1., 0., 0., 1., 1.],
            [1., 1., 1., 1., 1., 1.],
            [1., 1., 1., 1., 1., 1.]])
    """
    h, w = _image_size(image_size)
    if (box_size is None) == (fraction is None):
        raise ValueError("give exactly one of box_size or fraction")
    if fraction is not None:
        if not 0 < fraction < 1:
            raise ValueError(f"fraction must be in (0, 1), got {fraction}")
        bh, bw = round(h * math.sqrt(fraction)), round(w * math.sqrt(fraction))
    else:
        bh, bw = _image_size(box_size)
    if bh > h or bw > w:
        raise ValueError(f"box of size ({bh}, {bw}) does not fit in a ({h}, {w}) image")
    ch, cw = (h // 2, w // 2) if center is None else (int(center[0]), int(center[1]))
    top, left = ch - bh // 2, cw - bw // 2
    if top < 0 or left < 0 or top + bh > h or left + bw > w:
        raise ValueError(
            f"box of size ({bh}, {bw}) centred at ({ch}, {cw}) leaves the ({h}, {w}) image"
        )
    mask = torch.ones(1, 1, h, w)
    mask[..., top : top + bh, left : left + bw] = 0
    return mask


def half_mask(image_size: int | Sequence[int], side: str = "bottom") -> torch.Tensor:
    """Inpainting mask ``(1, 1, H, W)`` hiding one half: ``side`` in top/bottom/left/right.

    >>> half_mask((2, 4), "right")[0, 0]
    tensor([[1., 1., 0., 0.],
            [1., 1., 0., 0.]])
    """
    h, w = _image_size(image_size)
    check_one_of("side", side, ("top", "bottom", "left", "right"))
    mask = torch.ones(1, 1, h, w)
    if side == "bottom":
        mask[..., h - h // 2 :, :] = 0
    elif side == "top":
        mask[..., : h // 2, :] = 0
    elif side == "right":
        mask[..., :, w - w // 2 :] = 0
    else:
        mask[..., :, : w // 2] = 0
    return mask


def random_mask(
    image_size: int | Sequence[int], fraction: float, seed: int | torch.Generator
) -> torch.Tensor:
    """Inpainting mask ``(1, 1, H, W)`` hiding ``round(fraction * H * W)`` random pixels.

    Same ``seed``, same mask.

    >>> mask = random_mask(10, 0.3, seed=0)
    >>> tuple(mask.shape), int(mask.sum())
    ((1, 1, 10, 10), 70)
    """
    h, w = _image_size(image_size)
    fraction = check_number("fraction", fraction, minimum=0, maximum=1)
    order = torch.randperm(h * w, generator=make_generator(seed))
    mask = torch.ones(h * w)
    mask[order[: round(fraction * h * w)]] = 0
    return mask.view(1, 1, h, w)


class Inpainting(LinearOperator):
    r"""Pixel masking, :math:`A x = m \odot x` with a binary mask :math:`m` (1 = observed).

    ``mask`` has shape ``(H, W)``, ``(C, H, W)`` or ``(N, C, H, W)`` and broadcasts against
    the images; measurements keep the image shape (hidden pixels read 0). :math:`A` is an
    orthogonal projection, so :math:`A^\top = A^\dagger = A` and the null space is the set
    of images supported on the hidden pixels. Masks: :func:`box_mask`, :func:`half_mask`,
    :func:`random_mask`. A mask must observe at least one pixel. The same operator as
    ``deepinv.physics.Inpainting(img_size, mask=mask)``.

    >>> op = Inpainting(half_mask(4, "bottom"))
    >>> op(torch.ones(1, 1, 4, 4))[0, 0, :, 0]
    tensor([1., 1., 0., 0.])
    """

    mask: torch.Tensor

    def __init__(self, mask: torch.Tensor):
        super().__init__()
        if not isinstance(mask, torch.Tensor):
            raise TypeError(f"mask must be a torch.Tensor, got {type(mask).__name__}")
        if not 2 <= mask.ndim <= 4:
            raise ValueError(
                f"mask must have shape (H,W), (C,H,W) or (N,C,H,W), got {format_shape(mask.shape)}"
            )
        mask = check_finite("mask", mask.float() if mask.dtype == torch.bool else mask)
        if not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError("mask must be binary (0 = hidden, 1 = observed)")
        if not bool((mask == 1).any()):
            raise ValueError(
                "mask observes no pixel, so Inpainting would measure nothing; expected at "
                f"least one 1 (observed), got all zeros of shape {format_shape(mask.shape)}"
            )
        self.register_buffer("mask", mask.reshape((1,) * (4 - mask.ndim) + tuple(mask.shape)))

    def extra_repr(self) -> str:
        observed = self.mask.mean().item()
        return f"mask={format_shape(self.mask.shape)}, observed={observed:.0%}"

    def measurement_shape(self, image_shape: Shape) -> tuple[int, ...]:
        image_shape = self._check_image_shape(image_shape)
        try:
            return tuple(torch.broadcast_shapes(image_shape, self.mask.shape))
        except RuntimeError:
            raise ValueError(
                f"mask of shape {format_shape(self.mask.shape)} does not broadcast against images "
                f"of shape {format_shape(image_shape)}"
            ) from None

    def image_shape(self, measurement_shape: Shape) -> tuple[int, ...]:
        if len(measurement_shape) != 4:
            raise ValueError(f"y must have shape (N,C,H,W), got {format_shape(measurement_shape)}")
        try:
            return tuple(torch.broadcast_shapes(tuple(measurement_shape), self.mask.shape))
        except RuntimeError:
            raise ValueError(
                f"y has shape {format_shape(measurement_shape)} but the mask has shape "
                f"{format_shape(self.mask.shape)}; expected y broadcastable against it"
            ) from None

    def _A(self, x):
        return cast_like(self.mask, x) * x

    def _A_adjoint(self, y):
        return cast_like(self.mask, y) * y

    def _A_dagger(self, y):
        return cast_like(self.mask, y) * y
