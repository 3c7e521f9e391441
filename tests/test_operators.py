"""Tests of eglass.operators, parametrized over a registry of every operator (deepinv-style).

Adding an entry to ``REGISTRY`` sends that operator through the dot test, the Penrose
conditions, the projector checks, a dense-matrix pseudo-inverse comparison and autograd.
Sizes are odd and non-square (3x36x30, 2x18x12) so that shape bugs cannot hide.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from eglass.operators import (
    Blur,
    CompressedSensing,
    Denoising,
    Inpainting,
    LinearOperator,
    SuperResolution,
    add_noise,
    box_mask,
    dot_test,
    gaussian_kernel,
    half_mask,
    random_mask,
)

SHAPE = (2, 3, 36, 30)  # dot test / Penrose checks
SMALL = (1, 2, 18, 12)  # dense-matrix and gradcheck comparisons


class LowRankMatrix(LinearOperator):
    """A rank-deficient dense operator defining only ``_A`` and ``_A_adjoint``: its
    pseudo-inverse is the base class's CGLS fallback."""

    def __init__(self, image_shape, m=40, rank=25, seed=0):
        super().__init__()
        self.shape = tuple(image_shape[1:])
        n = math.prod(self.shape)
        g = torch.Generator().manual_seed(seed)
        u, _ = torch.linalg.qr(torch.randn(m, rank, generator=g, dtype=torch.float64))
        v, _ = torch.linalg.qr(torch.randn(n, rank, generator=g, dtype=torch.float64))
        s = 1 + 2 * torch.rand(rank, generator=g, dtype=torch.float64)
        self.register_buffer("matrix", u @ torch.diag(s) @ v.T)

    def _A(self, x):
        return x.flatten(1) @ self.matrix.to(x).T

    def _A_adjoint(self, y):
        return (y @ self.matrix.to(y)).reshape(y.shape[0], *self.shape)


def _channel_random_mask(shape):
    masks = [random_mask(shape[-2:], 0.6, seed=c) for c in range(shape[1])]
    return torch.cat(masks, dim=1)[0]  # (C, H, W)


def _skewed_kernel():
    return torch.tensor([[0.0, 1.0, 0.5, 0.2], [0.3, 2.0, 1.0, 0.0], [0.1, 0.4, 0.0, 0.7]])


REGISTRY = {
    "denoising": lambda shape: Denoising(),
    **{
        f"sr_{kernel}_{f}": (lambda shape, f=f, kernel=kernel: SuperResolution(f, kernel))
        for kernel in ("box", "bicubic")
        for f in (2, 3, 6)
    },
    "inpaint_box": lambda shape: Inpainting(box_mask(shape[-2:], fraction=0.25)),
    "inpaint_half": lambda shape: Inpainting(half_mask(shape[-2:], "left")),
    "inpaint_random_per_channel": lambda shape: Inpainting(_channel_random_mask(shape)),
    "blur_gaussian": lambda shape: Blur(gaussian_kernel(5, 1.0)),
    "blur_gaussian_wide": lambda shape: Blur(gaussian_kernel(9, 3.0)),
    "blur_skewed_even": lambda shape: Blur(_skewed_kernel()),
    "compressed_sensing": lambda shape: CompressedSensing(
        math.prod(shape[1:]) // 6, shape[1:], seed=123
    ),
    "generic_cgls": lambda shape: LowRankMatrix(shape),
}
NAMES = sorted(REGISTRY)
CLOSED_FORM = [n for n in NAMES if n != "generic_cgls"]


def _randn(shape, seed, dtype=torch.float64):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _rel(a, b):
    return ((a - b).norm() / b.norm().clamp_min(1e-300)).item()


@pytest.fixture(params=NAMES)
def name(request):
    return request.param


# --- adjoint --------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dot_test_float64(name, seed):
    op = REGISTRY[name](SHAPE)
    assert dot_test(op, SHAPE, seed=seed) < 1e-5


def test_dot_test_float32(name):
    op = REGISTRY[name](SHAPE)
    assert dot_test(op, SHAPE, dtype=torch.float32) < 1e-3


