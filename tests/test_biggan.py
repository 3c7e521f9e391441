"""BigGAN-deep adapter: a folder in upstream's format loads and reproduces upstream exactly."""

import json

import pytest
import torch

from eglass.models import biggan_config, load_biggan, random_biggan, save_biggan

ppb = pytest.importorskip("pytorch_pretrained_biggan")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    model = random_biggan(biggan_config(128, channel_width=4), seed=0)
    return save_biggan(model, tmp_path_factory.mktemp("biggan")), model


def test_loads_and_equals_upstream(folder):
    path, model = folder
    G = load_biggan(path, class_id=207, truncation=0.4)
    z = torch.randn(2, 128, generator=torch.Generator().manual_seed(1))
    label = torch.from_numpy(ppb.one_hot_from_int(207, batch_size=2))
    x = G(z)
    assert G.latent_dim == 128 and not G.training
    assert x.shape == (2, 3, 128, 128) and x.abs().max() <= 1
    assert torch.equal(x, model(z, label, 0.4))
    # upstream's own loader (strict=False) gives the same network on the same file
    assert torch.equal(x, ppb.BigGAN.from_pretrained(str(path)).eval()(z, label, 0.4))


def test_random_biggan_sets_the_uninitialised_batchnorm():
    a = random_biggan(biggan_config(128, channel_width=4), seed=3)
    b = random_biggan(biggan_config(128, channel_width=4), seed=3)
    assert torch.equal(a.generator.bn.weight, torch.ones(4))
    assert torch.equal(a.generator.bn.bias, torch.zeros(4))
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("edit", ["missing", "unexpected"])
def test_key_mismatch_is_named(folder, tmp_path, edit):
    path, model = folder
    state = model.state_dict()
    if edit == "missing":
        del state["generator.bn.weight"]
        key = "generator.bn.weight"
    else:
        key = "generator.extra.weight"
        state[key] = torch.zeros(1)
    (tmp_path / "config.json").write_text((path / "config.json").read_text())
    torch.save(state, tmp_path / "pytorch_model.bin")
    with pytest.raises(ValueError, match=f"{edit}.*{key}"):
        load_biggan(tmp_path, class_id=0)


def test_missing_folder_and_file_name_the_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json and pytorch_model.bin"):
        load_biggan(tmp_path / "nowhere", class_id=0)
    (tmp_path / "config.json").write_text(json.dumps({}))
    with pytest.raises(FileNotFoundError, match="lacks pytorch_model.bin"):
        load_biggan(tmp_path, class_id=0)


def test_sha256_and_bad_arguments(folder):
    path, _ = folder
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        load_biggan(path, class_id=0, sha256="0" * 64)
    with pytest.raises(ValueError, match="class_id"):
        load_biggan(path, class_id=1000)
    with pytest.raises(ValueError, match="truncation"):
        load_biggan(path, class_id=0, truncation=0.0)
    with pytest.raises(ValueError, match=r"z must have shape \(N, 128\)"):
        load_biggan(path, class_id=0)(torch.zeros(1, 64))


def test_full_size_configs_have_the_released_shapes():
    for r in (128, 256, 512):
        c = biggan_config(r)
        ups = sum(up for up, _, _ in c.layers)
        assert 4 * 2**ups == r and c.layers[-1][2] == 1 and c.channel_width == 128
