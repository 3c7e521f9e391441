"""Metric Hessians against double backprop; spectra, Lanczos, anisotropy, coupling, errors."""

from __future__ import annotations

import pytest
import torch
from conftest import TinyGenerator
from torch import nn

from eglass.distances import LPIPS, FeatureDistance, PixelDistance
from eglass.figures import coupling_figure, spectrum_figure
from eglass.geometry import (
    anisotropy,
    coupling,
    eigh_desc,
    homogeneity,
    images_along,
    jacobian,
    measurement_hvp,
    measurement_metric,
    metrics,
    perceptual_hvp,
    perceptual_metric,
    pushforward,
    reference_hessian,
    top_eigs,
    trace_fraction,
)
from eglass.operators import Inpainting, SuperResolution, box_mask
from eglass.problem import InverseProblem


def _latent(d, seed, dtype=torch.float64):
    return torch.randn(1, d, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _rel(a, b):
    return ((a - b).norm() / b.norm()).item()


def _check_psd(H):
    assert torch.equal(H, H.T)
    evals = torch.linalg.eigvalsh(H)
    assert evals.min() >= -1e-12 * evals.max()


class _Matrix:
    """A dense random linear map on flattened images, as a plain callable (not an operator)."""

    def __init__(self, m, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.M = torch.randn(m, n, generator=g, dtype=torch.float64) / n**0.5

    def __call__(self, x):
        return x.flatten(1) @ self.M.T


def _small_cnn():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        net = nn.Sequential(nn.Conv2d(1, 6, 3), nn.SiLU(), nn.Conv2d(6, 8, 3, 2), nn.Tanh())
    return net.double().eval()


def test_jacobian_matches_autograd_and_chunks(tiny_generator):
    z = _latent(8, 0)
    expected = torch.autograd.functional.jacobian(tiny_generator, z).reshape(-1, 8)
    for chunk in (None, 3):
        J = jacobian(tiny_generator, z, chunk)
        assert J.shape == (120, 8)
        assert torch.allclose(J, expected, rtol=1e-12, atol=1e-14)


def test_jacobian_reverse_mode_for_few_outputs(tiny_generator):
    z = _latent(8, 0)
    A = _Matrix(5, 120, seed=1)  # 5 measurements < d = 8
    expected = torch.autograd.functional.jacobian(lambda w: A(tiny_generator(w)), z)
    for chunk in (None, 2):
        J = jacobian(lambda w: A(tiny_generator(w)), z, chunk)
        assert J.shape == (5, 8)
        assert torch.allclose(J, expected.reshape(5, 8), rtol=1e-12, atol=1e-14)
    problem = InverseProblem(tiny_generator, A)
    H = measurement_metric(problem, z)
    ref = reference_hessian(problem, z, metric="measurement")
    assert _rel(H, ref) <= 1e-10


@pytest.mark.parametrize(
    "A",
    [SuperResolution(2), Inpainting(box_mask((12, 10), (5, 4))), _Matrix(30, 120, seed=3)],
    ids=["sr2", "inpainting", "dense-callable"],
)
def test_measurement_metric_equals_double_backprop(tiny_generator, A):
    z = _latent(8, 1)
    problem = InverseProblem(tiny_generator, A)
    H = measurement_metric(problem, z)
    ref = reference_hessian(problem, z, metric="measurement")
    assert _rel(H, ref) <= 1e-5
    assert _rel(H, ref) <= 1e-10  # it is in fact exact up to rounding in float64
    _check_psd(H)


@pytest.mark.parametrize("kind", ["lpips-alex", "lpips-resize", "feature", "pixel"])
def test_perceptual_metric_equals_double_backprop(kind):
    if kind == "lpips-alex":
        # pnet_rand=True: real calibrated lpips linear layers on a random backbone.
        G = TinyGenerator(height=33, width=31).double().eval()
        dist = LPIPS("alex", pnet_rand=True).double()
    elif kind == "lpips-resize":
        G = TinyGenerator().double().eval()
        dist = LPIPS("squeeze", pnet_rand=True, resize=(24, 20)).double()
    elif kind == "feature":
        G = TinyGenerator().double().eval()
        dist = FeatureDistance(_small_cnn(), ["1", "3"], weights=[1.0, 3.0])
    else:
        G = TinyGenerator().double().eval()
        dist = PixelDistance()
    z = _latent(8, 2)
    problem = InverseProblem(G, distance=dist)
    H = perceptual_metric(problem, z, chunk_size=4)
    ref = reference_hessian(problem, z)
    assert _rel(H, ref) <= 1e-5
    _check_psd(H)


@pytest.mark.parametrize("chunk", [None, 3])
def test_metrics_share_the_generator_jacobian(chunk):
    from eglass.distances import default_distance
    from eglass.models import DigitClassifier, Generator

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        G = Generator(latent_dim=6, width=8).double().eval()
        dist = default_distance(DigitClassifier().double().eval())
    z = _latent(6, 5)
    for A in (SuperResolution(4), Inpainting(box_mask(32, 12)), _Matrix(40, 1024, seed=2)):
        problem = InverseProblem(G, A, distance=dist)
        H_Y, H_X = metrics(problem, z, chunk_size=chunk)
        assert _rel(H_Y, measurement_metric(problem, z)) <= 1e-10
        assert _rel(H_X, perceptual_metric(problem, z)) <= 1e-10
        ref = reference_hessian(problem, z, metric="measurement")
        assert _rel(H_Y, ref) <= 1e-5
        _check_psd(H_Y)
        _check_psd(H_X)
    with pytest.raises(ValueError, match="cannot be applied to this generator's images"):
        metrics(InverseProblem(G, SuperResolution(5), distance=dist), z)
    with pytest.raises(TypeError, match="must be an eglass.distances.Distance"):
        metrics(InverseProblem(G, SuperResolution(4), distance=object()), z)


def test_pushforward_is_a_batch_of_jvps(tiny_generator):
    z = _latent(8, 6)
    V = torch.randn(5, 1, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out = pushforward(tiny_generator, z, V)
    J = torch.autograd.functional.jacobian(tiny_generator, z).reshape(120, 8)
    assert out.shape == (5, 1, 1, 12, 10)
    assert torch.allclose(out.reshape(5, 120), V[:, 0] @ J.T, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match=r"tangents must have shape \(k,1,8\)"):
        pushforward(tiny_generator, z, V[:, 0])


def test_pixel_metric_is_scaled_generator_gram(tiny_generator):
    z = _latent(8, 3)
    J = torch.autograd.functional.jacobian(tiny_generator, z).reshape(-1, 8)
    problem = InverseProblem(tiny_generator, distance=PixelDistance())
    H = perceptual_metric(problem, z.flatten())  # (d,) is accepted
    assert torch.allclose(H, J.T @ J / 120, rtol=1e-10, atol=0)


def test_embedded_default_distance_on_dcgan_architecture():
    from eglass.distances import default_distance
    from eglass.models import DigitClassifier, Generator

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        G = Generator(latent_dim=6, width=8).double().eval()
        net = DigitClassifier().double().eval()
    dist = default_distance(net)
    z = _latent(6, 4)
    problem = InverseProblem(G, SuperResolution(4), distance=dist)
    H = perceptual_metric(problem, z)
    assert _rel(H, reference_hessian(problem, z)) <= 1e-5
    HY = measurement_metric(problem, z)
    ref = reference_hessian(problem, z, metric="measurement")
    assert _rel(HY, ref) <= 1e-5


def test_float32_in_float32_out(tiny_generator):
    G = tiny_generator.float()
    H = measurement_metric(InverseProblem(G, SuperResolution(2)), _latent(8, 5, torch.float32))
    assert H.dtype == torch.float32 and H.shape == (8, 8)


def test_eigh_desc_descending_and_reconstructs(tiny_generator):
    problem = InverseProblem(tiny_generator, distance=PixelDistance())
    H = perceptual_metric(problem, _latent(8, 6))
    evals, evecs = eigh_desc(H)
    assert torch.all(evals[:-1] >= evals[1:])
    assert torch.allclose(evecs @ torch.diag(evals) @ evecs.T, H, atol=1e-12 * H.norm())
    assert torch.allclose(evecs.T @ evecs, torch.eye(8, dtype=H.dtype), atol=1e-12)
    assert torch.all(evecs.gather(0, evecs.abs().argmax(0)[None]) > 0)  # sign convention


@pytest.mark.parametrize("which", ["measurement", "perceptual"])
def test_top_eigs_matches_dense(which):
    G = TinyGenerator(latent_dim=20, seed=4).double().eval()
    z = _latent(20, 7)
    if which == "measurement":
        problem = InverseProblem(G, SuperResolution(2))
        H, hvp = measurement_metric(problem, z), measurement_hvp(problem, z)
    else:
        problem = InverseProblem(G, distance=FeatureDistance(_small_cnn(), ["1", "3"]))
        H, hvp = perceptual_metric(problem, z), perceptual_hvp(problem, z)
    v = torch.randn(20, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.allclose(hvp(v), H @ v, rtol=1e-10, atol=1e-14)
    evals, evecs = eigh_desc(H)
    k = 5
    top_vals, top_vecs = top_eigs(hvp, 20, k, seed=0)
    assert torch.allclose(top_vals, evals[:k], rtol=1e-8, atol=0)
    dots = (top_vecs * evecs[:, :k]).sum(0).abs()  # equal up to sign
    assert torch.allclose(dots, torch.ones(k, dtype=dots.dtype), atol=1e-6)
    again = top_eigs(hvp, 20, k, seed=0)
    assert torch.equal(again[0], top_vals) and torch.equal(again[1], top_vecs)


def test_trace_fraction_and_anisotropy_on_known_spectra():
    evals = torch.tensor([6.0, 3.0, 0.9, 0.09, 0.01, -1e-9])
    expected = torch.tensor([0.6, 0.9, 0.99, 0.999, 1, 1], dtype=torch.float64)
    assert torch.allclose(trace_fraction(evals), expected)
    stats = anisotropy(evals)
    assert stats.n_eigs == {0.9: 2, 0.99: 3, 0.999: 4}
    assert stats.d == 6
    flat = anisotropy(torch.ones(10))
    assert flat.n_eigs[0.9] == 9 and flat.effective_rank == pytest.approx(10)
    assert anisotropy(torch.tensor([1.0, 0, 0])).effective_rank == pytest.approx(1)


def test_coupling_of_a_basis_with_itself_is_identity(tiny_generator):
    problem = InverseProblem(tiny_generator, distance=PixelDistance())
    _, U = eigh_desc(perceptual_metric(problem, _latent(8, 8)))
    assert torch.allclose(coupling(U, U), torch.eye(8, dtype=U.dtype), atol=1e-12)
    assert coupling(U[:, :3], U).shape == (3, 8)


def test_homogeneity_separates_rescaled_from_rotated():
    g = torch.Generator().manual_seed(0)
    B = torch.randn(12, 12, generator=g, dtype=torch.float64)
    H = B @ torch.diag(torch.logspace(0, -6, 12, dtype=torch.float64)) @ B.T
    Q, _ = torch.linalg.qr(torch.randn(12, 12, generator=g, dtype=torch.float64))
    result = homogeneity([H, 5 * H, Q @ H @ Q.T])
    assert result.spectrum[0, 1] == pytest.approx(1) and result.vhv[0, 1] == pytest.approx(1)
    assert result.spectrum[0, 2] == pytest.approx(1)  # same eigenvalues...
    assert result.vhv[0, 2] < 0.9  # ...but different eigenvectors
    assert torch.all(result.vhv.diagonal() == 1)


def test_wrong_latent_shape_is_refused(tiny_generator):
    wrong = r"z0 must be one latent of shape \(1,8\) \(or \(8,\)\)"
    problem = InverseProblem(tiny_generator, SuperResolution(2), distance=PixelDistance())
    for z in (torch.zeros(2, 8, dtype=torch.float64), torch.zeros(1, 7, dtype=torch.float64)):
        with pytest.raises(ValueError, match=wrong):
            measurement_metric(problem, z)
    with pytest.raises(ValueError, match="NaN"):
        perceptual_metric(problem, torch.full((8,), float("nan")).double())
    with pytest.raises(TypeError, match="z0 is torch.float32 but the generator's parameters"):
        perceptual_metric(problem, _latent(8, 0, torch.float32))


def test_operator_generator_mismatch_is_refused(tiny_generator):
    z = _latent(8, 0)
    with pytest.raises(ValueError, match=r"SuperResolution cannot be applied .* \(1,1,12,10\)"):
        # 10 is not divisible by 3
        measurement_metric(InverseProblem(tiny_generator, SuperResolution(3)), z)
    with pytest.raises(ValueError, match=r"_Matrix cannot be applied .* \(1,1,12,10\)"):
        measurement_metric(InverseProblem(tiny_generator, _Matrix(5, 64, seed=0)), z)
    with pytest.raises(ValueError, match=r"cannot be applied"):
        measurement_hvp(InverseProblem(tiny_generator, SuperResolution(3)), z)


def test_other_bad_inputs(tiny_generator):
    z = _latent(8, 0)
    with pytest.raises(TypeError, match="latent_dim"):
        measurement_metric(InverseProblem(nn.Linear(8, 8), SuperResolution(2)), z)
    bn = nn.Sequential(nn.Linear(8, 120), nn.BatchNorm1d(120), nn.Unflatten(1, (1, 12, 10)))
    bn.latent_dim = 8
    with pytest.raises(ValueError, match=r"training mode .* G.eval\(\)"):
        measurement_metric(InverseProblem(bn.double(), SuperResolution(2)), z)
    summed = InverseProblem(tiny_generator, distance=lambda a, b: (a - b).pow(2).sum())
    with pytest.raises(TypeError, match="Distance"):
        perceptual_metric(summed, z)
    with pytest.raises(ValueError, match=r"1 <= k < d, got k=8, d=8"):
        top_eigs(measurement_hvp(InverseProblem(tiny_generator, SuperResolution(2)), z), 8, 8)
    with pytest.raises(ValueError, match=r"square matrix \(d,d\), got \(3, 4\)"):
        eigh_desc(torch.zeros(3, 4))
    with pytest.raises(ValueError, match=r"same number of rows .* U \(8, 8\) and V \(7, 7\)"):
        coupling(torch.eye(8), torch.eye(7))
    # which metric the reference differentiates is refused unless it is one of the two,
    # and the metric's ingredient must be in the problem
    with pytest.raises(ValueError, match="metric must be 'perceptual' or 'measurement'"):
        reference_hessian(InverseProblem(tiny_generator, SuperResolution(2)), z, metric="both")
    with pytest.raises(TypeError, match="no operator"):
        reference_hessian(InverseProblem(tiny_generator), z, metric="measurement")


def test_reference_hessian_without_distance_is_refused_clearly(tiny_generator):
    with pytest.raises(TypeError, match="distance"):
        reference_hessian(InverseProblem(tiny_generator), _latent(8, 0))


def test_images_along_and_figures(tiny_generator):
    import matplotlib

    matplotlib.use("Agg")
    z = _latent(8, 9)
    problem = InverseProblem(tiny_generator, distance=PixelDistance())
    H = perceptual_metric(problem, z)
    evals, V = eigh_desc(H)
    imgs = images_along(tiny_generator, z, V[:, 0], [-1.0, 0.0, 2.0])
    assert imgs.shape == (3, 1, 12, 10)
    assert torch.allclose(imgs[1:2], tiny_generator(z), rtol=0, atol=1e-14)
    assert torch.allclose(imgs[2:3], tiny_generator(z + 2 * V[:, 0]))
    with pytest.raises(ValueError, match=r"direction must have shape \(8,\)"):
        images_along(tiny_generator, z, V[:, :2], [1.0])
    fig = spectrum_figure({"H_X": evals, "H_Y": evals / 2})
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2
    fig = coupling_figure({"a": coupling(V, V), "b": coupling(V, V)}, n=4)
    assert fig.axes[0].images[0].get_array().shape == (4, 4)


def test_forward_mode_raises_no_torch_deprecation_warning():
    """The first torch.func.jvp of a process makes torch script its own decompositions and warn
    that torch.jit.script is deprecated; eglass silences exactly that one (a fresh process, so
    that the first call is really the first)."""
    import subprocess
    import sys

    code = (
        "import torch; from eglass.geometry import metrics, perceptual_hvp;"
        "from eglass.distances import PixelDistance; from eglass.operators import SuperResolution;"
        "from eglass.models import Generator; from eglass.problem import InverseProblem;"
        "G = Generator(8, 16).eval(); z = torch.zeros(1, 8);"
        "problem = InverseProblem(G, SuperResolution(4), distance=PixelDistance());"
        "metrics(problem, z); perceptual_hvp(problem, z)(torch.ones(8))"
    )
    run = subprocess.run([sys.executable, "-W", "error::FutureWarning", "-c", code],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
