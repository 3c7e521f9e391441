"""Tests of eglass.walk: the null-space walk, its steering and its comparison with the
straight line, on the tiny generator (held-out digits: tests/test_explore.py)."""

from __future__ import annotations

import math

import pytest
import torch
from test_explore import tiny_setup

from eglass.directions import eglass_direction
from eglass.evaluate import measurement_error
from eglass.explore import explore
from eglass.problem import InverseProblem
from eglass.walk import WalkSettings, null_space_walk, walk_versus_line


@pytest.fixture
def tiny_problem(tiny_generator):
    return tiny_setup(tiny_generator)


def test_walk_stays_on_measurements_where_the_line_drifts(tiny_problem):
    G, A, y, z0, H_Y, H_X = tiny_problem
    problem = InverseProblem(G, A, y)
    dr = eglass_direction(H_Y, H_X, 2, threshold=0.1, top=4)
    path = null_space_walk(problem, z0, dr, length=2.0,
                           settings=WalkSettings(steps=20, top=4, corrections=2, refresh=1))
    assert path.z.shape == (21, 8) and torch.equal(path.z[0], z0[0])
    assert path.length[-1].item() == pytest.approx(2.0)
    with torch.no_grad():
        line = measurement_error(A, G(z0 + path.length[:, None] * dr.d), y)
    assert torch.allclose(path.errors, measurement_error(A, G(path.z).detach(), y))
    # the walk stays much closer to the measurements than the straight line
    assert path.errors[1:].max().item() < 0.1 * line[1:].max().item()
    # ... and still moves: the image changes
    with torch.no_grad():
        moved = (G(path.z[-1:]) - G(z0)).pow(2).mean().item()
    assert moved > 1e-3
    # Broyden updates between exact Jacobians every 4 steps keep it on the measurements
    cheap = null_space_walk(problem, z0, dr, length=2.0,
                            settings=WalkSettings(steps=20, top=4, refresh=4))
    assert cheap.errors.max().item() < 0.1 * line[1:].max().item()
    # with an error level to hold the walk is the straight line while the line stays below
    # it, and is held near it afterwards
    level = line[10].item()
    held = null_space_walk(problem, z0, dr, length=2.0, settings=WalkSettings(
        steps=20, top=4, refresh=1, hold=level, threshold=None))
    # (strictly below: at step 10 the walk's own error and the line's are the same number up to
    # rounding, so whether it already corrects there depends on the BLAS)
    below = int((line < level).sum())
    assert 0 < below < 11
    assert torch.allclose(held.z[:below], z0 + path.length[:below, None] * dr.d)
    assert held.errors.max().item() < 1.2 * level < line[-1].item()
    # keeping the tangent instead of re-projecting it (threshold None) also works
    kept = null_space_walk(problem, z0, dr, length=2.0,
                           settings=WalkSettings(steps=20, top=4, refresh=1, threshold=None))
    assert kept.errors.max().item() < 0.1 * line[1:].max().item()
    # without corrections it is the projected straight walk: error grows
    free = null_space_walk(problem, z0, dr, length=2.0,
                           settings=WalkSettings(steps=20, top=4, refresh=1, corrections=0))
    assert free.errors[-1].item() > path.errors[-1].item()
    assert math.isclose(free.correction.sum().item(), 0.0)


def test_walk_steered_by_a_distance_moves_farther(tiny_problem):
    from eglass.distances import PixelDistance

    G, A, y, z0, H_Y, H_X = tiny_problem
    problem = InverseProblem(G, A, y)
    dist = PixelDistance()
    with_dist = problem.with_distance(dist)
    dr = eglass_direction(H_Y, H_X, 2, threshold=0.1, top=4)
    kwargs = dict(steps=20, top=4, corrections=2, refresh=1)
    plain = null_space_walk(problem, z0, dr, 2.0, settings=WalkSettings(**kwargs))
    steered = null_space_walk(with_dist, z0, dr, 2.0, settings=WalkSettings(**kwargs))
    # the first step has no gradient to follow (the distance is minimal at z0); later steps
    # turn (whether that ends farther depends on the landscape: the held-out digit test
    # in test_explore.py checks it where it matters)
    assert torch.allclose(steered.z[1], plain.z[1])
    assert (steered.z[-1] - plain.z[-1]).norm() > 0.1
    # each step's tangent leans towards the distance's gradient more than the plain walk's
    x0 = G(z0).detach()
    grad = torch.func.grad(lambda v: dist(G(v.unsqueeze(0)), x0).sum())
    for k in range(2, 20, 4):
        cos = [torch.cosine_similarity(grad(w.z[k]), w.z[k + 1] - w.z[k], dim=0).item()
               for w in (steered, plain)]
        assert cos[0] > cos[1], f"step {k}: cos steered {cos[0]:.3f}, plain {cos[1]:.3f}"
    assert steered.errors.max().item() < 1e-6
    # ascent 0 turns the steering off
    off = null_space_walk(with_dist, z0, dr, 2.0, settings=WalkSettings(**kwargs, ascent=0.0))
    assert torch.equal(off.z, plain.z)
    with pytest.raises(ValueError, match="ascent must be a finite number >= 0"):
        null_space_walk(with_dist, z0, dr, 2.0, settings=WalkSettings(**kwargs, ascent=-1.0))
    with pytest.raises(TypeError, match=r"distance must be an eglass\.distances\.Distance"
                                        r".* or a callable"):
        null_space_walk(problem, z0, dr, 2.0, distance=3.0, settings=WalkSettings(**kwargs))


