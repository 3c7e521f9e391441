"""Metrics that scale: blocked exact metrics equal the one-pass ones and stay under a memory
cap; the matrix-free top-k path agrees with ``eigh`` and feeds Algorithm 1."""

import numpy as np
import pytest
import torch

from eglass.directions import MetricPair, directions, eglass_direction
from eglass.distances import LPIPS, PixelDistance
from eglass.explore import explore
from eglass.geometry import (
    chunked_gram,
    eigh_desc,
    gram,
    jacobian,
    measurement_metric,
    metric_spectra,
    metrics,
    perceptual_metric,
    plan_metrics,
)
from eglass.memory import peak_memory
from eglass.models import pggan_config, random_pggan
from eglass.operators import SuperResolution
from eglass.problem import InverseProblem


@pytest.mark.parametrize("chunk", [1, 3, 7])
def test_chunked_gram_equals_full(chunk: int) -> None:
    g = torch.Generator().manual_seed(0)
    W1 = torch.randn(7, 20, generator=g, dtype=torch.float64)
    W2 = torch.randn(20, 50, generator=g, dtype=torch.float64)
    fn = lambda z: torch.tanh(z @ W1) @ W2  # noqa: E731
    z = torch.randn(1, 7, generator=g, dtype=torch.float64)
    H = chunked_gram(fn, z, chunk_size=chunk)
    H0 = gram(jacobian(fn, z))
    assert torch.allclose(H, H0, rtol=1e-5, atol=1e-10 * H0.abs().max())


def test_chunked_gram_rejects_bad_chunk() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        chunked_gram(lambda z: z, torch.zeros(1, 2), chunk_size=0)
    with pytest.raises(ValueError, match="chunk_size must be a positive integer, got True"):
        chunked_gram(lambda z: z, torch.zeros(1, 2), chunk_size=True)