def test_dense_adjoint_and_pinv(name):
    """A_adjoint and A_dagger equal the transpose and torch.linalg.pinv of the dense matrix."""
    op = REGISTRY[name](SMALL)
    x = _randn(SMALL, 0)
    dense = torch.func.jacrev(lambda v: op.A(v).flatten())(x).reshape(-1, x.numel())
    y = _randn(op.measurement_shape(SMALL), 1)
    assert torch.allclose(op.A(x).flatten(), dense @ x.flatten(), atol=1e-12)
    assert torch.allclose(op.A_adjoint(y).flatten(), dense.T @ y.flatten(), atol=1e-12)
    expected = torch.linalg.pinv(dense) @ y.flatten()
    assert _rel(op.A_dagger(y).flatten(), expected) < 1e-7
    assert op.rank(SMALL, chunk=100) == torch.linalg.matrix_rank(dense).item()


# --- pseudo-inverse and projectors ------------------------------------------------------------
def test_penrose_conditions(name):
    op = REGISTRY[name](SHAPE)
    tol = 1e-6 if name == "generic_cgls" else 1e-9
    x = _randn(SHAPE, 0)
    y = _randn(op.measurement_shape(SHAPE), 1)
    assert _rel(op.A(op.A_dagger(op.A(x))), op.A(x)) < tol  # A A+ A = A
    assert _rel(op.A_dagger(op.A(op.A_dagger(y))), op.A_dagger(y)) < tol  # A+ A A+ = A+


def test_null_and_range_projectors(name):
    op = REGISTRY[name](SHAPE)
    tol = 1e-6 if name == "generic_cgls" else 1e-9
    x, v = _randn(SHAPE, 0), _randn(SHAPE, 1)
    null, rng = op.null_project(x), op.range_project(x)
    assert torch.allclose(null + rng, x, atol=1e-12)
    assert op.A(null).norm() <= tol * op.A(x).norm()
    assert (op.null_project(null) - null).norm() <= tol * x.norm()  # idempotent
    assert abs((null * rng).sum()) <= tol * x.norm() ** 2  # orthogonal split
    # symmetric projector: <P x, v> = <x, P v>
    lhs, rhs = (null * v).sum(), (x * op.null_project(v)).sum()
    assert abs(lhs - rhs) <= tol * x.norm() * v.norm()


def test_null_space_is_non_trivial_where_expected(name):
    """Only denoising and (in float64, without a cutoff) blur are injective."""
    op, x = REGISTRY[name](SHAPE), _randn(SHAPE, 0)
    null = op.null_project(x)
    if name == "denoising" or name.startswith("blur"):
        assert null.norm() <= 1e-9 * x.norm()
    else:
        assert null.norm() > 0.1 * x.norm()


@pytest.mark.parametrize("other", ["sr_bicubic_3", "compressed_sensing", "inpaint_box"])
def test_cgls_fallback_matches_closed_form(other):
    op = REGISTRY[other](SHAPE)
    y = _randn(op.measurement_shape(SHAPE), 3)
    assert _rel(LinearOperator._A_dagger(op, y), op.A_dagger(y)) < 1e-8


# --- autodiff, purity, dtypes, shapes ------------------------------------------------------------
def test_autograd(name):
    op = REGISTRY[name](SMALL)
    x = _randn(SMALL, 0).requires_grad_()
    y = _randn(op.measurement_shape(SMALL), 1).requires_grad_()
    assert torch.autograd.gradcheck(op.A, (x,))
    assert torch.autograd.gradcheck(op.A_adjoint, (y,))


def test_torch_func_jvp_and_vmap(name):
    op = REGISTRY[name](SMALL)
    x, v = _randn(SMALL, 0), _randn((5, *SMALL), 1)
    out, tangent = torch.func.jvp(op.A, (x,), (v[0],))
    assert torch.allclose(tangent, op.A(v[0]), atol=1e-12)
    batched = torch.func.vmap(lambda t: torch.func.jvp(op.A, (x,), (t,))[1])(v)
    assert torch.allclose(batched, torch.stack([op.A(t) for t in v]), atol=1e-12)


