r"""The StyleGAN2 generator (Karras et al. 2020, "config F" with the skip to-RGB architecture),
with the module and parameter names of NVlabs' ``stylegan2-ada-pytorch``
(``training/networks.py``), so that the state dict of upstream's ``G_ema`` loads with
``strict=True``.

Written from the paper and upstream's structure:

- **mapping** (:class:`MappingNetwork`): ``z`` normalized to unit second moment, then
  ``fc0 ... fc{L-1}``, fully connected layers with leaky ReLU (gain :math:`\sqrt 2`) and
  learning-rate multiplier 0.01 (weights stored divided by it, used times it over
  :math:`\sqrt{\text{fan-in}}`); its buffer ``w_avg`` is the running mean of ``w``;
- **synthesis** (:class:`SynthesisNetwork`): blocks ``b4, b8, ..., bR``; ``b4`` starts from
  a learned constant ``(C, 4, 4)``; every other block up-samples x2 in ``conv0``. Each
  :class:`SynthesisLayer` is a modulated 3x3 convolution (styles from ``w`` by ``affine``,
  bias 1 at init), demodulated, plus noise ``noise_const * noise_strength``, then bias,
  leaky ReLU, gain :math:`\sqrt 2`, clamp at ``conv_clamp``. Each block's :class:`ToRGBLayer`
  (1x1, modulated, not demodulated) adds to the up-sampled image of the block below (skip).
  ``num_ws = 2 log2(R) - 2`` styles: ``b4`` takes ``w_0`` (conv1) and ``w_1`` (torgb); block
  ``j`` takes ``w_{2j-1}, w_{2j}, w_{2j+1}``.

Computation is float32 throughout (upstream's ``force_fp32=True``: its mixed-precision
``num_fp16_res`` only changes rounding on CUDA).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..utils import check_one_of, check_positive_int, make_generator
from .ops import bias_act, fir_filter, modulated_conv2d, normalize_2nd_moment, upsample

__all__ = [
    "StyleGAN2Config",
    "stylegan2_config",
    "FullyConnectedLayer",
    "MappingNetwork",
    "SynthesisLayer",
    "ToRGBLayer",
    "SynthesisBlock",
    "SynthesisNetwork",
    "StyleGAN2",
    "random_stylegan2",
    "NOISE_MODES",
]

NOISE_MODES = ("const", "none")  # upstream's noise_mode values that keep G deterministic


@dataclass(frozen=True)
class StyleGAN2Config:
    """What fixes a StyleGAN2 generator's shapes and maths (upstream's init kwargs).

    ``channels[i]`` is the width at resolution ``4 * 2**i``; ``resolution`` is then
    ``4 * 2**(len(channels) - 1)``. ``conv_clamp`` clamps every convolution's output (upstream
    uses 256 in its mixed-precision configs, ``None`` otherwise).
    """

    z_dim: int = 512
    w_dim: int = 512
    channels: tuple[int, ...] = (512,) * 5 + (256, 128, 64, 32)
    img_channels: int = 3
    mapping_layers: int = 8
    mapping_features: int | None = None  # width of the hidden mapping layers (None: w_dim)
    lr_multiplier: float = 0.01
    conv_clamp: float | None = None
    resample_filter: tuple[float, ...] = (1, 3, 3, 1)
    use_noise: bool = True
    kernel_size: int = 3

    @property
    def resolution(self) -> int:
        """Side of the output image."""
        return 4 * 2 ** (len(self.channels) - 1)

    @property
    def num_ws(self) -> int:
        """Number of styles ``w`` the synthesis network takes."""
        return 2 * len(self.channels)

    def as_dict(self) -> dict:
        """Plain fields (``channels`` and ``resample_filter`` as lists)."""
        out = asdict(self)
        out["channels"], out["resample_filter"] = list(self.channels), list(self.resample_filter)
        return out


def stylegan2_config(resolution: int = 1024, *, channel_base: int = 32768,
                     channel_max: int = 512, **fields) -> StyleGAN2Config:
    """Upstream's widths at ``resolution`` (a power of 2 from 4): ``min(channel_base // r,
    channel_max)`` at each resolution ``r`` (``channel_base = 16384`` is upstream's
    ``paper256`` setting); other :class:`StyleGAN2Config` fields as keywords.

    >>> stylegan2_config(256, channel_base=16384).channels
    (512, 512, 512, 512, 256, 128, 64)
    >>> stylegan2_config(1024).num_ws
    18
    """
    check_positive_int("resolution", resolution, minimum=4)
    levels = round(math.log2(resolution)) - 1
    if 4 * 2 ** (levels - 1) != resolution:
        raise ValueError(f"resolution must be a power of 2 >= 4, got {resolution!r}")
    channels = tuple(min(channel_base // (4 * 2**i), channel_max) for i in range(levels))
    return StyleGAN2Config(channels=channels, **fields)


class FullyConnectedLayer(nn.Module):
    r"""``act(x W^T g + b m)`` with ``g = lr_multiplier / sqrt(in_features)``,
    ``m = lr_multiplier``: an equalized-learning-rate linear layer (parameters ``weight
    (out, in)``, ``bias (out,)``)."""

    def __init__(self, in_features: int, out_features: int, *, activation: str = "linear",
                 lr_multiplier: float = 1.0, bias_init: float = 0.0):
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init)))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x @ (self.weight * self.weight_gain).T
        return bias_act(x, self.bias * self.bias_gain, act=self.activation)


class MappingNetwork(nn.Module):
    """``z (N, z_dim) -> w (N, w_dim)``: :func:`~eglass.stylegan.ops.normalize_2nd_moment`
    then ``fc0 ... fc{L-1}``; buffer ``w_avg (w_dim,)``."""

    def __init__(self, config: StyleGAN2Config):
        super().__init__()
        hidden = config.mapping_features or config.w_dim
        sizes = [config.z_dim] + [hidden] * (config.mapping_layers - 1) + [config.w_dim]
        self.num_layers = config.mapping_layers
        for i in range(self.num_layers):
            setattr(self, f"fc{i}", FullyConnectedLayer(
                sizes[i], sizes[i + 1], activation="lrelu", lr_multiplier=config.lr_multiplier))
        self.register_buffer("w_avg", torch.zeros(config.w_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = normalize_2nd_moment(z)
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        return x


class SynthesisLayer(nn.Module):
    """Modulated, demodulated ``kernel x kernel`` convolution (up-sampling by ``up``), noise,
    bias, leaky ReLU; parameters ``affine``, ``weight (O, I, k, k)``, ``noise_strength ()``,
    ``bias (O,)``; buffers ``resample_filter``, ``noise_const (R, R)``."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, resolution: int, *, up: int = 1,
                 config: StyleGAN2Config):
        super().__init__()
        self.up, self.resolution, self.conv_clamp = up, resolution, config.conv_clamp
        self.use_noise = config.use_noise
        self.register_buffer("resample_filter", fir_filter(config.resample_filter))
        self.affine = FullyConnectedLayer(w_dim, c_in, bias_init=1)
        k = config.kernel_size
        self.weight = nn.Parameter(torch.randn(c_out, c_in, k, k))
        if self.use_noise:
            self.register_buffer("noise_const", torch.randn(resolution, resolution))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(c_out))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: str = "const") -> torch.Tensor:
        x = modulated_conv2d(x, self.weight, self.affine(w), up=self.up, f=self.resample_filter)
        if self.use_noise and noise == "const":
            x = x + self.noise_const * self.noise_strength
        return bias_act(x, self.bias, act="lrelu", clamp=self.conv_clamp)


