"""Tests of eglass.directions: Algorithm 1, generalized directions and the eigenvector
baseline on random metrics."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from test_explore import random_metric

from eglass.directions import (
    Direction,
    eglass_direction,
    eigenvector_direction,
    generalized_direction,
)

# ----------------------------------------------------------------------------- Algorithm 1


@pytest.mark.parametrize("K", [1, 3, 7, 12])
@pytest.mark.parametrize("threshold", [0.05, 0.2])
def test_eglass_direction_meets_threshold(K, threshold):
    d, top = 24, 10
    H_Y, H_X = random_metric(d, 16, seed=1), random_metric(d, 20, seed=2)
    out = eglass_direction(H_Y, H_X, K, threshold=threshold, top=top)
    assert isinstance(out, Direction) and out.method == "eglass" and out.K == K
    assert out.d.shape == (d,)
    assert out.d.norm().item() == pytest.approx(1.0, abs=1e-12)
    assert out.corr_Y[:top].abs().max().item() <= threshold + 1e-12
    assert out.max_corr_top_Y <= threshold + 1e-12
    # the start is v^K: unit eigenvector of H_X with the K-th largest eigenvalue
    lam = torch.linalg.eigvalsh(H_X).flip(0)
    assert (H_X @ out.start - lam[K - 1] * out.start).norm().item() < 1e-10
    assert out.corr_X_start.abs()[K - 1].item() == pytest.approx(1.0, abs=1e-10)
    # each removed u^j had correlation > threshold with the then-current d; afterwards 0
    for j in out.removed:
        assert out.corr_Y[j - 1].abs().item() < 1e-10
    # nothing is removed that never needed it: the first pass removes exactly those over
    first = [j + 1 for j in range(top) if abs(out.corr_Y_start[j].item()) > threshold]
    assert list(out.removed[: len(first)]) == first
    assert out.iterations <= top + 1
    # the direction stays in span(v^K, removed u^j)
    basis = torch.stack([out.start] + [torch.linalg.eigh(H_Y)[1][:, -j] for j in out.removed], 1)
    resid = out.d - basis @ torch.linalg.lstsq(basis, out.d.unsqueeze(1)).solution.squeeze(1)
    assert resid.norm().item() < 1e-10


def test_eglass_direction_lowers_measurement_curvature():
    d = 32
    H_Y, H_X = random_metric(d, 20, seed=3), random_metric(d, 28, seed=4)
    lowered = 0
    for K in range(2, 16):
        out = eglass_direction(H_Y, H_X, K, threshold=0.05, top=16)
        assert out.quad_Y == pytest.approx((out.d @ H_Y @ out.d).item())
        lowered += out.quad_Y < out.quad_Y_start
    assert lowered >= 12


def test_eglass_direction_no_op_when_already_orthogonal():
    # H_Y and H_X with disjoint eigenvectors: v^K is already orthogonal to all u^j
    H_Y = torch.diag(torch.tensor([5.0, 4.0, 3.0, 0.0, 0.0, 0.0], dtype=torch.float64))
    H_X = torch.diag(torch.tensor([0.0, 0.0, 0.0, 3.0, 2.0, 1.0], dtype=torch.float64))
    out = eglass_direction(H_Y, H_X, K=1, threshold=0.1, top=3)
    assert out.removed == () and out.iterations == 1
    assert torch.allclose(out.d, out.start)
    assert out.d.abs().argmax().item() == 3


def test_eglass_direction_fails_when_nothing_is_left():
    H = random_metric(5, 5, seed=0)
    with pytest.raises(ValueError, match="nothing is left"):
        eglass_direction(H, H, K=2, threshold=0.1, top=5)


def test_eglass_direction_keeps_dtype_device_and_is_deterministic():
    H_Y, H_X = random_metric(10, 6, seed=5).float(), random_metric(10, 9, seed=6).float()
    a = eglass_direction(H_Y, H_X, 3, threshold=0.1, top=4)
    b = eglass_direction(H_Y.clone(), H_X.clone(), 3, threshold=0.1, top=4)
    assert a.d.dtype == torch.float32 and a.d.device == H_Y.device
    assert torch.equal(a.d, b.d) and a.removed == b.removed


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(K=9), r"K must be in \[1, latent_dim\] = \[1, 8\]"),
        (dict(K=0), r"K must be in \[1, latent_dim\]"),
        (dict(K=2, top=9), r"top must be in \[1, latent_dim\]"),
        (dict(K=2, top=0), r"top must be in \[1, latent_dim\]"),
        (dict(K=2, threshold=0.0), r"threshold must be in \(0, 1\)"),
        (dict(K=2, threshold=1.0), r"threshold must be in \(0, 1\)"),
        (dict(K=2.5), "K must be an integer"),
    ],
)
def test_eglass_direction_rejects_bad_parameters(kwargs, match):
    H_Y, H_X = random_metric(8, 4, seed=7), random_metric(8, 6, seed=8)
    with pytest.raises((ValueError, TypeError), match=match):
        eglass_direction(H_Y, H_X, **kwargs)


@pytest.mark.parametrize("fn", [eglass_direction, generalized_direction, eigenvector_direction])
def test_directions_reject_bad_matrices(fn):
    H = random_metric(6, 4, seed=9)
    with pytest.raises(ValueError, match=r"square \(d,d\).*got shape \(6, 5\)"):
        fn(H[:, :5], H, 1)
    asym = H.clone()
    asym[0, 1] += 1.0
    with pytest.raises(ValueError, match="H_X must be symmetric"):
        fn(H, asym, 1)
    nan = H.clone()
    nan[2, 2] = float("nan")
    with pytest.raises(ValueError, match="H_Y contains 1 NaN"):
        fn(nan, H, 1)
    with pytest.raises(ValueError, match=r"same shape.*\(6, 6\) and \(4, 4\)"):
        fn(H, H[:4, :4], 1)
    with pytest.raises(ValueError, match=r"K must be in \[1, latent_dim\] = \[1, 6\]"):
        fn(H, H, 7)


# ----------------------------------------------------------------------------- generalized


def test_generalized_direction_maximizes_the_ratio():
    d, regularization = 12, 1e-3
    H_Y, H_X = random_metric(d, 5, seed=10), random_metric(d, 12, seed=11)
    reg = regularization * torch.linalg.eigvalsh(H_Y)[-1].item()

    def ratio(v):
        return (v @ H_X @ v / (v @ H_Y @ v + reg * v @ v)).item()

    out = generalized_direction(H_Y, H_X, 1, regularization=regularization)
    best = scipy.linalg.eigh(H_X.numpy(), H_Y.numpy() + reg * np.eye(d), eigvals_only=True)[-1]
    assert ratio(out.d) == pytest.approx(best, rel=1e-8)
    assert out.d.norm().item() == pytest.approx(1.0)
    assert out.regularization == regularization
    g = torch.Generator().manual_seed(0)
    others = torch.randn(500, d, generator=g, dtype=torch.float64)
    assert max(ratio(v) for v in others) < ratio(out.d)
    # descending order of the ratio over K
    ratios = [ratio(generalized_direction(H_Y, H_X, K, regularization).d)
              for K in range(1, d + 1)]
    assert all(a >= b - 1e-9 * abs(a) for a, b in zip(ratios, ratios[1:], strict=False))
    with pytest.raises(ValueError, match="regularization must be positive"):
        generalized_direction(H_Y, H_X, 1, regularization=0.0)


def test_generalized_direction_avoids_singular_measurement_directions():
    # H_Y singular (rank 4 of 10, like super-resolution): the top generalized direction
    # lies (almost) in the null space of H_Y
    H_Y, H_X = random_metric(10, 4, seed=12), random_metric(10, 10, seed=13)
    out = generalized_direction(H_Y, H_X, 1, regularization=1e-6)
    assert out.quad_Y < 1e-4 * torch.linalg.eigvalsh(H_Y)[-1].item()
    assert out.quad_X > 0.05


def test_eigenvector_direction_is_vK():
    H_Y, H_X = random_metric(9, 5, seed=14), random_metric(9, 9, seed=15)
    out = eigenvector_direction(H_Y, H_X, 4)
    assert out.corr_X.abs()[3].item() == pytest.approx(1.0)
    assert torch.equal(out.d, eglass_direction(H_Y, H_X, 4, top=3).start)
