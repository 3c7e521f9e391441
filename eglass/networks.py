r"""The networks eglass trains and ships: a DCGAN-family generator, its discriminator, a small
CNN classifier (the perceptual feature network and class counter of the embedded digit prior)
and a latent encoder for the fast start. Weights and loading: :mod:`eglass.checkpoints`;
which prior uses which: :mod:`eglass.priors`.

**The generator protocol.** Every function of eglass that takes a generator ``G`` accepts
*any* ``nn.Module`` that maps latents ``(N, d)`` to images ``(N, C, H, W)`` in [-1, 1] and
has an integer attribute ``latent_dim == d``. Put it in ``eval()`` mode so that it is a
deterministic function of ``z``; it must be differentiable in ``z`` and run under
``torch.func.jvp`` / ``torch.func.vmap`` (plain ``nn`` layers, BatchNorm in eval mode and
no in-place ops on the output all do). :class:`Generator` below is the embedded one.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .utils import format_shape

__all__ = ["Generator", "Discriminator", "DigitClassifier", "LatentEncoder", "ARCHITECTURES"]


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
        """Constructor arguments, as stored by :func:`eglass.checkpoints.save_checkpoint`."""
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
    ``embed``     ``(N, 128)``                --
    ============  ==========================  =================

    (``embed`` is a linear layer + SiLU on the flattened ``block3`` pool.)

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
        """Constructor arguments, as stored by :func:`eglass.checkpoints.save_checkpoint`."""
        return {"latent_dim": self.latent_dim, "width": self.width, "channels": self.channels}

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of the images it reads."""
        return (self.channels, 32, 32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1:] != self.input_shape:
            raise ValueError(f"LatentEncoder expects images (N,{self.channels},32,32), got "
                             f"{format_shape(x.shape)}")
        return self.body(x)


# The architectures save_checkpoint writes and load_checkpoint rebuilds, by class name.
ARCHITECTURES = {"Generator": Generator, "DigitClassifier": DigitClassifier,
                 "LatentEncoder": LatentEncoder}
