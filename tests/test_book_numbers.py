"""The book's numbers come from the runs.

A number measured by a chapter (a time, an error, a ratio, a share) is computed in a code cell
and glued into the prose (``glue("key", value, display=False)`` from ``myst_nb``, quoted as
``{glue:text}`key:.2f```), or read from ``benchmarks/results/*.json`` by a cell and glued the
same way: it is never typed, so a rerun cannot leave the text behind. This test reads every
chapter's prose and fails on a typed number that looks measured: one with a decimal point or
an exponent, or followed by a unit (s, min, %, dB, a ratio's x, ...). Settings and constants
are written as code (```lr=0.4```) or mathematics (``$\\tau = 10^{-2}$``), which the test
skips; the few that are neither are listed in :data:`ALLOWED` with their reason.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))

# Prose that is not a measurement, per notebook: the exact token the pattern finds.
ALLOWED: dict[str, set[str]] = {}

_SKIPPED = [
    re.compile(r"```.*?```", re.S),  # fenced code
    re.compile(r"\$\$.*?\$\$", re.S),  # display mathematics
    re.compile(r"\$[^$]*\$"),  # inline mathematics
    re.compile(r"\{[\w:-]+\}`[^`]*`"),  # roles: {glue:text}`key:.2f`, {cite}`key`, ...
    re.compile(r"`[^`]*`"),  # code
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"<[^>]+>"),  # HTML tags
]
_UNIT = r"(?:%|×(?!\s*\d)|x\b(?!\s*\d)|s\b|ms\b|min\b|h\b|dB\b|[KMG]i?B\b)"
MEASURED = re.compile(
    rf"(?<![\w.])(?:\d+\.\d+(?:e[-+]?\d+)?|\d+e[-+]?\d+|\d+(?:\.\d+)?\s?{_UNIT})"
)


def typed_numbers(markdown: str) -> list[str]:
    """The tokens of ``markdown`` that look like measured numbers, outside code and math."""
    for pattern in _SKIPPED:
        markdown = pattern.sub(" ", markdown)
    return [m.group(0).strip() for m in MEASURED.finditer(markdown)]


def test_the_pattern_finds_measurements_and_skips_settings():
    text = ("took 4.2 s (2.5x faster, 95 % feasible, 0.175 dB, 3e-4); 32×32 images, SR ×8, "
            "K = 2..11, `lr=0.4`, $\\tau = 10^{-2}$, {glue:text}`ch5_ratio:.1f`, 10 digits")
    assert typed_numbers(text) == ["4.2 s", "2.5x", "95 %", "0.175", "3e-4"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_measured_number_is_typed_in_the_prose(path):
    cells = json.loads(path.read_text())["cells"]
    prose = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    typed = [t for t in typed_numbers(prose) if t not in ALLOWED.get(path.name, set())]
    assert not typed, (f"{path.name} types numbers that look measured (glue them from the "
                       f"cell or results file that computes them): {typed}")
