r"""StyleGAN2 (Karras et al. 2020) in eglass: the generator in plain torch, its latent spaces
as eglass generators, and loaders of NVlabs pickles and rosinality checkpoints that never run
code from the file.

- :mod:`~eglass.stylegan.ops`: the reference operations (modulated convolution, FIR
  up-sampling, bias + activation);
- :mod:`~eglass.stylegan.networks`: :class:`StyleGAN2` with upstream's parameter names;
- :mod:`~eglass.stylegan.latent`: the ``"z"``, ``"w"`` and ``"w+"`` generators;
- :mod:`~eglass.stylegan.nvlabs`: the allow-listing unpickler of NVlabs pickles;
- :mod:`~eglass.stylegan.rosinality`: rosinality's layout;
- :mod:`~eglass.stylegan.loading`: :func:`load_stylegan`.

>>> import torch
>>> net = random_stylegan2(StyleGAN2Config(z_dim=8, w_dim=8, channels=(8, 4)), seed=0)
>>> G = latent_generator(net, "w")
>>> G.latent_dim, tuple(G(torch.zeros(1, 8)).shape)
(8, (1, 3, 8, 8))
"""

from __future__ import annotations

from .latent import (
    SPACES,
    StyleGANGenerator,
    WGenerator,
    WPlusGenerator,
    ZGenerator,
    latent_generator,
)
from .loading import FORMATS, load_stylegan, read_stylegan
from .networks import NOISE_MODES, StyleGAN2, StyleGAN2Config, random_stylegan2, stylegan2_config
from .nvlabs import UnsafePickleError

__all__ = [
    "SPACES",
    "NOISE_MODES",
    "FORMATS",
    "StyleGAN2",
    "StyleGAN2Config",
    "stylegan2_config",
    "random_stylegan2",
    "StyleGANGenerator",
    "ZGenerator",
    "WGenerator",
    "WPlusGenerator",
    "latent_generator",
    "load_stylegan",
    "read_stylegan",
    "UnsafePickleError",
]
