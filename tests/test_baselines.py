"""Tests for eglass.baselines: PULSE restarts and latent Langevin sampling (the timed runs
against e-GLASS: tests/test_comparison.py)."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from torch import nn

from eglass.baselines import langevin, pulse, pulse_lr_factor
from eglass.evaluate import measurement_error
from eglass.figures import show_solutions
from eglass.problem import InverseProblem


def pool(x):
    """A simple linear forward model: 2x2 average pooling, (N,1,12,10) -> (N,1,6,5)."""
    return nn.functional.avg_pool2d(x, 2)


class Recorder(nn.Module):
    """Wraps a generator and records the norm of every latent it is evaluated at."""

    def __init__(self, G):
        super().__init__()
        self.G = G
        self.latent_dim = G.latent_dim
        self.norms = []

    def forward(self, z):
        self.norms.append(torch.as_tensor(z).detach().norm(dim=1).clone())
        return self.G(z)


def on_sphere_measurements(G, seed=5):
    """Measurements of an image G can produce from a latent on the sqrt(d) sphere."""
    z = torch.randn(1, G.latent_dim, generator=torch.Generator().manual_seed(seed))
    z = (z * G.latent_dim**0.5 / z.norm()).double()
    with torch.no_grad():
        return pool(G(z))


def test_pulse_every_evaluated_latent_is_on_the_sphere(tiny_generator):
    G = Recorder(tiny_generator)
    y = on_sphere_measurements(tiny_generator)
    result = pulse(InverseProblem(G, pool, y), 6, eps=1e-9, steps=30, progress=False, warn=False)
    d = tiny_generator.latent_dim
    norms = torch.cat(G.norms[1:])  # [0] is InverseProblem's shape check at z = 0
    assert norms.numel() == 6 * 31
    torch.testing.assert_close(norms, torch.full_like(norms, d**0.5))
    torch.testing.assert_close(result.z.norm(dim=1), torch.full((6,), d**0.5).double())


def test_pulse_restarts_differ_and_seeds_reproduce(tiny_generator):
    problem = InverseProblem(tiny_generator, pool, on_sphere_measurements(tiny_generator))
    a = pulse(problem, 5, seed=1, progress=False, warn=False)
    b = pulse(problem, 5, seed=1, progress=False, warn=False)
    c = pulse(problem, 5, seed=2, progress=False, warn=False)
    torch.testing.assert_close(a.z, b.z, rtol=0, atol=0)
    torch.testing.assert_close(a.x, b.x, rtol=0, atol=0)
    start = a.columns["start"]
    assert not torch.allclose(start, c.columns["start"])
    # the 5 restarts of one call start (and end) at different latents
    start_gaps = torch.cdist(start, start) + torch.eye(5, dtype=a.z.dtype) * 1e9
    end_gaps = torch.cdist(a.z, a.z) + torch.eye(5, dtype=a.z.dtype) * 1e9
    assert start_gaps.min() > 0.1 and end_gaps.min() > 1e-3
    # one torch.Generator passed to two calls continues its stream: no repeated restarts
    g = torch.Generator().manual_seed(3)
    first = pulse(problem, 3, seed=g, progress=False, warn=False)
    second = pulse(problem, 3, seed=g, progress=False, warn=False)
    assert torch.cdist(first.columns["start"], second.columns["start"]).min() > 0.1


def test_pulse_eps_criterion_and_best_iterate(tiny_generator):
    y = on_sphere_measurements(tiny_generator)
    problem = InverseProblem(tiny_generator, pool, y)
    eps = 2e-3
    result = pulse(problem, 8, eps=eps, steps=100, progress=False, warn=False)
    success, steps_used = result.feasible(), result.columns["steps_used"]
    assert result.tau == eps and success.any()
    # returned errors are the errors of the returned images, which are G of the returned z
    with torch.no_grad():
        torch.testing.assert_close(result.x, tiny_generator(result.z))
    torch.testing.assert_close(result.errors, measurement_error(pool, result.x, y))
    torch.testing.assert_close(success, result.errors <= eps)
    # restarts that reached eps stopped there; a stricter eps needs more steps
    assert (steps_used[success] < 100).all()
    strict = pulse(problem, 8, eps=1e-5, steps=100, progress=False, warn=False)
    torch.testing.assert_close(strict.columns["start"], result.columns["start"])
    strict_steps = strict.columns["steps_used"]
    both = success & strict.feasible()
    assert both.any()
    assert (strict_steps[both] >= steps_used[both]).all()
    assert (strict_steps[both] > steps_used[both]).any()
    assert (strict.errors[both] <= 1e-5).all()


def test_pulse_failures_are_counted_and_reported(tiny_generator):
    # a sign pattern pooled: far from anything the tiny generator produces
    pattern = torch.randn(1, 1, 12, 10, generator=torch.Generator().manual_seed(0)).sign()
    y = pool(pattern.double())
    with pytest.warns(UserWarning, match=r"4 of 4 restarts did not reach eps"):
        result = pulse(InverseProblem(tiny_generator, pool, y), 4, eps=1e-4, steps=40,
                       progress=False)
    assert int((~result.feasible()).sum()) == 4
    assert not result.feasible().any()
    assert (result.errors > 1e-4).all()
    assert (result.columns["steps_used"] == 40).all()


def test_pulse_lr_schedule_matches_upstream():
    steps = 100
    f = [pulse_lr_factor(s, steps) for s in range(steps)]
    assert f[0] == pytest.approx(0.1)
    assert f[45] == pytest.approx(1.0)
    assert f[90] == pytest.approx(0.1)
    assert pulse_lr_factor(steps, steps) == pytest.approx(1e-3)
    assert max(f) == pytest.approx(1.0) and f.index(max(f)) == 45
    assert pulse_lr_factor(50, steps, "linear1cycle") == pytest.approx(1.0)
    assert pulse_lr_factor(7, steps, "fixed") == 1.0
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        pulse_lr_factor(0, steps, "cosine")


def test_bad_inputs_raise_clear_errors(tiny_generator):
    y = on_sphere_measurements(tiny_generator)
    problem = InverseProblem(tiny_generator, pool, y)
    one_image = r"ONE image, shape \(1, \.\.\.\); this problem holds y of shape \(2,1,6,5\)"
    with pytest.raises(ValueError, match=one_image):
        pulse(InverseProblem(tiny_generator, pool, y.repeat(2, 1, 1, 1)), 3, progress=False)
    with pytest.raises(ValueError, match=r"y has shape \(1,1,5,5\) but A\(G\(z\)\)"):
        InverseProblem(tiny_generator, pool, y[..., :5, :])
    bad = y.clone()
    bad[0, 0, 0, 0] = math.nan
    with pytest.raises(ValueError, match="NaN"):
        InverseProblem(tiny_generator, pool, bad)
    for n in (0, True, 2.0):  # before the reshape Langevin's own check let True through
        for method in (pulse, langevin):
            with pytest.raises(ValueError, match=r"n \(number of solutions\) must be a positive"):
                method(problem, n, progress=False)
    for name, value in (("burn_in", -1), ("thin", 0), ("chains", True)):
        with pytest.raises(ValueError, match=f"{name} must be"):
            langevin(problem, 2, progress=False, **{name: value})
    for name, value in (("sigma", 0.0), ("step_size", -1.0)):
        with pytest.raises(ValueError, match=f"{name} must be"):
            langevin(problem, 2, progress=False, **{name: value})
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        pulse(problem, 2, steps=True, progress=False)
    with pytest.raises(ValueError, match="lr_schedule"):
        pulse(problem, 2, lr_schedule="cosine", progress=False)
    with pytest.raises(ValueError, match=r"init must have shape \(1,8\) or \(chains=2,8\)"):
        langevin(problem, 2, chains=2, init=torch.zeros(3, 8), progress=False)


def test_the_older_forms_of_pulse_and_langevin(tiny_generator):
    """pulse(G, A, y, n, ...) is an older form DESIGN.md keeps (silent); langevin's works but
    warns with the problem-first line; both give the problem-first form's numbers."""
    y = on_sphere_measurements(tiny_generator)
    problem = InverseProblem(tiny_generator, pool, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        old = pulse(tiny_generator, pool, y, 2, steps=5, progress=False, warn=False)
    assert torch.equal(old.z, pulse(problem, 2, steps=5, progress=False, warn=False).z)
    kw = dict(burn_in=3, thin=1, progress=False)
    with pytest.warns(FutureWarning, match=r"write langevin\(InverseProblem\(G, A, y\), n, "
                                           r"\.\.\.\) instead"):
        old = langevin(tiny_generator, pool, y, 2, **kw)
    assert torch.equal(old.z, langevin(problem, 2, **kw).z)


class LinearGenerator(nn.Module):
    """G(z) = W z reshaped to (N,1,4,4): with a linear A the latent posterior is Gaussian."""

    def __init__(self, latent_dim=3, seed=0):
        super().__init__()
        self.latent_dim = latent_dim
        g = torch.Generator().manual_seed(seed)
        self.W = nn.Parameter(0.3 * torch.randn(16, latent_dim, generator=g, dtype=torch.float64))

    def forward(self, z):
        return (z @ self.W.T).view(-1, 1, 4, 4)


def test_langevin_samples_the_gaussian_posterior_of_a_linear_model():
    G = LinearGenerator()
    sigma = 0.5
    z_true = torch.tensor([[1.0, -0.5, 0.3]], dtype=torch.float64)
    with torch.no_grad():
        y = pool(G(z_true))
    # exact posterior: precision P = W^T A^T A W / sigma^2 + I, mean = P^-1 W^T A^T y / sigma^2
    AW = torch.stack([pool(G.W[:, j].view(1, 1, 4, 4)).flatten() for j in range(3)], 1).detach()
    P = AW.T @ AW / sigma**2 + torch.eye(3, dtype=torch.float64)
    cov = torch.linalg.inv(P)
    mean = cov @ AW.T @ y.flatten() / sigma**2
    problem = InverseProblem(G, pool, y)
    result = langevin(problem, 2000, sigma=sigma, step_size=0.02, burn_in=200, thin=5,
                      chains=500, seed=0, progress=False)
    assert result.z.shape == (2000, 3) and result.x.shape == (2000, 1, 4, 4)
    torch.testing.assert_close(result.errors, measurement_error(pool, result.x, y))
    # Monte Carlo error of the mean ~ sqrt(var / 500); ULA bias O(h) on the variance
    torch.testing.assert_close(result.z.mean(0), mean, atol=0.1, rtol=0)
    sample_var = result.z.var(0)
    torch.testing.assert_close(sample_var, cov.diagonal(), rtol=0.15, atol=0)
    # automatic step size: 0.25 / L, L the top eigenvalue of H_Y / sigma^2 + I (constant here)
    auto = langevin(problem, 2, sigma=sigma, burn_in=5, thin=1, chains=2, progress=False)
    L = torch.linalg.eigvalsh(AW.T @ AW).max().item() / sigma**2 + 1
    assert auto.params["step_size"] == pytest.approx(0.25 / L, rel=1e-6)


def test_langevin_layout_seeds_and_divergence(tiny_generator):
    problem = InverseProblem(tiny_generator, pool, on_sphere_measurements(tiny_generator))
    kw = dict(sigma=0.05, step_size=1e-4, burn_in=20, thin=3, chains=3, progress=False)
    a = langevin(problem, 7, seed=4, **kw)
    b = langevin(problem, 7, seed=4, **kw)
    c = langevin(problem, 7, seed=5, **kw)
    torch.testing.assert_close(a.z, b.z, rtol=0, atol=0)
    assert not torch.allclose(a.z, c.z)
    assert a.columns["chain"].tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert a.columns["step"].tolist() == [23, 23, 23, 26, 26, 26, 29]
    z0 = torch.zeros(1, 8, dtype=torch.float64)
    started = langevin(problem, 3, seed=4, init=z0, **kw)
    assert not torch.allclose(started.z, a.z[:3])
    with pytest.raises(RuntimeError, match="step_size=100 is too large"):
        # the prior term alone multiplies z by (1 - h) = -99 per step: overflow in < 200 steps
        langevin(problem, 2, sigma=1e-3, step_size=100.0, burn_in=400, progress=False)


def test_show_solutions_labels_rows_with_error_ranges(tiny_generator):
    import matplotlib

    matplotlib.use("Agg")
    z = torch.randn(5, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        x = tiny_generator(z)
    errors = torch.tensor([3e-3, 1e-3, 2e-3, 5e-3, 4e-3])
    fig = show_solutions({"A": (x, errors), "B": (x[:2], errors[:2])}, k=4)
    axes = fig.axes
    assert len(axes) == 2 * 4
    assert axes[0].get_ylabel() == "A\n[1.0e-03, 5.0e-03]"
    assert axes[4].get_ylabel() == "B\n[1.0e-03, 3.0e-03]"
    assert axes[1].get_title() == "1.0e-03"
    with pytest.raises(ValueError, match="row 'empty' has no images"):
        show_solutions({"empty": (x[:0], errors[:0])})


def test_pulse_and_langevin_on_the_embedded_prior():
    from eglass.data import mnist
    from eglass.inversion import benchmark_problems
    from eglass.models import load_generator

    G = load_generator("mnist-dcgan")
    x, _ = mnist("test")
    A = benchmark_problems()["SR x8"]
    y = A(x[160:161])
    problem = InverseProblem(G, A, y)
    result = pulse(problem, 6, seed=0, progress=False, warn=False)
    success = result.feasible()
    torch.testing.assert_close(result.z.norm(dim=1), torch.full((6,), 8.0))
    with torch.no_grad():
        torch.testing.assert_close(result.errors, measurement_error(A, G(result.z), y))
    assert int((~success).sum()) + int(success.sum()) == 6
    assert (result.errors[success] <= 2e-3).all()
    assert (result.columns["steps_used"][success] < 100).all()
    samples = langevin(problem, 4, sigma=0.03, burn_in=20, thin=2, chains=2, progress=False)
    assert samples.x.shape == (4, 1, 32, 32) and torch.isfinite(samples.errors).all()
