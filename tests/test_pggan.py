"""PGGAN: pytorch_GAN_zoo checkpoints load with strict=True, without running pickled code."""

import os
import sys
import types

import pytest
import torch

from eglass.models import PGGANGenerator, load_pggan, pggan_config, random_pggan


@pytest.fixture
def upstream_config_class(monkeypatch):
    """A class pickled under upstream's name ``models.utils.config.BaseConfig``, as a real
    pytorch_GAN_zoo checkpoint holds it (registered only while the test writes the file)."""
    cls = type("BaseConfig", (), {"__module__": "models.utils.config"})
    for name in ("models", "models.utils", "models.utils.config"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    sys.modules["models.utils.config"].BaseConfig = cls
    return cls


def _write(path, config, state, cls, **extra):
    c = cls()
    c.__dict__.update(config)
    torch.save({"config": c, "netG": state, "avgG": state, "netD": {}, **extra}, path)


def test_celebahq256_checkpoint_loads_strict(tmp_path, upstream_config_class, monkeypatch):
    config = pggan_config(256)
    G0 = random_pggan(config, seed=0)
    _write(tmp_path / "pgan.pth", config, G0.state_dict(), upstream_config_class)
    for name in ("models.utils.config", "models.utils", "models"):
        monkeypatch.delitem(sys.modules, name)  # loading must not need upstream's code
    G = load_pggan(tmp_path / "pgan.pth")
    assert G.latent_dim == 512 and G.resolution == 256
    assert sorted(G.state_dict()) == sorted(G0.state_dict())
    assert "scaleLayers.5.1.module.weight" in G.state_dict()
    assert G.state_dict()["formatLayer.module.weight"].shape == (16 * 512, 512)
    z = torch.randn(1, 512, generator=torch.Generator().manual_seed(0))
    x = G(z)
    assert x.shape == (1, 3, 256, 256) and torch.isfinite(x).all()
    assert torch.equal(x, G0(z))


@pytest.mark.parametrize("resolution", [512, 1024])
def test_large_configs_have_power_of_two_outputs(resolution):
    # upstream's depth list at full size; shapes checked, one forward on a width-reduced copy
    G = PGGANGenerator.from_config(pggan_config(resolution))
    assert G.resolution == resolution
    assert G.toRGBLayers[-1].module.weight.shape == (
        3,
        pggan_config(resolution)["depthOtherScales"][-1],
        1,
        1,
    )
    small = random_pggan(pggan_config(resolution, latent_dim=16, width_divisor=16), seed=1)
    assert small(torch.randn(1, 16, generator=torch.Generator().manual_seed(0))).shape == (
        1,
        3,
        resolution,
        resolution,
    )


def test_alpha_blending_and_tanh():
    config = dict(pggan_config(16, latent_dim=8, width_divisor=32, loss="DCGAN"), alpha=0.5)
    G = random_pggan(config, seed=2)
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(0))
    x = G(z)
    assert x.shape == (3, 3, 16, 16) and x.abs().max() < 1
    G.alpha = 0.0
    sharp = G(z)
    G.alpha = 1.0  # all weight on the upsampled 8x8 output: constant on 2x2 blocks
    blocky = G(z)
    assert not torch.allclose(x, sharp)
    assert torch.equal(blocky[..., ::2, ::2], blocky[..., 1::2, 1::2])
    assert torch.allclose(x, torch.tanh((torch.atanh(sharp) + torch.atanh(blocky)) / 2), atol=1e-5)


def test_pickled_code_is_refused(tmp_path):
    torch.save({"config": os.system, "avgG": {}}, tmp_path / "evil.pth")
    with pytest.raises(ValueError, match="weights_only=True"):
        load_pggan(tmp_path / "evil.pth")


def test_mismatch_and_missing_file(tmp_path):
    config = pggan_config(8, latent_dim=4, width_divisor=64)
    state = random_pggan(config, seed=0).state_dict()
    del state["toRGBLayers.1.module.bias"]
    torch.save({"config": config, "avgG": state}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match=r"missing \['toRGBLayers.1.module.bias'\]"):
        load_pggan(tmp_path / "bad.pth")
    with pytest.raises(FileNotFoundError, match="pytorch_GAN_zoo"):
        load_pggan(tmp_path / "absent.pth")
    with pytest.raises(ValueError, match="power of 2"):
        pggan_config(300)
