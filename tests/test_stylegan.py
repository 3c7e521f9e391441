"""StyleGAN2: the operations, the latent spaces, the three file formats (written here, without
upstream code), strict loading, refusals, the malicious pickle, forward-mode derivatives,
and the e-GLASS pipeline on a reduced random-weight StyleGAN2 in W and W+.

No upstream weights can be had offline, so "equal to upstream's output" is tested as far as
it can be: the NVlabs and rosinality parameterizations of the same weights give the same
images (to 1e-5, relative), and both equal an independent functional oracle written from
rosinality's ``model.py`` (its fused grouped convolution, zero-insertion up-sampling), which
computes every layer another way than :mod:`eglass.stylegan.ops`.
"""

from __future__ import annotations

import argparse
import math
import pickle
import sys
import types
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from eglass import explore, geometry, inversion, operators
from eglass.distances import PixelDistance
from eglass.models import load_stylegan
from eglass.priors import get_prior
from eglass.problem import InverseProblem
from eglass.stylegan import (
    StyleGAN2,
    StyleGAN2Config,
    UnsafePickleError,
    latent_generator,
    random_stylegan2,
    read_stylegan,
)
from eglass.stylegan import networks as nets
from eglass.stylegan.ops import fir_filter, modulated_conv2d, upfirdn, upsample
from eglass.stylegan.rosinality import from_upstream

CONFIG = StyleGAN2Config(z_dim=16, w_dim=16, channels=(16, 16, 8), mapping_layers=3)
KWARGS = dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3)
MAPPING = dict(num_layers=3, w_avg_beta=0.995)
SYNTHESIS = dict(channel_base=128, channel_max=16, num_fp16_res=0, conv_clamp=None,
                 architecture="skip")
UPSTREAM_NAMES = {StyleGAN2: "Generator"}  # every other class has upstream's name


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


@pytest.fixture(scope="module")
def net() -> StyleGAN2:
    return random_stylegan2(nets.stylegan2_config(16, channel_base=128, channel_max=16,
                                                  z_dim=16, w_dim=16, mapping_layers=3),
                            seed=0, noise_strength=0.3)


# --- writing the formats without upstream's code ------------------------------------------

@pytest.fixture
def upstream(monkeypatch):
    """Stand-ins for ``torch_utils.persistence`` and ``dnnlib.util``, registered only while a
    test writes a pickle: the names a real NVlabs pickle refers to, none of its code."""
    modules = {n: types.ModuleType(n) for n in ("torch_utils", "torch_utils.persistence",
                                                  "dnnlib", "dnnlib.util")}
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)

    def _reconstruct_persistent_obj(meta):  # never called here: the file is only written
        raise AssertionError("the test's stand-in must not be called")

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    modules["torch_utils.persistence"]._reconstruct_persistent_obj = _reconstruct_persistent_obj
    easydict = type("EasyDict", (dict,), {"__module__": "dnnlib.util",
                                          "__qualname__": "EasyDict"})
    modules["dnnlib.util"].EasyDict = easydict

    class Stored:
        """Pickles as upstream's persistent objects do: reconstruct(meta)."""

        def __init__(self, meta):
            self.meta = meta

        def __reduce__(self):
            return _reconstruct_persistent_obj, (self.meta,)

    def record(module: torch.nn.Module, kwargs: dict | None = None, src: str = "",
               name: str | None = None) -> Stored:
        state = {"training": False, "_parameters": OrderedDict(module._parameters),
                 "_buffers": OrderedDict(module._buffers), "_non_persistent_buffers_set": set(),
                 "_modules": OrderedDict((n, record(m)) for n, m in module._modules.items()),
                 "_init_args": (), "_init_kwargs": kwargs or {}}
        if hasattr(module, "weight_gain"):
            state["weight_gain"] = np.float64(module.weight_gain)  # numpy scalars, as upstream
        cls = name or UPSTREAM_NAMES.get(type(module), type(module).__name__)
        return Stored(dict(type="class", version=6, module_src=src or "# networks.py source",
                           class_name=cls, state=state))

    def write(path, G, *, kwargs=None, src="", extra=None):
        kwargs = dict(KWARGS, mapping_kwargs=easydict(MAPPING),
                      synthesis_kwargs=easydict(SYNTHESIS)) if kwargs is None else kwargs
        g_ema = record(G, kwargs, src)
        data = {"G": record(G, kwargs), "D": record(torch.nn.Linear(2, 1), name="Discriminator"),
                "G_ema": g_ema, "training_set_kwargs": easydict(resolution=16),
                "augment_pipe": None, **(extra or {})}
        path.write_bytes(pickle.dumps(data, protocol=4))
        return g_ema

    write.record = record
    return write


