r"""The embedded prior: a DCGAN-family digit generator and a digit classifier, with weights.

Both networks were trained by this project on the ``train`` split of
:func:`eglass.data.mnist` (``scripts/train_prior.py`` retrains them from a fixed seed) and
ship inside the package under ``eglass/weights/``. :func:`load_generator` and
:func:`load_classifier` read them with ``torch.load(weights_only=True)`` after checking the
SHA-256 recorded in ``eglass/weights/registry.json``.

**The generator protocol.** Every function of eglass that takes a generator ``G`` accepts
*any* ``nn.Module`` that maps latents ``(N, d)`` to images ``(N, C, H, W)`` in [-1, 1] and
has an integer attribute ``latent_dim == d``. Put it in ``eval()`` mode so that it is a
deterministic function of ``z``; it must be differentiable in ``z`` and run under
``torch.func.jvp`` / ``torch.func.vmap`` (plain ``nn`` layers, BatchNorm in eval mode and
no in-place ops on the output all do). :class:`Generator` below is the embedded one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .utils import format_shape

__all__ = [
    "Generator",
    "Discriminator",
    "DigitClassifier",
    "LatentEncoder",
    "WEIGHTS_DIR",
    "registry",
    "available",
    "sha256_of",
    "load_checkpoint",
    "save_checkpoint",
    "load_generator",
    "load_classifier",
    "load_encoder",
]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
REGISTRY_FILE = "registry.json"


class Generator(nn.Module):
    r"""DCGAN generator :math:`G: \mathbb{R}^d \to [-1, 1]^{C \times 32 \times 32}`.

    ``z (N, d)`` -> linear -> ``(4w, 4, 4)`` -> three stride-2 transposed convolutions
    (4x4 -> 8 -> 16 -> 32; BatchNorm + ReLU after each) -> 3x3 convolution -> tanh.

    Args:
        latent_dim: ``d`` (the embedded ``mnist-dcgan`` uses 64).
        width: channel width ``w`` (channels ``4w, 2w, w, w/2`` from 4x4 up to 32x32; the
            embedded ``mnist-dcgan`` uses 48).
        channels: image channels ``C``.

    >>> G = Generator(latent_dim=8, width=8).eval()
    >>> tuple(G(torch.zeros(2, 8)).shape)
    (2, 1, 32, 32)
    """

    def __init__(self, latent_dim: int = 64, width: int = 64, channels: int = 1):
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.width = int(width)
        self.channels = int(channels)
        w = self.width
        self.fc = nn.Linear(latent_dim, 4 * w * 16, bias=False)
        self.bn0 = nn.BatchNorm2d(4 * w)
        self.up = nn.Sequential(
            nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1, bias=False),
            nn.BatchNorm2d(2 * w),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False),
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.ConvTranspose2d(w, w // 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(w // 2),
            nn.ReLU(),
        )
        self.out = nn.Conv2d(w // 2, channels, 3, 1, 1)

    def config(self) -> dict:
        """Constructor arguments, as stored by :func:`save_checkpoint`."""
        return {"latent_dim": self.latent_dim, "width": self.width, "channels": self.channels}

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``z (N, d)`` -> images ``(N, C, 32, 32)`` in [-1, 1]."""
        h = self.fc(z).view(z.shape[0], 4 * self.width, 4, 4)
        h = self.up(F.relu(self.bn0(h)))
        return torch.tanh(self.out(h))


