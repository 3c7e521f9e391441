"""Distances as sums of squared scaled features: agreement with lpips, clear errors."""

from __future__ import annotations

import lpips
import pytest
import torch
from torch import nn

from eglass.distances import (
    LPIPS,
    FeatureDistance,
    PixelDistance,
    default_distance,
    lpips_backbone_path,
    normalize_channels,
)


def _images(n, c, h, w, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, c, h, w, generator=g, dtype=torch.float64) * 2 - 1


@pytest.mark.parametrize("net", ["alex", "squeeze"])
def test_lpips_features_reproduce_lpips_package(net):
    # pnet_rand=True: the real calibrated linear layers shipped in the lpips wheel on a
    # randomly initialized backbone -- a check of the code path, not a perceptual result.
    dist = LPIPS(net, pnet_rand=True, seed=0).double()
    x0, x1 = _images(3, 3, 37, 33, 1), _images(3, 3, 37, 33, 2)
    expected = dist.model(x0, x1).flatten()
    assert torch.allclose(dist(x0, x1), expected, rtol=1e-10, atol=0)
    assert expected.min() > 0


def test_lpips_grayscale_is_repeated_to_rgb():
    dist = LPIPS("alex", pnet_rand=True).double()
    x0, x1 = _images(2, 1, 32, 35, 3), _images(2, 1, 32, 35, 4)
    expected = dist.model(x0.repeat(1, 3, 1, 1), x1.repeat(1, 3, 1, 1)).flatten()
    assert torch.allclose(dist(x0, x1), expected, rtol=1e-10, atol=0)


def test_lpips_small_images_refused_or_resized():
    dist = LPIPS("alex", pnet_rand=True).double()
    x = _images(1, 1, 12, 10, 5)
    with pytest.raises(ValueError, match=r"at least 31x31 pixels, got \(12, 10\).*resize"):
        dist.features(x)
    resized = LPIPS("alex", pnet_rand=True, resize=(32, 32)).double()
    assert resized(x, _images(1, 1, 12, 10, 6)).shape == (1,)


def test_lpips_refuses_other_channel_counts():
    dist = LPIPS("alex", pnet_rand=True)
    expected = r"1 \(grayscale\) or 3 \(RGB\) channels, got shape \(1, 2, 32, 32\)"
    with pytest.raises(ValueError, match=expected):
        dist.features(torch.zeros(1, 2, 32, 32))


def test_lpips_offline_names_missing_file_and_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    expected = tmp_path / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    assert lpips_backbone_path("alex") == str(expected)
    with pytest.raises(FileNotFoundError) as err:
        LPIPS("alex")
    assert str(expected) in str(err.value) and "TORCH_HOME" in str(err.value)
    assert not expected.exists()  # nothing was downloaded


def test_lpips_unknown_net():
    with pytest.raises(ValueError, match="net must be one of"):
        LPIPS("resnet", pnet_rand=True)


def test_lpips_random_backbone_is_seeded():
    x0, x1 = _images(1, 3, 32, 32, 13), _images(1, 3, 32, 32, 14)
    a, b = LPIPS(pnet_rand=True, seed=3), LPIPS(pnet_rand=True, seed=3)
    state = torch.random.get_rng_state()
    c = LPIPS(pnet_rand=True, seed=4)
    assert torch.equal(state, torch.random.get_rng_state())  # the global RNG is untouched
    assert torch.equal(a(x0.float(), x1.float()), b(x0.float(), x1.float()))
    assert not torch.equal(a(x0.float(), x1.float()), c(x0.float(), x1.float()))


@pytest.mark.filterwarnings("ignore::UserWarning")  # torchvision's `pretrained=` notice
def test_feature_distance_equals_lpips_baseline():
    # lpips with lpips=False averages the normalized squared differences of each layer with
    # uniform weights: exactly a FeatureDistance over the same backbone slices.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = lpips.LPIPS(net="alex", lpips=False, pnet_rand=True, verbose=False)
    model = model.double().eval()
    network = nn.Sequential(model.scaling_layer, model.net)
    dist = FeatureDistance(network, [f"1.slice{i}" for i in range(1, 6)])
    x0, x1 = _images(2, 3, 40, 36, 7), _images(2, 3, 40, 36, 8)
    assert torch.allclose(dist(x0, x1), model(x0, x1).flatten(), rtol=1e-10, atol=0)


def test_feature_distance_weights_and_vector_layers():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 10 * 8, 5))
    net = net.double().eval()
    dist = FeatureDistance(net, ["1", "3"], weights=[2.0, 0.5])
    x0, x1 = _images(2, 1, 12, 10, 9), _images(2, 1, 12, 10, 10)
    a0, a1 = net[1](net[0](x0)), net[1](net[0](x1))
    conv = (normalize_channels(a0) - normalize_channels(a1)).pow(2).sum(1).mean((1, 2))
    v0, v1 = net(x0), net(x1)
    lin = (normalize_channels(v0) - normalize_channels(v1)).pow(2).sum(1)
    assert torch.allclose(dist(x0, x1), 2.0 * conv + 0.5 * lin, rtol=1e-12, atol=0)


