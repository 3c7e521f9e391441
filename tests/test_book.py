"""The book's structure: every chapter notebook is in the table of contents and vice versa,
committed without outputs, with kernel python3, and citing only keys that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    stack = list(toc.get("chapters", [])) + [
        c for part in toc.get("parts", []) for c in part.get("chapters", [])
    ]
    while stack:
        entry = stack.pop()
        files.append(entry["file"])
        stack.extend(entry.get("sections", []))
    return files


NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))


def test_toc_lists_every_notebook_and_only_existing_files():
    listed = _toc_files()
    assert len(listed) == len(set(listed)), f"duplicate entries in _toc.yml: {listed}"
    notebooks = {str(p.relative_to(ROOT).with_suffix("")) for p in NOTEBOOKS}
    missing = notebooks - set(listed)
    assert not missing, f"notebooks not in _toc.yml: {sorted(missing)}"
    for entry in listed:
        candidates = [ROOT / f"{entry}{ext}" for ext in (".ipynb", ".md")]
        assert any(c.exists() for c in candidates), f"_toc.yml lists {entry}, no such file"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_committed_clean_with_python3_kernel(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{path.name} cell {i} has outputs"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} was executed"


def test_citations_resolve_to_references_bib():
    keys = set(re.findall(r"@\w+\{([^,\s]+),", (BOOK / "references.bib").read_text()))
    required = {
        "montanaro2022eglass", "menon2020pulse", "abuhussein2020iagan",
        "wang2021geometric", "zhang2018lpips", "brock2019biggan", "karras2018pggan",
    }
    assert required <= keys
    for path in NOTEBOOKS:
        for cited in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", path.read_text()):
            for key in cited.split(","):
                assert key.strip() in keys, f"{path.name} cites unknown key {key.strip()!r}"
