"""Tests of eglass.problem.InverseProblem (the one owner of A∘G) and of the clear errors it
and the functions built on it give for bad input: bare numbers where sequences belong, a
batch size of 0, a string distance, a non-positive loss weight, generators in training mode
(refused without touching their BatchNorm buffers) and generators whose latent_dim
disagrees with their input layer."""

from __future__ import annotations

import copy

import pytest
import torch
from conftest import TinyGenerator
from test_explore import tiny_setup

from eglass.baselines import langevin, pulse
from eglass.evaluate import measurement_error
from eglass.explore import explore
from eglass.geometry import measurement_metric
from eglass.problem import InverseProblem


@pytest.fixture
def tiny_problem(tiny_generator):
    return tiny_setup(tiny_generator)


@pytest.fixture(scope="module")
def shipped():
    """The shipped mnist-dcgan generator (eval mode), SR x8 and measurements of G(0)."""
    from eglass.models import load_generator
    from eglass.operators import SuperResolution

    G = load_generator("mnist-dcgan")
    A = SuperResolution(8)
    with torch.no_grad():
        y = A(G(torch.zeros(1, G.latent_dim)))
    return G, A, y


# ----------------------------------------------------------------------------- InverseProblem


def test_measure_error_and_latent_error_are_those_of_A_and_G(tiny_problem):
    G, A, y, z0, H_Y, H_X = tiny_problem
    problem = InverseProblem(G, A, y)
    z = z0 + 0.3 * torch.randn(5, 8, generator=torch.Generator().manual_seed(0),
                               dtype=torch.float64)
    with torch.no_grad():
        x = G(z)
        assert torch.equal(problem.measure(z), A(x))
        assert torch.equal(problem.error(x), measurement_error(A, x, y))
        torch.testing.assert_close(problem.latent_error(z), measurement_error(A, x, y),
                                   rtol=1e-12, atol=1e-18)
    torch.testing.assert_close(problem.generate(z, batch_size=2), x, rtol=1e-12, atol=1e-14)
    assert problem.latent_error(z0).item() == pytest.approx(0.0, abs=1e-20)
    assert problem.latent_dim == 8 and problem.n == 1 and problem.dtype == torch.float64


def test_latent_takes_exactly_one_latent_of_the_generators_dtype(tiny_problem):
    G, A, y, z0, H_Y, H_X = tiny_problem
    problem = InverseProblem(G, A, y)
    assert torch.equal(problem.latent(z0[0]), z0) and problem.latent(z0).shape == (1, 8)
    with pytest.raises(ValueError, match=r"z0 must be one latent of shape \(1,8\).*got \(2,8\)"):
        problem.latent(z0.repeat(2, 1))
    single = InverseProblem(TinyGenerator().eval())  # float32 parameters
    with pytest.raises(TypeError, match=r"z0 is torch\.float64 but the generator's parameters "
                                        r"are torch\.float32"):
        single.latent(torch.zeros(1, 8, dtype=torch.float64))


def test_older_form_and_problem_form_agree(tiny_problem):
    from eglass.distances import PixelDistance

    G, A, y, z0, H_Y, H_X = tiny_problem
    dist = PixelDistance()
    assert torch.equal(measurement_metric(G, A, z0), measurement_metric(InverseProblem(G, A), z0))
    kw = dict(Ks=[2, 3], etas=[-1.0, 0.5], top=4, threshold=0.1)
    old = explore(G, A, y, z0, H_Y, H_X, distance=dist, **kw)
    new = explore(InverseProblem(G, A, y, dist), z0, H_Y, H_X, **kw)
    for name in ("z", "x", "errors", "perceptual", "reference"):
        assert torch.equal(getattr(old, name), getattr(new, name)), name
    assert old.columns.keys() == new.columns.keys()
    assert all(torch.equal(old.columns[k], new.columns[k]) for k in old.columns)


