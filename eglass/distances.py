r"""Image distances written as sums of squared differences of scaled features.

Every :class:`Distance` exposes ``features(x)``: a list of tensors ``(N, ...)`` already scaled so
that the distance is the plain sum of squared feature differences,

.. math:: d(x_0, x_1) = \sum_l \lVert F_l(x_0) - F_l(x_1) \rVert_2^2 .

This is the form the metric Hessians need: at :math:`z = z_0` the Hessian of
:math:`\tfrac12 d(G(z), G(z_0))` is exactly :math:`J_F^\top J_F` (see :mod:`eglass.geometry`).

- :class:`LPIPS` wraps the ``lpips`` package (real LPIPS; backbone weights from the torch hub
  cache).
- :class:`FeatureDistance` is LPIPS-style on any network; :func:`classifier_distance` builds it
  on a classifier's conv blocks (the digit prior's default distance, see :mod:`eglass.priors`).
- Which distance a generator gets when none is given is chosen in :mod:`eglass.perceptual`,
  above this module and the prior registry.
- :class:`PixelDistance` is the mean squared pixel difference.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from urllib.parse import urlparse

import torch
from torch import nn

from .checkpoints import load_shipped, registry
from .operators import is_transformed
from .utils import check_images, format_shape

__all__ = [
    "Distance",
    "LPIPS",
    "FeatureDistance",
    "PixelDistance",
    "default_distance",
    "classifier_distance",
    "normalize_channels",
    "lpips_backbone_path",
]

EPS = 1e-10  # the lpips package's eps in normalize_tensor


def _check_images(name: str, x: torch.Tensor) -> torch.Tensor:
    """``check_images`` outside ``torch.func`` transforms; inside them shape checks only (the
    finiteness check needs ``.item()``, which ``vmap`` refuses)."""
    if not isinstance(x, torch.Tensor) or not is_transformed(x):
        return check_images(name, x)
    if x.ndim != 4:
        raise ValueError(f"{name} must have shape (N,C,H,W), got {format_shape(x.shape)}")
    return x


def normalize_channels(f: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    r"""Unit L2 norm over channels per pixel (LPIPS): :math:`f / (\lVert f \rVert_c + \epsilon)`.

    ``f``: ``(N, C, H, W)`` (or ``(N, C)``); returns the same shape.

    >>> normalize_channels(torch.tensor([[3.0, 4.0]]))
    tensor([[0.6000, 0.8000]])
    """
    return f / (f.pow(2).sum(dim=1, keepdim=True).sqrt() + eps)


class Distance(nn.Module):
    """Base class: a distance is ``sum_l ||F_l(x0) - F_l(x1)||^2`` over scaled features.

    Subclasses implement :meth:`features`. Calling the distance ``dist(x0, x1)`` on images
    ``(N, C, H, W)`` (either side may have ``N = 1`` to broadcast) returns ``(N,)``. Inputs
    are checked by :meth:`check_input` (override it to add checks; shape checks only, so
    that ``torch.func.jvp`` / ``vmap`` go through).

    >>> class Raw(Distance):
    ...     def features(self, x):
    ...         return [self.check_input("x", x)]
    >>> Raw()(torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2))
    tensor([4.])
    """

    def check_input(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """Check that ``x`` is an image batch ``(N, C, H, W)`` (finite, outside transforms)."""
        return _check_images(name, x)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Scaled features of images ``x`` ``(N, C, H, W)``: a list of tensors ``(N, ...)``."""
        raise NotImplementedError

    def flat_features(self, x: torch.Tensor) -> torch.Tensor:
        """All scaled features of ``x`` concatenated: ``(N, P)``."""
        return torch.cat([f.flatten(1) for f in self.features(x)], dim=1)

    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        self.check_input("x0", x0)
        self.check_input("x1", x1)
        if x0.shape[1:] != x1.shape[1:]:
            raise ValueError(
                f"x0 and x1 must be images of the same size, got {tuple(x0.shape)} and "
                f"{tuple(x1.shape)}"
            )
        f0, f1 = self.flat_features(x0), self.flat_features(x1)
        return (f0 - f1).pow(2).sum(dim=1)


