r"""Blur: circular convolution with a 2-D kernel (FFT), and :func:`gaussian_kernel`."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..utils import check_finite, check_number, check_positive_int, format_shape
from .base import LinearOperator, Shape, cast_like, check_sigma

__all__ = ["Blur", "gaussian_kernel"]


def gaussian_kernel(size: int, sigma: float) -> torch.Tensor:
    r"""Normalized ``(size, size)`` Gaussian kernel :math:`k_{ij} \propto e^{-(i^2+j^2)/2\sigma^2}`
    (offsets from the centre), float64; ``sigma`` must be finite and positive.

    >>> k = gaussian_kernel(3, 1.0)
    >>> tuple(k.shape), round(k.sum().item(), 12), bool(k[1, 1] == k.max())
    ((3, 3), 1.0, True)
    """
    size = check_positive_int("size", size)
    sigma = check_sigma(sigma, positive=True)
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
        if rtol is not None:
            rtol = check_number("rtol", rtol, minimum=0)
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
        k = self.kernel if like is None else cast_like(self.kernel, like)
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
