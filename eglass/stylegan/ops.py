r"""The operations of StyleGAN2 (Karras et al. 2020) as plain torch: reference versions of the
custom CUDA ops of NVlabs' ``stylegan2-ada-pytorch`` (``torch_utils/ops``), written from the
paper and upstream's documented semantics.

Every function here is built from ``conv2d``, ``conv_transpose2d``, ``pad`` and pointwise
ops, so it runs on any device and under ``torch.func.jvp`` / ``vmap`` (no custom
``autograd.Function``).

- :func:`fir_filter`: the low-pass FIR filter (``[1, 3, 3, 1]`` -> its normalized outer
  product), upstream's ``setup_filter``;
- :func:`upfirdn`: up-sample by zero insertion, pad, convolve with the filter (upstream's
  ``upfirdn2d`` without down-sampling), and :func:`upsample` (``upsample2d``);
- :func:`bias_act`: bias, activation, gain, clamp (``bias_act``);
- :func:`modulated_conv2d`: the modulated / demodulated convolution, with optional x2
  up-sampling through the FIR filter (``modulated_conv2d`` + ``conv2d_resample``);
- :func:`normalize_2nd_moment`: the mapping network's input normalization.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = [
    "ACTIVATIONS",
    "fir_filter",
    "upfirdn",
    "upsample",
    "bias_act",
    "demodulation",
    "modulated_conv2d",
    "normalize_2nd_moment",
]

# name -> (function, default gain): upstream's activation table, the two StyleGAN2 uses.
ACTIVATIONS = {
    "linear": (lambda x, alpha: x, 1.0),
    "lrelu": (lambda x, alpha: F.leaky_relu(x, alpha), math.sqrt(2.0)),
}
DEMODULATION_EPS = 1e-8


def fir_filter(taps: Sequence[float] = (1, 3, 3, 1)) -> torch.Tensor:
    """The 2-D FIR filter ``(k, k)`` of 1-D ``taps``: their outer product, normalized to sum 1
    (a constant image keeps its value).

    >>> fir_filter((1, 3, 3, 1)) * 64
    tensor([[1., 3., 3., 1.],
            [3., 9., 9., 3.],
            [3., 9., 9., 3.],
            [1., 3., 3., 1.]])
    """
    f = torch.as_tensor(taps, dtype=torch.float32)
    if f.ndim == 1:
        f = torch.outer(f, f)
    if f.ndim != 2 or f.shape[0] != f.shape[1] or f.sum() == 0:
        raise ValueError(f"taps must be 1-D or a square 2-D filter with a nonzero sum, got "
                         f"shape {tuple(f.shape)}")
    return f / f.sum()


def upfirdn(x: torch.Tensor, f: torch.Tensor, *, up: int = 1, pad: tuple[int, int] = (0, 0),
            gain: float = 1.0) -> torch.Tensor:
    r"""Up-sample ``x (N, C, H, W)`` by inserting ``up - 1`` zeros after each pixel, pad by
    ``pad = (p0, p1)`` zeros on both axes (negative: crop), convolve every channel with the
    filter ``f (k, k)`` times ``gain`` (a true convolution, keeping only outputs whose
    footprint lies inside): ``(N, C, H up + p0 + p1 - k + 1, ...)``.

    Computed as one depthwise transposed convolution of stride ``up`` (which is the zero
    insertion followed by the full convolution), then cropped or padded to the window.

    >>> x = torch.ones(1, 1, 4, 4)
    >>> upfirdn(x, fir_filter(), up=2, pad=(2, 1), gain=4.0)[0, 0, 2:6, 2:6]
    tensor([[1., 1., 1., 1.],
            [1., 1., 1., 1.],
            [1., 1., 1., 1.],
            [1., 1., 1., 1.]])
    """
    channels, k = x.shape[1], f.shape[-1]
    kernel = (f * gain).to(x).expand(channels, 1, k, k)
    y = F.conv_transpose2d(x, kernel, stride=up, groups=channels)
    # y[q] is the full convolution at position q - (k - 1) of the padded, up-sampled signal
    before, after = pad[0] - (k - 1), pad[1] + up - k
    return F.pad(y, (before, after, before, after))


def upsample(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """``x (N, C, H, W)`` up-sampled by ``up`` through the filter ``f (k, k)``:
    ``(N, C, H up, W up)``, the signal's level kept (gain ``up ** 2``).

    >>> upsample(torch.ones(1, 1, 4, 4), fir_filter()).shape
    torch.Size([1, 1, 8, 8])
    """
    k = f.shape[-1]
    return upfirdn(x, f, up=up, pad=((k + up - 1) // 2, (k - up) // 2), gain=up**2)


def bias_act(x: torch.Tensor, b: torch.Tensor | None = None, *, act: str = "linear",
             alpha: float = 0.2, gain: float | None = None,
             clamp: float | None = None) -> torch.Tensor:
    r"""``clamp(gain * act(x + b))``: ``b (C,)`` added along dimension 1, the activation
    (``"linear"`` or ``"lrelu"`` with slope ``alpha``), the gain (default: the activation's,
    :math:`\sqrt 2` for leaky ReLU), then clamping to ``[-clamp, clamp]`` if ``clamp``.

    >>> bias_act(torch.tensor([[-1.0, 2.0]]), torch.tensor([0.0, 1.0]), act="lrelu")
    tensor([[-0.2828,  4.2426]])
    """
    if act not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {act!r}")
    fn, default_gain = ACTIVATIONS[act]
    if b is not None:
        x = x + b.reshape(-1, *([1] * (x.ndim - 2)))
    x = fn(x, alpha)
    gain = default_gain if gain is None else gain
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def demodulation(weight: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
    r"""Demodulation coefficients ``(N, O)``:
    :math:`\big(\sum_{i,k} (w_{oik} s_{ni})^2 + 10^{-8}\big)^{-1/2}` for ``weight (O, I, k, k)``
    and ``styles (N, I)``, as one matrix product."""
    energy = weight.square().sum(dim=(2, 3))  # (O, I)
    return (styles.square() @ energy.T + DEMODULATION_EPS).rsqrt()


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, *,
                     demodulate: bool = True, up: int = 1,
                     f: torch.Tensor | None = None) -> torch.Tensor:
    r"""StyleGAN2's modulated convolution of ``x (N, I, H, W)`` with ``weight (O, I, k, k)``
    scaled per sample by ``styles (N, I)``, demodulated (:func:`demodulation`) if asked:
    ``(N, O, H up, W up)``, "same" padding.

    Computed in upstream's unfused form -- scale the input by the styles, convolve with the
    shared weight, scale the output by the demodulation coefficients -- which equals the fused
    per-sample weight :math:`w'_{noik} = d_{no} s_{ni} w_{oik}` exactly in exact arithmetic.
    ``up = 2`` is the transposed convolution of stride 2 followed by the FIR filter ``f``
    (gain 4), the fast path of upstream's ``conv2d_resample`` (no weight flip).
    """
    n, k = x.shape[0], weight.shape[-1]
    x = x * styles.reshape(n, -1, 1, 1)
    if up == 1:
        x = F.conv2d(x, weight, padding=k // 2)
    else:
        if f is None:
            raise ValueError("modulated_conv2d with up > 1 needs the FIR filter f")
        x = F.conv_transpose2d(x, weight.transpose(0, 1), stride=up)
        taps, padding = f.shape[-1], k // 2
        pad0 = padding + (taps + up - 1) // 2 - (k - 1)
        pad1 = padding + (taps - up) // 2 - (k - up)
        x = upfirdn(x, f, pad=(pad0, pad1), gain=up**2)
    if demodulate:
        x = x * demodulation(weight, styles).reshape(n, -1, 1, 1)
    return x


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    r""":math:`x / \sqrt{\mathrm{mean}(x^2) + \epsilon}` along dimension 1 (pixel norm of ``z``).

    >>> normalize_2nd_moment(torch.tensor([[3.0, 4.0]])) ** 2
    tensor([[0.7200, 1.2800]])
    """
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()