class Discriminator(nn.Module):
    """Spectrally normalized DCGAN discriminator ``(N, C, 32, 32) -> (N,)`` scores.

    Three stride-2 4x4 convolutions (32 -> 16 -> 8 -> 4; widths ``w, 2w, 4w``), each followed
    by LeakyReLU(0.2) -- and, with ``refine=True``, by a 3x3 convolution + LeakyReLU at the same
    resolution -- then a linear read-out. Used only for training. The embedded prior was
    trained with ``refine=True`` at width 32, which costs about as much per step as
    ``refine=False`` at width 48 and trains a much better generator (the book's appendix).

    >>> D = Discriminator(width=8, refine=True)
    >>> tuple(D(torch.zeros(3, 1, 32, 32)).shape)
    (3,)
    """

    def __init__(self, width: int = 64, channels: int = 1, refine: bool = False):
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        w = int(width)
        layers: list[nn.Module] = []
        c_in = channels
        for c_out in (w, 2 * w, 4 * w):
            layers += [sn(nn.Conv2d(c_in, c_out, 4, 2, 1)), nn.LeakyReLU(0.2)]
            if refine:
                layers += [sn(nn.Conv2d(c_out, c_out, 3, 1, 1)), nn.LeakyReLU(0.2)]
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.head = sn(nn.Linear(4 * w * 16, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).flatten(1)).squeeze(1)


class DigitClassifier(nn.Module):
    r"""Small digit CNN; also the perceptual feature network of the embedded default.

    Three conv blocks, each a 3x3 convolution + SiLU whose output is a *feature* (smooth, so
    forward-mode autodiff through it is well defined; no BatchNorm, no in-place ops), then a
    2x2 average pool:

    ============  ==========================  =================
    layer name    feature shape               after pooling
    ============  ==========================  =================
    ``block1``    ``(N, 32, 32, 32)``         ``(N, 32, 16, 16)``
    ``block2``    ``(N, 64, 16, 16)``         ``(N, 64, 8, 8)``
    ``block3``    ``(N, 128, 8, 8)``          ``(N, 128, 4, 4)``
    ``embed``     ``(N, 128)`` (linear + SiLU on the flattened ``block3`` pool)
    ============  ==========================  =================

    ``forward`` returns logits ``(N, 10)``. Input images ``(N, 1, 32, 32)`` in [-1, 1]
    (``channels`` of them, recorded as ``in_channels``).

    >>> clf = DigitClassifier().eval()
    >>> tuple(clf(torch.zeros(2, 1, 32, 32)).shape), [tuple(f.shape) for f in clf.features(
    ...     torch.zeros(2, 1, 32, 32), ["block3"])]
    ((2, 10), [(2, 128, 8, 8)])
    """

    layer_names = ("block1", "block2", "block3")

    def __init__(self, channels: int = 1, num_classes: int = 10, dropout: float = 0.3):
        super().__init__()
        self.in_channels = int(channels)
        self.block1 = nn.Conv2d(channels, 32, 3, 1, 1)
        self.block2 = nn.Conv2d(32, 64, 3, 1, 1)
        self.block3 = nn.Conv2d(64, 128, 3, 1, 1)
        self.embed_fc = nn.Linear(128 * 16, 128)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(128, num_classes)

    def _blocks(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != self.in_channels:  # shapes only: fine under torch.func
            raise ValueError(
                f"DigitClassifier expects images (N,{self.in_channels},H,W), got "
                f"{format_shape(x.shape)}"
            )
        feats = []
        h = x
        for conv in (self.block1, self.block2, self.block3):
            h = F.silu(conv(h))
            feats.append(h)
            h = F.avg_pool2d(h, 2)
        return feats

    def features(
        self, x: torch.Tensor, layers: Sequence[str] | None = None
    ) -> list[torch.Tensor]:
        """Block activations (after SiLU, before pooling) for ``layers`` (default all three).

        Args:
            x: images ``(N, 1, 32, 32)`` in [-1, 1].
            layers: names among ``layer_names`` (``"block1"``, ``"block2"``, ``"block3"``).

        Returns:
            one tensor per requested layer, in the order requested.
        """
        layers = tuple(self.layer_names if layers is None else layers)
        unknown = [name for name in layers if name not in self.layer_names]
        if unknown:
            raise ValueError(f"unknown layer(s) {unknown}; expected names among {self.layer_names}")
        feats = dict(zip(self.layer_names, self._blocks(x), strict=True))
        return [feats[name] for name in layers]

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features ``(N, 128)`` (used for the Fréchet distance)."""
        h = F.avg_pool2d(self._blocks(x)[-1], 2)
        return F.silu(self.embed_fc(h.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.embed(x)))

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(N, 10)`` (softmax of the logits)."""
        return self(x).softmax(dim=1)


class LatentEncoder(nn.Module):
    r"""An amortized first guess: images :math:`A^\dagger y` ``(N, C, 32, 32)`` -> latents
    ``(N, d)``.

    Three stride-2 3x3 convolutions (widths ``w, 2w, 4w``; 32 -> 16 -> 8 -> 4) with SiLU, then
    a hidden layer of 256 and a linear read-out. Trained by
    :func:`eglass.training.train_encoder` on generator samples pushed through the benchmark
    operators, it maps the pseudo-inverse image of a measurement to a latent whose image nearly
    fits it; :func:`eglass.inversion.fast_start` refines that guess. One forward pass costs
    about a tenth of a generator pass.

    >>> E = LatentEncoder(latent_dim=8, width=4).eval()
    >>> tuple(E(torch.zeros(2, 1, 32, 32)).shape)
    (2, 8)
    """

    def __init__(self, latent_dim: int = 64, width: int = 32, channels: int = 1):
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.width = int(width)
        self.channels = int(channels)
        w = self.width
        self.body = nn.Sequential(
            nn.Conv2d(channels, w, 3, 2, 1), nn.SiLU(),
            nn.Conv2d(w, 2 * w, 3, 2, 1), nn.SiLU(),
            nn.Conv2d(2 * w, 4 * w, 3, 2, 1), nn.SiLU(),
            nn.Flatten(),
            nn.Linear(4 * w * 16, 256), nn.SiLU(),
            nn.Linear(256, latent_dim),
        )

    def config(self) -> dict:
        """Constructor arguments, as stored by :func:`save_checkpoint`."""
        return {"latent_dim": self.latent_dim, "width": self.width, "channels": self.channels}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1:] != (self.channels, 32, 32):
            raise ValueError(f"LatentEncoder expects images (N,{self.channels},32,32), got "
                             f"{format_shape(x.shape)}")
        return self.body(x)


