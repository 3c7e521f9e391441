"""Faithfulness against the start, the feasible reach of a direction, solutions placed inside
it, and the feasibility level the measurement noise sets (issue 29).

The reach is checked on the embedded digit prior at a held-out digit's fast-start solution:
the step it returns is feasible, and the nearest infeasible step it reports lies within the
stated tolerance beyond it and is infeasible.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import scipy.stats
import torch

from eglass import models, widgets
from eglass.data import mnist
from eglass.distances import default_distance
from eglass.evaluate import TAU, noise_tau, residual_error
from eglass.explore import reach, starting_points, walk_reach
from eglass.methods import run
from eglass.operators import Inpainting, SuperResolution, add_noise, box_mask
from eglass.problem import InverseProblem
from eglass.walk import WalkSettings


@pytest.fixture(scope="module")
def G():
    return models.load_generator("mnist-dcgan")


@pytest.fixture(scope="module")
def point(G):
    """The fast start of a held-out "4" at 8x super-resolution, with its metrics."""
    digits, _ = mnist("test")
    A = SuperResolution(8)
    problem = InverseProblem(G, A, A(digits[4 * 50 : 4 * 50 + 1]), default_distance())
    (found,) = starting_points(problem, method="fast")
    return found


def errors_at(point, D: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """Measurement errors of G(z0 + steps[i] D[i]), computed directly."""
    z = point.z0 + steps[:, None].to(point.z0) * D
    return point.problem.latent_error(z).double()


# ----------------------------------------------------------------------------- the reach

@pytest.mark.parametrize("tau", [TAU, 1e-3])
def test_reach_is_the_boundary(point, tau):
    dirs = [point.direction(K) for K in (2, 3, 5, 8)]
    r = reach(point.problem, point.z0, dirs, tau=tau)
    D = torch.stack([dr.d for dr in dirs])
    assert r.eta.shape == r.outside.shape == r.errors.shape == (4, 2)
    signs = torch.tensor([-1.0, 1.0])
    rays = (signs[None, :, None] * D[:, None, :]).reshape(-1, point.problem.latent_dim)
    inside = errors_at(point, rays, r.eta.flatten())
    assert torch.all(inside <= tau), "the reach itself must be feasible"
    assert torch.allclose(inside, r.errors.flatten(), rtol=1e-5)
    bounded = ~r.capped.flatten()
    assert bounded.any() or tau == TAU, "at 1e-3 some direction must leave the feasible set"
    gap = (r.outside.flatten() - r.eta.flatten())[bounded]
    assert torch.all((gap > 0) & (gap <= r.tol)), gap  # within the stated tolerance
    outside = errors_at(point, rays[bounded], r.outside.flatten()[bounded])
    assert torch.all(outside > tau), "just beyond the reach must be infeasible"
    capped = r.capped.flatten()
    assert torch.all(r.eta.flatten()[capped] == r.max_eta)
    assert r.max_eta == math.sqrt(64) and r.tol == r.max_eta / 1000
    # every step on the bracketing grid below the reach is feasible
    grid = r.max_eta * torch.arange(1, 17, dtype=torch.float64) / 16
    for ray, length in zip(rays, r.eta.flatten(), strict=True):
        below = grid[grid <= length]
        if len(below):
            assert torch.all(errors_at(point, ray.expand(len(below), -1), below) <= tau)


def test_reach_perceptual_is_the_distance_there(point):
    dr = point.direction(4)
    r = reach(point.problem, point.z0, dr.d[None], tau=1e-3)
    x = point.problem.generate(point.z0 + torch.stack([-r.eta[0, 0], r.eta[0, 1]])[:, None]
                               .to(point.z0) * dr.d)
    direct = point.problem.distance(x, point.x0).double()
    assert torch.allclose(r.perceptual[0], direct, rtol=1e-5)
    assert r.passes <= 1 + math.ceil(math.log2(r.max_eta / 16 / r.tol)) + 1


def test_reach_takes_the_problem_tau_and_checks_its_input(point):
    noisy = point.problem.with_noise(0.05)
    assert reach(noisy, point.z0, point.direction(3).d).tau == noisy.tau
    with pytest.raises(ValueError, match=r"shape \(k, 64\)"):
        reach(point.problem, point.z0, torch.ones(3, 8))
    with pytest.raises(ValueError, match="non-zero"):
        reach(point.problem, point.z0, torch.zeros(1, 64))
    with pytest.raises(ValueError, match="G\\(z0\\) is not feasible"):
        reach(point.problem, point.z0, point.direction(3).d, tau=1e-7)
    with pytest.raises(ValueError, match="G\\(z0\\) is not feasible"):
        walk_reach(point.problem, point.z0, point.direction(3).d, tau=1e-7)


def test_walk_reach_stays_feasible_as_far_as_it_says(point):
    r = walk_reach(point.problem, point.z0, [point.direction(3)], tau=1e-3, length=4.0,
                   settings=WalkSettings(steps=8))
    assert r.eta.shape == (1, 2) and torch.all(r.eta <= 4.0)
    assert torch.all(r.errors <= 1e-3)
    assert torch.all(r.capped == r.outside.isinf())


def test_starting_point_reach_for_each_method(point):
    for method in ("eigenvector", "eglass", "generalized"):
        r = point.reach(Ks=(2, 4), method=method, tau=1e-3, max_eta=6.0)
        assert r.eta.shape == (2, 2) and r.max_eta == 6.0 and r.tau == 1e-3
    assert point.reach(Ks=(2,), method="eglass", top=16).eta.shape == (1, 2)


# ------------------------------------------------------------- solutions inside the reach

def test_solutions_placed_inside_the_reach_are_feasible(point):
    for tau in (TAU, 1e-3):
        for method in ("eigenvector", "eglass", "generalized"):
            s = point.explore(method=method, Ks=range(2, 8), etas=(-1.0, -0.5, 0.5, 1.0),
                              placement="reach", tau=tau)
            assert torch.all(s.errors <= tau), (method, tau, s.errors.max().item())
            assert torch.equal(s.columns["fraction"], torch.tensor([-1.0, -0.5, 0.5, 1.0],
                                                                   dtype=torch.float64)
                               .repeat(6))
            assert torch.allclose(s.eta.double().abs(),
                                  s.columns["fraction"].abs() * s.columns["reach"])


def test_reach_column_beside_fixed_steps(point):
    s = point.explore(Ks=(2, 3), etas=(-3.0, 3.0), reach=True, tau=1e-3)
    r = point.reach(Ks=(2, 3), tau=1e-3)
    assert s.eta.tolist() == [-3.0, 3.0, -3.0, 3.0]
    assert torch.equal(s.columns["reach"], r.eta.flatten())  # side of each step: -, +
    beyond = s.eta.double().abs() > s.columns["reach"]
    assert torch.all(s.feasible(1e-3) == ~beyond)


def test_reach_placement_is_checked(point):
    with pytest.raises(ValueError, match=r"fractions .* \[-1, 0\) or \(0, 1\]"):
        point.explore(placement="reach", etas=(-3.0, 3.0))
    with pytest.raises(ValueError, match="placement must be one of"):
        point.explore(placement="edge")
    with pytest.raises(ValueError, match="walk holds its solutions feasible"):
        point.explore(method="walk", placement="reach", etas=(1.0,))


# --------------------------------------------------------------- faithfulness vs the start

def test_faithfulness_against_the_start_equals_a_direct_computation(point):
    f = point.faithfulness(Ks=(3, 6), etas=(-2.0, 0.5, 4.0), top=8)
    problem, A = point.problem, point.problem.operator
    start = A(point.x0)
    assert f.e0 == pytest.approx(residual_error(start - problem.y).item())
    m = problem.y[0].numel()
    for i, K in enumerate((3, 6)):
        d = point.direction(K, top=8)
        v = point.direction(K, method="eigenvector")
        for j, eta in enumerate((-2.0, 0.5, 4.0)):
            x_d = problem.generate(point.z0 + eta * d.d.to(point.z0))
            x_v = problem.generate(point.z0 + eta * v.d.to(point.z0))
            assert f.change_d[i, j].item() == pytest.approx(
                residual_error(A(x_d) - start).item(), rel=1e-5)
            assert f.change_v[i, j].item() == pytest.approx(
                residual_error(A(x_v) - start).item(), rel=1e-5)
            assert f.error_d[i, j].item() == pytest.approx(problem.error(x_d).item(), rel=1e-5)
            assert f.predicted_d[i, j].item() == pytest.approx(
                eta**2 * max(d.quad_Y, 0.0) / (4 * m), rel=1e-9)
    assert f.ratio.shape == f.linear_share.shape == (6,)


def test_faithfulness_follows_first_order_at_small_steps(point):
    """Along v^K, whose change is first order, the prediction matches at a small step and
    the ratio against the start grows as the step shrinks (it would tend to 1 against y)."""
    f = point.faithfulness(Ks=range(2, 8), etas=(-0.05, 0.05, -3.0, 3.0))
    curves = f.curves()
    assert curves["eta"].tolist() == [0.05, 3.0]
    share = (f.predicted_v / f.change_v)[:, :2].median().item()
    assert 0.8 < share < 1.25, share
    assert curves["ratio"][0] > curves["ratio"][1] > 1


# ------------------------------------------------------------------- tau from the noise

@pytest.mark.parametrize("sigma, m", [(0.05, 16), (0.02, 880), (0.1, 3 * 8 * 8)])
def test_noise_tau_matches_the_formula(sigma, m):
    expected = sigma**2 / 4 * scipy.stats.chi2.ppf(0.99, m) / m
    assert noise_tau(sigma, m) == pytest.approx(expected, rel=1e-12)
    assert noise_tau(sigma, m, confidence=0.5) < noise_tau(sigma, m)


def test_noise_tau_holds_the_truth_at_its_confidence(G):
    """Of 400 noisy measurements of one image, about 99 % leave the truth feasible."""
    A = SuperResolution(8)
    x = G(torch.randn(1, 64, generator=torch.Generator().manual_seed(3)))
    clean = A(x)
    tau = noise_tau(0.05, clean[0].numel())
    errors = torch.stack([residual_error(add_noise(clean, 0.05, seed=s) - clean)[0]
                          for s in range(400)])
    assert 0.975 <= (errors <= tau).float().mean().item() <= 1.0


def test_noise_tau_rejects_bad_input():
    with pytest.raises(ValueError, match="sigma"):
        noise_tau(0.0, 16)
    with pytest.raises(ValueError, match="m must"):
        noise_tau(0.1, 0)
    with pytest.raises(ValueError, match="confidence must be in"):
        noise_tau(0.1, 16, confidence=1.0)


def test_problem_tau_follows_the_noise(G):
    A = Inpainting(box_mask(32, 12))
    y = A(G(torch.zeros(1, 64)))
    plain = InverseProblem(G, A, y)
    noisy = InverseProblem(G, A, add_noise(y, 0.05, seed=0), noise=0.05)
    assert plain.tau == TAU and plain.noise is None
    assert noisy.tau == noise_tau(0.05, y[0].numel())
    assert InverseProblem(G, A, y, noise=0).tau == TAU  # 0: noiseless
    assert plain.with_noise(0.05).tau == noisy.tau and "sigma=0.05" in repr(noisy)
    with pytest.raises(ValueError, match="noise"):
        InverseProblem(G, A, y, noise=-0.1)


def test_methods_default_to_the_tau_of_the_noise(point):
    noisy = point.problem.with_noise(0.05)
    at = replace(point, problem=noisy, original=noisy)
    assert at.explore(Ks=(2,)).tau == noisy.tau
    assert at.explore(Ks=(2,), tau=1e-3).tau == 1e-3
    pulse = run("pulse", at, n=2, steps=5)
    assert pulse.tau == noisy.tau and pulse.params["eps"] == noisy.tau
    assert run("pulse", point, n=2, steps=5).params["eps"] == 2e-3  # upstream's, no noise
    langevin = run("langevin", at, n=2, burn_in=5, thin=1)
    assert langevin.params["sigma"] == 0.05 and langevin.tau == noisy.tau


# ------------------------------------------------------------------------ the explorer

def test_explorer_slider_spans_the_feasible_interval(point):
    box = widgets.explorer(point.problem, point.z0, point.H_Y, point.H_X, eta_max=4.0,
                           methods=("eglass", "walk"))
    core = box.explorer
    method, K, eta = box.children[0].children
    status = box.children[1]
    for k in (8, 3):
        K.value = k
        minus, plus = core.reach("eglass", k)
        assert eta.min == -math.floor(minus / 0.25 + 1e-9) * 0.25
        assert eta.max == math.floor(plus / 0.25 + 1e-9) * 0.25
        assert f"[{-minus:+.2f}, {plus:+.2f}]" in status.value
        for value in (eta.min, eta.max):
            assert core.solution("eglass", k, value)["feasible"]
    method.value = "walk"
    assert eta.max <= 4.0 and "feasible for eta in" in status.value


def test_explorer_says_when_the_start_is_not_feasible(point):
    core = widgets.Explorer(point.problem, point.z0, point.H_Y, point.H_X, tau=1e-8)
    assert core.reach("eglass", 4) is None
    fig = core.figure("eglass", K=4, eta=1.0)
    assert "NOT feasible" in fig._suptitle.get_text()
