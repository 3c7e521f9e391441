r"""rosinality's ``stylegan2-pytorch`` checkpoints: the same StyleGAN2 in another layout.

Its ``convert_weight.py`` writes ``{"g_ema": state_dict, "latent_avg": w_avg}``; its
``train.py`` writes ``{"g", "d", "g_ema", "g_optim", "d_optim", "args", ...}`` with ``args``
an ``argparse.Namespace``. Both are read with ``torch.load(weights_only=True)``, the
training checkpoint with ``argparse.Namespace`` allow-listed and nothing else
(:func:`read_checkpoint`).

Its ``Generator`` computes what upstream's does (``model.py``): ``style.1 ... style.L`` are
the mapping layers (after a pixel norm), ``input.input`` the constant, ``conv1`` /
``to_rgb1`` the 4x4 block, ``convs.{2i}`` (up-sampling), ``convs.{2i+1}`` and
``to_rgbs.{i}`` the block at ``8 * 2**i``, ``noises.noise_{j}`` the fixed noise images in
layer order; weights carry a leading axis of 1 and are scaled by ``1/sqrt(fan-in)`` inside
(which demodulation cancels up to its epsilon), noise strengths are ``noise.weight (1,)``,
biases of the convolutions ``activate.bias``. :func:`to_upstream` renames a ``g_ema`` to
upstream's names; :func:`from_upstream` goes back.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import torch

from .networks import StyleGAN2Config
from .nvlabs import count_indexed, require_keys
from .ops import fir_filter

__all__ = ["read_checkpoint", "rosinality_config", "to_upstream", "from_upstream"]


def read_checkpoint(path: str | Path) -> dict:
    """A rosinality checkpoint (or any ``.pt``) through ``torch.load(weights_only=True)`` with
    ``argparse.Namespace`` allow-listed; a refusal names the global torch refused."""
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises UnpicklingError and others
        text = str(err)
        refused = re.search(r"GLOBAL (\S+)", text)
        why = f"it holds the global {refused.group(1)!r}" if refused else \
            f"{type(err).__name__}: {text.strip().splitlines()[0]}"
        raise ValueError(
            f"{path} could not be read with torch.load(weights_only=True), which allows "
            f"tensors and containers, plus argparse.Namespace here: {why}") from err


def rosinality_config(state: dict[str, torch.Tensor], source: str = "the file",
                      args: argparse.Namespace | None = None) -> StyleGAN2Config:
    """The :class:`~eglass.stylegan.networks.StyleGAN2Config` of a rosinality ``g_ema``, from
    its shapes (checked against the training ``args`` where given)."""
    require_keys(state, ("style.1.weight", "input.input"), "a rosinality g_ema", source)
    layers = count_indexed(state, "style.{}.weight", start=1)
    channels = [state["input.input"].shape[1]] + [
        state[f"convs.{2 * i}.conv.weight"].shape[1]
        for i in range(count_indexed(state, "to_rgbs.{}.conv.weight"))]
    style_dim = state["style.1.weight"].shape[1]
    config = StyleGAN2Config(
        z_dim=style_dim, w_dim=style_dim, channels=tuple(channels),
        img_channels=state["to_rgb1.conv.weight"].shape[1], mapping_layers=layers,
        kernel_size=state["conv1.conv.weight"].shape[-1])
    if args is not None:
        seen = {"size": config.resolution, "latent": style_dim, "n_mlp": layers}
        wrong = {k: (getattr(args, k), v) for k, v in seen.items()
                 if getattr(args, k, v) != v}
        if wrong:
            raise ValueError(f"{source}: g_ema does not fit its args: " + ", ".join(
                f"args.{k}={a!r} but the weights say {v!r}" for k, (a, v) in wrong.items()))
    return config


def _layers(config: StyleGAN2Config) -> list[tuple[str, str, int]]:
    """``(rosinality prefix, upstream prefix, noise index)`` of every synthesis layer."""
    pairs = [("conv1", "synthesis.b4.conv1", 0)]
    for i in range(len(config.channels) - 1):
        res = 8 * 2**i
        pairs += [(f"convs.{2 * i}", f"synthesis.b{res}.conv0", 2 * i + 1),
                  (f"convs.{2 * i + 1}", f"synthesis.b{res}.conv1", 2 * i + 2)]
    return pairs


def _rgbs(config: StyleGAN2Config) -> list[tuple[str, str]]:
    return [("to_rgb1", "synthesis.b4.torgb")] + [
        (f"to_rgbs.{i}", f"synthesis.b{8 * 2**i}.torgb") for i in range(len(config.channels) - 1)]


def to_upstream(state: dict[str, torch.Tensor], config: StyleGAN2Config,
                w_avg: torch.Tensor) -> dict[str, torch.Tensor]:
    """A rosinality ``g_ema`` in upstream's names and shapes (the state dict of
    :class:`~eglass.stylegan.networks.StyleGAN2`), with ``w_avg (w_dim,)``. Each FIR filter
    is read from its own layer's kernel (``convs.{2i}.conv.blur.kernel`` for an up-sampling
    convolution, ``to_rgbs.{i}.upsample.kernel`` for the image's up-sampling; rosinality
    stores the filter times 4): layers may differ (``_filters``)."""
    out = {f"mapping.fc{i}.{p}": state[f"style.{i + 1}.{p}"]
           for i in range(config.mapping_layers) for p in ("weight", "bias")}
    out["mapping.w_avg"] = w_avg.reshape(-1)
    default = fir_filter(config.resample_filter)
    for key, name in _filters(config).items():
        kernel = None if name is None else state.get(name)
        out[key] = default if kernel is None else kernel / kernel.sum()
    out["synthesis.b4.const"] = state["input.input"][0]
    for ros, up, noise in _layers(config):
        out[f"{up}.affine.weight"] = state[f"{ros}.conv.modulation.weight"]
        out[f"{up}.affine.bias"] = state[f"{ros}.conv.modulation.bias"]
        out[f"{up}.weight"] = state[f"{ros}.conv.weight"][0]
        out[f"{up}.bias"] = state[f"{ros}.activate.bias"]
        out[f"{up}.noise_strength"] = state[f"{ros}.noise.weight"].reshape(())
        out[f"{up}.noise_const"] = state[f"noises.noise_{noise}"][0, 0]
    for ros, up in _rgbs(config):
        out[f"{up}.affine.weight"] = state[f"{ros}.conv.modulation.weight"]
        out[f"{up}.affine.bias"] = state[f"{ros}.conv.modulation.bias"]
        out[f"{up}.weight"] = state[f"{ros}.conv.weight"][0]
        out[f"{up}.bias"] = state[f"{ros}.bias"].reshape(-1)
    return out


def _filters(config: StyleGAN2Config) -> dict[str, str | None]:
    """Upstream's ``resample_filter`` buffers (one per block and per synthesis layer) -> the
    rosinality kernel that holds the same filter; ``None`` where upstream keeps a filter it
    never applies (the 4x4 block, the layers that do not up-sample) and rosinality none."""
    out = {"synthesis.b4.resample_filter": None}
    out.update((f"synthesis.b{8 * 2**i}.resample_filter", f"to_rgbs.{i}.upsample.kernel")
               for i in range(len(config.channels) - 1))
    out.update((f"{up}.resample_filter",
                f"{ros}.conv.blur.kernel" if up.endswith(".conv0") else None)
               for ros, up, _ in _layers(config))
    return out


def from_upstream(state: dict[str, torch.Tensor], config: StyleGAN2Config
                  ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """``(g_ema, latent_avg)`` in rosinality's layout from an upstream-named state dict (the
    inverse of :func:`to_upstream`): what its ``convert_weight.py`` writes for the same
    weights."""
    out = {f"style.{i + 1}.{p}": state[f"mapping.fc{i}.{p}"]
           for i in range(config.mapping_layers) for p in ("weight", "bias")}
    out["input.input"] = state["synthesis.b4.const"][None]
    out.update((kernel, state[key] * 4) for key, kernel in _filters(config).items() if kernel)
    for ros, up, noise in _layers(config):
        out[f"{ros}.conv.weight"] = state[f"{up}.weight"][None]
        out[f"{ros}.conv.modulation.weight"] = state[f"{up}.affine.weight"]
        out[f"{ros}.conv.modulation.bias"] = state[f"{up}.affine.bias"]
        out[f"{ros}.noise.weight"] = state[f"{up}.noise_strength"].reshape(1)
        out[f"{ros}.activate.bias"] = state[f"{up}.bias"]
        out[f"noises.noise_{noise}"] = state[f"{up}.noise_const"][None, None]
    for ros, up in _rgbs(config):
        out[f"{ros}.conv.weight"] = state[f"{up}.weight"][None]
        out[f"{ros}.conv.modulation.weight"] = state[f"{up}.affine.weight"]
        out[f"{ros}.conv.modulation.bias"] = state[f"{up}.affine.bias"]
        out[f"{ros}.bias"] = state[f"{up}.bias"].reshape(1, -1, 1, 1)
    return out, state["mapping.w_avg"]
