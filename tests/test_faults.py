"""The library under bad input (issue #31): the fast start's checks, spectra and plan
arguments checked before any work, NaN / zero / wrongly sized inputs refused with a message
naming them, generators that draw noise refused up front, and every public entry point
leaving the global torch RNG and the user's modules (weights, buffers, training flags) as
they were."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from eglass import operators
from eglass.priors import get_prior
from eglass.problem import InverseProblem

SMALL_IAGAN = dict(restarts=1, steps=3, finetune_steps=2)


@pytest.fixture(scope="module")
def prior():
    return get_prior("mnist-dcgan")


@pytest.fixture
def problem(prior):
    """A problem on the user's own copies of the generator and the distance."""
    G = copy.deepcopy(prior.generator())
    A = operators.SuperResolution(8)
    x, _ = prior.data("test")
    return InverseProblem(G, A, A(x[:1]), distance=copy.deepcopy(prior.distance()))


# ----------------------------------------------------------------------- the fast start

def test_fast_start_checks_its_arguments_first(problem):
    from eglass.inversion import fast_start

    with pytest.raises(ValueError, match="finetune_steps must be a positive integer, got 0"):
        fast_start(problem, finetune_steps=0)
    with pytest.raises(TypeError, match="seed must be an int or a torch.Generator, got str"):
        fast_start(problem, seed="abc")
    with pytest.raises(TypeError, match="encoder must be an nn.Module"):
        fast_start(problem, encoder=42)


def test_fast_start_tol_none_never_stops_early(problem):
    from eglass.inversion import fast_start

    result = fast_start(problem, tol=None, steps=3, finetune_steps=2, fallback=False)
    assert result.z.shape == (1, 64) and torch.isfinite(result.errors).all()


def test_user_encoder_in_train_mode_is_refused_and_untouched(problem):
    from eglass.inversion import fast_start

    encoder = nn.Sequential(nn.Flatten(), nn.Linear(1024, 64), nn.BatchNorm1d(64)).train()
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    with pytest.raises(ValueError, match="eval mode"):
        fast_start(problem, encoder=encoder)
    assert encoder.training and all(torch.equal(before[k], v)
                                    for k, v in encoder.state_dict().items())


# ------------------------------------------------------------------ spectra and plans

@pytest.mark.parametrize("tol, message", [(-1.0, "tol must be >= 0"),
                                          (float("nan"), "tol must be a finite number")])
def test_spectra_tol_checked_before_arpack(problem, tol, message):
    from eglass.geometry import metric_spectra

    with pytest.raises(ValueError, match=message):
        metric_spectra(problem, torch.zeros(1, 64), 4, method="top-k", tol=tol)


def test_plan_and_spectra_integer_arguments(problem):
    from eglass.geometry import measurement_metric, metric_spectra, plan_metrics

    with pytest.raises(ValueError, match="k must be a positive integer, got -3"):
        plan_metrics(problem, torch.zeros(1, 64), k=-3)
    with pytest.raises(ValueError, match=r"plan_metrics needs at least one metric .*got "
                                         r"measurement=False and perceptual=False"):
        plan_metrics(problem, torch.zeros(1, 64), measurement=False, perceptual=False)
    spectra = metric_spectra(problem, torch.zeros(1, 64), 4, max_memory=np.int64(10**9))
    assert spectra.k == 4  # numpy integers are integers
    assert measurement_metric(problem, torch.zeros(1, 64), chunk_size=np.int64(8)).shape == (
        64, 64)


def test_explicit_H_X_beside_spectra_is_refused(problem):
    from eglass.explore import explore
    from eglass.geometry import metric_spectra

    spectra = metric_spectra(problem, torch.zeros(1, 64), 8)
    with pytest.raises(TypeError, match="MetricSpectra and an H_X"):
        explore(problem, torch.zeros(1, 64), spectra, torch.eye(64), Ks=[4], etas=[1.0])


# --------------------------------------------------------- NaN, zero and wrong sizes

def test_add_noise_on_integer_measurements():
    with pytest.raises(TypeError, match="y must be a floating-point tensor.*int64"):
        operators.add_noise(torch.ones(1, 1, 4, 4, dtype=torch.int64), 0.1, seed=0)


def test_measurement_metric_of_a_nan_image_with_a_plain_function_operator():
    from eglass.geometry import measurement_metric

    class NanG(nn.Module):
        latent_dim = 4

        def forward(self, z):
            return torch.full((z.shape[0], 1, 8, 8), float("nan")) * z.sum()

    with pytest.raises(ValueError, match=r"H_Y has NaN/inf values: A\(G\(z0\)\) is not finite"):
        measurement_metric(NanG(), lambda x: x[..., ::2, ::2], torch.zeros(1, 4))