_ARCHITECTURES = {"Generator": Generator, "DigitClassifier": DigitClassifier,
                  "LatentEncoder": LatentEncoder}


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
    """Names that :func:`load_generator` / :func:`load_classifier` / :func:`load_encoder`
    accept.

    >>> available()
    ['mnist-cnn', 'mnist-dcgan', 'mnist-encoder']
    """
    return sorted(registry(root))


def save_checkpoint(module: nn.Module, path: str | Path) -> str:
    """Save ``module`` (its architecture name, config and state dict); return the SHA-256.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "g.pt"
    ...     sha = save_checkpoint(Generator(latent_dim=4, width=8), path)
    ...     load_checkpoint(path, sha).config()
    {'latent_dim': 4, 'width': 8, 'channels': 1}
    """
    arch = type(module).__name__
    if arch not in _ARCHITECTURES:
        raise TypeError(f"cannot save {arch}; expected one of {sorted(_ARCHITECTURES)}")
    config = module.config() if hasattr(module, "config") else {}
    state = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
    torch.save({"arch": arch, "config": config, "state_dict": state}, path)
    return sha256_of(path)


_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_CHECKPOINT_KEYS = ("arch", "config", "state_dict")
_EXPECTED = "expected a dict with keys 'arch', 'config', 'state_dict' (as save_checkpoint writes)"


def _check_sha256(path: Path, sha256: str | None) -> None:
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


