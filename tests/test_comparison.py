"""Tests for eglass.comparison: timed runs to n feasible solutions (PULSE, Langevin,
e-GLASS) and their tables."""

from __future__ import annotations

import pytest
import torch
from test_baselines import on_sphere_measurements, pool

from eglass.comparison import run_eglass, run_langevin, run_pulse
from eglass.evaluate import measurement_error
from eglass.problem import InverseProblem
from eglass.tables import benchmark_table, solutions_table


def test_run_pulse_counts_time_to_k_and_respects_the_cap(tiny_generator):
    problem = InverseProblem(tiny_generator, pool, on_sphere_measurements(tiny_generator))
    run = run_pulse(problem, n=6, tau=1e-2, batch=4, max_candidates=40)
    ready_at = run.columns["ready_at"]
    assert run.x.shape[0] in (8, 12)  # stops after the batch that reached 6 feasible
    assert int(run.feasible(1e-2).sum()) >= 6
    assert (ready_at.diff() >= 0).all()
    k6 = run.feasible(1e-2).nonzero().flatten()[5]  # index of the 6th feasible candidate
    assert run.time_to(6, 1e-2) == pytest.approx(float(ready_at[k6]))
    assert run.time_to(10_000, 1e-2) is None
    assert run.params["eps"] == 2e-3 and run.params["steps"] == 100
    # batches draw from one generator: no two restarts share a start, so no identical images
    gaps = torch.cdist(run.x.flatten(1), run.x.flatten(1)) + torch.eye(run.x.shape[0]) * 1e9
    assert gaps.min() > 0
    # an unreachable threshold: the cap stops the run and the failures are reported
    capped = run_pulse(problem, n=5, tau=1e-12, batch=3, max_candidates=7, steps=10)
    assert capped.x.shape[0] == 7 and capped.time_to(1, 1e-12) is None
    assert capped.params["failures"] == 7 and capped.params["eps"] == 1e-12
    table = solutions_table({"PULSE": run, "capped": capped}, counts=(6,), taus=(1e-2, 1e-12))
    lines = table.splitlines()
    assert len(lines) == 3 and "t6@0.01 [s]" in lines[0]
    assert "1.0x" in lines[1] and f"{run.time_to(6, 1e-2):.2f}" in lines[1]
    assert "not reached" in lines[2]
    best = capped.best(3)
    assert best.errors.tolist() == sorted(capped.errors.tolist())[:3] and best.x.shape[0] == 3


def test_run_langevin_continues_its_chains(tiny_generator):
    problem = InverseProblem(tiny_generator, pool, on_sphere_measurements(tiny_generator))
    kw = dict(sigma=0.05, step_size=1e-4, chains=2, burn_in=10, thin=2, per_round=4)
    run = run_langevin(problem, n=10**6, tau=1e-2, max_candidates=12, **kw)
    assert run.x.shape[0] == 12 and run.columns["ready_at"].unique().numel() == 3
    with pytest.raises(ValueError, match="multiple of chains"):
        run_langevin(problem, n=1, tau=1e-2, **{**kw, "per_round": 3})


def test_run_eglass_setup_counts_in_every_time(tiny_generator):
    from eglass.distances import PixelDistance

    y = on_sphere_measurements(tiny_generator)
    problem = InverseProblem(tiny_generator, pool, y, PixelDistance())
    run = run_eglass(problem, n=5, tau=1e-2, Ks=[2, 3, 4], etas=[-0.3, 0.3], ks_per_round=1,
                     inversion=dict(method="iagan", restarts=2, steps=100, finetune_steps=20),
                     explore=dict(top=3))
    assert run.setup_seconds > 0
    assert (run.columns["ready_at"] >= run.setup_seconds).all()
    assert run.x.shape[0] in (2, 4, 6)
    torch.testing.assert_close(run.errors, measurement_error(pool, run.x, y))
    assert run.params["inversion_error"] < 1e-2
    assert run.params["sources"]["top"] == "user" and run.params["sources"]["Ks"] == "user"
    assert run.params["sources"]["threshold"] == "method"
    with pytest.raises(ValueError, match=r"the fast start takes .*got 'restarts'.*method='iagan'"):
        run_eglass(problem, n=5, inversion=dict(restarts=2))


def test_benchmark_table_marks_partial_and_missing_times():
    def method(t10, reached, ratio):
        return {"time_to": {"10@0.01": t10}, "reached": {"10@0.01": reached},
                "ratio_vs_eglass": {"10@0.01": ratio}, "feasible_fraction": {"0.01": 0.5},
                "mean_distance@10": 0.25, "classes@10": 3, "confidence@10": 0.9}

    summary = {"e-GLASS": method(2.0, 10, 1.0), "PULSE": method(50.0, 7, 25.0),
               "Langevin": method(None, 0, None)}
    lines = benchmark_table(summary, 10).splitlines()
    assert "2.00" in lines[1] and "50.00 (7/10)" in lines[2] and "not reached" in lines[3]
    assert "10@0.01: 25.0x" in lines[4] and "10@0.01: -" in lines[5]


def test_run_eglass_spread_start_takes_the_starts_in_turn():
    """starts=3 on a held-out digit (SR x8): three first solutions, each with its metrics,
    and the first candidates of every round come from each start in turn."""
    from eglass import models
    from eglass.data import mnist
    from eglass.distances import default_distance
    from eglass.operators import SuperResolution

    G = models.load_generator("mnist-dcgan")
    A = SuperResolution(8)
    problem = InverseProblem(G, A, A(mnist("test")[0][7 * 50 : 7 * 50 + 1]),
                             default_distance())
    run = run_eglass(problem, n=10, tau=1e-2, starts=3, Ks=range(2, 6), ks_per_round=2)
    points = run.context["points"]
    assert run.params["starts"] == 3 and 2 <= len(points) <= 3
    assert all(p.problem.error(p.x0).item() <= 1e-2 for p in points)  # infeasible: dropped
    start = run.columns["start"]
    assert start[: len(points)].tolist() == list(range(len(points)))  # in turn
    first_round = len(points) * 2 * 6  # 2 directions x 6 steps per start
    for j, p in enumerate(points):  # each candidate is G(z0 + eta d) of its own start
        mine = (start[:first_round] == j).nonzero().flatten()[:3]
        z = run.z[mine]
        assert torch.allclose((z - p.z0).norm(dim=1), run.eta[mine].abs(), atol=1e-4)
    zs = torch.cat([p.z0 for p in points])
    assert torch.cdist(zs, zs).add(torch.eye(len(points)) * 1e9).min() > 1  # distinct starts
    parts = run.params["seconds"]
    assert parts["metrics"] >= sum(p.seconds["metrics"] for p in points) - 1e-9
    with pytest.raises(ValueError, match="fast start"):
        run_eglass(problem, n=1, starts=2, inversion=dict(method="iagan"))
