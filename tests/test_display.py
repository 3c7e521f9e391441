"""Results that read: Solutions, InversionResult, StartingPoint, MetricSpectra and Direction
print one short paragraph of facts (never a tensor's values) and show as an HTML table in a
notebook, both from one place (eglass.display)."""

from __future__ import annotations

import html
import re

import pytest
import torch

from eglass import display
from eglass.directions import eglass_direction
from eglass.distances import PixelDistance
from eglass.explore import StartingPoint, explore
from eglass.geometry import metric_spectra, metrics
from eglass.inversion import invert
from eglass.operators import SuperResolution
from eglass.problem import InverseProblem
from eglass.results import Solutions

MAX_REPR = 800  # characters: a few lines, where the dataclass repr printed 7-32 KB


def _problem(G):
    A = SuperResolution(2)
    z = torch.randn(1, G.latent_dim, generator=torch.Generator().manual_seed(3),
                    dtype=torch.float64)
    with torch.no_grad():
        y = A(G(z))
    return InverseProblem(G, A, y, PixelDistance()), z


def _check(obj, *facts):
    text = repr(obj)
    assert text == str(obj)
    assert len(text) < MAX_REPR, f"{type(obj).__name__} repr is {len(text)} characters"
    assert "tensor(" not in text and "[[" not in text, f"a tensor dump in: {text}"
    assert text.startswith(type(obj).__name__ + ":")
    flat = " ".join(text.split())  # the paragraph wraps at 100 characters
    for fact in facts:
        assert fact in flat, f"{fact!r} missing from: {text}"
    table = obj._repr_html_()
    assert table.startswith("<table") and table.rstrip().endswith("</table>")
    assert "tensor(" not in table
    for label, _ in obj.summary_rows():
        assert f">{html.escape(label)}</th>" in table
    return text


def test_solutions_summary():
    x = torch.zeros(40, 3, 64, 64)
    errors = torch.linspace(1e-4, 3e-2, 40)
    s = Solutions(z=torch.zeros(40, 512), x=x, errors=errors, method="eglass",
                  params=dict(Ks=(4, 6, 8), etas=(-3.0, 3.0), threshold=0.05, top=None,
                              seconds={"directions": 0.1}),
                  columns={"K": torch.tensor([4, 6, 8, 8] * 10), "eta": torch.linspace(-3, 3, 40)},
                  perceptual=torch.rand(40), seconds=1.25)
    text = _check(s, "solutions 40", "(40, 3, 64, 64)", "(40, 512)", "1.00e-04 to 3.00e-02",
                  f"feasible {int(s.feasible().sum())} of 40 at tau=0.01", "method eglass",
                  "Ks=(4, 6, 8)", "K {4, 6, 8}", "eta -3 to 3", "time 1.25 s")
    assert "top=" not in text and "seconds=" not in text  # None values and timings left out
    assert len(repr(Solutions(z=None, x=torch.zeros(0, 1, 4, 4), errors=torch.zeros(0),
                              method="none"))) < MAX_REPR


def test_inversion_result_and_starting_point_summaries(tiny_generator):
    problem, _ = _problem(tiny_generator)
    result = invert(problem, "latent", seed=0, restarts=2, steps=5, progress=False)
    _check(result, "method latent", "measurements 1, 2 random start(s)", "z (1, 8)",
           "x (1, 1, 12, 10)", "5 latent-fit", "back-projected yes", "SuperResolution")
    H_Y, H_X = metrics(problem, result.z)
    point = StartingPoint(problem=problem, z0=result.z, x0=result.x, H_Y=H_Y, H_X=H_X,
                          seconds={"metrics": 0.5})
    _check(point, "z0 (1, 8)", "x0 (1, 1, 12, 10)", "G(z0) error", "H_Y (8, 8)",
           "metrics 0.50 s")


def test_spectra_and_direction_summaries(tiny_generator):
    problem, z = _problem(tiny_generator)
    spectra = metric_spectra(problem, z, k=4)
    _check(spectra, f"method {spectra.method}", "eigenpairs top", "H_Y eigenvalues", "plan")
    H_Y, H_X = metrics(problem, z)
    direction = eglass_direction(H_Y, H_X, K=2, threshold=0.1, top=3)
    _check(direction, "method eglass", "K 2", "d (8,)", "d^T H_Y d", "threshold=0.1",
           "top=3", "pass(es)")
    solutions = explore(problem, z, H_Y, H_X, Ks=(2, 3), etas=(-0.5, 0.5), top=3)
    _check(solutions.directions[0], "K 2")
    _check(solutions, "solutions 4", "K {2, 3}")


def test_paragraph_wraps_and_cuts():
    long = "x" * 500
    text = display.paragraph("T", [("a", "1"), ("b", long)])
    assert all(len(line) <= display.WIDTH for line in text.splitlines())
    assert "..." in text and len(text) < 300
    assert re.search(r"&lt;b&gt;", display.table("T", [("<b>", "<b>")]))


@pytest.mark.parametrize("value, text", [
    (torch.zeros(3, 4), "tensor(3, 4)"), (torch.tensor(2.5), "2.5"), ((1, 2.0), "(1, 2)"),
    ({"a": 1e-5}, "{a: 1e-05}"), (None, "None"), ("iagan", "iagan"),
])
def test_brief(value, text):
    assert display.brief(value) == text
