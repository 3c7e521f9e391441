"""Shared test fixtures. Tests run on the CPU with at most two threads (the CI machine).

Tests that compare with numbers recorded on another machine carry the ``stored_reference``
marker (every docstring example counts as one: it prints recorded numbers). ``make test`` runs
them once more with torch's CPU kernels limited to older instruction sets
(``ATEN_CPU_CAPABILITY=avx2`` / ``default``, see the Makefile), so that a CPU unlike the one
that recorded them is simulated here; ``EGLASS_EXPECT_CPU_CAPABILITY`` then names the level the
run must really be on, and the session stops if torch runs above it (a variable not taken up
would make the stage test nothing).
"""

from __future__ import annotations

import os

import pytest
import torch
from torch import nn

torch.set_num_threads(min(2, torch.get_num_threads()))

CAPABILITY_ORDER = ("DEFAULT", "AVX2", "AVX512")


def hide_distribution(monkeypatch, name: str) -> None:
    """Make ``importlib.metadata`` find no installed distribution ``name`` (a missing
    wheel), the others as they are."""
    import importlib.metadata

    real = importlib.metadata.distribution

    def distribution(wanted):
        if wanted == name:
            raise importlib.metadata.PackageNotFoundError(wanted)
        return real(wanted)

    monkeypatch.setattr(importlib.metadata, "distribution", distribution)


def pytest_report_header(config):
    return f"torch CPU capability: {torch.backends.cpu.get_cpu_capability()}"


def pytest_sessionstart(session):
    expected = os.environ.get("EGLASS_EXPECT_CPU_CAPABILITY")
    if expected is None:
        return
    actual = torch.backends.cpu.get_cpu_capability()
    if CAPABILITY_ORDER.index(actual) > CAPABILITY_ORDER.index(expected.upper()):
        raise pytest.UsageError(
            f"EGLASS_EXPECT_CPU_CAPABILITY={expected} but torch runs its CPU kernels at "
            f"{actual}: ATEN_CPU_CAPABILITY was not taken up")


def pytest_collection_modifyitems(items):
    for item in items:
        if isinstance(item, pytest.DoctestItem):
            item.add_marker(pytest.mark.stored_reference)


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
