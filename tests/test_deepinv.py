"""DeepInverse interoperability: eglass operators against deepinv's own, and deepinv physics
going wherever an eglass operator goes (eglass.operators.from_deepinv / as_operator).

Parity is checked in float64 on odd, non-square images (3 x 36 x 28 or 3 x 37 x 31) to a
relative 1e-5 where the two definitions coincide; where they differ the test shows how.
"""

from __future__ import annotations

import sys

import pytest
import torch

from eglass import data, deepinv_ops, geometry, models
from eglass.evaluate import measurement_error
from eglass.inversion import back_project, invert
from eglass.operators import (
    Blur,
    CompressedSensing,
    DeepInvOperator,
    Inpainting,
    LinearOperator,
    SuperResolution,
    as_operator,
    dot_test,
    from_deepinv,
    gaussian_kernel,
    is_deepinv_physics,
    random_mask,
)
from eglass.problem import InverseProblem

dinv = pytest.importorskip("deepinv", reason="needs the extra: pip install -e '.[deepinv]'")
physics = dinv.physics

F64 = torch.float64


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


def randn(shape, seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


# ------------------------------------------------------------------ the coinciding pairs
# name -> (image shape (C,H,W), ours, deepinv's). Adding a pair here puts it through every
# parity test below.
BLUR_KERNEL = gaussian_kernel(5, 0.6)[:, 1:].contiguous()  # 5 x 4: asymmetric, even width
MASK = random_mask((37, 31), 0.4, seed=3)


def _pairs():
    box = torch.ones(1, 1, 4, 4, dtype=F64) / 16
    cs_rng = torch.Generator().manual_seed(7)
    return {
        "inpainting": (
            (3, 37, 31),
            Inpainting(MASK.double()),
            physics.Inpainting((3, 37, 31), mask=MASK[0].double()),
        ),
        "sr-box-x4": (
            (3, 36, 28),
            SuperResolution(4, "box"),
            physics.Downsampling((3, 36, 28), filter=box, factor=4, padding="valid"),
        ),
        "blur-fft": (
            (3, 37, 31),
            Blur(BLUR_KERNEL),
            physics.BlurFFT((3, 37, 31), filter=BLUR_KERNEL[None, None]),
        ),
        "blur-circular": (
            (3, 37, 31),
            Blur(BLUR_KERNEL),
            physics.Blur(filter=BLUR_KERNEL[None, None], padding="circular"),
        ),
        "cs": (
            (2, 9, 7),
            CompressedSensing(60, (2, 9, 7), seed=7),
            physics.CompressedSensing(60, (2, 9, 7), dtype=F64, rng=cs_rng),
        ),
    }


PAIRS = _pairs()


@pytest.fixture(params=sorted(PAIRS))
def pair(request):
    shape, ours, theirs = PAIRS[request.param]
    return shape, ours, theirs


def test_forward_agrees(pair):
    shape, ours, theirs = pair
    x = randn((2, *shape))
    assert rel(theirs.A(x), ours(x)) < 1e-5
    assert rel(from_deepinv(theirs)(x), ours(x)) < 1e-5


def test_adjoint_agrees_and_passes_the_dot_test(pair):
    shape, ours, theirs = pair
    op = from_deepinv(theirs)
    y = randn(ours.measurement_shape((2, *shape)), seed=1)
    assert rel(op.A_adjoint(y), ours.A_adjoint(y)) < 1e-5
    assert dot_test(op, (2, *shape)) < 1e-10


def test_pseudo_inverse_agrees(pair):
    shape, ours, theirs = pair
    op = from_deepinv(theirs)
    y = ours(randn((2, *shape)))
    assert rel(op.A_dagger(y), ours.A_dagger(y)) < 1e-5
    x = randn((2, *shape), seed=2)
    null = op.null_project(x)
    assert op(null).norm() < 1e-8 * x.norm()
    assert (null - ours.null_project(x)).norm() < 1e-5 * x.norm()


def test_measurement_and_image_shapes_are_read_off_the_physics(pair):
    shape, ours, theirs = pair
    op = from_deepinv(theirs)
    m = op.measurement_shape((5, *shape))
    assert m == ours.measurement_shape((5, *shape))
    assert op.image_shape(m) == (5, *shape)


def test_compressed_sensing_draws_the_same_matrix_from_the_same_seed():
    _, ours, theirs = PAIRS["cs"]
    assert torch.equal(ours.matrix, theirs._A)


# ------------------------------------------------------------------ where they differ


def test_no_named_deepinv_filter_is_our_box_average():
    """Our box SR is deepinv's Downsampling with a custom f x f box filter and 'valid'
    padding (above); its named filters -- and None, bare decimation -- are other operators."""
    x = randn((1, 3, 36, 28))
    box = SuperResolution(4)(x)
    for name in ("bicubic", "bilinear", "gaussian", None):
        theirs = physics.Downsampling((3, 36, 28), filter=name, factor=4).double()
        assert rel(theirs.A(x), box) > 0.1, name


@pytest.mark.parametrize("f", [2, 4, 8])
def test_bicubic_differs_by_a_grid_shift_and_the_border(f):
    """deepinv's 'bicubic' Downsampling and our antialiased bicubic (F.interpolate, PIL
    style) use the same Keys a = -0.5 kernel stretched by f, but deepinv samples output j at
    input f j + 1/2 (ours: f j + (f - 1)/2, the centre of block j) and pads the image, where
    ours renormalizes the kernel at the border. Away from the border they agree after a shift
    of (f - 2)/2 pixels (none for f = 2)."""
    shape, shift = (3, 96, 80), (f - 2) // 2
    x = randn((1, *shape))
    ours = SuperResolution(f, "bicubic")(x)
    theirs = physics.Downsampling(shape, filter="bicubic", factor=f, padding="reflect").double()
    assert rel(theirs.A(x), ours) > 1e-3  # as given, different operators
    shifted = theirs.A(torch.roll(x, shifts=(-shift, -shift), dims=(2, 3)))
    inner = (..., slice(3, -3), slice(3, -3))
    assert rel(shifted[inner], ours[inner]) < 1e-5
    assert (shifted - ours)[..., 0, :].abs().max() > 1e-3  # the border still differs


def test_deepinv_dagger_is_an_approximation_ours_is_exact():
    """deepinv's generic A_dagger runs 50 CG steps to 1e-4; the wrapper's CGLS reaches the
    minimum-norm solution (here: the closed form of our box SR)."""
    shape, ours, theirs = PAIRS["sr-box-x4"]
    y = ours(randn((1, *shape)))
    exact = ours.A_dagger(y)
    assert rel(from_deepinv(theirs).A_dagger(y), exact) < 1e-8
    assert rel(theirs.A_dagger(y), exact) > 1e-8


# ------------------------------------------------------------------ the wrapper itself


def test_a_physics_keeps_its_dtype_and_serves_float64():
    mask = random_mask(16, 0.5, seed=0)
    theirs = physics.Downsampling((1, 16, 16), filter="bicubic", factor=2)  # float32 filter
    op = from_deepinv(theirs)
    x = randn((2, 1, 16, 16))
    assert op(x).dtype == F64 and op.A_adjoint(op(x)).dtype == F64
    assert dot_test(op, (2, 1, 16, 16)) < 1e-12  # the float64 copy, not float32 rounding
    assert theirs.filter.dtype == torch.float32
    assert op(x.float()).dtype == torch.float32
    fft = from_deepinv(physics.BlurFFT((1, 16, 16), filter=gaussian_kernel(3, 1.0)[None, None]))
    assert dot_test(fft, (1, 1, 16, 16)) < 1e-12  # complex buffers survive the cast
    assert Inpainting(mask).mask.dtype == torch.float32


def test_noise_model_of_the_physics_is_not_applied():
    noisy = physics.Inpainting(
        (1, 8, 8), mask=torch.ones(1, 8, 8), noise_model=physics.GaussianNoise(sigma=0.5)
    )
    x = randn((1, 1, 8, 8))
    assert torch.equal(from_deepinv(noisy)(x), x)
    assert not torch.equal(noisy(x), x)  # the physics' __call__ adds noise


def test_as_operator_passes_eglass_operators_through():
    op = SuperResolution(2)
    assert as_operator(op) is op and as_operator(None) is None
    assert isinstance(as_operator(physics.Denoising()), DeepInvOperator)
    assert isinstance(from_deepinv(physics.Denoising()), LinearOperator)


def test_bad_input_is_refused_clearly():
    with pytest.raises(TypeError, match="LinearPhysics.*non-linear"):
        from_deepinv(physics.Physics(A=torch.sin))
    with pytest.raises(TypeError, match="LinearPhysics.*SuperResolution, not a deepinv"):
        from_deepinv(SuperResolution(2))
    with pytest.raises(TypeError, match="non-linear"):
        as_operator(physics.Physics(A=torch.sin))
    op = from_deepinv(PAIRS["cs"][2])
    with pytest.raises(ValueError, match="cannot take images of shape"):
        op(randn((1, 1, 9, 7)))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: physics.Inpainting((1, 8, 8), mask=torch.zeros(1, 8, 8)),
         r"Inpainting.mask is all zero, so the Inpainting physics would measure nothing; "
         r"expected at least one non-zero entry, got all zeros of shape \(1,1,8,8\)"),
        (lambda: physics.Inpainting((1, 8, 8), mask=torch.ones(1, 8, 8).index_fill(
            1, torch.tensor([2]), float("nan"))),
         r"Inpainting.mask contains 8 NaN/inf value\(s\) out of 64 .*expected finite"),
        (lambda: physics.BlurFFT((1, 8, 8), filter=torch.zeros(1, 1, 3, 3)),
         r"BlurFFT.(mask|filter) is all zero"),
        (lambda: physics.Blur(filter=torch.full((1, 1, 3, 3), float("inf"))),
         r"Blur.filter contains 9 NaN/inf"),
    ],
    ids=["inpainting-zero-mask", "inpainting-nan-mask", "blurfft-zero-filter", "blur-inf-filter"],
)
def test_a_physics_that_measures_nothing_or_holds_nan_is_refused(make, match):
    """The checks eglass' own Inpainting and Blur make at construction, on a wrapped physics."""
    with pytest.raises(ValueError, match=match):
        from_deepinv(make())


