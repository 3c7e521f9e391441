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
from torch import nn

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
    """The older forms still work (DESIGN.md's quietly, the others with a FutureWarning that
    gives the problem-first line) and give the problem-first form's numbers."""
    from eglass.distances import PixelDistance

    G, A, y, z0, H_Y, H_X = tiny_problem
    dist = PixelDistance()
    assert torch.equal(measurement_metric(G, A, z0), measurement_metric(InverseProblem(G, A), z0))
    kw = dict(Ks=[2, 3], etas=[-1.0, 0.5], top=4, threshold=0.1)
    with pytest.warns(FutureWarning, match=r"^explore\(G, A, y, \.\.\.\) is the older call form; "
                      r"write explore\(InverseProblem\(G, A, y, distance=distance\), z0, H_Y, "
                      r"H_X, \.\.\.\) instead$"):
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
        explore(InverseProblem(G, A, y), z0, H_Y, H_X, **kwargs)


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
    problem = InverseProblem(G, A, y)
    with pytest.raises(ValueError, match="loss_weight must be (a finite number )?> 0, got -100"):
        pulse(problem, 2, loss_weight=-100, progress=False, warn=False)


@pytest.mark.parametrize("method", ["pulse", "langevin", "problem", "older pulse"])
def test_a_generator_in_training_mode_is_refused_untouched(shipped, method):
    """Before the reshape PULSE ran in training mode (batch statistics mixed the restarts)
    and changed 12 BatchNorm buffers of the user's generator. A problem made while the
    generator was in eval mode is refused once it is switched to training mode."""
    G, A, y = shipped
    trained = copy.deepcopy(G)
    problem = InverseProblem(trained, A, y)
    trained.train()
    before = copy.deepcopy(trained.state_dict())
    calls = {
        "pulse": lambda: pulse(problem, 2, steps=5, progress=False, warn=False),
        "langevin": lambda: langevin(problem, 2, burn_in=2, thin=1, progress=False),
        "problem": lambda: InverseProblem(trained, A, y),
        "older pulse": lambda: pulse(trained, A, y, 2, steps=5, progress=False, warn=False),
    }
    with pytest.raises(ValueError, match=r"training mode .*call G\.eval\(\) first"):
        calls[method]()
    after = trained.state_dict()
    assert after.keys() == before.keys()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed == [], f"{method} changed {changed}"
    assert trained.training  # eglass never switches the user's model


@pytest.mark.parametrize("method", ["problem", "older pulse"])
def test_a_latent_dim_that_disagrees_with_the_input_layer_is_named(shipped, method):
    """Before the reshape this surfaced as a matrix-multiplication RuntimeError deep inside
    the first forward pass. The older form pulse(G, A, y, n, ...) names it alike."""
    G, A, y = shipped
    wrong = copy.deepcopy(G)
    wrong.latent_dim = 32  # its first layer still takes 64
    calls = {"problem": lambda: InverseProblem(wrong, A, y),
             "older pulse": lambda: pulse(wrong, A, y, 2, steps=5, progress=False, warn=False)}
    with pytest.raises(ValueError, match=r"says latent_dim=32 but fails on latents of shape "
                                         r"\(1,32\).*Does latent_dim match its input layer"):
        calls[method]()


# ----------------------------------------------------------------------------- derived problems


class Counting(nn.Module):
    """Wraps a generator and counts its forward passes."""

    def __init__(self, G):
        super().__init__()
        self.G, self.latent_dim, self.calls = G, G.latent_dim, 0

    def forward(self, z):
        self.calls += 1
        return self.G(z)


