r""":func:`load_stylegan`: a StyleGAN2 generator from a file in any of its usual formats.

- an NVlabs network pickle (``stylegan2-ada-pytorch``; ``stylegan3``'s StyleGAN2 pickles
  too), read by :mod:`eglass.stylegan.nvlabs` without executing anything in it; its
  ``G_ema`` is used;
- a ``.pt`` state dict of NVlabs' ``G_ema`` (``torch.save(G_ema.state_dict(), ...)``);
- a rosinality ``.pt``: ``{"g_ema", "latent_avg"}`` from its ``convert_weight.py``, or a
  training checkpoint with an ``argparse.Namespace`` ``args``
  (:mod:`eglass.stylegan.rosinality`).

The format is read from the content, not the file name. ``.pt`` files go through
``torch.load(weights_only=True)``. Every key is checked: a missing or unexpected one, or a
shape that does not fit, is named.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import torch

from ..checkpoints import check_sha256, check_state, state_mismatch
from ..utils import check_number, check_one_of
from . import nvlabs, rosinality
from .latent import SPACES, StyleGANGenerator, latent_generator
from .networks import NOISE_MODES, StyleGAN2, StyleGAN2Config

__all__ = ["load_stylegan", "read_stylegan", "W_AVG_SAMPLES", "FORMATS"]

W_AVG_SAMPLES = 4096  # z draws averaged for w_avg when a file has none (rosinality's number)
W_AVG_SEED = 0
FORMATS = ("nvlabs-pickle", "nvlabs-state-dict", "rosinality")
_TORCH_MAGIC = 0x1950A86A20F9469CFC6C  # first pickle of torch.save's legacy (non-zip) format


def _read_object(path: Path):
    """The object in the file: an NVlabs pickle through the allow-listing unpickler, a
    torch file (zip or legacy) through ``torch.load(weights_only=True)``."""
    if zipfile.is_zipfile(path):
        return rosinality.read_checkpoint(path)
    first = nvlabs.read_pickle(path)
    if isinstance(first, int) and first == _TORCH_MAGIC:
        return rosinality.read_checkpoint(path)
    return first


def _keys(obj) -> str:
    return str(sorted(map(str, obj))[:8]) if isinstance(obj, dict) else type(obj).__name__


def _checked(expected: dict, given: dict, source: str, what: str) -> None:
    problems = state_mismatch(expected, given)
    if problems:
        raise ValueError(f"{source}: {what} does not fit a StyleGAN2 generator of its own "
                         "shapes: " + "; ".join(problems))


def read_stylegan(path: str | Path) -> tuple[StyleGAN2Config, dict, str]:
    """``(config, state dict in upstream's names, format)`` of a StyleGAN2 file; ``format`` is
    one of :data:`FORMATS`. A file without ``w_avg`` (a rosinality training checkpoint) gets
    none here: :func:`load_stylegan` estimates it."""
    path = Path(path)
    obj = _read_object(path)
    if isinstance(obj, dict) and isinstance(obj.get("G_ema"), nvlabs.Persistent):
        config, state = nvlabs.generator_config(obj["G_ema"], str(path)), \
            nvlabs.module_state(obj["G_ema"])
        return config, state, "nvlabs-pickle"
    if isinstance(obj, dict) and isinstance(obj.get("g_ema"), dict):
        g_ema = check_state(path, "g_ema", obj["g_ema"])
        check_state(path, "the checkpoint", {k: v for k, v in obj.items() if k == "latent_avg"})
        config = rosinality.rosinality_config(g_ema, str(path), obj.get("args"))
        expected, _ = rosinality.from_upstream(StyleGAN2(config).state_dict(), config)
        _checked(expected, g_ema, str(path), "g_ema")
        state = rosinality.to_upstream(g_ema, config, torch.zeros(config.w_dim))
        if "latent_avg" in obj:
            state["mapping.w_avg"] = obj["latent_avg"].reshape(-1)
        else:
            del state["mapping.w_avg"]
        return config, state, "rosinality"
    if isinstance(obj, dict) and "mapping.fc0.weight" in obj:
        state = check_state(path, "the state dict", dict(obj))
        return nvlabs.state_config(state, str(path)), state, "nvlabs-state-dict"
    raise ValueError(
        f"{path}: not a StyleGAN2 file load_stylegan knows: expected an NVlabs network pickle "
        f"(a dict with 'G_ema'), a rosinality checkpoint (a dict with 'g_ema') or a state dict "
        f"of NVlabs' G_ema ('mapping.fc0.weight', ...); got {_keys(obj)}")


def _estimate_w_avg(net: StyleGAN2) -> torch.Tensor:
    z = torch.randn(W_AVG_SAMPLES, net.z_dim, generator=torch.Generator().manual_seed(W_AVG_SEED))
    with torch.no_grad():
        return net.map(z).mean(dim=0)


def load_stylegan(path: str | Path, *, space: str = "w", truncation: float = 1.0,
                  noise: str = "const", sha256: str | None = None,
                  device: torch.device | str | None = None) -> StyleGANGenerator:
    r"""A StyleGAN2 generator from an NVlabs pickle or a ``.pt`` file, in latent ``space``.

    Args:
        path: the file (format read from its content: see :mod:`eglass.stylegan.loading`).
        space: ``"z"``, ``"w"`` (one ``w`` for all layers) or ``"w+"`` (one per layer,
            flattened layer-major): :mod:`eglass.stylegan.latent`.
        truncation: :math:`\psi`; styles become :math:`\bar w + \psi (w - \bar w)` inside the
            generator (1: none).
        noise: ``"const"`` (the stored noise images, upstream's ``noise_mode="const"``) or
            ``"none"``.
        sha256: if given, the SHA-256 the file must have.
        device: where to put the generator (default CPU).

    Returns an ``nn.Module`` in eval mode, gradients off, with ``latent_dim`` and the
    output of upstream's synthesis network (float32, not clamped). When the file has no
    ``w_avg`` (a rosinality training checkpoint), it is the mean ``w`` of 4,096 draws of
    ``z`` from seed 0.
    """
    path = Path(path).expanduser()
    check_one_of("space", space, tuple(SPACES))
    check_number("truncation", truncation)
    check_one_of("noise", noise, NOISE_MODES)
    if not path.is_file():
        raise FileNotFoundError(f"load_stylegan expects a StyleGAN2 file (NVlabs .pkl or "
                                f".pt), but {path} does not exist")
    check_sha256(path, sha256)
    config, state, form = read_stylegan(path)
    net = StyleGAN2(config)
    no_w_avg = form == "rosinality" and "mapping.w_avg" not in state
    if no_w_avg:
        state["mapping.w_avg"] = net.mapping.w_avg.clone()
    _checked(net.state_dict(), state, str(path), "the generator's state")
    net.load_state_dict(state, strict=True)
    net.requires_grad_(False)
    if no_w_avg:
        net.mapping.w_avg.copy_(_estimate_w_avg(net))
    G = latent_generator(net, space, truncation=truncation, noise=noise)
    return G if device is None else G.to(device)
