"""e-GLASS in DeepInverse's test loop (eglass.reconstructor): ``deepinv.test`` reports for the
reconstructor the PSNR eglass computes for the same solutions, ``sample`` returns solutions
with their per-pixel mean and standard deviation, and both image ranges agree."""

from __future__ import annotations

import pytest
import torch

dinv = pytest.importorskip("deepinv", reason="needs the extra: pip install -e '.[deepinv]'")

from torch.utils.data import DataLoader  # noqa: E402

from eglass.data import mnist  # noqa: E402
from eglass.distances import PixelDistance  # noqa: E402
from eglass.evaluate import psnr  # noqa: E402
from eglass.reconstructor import EglassReconstructor, Samples  # noqa: E402


def box_physics(shape=(1, 32, 32), factor=4):
    box = torch.ones(1, 1, factor, factor) / factor**2
    return dinv.physics.Downsampling(shape, filter=box, factor=factor, padding="valid")


@pytest.fixture
def tiny(tiny_generator):
    """The float32 TinyGenerator (images (N,1,12,10)): DeepInverse's physics are float32."""
    return tiny_generator.float()


@pytest.fixture(scope="module")
def digits():
    """4 held-out digits on DeepInverse's [0, 1] scale."""
    return (mnist("test")[0][:4] + 1) / 2


def test_deepinv_test_reports_eglass_psnr(digits):
    physics = box_physics()
    model = EglassReconstructor("mnist-dcgan", inversion="fast", seed=0)
    pairs = dinv.datasets.TensorDataset(x=digits, y=physics(digits), use_dict_output=True)
    loader = DataLoader(pairs, batch_size=4)
    report = dinv.test(model, loader, physics, metrics=[dinv.metric.PSNR(), dinv.metric.SSIM()],
                       show_progress_bar=False, verbose=False, non_blocking_transfers=False)
    with torch.no_grad():  # as DeepInverse calls it
        x_hat = model(physics(digits), physics)
    assert x_hat.shape == digits.shape and 0 <= x_hat.min() and x_hat.max() <= 1
    ours = psnr(2 * x_hat - 1, 2 * digits - 1)  # eglass' PSNR, on [-1, 1]
    assert report["PSNR"] == pytest.approx(ours.mean().item(), abs=1e-4)
    assert report["PSNR"] > report["PSNR no learning"] + 5
    assert 0 < report["SSIM"] <= 1


def _tiny(tiny, **options):
    return EglassReconstructor(tiny, distance=PixelDistance(),
                               inversion="latent", invert_options=dict(steps=20, restarts=1),
                               **options)


def test_sample_returns_solutions_mean_and_std(tiny):
    model = _tiny(tiny, etas=(-0.5, 0.5), top=3)
    physics = box_physics((1, 12, 10), factor=2)
    x = (tiny(torch.randn(2, 8, generator=torch.Generator().manual_seed(0))) + 1) / 2
    samples = model.sample(physics(x), physics, n=3)
    assert isinstance(samples, Samples)
    assert samples.x.shape == (3, 2, 1, 12, 10)
    assert samples.mean.shape == samples.std.shape == (2, 1, 12, 10)
    torch.testing.assert_close(samples.mean, samples.x.mean(dim=0))
    torch.testing.assert_close(samples.std, samples.x.std(dim=0))
    assert len(samples.solutions) == 2 and len(samples.solutions[0]) == 3
    assert samples.solutions[0].K.tolist() == [4, 4, 5]  # K = 4, 5 with two etas each
    torch.testing.assert_close(samples.x[:, 0], (samples.solutions[0].x + 1) / 2)
    again = model.sample(physics(x), physics, n=3)
    torch.testing.assert_close(again.x, samples.x)  # the same seed, the same solutions


def test_ranges_agree_and_mean_estimate(tiny):
    physics = box_physics((1, 12, 10), factor=2)
    x = tiny(torch.randn(1, 8, generator=torch.Generator().manual_seed(1))).float()
    unit = _tiny(tiny)(physics((x + 1) / 2), physics)
    signed = _tiny(tiny, data_range="signed")(physics(x), physics)
    torch.testing.assert_close(unit, (signed + 1) / 2, rtol=1e-4, atol=1e-4)
    mean = _tiny(tiny, estimate="mean", n_samples=2, etas=(-0.5, 0.5), top=3)
    y = physics((x + 1) / 2)
    torch.testing.assert_close(mean(y, physics), mean.sample(y, physics, 2).mean)


def test_clear_errors(tiny):
    model = EglassReconstructor(tiny, inversion="latent")
    physics = box_physics((1, 12, 10), factor=2)
    with pytest.raises(TypeError, match="pass distance="):
        model.sample(torch.zeros(1, 1, 6, 5), physics, 2)
    with pytest.raises(ValueError, match="data_range"):
        EglassReconstructor(tiny, data_range="0-255")
    assert "inversion='latent'" in repr(model)
