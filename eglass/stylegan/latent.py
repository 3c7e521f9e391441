r"""StyleGAN2's latent spaces as eglass generators: ``nn.Module`` s mapping latents ``(N, d)`` to
images ``(N, C, R, R)`` with ``latent_dim = d``.

- ``"z"`` (:class:`ZGenerator`, ``d = z_dim``): the mapping network and truncation inside,
  ``G(z)`` = upstream's ``G(z, c, truncation_psi=psi, noise_mode="const")``;
- ``"w"`` (:class:`WGenerator`, ``d = w_dim``): one ``w`` for every layer,
  ``G(w) = synthesis(broadcast(w_avg + psi (w - w_avg)))``;
- ``"w+"`` (:class:`WPlusGenerator`, ``d = num_ws * w_dim``): one ``w`` per layer, flattened
  layer-major (``latent[:, l * w_dim:(l + 1) * w_dim]`` is layer ``l``'s), truncated the same
  way.

So ``G_z(z) = G_w(mapping(z)) = G_w+(mapping(z) repeated)``: truncation toward ``w_avg``
acts inside each generator, and a latent of each space is an untruncated one
(:meth:`StyleGANGenerator.latents` maps draws of ``z`` there). Noise inputs are fixed --
``"const"``: upstream's stored noise images times their strengths; ``"none"``: no noise --
so each generator is a deterministic function. The output is the synthesis network's, not
clamped (a trained model's images lie in about [-1, 1]).
"""

from __future__ import annotations

import torch
from torch import nn

from ..utils import check_number, check_one_of, check_positive_int, make_generator
from .networks import NOISE_MODES, StyleGAN2

__all__ = ["StyleGANGenerator", "ZGenerator", "WGenerator", "WPlusGenerator", "SPACES",
           "latent_generator"]


class StyleGANGenerator(nn.Module):
    """Base of the three latent spaces: holds the network ``net`` (:class:`StyleGAN2`),
    ``truncation`` (:math:`\\psi`) and ``noise``; subclasses define ``space``,
    ``latent_dim`` and :meth:`styles`."""

    space = ""

    def __init__(self, net: StyleGAN2, *, truncation: float = 1.0, noise: str = "const"):
        super().__init__()
        if not isinstance(net, StyleGAN2):
            raise TypeError(f"net must be a StyleGAN2 network, got {type(net).__name__}")
        self.net = net
        self.truncation = check_number("truncation", truncation)
        self.noise = check_one_of("noise", noise, NOISE_MODES)
        self.latent_dim = self._latent_dim()
        self.eval()

    def _latent_dim(self) -> int:
        raise NotImplementedError

    def styles(self, latent: torch.Tensor) -> torch.Tensor:
        """The untruncated styles ``(N, num_ws, w_dim)`` of latents ``(N, latent_dim)``."""
        raise NotImplementedError

    def latents(self, z: torch.Tensor) -> torch.Tensor:
        """Latents of this space ``(N, latent_dim)`` for draws ``z (N, z_dim)``."""
        raise NotImplementedError

    def _check(self, latent: torch.Tensor) -> torch.Tensor:
        if not isinstance(latent, torch.Tensor) or latent.ndim != 2 \
                or latent.shape[1] != self.latent_dim:
            shape = tuple(latent.shape) if isinstance(latent, torch.Tensor) else latent
            raise ValueError(f"a {self.space!r}-space latent must have shape "
                             f"(N, {self.latent_dim}), got {shape}")
        return latent

    def truncate(self, ws: torch.Tensor) -> torch.Tensor:
        r""":math:`\bar w + \psi (w - \bar w)` for styles ``(N, num_ws, w_dim)``."""
        if self.truncation == 1:
            return ws
        w_avg = self.net.mapping.w_avg
        return w_avg + self.truncation * (ws - w_avg)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.net(self.truncate(self.styles(self._check(latent))), self.noise)

    def sample(self, n: int, seed: int | torch.Generator = 0) -> torch.Tensor:
        """``n`` latents of this space from seeded standard-normal ``z`` draws (upstream's
        sampling: a ``w`` is the mapping of a ``z``)."""
        n = check_positive_int("n", n)
        param = self.net.mapping.w_avg
        z = torch.randn(n, self.net.z_dim, generator=make_generator(seed))
        with torch.no_grad():
            return self.latents(z.to(param))

    def extra_repr(self) -> str:
        r = self.net.img_resolution
        return (f"space={self.space!r}, latent_dim={self.latent_dim}, truncation="
                f"{self.truncation}, noise={self.noise!r}, images {self.net.img_channels}x{r}x{r}")


class ZGenerator(StyleGANGenerator):
    """``G(z)``: mapping, truncation, synthesis (``latent_dim = z_dim``)."""

    space = "z"

    def _latent_dim(self) -> int:
        return self.net.z_dim

    def styles(self, latent: torch.Tensor) -> torch.Tensor:
        w = self.net.map(latent)
        return w.unsqueeze(1).expand(-1, self.net.num_ws, -1)

    def latents(self, z: torch.Tensor) -> torch.Tensor:
        return z


class WGenerator(StyleGANGenerator):
    """``G(w)``: one ``w`` broadcast to every layer (``latent_dim = w_dim``)."""

    space = "w"

    def _latent_dim(self) -> int:
        return self.net.w_dim

    def styles(self, latent: torch.Tensor) -> torch.Tensor:
        return latent.unsqueeze(1).expand(-1, self.net.num_ws, -1)

    def latents(self, z: torch.Tensor) -> torch.Tensor:
        return self.net.map(z)


class WPlusGenerator(StyleGANGenerator):
    """``G(w+)``: one ``w`` per layer, flattened layer-major
    (``latent_dim = num_ws * w_dim``)."""

    space = "w+"

    def _latent_dim(self) -> int:
        return self.net.num_ws * self.net.w_dim

    def styles(self, latent: torch.Tensor) -> torch.Tensor:
        return latent.reshape(-1, self.net.num_ws, self.net.w_dim)

    def latents(self, z: torch.Tensor) -> torch.Tensor:
        return self.net.map(z).repeat(1, self.net.num_ws)


SPACES = {"z": ZGenerator, "w": WGenerator, "w+": WPlusGenerator}


def latent_generator(net: StyleGAN2, space: str = "w", *, truncation: float = 1.0,
                     noise: str = "const") -> StyleGANGenerator:
    """The generator of ``net`` in latent ``space`` (``"z"``, ``"w"`` or ``"w+"``).

    >>> from eglass.stylegan.networks import StyleGAN2Config, random_stylegan2
    >>> net = random_stylegan2(StyleGAN2Config(z_dim=8, w_dim=8, channels=(8, 4)), seed=0)
    >>> G = latent_generator(net, "w+", truncation=0.7)
    >>> G.latent_dim, tuple(G(G.sample(2)).shape)
    (32, (2, 3, 8, 8))
    """
    return SPACES[check_one_of("space", space, tuple(SPACES))](
        net, truncation=truncation, noise=noise)
