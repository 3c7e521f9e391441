"""The generator loaders under bad files (issue #31): PGGAN's tanh rule as upstream's
(``lossCriterion``), its config fields checked, empty / NaN files refused with the file named;
BigGAN's ``torch.load`` wrapped, its ``config.json`` checked, the older files without
``weight_v`` loaded, ``class_id`` / ``truncation`` checked."""

from __future__ import annotations

import json
import math
import sys
import types
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from eglass.models import load_pggan, pggan_config, random_pggan

LOSS_ACTIVATION = {"MSE": torch.tanh, "DCGAN": torch.tanh, "WGANGP": None, "Logistic": None}


def upstream_avgG(config: dict, state: dict, z: torch.Tensor) -> torch.Tensor:
    """``avgG(z)`` as pytorch_GAN_zoo computes it, transcribed from upstream
    (``models/networks/progressive_conv_net.py`` ``GNet.forward``, ``custom_layers.py``
    ``EqualizedConv2d`` / ``NormalizationLayer`` / ``Upscale2d``), with the output activation
    that ``BaseGAN.load_state_dict`` picks: ``getattr(base_loss_criterions,
    config.lossCriterion).generationActivation`` (tanh for MSE and DCGAN)."""
    leak = config.get("leakyReluLeak", 0.2)
    activation = LOSS_ACTIVATION[config["lossCriterion"]]  # upstream: AttributeError if absent

    def norm(x):
        return x * (((x**2).mean(dim=1, keepdim=True) + 1e-8).rsqrt())

    def equalized(name, x, conv=True):
        w, b = state[f"{name}.module.weight"], state[f"{name}.module.bias"]
        scale = math.sqrt(2.0 / math.prod(w.shape[1:]))
        y = F.conv2d(x, w, b, padding=w.shape[-1] // 2) if conv else F.linear(x, w, b)
        return y * scale

    def upscale(x):
        s = x.size()
        x = x.view(-1, s[1], s[2], 1, s[3], 1).expand(-1, s[1], s[2], 2, s[3], 2)
        return x.contiguous().view(-1, s[1], s[2] * 2, s[3] * 2)

    def lrelu(x):
        return F.leaky_relu(x, leak)

    x = norm(z).view(-1, z.shape[1])
    x = lrelu(equalized("formatLayer", x, conv=False)).view(x.size()[0], -1, 4, 4)
    x = norm(lrelu(equalized("groupScale0.0", norm(x))))
    n_scales = len(config["depthOtherScales"])
    for scale in range(n_scales):
        x = upscale(x)
        for j in range(2):
            x = norm(lrelu(equalized(f"scaleLayers.{scale}.{j}", x)))
    x = equalized(f"toRGBLayers.{n_scales}", x)
    return x if activation is None else activation(x)


@pytest.fixture
def write_upstream(monkeypatch):
    """``write(path, config, state)``: a checkpoint as pytorch_GAN_zoo's ``BaseGAN.save``
    writes it, ``{"config": BaseConfig, "netG", "netD", "avgG"}``, the config pickled under
    upstream's class name (that module exists only while the test runs)."""
    config_module = types.ModuleType("models.utils.config")
    config_module.BaseConfig = type("BaseConfig", (), {"__module__": config_module.__name__})
    monkeypatch.setitem(sys.modules, config_module.__name__, config_module)
    monkeypatch.setitem(sys.modules, "models", types.ModuleType("models"))
    monkeypatch.setitem(sys.modules, "models.utils", types.ModuleType("models.utils"))

    def write(path, config: dict, state: dict):
        upstream = config_module.BaseConfig()
        vars(upstream).update(config)
        torch.save(dict(config=upstream, netG=state, netD={}, avgG=state), path)
        return path

    return write


def _upstream_config(loss: str) -> dict:
    """The fields upstream's ProgressiveGAN / BaseGAN store (lossCriterion, never lossMode)."""
    config = pggan_config(16, latent_dim=8, width_divisor=32)
    config.pop("lossCriterion")
    return dict(config, lossCriterion=loss, noiseVectorDim=8, categoryVectorDim=0,
                initBiasToZero=True, equalizedlR=True, miniBatchStdDev=False)


@pytest.mark.parametrize("loss", ["DCGAN", "MSE", "WGANGP", "Logistic"])
def test_pggan_output_activation_follows_upstream_loss_criterion(tmp_path, write_upstream,
                                                                 loss):
    config = _upstream_config(loss)
    state = random_pggan(config, seed=4).state_dict()
    G = load_pggan(write_upstream(tmp_path / "pgan.pth", config, state))
    z = torch.randn(5, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = upstream_avgG(config, state, z)
        got = G(z)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    assert (got.abs().max() < 1) == (loss in ("DCGAN", "MSE"))
    if loss in ("DCGAN", "MSE"):
        assert expected.abs().max() < 1 and not torch.allclose(expected, torch.atanh(expected))


def test_pggan_older_eglass_lossmode_key_still_read(tmp_path):
    """Earlier eglass configs stored BaseGAN's argument name lossMode: still read."""
    config = _upstream_config("DCGAN")
    config["lossMode"] = config.pop("lossCriterion")
    state = random_pggan(config, seed=0).state_dict()
    torch.save({"config": config, "avgG": state}, tmp_path / "old.pth")
    assert load_pggan(tmp_path / "old.pth").tanh


@pytest.mark.parametrize("change, message", [
    (dict(depthOtherScales=5), "depthOtherScales must be a list of positive integers"),
    (dict(latentVectorDim=0), "latentVectorDim must be a positive integer, got 0"),
    (dict(latentVectorDim=-8), "latentVectorDim must be a positive integer, got -8"),
    (dict(depthScale0="16"), "depthScale0 must be a positive integer"),
    (dict(lossCriterion="Hinge"), "lossCriterion must be one of upstream's"),
    (dict(lossMode="WGANGP"), "lossCriterion='DCGAN' and lossMode='WGANGP'"),
    (dict(alpha=2.0), "alpha must be <= 1"),
])
def test_pggan_config_fields_are_checked(tmp_path, write_upstream, change, message):
    config = _upstream_config("DCGAN")
    state = random_pggan(config, seed=0).state_dict()
    path = write_upstream(tmp_path / "bad.pth", {**config, **change}, state)
    with pytest.raises(ValueError) as err:
        load_pggan(path)
    assert message in str(err.value) and "bad.pth" in str(err.value)


def test_pggan_config_that_is_not_a_mapping(tmp_path):
    torch.save({"config": [1, 2], "avgG": {}}, tmp_path / "list.pth")
    with pytest.raises(ValueError, match="list.pth: a PGAN config must be"):
        load_pggan(tmp_path / "list.pth")


@pytest.mark.parametrize("content", [b"", b"\x80\x02truncated", b"PK\x03\x04"])
def test_pggan_empty_or_truncated_file(tmp_path, content):
    path = tmp_path / "broken.pth"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="broken.pth is not a loadable PGAN checkpoint"):
        load_pggan(path)


def test_pggan_nan_weights_are_refused(tmp_path, write_upstream):
    config = _upstream_config("WGANGP")
    state = random_pggan(config, seed=0).state_dict()
    state["formatLayer.module.weight"][0, 0] = float("nan")
    path = write_upstream(tmp_path / "nan.pth", config, state)
    with pytest.raises(ValueError, match=r"nan.pth: avgG has NaN or inf values .*formatLayer"):
        load_pggan(path)


@pytest.mark.parametrize("avgG, message", [
    ([torch.zeros(1)], r"avgG must map parameter names to tensors \(a state dict\), got type list"),
    (torch.zeros(3), r"avgG must map parameter names to tensors \(a state dict\), got type "
                     r"Tensor"),
    ("str", r"avgG must map parameter names to tensors, but 'formatLayer.module.weight' is "
            r"of type str"),
])
def test_pggan_avgG_of_non_tensors_is_refused(tmp_path, write_upstream, avgG, message):
    """avgG not a dict, or a value in it not a tensor: named with its key and type."""
    config = _upstream_config("WGANGP")
    if avgG == "str":
        avgG = {**random_pggan(config, seed=0).state_dict(), "formatLayer.module.weight": "w"}
    path = write_upstream(tmp_path / "odd.pth", config, avgG)
    with pytest.raises(ValueError, match=r"odd.pth: " + message):
        load_pggan(path)


def test_pggan_config_defaults_to_upstream_key():
    config = pggan_config(8, latent_dim=4, width_divisor=64, loss="MSE")
    assert config["lossCriterion"] == "MSE" and "lossMode" not in config
    with pytest.raises(ValueError, match="lossCriterion must be one of"):
        pggan_config(8, loss="dcgan")


def _json(path, value):
    path.write_text(json.dumps(value))
    return path


@pytest.fixture(scope="module")
def biggan_folder(tmp_path_factory):
    pytest.importorskip("pytorch_pretrained_biggan")
    from eglass.models import biggan_config, random_biggan, save_biggan

    model = random_biggan(biggan_config(128, channel_width=4), seed=0)
    return save_biggan(model, tmp_path_factory.mktemp("biggan")), model


def _copy(folder, tmp_path):
    import shutil

    return Path(shutil.copytree(folder, tmp_path / "copy"))


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated", bytes(range(256)) * 4])
def test_biggan_unreadable_weights_name_the_file(biggan_folder, tmp_path, content):
    from eglass.models import load_biggan

    folder = _copy(biggan_folder[0], tmp_path)
    (folder / "pytorch_model.bin").write_bytes(content)
    with pytest.raises(ValueError, match=r"pytorch_model.bin is not a loadable BigGAN state"):
        load_biggan(folder, 1)


def test_biggan_truncated_weights_name_the_file(biggan_folder, tmp_path):
    from eglass.models import load_biggan

    folder = _copy(biggan_folder[0], tmp_path)
    data = (folder / "pytorch_model.bin").read_bytes()
    (folder / "pytorch_model.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"pytorch_model.bin is not a loadable BigGAN state"):
        load_biggan(folder, 1)


@pytest.mark.parametrize("edit, message", [
    (lambda c: [c], "must hold a JSON object"),
    (lambda c: {**c, "channel_width": "four"}, "channel_width must be a positive integer"),
    (lambda c: {**c, "num_classes": -5}, "num_classes must be a positive integer, got -5"),
])
def test_biggan_config_json_is_checked(biggan_folder, tmp_path, edit, message):
    from eglass.models import load_biggan

    folder = _copy(biggan_folder[0], tmp_path)
    config = json.loads((folder / "config.json").read_text())
    _json(folder / "config.json", edit(config))
    with pytest.raises(ValueError) as err:
        load_biggan(folder, 1)
    assert message in str(err.value) and "config.json" in str(err.value)


def test_biggan_older_files_without_weight_v_load(biggan_folder, tmp_path):
    """The documented path: a state dict without the spectral norms' weight_v loads, and
    gives the same images (v recomputed from the converged u)."""
    from eglass.models import load_biggan

    folder, model = biggan_folder
    older = _copy(folder, tmp_path)
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    dropped = [k for k in state if k.endswith(".weight_v")]
    assert dropped
    torch.save({k: v for k, v in state.items() if k not in dropped},
               older / "pytorch_model.bin")
    G_old, G = load_biggan(older, 3), load_biggan(folder, 3)
    z = torch.randn(2, 128, generator=torch.Generator().manual_seed(0)) * 0.4
    with torch.no_grad():
        torch.testing.assert_close(G_old(z), G(z), rtol=1e-3, atol=5e-4)


def test_biggan_nan_weights_are_refused(biggan_folder, tmp_path):
    from eglass.models import load_biggan

    folder = _copy(biggan_folder[0], tmp_path)
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    key = next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)
    state[key].view(-1)[0] = float("nan")
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(ValueError, match="NaN or inf values"):
        load_biggan(folder, 1)


def test_biggan_non_tensor_values_are_refused(biggan_folder, tmp_path):
    from eglass.models import load_biggan

    folder = _copy(biggan_folder[0], tmp_path)
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    key = next(iter(state))
    torch.save({**state, key: 1.5}, folder / "pytorch_model.bin")
    with pytest.raises(ValueError, match=rf"pytorch_model.bin: the file must map parameter "
                                         rf"names to tensors, but '{key}' is of type float"):
        load_biggan(folder, 1)
    torch.save([state[key]], folder / "pytorch_model.bin")
    with pytest.raises(ValueError, match=r"pytorch_model.bin: the file must map parameter "
                                         r"names to tensors \(a state dict\), got type list"):
        load_biggan(folder, 1)


def test_biggan_class_id_and_truncation_types(biggan_folder):
    import numpy as np

    from eglass.models import load_biggan

    folder = biggan_folder[0]
    assert load_biggan(folder, np.int64(3)).class_id == 3  # numpy integers are integers
    with pytest.raises(ValueError, match="class_id must be an int"):
        load_biggan(folder, True)
    with pytest.raises(ValueError, match="truncation must be a finite number, got '0.4'"):
        load_biggan(folder, 3, "0.4")