def test_pure_calls_and_dtypes(name):
    op = REGISTRY[name](SHAPE)
    state = {k: b.clone() for k, b in op.state_dict().items()}
    for dtype in (torch.float32, torch.float64):
        x = _randn(SHAPE, 0, dtype)
        x_copy = x.clone()
        y = op.A(x)
        assert y.dtype == dtype and tuple(y.shape) == op.measurement_shape(SHAPE)
        for out in (op.A_adjoint(y), op.A_dagger(y), op.null_project(x)):
            assert out.dtype == dtype and out.shape == x.shape
        assert torch.equal(x, x_copy)
    assert all(torch.equal(state[k], b) for k, b in op.state_dict().items())


def test_batch_of_one_broadcasts_in_back_projection(name):
    op = REGISTRY[name](SHAPE)
    x, y = _randn(SHAPE, 0), op.A(_randn((1, *SHAPE[1:]), 1))
    back = x + op.A_dagger(y - op.A(x))
    assert back.shape == x.shape
    assert _rel(op.A(back), y.expand_as(op.A(x))) < 1e-8  # back-projection fits y


# --- each operator against an independent implementation ---------------------------------------
@pytest.mark.parametrize("factor", [2, 3, 6])
def test_bicubic_matches_torch_interpolate(factor):
    x = _randn(SHAPE, 0)
    expected = F.interpolate(x, scale_factor=1 / factor, mode="bicubic", antialias=True)
    assert torch.allclose(SuperResolution(factor, "bicubic")(x), expected, atol=1e-12)


def test_box_sr_is_average_pooling_and_dagger_is_nearest_upsampling():
    op, x = SuperResolution(3), _randn(SHAPE, 0)
    y = op(x)
    assert torch.allclose(y[..., 1, 2], x[..., 3:6, 6:9].mean(dim=(-2, -1)))
    assert torch.equal(op.A_dagger(y), F.interpolate(y, scale_factor=3, mode="nearest"))


def test_blur_is_circular_convolution():
    k = _skewed_kernel().double()[:, :3]  # odd size: same centre convention as conv2d
    x = _randn(SHAPE, 0)
    padded = F.pad(x, (1, 1, 1, 1), mode="circular")
    weight = k.flip(0, 1).expand(SHAPE[1], 1, 3, 3)
    expected = F.conv2d(padded, weight, groups=SHAPE[1])
    assert torch.allclose(Blur(k)(x), expected, atol=1e-12)


def test_blur_cutoff_defines_null_space():
    op = Blur(gaussian_kernel(9, 3.0), rtol=1e-3)
    x = _randn(SHAPE, 0)
    k = op.transfer_function(*SHAPE[-2:]).abs()
    kept = (k > 1e-3 * k.max()).sum().item()
    assert 0 < kept < k.numel()
    null = op.null_project(x)
    assert torch.allclose(op.null_project(null), null, atol=1e-10)
    # the cutoff drops a frequency band: A(null) is not 0 but at most the cutoff in size
    assert op.A(null).norm() <= 1e-3 * k.max() * null.norm()


def test_rank_counts_what_the_measurements_keep():
    shape = (1, 3, 36, 30)
    assert SuperResolution(3, "bicubic").rank(shape) == 3 * 12 * 10
    assert Inpainting(box_mask((36, 30), (10, 8))).rank(shape) == 3 * (36 * 30 - 80)
    assert CompressedSensing(77, shape[1:], seed=0).rank(shape[1:]) == 77
    assert Denoising().rank(shape) == 3 * 36 * 30
    blur = Blur(gaussian_kernel(9, 2.0))  # |k| reaches ~1e-8 max|k|: null only in float32
    spectrum = blur.transfer_function(36, 30)
    full = torch.fft.fft2(torch.fft.irfft2(spectrum, s=(36, 30))).abs()
    cut = (full <= 36 * 30 * torch.finfo(torch.float32).eps * full.max()).sum().item()
    assert cut > 0
    assert blur.rank(shape) == 3 * 36 * 30
    assert blur.rank(shape, dtype=torch.float32) == 3 * (36 * 30 - cut)
    with pytest.raises(ValueError, match=r"\(C,H,W\) or \(1,C,H,W\), got \(2, 3, 36, 30\)"):
        Denoising().rank((2, 3, 36, 30))