def test_a_mask_changed_after_wrapping_is_checked_at_its_next_use():
    """deepinv physics are mutable: a NaN mask set after wrapping (update_parameters, or an
    in-place edit) is refused at the next use, naming it; a finite new mask is used, by the
    float64 copy too."""
    mask = torch.ones(1, 8, 8).index_fill(1, torch.tensor([2]), 0.0)
    inpainting = physics.Inpainting((1, 8, 8), mask=mask)
    op, x = from_deepinv(inpainting), randn((1, 1, 8, 8)).float()
    op(x.double())  # makes the float64 copy
    inpainting.update_parameters(mask=mask.flip(1))
    assert torch.equal(op(x.double()).float(), inpainting.A(x))
    nan = r"Inpainting.mask contains 8 NaN/inf value\(s\) out of 64 .*expected finite"
    inpainting.update_parameters(mask=mask.index_fill(1, torch.tensor([5]), float("nan")))
    for use in (op, op.A_adjoint, op.A_dagger):
        with pytest.raises(ValueError, match=nan):
            use(x)
    inpainting.update_parameters(mask=mask)
    op(x)
    inpainting.mask[..., 3, :] = float("inf")  # in place
    with pytest.raises(ValueError, match=r"Inpainting.mask contains 8 NaN/inf"):
        op(x)


