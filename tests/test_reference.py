"""The API reference (book/reference/, page files written by scripts/make_reference.py, content
expanded from the docstrings by book/_ext/eglass_reference.py): one page per public module,
every page file current, every page in the table of contents. (The strict book build checks
the docstrings' markup; the browser test checks the rendered pages.)"""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path

import yaml

import eglass

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "make_reference.py"


@functools.cache
def _script():
    spec = importlib.util.spec_from_file_location("make_reference", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def test_every_public_module_has_a_page():
    reference = _script().reference
    assert sorted([*reference.PAGES, *reference.NOT_PAGES]) == sorted(eglass._SUBMODULES)
    assert len(set(reference.PAGES)) == len(reference.PAGES)


def test_the_pages_are_current(capsys):
    assert _script().main(["--check"]) == 0, capsys.readouterr().out


def test_the_toc_lists_every_page_in_order():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    part = next(p for p in toc["parts"] if p["caption"] == "Reference")
    assert [c["file"] for c in part["chapters"]] == ["book/reference/index"]
    sections = [s["file"] for s in part["chapters"][0]["sections"]]
    assert sections == [f"book/reference/{short}" for short in _script().reference.PAGES]