def test_inpainting_observes_exactly_the_mask():
    mask = box_mask((36, 30), (10, 8))
    op, x = Inpainting(mask), _randn(SHAPE, 0)
    assert torch.equal(op(x), x * mask.double())
    assert torch.equal(op.null_project(x), x * (1 - mask.double()))


def test_compressed_sensing_shapes_and_scaling():
    op = CompressedSensing(500, SHAPE[1:], seed=0)
    assert op.matrix.shape == (500, math.prod(SHAPE[1:]))
    assert op(_randn(SHAPE, 0)).shape == (2, 500)
    assert abs(op.matrix.pow(2).sum(0).mean().item() - 1) < 0.02  # E||M e_j||^2 = 1


# --- reproducibility ---------------------------------------------------------------------------
def test_same_seed_same_operator():
    a, b = CompressedSensing(40, (1, 12, 6), seed=7), CompressedSensing(40, (1, 12, 6), seed=7)
    assert torch.equal(a.matrix, b.matrix) and torch.equal(a.matrix_pinv, b.matrix_pinv)
    assert not torch.equal(a.matrix, CompressedSensing(40, (1, 12, 6), seed=8).matrix)
    assert torch.equal(random_mask(20, 0.5, seed=3), random_mask(20, 0.5, seed=3))
    assert not torch.equal(random_mask(20, 0.5, seed=3), random_mask(20, 0.5, seed=4))


def test_add_noise_is_seeded_and_has_the_requested_std():
    y = torch.zeros(4, 1, 100, 100)
    n1, n2 = add_noise(y, 0.1, seed=0), add_noise(y, 0.1, seed=0)
    assert torch.equal(n1, n2) and not torch.equal(n1, add_noise(y, 0.1, seed=1))
    assert abs(n1.std().item() - 0.1) < 0.002 and abs(n1.mean().item()) < 0.002
    assert torch.equal(add_noise(y + 1, 0.0, seed=0), y + 1)
    assert n1.dtype == y.dtype and torch.equal(y, torch.zeros_like(y))


# --- masks ---------------------------------------------------------------------------------------
def test_mask_helpers():
    assert box_mask(32, fraction=0.25).mean().item() == pytest.approx(0.75, abs=1e-9)
    box = box_mask((36, 30), (10, 8), center=(5, 4))
    assert box.shape == (1, 1, 36, 30) and box[0, 0, :10, :8].sum() == 0 and box.sum() == 1000
    assert half_mask((36, 30), "bottom")[0, 0, 18:].sum() == 0
    assert half_mask((36, 30), "bottom")[0, 0, :18].min() == 1
    assert half_mask(31, "right").sum() == 31 * 16
    assert random_mask((36, 30), 0.3, seed=0).sum() == 36 * 30 - round(0.3 * 36 * 30)