def test_feature_distance_bad_arguments():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
    with pytest.raises(ValueError, match=r"\['relu'\] are not layers.*available: \['0', '1'\]"):
        FeatureDistance(net, ["relu"])
    with pytest.raises(ValueError, match="non-empty list"):
        FeatureDistance(net, "1")
    with pytest.raises(ValueError, match="2 non-negative numbers"):
        FeatureDistance(net, ["0", "1"], weights=[1.0, -1.0])


def test_pixel_distance_is_mean_squared_difference():
    x0, x1 = _images(3, 2, 7, 5, 11), _images(1, 2, 7, 5, 12)
    assert torch.allclose(PixelDistance()(x0, x1), ((x0 - x1) ** 2).mean((1, 2, 3)))


def test_distance_shape_errors():
    with pytest.raises(ValueError, match="same size"):
        PixelDistance()(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 5))
    with pytest.raises(ValueError, match=r"\(N,C,H,W\)"):
        PixelDistance()(torch.zeros(4, 4), torch.zeros(4, 4))
    with pytest.raises(ValueError, match="NaN"):
        PixelDistance()(torch.full((1, 1, 2, 2), float("nan")), torch.zeros(1, 1, 2, 2))


def test_default_distance_picks_activation_after_each_conv():
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.Flatten(),
        nn.Linear(4 * 8 * 6, 10),
    )
    dist = default_distance(net)
    assert dist.layers == ["2", "3"]
    assert not net.training


def test_feature_distance_uses_the_networks_own_features():
    from eglass.models import DigitClassifier

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = DigitClassifier().double().eval()
    dist = default_distance(net)
    assert dist.layers == ["block1", "block2", "block3"]
    x0, x1 = _images(2, 1, 32, 32, 15), _images(2, 1, 32, 32, 16)
    expected = sum(
        (normalize_channels(a0) - normalize_channels(a1)).pow(2).sum(1).mean((1, 2))
        for a0, a1 in zip(net.features(x0), net.features(x1), strict=True)
    )
    assert torch.allclose(dist(x0, x1), expected, rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match=r"\['fc'\] are not layers of DigitClassifier"):
        FeatureDistance(net, ["fc"])


def test_feature_distance_names_the_expected_channels():
    dist = default_distance()  # the embedded 1-channel digit classifier
    x = torch.zeros(2, 3, 32, 32)
    expected = r"expects images of shape \(N,1,H,W\), got x of shape \(2,3,32,32\)"
    with pytest.raises(ValueError, match=expected):
        dist.features(x)
    with pytest.raises(ValueError, match=expected.replace("got x", "got x1")):
        dist(torch.zeros(2, 1, 32, 32), x)
    conv = FeatureDistance(nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU()), ["1"])
    with pytest.raises(ValueError, match=r"\(N,2,H,W\), got x0 of shape \(1,1,8,8\)"):
        conv(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))
    lpips_like = FeatureDistance(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), ["1"], channels=1)
    with pytest.raises(ValueError, match=r"\(N,1,H,W\), got x of shape \(1,3,8,8\)"):
        lpips_like.features(torch.zeros(1, 3, 8, 8))


def test_digit_classifier_names_the_expected_channels():
    from eglass.models import DigitClassifier

    with pytest.raises(ValueError, match=r"DigitClassifier expects images \(N,1,H,W\), got "
                                         r"\(2,3,32,32\)"):
        DigitClassifier().features(torch.zeros(2, 3, 32, 32))


def test_feature_distance_under_torch_func():
    from eglass.models import DigitClassifier

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        dist = default_distance(DigitClassifier().double().eval())
    x, v = _images(2, 1, 32, 32, 17), _images(6, 1, 32, 32, 18).view(3, 2, 1, 32, 32)
    per_sample = torch.func.vmap(lambda t: dist.flat_features(t[None])[0])(x)
    assert torch.allclose(per_sample, dist.flat_features(x), atol=1e-12)
    tangents = torch.func.vmap(lambda t: torch.func.jvp(dist.flat_features, (x,), (t,))[1])(v)
    assert tangents.shape == (3, *dist.flat_features(x).shape)
    with pytest.raises(ValueError, match=r"\(N,1,H,W\), got x of shape \(1,3,32,32\)"):
        torch.func.vmap(lambda t: dist.flat_features(t[None]))(torch.zeros(2, 3, 32, 32))
