"""Tests of eglass.operators, parametrized over the operator registry (deepinv-style).

Every operator registered in ``eglass.operators.OPERATORS`` (with the options of
``REGISTERED_OPTIONS``, or its defaults) and every extra case of ``EXTRAS`` (other
constructor options, the mask helpers, the generic CGLS pseudo-inverse) goes through the dot
test, the Penrose conditions, the projector checks, a dense-matrix pseudo-inverse comparison
and autograd, on even and odd non-square sizes (3x36x30 and 3x33x27; 2x18x12 and 3x15x9 for
the dense checks), each size an operator can take. Registering an operator puts it through
all of these.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F

from eglass.operators import (
    OPERATORS,
    Blur,
    CompressedSensing,
    Denoising,
    Inpainting,
    LinearOperator,
    SuperResolution,
    add_noise,
    benchmark_problems,
    box_mask,
    describe_operators,
    dot_test,
    gaussian_kernel,
    half_mask,
    list_operators,
    make_operator,
    operator_options,
    random_mask,
    register_operator,
)

# (images for the dot test / Penrose checks, images for the dense-matrix / gradcheck checks)
SIZES = {"even": ((2, 3, 36, 30), (1, 2, 18, 12)), "odd": ((2, 3, 33, 27), (1, 3, 15, 9))}
SHAPE, SMALL = SIZES["even"]


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


@dataclass(frozen=True)
class Case:
    """An operator to test: ``build(image_shape (N,C,H,W))``; ``divides``: what H and W must
    be multiples of; ``injective``: no null space (in float64, without a cutoff); ``cgls``:
    its pseudo-inverse is the iterative fallback (looser tolerances)."""

    build: Callable[[tuple[int, ...]], LinearOperator]
    divides: int = 1
    injective: bool = False
    cgls: bool = False


# Options each registered operator is tested with; one without an entry is tested with its
# defaults (which must then fit the test sizes).
REGISTERED_OPTIONS = {
    "sr": [dict(factor=2), dict(factor=3), dict(factor=6)],
    "inpainting": [dict(box=(10, 8)), dict(box=5)],
    "blur": [dict(size=5, sigma=1.0), dict(size=9, sigma=3.0)],
    "cs": [dict(m=72, seed=123), dict(m=300, seed=1)],  # not seed 0: the test images use it
    "denoising": [dict()],
}
INJECTIVE = {"denoising", "blur"}  # registered operators without a null space


def _case_id(name, options):
    return "-".join([name, *(f"{k}={v!r}".replace(" ", "") for k, v in options.items())])


def _registered_cases():
    cases = {}
    for name in OPERATORS:
        for options in REGISTERED_OPTIONS.get(name, [{}]):
            cases[_case_id(name, options)] = Case(
                lambda shape, name=name, options=options: make_operator(name, shape[1:], **options),
                divides=options.get("factor", 1) if name == "sr" else 1,
                injective=name in INJECTIVE,
            )
    return cases


EXTRAS = {
    **{
        f"sr_bicubic_{f}": Case(lambda shape, f=f: SuperResolution(f, "bicubic"), divides=f)
        for f in (2, 3, 6)
    },
    "inpaint_fraction": Case(lambda shape: Inpainting(box_mask(shape[-2:], fraction=0.25))),
    "inpaint_half": Case(lambda shape: Inpainting(half_mask(shape[-2:], "left"))),
    "inpaint_random_per_channel": Case(lambda shape: Inpainting(_channel_random_mask(shape))),
    "blur_skewed_even": Case(lambda shape: Blur(_skewed_kernel()), injective=True),
    "generic_cgls": Case(lambda shape: LowRankMatrix(shape), cgls=True),
}
CASES = {**_registered_cases(), **EXTRAS}


def _fits(case, size):
    return all(d % case.divides == 0 for shape in SIZES[size] for d in shape[2:])


PARAMS = [(n, size) for n in CASES for size in SIZES if _fits(CASES[n], size)]


@dataclass(frozen=True)
class Setup:
    name: str
    case: Case
    shape: tuple[int, ...]
    small: tuple[int, ...]

    def op(self, small: bool = False) -> LinearOperator:
        return self.case.build(self.small if small else self.shape)


@pytest.fixture(params=PARAMS, ids=[f"{n}-{size}" for n, size in PARAMS])
def case(request):
    name, size = request.param
    return Setup(name, CASES[name], *SIZES[size])


def _randn(shape, seed, dtype=torch.float64):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _rel(a, b):
    return ((a - b).norm() / b.norm().clamp_min(1e-300)).item()


def test_every_registered_operator_is_tested_on_odd_sizes():
    odd = {n.split("-")[0] for n, size in PARAMS if size == "odd" and n in _registered_cases()}
    assert odd == set(OPERATORS)


# --- adjoint --------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dot_test_float64(case, seed):
    assert dot_test(case.op(), case.shape, seed=seed) < 1e-5


def test_dot_test_float32(case):
    assert dot_test(case.op(), case.shape, dtype=torch.float32) < 1e-3


def test_dense_adjoint_and_pinv(case):
    """A_adjoint and A_dagger equal the transpose and torch.linalg.pinv of the dense matrix."""
    op, small = case.op(small=True), case.small
    x = _randn(small, 0)
    dense = torch.func.jacrev(lambda v: op.A(v).flatten())(x).reshape(-1, x.numel())
    y = _randn(op.measurement_shape(small), 1)
    assert torch.allclose(op.A(x).flatten(), dense @ x.flatten(), atol=1e-12)
    assert torch.allclose(op.A_adjoint(y).flatten(), dense.T @ y.flatten(), atol=1e-12)
    expected = torch.linalg.pinv(dense) @ y.flatten()
    assert _rel(op.A_dagger(y).flatten(), expected) < 1e-7
    assert op.rank(small, chunk=100) == torch.linalg.matrix_rank(dense).item()


# --- pseudo-inverse and projectors ------------------------------------------------------------
def test_penrose_conditions(case):
    op, shape = case.op(), case.shape
    tol = 1e-6 if case.case.cgls else 1e-9
    x = _randn(shape, 0)
    y = _randn(op.measurement_shape(shape), 1)
    assert _rel(op.A(op.A_dagger(op.A(x))), op.A(x)) < tol  # A A+ A = A
    assert _rel(op.A_dagger(op.A(op.A_dagger(y))), op.A_dagger(y)) < tol  # A+ A A+ = A+


def test_null_and_range_projectors(case):
    op, shape = case.op(), case.shape
    tol = 1e-6 if case.case.cgls else 1e-9
    x, v = _randn(shape, 0), _randn(shape, 1)
    null, rng = op.null_project(x), op.range_project(x)
    assert torch.allclose(null + rng, x, atol=1e-12)
    assert op.A(null).norm() <= tol * op.A(x).norm()
    assert (op.null_project(null) - null).norm() <= tol * x.norm()  # idempotent
    assert abs((null * rng).sum()) <= tol * x.norm() ** 2  # orthogonal split
    # symmetric projector: <P x, v> = <x, P v>
    lhs, rhs = (null * v).sum(), (x * op.null_project(v)).sum()
    assert abs(lhs - rhs) <= tol * x.norm() * v.norm()


def test_null_space_is_non_trivial_where_expected(case):
    """Only denoising and (in float64, without a cutoff) blur are injective."""
    op, x = case.op(), _randn(case.shape, 0)
    null = op.null_project(x)
    if case.case.injective:
        assert null.norm() <= 1e-9 * x.norm()
    else:
        assert null.norm() > 0.1 * x.norm()


@pytest.mark.parametrize("other", ["sr_bicubic_3", "cs-m=72-seed=123", "inpainting-box=(10,8)"])
def test_cgls_fallback_matches_closed_form(other):
    op = CASES[other].build(SHAPE)
    y = _randn(op.measurement_shape(SHAPE), 3)
    assert _rel(LinearOperator._A_dagger(op, y), op.A_dagger(y)) < 1e-8


# --- autodiff, purity, dtypes, shapes ------------------------------------------------------------
def test_autograd(case):
    op = case.op(small=True)
    x = _randn(case.small, 0).requires_grad_()
    y = _randn(op.measurement_shape(case.small), 1).requires_grad_()
    assert torch.autograd.gradcheck(op.A, (x,))
    assert torch.autograd.gradcheck(op.A_adjoint, (y,))


def test_torch_func_jvp_and_vmap(case):
    op = case.op(small=True)
    x, v = _randn(case.small, 0), _randn((5, *case.small), 1)
    out, tangent = torch.func.jvp(op.A, (x,), (v[0],))
    assert torch.allclose(tangent, op.A(v[0]), atol=1e-12)
    batched = torch.func.vmap(lambda t: torch.func.jvp(op.A, (x,), (t,))[1])(v)
    assert torch.allclose(batched, torch.stack([op.A(t) for t in v]), atol=1e-12)


def test_pure_calls_and_dtypes(case):
    op, shape = case.op(), case.shape
    state = {k: b.clone() for k, b in op.state_dict().items()}
    for dtype in (torch.float32, torch.float64):
        x = _randn(shape, 0, dtype)
        x_copy = x.clone()
        y = op.A(x)
        assert y.dtype == dtype and tuple(y.shape) == op.measurement_shape(shape)
        for out in (op.A_adjoint(y), op.A_dagger(y), op.null_project(x)):
            assert out.dtype == dtype and out.shape == x.shape
        assert torch.equal(x, x_copy)
    assert all(torch.equal(state[k], b) for k, b in op.state_dict().items())


def test_batch_of_one_broadcasts_in_back_projection(case):
    op, shape = case.op(), case.shape
    x, y = _randn(shape, 0), op.A(_randn((1, *shape[1:]), 1))
    back = x + op.A_dagger(y - op.A(x))
    assert back.shape == x.shape
    assert _rel(op.A(back), y.expand_as(op.A(x))) < 1e-8  # back-projection fits y


def test_empty_batch_is_accepted(case):
    op, shape = case.op(), case.shape
    x = torch.zeros(0, *shape[1:], dtype=torch.float64)
    expected = op.measurement_shape((0, *shape[1:]))
    assert expected == (0, *op.measurement_shape(shape)[1:])
    y = op.A(x)
    assert tuple(y.shape) == expected
    for out in (op.A_adjoint(y), op.A_dagger(y), op.range_project(x), op.null_project(x)):
        assert out.shape == x.shape
    assert dot_test(op, (0, *shape[1:])) == 0.0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_device_follows_input(case):
    op = case.op()
    x = _randn(case.shape, 0).cuda()
    for out in (op.A(x), op.null_project(x), op.to("cuda").A_dagger(op.A(x))):
        assert out.device == x.device


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


def test_super_resolution_of_an_empty_batch():
    for kernel in ("box", "bicubic"):
        op = SuperResolution(2, kernel)
        y = op(torch.zeros(0, 1, 32, 32))
        assert y.shape == (0, 1, 16, 16)
        assert op.A_adjoint(y).shape == op.A_dagger(y).shape == (0, 1, 32, 32)


# --- the registry ---------------------------------------------------------------------------------
def _same_operator(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return (type(a) is type(b) and repr(a) == repr(b) and sa.keys() == sb.keys()
            and all(torch.equal(sa[k], sb[k]) for k in sa))


def test_registered_names_options_and_defaults():
    assert list_operators() == ("sr", "inpainting", "blur", "cs", "denoising")
    assert {name: operator_options(name) for name in OPERATORS} == {
        "sr": {"factor": 8},
        "inpainting": {"box": 12},
        "blur": {"size": 7, "sigma": 2.0},
        "cs": {"m": 100, "seed": 0},
        "denoising": {},
    }
    shape = (1, 32, 32)  # the defaults are the batch configuration's
    expected = {
        "sr": SuperResolution(8),
        "inpainting": Inpainting(box_mask((32, 32), 12)),
        "blur": Blur(gaussian_kernel(7, 2.0)),
        "cs": CompressedSensing(100, shape, seed=0),
        "denoising": Denoising(),
    }
    for name, op in expected.items():
        assert _same_operator(make_operator(name, shape), op), name
    text = describe_operators().splitlines()
    assert [line.split(":")[0] for line in text] == list(OPERATORS)
    assert "factor=8" in text[0] and "size=7" in text[2] and "sigma=2.0" in text[2]


def test_options_override_defaults_on_odd_non_square_images():
    shape = (3, 33, 27)
    assert _same_operator(make_operator("sr", shape, factor=3), SuperResolution(3))
    assert _same_operator(make_operator("inpainting", shape, box=(9, 5)),
                          Inpainting(box_mask((33, 27), (9, 5))))
    assert _same_operator(make_operator("blur", shape, size=5, sigma=0.7),
                          Blur(gaussian_kernel(5, 0.7)))
    assert _same_operator(make_operator("cs", shape, m=50, seed=3),
                          CompressedSensing(50, shape, seed=3))


@pytest.mark.parametrize(
    "name, options, shape, error",
    [
        ("nope", {}, (1, 32, 32),
         r"operator must be one of 'sr', 'inpainting', 'blur', 'cs', 'denoising'; got 'nope'"),
        ("sr", {"box": 3}, (1, 32, 32),
         r"operator 'sr' takes the options factor=8; got unknown option\(s\) 'box'"),
        ("denoising", {"factor": 2}, (1, 32, 32), r"takes the options none"),
        ("sr", {"factor": 3}, (1, 32, 32),
         r"factor must divide the image height and width, got factor=3 for images \(1,32,32\)"),
        ("sr", {"factor": 0}, (1, 32, 32), r"factor must be a positive integer, got 0"),
        ("sr", {"factor": True}, (1, 32, 32), r"factor must be a positive integer, got True"),
        ("sr", {"factor": 2.0}, (1, 32, 32), r"factor must be a positive integer, got 2.0"),
        ("blur", {"sigma": -1.0}, (1, 32, 32), r"sigma must be > 0, got -1.0"),
        ("blur", {"sigma": float("nan")}, (1, 32, 32), r"sigma must be a finite number"),
        ("blur", {"size": 28}, (1, 32, 27),
         r"size must be at most the image height and width, got size=28 for images \(1,32,27\)"),
        ("blur", {"size": 0}, (1, 32, 32), r"size must be a positive integer, got 0"),
        ("cs", {"m": 0}, (1, 32, 32), r"m must be a positive integer, got 0"),
        ("cs", {"m": 3073}, (3, 32, 32), r"m must be an integer in \[1, C\*H\*W = 3072\]"),
        ("cs", {"seed": -1}, (1, 32, 32), r"seed must be an integer >= 0, got -1"),
        ("inpainting", {"box": 40}, (1, 32, 32),
         r"box of size \(40, 40\) does not fit in a \(32, 32\) image"),
        ("inpainting", {"box": "12"}, (1, 32, 32), r"box must be a positive integer or a pair"),
        ("inpainting", {"box": (3, 0)}, (1, 32, 32), r"box must be a positive integer, got 0"),
        ("sr", {}, (32, 32), r"image_shape must be \(C,H,W\), got \(32, 32\)"),
        ("sr", {}, (1, 0, 32), r"image_shape entries must be a positive integer, got 0"),
    ],
)
def test_make_operator_refuses_bad_names_options_and_sizes(name, options, shape, error):
    with pytest.raises(ValueError, match=error):
        make_operator(name, shape, **options)


@pytest.mark.parametrize("shape", [(1, 32, 32), (3, 40, 24), (1, 56, 72)])
def test_benchmark_problems_are_the_books(shape):
    """The book's four problems, with exactly the numbers they had: box SR x4 and x8, a
    central 12x12 box (for 32x32, scaled with the image), 100 Gaussian measurements (seed 0)."""
    _, h, w = shape
    box = (round(12 * h / 32), round(12 * w / 32))
    expected = {
        "SR x4": SuperResolution(4),
        "SR x8": SuperResolution(8),
        "inpainting (box)": Inpainting(box_mask((h, w), box)),
        "CS (m=100)": CompressedSensing(100, shape, seed=0),
    }
    problems = benchmark_problems(shape)
    assert list(problems) == list(expected)
    for name, op in expected.items():
        assert _same_operator(problems[name], op), name
    from eglass.inversion import benchmark_problems as book

    assert all(_same_operator(a, b) for a, b in zip(book(shape).values(), problems.values(),
                                                   strict=True))


def test_register_operator_adds_a_name_with_its_options():
    @register_operator("halves", summary="test only", help={"side": "which half is hidden"})
    def _halves(image_shape, *, side="bottom"):
        return Inpainting(half_mask(image_shape[1:], side))

    try:
        assert operator_options("halves") == {"side": "bottom"}
        assert "halves: test only (side='bottom': which half is hidden)" in describe_operators()
        op = make_operator("halves", (1, 6, 4), side="left")
        assert torch.equal(op.mask, half_mask((6, 4), "left"))
        with pytest.raises(ValueError, match="already registered"):
            register_operator("halves", summary="again")
    finally:
        del OPERATORS["halves"]
    assert "halves" not in list_operators()


def test_importing_the_operators_does_not_import_deepinv():
    code = "import sys, eglass.operators, eglass.deepinv_ops; print('deepinv' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
