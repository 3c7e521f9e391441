"""Tests of eglass.explore: Algorithm 1, generalized directions, the null-space walk,
batched exploration, and the held-out-digit checks on the embedded prior."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from eglass.evaluate import measurement_error
from eglass.explore import (
    Direction,
    eglass_direction,
    eigenvector_direction,
    explore,
    generalized_direction,
    null_space_walk,
    walk_versus_line,
)

# ----------------------------------------------------------------------------- helpers


def random_metric(d: int, rank: int, seed: int, decay: float = 0.7) -> torch.Tensor:
    """A random PSD ``(d, d)`` matrix of the given rank with geometric eigenvalue decay."""
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    lam = torch.zeros(d, dtype=torch.float64)
    lam[:rank] = decay ** torch.arange(rank, dtype=torch.float64)
    return (Q * lam) @ Q.T


class Crop:
    """A real linear operator for the tiny generator: keep a 2x3 patch (m = 6 < d = 8, so
    J_phi has a null space, like super-resolution)."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., 4:6, 3:6]


def tiny_metrics(G, A, z0):
    """H_Y = J^T J of A∘G and H_X = J^T J of G (pixel metric), computed with torch.func."""
    phi = lambda z: A(G(z.unsqueeze(0))).flatten()  # noqa: E731
    g = lambda z: G(z.unsqueeze(0)).flatten()  # noqa: E731
    J_Y = torch.func.jacfwd(phi)(z0[0])
    J_X = torch.func.jacfwd(g)(z0[0])
    return J_Y.T @ J_Y, J_X.T @ J_X


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
        (dict(K=9), r"K must be in \[1, d\] = \[1, 8\]"),
        (dict(K=0), r"K must be in \[1, d\]"),
        (dict(K=2, top=9), r"top must be in \[1, d\]"),
        (dict(K=2, top=0), r"top must be in \[1, d\]"),
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
    with pytest.raises(ValueError, match=r"K must be in \[1, d\] = \[1, 6\]"):
        fn(H, H, 7)


# ----------------------------------------------------------------------------- generalized


def test_generalized_direction_maximizes_the_ratio():
    d, eps = 12, 1e-3
    H_Y, H_X = random_metric(d, 5, seed=10), random_metric(d, 12, seed=11)
    reg = eps * torch.linalg.eigvalsh(H_Y)[-1].item()

    def ratio(v):
        return (v @ H_X @ v / (v @ H_Y @ v + reg * v @ v)).item()

    out = generalized_direction(H_Y, H_X, 1, eps=eps)
    best = scipy.linalg.eigh(H_X.numpy(), H_Y.numpy() + reg * np.eye(d), eigvals_only=True)[-1]
    assert ratio(out.d) == pytest.approx(best, rel=1e-8)
    assert out.d.norm().item() == pytest.approx(1.0)
    g = torch.Generator().manual_seed(0)
    others = torch.randn(500, d, generator=g, dtype=torch.float64)
    assert max(ratio(v) for v in others) < ratio(out.d)
    # descending order of the ratio over K
    ratios = [ratio(generalized_direction(H_Y, H_X, K, eps).d) for K in range(1, d + 1)]
    assert all(a >= b - 1e-9 * abs(a) for a, b in zip(ratios, ratios[1:], strict=False))
    with pytest.raises(ValueError, match="eps must be positive"):
        generalized_direction(H_Y, H_X, 1, eps=0.0)


def test_generalized_direction_avoids_singular_measurement_directions():
    # H_Y singular (rank 4 of 10, like super-resolution): the top generalized direction
    # lies (almost) in the null space of H_Y
    H_Y, H_X = random_metric(10, 4, seed=12), random_metric(10, 10, seed=13)
    out = generalized_direction(H_Y, H_X, 1, eps=1e-6)
    assert out.quad_Y < 1e-4 * torch.linalg.eigvalsh(H_Y)[-1].item()
    assert out.quad_X > 0.05


def test_eigenvector_direction_is_vK():
    H_Y, H_X = random_metric(9, 5, seed=14), random_metric(9, 9, seed=15)
    out = eigenvector_direction(H_Y, H_X, 4)
    assert out.corr_X.abs()[3].item() == pytest.approx(1.0)
    assert torch.equal(out.d, eglass_direction(H_Y, H_X, 4, top=3).start)