# --- clear errors ------------------------------------------------------------------------------
def test_errors_name_expected_and_given():
    x = _randn(SHAPE, 0)
    with pytest.raises(ValueError, match=r"divisible by 4.*\(N,3,36,30\)"):
        SuperResolution(4)(x)
    with pytest.raises(ValueError, match=r"\(2,123\).*expects \(N,500\)"):
        CompressedSensing(500, SHAPE[1:]).A_adjoint(torch.zeros(2, 123, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"expects images of shape \(N,1,36,30\).*\(2,3,36,30\)"):
        CompressedSensing(50, (1, 36, 30))(x)
    with pytest.raises(ValueError, match=r"mask of shape \(1,1,32,32\).*\(2,3,36,30\)"):
        Inpainting(box_mask(32, 4))(x)
    with pytest.raises(ValueError, match=r"y has shape \(2,3,36,31\).*\(1,1,36,30\)"):
        Inpainting(box_mask((36, 30), 4)).A_dagger(torch.zeros(2, 3, 36, 31))
    with pytest.raises(ValueError, match=r"x contains 216 NaN/inf.*\(2,3,36,30\)"):
        Blur(gaussian_kernel(3, 1.0))(x.index_fill(3, torch.tensor([4]), float("nan")))
    with pytest.raises(ValueError, match=r"y contains .* NaN/inf"):
        Denoising().A_dagger(torch.full((1, 1, 4, 4), float("inf")))
    with pytest.raises(ValueError, match=r"kernel of shape \(9,9\) is larger .*\(N,3,8,30\)"):
        Blur(gaussian_kernel(9, 1.0))(x[..., :8, :])
    with pytest.raises(ValueError, match=r"must have shape \(N,C,H,W\), got \(3,36,30\)"):
        Denoising()(x[0])
    with pytest.raises(ValueError, match="binary"):
        Inpainting(torch.full((4, 4), 0.5))
    with pytest.raises(ValueError, match=r"m must be an integer in \[1, C\*H\*W = 72\]"):
        CompressedSensing(73, (2, 6, 6))
    with pytest.raises(ValueError, match="factor must be a positive integer"):
        SuperResolution(1.5)
    with pytest.raises(ValueError, match="sigma must be a finite number >= 0, got -1.0"):
        add_noise(x, -1.0, seed=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_device_follows_input(name):
    op = REGISTRY[name](SHAPE)
    x = _randn(SHAPE, 0).cuda()
    for out in (op.A(x), op.null_project(x), op.to("cuda").A_dagger(op.A(x))):
        assert out.device == x.device


# --- degenerate inputs ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "mask", [torch.zeros(8, 8, dtype=torch.bool), torch.zeros(2, 8, 8), torch.zeros(0, 8)]
)
def test_inpainting_mask_that_observes_nothing_is_refused(mask):
    shape = r"\(" + ",".join(str(s) for s in mask.shape) + r"\)"
    with pytest.raises(ValueError, match=rf"observes no pixel.*at least one 1.*shape {shape}"):
        Inpainting(mask)


def test_blur_kernel_that_measures_nothing_is_refused():
    with pytest.raises(ValueError, match=r"all zero.*at least one non-zero.*\(3,4\)"):
        Blur(torch.zeros(3, 4))
    for bad in (float("nan"), float("inf")):
        kernel = torch.ones(3, 3).index_fill(0, torch.tensor([1]), bad)
        with pytest.raises(ValueError, match=r"kernel contains 3 NaN/inf .*expected finite"):
            Blur(kernel)


@pytest.mark.parametrize("sigma", [float("inf"), float("nan"), -1.0, -float("inf")])
def test_non_finite_or_negative_sigma_is_refused(sigma):
    with pytest.raises(ValueError, match=rf"sigma must be a finite number >= 0, got {sigma}"):
        add_noise(torch.zeros(1, 1, 4, 4), sigma, seed=0)
    with pytest.raises(ValueError, match=rf"sigma must be a finite number > 0, got {sigma}"):
        gaussian_kernel(5, sigma)


def test_sigma_of_the_wrong_type_is_refused():
    with pytest.raises(TypeError, match="sigma must be a real number, got str"):
        add_noise(torch.zeros(1, 1, 4, 4), "0.1", seed=0)
    with pytest.raises(TypeError, match="sigma must be a real number, got str"):
        gaussian_kernel(5, "1")
    with pytest.raises(ValueError, match=r"sigma must be a finite number > 0, got 0"):
        gaussian_kernel(5, 0)


def test_empty_batch_is_accepted(name):
    op = REGISTRY[name](SHAPE)
    x = torch.zeros(0, *SHAPE[1:], dtype=torch.float64)
    expected = op.measurement_shape((0, *SHAPE[1:]))
    assert expected == (0, *op.measurement_shape(SHAPE)[1:])
    y = op.A(x)
    assert tuple(y.shape) == expected
    for out in (op.A_adjoint(y), op.A_dagger(y), op.range_project(x), op.null_project(x)):
        assert out.shape == x.shape
    assert dot_test(op, (0, *SHAPE[1:])) == 0.0


def test_super_resolution_of_an_empty_batch():
    for kernel in ("box", "bicubic"):
        op = SuperResolution(2, kernel)
        y = op(torch.zeros(0, 1, 32, 32))
        assert y.shape == (0, 1, 16, 16)
        assert op.A_adjoint(y).shape == op.A_dagger(y).shape == (0, 1, 32, 32)