# ----------------------------------------------------------------------------- explore input
# Before the reshape: Ks=8 and etas=1.5 gave "'int'/'float' object is not iterable", a 2-D
# etas tensor "float() argument must be ... not 'list'", batch_size=0 a RuntimeError from
# torch.split and distance="lpips" "'str' object is not callable" -- none naming what was
# expected.


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(Ks=8), TypeError, r"Ks must be a sequence of 1-based direction indices.*Ks=\(8,\)"),
        (dict(etas=1.5), TypeError, r"etas must be a sequence of steps, e\.g\. etas=\(1\.5,\)"),
        (dict(etas=torch.ones(2, 2)), ValueError,
         r"etas must be one-dimensional, got a tensor of shape \(2, 2\)"),
        (dict(batch_size=0), ValueError, "batch_size must be a positive integer, got 0"),
        (dict(distance="lpips"), TypeError,
         r"distance must be an eglass\.distances\.Distance .* or a callable .* got str 'lpips'"),
    ],
)
def test_explore_names_what_it_expected(tiny_problem, kwargs, error, match):
    G, A, y, z0, H_Y, H_X = tiny_problem
    kwargs = {"top": 4, **kwargs}
    with pytest.raises(error, match=match):
        explore(G, A, y, z0, H_Y, H_X, **kwargs)


def test_a_string_distance_is_refused_by_the_problem(tiny_problem):
    G, A, y, *_ = tiny_problem
    with pytest.raises(TypeError, match=r"distance must be .* got str 'lpips'"):
        InverseProblem(G, A, y, "lpips")
    with pytest.raises(TypeError, match=r"distance must be .* got str 'lpips'"):
        InverseProblem(G, A, y, distance="lpips")


# ----------------------------------------------------------------------------- baselines input


def test_pulse_refuses_a_non_positive_loss_weight(tiny_problem):
    G, A, y, *_ = tiny_problem
    # before the reshape a negative weight was accepted: Adam then ascended the error
    with pytest.raises(ValueError, match="loss_weight must be a finite number > 0, got -100"):
        pulse(G, A, y, 2, loss_weight=-100, progress=False, warn=False)


@pytest.mark.parametrize("method", ["pulse", "langevin", "problem"])
def test_a_generator_in_training_mode_is_refused_untouched(shipped, method):
    """Before the reshape PULSE ran in training mode (batch statistics mixed the restarts)
    and changed 12 BatchNorm buffers of the user's generator."""
    G, A, y = shipped
    trained = copy.deepcopy(G).train()
    before = copy.deepcopy(trained.state_dict())
    calls = dict(
        pulse=lambda: pulse(trained, A, y, 2, steps=5, progress=False, warn=False),
        langevin=lambda: langevin(trained, A, y, 2, burn_in=2, thin=1, progress=False),
        problem=lambda: InverseProblem(trained, A, y),
    )
    with pytest.raises(ValueError, match=r"training mode .*call G\.eval\(\) first"):
        calls[method]()
    after = trained.state_dict()
    assert after.keys() == before.keys()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed == [], f"{method} changed {changed}"
    assert trained.training  # eglass never switches the user's model


@pytest.mark.parametrize("method", ["problem", "pulse"])
def test_a_latent_dim_that_disagrees_with_the_input_layer_is_named(shipped, method):
    """Before the reshape this surfaced as a matrix-multiplication RuntimeError deep inside
    the first forward pass."""
    G, A, y = shipped
    wrong = copy.deepcopy(G)
    wrong.latent_dim = 32  # its first layer still takes 64
    calls = dict(problem=lambda: InverseProblem(wrong, A, y),
                 pulse=lambda: pulse(wrong, A, y, 2, steps=5, progress=False, warn=False))
    with pytest.raises(ValueError, match=r"says latent_dim=32 but fails on latents of shape "
                                         r"\(1,32\).*Does latent_dim match its input layer"):
        calls[method]()