def rosinality_files(tmp_path, net):
    """A converter output ``{"g_ema", "latent_avg"}`` and a training checkpoint with a
    Namespace (no latent_avg), for the weights of ``net``."""
    g_ema, w_avg = from_upstream(net.state_dict(), net.config)
    converted, training = tmp_path / "converted.pt", tmp_path / "train.pt"
    torch.save({"g_ema": g_ema, "latent_avg": w_avg}, converted)
    args = argparse.Namespace(size=16, latent=16, n_mlp=3, channel_multiplier=2, iter=800000)
    torch.save({"g": g_ema, "d": {"convs.0.0.weight": torch.zeros(1)}, "g_ema": g_ema,
                "g_optim": {}, "d_optim": {}, "args": args, "ada_aug_p": 0.0}, training)
    return converted, training


# --- an independent oracle: rosinality's computation, functionally -------------------------

def oracle_upfirdn(x, kernel, up, pad0, pad1):
    """Zero insertion by index assignment, zero padding, true convolution."""
    n, c, h, w = x.shape
    u = x.new_zeros(n, c, h * up, w * up)
    u[:, :, ::up, ::up] = x
    u = F.pad(u, (pad0, pad1, pad0, pad1))
    k = kernel.flip(0, 1)[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(u, k, groups=c)


def oracle_modconv(x, weight, style, demodulate=True, upsample=False, blur=None):
    """rosinality's fused ModulatedConv2d: per-sample weights, grouped convolution."""
    batch, cin, h, w = x.shape
    _, cout, _, k, _ = weight.shape
    wt = weight / math.sqrt(cin * k * k) * style.view(batch, 1, cin, 1, 1)
    if demodulate:
        wt = wt * torch.rsqrt(wt.pow(2).sum([2, 3, 4]) + 1e-8).view(batch, cout, 1, 1, 1)
    if upsample:
        wt = wt.transpose(1, 2).reshape(batch * cin, cout, k, k)
        out = F.conv_transpose2d(x.reshape(1, batch * cin, h, w), wt, stride=2, groups=batch)
        out = out.view(batch, cout, *out.shape[2:])
        return oracle_upfirdn(out, blur, 1, 1, 1)
    out = F.conv2d(x.reshape(1, batch * cin, h, w), wt.view(batch * cout, cin, k, k),
                   padding=k // 2, groups=batch)
    return out.view(batch, cout, h, w)


def oracle_linear(x, s, prefix, lr=1.0, act=False):
    w, b = s[prefix + ".weight"], s[prefix + ".bias"]
    out = F.linear(x, w * lr / math.sqrt(w.shape[1]))
    if act:
        return F.leaky_relu(out + b * lr, 0.2) * math.sqrt(2)
    return out + b * lr


def oracle(s: dict, latent: torch.Tensor) -> torch.Tensor:
    """rosinality's Generator(latent, input_is_latent=True, randomize_noise=False)."""
    def styled(x, prefix, w, noise, up=False):
        style = oracle_linear(w, s, prefix + ".conv.modulation")
        blur = s.get(prefix + ".conv.blur.kernel")
        out = oracle_modconv(x, s[prefix + ".conv.weight"], style, upsample=up, blur=blur)
        out = out + s[prefix + ".noise.weight"] * noise
        return F.leaky_relu(out + s[prefix + ".activate.bias"].view(1, -1, 1, 1), 0.2) * 2**0.5

    def rgb(x, prefix, w, skip):
        style = oracle_linear(w, s, prefix + ".conv.modulation")
        out = oracle_modconv(x, s[prefix + ".conv.weight"], style, demodulate=False)
        out = out + s[prefix + ".bias"]
        if skip is not None:
            out = out + oracle_upfirdn(skip, s[prefix + ".upsample.kernel"], 2, 2, 1)
        return out

    x = s["input.input"].repeat(latent.shape[0], 1, 1, 1)
    x = styled(x, "conv1", latent[:, 0], s["noises.noise_0"])
    skip = rgb(x, "to_rgb1", latent[:, 1], None)
    i = 1
    while f"convs.{i - 1}.conv.weight" in s:
        x = styled(x, f"convs.{i - 1}", latent[:, i], s[f"noises.noise_{i}"], up=True)
        x = styled(x, f"convs.{i}", latent[:, i + 1], s[f"noises.noise_{i + 1}"])
        skip = rgb(x, f"to_rgbs.{(i - 1) // 2}", latent[:, i + 2], skip)
        i += 2
    return skip


def oracle_mapping(s: dict, z: torch.Tensor) -> torch.Tensor:
    x = z * torch.rsqrt(z.pow(2).mean(1, keepdim=True) + 1e-8)
    i = 1
    while f"style.{i}.weight" in s:
        x = oracle_linear(x, s, f"style.{i}", lr=0.01, act=True)
        i += 1
    return x


# --- operations ---------------------------------------------------------------------------

@pytest.mark.parametrize("up,pad", [(2, (2, 1)), (1, (1, 1)), (2, (-1, 0)), (1, (0, -1))])
def test_upfirdn_is_zero_insertion_then_convolution(up, pad):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 5, 7, generator=gen)
    f = torch.rand(4, 4, generator=gen)  # not symmetric: catches a flipped filter
    ours = upfirdn(x, f, up=up, pad=pad, gain=3.0)
    assert torch.allclose(ours, oracle_upfirdn(x, 3.0 * f, up, *pad), atol=1e-6)


def test_upsample_keeps_a_constant_and_doubles_the_size():
    y = upsample(torch.ones(1, 2, 6, 6), fir_filter())
    assert y.shape == (1, 2, 12, 12)
    assert torch.allclose(y[..., 2:-2, 2:-2], torch.ones(1, 2, 8, 8))


@pytest.mark.parametrize("up", [1, 2])
def test_modulated_conv_equals_the_fused_grouped_form(up):
    gen = torch.Generator().manual_seed(1)
    x, weight = torch.randn(3, 5, 6, 6, generator=gen), torch.randn(4, 5, 3, 3, generator=gen)
    styles = torch.randn(3, 5, generator=gen)
    f = fir_filter()
    ours = modulated_conv2d(x, weight, styles, up=up, f=f)
    # rosinality's layout: a leading 1, weights scaled by 1/sqrt(fan-in) (cancelled by
    # demodulation), the blur kernel stored times 4
    theirs = oracle_modconv(x, weight[None] * math.sqrt(45), styles, upsample=up == 2,
                            blur=f * 4)
    assert rel(ours, theirs) < 1e-5


# --- the three formats, one network -------------------------------------------------------

def test_both_formats_give_the_same_images_as_the_oracle(tmp_path, net, upstream):
    upstream(tmp_path / "net.pkl", net)
    torch.save(net.state_dict(), tmp_path / "g_ema.pt")
    converted, training = rosinality_files(tmp_path, net)
    g_ema, _ = from_upstream(net.state_dict(), net.config)
    z = torch.randn(3, 16, generator=torch.Generator().manual_seed(2))
    w = oracle_mapping(g_ema, z)
    truth = oracle(g_ema, w[:, None].repeat(1, net.num_ws, 1))
    ws = torch.randn(3, net.num_ws, 16, generator=torch.Generator().manual_seed(3))
    styled = oracle(g_ema, ws)  # a different w per layer: the order of the styles counts
    images = {}
    for path in ("net.pkl", "g_ema.pt", converted.name, training.name):
        G = load_stylegan(tmp_path / path, space="z")
        images[path] = G(z)
        assert G.latent_dim == 16 and images[path].shape == (3, 3, 16, 16)
        assert rel(load_stylegan(tmp_path / path, space="w+")(ws.flatten(1)), styled) < 1e-5
    for path, x in images.items():
        assert rel(x, truth) < 1e-5, (path, rel(x, truth))
        assert rel(x, images["net.pkl"]) < 1e-5, path
    formats = {p: read_stylegan(tmp_path / p)[2] for p in ("net.pkl", "g_ema.pt", "train.pt")}
    assert formats == {"net.pkl": "nvlabs-pickle", "g_ema.pt": "nvlabs-state-dict",
                       "train.pt": "rosinality"}


def test_rosinality_kernels_are_read_per_layer(tmp_path, net):
    """A rosinality file whose blur kernel (an up-sampling convolution's) and up-sampling
    kernel (the image's) differ between layers: each layer computes with its own, as
    rosinality's Generator does (the first one for all was off by about 5e-2 relative), and
    from_upstream writes each back."""
    g_ema, w_avg = from_upstream(net.state_dict(), net.config)
    gen = torch.Generator().manual_seed(4)
    for key in ("convs.2.conv.blur.kernel", "to_rgbs.1.upsample.kernel"):
        kernel = torch.rand(4, 4, generator=gen) + 0.5  # not symmetric: a flip would show
        g_ema[key] = kernel / kernel.sum() * 4  # rosinality stores the filter times 4
    torch.save({"g_ema": g_ema, "latent_avg": w_avg}, tmp_path / "kernels.pt")
    ws = torch.randn(3, net.num_ws, 16, generator=gen)
    G = load_stylegan(tmp_path / "kernels.pt", space="w+")
    assert rel(G(ws.flatten(1)), oracle(g_ema, ws)) < 1e-5
    config, state, _ = read_stylegan(tmp_path / "kernels.pt")
    back, _ = from_upstream(state, config)
    for key in ("convs.0.conv.blur.kernel", "convs.2.conv.blur.kernel",
                "to_rgbs.0.upsample.kernel", "to_rgbs.1.upsample.kernel"):
        torch.testing.assert_close(back[key], g_ema[key])


def test_nvlabs_pickle_reads_the_init_kwargs(tmp_path, upstream):
    clamped = random_stylegan2(nets.stylegan2_config(16, channel_base=128, channel_max=16,
                                                     z_dim=16, w_dim=16, mapping_layers=3,
                                                     conv_clamp=0.5), seed=3)
    kwargs = dict(KWARGS, mapping_kwargs=dict(MAPPING),
                  synthesis_kwargs=dict(SYNTHESIS, conv_clamp=0.5))
    upstream(tmp_path / "clamped.pkl", clamped, kwargs=kwargs)
    G = load_stylegan(tmp_path / "clamped.pkl")
    assert G.net.config.conv_clamp == 0.5 and G.net.config.channels == (16, 16, 8)
    w = torch.randn(2, 16, generator=torch.Generator().manual_seed(0))
    assert torch.equal(G(w), latent_generator(clamped, "w")(w))


def test_stylegan3_repo_layout_has_its_own_clamp_default(tmp_path, net, upstream):
    """stylegan3's StyleGAN2 pickles take the synthesis kwargs at the top level, and there an
    absent conv_clamp means 256 (its SynthesisBlock default), not None."""
    flat = {**KWARGS, "mapping_kwargs": dict(MAPPING), "channel_base": 128, "channel_max": 16,
            "fused_modconv_default": "inference_only"}
    upstream(tmp_path / "sg3repo.pkl", net, kwargs=flat)
    assert load_stylegan(tmp_path / "sg3repo.pkl").net.config.conv_clamp == 256
    upstream(tmp_path / "converted.pkl", net, kwargs={**flat, "conv_clamp": None})
    assert load_stylegan(tmp_path / "converted.pkl").net.config.conv_clamp is None


def test_loading_does_not_need_upstream_code(tmp_path, net, upstream, monkeypatch):
    upstream(tmp_path / "net.pkl", net)
    for name in ("torch_utils.persistence", "torch_utils", "dnnlib.util", "dnnlib"):
        monkeypatch.delitem(sys.modules, name)
    assert load_stylegan(tmp_path / "net.pkl").latent_dim == 16


def test_legacy_torch_save_format_is_read_as_a_torch_file(tmp_path, net):
    g_ema, w_avg = from_upstream(net.state_dict(), net.config)
    torch.save({"g_ema": g_ema, "latent_avg": w_avg}, tmp_path / "old.pt",
               _use_new_zipfile_serialization=False)
    assert read_stylegan(tmp_path / "old.pt")[2] == "rosinality"
    w = torch.randn(1, 16, generator=torch.Generator().manual_seed(0))
    assert torch.equal(load_stylegan(tmp_path / "old.pt")(w), latent_generator(net, "w")(w))


# --- strict keys --------------------------------------------------------------------------

def test_state_dict_keys_are_checked_strictly(tmp_path, net):
    state = dict(net.state_dict())
    state.pop("synthesis.b8.conv1.noise_strength")
    state["synthesis.b8.extra"] = torch.zeros(1)
    state["synthesis.b16.torgb.bias"] = torch.zeros(4)
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(ValueError) as err:
        load_stylegan(tmp_path / "bad.pt")
    message = str(err.value)
    assert "missing ['synthesis.b8.conv1.noise_strength']" in message
    assert "unexpected ['synthesis.b8.extra']" in message
    assert "synthesis.b16.torgb.bias: expected (3), got (4)" in message


def test_rosinality_keys_are_checked_strictly(tmp_path, net):
    g_ema, w_avg = from_upstream(net.state_dict(), net.config)
    g_ema.pop("noises.noise_3")
    g_ema["convs.1.conv.surprise"] = torch.zeros(1)
    torch.save({"g_ema": g_ema, "latent_avg": w_avg}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=r"missing \['noises.noise_3'\].*unexpected "
                                          r"\['convs.1.conv.surprise'\]"):
        load_stylegan(tmp_path / "bad.pt")


def test_pickle_keys_are_checked_strictly(tmp_path, net, upstream):
    g_ema = upstream(tmp_path / "ok.pkl", net)
    g_ema.meta["state"]["_modules"]["mapping"].meta["state"]["_buffers"].pop("w_avg")
    (tmp_path / "bad.pkl").write_bytes(pickle.dumps({"G_ema": g_ema}, protocol=4))
    with pytest.raises(ValueError, match=r"missing \['mapping.w_avg'\]"):
        load_stylegan(tmp_path / "bad.pkl")


def test_rosinality_args_must_fit_the_weights(tmp_path, net):
    g_ema, _ = from_upstream(net.state_dict(), net.config)
    torch.save({"g_ema": g_ema, "args": argparse.Namespace(size=256, latent=16, n_mlp=3)},
               tmp_path / "t.pt")
    with pytest.raises(ValueError, match="args.size=256 but the weights say 16"):
        load_stylegan(tmp_path / "t.pt")


# --- refusals -----------------------------------------------------------------------------

def test_values_that_are_not_tensors_are_named(tmp_path, net):
    state = {**net.state_dict(), "synthesis.b8.conv1.noise_strength": 0.5}
    torch.save(state, tmp_path / "sd.pt")
    with pytest.raises(ValueError, match=r"sd.pt: the state dict must map parameter names to "
                                         r"tensors, but 'synthesis.b8.conv1.noise_strength' "
                                         r"is of type float"):
        load_stylegan(tmp_path / "sd.pt")
    g_ema, w_avg = from_upstream(net.state_dict(), net.config)
    torch.save({"g_ema": {**g_ema, "noises.noise_3": 7}, "latent_avg": w_avg},
               tmp_path / "ros.pt")
    with pytest.raises(ValueError, match=r"ros.pt: g_ema must map parameter names to tensors, "
                                         r"but 'noises.noise_3' is of type int"):
        load_stylegan(tmp_path / "ros.pt")
    torch.save({"g_ema": g_ema, "latent_avg": [0.0] * 16}, tmp_path / "avg.pt")
    with pytest.raises(ValueError, match=r"avg.pt: the checkpoint must map parameter names to "
                                         r"tensors, but 'latent_avg' is of type list"):
        load_stylegan(tmp_path / "avg.pt")


def test_only_namespace_is_allowed_besides_tensors(tmp_path, net):
    g_ema, _ = from_upstream(net.state_dict(), net.config)
    torch.save({"g_ema": g_ema, "args": argparse.Namespace(size=16),
                "extra": types.SimpleNamespace(a=1)}, tmp_path / "t.pt")
    with pytest.raises(ValueError, match="types.SimpleNamespace"):
        load_stylegan(tmp_path / "t.pt")


def test_stylegan3_is_refused_with_a_clear_message(tmp_path, net, upstream):
    g_ema = upstream.record(net, dict(KWARGS))
    synthesis = g_ema.meta["state"]["_modules"]["synthesis"].meta["state"]["_modules"]
    synthesis["input"] = upstream.record(torch.nn.Linear(2, 2), name="SynthesisInput")
    (tmp_path / "sg3.pkl").write_bytes(pickle.dumps({"G_ema": g_ema}, protocol=4))
    with pytest.raises(ValueError, match="StyleGAN3 generator.*StyleGAN2 / StyleGAN2-ADA "
                                         "generators only"):
        load_stylegan(tmp_path / "sg3.pkl")


@pytest.mark.parametrize("change,message", [
    (dict(c_dim=10), "conditional"),
    (dict(synthesis_kwargs=dict(architecture="resnet")), "architecture='skip'"),
    (dict(synthesis_kwargs=dict(new_option=1)), "new_option=1, which load_stylegan does not"),
])
def test_unsupported_generators_are_refused(tmp_path, net, upstream, change, message):
    upstream(tmp_path / "g.pkl", net, kwargs={**KWARGS, **change})
    with pytest.raises(ValueError, match=message):
        load_stylegan(tmp_path / "g.pkl")


def test_malicious_pickle_fails_without_running(tmp_path, net, upstream):
    marker = tmp_path / "pwned"
    payload = f"open({str(marker)!r}, 'w').write('ran')"

    class Evil:
        def __reduce__(self):
            return exec, (payload,)

    upstream(tmp_path / "evil.pkl", net, extra={"augment_pipe": Evil()})
    with pytest.raises(UnsafePickleError, match="'builtins.exec'.*nothing in the file was run"):
        load_stylegan(tmp_path / "evil.pkl")
    assert not marker.exists()
    with pytest.raises(UnsafePickleError, match="'builtins.exec'"):
        get_prior(f"stylegan:{tmp_path / 'evil.pkl'}").generator()
    assert not marker.exists()
    pickle.loads(pickle.dumps(Evil()))  # the payload is live: a plain unpickler runs it
    assert marker.read_text() == "ran"


def test_stored_source_is_never_executed(tmp_path, net, upstream):
    marker = tmp_path / "pwned"
    source = f"open({str(marker)!r}, 'w').write('ran')\nclass Generator: pass\n"
    upstream(tmp_path / "src.pkl", net, src=source)
    G = load_stylegan(tmp_path / "src.pkl")  # the weights are read, the source ignored
    assert G.latent_dim == 16 and not marker.exists()
    exec(compile(source, "module_src", "exec"), {})  # upstream's persistence would run this
    assert marker.exists()


# --- latent spaces, truncation, noise -----------------------------------------------------

def test_the_three_spaces_are_one_generator(net):
    z = torch.randn(2, 16, generator=torch.Generator().manual_seed(4))
    Gz, Gw, Gp = (latent_generator(net, s, truncation=0.7) for s in ("z", "w", "w+"))
    assert (Gz.latent_dim, Gw.latent_dim, Gp.latent_dim) == (16, 16, net.num_ws * 16)
    w = net.map(z)
    x = Gz(z)
    assert torch.allclose(Gw(w), x, atol=1e-6)
    assert torch.allclose(Gp(w.repeat(1, net.num_ws)), x, atol=1e-6)
    # layer-major: changing block 16's styles (the last three) leaves a w+ image's coarse part
    wp = w.repeat(1, net.num_ws)
    wp[:, -16:] += 1.0
    assert not torch.allclose(Gp(wp), x)
    with pytest.raises(ValueError, match=r"'w\+'-space latent must have shape \(N, 96\)"):
        Gp(w)


def test_truncation_pulls_toward_w_avg(net):
    w = torch.randn(2, 16, generator=torch.Generator().manual_seed(5))
    w_avg = net.mapping.w_avg
    G1, G7, G0 = (latent_generator(net, "w", truncation=psi) for psi in (1.0, 0.7, 0.0))
    assert torch.allclose(G7(w), G1(w_avg + 0.7 * (w - w_avg)), atol=1e-6)
    assert torch.allclose(G0(w), G1(w_avg.expand(2, -1)), atol=1e-6)


def test_generators_are_deterministic_and_noise_is_fixed(net):
    G = latent_generator(net, "w")
    w = G.sample(2, seed=0)
    assert torch.equal(G(w), G(w)) and torch.equal(G.sample(2, seed=0), w)
    quiet = latent_generator(net, "w", noise="none")
    assert not torch.allclose(quiet(w), G(w))  # noise strengths are 0.3 here
    with pytest.raises(ValueError, match="noise must be one of 'const', 'none'"):
        latent_generator(net, "w", noise="random")
    with pytest.raises(ValueError, match="truncation must be a finite number"):
        latent_generator(net, "w", truncation="0.7")


@pytest.mark.parametrize("space", ["z", "w", "w+"])
def test_jvp_matches_finite_differences_and_vmaps(net, space):
    G = latent_generator(net.double(), space, truncation=0.7)
    try:
        z = G.sample(1, seed=3).double()
        v = torch.randn(z.shape, generator=torch.Generator().manual_seed(6), dtype=z.dtype)
        _, tangent = torch.func.jvp(G, (z,), (v,))
        eps = 1e-6
        fd = (G(z + eps * v) - G(z - eps * v)) / (2 * eps)
        assert rel(tangent, fd) < 1e-6
        basis = torch.eye(G.latent_dim, dtype=z.dtype)[:4]
        J = torch.func.vmap(lambda u: torch.func.jvp(G, (z,), (u[None],))[1])(basis)
        assert torch.allclose(J[2], torch.func.jvp(G, (z,), (basis[2:3],))[1])
    finally:
        net.float()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_follows_the_inputs(tmp_path, net):
    torch.save(net.state_dict(), tmp_path / "g.pt")
    G = load_stylegan(tmp_path / "g.pt", device="cuda")
    w = G.sample(2, seed=0)
    assert w.device.type == "cuda"
    cpu = load_stylegan(tmp_path / "g.pt")
    assert rel(G(w).cpu(), cpu(w.cpu())) < 1e-4
    # forward mode on the GPU (the metrics' path) agrees with the CPU's
    v = torch.randn(w.shape, generator=torch.Generator().manual_seed(6))
    _, tangent = torch.func.jvp(G, (w,), (v.cuda(),))
    _, expected = torch.func.jvp(cpu, (w.cpu(),), (v,))
    assert rel(tangent.cpu(), expected) < 1e-4


# --- the registered reference -------------------------------------------------------------

def test_stylegan_reference_is_a_prior(tmp_path, net):
    converted, _ = rosinality_files(tmp_path, net)
    prior = get_prior(f"stylegan:{converted}?space=w+&truncation=0.7")
    assert get_prior(f"stylegan:{converted}?space=w%2B&truncation=0.7").latent_dim == 96
    G = prior.generator()
    assert prior.latent_dim == net.num_ws * 16 and prior.image_shape == (3, 16, 16)
    assert G.space == "w+" and G.truncation == 0.7
    assert type(prior.distance()) is PixelDistance
    w, x = prior.samples(2, seed=1)
    assert torch.allclose(G(w), x) and torch.equal(w[:, :16], w[:, 16:32])  # mapped draws
    assert len(prior.sha256) == 64
    with pytest.raises(ValueError, match="unknown"):
        get_prior(f"stylegan:{converted}?psi=0.7")
    with pytest.raises(ValueError, match="space must be one of"):
        get_prior(f"stylegan:{converted}?space=s").generator()


# --- acceptance: the e-GLASS pipeline on a reduced random-weight StyleGAN2 ----------------

PIPELINE = StyleGAN2Config(z_dim=64, w_dim=64, channels=(16, 16, 16, 8), mapping_layers=4)


@pytest.fixture(scope="module")
def pipeline_net() -> StyleGAN2:
    return random_stylegan2(PIPELINE, seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("problem_name", ["sr8", "inpainting"])
def test_pipeline_in_w_and_w_plus(pipeline_net, problem_name):
    """Colour SR x8 (32x32 -> 4x4, 48 measurements for d = 64) and inpainting of a 12x12
    box on a random-weight StyleGAN2 in W (truncation 0.7), y = A(G(w*)): the first solution
    fits to <= 1e-3, Algorithm 1's solutions stay <= 1e-2; W+ (d = 512) from the same
    first solution through the matrix-free top-k metrics."""
    G = latent_generator(pipeline_net, "w", truncation=0.7)
    A = operators.SuperResolution(8) if problem_name == "sr8" else \
        operators.Inpainting(operators.box_mask(32, (12, 12)))
    with torch.no_grad():
        y = A(G(G.sample(1, seed=5)))
    problem = InverseProblem(G, A, y, PixelDistance())
    starts = G.sample(4, seed=1)[:, None]  # 4 starts drawn as upstream draws w
    first = inversion.invert(problem, "latent", seed=0, init=starts, progress=False)
    assert first.errors.item() <= 1e-3
    H_Y, H_X = geometry.metrics(problem, first.z)
    solutions = explore.explore(problem, first.z, H_Y, H_X, Ks=(4, 8, 12), etas=(-1.0, 1.0))
    assert solutions.errors.max().item() <= 1e-2
    assert (solutions.x - first.x).abs().amax().item() > 0.2  # they are other images

    Gp = latent_generator(pipeline_net, "w+", truncation=0.7)
    plus = problem.with_generator(Gp)
    z0 = first.z.repeat(1, pipeline_net.num_ws)
    assert torch.allclose(Gp(z0), first.x, atol=1e-5)
    spectra = geometry.metric_spectra(plus, z0, k=12, method="top-k")
    assert spectra.method == "top-k" and spectra.U.shape == (512, 12)
    wide = explore.explore(plus, z0, spectra, Ks=(4, 8, 12), etas=(-1.0, 1.0))
    assert wide.errors.max().item() <= 1e-2