# ----------------------------------------------------------------------------- tiny generator


@pytest.fixture
def tiny_problem(tiny_generator):
    G, A = tiny_generator, Crop()
    g = torch.Generator().manual_seed(3)
    z0 = torch.randn(1, G.latent_dim, generator=g, dtype=torch.float64)
    with torch.no_grad():
        y = A(G(z0))
    H_Y, H_X = tiny_metrics(G, A, z0)
    return G, A, y, z0, H_Y, H_X


def test_explore_batched_matches_one_by_one(tiny_problem):
    G, A, y, z0, H_Y, H_X = tiny_problem
    etas = [-0.5, 0.25, 1.0]
    out = explore(G, A, y, z0, H_Y, H_X, method="eglass", Ks=[3, 2], etas=etas,
                  threshold=0.1, top=4)
    assert len(out) == 6 and out.x.shape == (6, 1, 12, 10) and out.z.shape == (6, 8)
    assert out.K.tolist() == [3, 3, 3, 2, 2, 2] and out.eta.tolist() == etas * 2
    for i in range(6):
        dr = out.directions[0 if i < 3 else 1]
        z = z0 + out.eta[i] * dr.d
        assert torch.allclose(out.z[i], z[0])
        with torch.no_grad():
            assert torch.allclose(out.x[i], G(z)[0], atol=1e-12)
        assert out.errors[i].item() == pytest.approx(
            measurement_error(A, G(z).detach(), y).item(), rel=1e-10)
    assert torch.equal(out.feasible, out.errors <= out.tau)
    assert out.reference_error == pytest.approx(0.0, abs=1e-20)


def test_explore_rejects_bad_input(tiny_problem):
    G, A, y, z0, H_Y, H_X = tiny_problem
    with pytest.raises(ValueError, match=r"method must be one of"):
        explore(G, A, y, z0, H_Y, H_X, method="pulse")
    with pytest.raises(ValueError, match=r"z0 must have shape \(N,8\), got \(1,7\)"):
        explore(G, A, y, z0[:, :7], H_Y, H_X)
    with pytest.raises(ValueError, match=r"H_Y must be \(8,8\)"):
        explore(G, A, y, z0, H_Y[:4, :4], H_X)
    with pytest.raises(ValueError, match="etas must be a non-empty list of finite"):
        explore(G, A, y, z0, H_Y, H_X, Ks=[2], top=3, etas=[float("nan")])
    with pytest.raises(ValueError, match=r"K must be in \[1, d\] = \[1, 8\]"):
        explore(G, A, y, z0, H_Y, H_X, Ks=[9], top=3)


def test_walk_stays_on_measurements_where_the_line_drifts(tiny_problem):
    G, A, y, z0, H_Y, H_X = tiny_problem
    dr = eglass_direction(H_Y, H_X, 2, threshold=0.1, top=4)
    path = null_space_walk(G, A, y, z0, dr, length=2.0, steps=20, top=4, corrections=2)
    assert path.z.shape == (21, 8) and torch.equal(path.z[0], z0[0])
    assert path.length[-1].item() == pytest.approx(2.0)
    with torch.no_grad():
        line = measurement_error(A, G(z0 + path.length[:, None] * dr.d), y)
    assert torch.allclose(path.errors, measurement_error(A, G(path.z).detach(), y))
    # the walk stays much closer to the measurements than the straight line
    assert path.errors[1:].max().item() < 0.1 * line[1:].max().item()
    # ... and still moves: the image changes
    with torch.no_grad():
        moved = (G(path.z[-1:]) - G(z0)).pow(2).mean().item()
    assert moved > 1e-3
    # Broyden updates between exact Jacobians every 4 steps keep it on the measurements
    cheap = null_space_walk(G, A, y, z0, dr, length=2.0, steps=20, top=4, refresh=4)
    assert cheap.errors.max().item() < 0.1 * line[1:].max().item()
    # with a target error the walk is the straight line while the line stays below it, and
    # is held near it afterwards
    level = line[10].item()
    held = null_space_walk(G, A, y, z0, dr, length=2.0, steps=20, top=4, target=level,
                           threshold=None)
    below = int((line <= level).sum())
    assert torch.allclose(held.z[:below], z0 + path.length[:below, None] * dr.d)
    assert held.errors.max().item() < 1.2 * level < line[-1].item()
    # keeping the tangent instead of re-projecting it (threshold None) also works
    kept = null_space_walk(G, A, y, z0, dr, length=2.0, steps=20, top=4, threshold=None)
    assert kept.errors.max().item() < 0.1 * line[1:].max().item()
    # without corrections it is the projected straight walk: error grows
    free = null_space_walk(G, A, y, z0, dr, length=2.0, steps=20, top=4, corrections=0)
    assert free.errors[-1].item() > path.errors[-1].item()
    assert math.isclose(free.correction.sum().item(), 0.0)