class PixelDistance(Distance):
    r"""Mean squared pixel difference :math:`d(x_0,x_1) = \frac{1}{CHW}\lVert x_0 - x_1\rVert_2^2`.

    Its features are the pixels scaled by :math:`1/\sqrt{CHW}`.

    >>> PixelDistance()(torch.zeros(2, 1, 2, 2), torch.ones(1, 1, 2, 2))
    tensor([1., 1.])
    """

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.check_input("x", x)
        return [x / x[0].numel() ** 0.5]


class FeatureDistance(Distance):
    r"""LPIPS-style distance on the activations of any network.

    For each chosen layer :math:`l` with activation :math:`a_l` of shape ``(N, C_l, H_l, W_l)``,
    the feature is :math:`\sqrt{w_l / (H_l W_l)}\; a_l / (\lVert a_l \rVert_c + \epsilon)`, so

    .. math:: d(x_0, x_1) = \sum_l w_l \operatorname{mean}_{h,w}
        \lVert \hat a_l(x_0) - \hat a_l(x_1) \rVert_c^2 ,

    i.e. LPIPS with uniform channel weights. Activations that are ``(N, C)`` vectors are
    normalized the same way (one "pixel").

    Args:
        network: an ``nn.Module`` taking the images, used as is (put it in eval mode). If it
            has ``layer_names`` and a method ``features(x, layers)`` returning those layers'
            activations (as :class:`eglass.models.DigitClassifier` does), that method is
            used; otherwise the network is run in full and the outputs of the submodules
            named ``layers`` (as in ``network.named_modules()``) are captured with hooks.
        layers: layer names (see above).
        weights: one non-negative weight per layer (default: all 1).
        channels: the number of image channels the network takes; images with another number
            are refused with a clear error. Default: the network's ``in_channels`` attribute,
            else that of its first ``nn.Conv2d`` (in registration order), else unchecked.

    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
    >>> dist = FeatureDistance(net, ["1"])
    >>> x = torch.rand(2, 1, 8, 8)
    >>> dist.channels, dist(x, x).tolist()
    (1, [0.0, 0.0])
    """

    def __init__(
        self,
        network: nn.Module,
        layers: Sequence[str],
        weights: Sequence[float] | None = None,
        *,
        channels: int | None = None,
    ):
        super().__init__()
        if isinstance(layers, str) or not len(layers):
            raise ValueError(f"layers must be a non-empty list of layer names, got {layers!r}")
        self._own_features = hasattr(network, "layer_names") and callable(
            getattr(network, "features", None)
        )
        modules = dict(network.named_modules())
        known = list(network.layer_names) if self._own_features else [n for n in modules if n]
        missing = [name for name in layers if name not in known]
        if missing:
            raise ValueError(
                f"layers {missing} are not layers of {type(network).__name__}; available: {known}"
            )
        weights = [1.0] * len(layers) if weights is None else [float(w) for w in weights]
        if len(weights) != len(layers) or any(not w >= 0 for w in weights):
            raise ValueError(
                f"weights must be {len(layers)} non-negative numbers (one per layer), "
                f"got {weights}"
            )
        if channels is None:
            channels = _input_channels(network)
        elif isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise ValueError(f"channels must be a positive integer or None, got {channels!r}")
        self.network = network
        self.layers = list(layers)
        self.weights = weights
        self.channels = channels
        self._hooked = [] if self._own_features else [modules[name] for name in self.layers]

    def check_input(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """Check that ``x`` is an image batch ``(N, channels, H, W)``."""
        x = _check_images(name, x)
        if self.channels is not None and x.shape[1] != self.channels:
            raise ValueError(
                f"FeatureDistance on {type(self.network).__name__} expects images of shape "
                f"(N,{self.channels},H,W), got {name} of shape {format_shape(x.shape)}"
            )
        return x

    def activations(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Raw activations of the chosen layers for images ``x`` ``(N, C, H, W)``."""
        self.check_input("x", x)
        if self._own_features:
            return list(self.network.features(x, self.layers))
        captured: dict[int, torch.Tensor] = {}
        hooks = [
            m.register_forward_hook(lambda _m, _i, out, i=i: captured.__setitem__(i, out))
            for i, m in enumerate(self._hooked)
        ]
        try:
            self.network(x)
        finally:
            for h in hooks:
                h.remove()
        return [captured[i] for i in range(len(self.layers))]

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for w, a in zip(self.weights, self.activations(x), strict=True):
            spatial = a[0, 0].numel() if a.ndim > 2 else 1
            feats.append(normalize_channels(a) * (w / spatial) ** 0.5)
        return feats

    def extra_repr(self) -> str:
        return f"layers={self.layers}, weights={self.weights}, channels={self.channels}"


def _input_channels(network: nn.Module) -> int | None:
    """The image channels ``network`` takes, if it tells (see :class:`FeatureDistance`)."""
    channels = getattr(network, "in_channels", None)
    if isinstance(channels, int) and not isinstance(channels, bool):
        return channels
    conv = next((m for m in network.modules() if isinstance(m, nn.Conv2d)), None)
    return None if conv is None else conv.in_channels


def default_distance(classifier: nn.Module | None = None) -> FeatureDistance:
    """:func:`classifier_distance` on ``classifier``; with none, on the classifier shipped
    with eglass (the one entry of kind ``"classifier"`` in ``eglass/weights/registry.json``:
    the digit classifier, whose distance is the embedded digit prior's default).

    This is a distance *of a classifier*; the default distance *of a generator* (its
    prior's, or ImageNet features for a generator of unknown origin) is chosen above both
    this module and the prior registry, by :mod:`eglass.perceptual`, and is what an
    ``InverseProblem(G, A, y)`` made without ``distance=`` uses
    (``problem.perceptual_distance()``). This module never asks the prior registry.

    >>> dist = default_distance()
    >>> dist.layers, dist.channels
    (['block1', 'block2', 'block3'], 1)
    >>> x = torch.zeros(1, 1, 32, 32)
    >>> dist(x, x)
    tensor([0.])
    """
    if classifier is None:
        shipped = sorted(name for name, entry in registry().items()
                         if entry["kind"] == "classifier")
        if len(shipped) != 1:
            raise ValueError(f"default_distance() uses the one classifier shipped with eglass, "
                             f"but {len(shipped)} are listed ({shipped}); pass the classifier")
        classifier = load_shipped(shipped[0], "classifier")
    return classifier_distance(classifier)


def classifier_distance(classifier: nn.Module) -> FeatureDistance:
    """A :class:`FeatureDistance` on a classifier's convolutional blocks, uniform weights.

    The layers: the network's ``layer_names`` if it has them (the digit classifier's three
    conv blocks ``block1..3``, 3x3 conv + SiLU, 32x32 / 16x16 / 8x8), else for each
    ``nn.Conv2d`` the next activation module (ReLU, LeakyReLU, SiLU, GELU, ELU) in
    registration order, or the convolution itself if none follows. The network is put in
    eval mode.
    """
    classifier.eval()
    if hasattr(classifier, "layer_names") and callable(getattr(classifier, "features", None)):
        return FeatureDistance(classifier, list(classifier.layer_names))
    activations = (nn.ReLU, nn.LeakyReLU, nn.SiLU, nn.GELU, nn.ELU)
    named = [(n, m) for n, m in classifier.named_modules() if n]
    layers: list[str] = []
    for i, (name, module) in enumerate(named):
        if not isinstance(module, nn.Conv2d):
            continue
        chosen = name
        for later_name, later in named[i + 1 :]:
            if isinstance(later, nn.Conv2d | nn.Linear):
                break
            if isinstance(later, activations):
                chosen = later_name
                break
        layers.append(chosen)
    if not layers:
        name = type(classifier).__name__
        raise ValueError(f"{name} has no nn.Conv2d layers to take features from")
    return FeatureDistance(classifier, layers)


_BACKBONES = {"alex": "AlexNet_Weights", "vgg": "VGG16_Weights", "squeeze": "SqueezeNet1_1_Weights"}
_MIN_SIZE = {"alex": 31, "vgg": 16, "squeeze": 17}


def lpips_backbone_path(net: str) -> str:
    """Where torchvision keeps the ImageNet weights of the LPIPS backbone ``net``.

    ``torch.hub.get_dir()/checkpoints/<file>`` (the hub dir follows ``TORCH_HOME``).

    >>> os.path.basename(lpips_backbone_path("alex"))
    'alexnet-owt-7be5be79.pth'
    """
    import torchvision.models as tvm

    if net not in _BACKBONES:
        raise ValueError(f"net must be one of {sorted(_BACKBONES)}, got {net!r}")
    url = getattr(tvm, _BACKBONES[net]).IMAGENET1K_V1.url
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(urlparse(url).path))


class LPIPS(Distance):
    r"""The LPIPS distance :cite:`zhang2018lpips` (``lpips`` package, version 0.1), as features.

    LPIPS is :math:`\sum_l \operatorname{mean}_{h,w} \sum_c w_{lc}\,
    (\hat a_{lc}(x_0) - \hat a_{lc}(x_1))^2` with channel-normalized backbone activations
    :math:`\hat a_l` and non-negative learned weights :math:`w_{lc}` (1x1 convolutions), so its
    features are :math:`\sqrt{w_{lc}/(H_l W_l)}\,\hat a_{lc}` and ``dist(x0, x1)`` equals
    ``lpips.LPIPS(x0, x1)``.

    Inputs are images in [-1, 1] (what lpips expects); grayscale images are repeated to three
    channels. Images smaller than the backbone allows (alex: 31 px, vgg: 16, squeeze: 17) are
    refused unless ``resize=(H, W)`` is given: then they are bilinearly resized first (a linear
    map, so the Hessians stay exact).

    Args:
        net: backbone, ``"alex"``, ``"vgg"`` or ``"squeeze"``.
        pnet_rand: ``True`` uses a randomly initialized backbone with the real calibrated linear
            layers -- for tests of the code path only, never a perceptual result. ``False`` needs
            the torchvision ImageNet weights in the torch hub cache; nothing is downloaded.
        resize: optional ``(H, W)`` the images are resized to before the backbone.
        seed: seeds the random backbone when ``pnet_rand=True`` (the global RNG is untouched).

    >>> dist = LPIPS("squeeze", pnet_rand=True)  # random backbone: a code-path example only
    >>> x = torch.zeros(1, 1, 32, 32)
    >>> dist(x, x)
    tensor([0.])
    """

    def __init__(
        self,
        net: str = "alex",
        *,
        pnet_rand: bool = False,
        resize: tuple[int, int] | None = None,
        seed: int = 0,
    ):
        super().__init__()
        import lpips

        path = lpips_backbone_path(net)
        if not pnet_rand and not os.path.isfile(path):
            raise FileNotFoundError(
                f"LPIPS(net={net!r}) needs the torchvision ImageNet weights of its backbone at "
                f"{path}, which is missing; eglass never downloads at run time. Copy the file "
                "there, or point TORCH_HOME at a directory whose hub/checkpoints/ holds it "
                f"(TORCH_HOME is {os.environ.get('TORCH_HOME', 'not set')})."
            )
        with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
            warnings.simplefilter("ignore", UserWarning)  # torchvision's `pretrained=` notice
            torch.manual_seed(seed)  # inside fork_rng: only the random backbone sees it
            self.model = lpips.LPIPS(net=net, pnet_rand=pnet_rand, version="0.1", verbose=False)
        self.model.eval().requires_grad_(False)
        for lin in self.model.lins:
            if (lin.model[-1].weight < 0).any():
                raise ValueError("LPIPS linear weights must be non-negative to act as features")
        self.net = net
        self.pnet_rand = pnet_rand
        self.resize = None if resize is None else (int(resize[0]), int(resize[1]))

    def check_input(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """Check that ``x`` is an image batch ``(N, 1 or 3, H, W)``."""
        x = _check_images(name, x)
        if x.shape[1] not in (1, 3):
            raise ValueError(
                f"LPIPS expects images with 1 (grayscale) or 3 (RGB) channels, got shape "
                f"{tuple(x.shape)}"
            )
        return x

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_input("x", x)
        if self.resize is not None:
            x = nn.functional.interpolate(x, size=self.resize, mode="bilinear", align_corners=False)
        if min(x.shape[-2:]) < _MIN_SIZE[self.net]:
            raise ValueError(
                f"LPIPS(net={self.net!r}) needs images of at least {_MIN_SIZE[self.net]}x"
                f"{_MIN_SIZE[self.net]} pixels, got {tuple(x.shape[-2:])}; pass resize=(H, W)"
            )
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return x

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self._prepare(x)
        outs = self.model.net(self.model.scaling_layer(x))
        feats = []
        for lin, a in zip(self.model.lins, outs, strict=True):
            w = lin.model[-1].weight.view(1, -1, 1, 1)  # (1, C_l, 1, 1)
            scale = (w / a[0, 0].numel()).sqrt()
            feats.append(normalize_channels(a) * scale)
        return feats

    def extra_repr(self) -> str:
        return f"net={self.net!r}, pnet_rand={self.pnet_rand}, resize={self.resize}"