def test_walk_versus_line_compares_at_equal_distances(tiny_problem):
    from eglass.distances import PixelDistance

    G, A, y, z0, H_Y, H_X = tiny_problem
    dist = PixelDistance()
    problem = InverseProblem(G, A, y, dist)
    dr = eglass_direction(H_Y, H_X, 2, threshold=0.1, top=4)
    s = torch.linspace(0, 2.0, 21, dtype=torch.float64)
    with torch.no_grad():
        line = G(z0 + s[:, None] * dr.d)
        line_errors = measurement_error(A, line, y)
    tau = line_errors[10].item()  # the line leaves at its 11th point
    settings = WalkSettings(steps=20, top=4, refresh=1)  # holds 0.9 tau
    c = walk_versus_line(problem, z0, dr, tau=tau, length=2.0, settings=settings)
    assert c.exit == 11 and torch.allclose(c.line, line) and torch.allclose(c.line_errors,
                                                                           line_errors)
    with torch.no_grad():
        assert c.line_at_exit == pytest.approx(dist(line[11:12], G(z0)).item())
        assert torch.allclose(c.walk_change, dist(G(c.path.z), G(z0)))
    assert (c.path.errors <= tau).all() and c.walk_farthest == c.walk_change.max().item()
    never = walk_versus_line(problem, z0, dr, tau=1.0, length=2.0, settings=settings)
    assert never.exit is None and never.line_at_exit is None
    with pytest.raises(ValueError, match="tau must be positive"):
        walk_versus_line(problem, z0, dr, tau=0.0)


def test_explore_walk_reads_the_path(tiny_problem):
    G, A, y, z0, H_Y, H_X = tiny_problem
    problem = InverseProblem(G, A, y)
    out = explore(problem, z0, H_Y, H_X, method="walk", Ks=[2], etas=[-1.0, 0.5, 1.0],
                  top=4, threshold=0.1, walk=WalkSettings(steps=10, top=4))
    assert len(out.paths) == 2 and len(out) == 3
    forward = out.paths[0] if out.paths[0].length[-1] > 0 else out.paths[1]
    assert torch.equal(out.z[1], forward.z[5]) and torch.equal(out.z[2], forward.z[10])
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        null_space_walk(problem, z0, out.directions[0], 1.0, settings=WalkSettings(steps=0))
    with pytest.raises(ValueError, match="refresh must be a positive integer"):
        null_space_walk(problem, z0, out.directions[0], 1.0, settings=WalkSettings(refresh=0))
    with pytest.raises(ValueError, match=r"direction must have shape \(8,\)"):
        null_space_walk(problem, z0, torch.ones(5, dtype=torch.float64), 1.0)


def test_walk_and_directions_leave_the_thread_count_alone(tiny_problem, monkeypatch):
    """Library code never changes a process-wide setting: no torch.set_num_threads call in
    the walk's inner loop or the directions' eigen-decompositions."""
    from eglass.directions import directions

    G, A, y, z0, H_Y, H_X = tiny_problem
    problem = InverseProblem(G, A, y)
    calls = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    for method in ("eglass", "generalized", "eigenvector"):
        directions(H_Y, H_X, [2, 3], method, top=4, threshold=0.1)
    dr = eglass_direction(H_Y, H_X, 2, threshold=0.1, top=4)
    null_space_walk(problem, z0, dr, 1.0, settings=WalkSettings(steps=4, top=4, hold=1e-6))
    assert calls == []