def test_sizes_may_be_numpy_integers(tiny_generator) -> None:
    """chunk_size and max_memory come out of numpy arithmetic in sweeps: numpy integers
    count as integers (bools do not)."""
    problem = InverseProblem(tiny_generator, SuperResolution(2), distance=PixelDistance())
    z = torch.randn(1, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    H = measurement_metric(problem, z)
    assert torch.allclose(measurement_metric(problem, z, chunk_size=np.int64(3)), H)
    plan = plan_metrics(problem, z, max_memory=np.int64(10**9))
    assert plan.method == "dense" and type(plan.max_memory) is int
    H_Y, _ = metrics(problem, z, max_memory=np.int32(10**9))
    assert torch.allclose(H_Y, H)
    with pytest.raises(ValueError, match="max_memory"):
        plan_metrics(problem, z, max_memory=True)


# ----------------------------------------------------------------- metrics under a memory cap


def _colour_problem(resolution: int = 64, seed: int = 0) -> InverseProblem:
    """A reduced random-weight PGGAN (512-d latent, colour) with SR x4 and LPIPS on a random
    backbone: big enough that the one-pass Jacobians (512 tangent images) are large."""
    G = random_pggan(pggan_config(resolution, width_divisor=32), seed=seed)
    return InverseProblem(G, SuperResolution(4),
                          distance=LPIPS("squeeze", pnet_rand=True, resize=(32, 32)))


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


def test_blocked_metrics_equal_the_one_pass_metrics() -> None:
    problem = _colour_problem()
    z = torch.randn(1, 512, generator=torch.Generator().manual_seed(3))
    H_Y, H_X = metrics(problem, z)
    B_Y, B_X = metrics(problem, z, chunk_size=100)
    assert _relative(B_Y, H_Y) <= 1e-5 and _relative(B_X, H_X) <= 1e-5
    assert _relative(measurement_metric(problem, z, chunk_size=64), H_Y) <= 1e-5
    assert _relative(perceptual_metric(problem, z, chunk_size=300), H_X) <= 1e-5


def test_metrics_stay_under_the_memory_cap() -> None:
    problem = _colour_problem(128)
    z = torch.randn(1, 512, generator=torch.Generator().manual_seed(4))
    cap = 200 * 2**20
    plan = plan_metrics(problem, z, max_memory=cap)
    assert plan.method == "blocks" and 1 <= plan.chunk_size < 512
    one_pass = plan_metrics(problem, z, max_memory=2**40)
    assert one_pass.method == "dense" and one_pass.estimate > 2 * cap  # the cap matters here
    metrics(problem, z, chunk_size=4)  # warm up kernels and allocator outside the measurement
    with peak_memory() as capped:
        H_Y, H_X = metrics(problem, z, max_memory=cap)
    if capped.bytes is None:
        pytest.skip("peak memory cannot be measured on this platform (no /proc/self/status)")
    with peak_memory() as free:
        D_Y, D_X = metrics(problem, z)
    assert capped.bytes <= cap, (capped.bytes, plan)
    assert free.bytes > capped.bytes  # the one-pass form really needs more
    assert _relative(H_Y, D_Y) <= 1e-5 and _relative(H_X, D_X) <= 1e-5


def test_plan_refuses_a_cap_too_small_for_one_direction() -> None:
    problem = _colour_problem()
    with pytest.raises(MemoryError, match="need at least"):
        metrics(problem, torch.zeros(1, 512), max_memory=1000)
    with pytest.raises(ValueError, match="max_memory"):
        plan_metrics(problem, torch.zeros(1, 512), max_memory=-5)


def test_top_k_agrees_with_eigh_and_is_chosen_when_blocks_would_be_tiny() -> None:
    problem = _colour_problem()
    z = torch.randn(1, 512, generator=torch.Generator().manual_seed(5))
    exact = metric_spectra(problem, z, k=16, method="exact")
    assert exact.method == "dense" and exact.H_Y is not None
    lam_Y, _ = eigh_desc(exact.H_Y)
    assert torch.equal(exact.lam_Y, lam_Y[:16])
    plan = plan_metrics(problem, z, max_memory=2**40)
    small = plan.saved + 3 * plan.per_direction  # room for 3 directions: below MIN_BLOCK
    lanczos = metric_spectra(problem, z, k=16, max_memory=small, tol=0.0)
    assert lanczos.method == "top-k" and "Lanczos" in lanczos.plan.reason
    assert lanczos.H_Y is None and min(lanczos.products) > 16
    for approx, ref in ((lanczos.lam_Y, exact.lam_Y), (lanczos.lam_X, exact.lam_X)):
        assert ((approx - ref).abs() / ref).max() <= 1e-4
    # Algorithm 1 from the top-k eigenpairs equals Algorithm 1 from the exact metrics
    H_Y, H_X = lanczos.matrices()
    for K in (2, 6):
        d_topk = eglass_direction(H_Y, H_X, K, top=8).d
        d_exact = eglass_direction(exact.H_Y, exact.H_X, K, top=8).d
        assert (d_topk @ d_exact).abs() >= 1 - 1e-4
    with pytest.raises(ValueError, match="only the top 16"):
        lanczos.check_indices([20], top=8)


def test_explore_takes_the_top_k_spectra() -> None:
    problem = _colour_problem(32)
    z = torch.randn(1, 512, generator=torch.Generator().manual_seed(6))
    problem = InverseProblem(problem.generator, problem.operator, problem.operator(
        problem.generate(z)), problem.distance)
    spectra = metric_spectra(problem, z, k=12, method="top-k")
    solutions = explore(problem, z, spectra, Ks=(4, 8), etas=(-1.0, 1.0))
    assert solutions.x.shape == (4, 3, 32, 32) and torch.isfinite(solutions.errors).all()
    with pytest.raises(ValueError, match="only the top 12"):
        explore(problem, z, spectra, Ks=(13,))


def test_directions_from_spectra_equal_those_of_the_rank_k_matrices() -> None:
    """MetricPair.from_spectra never forms (d, d) matrices, yet gives Algorithm 1's and v^K's
    directions and quadratic forms of the rank-k metrics U diag(lam) U^T exactly; explore on
    the top-k path returns the same solutions as explore on those matrices, and the walk runs
    from it."""
    problem = _colour_problem(32)
    z = torch.randn(1, 512, generator=torch.Generator().manual_seed(6))
    problem = InverseProblem(problem.generator, problem.operator, problem.operator(
        problem.generate(z)), problem.distance)
    spectra = metric_spectra(problem, z, k=12, method="top-k")
    pair = MetricPair.from_spectra(spectra)
    H_Y, H_X = spectra.matrices()
    assert pair.HY is None and pair.dim == 512 and pair.U.shape == pair.V.shape == (512, 12)
    for kind in ("eglass", "eigenvector"):
        lean = directions(pair, None, [1, 4, 12], kind, top=12)
        dense = directions(H_Y, H_X, [1, 4, 12], kind, top=12)
        for a, b in zip(lean, dense, strict=True):
            assert (a.d @ b.d).abs().item() >= 1 - 1e-6, (kind, a.K)
            assert a.removed == b.removed
            assert a.quad_Y == pytest.approx(b.quad_Y, rel=1e-4, abs=1e-6 * pair.lam_Y[0].item())
            assert a.quad_X == pytest.approx(b.quad_X, rel=1e-4)
    with pytest.raises(ValueError, match="only the top 12 eigenpairs of H_X"):
        pair.eglass(13)
    with pytest.raises(ValueError, match="top 12 eigenpairs of H_Y"):
        pair.eglass(4, top=16)
    with pytest.raises(ValueError, match="generalized directions need the full metrics"):
        explore(problem, z, spectra, method="generalized", Ks=(4,), etas=(1.0,))
    lean = explore(problem, z, spectra, Ks=(4, 8), etas=(-1.0, 1.0))
    dense = explore(problem, z, H_Y, H_X, Ks=(4, 8), etas=(-1.0, 1.0))
    assert torch.allclose(lean.x, dense.x, atol=1e-4)
    assert torch.allclose(lean.errors, dense.errors, rtol=1e-3, atol=1e-8)
    walked = explore(problem, z, spectra, method="walk", Ks=(4,), etas=(-1.0, 1.0))
    assert len(walked.paths) == 2 and walked.errors.max().item() <= walked.tau