class ToRGBLayer(nn.Module):
    """Modulated 1x1 convolution to ``img_channels``, not demodulated, plus bias; styles
    scaled by ``1 / sqrt(in_channels)``."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, *, conv_clamp: float | None = None):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, c_in, bias_init=1)
        self.weight = nn.Parameter(torch.randn(c_out, c_in, 1, 1))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.weight_gain = 1 / math.sqrt(c_in)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False)
        return bias_act(x, self.bias, clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One resolution: ``const`` (first block) or ``conv0`` (up-sampling), ``conv1``,
    ``torgb``, adding to the up-sampled image of the block below (buffer
    ``resample_filter``)."""

    def __init__(self, c_in: int, c_out: int, resolution: int, config: StyleGAN2Config):
        super().__init__()
        self.c_in, self.resolution = c_in, resolution
        self.register_buffer("resample_filter", fir_filter(config.resample_filter))
        w_dim = config.w_dim
        if c_in == 0:
            self.const = nn.Parameter(torch.randn(c_out, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(c_in, c_out, w_dim, resolution, up=2, config=config)
        self.conv1 = SynthesisLayer(c_out, c_out, w_dim, resolution, config=config)
        self.torgb = ToRGBLayer(c_out, config.img_channels, w_dim, conv_clamp=config.conv_clamp)
        self.num_conv = 1 if c_in == 0 else 2

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: Sequence[torch.Tensor],
                noise: str = "const") -> tuple[torch.Tensor, torch.Tensor]:
        if self.c_in == 0:
            x = self.const.expand(ws[0].shape[0], *self.const.shape)
        else:
            x = self.conv0(x, ws[0], noise)
        x = self.conv1(x, ws[self.num_conv - 1], noise)
        y = self.torgb(x, ws[self.num_conv])
        img = y if img is None else upsample(img, self.resample_filter) + y
        return x, img


class SynthesisNetwork(nn.Module):
    """``ws (N, num_ws, w_dim) -> image (N, img_channels, R, R)``: blocks ``b4 ... bR``."""

    def __init__(self, config: StyleGAN2Config):
        super().__init__()
        self.w_dim, self.num_ws = config.w_dim, config.num_ws
        self.resolutions = [4 * 2**i for i in range(len(config.channels))]
        widths = (0, *config.channels)
        for i, res in enumerate(self.resolutions):
            setattr(self, f"b{res}", SynthesisBlock(widths[i], widths[i + 1], res, config))

    def forward(self, ws: torch.Tensor, noise: str = "const") -> torch.Tensor:
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must have shape (N, {self.num_ws}, {self.w_dim}), got "
                             f"{tuple(ws.shape)}")
        styles = ws.unbind(1)
        x = img = None
        first = 0
        for res in self.resolutions:
            block = getattr(self, f"b{res}")
            x, img = block(x, img, styles[first:first + block.num_conv + 1], noise)
            first += block.num_conv
        return img