def test_walk_steered_by_a_distance_moves_farther(tiny_problem):
    from eglass.distances import PixelDistance

    G, A, y, z0, H_Y, H_X = tiny_problem
    dist = PixelDistance()
    dr = eglass_direction(H_Y, H_X, 2, threshold=0.1, top=4)
    kwargs = dict(length=2.0, steps=20, top=4, corrections=2)
    plain = null_space_walk(G, A, y, z0, dr, **kwargs)
    steered = null_space_walk(G, A, y, z0, dr, distance=dist, **kwargs)
    # the first step has no gradient to follow (the distance is minimal at z0); later steps
    # turn (whether that ends farther depends on the landscape: the held-out digit test
    # below checks it where it matters)
    assert torch.allclose(steered.z[1], plain.z[1])
    assert (steered.z[-1] - plain.z[-1]).norm() > 0.1
    # each step's tangent leans towards the distance's gradient more than the plain walk's
    x0 = G(z0).detach()
    grad = torch.func.grad(lambda v: dist(G(v.unsqueeze(0)), x0).sum())
    for k in range(2, 20, 4):
        cos = [torch.cosine_similarity(grad(w.z[k]), w.z[k + 1] - w.z[k], dim=0).item()
               for w in (steered, plain)]
        assert cos[0] > cos[1], f"step {k}: cos steered {cos[0]:.3f}, plain {cos[1]:.3f}"
    assert steered.errors.max().item() < 1e-6
    # ascent 0 turns the steering off
    off = null_space_walk(G, A, y, z0, dr, distance=dist, ascent=0.0, **kwargs)
    assert torch.equal(off.z, plain.z)
    with pytest.raises(ValueError, match="ascent must be a finite number >= 0"):
        null_space_walk(G, A, y, z0, dr, distance=dist, ascent=-1.0, **kwargs)
    with pytest.raises(TypeError, match="distance must be callable"):
        null_space_walk(G, A, y, z0, dr, distance=3.0, **kwargs)


def test_walk_versus_line_compares_at_equal_distances(tiny_problem):
    from eglass.distances import PixelDistance

    G, A, y, z0, H_Y, H_X = tiny_problem
    dist = PixelDistance()
    dr = eglass_direction(H_Y, H_X, 2, threshold=0.1, top=4)
    s = torch.linspace(0, 2.0, 21, dtype=torch.float64)
    with torch.no_grad():
        line = G(z0 + s[:, None] * dr.d)
        line_errors = measurement_error(A, line, y)
    tau = line_errors[10].item()  # the line leaves at its 11th point
    c = walk_versus_line(G, A, y, z0, dr, dist, tau=tau, length=2.0, steps=20, top=4)
    assert c.exit == 11 and torch.allclose(c.line, line) and torch.allclose(c.line_errors,
                                                                           line_errors)
    with torch.no_grad():
        assert c.line_at_exit == pytest.approx(dist(line[11:12], G(z0)).item())
        assert torch.allclose(c.walk_change, dist(G(c.path.z), G(z0)))
    assert (c.path.errors <= tau).all() and c.walk_farthest == c.walk_change.max().item()
    never = walk_versus_line(G, A, y, z0, dr, dist, tau=1.0, length=2.0, steps=20, top=4)
    assert never.exit is None and never.line_at_exit is None
    with pytest.raises(ValueError, match="tau must be positive"):
        walk_versus_line(G, A, y, z0, dr, dist, tau=0.0)


