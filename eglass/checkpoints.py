r"""Weights on disk: SHA-256 digests, the shipped weights' registry, and checkpoints that
:func:`save_checkpoint` writes and :func:`load_checkpoint` rebuilds (``torch.load`` with
``weights_only=True``, after checking the recorded SHA-256).

The weights shipped under ``eglass/weights/`` are listed in ``registry.json``
(``{name: {"file", "sha256", "kind", ...}}``); :func:`load_shipped` reads one by name. Which
prior uses which weights is the business of :mod:`eglass.priors`.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import torch
from torch import nn

from .networks import ARCHITECTURES
from .utils import format_shape

__all__ = [
    "WEIGHTS_DIR",
    "REGISTRY_FILE",
    "sha256_of",
    "registry",
    "available",
    "save_checkpoint",
    "load_checkpoint",
    "check_sha256",
    "check_state",
    "state_mismatch",
    "check_finite_state",
    "load_shipped",
]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
REGISTRY_FILE = "registry.json"


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 digest of a file (lower case).

    >>> sha256_of(WEIGHTS_DIR / "mnist-cnn.pt") == registry()["mnist-cnn"]["sha256"]
    True
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def registry(root: str | Path | None = None) -> dict:
    """The weights registry: ``{name: {"file", "sha256", "kind", ...}}`` from ``registry.json``.

    >>> registry()["mnist-dcgan"]["kind"]
    'generator'
    """
    root = WEIGHTS_DIR if root is None else Path(root)
    path = root / REGISTRY_FILE
    if not path.is_file():
        raise FileNotFoundError(f"weights registry {path} not found")
    return json.loads(path.read_text())


def available(root: str | Path | None = None) -> list[str]:
    """Names that :func:`eglass.models.load_generator` / :func:`eglass.models.load_classifier`
    / :func:`eglass.models.load_encoder` accept.

    >>> available()
    ['faces-encoder', 'mnist-cnn', 'mnist-dcgan', 'mnist-encoder']
    """
    return sorted(registry(root))


def save_checkpoint(module: nn.Module, path: str | Path) -> str:
    """Save ``module`` (its architecture name, config and state dict); return the SHA-256.

    >>> import tempfile
    >>> from eglass.networks import Generator
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "g.pt"
    ...     sha = save_checkpoint(Generator(latent_dim=4, width=8), path)
    ...     load_checkpoint(path, sha).config()
    {'latent_dim': 4, 'width': 8, 'channels': 1}
    """
    arch = type(module).__name__
    if arch not in ARCHITECTURES:
        raise TypeError(f"cannot save {arch}; expected one of {sorted(ARCHITECTURES)}")
    config = module.config() if hasattr(module, "config") else {}
    state = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
    torch.save({"arch": arch, "config": config, "state_dict": state}, path)
    return sha256_of(path)


_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_CHECKPOINT_KEYS = ("arch", "config", "state_dict")
_EXPECTED = "expected a dict with keys 'arch', 'config', 'state_dict' (as save_checkpoint writes)"


def check_sha256(path: Path, sha256: str | None) -> None:
    """Raise ``ValueError`` unless the file at ``path`` has SHA-256 ``sha256`` (64 hex
    characters, any case); ``None`` skips the check."""
    if sha256 is None:
        return
    if not isinstance(sha256, str):
        raise TypeError(f"sha256 must be a str or None, got {type(sha256).__name__}")
    if not _SHA256.fullmatch(sha256):
        raise ValueError(f"sha256 must be 64 hexadecimal characters, got {sha256!r}")
    actual = sha256_of(path)
    if actual != sha256.lower():
        raise ValueError(
            f"SHA-256 mismatch for {path}: expected {sha256}, got {actual}; the file is "
            "corrupted or was replaced (retrain with scripts/train_prior.py or reinstall)"
        )


def read_checkpoint(path: Path) -> tuple[str, dict, dict]:
    """``(arch, config, state_dict)`` of a checkpoint file, or a ``ValueError`` saying why not."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (PermissionError, FileNotFoundError):
        raise
    except Exception as err:  # torch.load raises many types on bad bytes (pickle, zip, EOF, ...)
        raise ValueError(
            f"{path} is not a readable PyTorch checkpoint (torch.load raised "
            f"{type(err).__name__}); expected a file written by save_checkpoint"
        ) from err
    if not isinstance(ckpt, dict):
        raise ValueError(f"{path} holds a {type(ckpt).__name__}; {_EXPECTED}")
    missing = [k for k in _CHECKPOINT_KEYS if k not in ckpt]
    if missing:
        lacks, keys = ", ".join(map(repr, missing)), sorted(str(k) for k in ckpt)
        raise ValueError(f"{path} lacks {lacks}; {_EXPECTED}, got keys {keys}")
    arch, config, state = (ckpt[k] for k in _CHECKPOINT_KEYS)
    if not isinstance(arch, str) or arch not in ARCHITECTURES:
        raise ValueError(
            f"{path} holds unknown architecture {arch!r}; expected one of {sorted(ARCHITECTURES)}"
        )
    if not isinstance(config, dict):
        raise ValueError(
            f"{path}: 'config' must be a dict of constructor arguments, got {type(config).__name__}"
        )
    return arch, config, check_state(path, "'state_dict'", state)


