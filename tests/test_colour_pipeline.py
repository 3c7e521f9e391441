"""The paper's two colour problems end to end on reduced random-weight BigGAN-deep and PGGAN.

Random weights (the cost of a pass does not depend on them): these check that every stage
runs on (N, 3, H, W) at the paper's sizes and meets the feasibility thresholds on
``y = A(G(z*))``; they say nothing about image quality. H_X uses LPIPS with a *random*
backbone (``pnet_rand=True``, real calibrated linear layers), a code-path check only.
"""

import pytest
import torch

from eglass.distances import LPIPS
from eglass.explore import explore
from eglass.geometry import metrics
from eglass.inversion import invert
from eglass.models import BigGANGenerator, biggan_config, pggan_config, random_biggan, random_pggan
from eglass.operators import Inpainting, SuperResolution, box_mask
from eglass.problem import InverseProblem

pytest.importorskip("pytorch_pretrained_biggan")


def test_sr8_from_256_on_reduced_biggan_deep():
    # full depth of BigGAN-deep-256 (12 blocks, attention at 64x64), channel width 4 not 128
    G = BigGANGenerator(random_biggan(biggan_config(256, channel_width=4), seed=0), class_id=1)
    z_star = 0.4 * torch.randn(1, 128, generator=torch.Generator().manual_seed(1))
    A = SuperResolution(8)
    y = A(G(z_star)).detach()
    assert y.shape == (1, 3, 32, 32)
    distance = LPIPS("squeeze", pnet_rand=True, resize=(64, 64))
    problem = InverseProblem(G, A, y, distance)

    result = invert(problem, "latent", restarts=2, steps=150, seed=0, progress=False)
    assert result.x.shape == (1, 3, 256, 256)
    assert result.errors.item() <= 1e-3

    H_Y, H_X = metrics(problem, result.z)
    assert H_Y.shape == H_X.shape == (128, 128)
    assert torch.allclose(H_Y, H_Y.T, atol=1e-6 * H_Y.abs().max())
    # SR x8 keeps 3 * 32 * 32 = 3072 numbers > d = 128: H_Y is full rank, yet anisotropic
    evals = torch.linalg.eigvalsh(H_Y)
    assert evals.min() > 0 and evals.max() / evals.min() > 10

    solutions = explore(problem, result.z, H_Y, H_X, Ks=(4, 8), etas=(-3.0, 3.0))
    assert solutions.x.shape == (4, 3, 256, 256)
    assert solutions.errors.max() <= 1e-2
    change = (solutions.x - solutions.reference).abs().amax(dim=(1, 2, 3))
    assert change.min() > 0.05  # the solutions are different images, all feasible


def test_box_inpainting_at_1024_on_reduced_pggan():
    # PGGAN-1024's 9 scales, every depth divided by 32 (16 ... 1 channels), 512-d latent
    G = random_pggan(pggan_config(1024, width_divisor=32), seed=0)
    z_star = torch.randn(1, 512, generator=torch.Generator().manual_seed(7))
    A = Inpainting(box_mask(1024, (256, 384), center=(560, 512)))  # a face-region box
    x_star = G(z_star).detach()
    assert x_star.shape == (1, 3, 1024, 1024)
    problem = InverseProblem(G, A, A(x_star))
    assert problem.latent_error(z_star).item() == 0.0
    moved = G(z_star + 0.5 * torch.randn(1, 512, generator=torch.Generator().manual_seed(1)))
    assert problem.error(moved).item() > 0
    hidden = 1 - A.mask
    assert torch.equal(A(moved) * hidden, torch.zeros_like(moved))  # the box is not measured