def test_explore_walk_reads_the_path(tiny_problem):
    G, A, y, z0, H_Y, H_X = tiny_problem
    out = explore(G, A, y, z0, H_Y, H_X, method="walk", Ks=[2], etas=[-1.0, 0.5, 1.0],
                  top=4, threshold=0.1, walk_steps=10)
    assert len(out.paths) == 2 and len(out) == 3
    forward = out.paths[0] if out.paths[0].length[-1] > 0 else out.paths[1]
    assert torch.equal(out.z[1], forward.z[5]) and torch.equal(out.z[2], forward.z[10])
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        null_space_walk(G, A, y, z0, out.directions[0], 1.0, steps=0)
    with pytest.raises(ValueError, match="refresh must be a positive integer"):
        null_space_walk(G, A, y, z0, out.directions[0], 1.0, refresh=0)
    with pytest.raises(ValueError, match=r"direction must have shape \(8,\)"):
        null_space_walk(G, A, y, z0, torch.ones(5, dtype=torch.float64), 1.0)


# ----------------------------------------------------------------------------- diversity


def test_diversity_mean_pairwise_distance_and_classes():
    from eglass.distances import PixelDistance
    from eglass.evaluate import diversity

    g = torch.Generator().manual_seed(0)
    x = torch.rand(5, 1, 7, 9, generator=g) * 2 - 1
    dist = PixelDistance()
    pairs = [dist(x[i : i + 1], x[j : j + 1]).item() for i in range(5) for j in range(i + 1, 5)]
    out = diversity(x, dist)
    assert out.n == 5 and out.classes is None
    assert out.mean_distance == pytest.approx(sum(pairs) / len(pairs), rel=1e-5)
    # any callable distance gives the same number
    assert diversity(x, lambda a, b: dist(a, b)).mean_distance == pytest.approx(
        out.mean_distance, rel=1e-5)
    # classes: a linear "which half is brighter" classifier on real images
    x[:2, :, :, :4] = 1.0
    x[:2, :, :, 4:] = -1.0
    x[2:, :, :, :4] = -1.0
    x[2:, :, :, 4:] = 1.0
    half = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(63, 2, bias=False))
    with torch.no_grad():
        w = torch.zeros(2, 1, 7, 9)
        w[0, :, :, :4], w[1, :, :, 4:] = 1.0, 1.0
        half[1].weight.copy_(w.flatten(1))
    both = diversity(x, dist, classifier=half)
    assert both.classes == 2 and both.labels.tolist() == [0, 0, 1, 1, 1]
    only = diversity(x, dist, classifier=half, mask=torch.tensor([True, True, False, False, False]))
    assert only.n == 2 and only.classes == 1 and only.mean_distance == pytest.approx(0.0)
    none = diversity(x, dist, classifier=half, mask=torch.zeros(5, dtype=torch.bool))
    assert none.n == 0 and math.isnan(none.mean_distance) and none.classes == 0
    with pytest.raises(ValueError, match=r"mask must be a boolean tensor of shape \(5,\)"):
        diversity(x, dist, mask=torch.ones(4, dtype=torch.bool))


def test_concat_and_summarize(tiny_problem):
    from eglass.distances import PixelDistance
    from eglass.explore import concat, summarize, summary_table

    G, A, y, z0, H_Y, H_X = tiny_problem
    dist = PixelDistance()
    runs = [explore(G, A, y, z0, H_Y, H_X, Ks=[2, 3], etas=etas, top=4, threshold=0.1,
                    distance=dist, tau=1e-4) for etas in ([-0.2, 0.2], [-3.0, 3.0])]
    pooled = concat(runs)
    assert len(pooled) == 8 and torch.equal(pooled.errors, torch.cat([r.errors for r in runs]))
    row = summarize(runs, dist)
    assert row["n"] == 8 and row["feasible"] == pytest.approx(pooled.feasible.float().mean())
    assert row["error_min"] == pooled.errors.min().item()
    assert row["perceptual"] == pytest.approx(pooled.perceptual.median().item())
    # small steps stay feasible, large ones do not: the fraction is strictly between 0 and 1
    assert runs[0].feasible.all() and not runs[1].feasible.all() and 0 < row["feasible"] < 1
    table = summary_table([row])
    assert "eglass" in table and f"{row['feasible']:.0%}" in table
    with pytest.raises(ValueError, match="different tau"):
        concat([runs[0], explore(G, A, y, z0, H_Y, H_X, Ks=[2], top=4, tau=0.5)])