def _read_checkpoint(path: Path) -> tuple[str, dict, dict]:
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
    if not isinstance(arch, str) or arch not in _ARCHITECTURES:
        raise ValueError(
            f"{path} holds unknown architecture {arch!r}; expected one of {sorted(_ARCHITECTURES)}"
        )
    if not isinstance(config, dict):
        raise ValueError(
            f"{path}: 'config' must be a dict of constructor arguments, got {type(config).__name__}"
        )
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: 'state_dict' must map parameter names to tensors")
    return arch, config, state


def _state_mismatch(expected: dict, given: dict) -> list[str]:
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
    _check_sha256(path, sha256)
    arch, config, state = _read_checkpoint(path)
    try:
        module = _ARCHITECTURES[arch](**config)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{path}: config {config} does not fit {arch}: {err}") from err
    problems = _state_mismatch(module.state_dict(), state)
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


def _load(name: str, kind: str, root, device) -> nn.Module:
    entries = registry(root)
    names = sorted(n for n, e in entries.items() if e["kind"] == kind)
    if name not in names:
        raise KeyError(f"unknown {kind} {name!r}; available: {names}")
    entry = entries[name]
    root = WEIGHTS_DIR if root is None else Path(root)
    module = load_checkpoint(root / entry["file"], entry["sha256"])
    return module.to(device) if device is not None else module


def load_generator(
    name: str = "mnist-dcgan",
    *,
    device: torch.device | str | None = None,
    root: str | Path | None = None,
) -> Generator:
    """Load a shipped generator (eval mode, gradients off, SHA-256 verified).

    Args:
        name: registry name; ``"mnist-dcgan"``: :class:`Generator` (``latent_dim`` 64,
            width 48), images ``(N, 1, 32, 32)`` in [-1, 1].
        device: where to put it (default CPU).
        root: directory holding ``registry.json`` and the weights (default the package's).

    >>> G = load_generator()
    >>> G.latent_dim, tuple(G(torch.zeros(1, 64)).shape)
    (64, (1, 1, 32, 32))
    """
    return _load(name, "generator", root, device)


def load_classifier(
    name: str = "mnist-cnn",
    *,
    device: torch.device | str | None = None,
    root: str | Path | None = None,
) -> DigitClassifier:
    """Load a shipped digit classifier (eval mode, gradients off, SHA-256 verified).

    Args:
        name: registry name; ``"mnist-cnn"``: :class:`DigitClassifier`.
        device: where to put it (default CPU).
        root: directory holding ``registry.json`` and the weights (default the package's).

    >>> clf = load_classifier()
    >>> tuple(clf.predict_proba(torch.zeros(1, 1, 32, 32)).shape)
    (1, 10)
    """
    return _load(name, "classifier", root, device)


def load_encoder(
    name: str = "mnist-encoder",
    *,
    device: torch.device | str | None = None,
    root: str | Path | None = None,
) -> LatentEncoder:
    """Load a shipped latent encoder (eval mode, gradients off, SHA-256 verified).

    Args:
        name: registry name; ``"mnist-encoder"``: :class:`LatentEncoder` for ``mnist-dcgan``,
            trained on SR x4, SR x8 and the central inpainting box
            (:func:`eglass.training.train_encoder`, ``scripts/train_prior.py --only encoder``).
        device: where to put it (default CPU).
        root: directory holding ``registry.json`` and the weights (default the package's).

    >>> E = load_encoder()
    >>> E.latent_dim, registry()["mnist-encoder"]["generator"]
    (64, 'mnist-dcgan')
    """
    return _load(name, "encoder", root, device)


# Full-size priors from upstream formats (the architectures live in their own modules).
from .biggan import BigGANGenerator, biggan_config, load_biggan, random_biggan, save_biggan  # noqa: E402
from .pggan import PGGANGenerator, load_pggan, pggan_config, random_pggan  # noqa: E402

__all__ += ["BigGANGenerator", "biggan_config", "load_biggan", "random_biggan", "save_biggan",
            "PGGANGenerator", "load_pggan", "pggan_config", "random_pggan"]
