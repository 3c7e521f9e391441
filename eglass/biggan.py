r"""BigGAN-deep through the ``pytorch-pretrained-biggan`` package, as an eglass generator.

:func:`load_biggan` reads the folder that upstream's ``BigGAN.from_pretrained(folder)`` reads
(``config.json`` + ``pytorch_model.bin``) and returns :class:`BigGANGenerator`, a generator of
the 128-d noise for one fixed class and truncation:

.. math:: G(z) = \mathrm{BigGAN}(z,\ \mathrm{onehot}(c),\ \psi)

exactly (the same upstream module is called). Upstream *samples* ``z`` from a normal
truncated to ``[-2, 2]`` and multiplies it by ``psi`` (``truncated_noise_sample``); ``psi``
also selects the batch-norm statistics inside the network. ``G`` here takes ``z`` as given:
to reproduce upstream's samples pass ``psi * truncnorm(-2, 2)`` noise yourself.

Why the 128-d noise only (not noise ⊕ class embedding, as GAN-Geometry also offers): it is
the latent the paper explores, the class stays fixed so every solution is of the same class,
and the metrics stay 128 x 128.

Upstream loads with ``strict=False`` and builds the last batch norm (``generator.bn.weight``,
``generator.bn.bias``) from uninitialised memory; :func:`load_biggan` instead *requires*
every key (so those two must be in the file, as they are in the released checkpoints) and
names any missing or unexpected one. :func:`random_biggan` (random weights, for tests and
benchmarks) sets those two deterministically to 1 and 0.
"""

from __future__ import annotations

import json
import numbers
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.spectral_norm import SpectralNorm

from .checkpoints import check_finite_state, check_sha256, check_state, state_mismatch
from .utils import check_number, check_positive_int

__all__ = ["BigGANGenerator", "biggan_config", "random_biggan", "save_biggan", "load_biggan"]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "pytorch_model.bin"
_INSTALL = ("BigGAN support needs the pytorch-pretrained-biggan package: pip install -e "
            "'.[biggan]' from a checkout of eglass (or pip install pytorch-pretrained-biggan)")


def _upstream():
    try:
        import pytorch_pretrained_biggan as ppb
    except ImportError as err:
        raise ImportError(_INSTALL) from err
    return ppb


def biggan_config(resolution: int = 128, *, channel_width: int = 128):
    """The ``BigGANConfig`` of BigGAN-deep at ``resolution`` (128, 256 or 512).

    Two blocks per resolution (the second upsamples), self-attention at 64x64, channel
    multipliers 16, 16, 8, (8,) 4, 2, 1 (, 1) as in the BigGAN-deep architecture; the
    released ``config.json`` files are what :func:`load_biggan` actually uses. A smaller
    ``channel_width`` (>= 4) gives a reduced model of the same depth and output size.

    >>> biggan_config(256, channel_width=4).output_dim
    256
    """
    multipliers = {
        128: [16, 16, 8, 4, 2, 1],
        256: [16, 16, 8, 8, 4, 2, 1],
        512: [16, 16, 8, 8, 4, 2, 1, 1],
    }
    if resolution not in multipliers:
        raise ValueError(f"resolution must be one of 128, 256, 512, got {resolution!r}")
    if not isinstance(channel_width, int) or channel_width < 4:
        raise ValueError(
            f"channel_width must be an int >= 4 (the image has 3 channels), got {channel_width!r}"
        )
    m = multipliers[resolution]
    layers = []
    for a, b in zip(m[:-1], m[1:], strict=True):
        layers += [(False, a, a), (True, a, b)]
    return _upstream().BigGANConfig(
        output_dim=resolution,
        channel_width=channel_width,
        layers=layers,
        attention_layer_position=8,
    )


class BigGANGenerator(nn.Module):
    """``G(z) = BigGAN(z, onehot(class_id), truncation)``: ``(N, 128) -> (N, 3, R, R)`` in [-1, 1].

    Args:
        biggan: an upstream ``pytorch_pretrained_biggan.BigGAN``.
        class_id: ImageNet class index in ``[0, num_classes)``.
        truncation: ``psi`` in ``(0, 1]`` (selects the batch-norm statistics).
    """

    def __init__(self, biggan: nn.Module, class_id: int, truncation: float = 0.4):
        super().__init__()
        n = biggan.config.num_classes
        if isinstance(class_id, bool) or not isinstance(class_id, numbers.Integral) \
                or not 0 <= class_id < n:
            raise ValueError(f"class_id must be an int in [0, {n}), got {class_id!r}")
        truncation = check_number("truncation", truncation, positive=True, maximum=1)
        self.biggan = biggan
        self.class_id = int(class_id)
        self.truncation = truncation
        self.latent_dim = int(biggan.config.z_dim)
        self.resolution = int(biggan.config.output_dim)
        onehot = torch.zeros(1, n)
        onehot[0, class_id] = 1.0
        self.register_buffer("class_vector", onehot)
        self.eval()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        label = self.class_vector.to(z.dtype).expand(z.shape[0], -1)
        return self.biggan(z, label, self.truncation)