def check_state(source, name: str, state) -> dict:
    """``state`` if it maps parameter names to tensors; a ValueError naming ``source`` (the
    file), ``name`` (its entry) and the type found otherwise: of ``state`` itself, or of the
    first value that is not a tensor, with its key.

    >>> check_state("g.pt", "avgG", {"fc.weight": 1.5})
    Traceback (most recent call last):
    ...
    ValueError: g.pt: avgG must map parameter names to tensors, but 'fc.weight' is of type float
    """
    if not isinstance(state, dict):
        raise ValueError(f"{source}: {name} must map parameter names to tensors (a state "
                         f"dict), got type {type(state).__name__}")
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"{source}: {name} must map parameter names to tensors, but "
                             f"{key!r} is of type {type(value).__name__}")
    return state


def state_mismatch(expected: dict, given: dict) -> list[str]:
    """What keeps ``given`` from loading into a module whose state dict is ``expected``."""
    problems = []
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    if missing:
        problems.append(f"missing {missing}")
    if unexpected:
        problems.append(f"unexpected {unexpected}")
    problems += [
        f"{k}: expected {format_shape(v.shape)}, got {format_shape(given[k].shape)}"
        for k, v in expected.items()
        if k in given and given[k].shape != v.shape
    ]
    return problems


def check_finite_state(path: str | Path, name: str, state: dict) -> None:
    """A ValueError naming the file and the first tensors of ``state`` with NaN or inf
    values (weights that would make every image NaN)."""
    bad = [k for k, v in state.items()
           if isinstance(v, torch.Tensor) and v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise ValueError(f"{path}: {name} has NaN or inf values in {len(bad)} tensor(s), "
                         f"first {bad[:3]}; expected finite weights")


def load_checkpoint(path: str | Path, sha256: str | None) -> nn.Module:
    """Rebuild a module saved by :func:`save_checkpoint`, checking the file's SHA-256 first.

    Returns the module in eval mode with ``requires_grad=False`` on every parameter.
    ``sha256`` (64 hex characters, any case; ``None`` skips the check) must match the file.
    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for a hash mismatch or
    a file that is not such a checkpoint (unreadable, wrong structure, weights that do not
    fit the architecture). Example: see :func:`save_checkpoint`.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} not found")
    check_sha256(path, sha256)
    arch, config, state = read_checkpoint(path)
    try:
        with torch.random.fork_rng(devices=[]):  # building draws initial weights: not the caller's
            module = ARCHITECTURES[arch](**config)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{path}: config {config} does not fit {arch}: {err}") from err
    problems = state_mismatch(module.state_dict(), state)
    if problems:
        args = ", ".join(f"{k}={v!r}" for k, v in config.items())
        raise ValueError(f"{path}: state_dict does not fit {arch}({args}): {'; '.join(problems)}")
    module.load_state_dict(state)
    module.eval()
    module.requires_grad_(False)
    # Channels-last convolution weights: the same numbers (to float rounding), and on one CPU
    # thread about 1.7x faster batched passes of the embedded generator (64 latents: 38 ->
    # 20 ms; its Jacobian: 45 -> 27 ms), which every solution and metric goes through.
    return module.to(memory_format=torch.channels_last)


def load_shipped(
    name: str,
    kind: str,
    *,
    root: str | Path | None = None,
    device: torch.device | str | None = None,
) -> nn.Module:
    """Load the shipped weights ``name`` of ``kind`` (``"generator"``, ``"classifier"``,
    ``"encoder"``) listed in ``registry.json`` under ``root`` (default the package's):
    eval mode, gradients off, SHA-256 verified.

    >>> load_shipped("mnist-cnn", "classifier").training
    False
    """
    entries = registry(root)
    names = sorted(n for n, e in entries.items() if e["kind"] == kind)
    if name not in names:
        raise KeyError(f"unknown {kind} {name!r}; available: {names}")
    entry = entries[name]
    root = WEIGHTS_DIR if root is None else Path(root)
    module = load_checkpoint(root / entry["file"], entry["sha256"])
    return module.to(device) if device is not None else module
