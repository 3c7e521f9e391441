"""Packaging stays consistent: environment.yml installs this package with the extras that
pyproject.toml defines (one source of truth for versions), and the README shows both commands."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pip_section() -> list[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(sections) == 1, "environment.yml needs exactly one pip section"
    assert "pip" in env["dependencies"], "environment.yml must install pip itself"
    return sections[0]


def test_environment_yml_installs_this_package_with_all_extras():
    pip = _pip_section()
    match = [re.fullmatch(r"-e \.\[([\w,]+)\]", line) for line in pip]
    installs = [m for m in match if m]
    assert len(installs) == 1, f"pip section must install '-e .[extras]', got {pip}"
    extras = set(installs[0].group(1).split(","))
    assert extras == set(PYPROJECT["project"]["optional-dependencies"])


def test_environment_yml_pins_nothing_that_pyproject_owns():
    pip = [line for line in _pip_section() if not line.startswith("-e ")]
    assert pip == [], f"versions live in pyproject.toml; environment.yml also lists {pip}"


def test_environment_python_satisfies_requires_python():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    version = tuple(int(v) for v in python.split("=")[-1].split("."))
    minimum = PYPROJECT["project"]["requires-python"].removeprefix(">=")
    assert version >= tuple(int(v) for v in minimum.split("."))


def test_torch_is_not_pinned_above_what_resolves_offline():
    torch_req = next(d for d in PYPROJECT["project"]["dependencies"] if d.startswith("torch>"))
    assert "<=2.14.1" in torch_req


def test_readme_shows_both_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make book" in readme and "make test" in readme