class StyleGAN2(nn.Module):
    """The generator: ``mapping`` and ``synthesis`` (upstream's ``Generator`` without labels).

    ``forward(ws)`` is the synthesis network; :meth:`map` the mapping network. Use it through
    a latent space (:mod:`eglass.stylegan.latent`), which gives eglass's generator protocol.

    >>> net = StyleGAN2(StyleGAN2Config(z_dim=8, w_dim=8, channels=(8, 4), mapping_layers=2))
    >>> net.num_ws, tuple(net(torch.zeros(1, 4, 8)).shape)
    (4, (1, 3, 8, 8))
    """

    def __init__(self, config: StyleGAN2Config):
        super().__init__()
        if not config.channels or min(config.channels) < 1:
            raise ValueError(f"channels must be positive widths, got {config.channels!r}")
        self.config = config
        self.z_dim, self.w_dim, self.num_ws = config.z_dim, config.w_dim, config.num_ws
        self.img_resolution, self.img_channels = config.resolution, config.img_channels
        self.synthesis = SynthesisNetwork(config)
        self.mapping = MappingNetwork(config)
        self.eval()

    def map(self, z: torch.Tensor) -> torch.Tensor:
        """``w = mapping(z)``, ``(N, w_dim)``."""
        return self.mapping(z)

    def forward(self, ws: torch.Tensor, noise: str = "const") -> torch.Tensor:
        return self.synthesis(ws, check_one_of("noise", noise, NOISE_MODES))


def random_stylegan2(config: StyleGAN2Config, *, seed: int, noise_strength: float = 0.1,
                     w_avg_samples: int = 4096) -> StyleGAN2:
    """A seeded :class:`StyleGAN2` with upstream's initialization (weights, constant and noise
    images N(0, 1), biases 0, ``affine`` biases 1), except what upstream learns from zero:
    every ``noise_strength`` is set to ``noise_strength`` and ``w_avg`` to the mean ``w`` of
    ``w_avg_samples`` draws of ``z`` (what training's running mean tracks), so that noise
    inputs and truncation have an effect. Random weights: costs and code paths, not images.

    >>> G = random_stylegan2(StyleGAN2Config(z_dim=8, w_dim=8, channels=(8, 4)), seed=0)
    >>> bool(G.mapping.w_avg.abs().sum() > 0)
    True
    """
    net = StyleGAN2(config)
    gen = make_generator(seed)
    with torch.no_grad():
        for name, p in [*net.named_parameters(), *net.named_buffers()]:
            leaf = name.rsplit(".", 1)[-1]
            if leaf in ("weight", "const", "noise_const"):
                p.copy_(torch.randn(p.shape, generator=gen) / _lr_multiplier(net, name))
            elif leaf == "noise_strength":
                p.fill_(noise_strength)
        z = torch.randn(w_avg_samples, config.z_dim, generator=gen)
        net.mapping.w_avg.copy_(net.map(z).mean(dim=0))
    return net


def _lr_multiplier(net: StyleGAN2, name: str) -> float:
    return net.config.lr_multiplier if name.startswith("mapping.") else 1.0
