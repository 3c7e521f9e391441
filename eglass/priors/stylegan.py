"""StyleGAN2 weights on disk as a prior: the reference form ``"stylegan:PATH[?options]"``.

``PATH`` is anything :func:`eglass.stylegan.load_stylegan` reads (an NVlabs network pickle,
read without executing its code; a ``.pt`` state dict of NVlabs' ``G_ema``; a rosinality
checkpoint). Options: ``space`` (``z``, ``w`` -- the default -- or ``w+``; in a query
``w+`` may be written as is or ``w%2B``), ``truncation`` (default 1) and ``noise``
(``const`` or ``none``). For example ``"stylegan:~/weights/ffhq.pkl?space=w&truncation=0.7"``.

Its samples (``--data samples``) are upstream's: ``w = mapping(z)`` for standard-normal
``z`` (repeated per layer in W+), so the truths lie where the generator's own images do.

Default distance: the pixel distance (:class:`eglass.distances.PixelDistance`), as for the
other references to files: no calibrated perceptual network for natural images can be had
offline. The ImageNet feature distance of the colour-face prior is the natural default once
it lands (its module is being written for the faces issue); pass ``distance=`` meanwhile.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..checkpoints import check_sha256, sha256_of
from ..distances import PixelDistance
from ..stylegan import NOISE_MODES, SPACES, load_stylegan
from ..utils import check_number, check_one_of, check_positive_int
from . import SAMPLES_SEED_OFFSET, Prior, Scheme, register_scheme

__all__ = ["StyleGANPrior", "resolve_stylegan"]

# parse_qsl reads "+" as a space: "space=w+" arrives as "w "
_SPACE_SPELLINGS = {"w ": "w+", "wplus": "w+"}


class StyleGANPrior(Prior):
    """A :class:`~eglass.priors.Prior` whose samples are mapped draws of ``z``."""

    def samples(self, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """``(latents, images)``: ``n`` latents of the generator's space from standard-normal
        ``z`` through the mapping network, from a seed no other part of eglass uses."""
        n = check_positive_int("n", n)
        seed = check_positive_int("seed", seed, minimum=0) + SAMPLES_SEED_OFFSET
        G = self.generator()
        latents = G.sample(n, seed)
        with torch.no_grad():
            return latents, G(latents)


def _truncation(text) -> float:
    try:
        value = float(str(text))
    except ValueError:
        raise ValueError(f"truncation must be a number, got {text!r}") from None
    return check_number("truncation", value)


def resolve_stylegan(path: str, options: dict, sha256: str | None) -> Prior:
    """The :class:`StyleGANPrior` of a StyleGAN2 file, in the latent space of ``options``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} not found")
    space = str(options.get("space", "w"))
    space = check_one_of("space", _SPACE_SPELLINGS.get(space, space), tuple(SPACES))
    truncation = _truncation(options.get("truncation", 1.0))
    noise = check_one_of("noise", str(options.get("noise", "const")), NOISE_MODES)
    check_sha256(path, sha256)
    digest = sha256_of(path)

    def load():
        return load_stylegan(path, space=space, truncation=truncation, noise=noise,
                             sha256=digest)

    return StyleGANPrior("stylegan", load, PixelDistance, sha256=digest,
                         description=f"StyleGAN2 {path.name} in {space}, truncation "
                         f"{truncation}", citation="Karras et al. 2020, weights of the file's "
                         "owner")


register_scheme(Scheme(
    "stylegan", resolve_stylegan, "stylegan:PATH",
    {"space": "z, w or w+ (default w)", "truncation": "psi toward w_avg (default 1)",
     "noise": "const or none (default const)"},
    "a StyleGAN2 NVlabs pickle (read without running its code) or .pt; distance: the pixel "
    "distance (no calibrated perceptual network offline)"))