def test_images_along_nan_steps(prior):
    from eglass.geometry import images_along

    with pytest.raises(ValueError, match=r"etas\[1\] must be a finite number, got nan"):
        images_along(prior.generator(), torch.zeros(1, 64), torch.eye(64)[0],
                     [1.0, float("nan")])


def test_eglass_direction_refuses_a_negative_definite_metric(problem):
    from eglass.directions import eglass_direction
    from eglass.geometry import metrics

    H_Y, _ = metrics(problem, torch.zeros(1, 64))
    with pytest.raises(ValueError, match="H_X must be positive semi-definite"):
        eglass_direction(H_Y, -torch.eye(64), 4)


def test_invert_takes_the_problem_by_keyword(problem):
    from eglass.inversion import invert

    result = invert(problem=problem, steps=2, restarts=1, finetune_steps=1, progress=False)
    assert result.z.shape == (1, 64)


def test_zero_walk_direction(problem):
    from eglass.walk import null_space_walk

    with pytest.raises(ValueError, match=r"direction is zero; expected a non-zero \(64,\)"):
        null_space_walk(problem, torch.zeros(1, 64), torch.zeros(64), 1.0)


def test_solutions_rows_and_first_k():
    from eglass.results import Solutions

    def make(n_errors):
        return Solutions(z=torch.zeros(3, 4), x=torch.zeros(3, 1, 8, 8),
                         errors=torch.zeros(n_errors), method="test")

    with pytest.raises(ValueError, match=r"x has 3 images, but errors has shape \(2,\)"):
        make(2)
    with pytest.raises(ValueError, match="k must be an integer >= 0, got -1"):
        make(3).first(-1)
    assert len(make(3).first(2)) == 2 and len(make(3).first(0)) == 0


def test_a_generator_that_draws_noise_is_refused_up_front():
    class NoisyG(nn.Module):
        latent_dim = 4

        def forward(self, z):
            return torch.tanh(z.sum(1).view(-1, 1, 1, 1) + torch.randn(z.shape[0], 1, 8, 8))

    state = torch.random.get_rng_state()
    with pytest.raises(ValueError, match="not a function of z.*noise_mode='const'"):
        InverseProblem(NoisyG(), operators.SuperResolution(2), torch.zeros(1, 1, 4, 4))
    assert torch.equal(state, torch.random.get_rng_state())  # the probe drew on a fork


# ------------------------------------------- the global RNG and the user's modules

def _snapshot(modules: dict[str, nn.Module]) -> dict:
    return {name: ({k: v.detach().clone() for k, v in m.state_dict().items()},
                   [sub.training for sub in m.modules()],
                   [p.requires_grad for p in m.parameters()])
            for name, m in modules.items()}


def _same(a: dict, b: dict) -> list[str]:
    changed = []
    for name in a:
        (sa, ta, ga), (sb, tb, gb) = a[name], b[name]
        if ta != tb or ga != gb or sa.keys() != sb.keys() or not all(
                torch.equal(sa[k], sb[k]) for k in sa):
            changed.append(name)
    return changed


def _entry_points():
    from eglass import batch, explore, geometry, inversion, models
    from eglass.baselines import pulse
    from eglass.distances import default_distance

    z0 = torch.zeros(1, 64)
    return {
        "load_generator": lambda p, e: models.load_generator("mnist-dcgan"),
        "default_distance": lambda p, e: default_distance(),
        "prior.generator": lambda p, e: get_prior("mnist-dcgan").generator(),
        "fast_start": lambda p, e: inversion.fast_start(p, encoder=e, steps=3,
                                                        finetune_steps=2),
        "first_guess": lambda p, e: inversion.first_guess(p, e),
        "invert": lambda p, e: inversion.invert(p, progress=False, **SMALL_IAGAN),
        "metrics": lambda p, e: geometry.metrics(p, z0),
        "explore": lambda p, e: explore.explore(p, z0, *geometry.metrics(p, z0), Ks=[4],
                                                etas=[1.0]),
        "starting_points": lambda p, e: explore.starting_points(p, **SMALL_IAGAN),
        "pulse": lambda p, e: pulse(p, 1, steps=2, seed=3, progress=False, warn=False),
        "run_item": lambda p, e: batch.run_item(
            batch.BatchConfig(count=1, Ks=(4,), etas=(1.0,), **SMALL_IAGAN), 0,
            p.y[0].numpy()),
    }


@pytest.mark.parametrize("name", list(_entry_points()))
def test_entry_points_leave_rng_and_user_modules_alone(problem, name):
    from eglass.models import load_encoder

    encoder = load_encoder("mnist-encoder")
    mine = dict(generator=problem.generator, distance=problem.distance, encoder=encoder)
    before, rng = _snapshot(mine), torch.random.get_rng_state()
    _entry_points()[name](problem, encoder)
    assert torch.equal(rng, torch.random.get_rng_state()), f"{name} moved the global RNG"
    assert _same(before, _snapshot(mine)) == [], f"{name} changed the user's modules"
