r"""Progressive GAN (Karras et al. 2018) generator in the layout of ``pytorch_GAN_zoo``'s ``PGAN``.

Written from the paper and from the structure of ``facebookresearch/pytorch_GAN_zoo``
(``models/networks/progressive_conv_net.py`` ``GNet``), with the same parameter names, so that
the ``avgG`` (or ``netG``) state dict of a checkpoint saved by that repository (e.g. the
``celebAHQ-256`` / ``celebAHQ-512`` models its ``hubconf.py`` lists) loads with ``strict=True``.

Layout: pixel norm of ``z`` -> ``formatLayer`` (equalized linear to ``16 * depthScale0``) ->
leaky ReLU -> ``(depthScale0, 4, 4)`` -> pixel norm -> ``groupScale0`` (one 3x3 conv) -> for
each later scale: nearest x2 upsampling, two 3x3 convs (``scaleLayers[i]``) -> 1x1
``toRGBLayers[-1]`` (blended with the upsampled ``toRGBLayers[-2]`` output when
``alpha > 0``) -> output activation (none for the WGAN-GP / logistic losses the released
models use, tanh for DCGAN / MSE). Every conv / linear is *equalized*: weights stored
~N(0, 1) and the layer's output (bias included) scaled by He's constant
``sqrt(2 / fan_in)``; every conv is followed by leaky ReLU (0.2) and pixel norm.

:func:`load_pggan` reads such a checkpoint with ``torch.load(weights_only=True)``: upstream
pickles ``config`` as an instance of its ``models.utils.config.BaseConfig``, which is
allow-listed here under that exact name as a plain attribute holder (:class:`BaseConfig`);
nothing else outside torch's own safe set can be unpickled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoints import check_finite_state, check_sha256, check_state, state_mismatch
from .utils import check_number, check_positive_int

__all__ = ["BaseConfig", "PGGANGenerator", "pggan_config", "random_pggan", "load_pggan",
           "LOSS_TANH", "loss_of", "check_config"]

_UPSTREAM_CONFIG = "models.utils.config.BaseConfig"
#: Upstream's loss criteria (``models/loss_criterions/base_loss_criterions.py``) -> whether the
#: generator's output goes through tanh (their ``generationActivation``).
LOSS_TANH = {"MSE": True, "WGANGP": False, "Logistic": False, "DCGAN": True}


def loss_of(config: dict) -> str:
    """The loss criterion of a PGAN config: upstream's key ``lossCriterion`` (what
    ``BaseGAN`` stores and reads back), else ``lossMode`` (the name of ``BaseGAN``'s argument,
    which earlier eglass configs stored), else ``"WGANGP"``; a ValueError for an unknown name
    or for both keys given with different values."""
    criterion, mode = config.get("lossCriterion"), config.get("lossMode")
    if criterion is not None and mode is not None and criterion != mode:
        raise ValueError(f"PGGAN config has lossCriterion={criterion!r} and lossMode={mode!r}; "
                         f"give one (lossCriterion is upstream's key)")
    loss = criterion if criterion is not None else mode if mode is not None else "WGANGP"
    if loss not in LOSS_TANH:
        raise ValueError(f"PGGAN config lossCriterion must be one of upstream's "
                         f"{list(LOSS_TANH)}, got {loss!r}")
    return loss


def check_config(config) -> dict:
    """Upstream's PGAN config fields checked (types and ranges, naming the field); the config
    as a dict."""
    if not isinstance(config, dict):
        raise ValueError(f"a PGAN config must be upstream's BaseConfig or a dict, got "
                         f"{type(config).__name__}")
    need = ("latentVectorDim", "depthScale0", "depthOtherScales")
    absent = [k for k in need if k not in config]
    if absent:
        raise ValueError(f"PGGAN config lacks {absent}; expected upstream's fields "
                         f"{list(need)}, got {sorted(config)}")
    for key in ("latentVectorDim", "depthScale0", "dimOutput"):
        if key in config:
            check_positive_int(f"PGGAN config {key}", config[key])
    depths = config["depthOtherScales"]
    if isinstance(depths, str | bytes) or not isinstance(depths, Sequence):
        raise ValueError(f"PGGAN config depthOtherScales must be a list of positive integers "
                         f"(one depth per scale above 4x4), got {depths!r}")
    for i, depth in enumerate(depths):
        check_positive_int(f"PGGAN config depthOtherScales[{i}]", depth)
    check_number("PGGAN config alpha", config.get("alpha", 0.0), minimum=0, maximum=1)
    check_number("PGGAN config leakyReluLeak", config.get("leakyReluLeak", 0.2))
    loss_of(config)
    return config


class BaseConfig:
    """Stand-in for upstream's ``models.utils.config.BaseConfig``: an attribute holder."""

    def __repr__(self) -> str:
        return f"BaseConfig({vars(self)})"


