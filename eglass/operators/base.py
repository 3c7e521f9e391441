r"""Linear forward models :math:`y = A x + n` (Eq. 1 of the e-GLASS paper).

Every operator is a :class:`LinearOperator` (an ``nn.Module`` whose parameters are buffers)
acting on image batches ``x`` of shape ``(N, C, H, W)``:

- ``A(x)`` (also ``op(x)``): the measurements :math:`A x`;
- ``A_adjoint(y)``: :math:`A^\top y`, exact (the dot test :math:`\langle Ax, y\rangle =
  \langle x, A^\top y\rangle` holds to rounding);
- ``A_dagger(y)``: the Moore--Penrose pseudo-inverse :math:`A^\dagger y`, in closed form for
  every built-in operator, otherwise by CGLS (see :meth:`LinearOperator.A_dagger`);
- ``range_project(x)`` :math:`= A^\dagger A x` and ``null_project(x)`` :math:`= x - A^\dagger
  A x`: the split of an image into the part the measurements see and the part they do not;
- ``measurement_shape(image_shape)``; ``rank(image_shape)`` (exact, for small images).

Calls are pure functions of their input (no in-place ops, no side effects on the operator,
buffers cast to the input's dtype and device), so ``torch.func.jvp``/``vmap`` and autograd go
through them. Noise is separate from ``A``: ``y = add_noise(A(x), sigma, seed)``.

A DeepInverse ``LinearPhysics`` becomes one with :func:`from_deepinv` (optional extra
``eglass[deepinv]``; :mod:`eglass.deepinv_ops`), and every eglass entry point that takes an
operator also takes the physics itself (:func:`as_operator`).

To use your own linear model, subclass :class:`LinearOperator` and implement ``_A`` and
``_A_adjoint``; ``A_dagger`` then falls back to CGLS.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from ..utils import check_finite, format_shape, make_generator

__all__ = [
    "LinearOperator",
    "Denoising",
    "SuperResolution",
    "Inpainting",
    "Blur",
    "CompressedSensing",
    "box_mask",
    "half_mask",
    "random_mask",
    "gaussian_kernel",
    "add_noise",
    "dot_test",
    "from_deepinv",  # noqa: F822 (module __getattr__, from eglass.deepinv_ops)
    "as_operator",  # noqa: F822
]

Shape = Sequence[int]


def _is_transformed(t: torch.Tensor) -> bool:
    """True inside ``torch.func`` transforms, where value checks (``.item()``) are skipped."""
    return torch._C._functorch.is_functorch_wrapped_tensor(t)


def _like(buffer: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return buffer.to(device=x.device, dtype=x.dtype)


def _batch_dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).flatten(1).sum(dim=1)


def _per_sample(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.view(-1, *([1] * (like.ndim - 1)))


def _check_sigma(sigma: float, *, positive: bool) -> float:
    """``sigma`` as a float; raise unless it is a finite number ``> 0`` (or ``>= 0``)."""
    is_scalar_tensor = isinstance(sigma, torch.Tensor) and sigma.numel() == 1
    if isinstance(sigma, bool) or not (isinstance(sigma, numbers.Real) or is_scalar_tensor):
        raise TypeError(f"sigma must be a real number, got {type(sigma).__name__}")
    value = float(sigma)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"sigma must be a finite number {bound}, got {sigma}")
    return value


class LinearOperator(nn.Module):
    r"""Base class of the linear forward models :math:`x \mapsto A x`.

    Subclasses implement ``_A(x)`` and ``_A_adjoint(y)``; they may implement ``_A_dagger(y)``
    (closed-form pseudo-inverse), ``measurement_shape`` and ``image_shape``. The public
    methods check their input (shape, finite values) and then call these.

    >>> class Sum(LinearOperator):  # per-channel pixel sum of 4x4 images: (N,C,4,4) -> (N,C)
    ...     def _A(self, x):
    ...         return x.sum(dim=(2, 3))
    ...     def _A_adjoint(self, y):
    ...         return y[:, :, None, None].expand(-1, -1, 4, 4)
    >>> op = Sum()
    >>> op.A_dagger(torch.tensor([[16.0]]))[0, 0, 0]  # CGLS: the flat image, minimum norm
    tensor([1., 1., 1., 1.])
    >>> dot_test(op, (2, 3, 4, 4)) < 1e-12
    True
    """

    #: CGLS settings of the generic pseudo-inverse (used when ``_A_dagger`` is not defined).
    cgls_max_iter: int = 500

    # -- subclass hooks -------------------------------------------------------------------
    def _A(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _A_dagger(self, y: torch.Tensor) -> torch.Tensor:
        return self._cgls(y)

    def image_shape(self, measurement_shape: Shape) -> tuple[int, ...] | None:
        """Image shape ``(N,C,H,W)`` that measurements of this shape come from (``None`` if
        the operator cannot tell); raises ``ValueError`` for measurements it cannot take."""
        return None

    def measurement_shape(self, image_shape: Shape) -> tuple[int, ...]:
        """Shape of ``A(x)`` for images ``x`` of shape ``image_shape = (N, C, H, W)``."""
        image_shape = self._check_image_shape(image_shape)
        probe = torch.zeros((1, *image_shape[1:]), dtype=torch.float64)
        return (image_shape[0], *self._A(probe).shape[1:])

    # -- public API -----------------------------------------------------------------------
    def A(self, x: torch.Tensor) -> torch.Tensor:
        r"""Measurements :math:`A x`. ``x``: images ``(N, C, H, W)``."""
        return self._A(self._check_x(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``op(x)`` is ``op.A(x)``."""
        return self.A(x)

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        r"""Adjoint :math:`A^\top y`. ``y``: measurements, shape ``measurement_shape(...)``."""
        return self._A_adjoint(self._check_y(y))

    def A_dagger(self, y: torch.Tensor) -> torch.Tensor:
        r"""Moore--Penrose pseudo-inverse :math:`A^\dagger y` (minimum-norm least squares).

        Built-in operators use closed forms. The generic fallback is CGLS (conjugate
        gradients on the normal equations :math:`A^\top A x = A^\top y`) started at
        :math:`x = 0`, whose iterates stay in the range of :math:`A^\top` and therefore
        converge to :math:`A^\dagger y`; it stops when
        :math:`\|A^\top(y - Ax)\| \le \mathrm{rtol}\,\|A^\top y\|` for every sample (rtol
        :math:`10^{-12}` in float64, :math:`10^{-6}` otherwise) or after ``cgls_max_iter``.
        """
        return self._A_dagger(self._check_y(y))

    def range_project(self, x: torch.Tensor) -> torch.Tensor:
        r"""Orthogonal projection onto the row space, :math:`A^\dagger A x`, shape of ``x``."""
        return self._A_dagger(self._A(self._check_x(x)))

    def null_project(self, x: torch.Tensor) -> torch.Tensor:
        r"""Orthogonal projection onto the null space, :math:`x - A^\dagger A x`.

        ``A(null_project(x)) = 0``: this is the part of ``x`` the measurements cannot see.
        """
        x = self._check_x(x)
        return x - self._A_dagger(self._A(x))

    def rank(
        self, image_shape: Shape, *, dtype: torch.dtype = torch.float64, chunk: int = 1024
    ) -> int:
        r"""Rank of :math:`A` on single images of shape ``(C, H, W)`` (or ``(1, C, H, W)``).

        Computed exactly as the trace of the projector :math:`A^\dagger A` applied to the
        standard basis (``n = CHW`` basis images of ``dtype``, ``chunk`` at a time), so meant
        for small images. The null space has dimension ``n - rank``. ``dtype`` matters only
        where the pseudo-inverse's cutoff depends on it (:class:`Blur`).
        """
        shape = tuple(int(s) for s in image_shape)
        if len(shape) == 4 and shape[0] == 1:
            shape = shape[1:]
        if len(shape) != 3:
            raise ValueError(f"image_shape must be (C,H,W) or (1,C,H,W), got {shape}")
        n = math.prod(shape)
        device = next((b.device for b in self.buffers()), torch.device("cpu"))
        trace = 0.0
        for start in range(0, n, chunk):
            index = torch.arange(start, min(start + chunk, n), device=device)
            basis = torch.zeros(len(index), n, dtype=dtype, device=device)
            basis[torch.arange(len(index)), index] = 1
            projected = self.range_project(basis.view(-1, *shape))
            trace += projected.flatten(1)[torch.arange(len(index)), index].sum().item()
        return round(trace)

    # -- checks ---------------------------------------------------------------------------
    def _check_image_shape(self, image_shape: Shape) -> tuple[int, ...]:
        shape = tuple(int(s) for s in image_shape)
        if len(shape) != 4 or shape[0] < 0 or min(shape[1:]) < 1:
            raise ValueError(
                "image_shape must be (N,C,H,W) with N >= 0 and positive C, H, W, got "
                f"{format_shape(shape)}"
            )
        return shape

    def _check_x(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor (N,C,H,W), got {type(x).__name__}")
        if x.ndim != 4:
            raise ValueError(
                f"x must have shape (N,C,H,W), got {format_shape(x.shape)} for {self!r}"
            )
        if not x.is_floating_point():
            raise TypeError(f"x must be a floating-point tensor, got dtype {x.dtype}")
        if type(self).measurement_shape is not LinearOperator.measurement_shape:
            self.measurement_shape(x.shape)  # raises for sizes this operator cannot take
        if not _is_transformed(x):
            check_finite("x", x)
        return x

    def _check_y(self, y: torch.Tensor) -> torch.Tensor:
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"y must be a torch.Tensor, got {type(y).__name__}")
        if not y.is_floating_point():
            raise TypeError(f"y must be a floating-point tensor, got dtype {y.dtype}")
        self.image_shape(y.shape)  # raises for measurements this operator cannot take
        if not _is_transformed(y):
            check_finite("y", y)
        return y

    # -- generic pseudo-inverse -------------------------------------------------------------
    def _cgls(self, y: torch.Tensor) -> torch.Tensor:
        rtol = 1e-12 if y.dtype == torch.float64 else 1e-6
        s = self._A_adjoint(y)
        x = torch.zeros_like(s)
        r, p = y, s
        gamma = _batch_dot(s, s)
        stop = rtol**2 * gamma
        for _ in range(self.cgls_max_iter):
            if bool((gamma <= stop).all()):
                break
            q = self._A(p)
            qq = _batch_dot(q, q)
            alpha = torch.where(qq > 0, gamma / torch.where(qq > 0, qq, 1), 0)
            x = x + _per_sample(alpha, x) * p
            r = r - _per_sample(alpha, r) * q
            s = self._A_adjoint(r)
            gamma_new = _batch_dot(s, s)
            beta = torch.where(gamma > 0, gamma_new / torch.where(gamma > 0, gamma, 1), 0)
            p = s + _per_sample(beta, p) * p
            gamma = gamma_new
        return x