def test_a_noise_model_is_not_checked():
    """eglass does not apply the physics' noise model, so it does not judge it either."""
    noisy = physics.Denoising(noise_model=physics.GaussianNoise(sigma=float("inf")))
    x = randn((1, 1, 4, 4))
    assert torch.equal(from_deepinv(noisy)(x), x)


def test_deepinv_ops_re_exports_the_wrapper():
    assert deepinv_ops.from_deepinv is from_deepinv and deepinv_ops.as_operator is as_operator
    assert deepinv_ops.DeepInvOperator is DeepInvOperator
    assert deepinv_ops.is_deepinv_physics is is_deepinv_physics
    assert is_deepinv_physics(physics.Denoising()) and not is_deepinv_physics(Blur(BLUR_KERNEL))


def test_missing_deepinv_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "deepinv", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"\.\[deepinv\]"):
        from_deepinv(object())
    assert as_operator(SuperResolution(2)).factor == 2  # eglass alone still works


# ------------------------------------------------------------------ through eglass


@pytest.fixture(scope="module")
def G():
    return models.load_generator("mnist-dcgan")


def _sr4_physics():
    box = torch.ones(1, 1, 4, 4) / 16
    return physics.Downsampling((1, 32, 32), filter=box, factor=4, padding="valid")


def test_problem_metrics_and_error_accept_the_physics(G):
    z = torch.randn(1, 64, generator=torch.Generator().manual_seed(0))
    ours, theirs = SuperResolution(4), _sr4_physics()
    x = G(z).detach()
    problem = InverseProblem(G, theirs, ours(x))
    assert isinstance(problem.operator, DeepInvOperator)
    assert problem.error(x).item() == 0
    H_ours = geometry.measurement_metric(InverseProblem(G, ours), z)  # jvp through A o G
    H_theirs = geometry.measurement_metric(problem, z)
    assert rel(H_theirs, H_ours) < 1e-6
    blur = gaussian_kernel(5, 1.0).float()
    blur_fft = physics.BlurFFT((1, 32, 32), filter=blur[None, None])
    H_blur = geometry.measurement_metric(InverseProblem(G, blur_fft), z)
    assert rel(H_blur, geometry.measurement_metric(InverseProblem(G, Blur(blur)), z)) < 1e-4
    y = ours(x)
    assert torch.equal(measurement_error(theirs, x, y), measurement_error(ours, x, y))
    assert rel(back_project(theirs, x * 0, y), back_project(ours, x * 0, y)) < 1e-5