def test_sweep_matches_explore_per_setting(tiny_problem):
    from eglass.distances import PixelDistance
    from eglass.explore import sweep

    G, A, y, z0, H_Y, H_X = tiny_problem
    dist = PixelDistance()
    grid = dict(thresholds=(0.05, 0.3), tops=(2, 4), Ks=[2, 3, 5], etas=(-2.0, -0.5, 0.5, 2.0))
    sw = sweep(G, A, y, z0, H_Y, H_X, dist, tau=1e-4, **grid)
    assert sw.feasible.shape == (2, 2) and sw.thresholds == [0.05, 0.3] and sw.tops == [2, 4]
    for i, threshold in enumerate(grid["thresholds"]):
        for j, top in enumerate(grid["tops"]):
            ex = explore(G, A, y, z0, H_Y, H_X, Ks=grid["Ks"], etas=grid["etas"], tau=1e-4,
                         threshold=threshold, top=top, distance=dist)
            assert sw.feasible[i, j].item() == pytest.approx(ex.feasible_fraction)
            expected = ex.perceptual[ex.feasible].median().item() if ex.feasible.any() else 0.0
            assert sw.perceptual[i, j].item() == pytest.approx(expected, rel=1e-6)
    assert 0 < sw.feasible.mean() < 1  # the grid is informative: some settings fail


# ----------------------------------------------------------------------------- widgets