def random_biggan(config, *, seed: int, power_iterations: int = 30):
    """An upstream ``BigGAN`` built from ``config`` with seeded random weights, in eval mode.

    The last batch norm's weight and bias (uninitialised upstream) are set to 1 and 0, and
    every spectral norm's ``u, v`` is converged by power iteration (upstream's random ``u``
    would make ``sigma`` far too small in eval mode and the activations overflow).

    >>> m = random_biggan(biggan_config(128, channel_width=4), seed=0)
    >>> bool(torch.equal(m.generator.bn.bias, torch.zeros(4)))
    True
    """
    ppb = _upstream()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ppb.BigGAN(config)
    with torch.no_grad():
        model.generator.bn.weight.fill_(1.0)
        model.generator.bn.bias.zero_()
        for module in model.modules():
            for hook in module._forward_pre_hooks.values():
                if isinstance(hook, SpectralNorm):
                    for _ in range(power_iterations):
                        hook.compute_weight(module, do_power_iteration=True)
    return model.eval()


def save_biggan(model: nn.Module, folder: str | Path) -> Path:
    """Write ``model`` as upstream does: ``folder/config.json`` + ``folder/pytorch_model.bin``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_NAME).write_text(model.config.to_json_string())
    torch.save(model.state_dict(), folder / WEIGHTS_NAME)
    return folder


def _missing_files(folder: Path) -> str:
    return (
        f"load_biggan expects a folder holding {CONFIG_NAME} and {WEIGHTS_NAME} (what "
        f"BigGAN.from_pretrained(folder) reads), but {folder} "
    )


def load_biggan(
    folder: str | Path, class_id: int, truncation: float = 0.4, *, sha256: str | None = None
) -> BigGANGenerator:
    """BigGAN-deep from a local folder, as :class:`BigGANGenerator` (eval mode, on CPU).

    Args:
        folder: holds ``config.json`` and ``pytorch_model.bin`` (e.g. the released
            ``biggan-deep-256-config.json`` / ``-pytorch_model.bin`` renamed to those names).
        class_id, truncation: as in :class:`BigGANGenerator`.
        sha256: if given, the SHA-256 that ``pytorch_model.bin`` must have.

    Every key of the model must be in the file and nothing else (a missing or unexpected key
    is named in a ``ValueError``); ``*.weight_v`` of spectral norm may be absent (older
    files), torch recomputes it. Read with ``torch.load(weights_only=True)``.
    """
    ppb = _upstream()
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(
            _missing_files(folder) + "is not a folder; create it and put both files there"
        )
    absent = [n for n in (CONFIG_NAME, WEIGHTS_NAME) if not (folder / n).is_file()]
    if absent:
        raise FileNotFoundError(_missing_files(folder) + f"lacks {', '.join(absent)}; put it there")
    config = ppb.BigGANConfig.from_dict(_read_config(folder / CONFIG_NAME))
    check_sha256(folder / WEIGHTS_NAME, sha256)
    try:
        state = torch.load(folder / WEIGHTS_NAME, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, empty, random bytes: many error types
        first = (str(err).splitlines() or [""])[0]
        raise ValueError(f"{folder / WEIGHTS_NAME} is not a loadable BigGAN state dict: "
                         f"torch.load(weights_only=True) refused it ({type(err).__name__}: "
                         f"{first}); an empty or truncated file included") from err
    check_state(folder / WEIGHTS_NAME, "the file", state)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # every value is overwritten below; the seed only keeps init quiet
        model = ppb.BigGAN(config)
    expected = {
        k: v
        for k, v in model.state_dict().items()
        if not (k.endswith(".weight_v") and k not in state)
    }
    problems = state_mismatch(expected, state)
    if problems:
        raise ValueError(
            f"{folder / WEIGHTS_NAME} does not fit its {CONFIG_NAME}: " + "; ".join(problems)
        )
    check_finite_state(folder / WEIGHTS_NAME, "the state dict", state)
    model.load_state_dict(state, strict=False)  # only weight_v may be absent (checked above)
    _recompute_v(model, [k for k in model.state_dict() if k not in state])
    return BigGANGenerator(model.eval(), class_id, truncation)


# config.json's fields and the type each must have (upstream's BigGANConfig).
CONFIG_INTS = ("output_dim", "z_dim", "class_embed_dim", "channel_width", "num_classes",
               "n_stats", "layers")


def _read_config(path: Path) -> dict:
    """``config.json`` as a dict with upstream's integer fields positive integers, or a
    ValueError naming the file and the field."""
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(values, dict):
        raise ValueError(f"{path} must hold a JSON object of BigGANConfig fields, got a "
                         f"{type(values).__name__}")
    for key in CONFIG_INTS:
        if key in values and key != "layers":
            check_positive_int(f"{path}: {key}", values[key])
    if "layers" in values and not isinstance(values["layers"], list):
        raise ValueError(f"{path}: layers must be a list, got {values['layers']!r}")
    return values


def _recompute_v(model: nn.Module, absent: list[str]) -> None:
    """For the spectral norms whose ``weight_v`` the file lacks (older files): ``v = W^T u /
    ||W^T u||`` from the stored ``weight_orig`` and ``weight_u`` (the power iteration's next
    ``v``; equal to the trained one when ``u`` has converged, as in a trained model)."""
    modules = dict(model.named_modules())
    with torch.no_grad():
        for key in absent:
            module = modules[key.removesuffix(".weight_v")]
            w = module.weight_orig.flatten(1)
            v = w.T @ module.weight_u
            module.weight_v.copy_(v / v.norm().clamp_min(1e-12))