def test_held_out_sr4_inversion_gives_the_same_error_with_a_deepinv_operator(G):
    digits, _ = data.mnist("test")
    x_true = digits[7:8]
    ours, theirs = SuperResolution(4), _sr4_physics()
    y = ours(x_true)
    budget = dict(restarts=2, steps=60, finetune_steps=10, tol=None, seed=0, progress=False)
    a = invert(InverseProblem(G, ours, y), "iagan", **budget)
    b = invert(InverseProblem(G, theirs, y), "iagan", **budget)
    assert (a.errors - b.errors).abs().max().item() <= 1e-6
    assert (measurement_error(ours, a.x_bp, y) - measurement_error(ours, b.x_bp, y)).abs() <= 1e-6


def test_explore_pulse_and_the_explorer_take_the_physics(G):
    from eglass.baselines import pulse
    from eglass.explore import explore
    from eglass.widgets import Explorer

    z0 = torch.randn(1, 64, generator=torch.Generator().manual_seed(1))
    ours, theirs = SuperResolution(4), _sr4_physics()
    y = ours(G(z0).detach())
    mine, yours = InverseProblem(G, ours, y), InverseProblem(G, theirs, y)
    H_Y = geometry.measurement_metric(mine, z0)
    H_X = torch.eye(64)
    kw = dict(Ks=(4, 8), etas=(-1.0, 1.0), back_project=True)
    a, b = explore(mine, z0, H_Y, H_X, **kw), explore(yours, z0, H_Y, H_X, **kw)
    assert torch.allclose(a.errors, b.errors, rtol=1e-5, atol=1e-9)
    assert torch.allclose(a.errors_bp, b.errors_bp, rtol=1e-4, atol=1e-9)
    budget = dict(steps=5, seed=0, progress=False, warn=False)
    p, q = pulse(mine, 2, **budget), pulse(yours, 2, **budget)
    assert torch.allclose(p.errors, q.errors, rtol=1e-5, atol=1e-9)
    one, other = Explorer(mine, z0, H_Y, H_X), Explorer(yours, z0, H_Y, H_X)
    s, t = one.solution("eglass", 4, 1.0), other.solution("eglass", 4, 1.0)
    assert abs(s["error"] - t["error"]) <= 1e-6 * max(s["error"], 1e-9)
    assert torch.allclose(other.observed_image(), one.observed_image(), atol=1e-6)