def test_explorer_figure_and_widget(tiny_generator):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from eglass.operators import Inpainting
    from eglass.widgets import Explorer, explorer

    G = tiny_generator
    mask = torch.zeros(12, 10, dtype=torch.float64)
    mask[4:6, 3:6] = 1.0  # observe 6 pixels: m < d, like the crop
    A = Inpainting(mask)
    z0 = torch.randn(1, 8, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    with torch.no_grad():
        y = A(G(z0))
    H_Y, H_X = tiny_metrics(G, A, z0)
    ex = Explorer(G, A, y, z0, H_Y, H_X, top=4, threshold=0.1, eta_max=2.0, walk_steps=8)
    for method in ("eigenvector", "eglass", "generalized", "walk"):
        s = ex.solution(method, 2, 1.5)
        ref = explore(G, A, y, z0, H_Y, H_X, method=method, Ks=[2], etas=[1.5], top=4,
                      threshold=0.1, walk_steps=8) if method != "walk" else None
        if ref is not None:
            assert torch.allclose(s["x"], ref.x) and s["error"] == pytest.approx(ref.errors.item())
    walked = null_space_walk(G, A, y, z0, ex.direction("walk", 2), 2.0, 8, 4, refresh=4,
                             target=0.9 * ex.tau)
    assert torch.allclose(ex.latent("walk", 2, 1.5), walked.z[6:7])
    fig = ex.figure("eglass", 2, -1.0)
    assert len([a for a in fig.axes if a.images]) == 5 and "eglass, K=2" in fig._suptitle.get_text()
    plt.close(fig)
    with pytest.raises(ValueError, match=r"\|eta\| must be <= eta_max=2.0"):
        ex.latent("eglass", 2, 3.0)
    from eglass.widgets import correlation_figure, solutions_figure

    dirs = [ex.direction("eglass", K) for K in (2, 3)]
    fig = correlation_figure(dirs, n=8)
    assert len(fig.axes) == 4
    plt.close(fig)
    runs = [explore(G, A, y, z0, H_Y, H_X, method=m, Ks=[2], etas=[-1.0, 1.0], top=4,
                    threshold=0.1) for m in ("eigenvector", "eglass")]
    fig = solutions_figure(runs, ["v^K", "d"], reference=ex.x0)
    lo, hi = runs[1].error_range()
    assert any(f"[{lo:.1e}, {hi:.1e}]" in a.get_ylabel() for a in fig.axes)
    plt.close(fig)
    box = explorer(G, A, y, z0, H_Y, H_X, Ks=[1, 2, 3], top=4, threshold=0.1, eta_max=2.0)
    method, K, eta = box.children[0].children
    assert K.options == (1, 2, 3) and eta.max == 2.0 and box.explorer.dim == 8
    K.value = 1  # redraws without a frontend
    plt.close("all")


# ----------------------------------------------------------------------------- held-out digits
# The embedded prior (mnist-dcgan + mnist-cnn distance) on held-out test digits: one digit
# per problem, inverted by a latent fit; metrics from eglass.geometry.


@pytest.fixture(scope="module", params=["sr8", "inpainting"])
def digit_problem(request):
    from eglass.data import mnist
    from eglass.distances import default_distance
    from eglass.geometry import measurement_metric, perceptual_metric
    from eglass.inversion import invert
    from eglass.models import load_classifier, load_generator
    from eglass.operators import Inpainting, SuperResolution, box_mask

    G = load_generator("mnist-dcgan")
    dist = default_distance(load_classifier("mnist-cnn"))
    x_test, labels = mnist("test")
    if request.param == "sr8":
        A, x_true = SuperResolution(8), x_test[labels == 3][:1]
    else:
        A, x_true = Inpainting(box_mask(32, 14)), x_test[labels == 5][:1]
    y = A(x_true)
    z0 = invert(G, A, y, "latent", restarts=4, steps=300, seed=0, progress=False).z
    return dict(name=request.param, G=G, A=A, y=y, z0=z0, dist=dist,
                H_Y=measurement_metric(G, A, z0), H_X=perceptual_metric(G, dist, z0))


def test_heldout_eglass_beats_vK_at_equal_eta(digit_problem):
    """With the default threshold and top. Directions K = 2..10: beyond K ~ 12 on this prior
    v^K's measurement component is already second-order small and orthogonalizing gives no
    consistent gain (measured: 70-95% wins at K = 3..15 on SR x8)."""
    from eglass.explore import THRESHOLD, TOP

    p = digit_problem
    Ks, etas = [2, 4, 6, 8, 10], [-2.0, -1.0, 1.0, 2.0]
    for K in Ks:
        dr = eglass_direction(p["H_Y"], p["H_X"], K)
        assert dr.corr_Y[:TOP].abs().max().item() <= THRESHOLD + 1e-6
        assert dr.quad_Y < dr.quad_Y_start or not dr.removed
    ours = explore(p["G"], p["A"], p["y"], p["z0"], p["H_Y"], p["H_X"], Ks=Ks, etas=etas)
    base = explore(p["G"], p["A"], p["y"], p["z0"], p["H_Y"], p["H_X"], method="eigenvector",
                   Ks=Ks, etas=etas)
    wins = (ours.errors < base.errors).float().mean().item()
    assert wins >= 0.8, f"{p['name']}: Algorithm 1 lowers the error in only {wins:.0%} of cases"


def test_heldout_walk_stays_feasible_beyond_the_line(digit_problem):
    """Along the same starting direction and distance, the straight line leaves the feasible
    set and the walk does not, and the walk ends up perceptually farther from G(z0) than the
    line is at the point where it leaves. SR x8 is tested at the strict level, where its lines
    do leave within the tested distance."""
    from eglass.evaluate import TAU, TAU_STRICT

    p = digit_problem
    tau = TAU_STRICT if p["name"] == "sr8" else TAU
    exits = 0
    for K in (2, 4, 8):
        dr = eglass_direction(p["H_Y"], p["H_X"], K)
        c = walk_versus_line(p["G"], p["A"], p["y"], p["z0"], dr, p["dist"], tau=tau, refresh=4)
        assert (c.path.errors <= tau).all(), f"K={K}: walk error {c.path.errors.max():.2e}"
        if c.exit is None:
            continue
        exits += 1
        assert c.walk_farthest > c.line_at_exit, (
            f"K={K}: walk {c.walk_farthest:.3f}, line at exit {c.line_at_exit:.3f}")
    assert exits >= 2, "the straight lines should leave feasibility within the tested length"