class _Equalized(nn.Module):
    """``module(x) * sqrt(2 / fan_in)`` with the wrapped layer at ``.module`` (upstream's names)."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module
        self.scale = math.sqrt(2.0 / math.prod(module.weight.shape[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x) * self.scale


def _conv(c_in: int, c_out: int, kernel: int) -> _Equalized:
    return _Equalized(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2))


def _pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * ((x**2).mean(dim=1, keepdim=True) + eps).rsqrt()


class PGGANGenerator(nn.Module):
    """PGGAN generator ``(N, dimLatent) -> (N, dimOutput, R, R)``, ``R = 4 * 2^S``.

    ``S = len(depthOtherScales)``. Args (upstream's config names): dimLatent, depthScale0,
    depthOtherScales, leakyReluLeak, normalization (pixel norm), tanh (output activation),
    dimOutput, alpha (blending factor; 0 for a finished model).

    >>> G = PGGANGenerator(8, 16, [8, 4])
    >>> G(torch.zeros(2, 8)).shape
    torch.Size([2, 3, 16, 16])
    """

    def __init__(
        self,
        dimLatent: int,
        depthScale0: int,
        depthOtherScales: Sequence[int] = (),
        *,
        leakyReluLeak: float = 0.2,
        normalization: bool = True,
        tanh: bool = False,
        dimOutput: int = 3,
        alpha: float = 0.0,
    ):
        super().__init__()
        if not 0 <= alpha <= 1:
            raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
        self.latent_dim = self.dimLatent = int(dimLatent)
        self.depthScale0, self.dimOutput = int(depthScale0), int(dimOutput)
        self.scalesDepth = [self.depthScale0, *map(int, depthOtherScales)]
        self.normalization, self.tanh, self.alpha = bool(normalization), bool(tanh), float(alpha)
        self.leakyRelu = nn.LeakyReLU(leakyReluLeak)
        self.formatLayer = _Equalized(nn.Linear(self.dimLatent, 16 * self.depthScale0))
        self.groupScale0 = nn.ModuleList([_conv(self.depthScale0, self.depthScale0, 3)])
        self.scaleLayers = nn.ModuleList(
            nn.ModuleList([_conv(a, b, 3), _conv(b, b, 3)])
            for a, b in zip(self.scalesDepth[:-1], self.scalesDepth[1:], strict=True)
        )
        self.toRGBLayers = nn.ModuleList(_conv(c, self.dimOutput, 1) for c in self.scalesDepth)
        self.resolution = 4 * 2 ** len(self.scaleLayers)
        self.eval()

    def _norm(self, x: torch.Tensor) -> torch.Tensor:
        return _pixel_norm(x) if self.normalization else x

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.dimLatent:
            raise ValueError(f"z must have shape (N, {self.dimLatent}), got {tuple(z.shape)}")
        x = self.leakyRelu(self.formatLayer(self._norm(z)))
        x = self._norm(x.view(z.shape[0], self.depthScale0, 4, 4))
        for conv in self.groupScale0:
            x = self._norm(self.leakyRelu(conv(x)))
        low = None
        for scale, group in enumerate(self.scaleLayers):
            if self.alpha > 0 and scale == len(self.scaleLayers) - 1:
                low = F.interpolate(self.toRGBLayers[-2](x), scale_factor=2, mode="nearest")
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            for conv in group:
                x = self._norm(self.leakyRelu(conv(x)))
        x = self.toRGBLayers[-1](x)
        if low is not None:
            x = self.alpha * low + (1.0 - self.alpha) * x
        return torch.tanh(x) if self.tanh else x

    @classmethod
    def from_config(cls, config: dict) -> PGGANGenerator:
        """Build from upstream's config fields (a dict or a :class:`BaseConfig`'s ``vars``);
        the output goes through tanh for the losses whose generator upstream ends with tanh
        (:data:`LOSS_TANH`, from ``lossCriterion``: :func:`loss_of`)."""
        config = check_config(config)
        return cls(
            config["latentVectorDim"],
            config["depthScale0"],
            config["depthOtherScales"],
            leakyReluLeak=config.get("leakyReluLeak", 0.2),
            normalization=config.get("perChannelNormalization", True),
            tanh=LOSS_TANH[loss_of(config)],
            dimOutput=config.get("dimOutput", 3),
            alpha=config.get("alpha", 0.0),
        )


def pggan_config(resolution: int = 1024, *, latent_dim: int = 512, width_divisor: int = 1,
                 loss: str = "WGANGP") -> dict:
    """Upstream's PGAN config fields at ``resolution`` (a power of 2, 8 to 1024), trained
    with ``loss`` (upstream's ``lossCriterion``: tanh output for ``"DCGAN"`` and ``"MSE"``).

    Depths follow upstream's default ``depthScales = [512, 512, 512, 512, 256, 128, 64, 32, 16]``
    (``celebAHQ-256`` uses the first 7); ``width_divisor`` shrinks every depth for reduced models.

    >>> pggan_config(256)["depthOtherScales"]
    [512, 512, 512, 256, 128, 64]
    """
    scales = (
        round(math.log2(resolution)) - 2 if isinstance(resolution, int) and resolution > 0 else -1
    )
    if not 1 <= scales <= 8 or 4 * 2**scales != resolution:
        raise ValueError(f"resolution must be a power of 2 from 8 to 1024, got {resolution!r}")
    depths = [
        max(1, d // width_divisor) for d in [512, 512, 512, 512, 256, 128, 64, 32, 16][: scales + 1]
    ]
    return {
        "latentVectorDim": latent_dim,
        "depthScale0": depths[0],
        "depthOtherScales": depths[1:],
        "leakyReluLeak": 0.2,
        "perChannelNormalization": True,
        "lossCriterion": loss_of({"lossCriterion": loss}),
        "dimOutput": 3,
        "alpha": 0.0,
    }


def random_pggan(config: dict, *, seed: int) -> PGGANGenerator:
    """A seeded :class:`PGGANGenerator` with upstream's init (weights N(0,1), biases 0)."""
    G = PGGANGenerator.from_config(config)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in G.named_parameters():
            p.copy_(
                torch.randn(p.shape, generator=gen)
                if name.endswith("weight")
                else torch.zeros(p.shape)
            )
    return G


def load_pggan(
    path: str | Path, *, which: str = "avgG", sha256: str | None = None
) -> PGGANGenerator:
    """The generator of a ``pytorch_GAN_zoo`` PGAN checkpoint (``G(z) == upstream avgG(z)``).

    Args:
        path: the ``.pth`` file (a dict with ``config``, ``netG``, ``avgG``, ...).
        which: ``"avgG"`` (the averaged generator upstream's ``PGAN.test`` runs) or ``"netG"``.
        sha256: if given, the SHA-256 the file must have.

    Read with ``torch.load(weights_only=True)``; only upstream's ``BaseConfig`` is allow-listed.
    The state dict loads with ``strict=True``; a mismatch names the offending keys.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"load_pggan expects a pytorch_GAN_zoo PGAN checkpoint file (.pth), "
            f"but {path} does not exist"
        )
    if which not in ("avgG", "netG"):
        raise ValueError(f"which must be 'avgG' or 'netG', got {which!r}")
    check_sha256(path, sha256)
    try:
        with torch.serialization.safe_globals([(BaseConfig, _UPSTREAM_CONFIG)]):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # the weights-only unpickler raises UnpicklingError and others
        raise ValueError(
            f"{path} is not a loadable PGAN checkpoint: torch.load(weights_only=True) "
            f"refused it ({type(err).__name__}: {(str(err).splitlines() or [''])[0]}; an "
            f"empty or truncated file included); only tensors, "
            f"plain containers and {_UPSTREAM_CONFIG} are allowed"
        ) from err
    if not isinstance(ckpt, dict) or "config" not in ckpt or which not in ckpt:
        got = sorted(map(str, ckpt)) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(
            f"{path}: expected a dict with 'config' and {which!r} (pytorch_GAN_zoo "
            f"format), got {got}"
        )
    config = ckpt["config"]
    try:
        config = check_config(vars(config) if isinstance(config, BaseConfig) else config)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err
    with torch.random.fork_rng(devices=[]):  # building draws initial weights: not the caller's
        G = PGGANGenerator.from_config(config)
    problems = state_mismatch(G.state_dict(), check_state(path, which, ckpt[which]))
    if problems:
        raise ValueError(f"{path}: {which} does not fit its config: " + "; ".join(problems))
    check_finite_state(path, which, ckpt[which])
    G.load_state_dict(ckpt[which], strict=True)
    return G.eval()
