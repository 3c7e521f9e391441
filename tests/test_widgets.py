"""Tests of eglass.widgets: the Explorer core, its static figure and the ipywidgets box,
and their bad input."""

from __future__ import annotations

import matplotlib
import pytest
import torch
from test_explore import tiny_metrics

from eglass.explore import explore
from eglass.problem import InverseProblem
from eglass.walk import WalkSettings, null_space_walk
from eglass.widgets import Explorer, explorer

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture
def inpainting_problem(tiny_generator):
    from eglass.operators import Inpainting

    G = tiny_generator
    mask = torch.zeros(12, 10, dtype=torch.float64)
    mask[4:6, 3:6] = 1.0  # observe 6 pixels: m < d, like the crop
    A = Inpainting(mask)
    z0 = torch.randn(1, 8, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    with torch.no_grad():
        y = A(G(z0))
    H_Y, H_X = tiny_metrics(G, A, z0)
    return InverseProblem(G, A, y), z0, H_Y, H_X


def test_explorer_figure_and_widget(inpainting_problem):
    from eglass.figures import correlation_figure, solutions_figure

    problem, z0, H_Y, H_X = inpainting_problem
    ex = Explorer(problem, z0, H_Y, H_X, top=4, threshold=0.1, eta_max=2.0, walk_steps=8)
    for method in ("eigenvector", "eglass", "generalized", "walk"):
        s = ex.solution(method, 2, 1.5)
        ref = explore(problem, z0, H_Y, H_X, method=method, Ks=[2], etas=[1.5], top=4,
                      threshold=0.1) if method != "walk" else None
        if ref is not None:
            assert torch.allclose(s["x"], ref.x) and s["error"] == pytest.approx(ref.errors.item())
    walked = null_space_walk(problem, z0, ex.direction("walk", 2), 2.0, settings=WalkSettings(
        steps=8, top=4, refresh=4, hold=0.9 * ex.tau))
    assert torch.allclose(ex.latent("walk", 2, 1.5), walked.z[6:7])
    fig = ex.figure("eglass", 2, -1.0)
    assert len([a for a in fig.axes if a.images]) == 5 and "eglass, K=2" in fig._suptitle.get_text()
    plt.close(fig)
    with pytest.raises(ValueError, match=r"\|eta\| must be <= eta_max=2.0"):
        ex.latent("eglass", 2, 3.0)

    dirs = [ex.direction("eglass", K) for K in (2, 3)]
    fig = correlation_figure(dirs, n=8)
    assert len(fig.axes) == 4
    plt.close(fig)
    runs = [explore(problem, z0, H_Y, H_X, method=m, Ks=[2], etas=[-1.0, 1.0], top=4,
                    threshold=0.1) for m in ("eigenvector", "eglass")]
    fig = solutions_figure(runs, ["v^K", "d"], reference=ex.x0)
    lo, hi = runs[1].error_range()
    assert any(f"[{lo:.1e}, {hi:.1e}]" in a.get_ylabel() for a in fig.axes)
    plt.close(fig)
    box = explorer(problem, z0, H_Y, H_X, Ks=[1, 2, 3], top=4, threshold=0.1, eta_max=2.0)
    method, K, eta = box.children[0].children
    assert K.options == (1, 2, 3) and eta.max == 2.0 and box.explorer.dim == 8
    status = box.children[1]
    assert "K=3" in status.value and "measurement error" in status.value
    K.value = 1  # redraws without a frontend
    assert "K=1" in status.value and "measurement error" in status.value
    plt.close("all")


# ----------------------------------------------------------------------------- bad input
# Before the reshape these failed late and unclearly: an empty Ks or methods with an
# IndexError while building the sliders, a negative tau or a zero eta_step not at all.


def test_explorer_rejects_empty_Ks_and_methods(inpainting_problem):
    problem, z0, H_Y, H_X = inpainting_problem
    with pytest.raises(ValueError, match="Ks must hold at least one index K"):
        explorer(problem, z0, H_Y, H_X, Ks=[], top=4)
    with pytest.raises(ValueError, match="methods must be a non-empty list drawn from"):
        explorer(problem, z0, H_Y, H_X, methods=[], top=4)
    plt.close("all")


def test_explorer_rejects_a_bad_tau_and_eta_step(inpainting_problem):
    problem, z0, H_Y, H_X = inpainting_problem
    with pytest.raises(ValueError, match=r"tau must be a finite number > 0, got -1"):
        Explorer(problem, z0, H_Y, H_X, tau=-1)
    with pytest.raises(ValueError, match=r"eta_step must be in \(0, eta_max=4.0\], got 0"):
        explorer(problem, z0, H_Y, H_X, eta_step=0, top=4)
    plt.close("all")
