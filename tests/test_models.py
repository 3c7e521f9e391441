"""The embedded prior: shipped weights, hash checks, generator protocol, training code."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from torch.func import jvp, vmap

from eglass import models, training
from eglass.data import mnist


@pytest.fixture(scope="module")
def G():
    return models.load_generator("mnist-dcgan")


@pytest.fixture(scope="module")
def clf():
    return models.load_classifier("mnist-cnn")


# ----------------------------------------------------------------------------- loading
@pytest.mark.parametrize("name", ["mnist-dcgan", "mnist-cnn"])
def test_recorded_hash_matches_file(name):
    entry = models.registry()[name]
    assert models.sha256_of(models.WEIGHTS_DIR / entry["file"]) == entry["sha256"]
    assert name in models.available()


def test_loaders_return_frozen_eval_modules(G, clf):
    for module in (G, clf):
        assert not module.training
        assert all(not p.requires_grad for p in module.parameters())
    assert isinstance(G, models.Generator) and G.latent_dim == 64
    assert isinstance(clf, models.DigitClassifier)


def _copy_weights(tmp_path):
    for name in (models.REGISTRY_FILE, "mnist-dcgan.pt", "mnist-cnn.pt"):
        shutil.copy(models.WEIGHTS_DIR / name, tmp_path / name)
    return tmp_path


def test_corrupted_copy_is_rejected(tmp_path):
    root = _copy_weights(tmp_path)
    models.load_generator("mnist-dcgan", root=root)  # the intact copy loads
    data = bytearray((root / "mnist-dcgan.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (root / "mnist-dcgan.pt").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        models.load_generator("mnist-dcgan", root=root)


def test_wrong_recorded_hash_is_rejected(tmp_path):
    root = _copy_weights(tmp_path)
    entries = json.loads((root / models.REGISTRY_FILE).read_text())
    entries["mnist-cnn"]["sha256"] = "0" * 64
    (root / models.REGISTRY_FILE).write_text(json.dumps(entries))
    with pytest.raises(ValueError, match="expected 0000"):
        models.load_classifier("mnist-cnn", root=root)


def test_missing_file_and_unknown_name_are_clear_errors(tmp_path):
    root = _copy_weights(tmp_path)
    (root / "mnist-cnn.pt").unlink()
    with pytest.raises(FileNotFoundError, match="mnist-cnn.pt"):
        models.load_classifier("mnist-cnn", root=root)
    with pytest.raises(KeyError, match="available: \\['mnist-dcgan'\\]"):
        models.load_generator("biggan-deep", root=root)
    with pytest.raises(KeyError, match="unknown classifier 'mnist-dcgan'"):
        models.load_classifier("mnist-dcgan", root=root)


def _small_checkpoint(tmp_path, name="g.pt"):
    path = tmp_path / name
    models.save_checkpoint(models.Generator(latent_dim=4, width=8), path)
    return path


def test_upper_case_sha256_is_accepted_and_malformed_ones_refused(tmp_path):
    path = _small_checkpoint(tmp_path)
    sha = models.sha256_of(path)
    assert isinstance(models.load_checkpoint(path, sha.upper()), models.Generator)
    for bad in ("abc", sha[:-1] + "g", sha + "0"):
        with pytest.raises(ValueError, match=rf"64 hexadecimal characters, got '{bad}'"):
            models.load_checkpoint(path, bad)
    with pytest.raises(TypeError, match="sha256 must be a str or None, got bytes"):
        models.load_checkpoint(path, sha.encode())


@pytest.mark.parametrize("kind", ["random bytes", "truncated zip", "empty"])
def test_unreadable_checkpoint_is_a_clear_error(tmp_path, kind):
    path = _small_checkpoint(tmp_path)
    data = path.read_bytes()
    if kind == "random bytes":
        g = torch.Generator().manual_seed(0)
        data = bytes(torch.randint(0, 256, (4096,), generator=g, dtype=torch.uint8).tolist())
    elif kind == "truncated zip":
        data = data[: len(data) // 2]
    else:
        data = b""
    path.write_bytes(data)
    with pytest.raises(ValueError, match=r"g\.pt is not a readable PyTorch checkpoint.*"
                       r"expected a file written by save_checkpoint"):
        models.load_checkpoint(path, models.sha256_of(path))


@pytest.mark.parametrize(
    "content, message",
    [
        (torch.zeros(3), r"holds a Tensor; expected a dict with keys 'arch', 'config', "
                         r"'state_dict'"),
        ({"arch": "Generator", "state_dict": {}}, r"lacks 'config'.*got keys \['arch', "
                                                  r"'state_dict'\]"),
        ({"arch": "VAE", "config": {}, "state_dict": {}},
         r"unknown architecture 'VAE'; expected one of "
         r"\['DigitClassifier', 'Generator', 'LatentEncoder'\]"),
        ({"arch": "Generator", "config": [64], "state_dict": {}},
         r"'config' must be a dict of constructor arguments, got list"),
        ({"arch": "Generator", "config": {"depth": 3}, "state_dict": {}},
         r"config \{'depth': 3\} does not fit Generator"),
        ({"arch": "Generator", "config": {}, "state_dict": {"fc.weight": [1.0]}},
         r"'state_dict' must map parameter names to tensors, but 'fc.weight' is of type list"),
        ({"arch": "Generator", "config": {}, "state_dict": [torch.zeros(1)]},
         r"'state_dict' must map parameter names to tensors \(a state dict\), got type list"),
    ],
)
def test_checkpoint_of_the_wrong_structure_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.pt"
    torch.save(content, path)
    with pytest.raises(ValueError, match=r"bad\.pt.*" + message):
        models.load_checkpoint(path, None)


def test_state_dict_that_does_not_fit_the_architecture_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.pt"
    state = models.Generator(latent_dim=4, width=8).state_dict()
    state.pop("fc.weight")
    state["extra.bias"] = torch.zeros(2)
    state["out.weight"] = torch.zeros(1, 4, 5, 5)
    config = {"latent_dim": 4, "width": 8, "channels": 1}
    torch.save({"arch": "Generator", "config": config, "state_dict": state}, path)
    with pytest.raises(ValueError) as err:
        models.load_checkpoint(path, None)
    text = str(err.value)
    assert "bad.pt" in text and "does not fit Generator(latent_dim=4, width=8, channels=1)" in text
    assert "missing ['fc.weight']" in text and "unexpected ['extra.bias']" in text
    assert "out.weight: expected (1,4,3,3), got (1,4,5,5)" in text


# ----------------------------------------------------------------------------- generator
def test_generator_is_deterministic_in_eval_mode(G):
    z = torch.randn(6, G.latent_dim, generator=torch.Generator().manual_seed(1))
    x = G(z)
    assert x.shape == (6, 1, 32, 32) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    assert torch.equal(x, G(z))
    # in eval mode each image depends only on its own latent (no batch statistics)
    torch.testing.assert_close(G(z[2:3]), x[2:3])
    # the samples are not one constant image
    assert (x - x.mean(0)).abs().mean() > 0.1


def test_generator_under_torch_func_and_float64(G):
    z = torch.randn(3, G.latent_dim, generator=torch.Generator().manual_seed(2))
    per_sample = vmap(lambda zi: G(zi[None])[0])(z)
    torch.testing.assert_close(per_sample, G(z))
    v = torch.randn(3, G.latent_dim, generator=torch.Generator().manual_seed(3))
    G64 = models.load_generator("mnist-dcgan").double()
    z64, v64 = z.double(), v.double()
    out, tangent = jvp(G64, (z64,), (v64,))
    eps = 1e-6
    fd = (G64(z64 + eps * v64) - G64(z64 - eps * v64)) / (2 * eps)
    torch.testing.assert_close(tangent, fd, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out.float(), G(z), atol=1e-5, rtol=1e-4)


# ----------------------------------------------------------------------------- classifier
@pytest.mark.stored_reference
def test_classifier_accuracy_on_held_out_test(clf):
    x, y = mnist("test")
    assert training.accuracy(clf, x, y) >= 0.97


def test_classifier_features(clf):
    x, _ = mnist("test")
    x = x[:4]
    f1, f2, f3 = clf.features(x)
    assert f1.shape == (4, 32, 32, 32) and f2.shape == (4, 64, 16, 16)
    assert f3.shape == (4, 128, 8, 8)
    (only,) = clf.features(x, ["block2"])
    torch.testing.assert_close(only, f2)
    with pytest.raises(ValueError, match="unknown layer"):
        clf.features(x, ["conv5"])
    # smooth enough for forward-mode autodiff
    clf64 = models.load_classifier("mnist-cnn").double()
    v = torch.randn(x.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    _, tangent = jvp(lambda t: clf64.features(t)[2], (x.double(),), (v,))
    eps = 1e-6
    fd = (clf64.features(x.double() + eps * v)[2] - clf64.features(x.double() - eps * v)[2])
    torch.testing.assert_close(tangent, fd / (2 * eps), atol=1e-5, rtol=1e-4)


# ----------------------------------------------------------------------------- training code
def test_augmentations():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 1, 32, 32)
    t = training.translate(x, 3, g)
    assert t.shape == x.shape
    # every output row is a shifted copy: its interior matches some roll of the input
    for i in range(8):
        found = any(
            torch.equal(t[i, :, 3:-3, 3:-3], torch.roll(x[i], (dy, dx), (1, 2))[:, 3:-3, 3:-3])
            for dy in range(-3, 4)
            for dx in range(-3, 4)
        )
        assert found
    c = training.cutout(torch.ones(64, 1, 32, 32), 16, g)
    zeros = (c == 0).flatten(1).sum(1)
    assert (zeros <= 256).all() and (zeros >= 64).all() and (zeros == 256).any()
    with pytest.raises(ValueError, match="unknown augmentation"):
        training.diff_augment(x, ["color"], g)


def test_frechet_distance_closed_form():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(2000, 5, generator=g, dtype=torch.float64)
    shift = torch.tensor([1.0, -2.0, 0.0, 0.5, 0.0], dtype=torch.float64)
    # same covariance, shifted mean: the distance is exactly |shift|^2
    assert training.frechet_distance(a, a + shift) == pytest.approx(5.25, rel=1e-6)
    # scaled copy: |mu|^2 + tr(S + 4S - 2*2S) = |mu|^2 + tr(S)
    expected = a.mean(0).pow(2).sum().item() + torch.cov(a.T).trace().item()
    assert training.frechet_distance(a, 2 * a) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="same k"):
        training.frechet_distance(a, a[:, :3])


def test_training_smoke_is_reproducible(tmp_path):
    x, y = mnist("train")
    x, y = x[::45], y[::45]  # 100 digits
    G1, hist = training.train_generator(x, steps=3, width=8, batch_size=8, seed=5)
    G2, _ = training.train_generator(x, steps=3, width=8, batch_size=8, seed=5)
    G3, _ = training.train_generator(x, steps=3, width=8, batch_size=8, seed=6)
    z = torch.randn(4, 64, generator=torch.Generator().manual_seed(0))
    assert len(hist["d_loss"]) == 3 and not G1.training
    assert torch.equal(G1(z), G2(z)) and not torch.equal(G1(z), G3(z))
    # an interrupted run resumed from its saved state ends where an uninterrupted one does
    state = tmp_path / "state.pt"
    kw = dict(width=8, batch_size=8, seed=5, state_path=state, state_every=2)
    training.train_generator(x, steps=2, **kw)
    G4, _ = training.train_generator(x, steps=4, **kw)
    G4_direct, _ = training.train_generator(x, steps=4, width=8, batch_size=8, seed=5)
    assert torch.equal(G4(z), G4_direct(z))
    c1 = training.train_classifier(x, y, epochs=1, batch_size=50, seed=1)
    c2 = training.train_classifier(x, y, epochs=1, batch_size=50, seed=1)
    assert torch.equal(c1(x[:5]), c2(x[:5]))


def test_discriminator_width_can_differ_from_the_generator(tmp_path):
    x = mnist("train")[0][::45]
    state = tmp_path / "state.pt"
    training.train_generator(x, steps=1, width=8, d_width=12, batch_size=8, seed=0,
                             state_path=state, state_every=1)
    saved = torch.load(state, weights_only=True)
    assert saved["G"]["fc.weight"].shape == (4 * 8 * 16, 64)
    widths = [v.shape[0] for k, v in saved["D"].items()
              if k.endswith("weight.original") and v.dim() == 4]
    assert widths == [12, 24, 48]


def test_recalibrated_batchnorm_matches_population_statistics():
    G = models.Generator(latent_dim=16, width=8)
    training.recalibrate_batchnorm(G, batches=8, batch_size=256, seed=0)
    z = torch.randn(4096, 16, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        h = G.fc(z).view(-1, 32, 4, 4)
    torch.testing.assert_close(G.bn0.running_mean, h.mean((0, 2, 3)), atol=0.02, rtol=0.05)