def test_derived_problems_do_not_run_the_generator_again(tiny_generator):
    """Before the reshape with_generator, with_distance and measurement(i) went through
    dataclasses.replace and ran the generator once each (PGGAN-1024: about a second a call).
    Now only what changed is checked: a new generator gets its one probe, a new distance or
    a row of y none."""
    from eglass.distances import PixelDistance
    from eglass.operators import SuperResolution

    A = SuperResolution(2)
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        y = A(tiny_generator(z))
    G = Counting(tiny_generator)
    problem = InverseProblem(G, A, y)
    assert G.calls == 1  # the probe G(0)
    assert torch.equal(problem.measurement(1).y, y[1:2]) and problem.measurement(-1).n == 1
    assert problem.measurements([0, 2]).n == 2
    assert torch.equal(problem.measurements(torch.tensor([True, False, True])).y, y[[0, 2]])
    distance = PixelDistance()
    assert problem.with_distance(distance).distance is distance
    assert G.calls == 1
    other = Counting(copy.deepcopy(tiny_generator))
    moved = problem.with_generator(other)
    assert other.calls == 1 and G.calls == 1  # its probe, nothing else
    assert moved.generator is other and moved.y is y and moved.operator is problem.operator
    assert problem.generator is G and problem.distance is None  # the original is unchanged
    # the checks still run where something changed
    with pytest.raises(TypeError, match=r"distance must be .* got str 'lpips'"):
        problem.with_distance("lpips")
    dropping = Counting(tiny_generator)
    dropping.drop = nn.Dropout()  # in training mode: refused, before any pass
    with pytest.raises(ValueError, match=r"training mode .*call G\.eval\(\) first"):
        problem.with_generator(dropping)
    assert dropping.calls == 0
    taller = TinyGenerator(height=14).double().eval()
    with pytest.raises(ValueError, match=r"y has shape \(3,1,6,5\) but A\(G\(z\)\) for "
                                         r"\(1,14,10\) images has shape \(N,1,7,5\)"):
        problem.with_generator(taller)
    single = problem.with_generator(TinyGenerator().eval())  # float32: A checked again
    assert single.dtype == torch.float32 and single.image_shape == (1, 12, 10)
    with pytest.raises(IndexError, match="out of range"):
        problem.measurement(3)
    with pytest.raises(IndexError, match="at least one"):
        problem.measurements([])


def test_the_operator_is_public(tiny_problem):
    G, A, y, *_ = tiny_problem
    problem = InverseProblem(G, A, y)
    assert problem.A is problem.operator
    assert problem.image_shape == (1, 12, 10)
    with pytest.raises(TypeError, match="has no operator; pass operator="):
        _ = InverseProblem(G).A


# ----------------------------------------------------------------------------- call forms


def test_each_decorated_function_declares_its_older_form():
    """DESIGN.md keeps invert(G, A, y, ...) and pulse(G, A, y, n, ...) (and the two metrics of
    eglass.geometry); every other older form warns."""
    from eglass.inversion import fast_start, finetune, invert

    assert invert.older_form == (("A", "y"), "silent")
    assert pulse.older_form == (("A", "y"), "silent")
    for fn in (fast_start, finetune, langevin, explore):
        assert fn.older_form == (("A", "y"), "warn"), fn.__name__


def test_an_older_form_warns_with_the_line_to_write(tiny_problem):
    from eglass.distances import PixelDistance
    from eglass.geometry import metrics

    G, A, y, z0, *_ = tiny_problem
    dist = PixelDistance()
    with pytest.warns(FutureWarning, match=r"write metrics\(InverseProblem\(G, A, "
                                           r"distance=distance\), z0\) instead"):
        old = metrics(G, A, dist, z0)
    new = metrics(InverseProblem(G, A, distance=dist), z0)
    assert all(torch.equal(a, b) for a, b in zip(old, new, strict=True))


def test_a_call_that_fits_neither_form_says_which_forms_exist(tiny_problem):
    """Before the reshape metrics(G, A, z0) answered with a dump of z0: the older form
    metrics(G, A, distance, z0) took z0 for the distance, and InverseProblem printed the
    repr of that "distance". Now the call is checked against both forms first."""
    from eglass.geometry import metrics
    from eglass.inversion import invert

    G, A, y, z0, *_ = tiny_problem
    with pytest.raises(TypeError) as caught:
        metrics(G, A, z0)
    message = str(caught.value)
    assert message == (
        "metrics() is called as metrics(problem, z0, ...) with problem = InverseProblem(G, A, "
        "distance=distance), or the older way metrics(G, A, distance, z0, ...); got "
        "metrics(TinyGenerator, Crop, Tensor (1,8)): distance is Tensor (1,8), not a distance")
    assert "tensor(" not in message
    with pytest.raises(TypeError, match=r"got invert\(Crop, Tensor \(1,1,2,3\)\): the first "
                                        r"argument is Crop, neither an InverseProblem nor a "
                                        r"generator"):
        invert(A, y)
    with pytest.raises(TypeError, match=r"older way pulse\(G, A, y, n, \.\.\.\).*missing a "
                                        r"required argument: 'n'"):
        pulse(G, A, y)
    with pytest.raises(TypeError, match=r"invert\(problem, \.\.\.\).*missing y"):
        invert(G, A)
    with pytest.raises(TypeError, match="y is Tensor .*, not measurements|A is Tensor"):
        invert(G, y, A)