# ---------------------------------------------------------------------------------------------
class Denoising(LinearOperator):
    r"""The identity, :math:`A = I`: measurements are the (noisy) image itself.

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


# ---------------------------------------------------------------------------------------------
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
        if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
            raise ValueError(f"factor must be a positive integer, got {factor!r}")
        if kernel not in ("box", "bicubic"):
            raise ValueError(f"kernel must be 'box' or 'bicubic', got {kernel!r}")
        self.factor = factor
        self.kernel = kernel

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
            return _like(bh_pinv, like), _like(bw_pinv, like)
        return _like(bh, like), _like(bw, like)

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


# ---------------------------------------------------------------------------------------------
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
    mask = torch.ones(1, 1, h, w)
    if side == "bottom":
        mask[..., h - h // 2 :, :] = 0
    elif side == "top":
        mask[..., : h // 2, :] = 0
    elif side == "right":
        mask[..., :, w - w // 2 :] = 0
    elif side == "left":
        mask[..., :, : w // 2] = 0
    else:
        raise ValueError(f"side must be 'top', 'bottom', 'left' or 'right', got {side!r}")
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
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
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
        return _like(self.mask, x) * x

    def _A_adjoint(self, y):
        return _like(self.mask, y) * y

    def _A_dagger(self, y):
        return _like(self.mask, y) * y


# ---------------------------------------------------------------------------------------------
def gaussian_kernel(size: int, sigma: float) -> torch.Tensor:
    r"""Normalized ``(size, size)`` Gaussian kernel :math:`k_{ij} \propto e^{-(i^2+j^2)/2\sigma^2}`
    (offsets from the centre), float64; ``sigma`` must be finite and positive.

    >>> k = gaussian_kernel(3, 1.0)
    >>> tuple(k.shape), round(k.sum().item(), 12), bool(k[1, 1] == k.max())
    ((3, 3), 1.0, True)
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    sigma = _check_sigma(sigma, positive=True)
    t = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(t**2) / (2 * sigma**2))
    k = g[:, None] * g[None, :]
    return k / k.sum()


