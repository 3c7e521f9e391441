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
# A number with its unit first, so that "4.2 s" is one token (alternatives match in order).
_UNIT = r"(?:%|×(?!\s*\d)|x\b(?!\s*\d)|s\b|ms\b|min\b|h\b|dB\b|[KMG]i?B\b)"
MEASURED = re.compile(
    rf"(?<![\w.])(?:\d+(?:\.\d+)?\s?{_UNIT}|\d+\.\d+(?:e[-+]?\d+)?|\d+e[-+]?\d+)"
)


def typed_numbers(markdown: str) -> list[str]:
    """The tokens of ``markdown`` that look like measured numbers, outside code and math."""
    for pattern in _SKIPPED:
        markdown = pattern.sub(" ", markdown)
    return [m.group(0).strip() for m in MEASURED.finditer(markdown)]


def test_the_pattern_finds_measurements_and_skips_settings():
    text = ("took 4.2 s (2.5x faster, 95 % feasible, 0.175 dB, 3e-4); 32×32 images, SR ×8, "
            "K = 2..11, `lr=0.4`, $\\tau = 10^{-2}$, {glue:text}`ch5_ratio:.1f`, 10 digits")
    assert typed_numbers(text) == ["4.2 s", "2.5x", "95 %", "0.175 dB", "3e-4"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_measured_number_is_typed_in_the_prose(path):
    cells = json.loads(path.read_text())["cells"]
    prose = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    typed = [t for t in typed_numbers(prose) if t not in ALLOWED.get(path.name, set())]
    assert not typed, (f"{path.name} types numbers that look measured (glue them from the "
                       f"cell or results file that computes them): {typed}")


_GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`([^`:]+)[^`]*`")  # {glue:text}`key:.2f`, {glue}`key`
_GLUE_CALL = re.compile(r"""\bglue\(\s*(f?)["']([^"']+)["']""")  # glue("key", ...), glue(f"..")


def glued_keys(code: str) -> list[re.Pattern]:
    """The keys a notebook's code glues, as patterns: a key built in a loop
    (``glue(f"top{t}_ratio", ...)``) matches any word where its fields stand."""
    return [re.compile("".join(r"\w+" if part.startswith("{") else re.escape(part)
                               for part in re.split(r"(\{[^}]*\})", key))
                       if is_f else re.escape(key))
            for is_f, key in _GLUE_CALL.findall(code)]


def test_the_glue_patterns_find_roles_and_calls():
    prose = "{glue:text}`ch_a:.2f` s, {glue}`ch_b`, {glue:figure}`ch_c`, {cite}`ch_d`"
    assert _GLUE_ROLE.findall(prose) == ["ch_a", "ch_b", "ch_c"]
    keys = glued_keys("glue('ch_a', 1.0)\nglue(\"ch_b\", x, display=False)\n"
                      "glue(f\"top{t}_{key}_lo\", v)")
    assert [k.pattern for k in keys[:2]] == ["ch_a", "ch_b"]
    assert keys[2].fullmatch("top24_ratio_lo") and not keys[2].fullmatch("top24_ratio_hi")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_glued_number_in_the_prose_is_glued_by_a_cell(path):
    cells = json.loads(path.read_text())["cells"]
    source = {kind: "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == kind)
              for kind in ("markdown", "code")}
    used = set(_GLUE_ROLE.findall(source["markdown"]))
    glued = glued_keys(source["code"])
    missing = sorted(k for k in used if not any(p.fullmatch(k) for p in glued))
    assert not missing, (f"{path.name} quotes glue keys that none of its code cells glues "
                         f"(a `glue(\"key\", ...)` call): {missing}")


# Numbers that docstrings quote from benchmarks/results/*.json: (file, the quote as a regex
# whose group is the number, results file, key path into its JSON, format the quote rounds
# with, and a key path to subtract for a difference such as a PSNR gain). A rerun that
# changes a number fails test_quoted_results_follow_the_results_files until the text follows.
_INV, _SOL, _OPS = "inversion.json", "solutions.json", "deepinv_ops.json"
_INVERT, _FAST = "eglass/inversion/invert.py", "eglass/inversion/fast.py"
_DEEPINV = "eglass/operators/deepinv.py"
_SR8, _BOX = ("problems", "SR x8", "summary"), ("problems", "inpainting (box)", "summary")
_SWEEP = ("sweeps", -1, "problems")
_DEFAULT_LR = "iagan steps=300 lr_g=0.0003 lr_z=0.0001"


def _gain(problem: str) -> dict:
    run = ("defaults", problem, "candidates")
    return dict(key=(*run, "iagan", "PSNR dB (mean)"), minus=(*run, "latent", "PSNR dB (mean)"))


QUOTES = [
    (_INVERT, r"gains ([\d.]+) \(SR x4\)", _INV, ".2f", _gain("SR x4")),
    (_INVERT, r"([\d.]+) \(SR x8\), ", _INV, ".2f", _gain("SR x8")),
    (_INVERT, r"([\d.]+) \(inpainting\)", _INV, ".2f", _gain("inpainting (box)")),
    (_INVERT, r"and ([\d.]+) dB \(CS\)", _INV, ".2f", _gain("CS (m=100)")),
    (_INVERT, r"\(([\d.]+) dB on SR x8\)", _INV, ".3f",
     dict(key=(*_SWEEP, "SR x8", f"{_DEFAULT_LR} tol=0.0001", "psnr_mean"),
          minus=(*_SWEEP, "SR x8", "latent", "psnr_mean"))),
    (_INVERT, r"took ([\d.]+) s instead", _INV, ".1f",
     dict(key=(*_SWEEP, "SR x4", f"{_DEFAULT_LR} tol=0.0001", "seconds"))),
    (_INVERT, r"instead\s+of ([\d.]+) s", _INV, ".1f",
     dict(key=(*_SWEEP, "SR x4", f"{_DEFAULT_LR} tol=0.0003", "seconds"))),
    (_FAST, r"measured ([\d.]+) s \(SR x8\)", _SOL, ".3f",
     dict(key=(*_SR8, "e-GLASS", "breakdown", "first_solution"))),
    (_FAST, r"and ([\d.]+) s \(inpainting\)", _SOL, ".2f",
     dict(key=(*_BOX, "e-GLASS", "breakdown", "first_solution"))),
    (_FAST, r"([\d.]+) s and [\d.]+ s for the full", _SOL, ".2f",
     dict(key=(*_SR8, "e-GLASS (IAGAN start)", "breakdown", "first_solution"))),
    (_FAST, r"([\d.]+) s for the full", _SOL, ".2f",
     dict(key=(*_BOX, "e-GLASS (IAGAN start)", "breakdown", "first_solution"))),
    (_DEEPINV, r"box SR is ([\d.]+)x", _OPS, ".1f", dict(key=("rows", 0, "deepinv_over_ours"))),
    (_DEEPINV, r"to ([\d.]+)x \(3 x 256", _OPS, ".0f", dict(key=("rows", 5, "deepinv_over_ours"))),
    (_DEEPINV, r"deepinv takes ([\d.]+)x our", _OPS, ".2f",
     dict(key=("rows", 4, "deepinv_over_ours"))),
    (_DEEPINV, r"takes ([\d.]+)x to [\d.]+x the time", _OPS, ".2f",
     dict(key=("rows", 2, "deepinv_over_ours"))),
    (_DEEPINV, r"to ([\d.]+)x the time", _OPS, ".2f", dict(key=("rows", 7, "deepinv_over_ours"))),
    (_DEEPINV, r"is ([\d.]+)x to [\d.]+x faster", _OPS, ".2f",
     dict(key=("rows", 3, "deepinv_over_ours"))),
    (_DEEPINV, r"to ([\d.]+)x faster than deepinv's conv", _OPS, ".2f",
     dict(key=("rows", 8, "deepinv_over_ours"))),
    (_DEEPINV, r"\(deepinv's\s+takes ([\d.]+)x our", _OPS, ".2f",
     dict(key=("rows", 1, "deepinv_over_ours"))),
]


def _at(results: dict, keys: tuple):
    for key in keys:
        results = results[key]
    return results


@pytest.mark.parametrize("path, pattern, results, fmt, value", QUOTES,
                         ids=[f"{q[0].rsplit('/', 1)[-1]}:{q[1][:24]}" for q in QUOTES])
def test_quoted_results_follow_the_results_files(path, pattern, results, fmt, value):
    text = " ".join((ROOT / path).read_text().split())  # docstring lines joined
    found = re.findall(pattern, text)
    assert len(found) == 1, f"{path}: expected one quote matching {pattern!r}, found {found}"
    data = json.loads((ROOT / "benchmarks" / "results" / results).read_text())
    number = _at(data, value["key"]) - (_at(data, value["minus"]) if "minus" in value else 0)
    assert found[0] == format(number, fmt), (
        f"{path} quotes {found[0]} ({pattern!r}) but benchmarks/results/{results} now says "
        f"{format(number, fmt)}: update the text")
