"""Shared test fixtures. Tests run on the CPU with at most two threads (the CI machine)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

torch.set_num_threads(min(2, torch.get_num_threads()))


class TinyGenerator(nn.Module):
    """A small random-weight generator following the eglass generator protocol.

    Maps ``(N, latent_dim)`` to ``(N, channels, height, width)`` through a smooth nonlinear
    network (tanh output in [-1, 1]); odd, non-square sizes catch shape bugs.
    """

    def __init__(self, latent_dim=8, channels=1, height=12, width=10, seed=0):
        super().__init__()
        self.latent_dim = latent_dim
        self.shape = (channels, height, width)
        g = torch.Generator().manual_seed(seed)
        hidden = 32
        self.fc1 = nn.Linear(latent_dim, hidden)
        self.fc2 = nn.Linear(hidden, channels * height * width)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[-1] ** 0.5)

    def forward(self, z):
        h = torch.nn.functional.softplus(self.fc1(z))
        return torch.tanh(self.fc2(h)).view(z.shape[0], *self.shape)


@pytest.fixture
def tiny_generator():
    """A float64 TinyGenerator (latent_dim 8, images (N,1,12,10)) in eval mode."""
    return TinyGenerator().double().eval()