class Blur(LinearOperator):
    r"""Convolution with a 2-D ``kernel`` ``(kh, kw)``, the same on every channel.

    **Boundary condition: circular** (periodic), computed with the FFT. The kernel centre
    (index ``(kh // 2, kw // 2)``) is the origin, so
    :math:`(A x)_{ij} = \sum_{ab} k_{ab}\, x_{(i - a + kh//2) \bmod H,\,(j - b + kw//2) \bmod W}`.
    :math:`A` is diagonal in the Fourier basis with transfer function :math:`\hat k`, hence

    - :math:`A^\top`: multiply by :math:`\overline{\hat k}` (exact);
    - :math:`A^\dagger`: multiply by :math:`\overline{\hat k} / |\hat k|^2` where
      :math:`|\hat k| > \mathrm{rtol} \max |\hat k|` and by 0 elsewhere -- exactly
      ``torch.linalg.pinv``'s rule for the ``HW x HW`` matrix; ``rtol`` defaults, like
      ``pinv``, to :math:`HW\,\varepsilon` of the input dtype. Frequencies below the cutoff
      form the null space.

    The same operator as ``deepinv.physics.BlurFFT(img_size, filter=kernel[None, None])`` and
    ``deepinv.physics.Blur(filter=kernel[None, None], padding="circular")`` (same origin
    convention, odd and even kernel sizes); the pseudo-inverse cutoffs differ: deepinv's
    ``BlurFFT`` drops singular values below an absolute :math:`10^{-5}`, its ``Blur`` runs
    50 CG steps.

    The kernel must be finite and not all zero.

    >>> op = Blur(gaussian_kernel(5, 1.0))
    >>> x = torch.rand(2, 1, 16, 16, dtype=torch.float64)
    >>> torch.allclose(op.A_dagger(op(x)), x)  # this blur is invertible in float64
    True
    """

    kernel: torch.Tensor

    def __init__(self, kernel: torch.Tensor, rtol: float | None = None):
        super().__init__()
        if not isinstance(kernel, torch.Tensor) or kernel.ndim != 2:
            shape = format_shape(kernel.shape) if isinstance(kernel, torch.Tensor) else type(kernel)
            raise ValueError(f"kernel must be a 2-D tensor (kh, kw), got {shape}")
        if not kernel.is_floating_point():
            raise TypeError(f"kernel must be floating point, got dtype {kernel.dtype}")
        if rtol is not None and not rtol >= 0:
            raise ValueError(f"rtol must be >= 0, got {rtol}")
        check_finite("kernel", kernel)
        if not bool((kernel != 0).any()):
            raise ValueError(
                "kernel is all zero, so Blur would measure nothing; expected a kernel with at "
                f"least one non-zero entry, got shape {format_shape(kernel.shape)}"
            )
        self.register_buffer("kernel", kernel.clone())
        self.rtol = rtol

    def extra_repr(self) -> str:
        return f"kernel={format_shape(self.kernel.shape)}, boundary='circular', rtol={self.rtol}"

    def measurement_shape(self, image_shape: Shape) -> tuple[int, ...]:
        image_shape = self._check_image_shape(image_shape)
        kh, kw = self.kernel.shape
        if kh > image_shape[2] or kw > image_shape[3]:
            raise ValueError(
                f"kernel of shape ({kh},{kw}) is larger than the images "
                f"{format_shape(image_shape, 'N')}"
            )
        return image_shape

    def image_shape(self, measurement_shape: Shape) -> tuple[int, ...]:
        if len(measurement_shape) != 4:
            raise ValueError(f"y must have shape (N,C,H,W), got {format_shape(measurement_shape)}")
        return self.measurement_shape(measurement_shape)

    def transfer_function(self, h: int, w: int, like: torch.Tensor | None = None) -> torch.Tensor:
        r""":math:`\hat k`: ``rfft2`` of the centred kernel on an h x w grid, ``(h, w//2+1)``."""
        k = self.kernel if like is None else _like(self.kernel, like)
        kh, kw = k.shape
        k = F.pad(k, (0, w - kw, 0, h - kh))
        k = torch.roll(k, shifts=(-(kh // 2), -(kw // 2)), dims=(0, 1))
        return torch.fft.rfft2(k)

    def _filter(self, t: torch.Tensor, response: torch.Tensor) -> torch.Tensor:
        if t.numel() == 0:  # an empty batch (MKL's FFT refuses size 0); keeps the graph
            return t * 0
        h, w = t.shape[-2:]
        return torch.fft.irfft2(torch.fft.rfft2(t) * response, s=(h, w))

    def _A(self, x):
        return self._filter(x, self.transfer_function(*x.shape[-2:], like=x))

    def _A_adjoint(self, y):
        return self._filter(y, self.transfer_function(*y.shape[-2:], like=y).conj())

    def _A_dagger(self, y):
        h, w = y.shape[-2:]
        k = self.transfer_function(h, w, like=y)
        magnitude = k.abs()
        rtol = h * w * torch.finfo(y.dtype).eps if self.rtol is None else self.rtol
        keep = magnitude > rtol * magnitude.max()
        inverse = torch.where(keep, k.conj() / torch.where(keep, magnitude, 1) ** 2, 0)
        return self._filter(y, inverse)


# ---------------------------------------------------------------------------------------------
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
        return x.flatten(1) @ _like(self.matrix, x).T

    def _A_adjoint(self, y):
        return (y @ _like(self.matrix, y)).reshape(y.shape[0], *self.shape)

    def _A_dagger(self, y):
        return (y @ _like(self.matrix_pinv, y).T).reshape(y.shape[0], *self.shape)


# ---------------------------------------------------------------------------------------------
def add_noise(y: torch.Tensor, sigma: float, seed: int | torch.Generator) -> torch.Tensor:
    r"""Noisy measurements :math:`y + \sigma n`, :math:`n \sim \mathcal{N}(0, I)` drawn from
    ``seed`` (same seed, same noise), ``sigma`` (finite, ``>= 0``) in the units of ``y``
    ([-1, 1] images).

    >>> y = torch.zeros(1, 1, 100, 100)
    >>> torch.equal(add_noise(y, 0.1, seed=0), add_noise(y, 0.1, seed=0))
    True
    >>> round(add_noise(y, 0.1, seed=0).std().item(), 2)
    0.1
    """
    sigma = _check_sigma(sigma, positive=False)
    check_finite("y", y)
    g = make_generator(seed, device=y.device)
    return y + sigma * torch.randn(y.shape, generator=g, dtype=y.dtype, device=y.device)


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


def __getattr__(name: str):
    """``from_deepinv`` and ``as_operator`` live in :mod:`eglass.deepinv_ops` (which builds on
    this module; deepinv itself is imported only when a physics is wrapped)."""
    if name in ("from_deepinv", "as_operator"):
        from . import deepinv as deepinv_ops

        return getattr(deepinv_ops, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
