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


def _requirements() -> list[str]:
    project = PYPROJECT["project"]
    return [*project["dependencies"],
            *(r for extra in project["optional-dependencies"].values() for r in extra)]


def test_no_exact_patch_caps():
    """A resolver can live with the bounds: no requirement pins or caps an exact patch release
    (torch and torchvision were capped at 2.14.1 / 0.29.1; the machine that needs such a cap
    sets it with a pip constraints file)."""
    capped = [r for r in _requirements() if re.search(r"(<=|==|<)\s*\d+\.\d+\.\d+", r)]
    assert capped == [], f"exact-patch caps: {capped}"
    torch = next(r for r in PYPROJECT["project"]["dependencies"] if r.startswith("torch"))
    assert torch == "torch>=2.1"


def test_every_upper_bound_says_why():
    lines = (ROOT / "pyproject.toml").read_text().splitlines()
    capped = {r for r in _requirements() if "<" in r.split(";")[0]}
    for requirement in capped:
        places = [i for i, line in enumerate(lines) if f'"{requirement}"' in line]
        explained = [i for i in places
                     if "#" in lines[i] or lines[i - 1].strip().startswith("#")]
        assert explained, f"{requirement}: an upper bound needs a comment saying why"


def test_version_has_one_home():
    import eglass
    from eglass import version

    assert PYPROJECT["project"]["dynamic"] == ["version"]
    attr = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "eglass.version.__version__"
    assert eglass.__version__ is version.__version__


def test_package_data_covers_every_file_the_package_ships():
    """Every file under eglass/ that is not Python source goes into the wheel (the wheel test,
    scripts/test_wheel.sh, checks the built wheel itself)."""
    import fnmatch

    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["eglass"]
    package = ROOT / "eglass"
    data = [p.relative_to(package).as_posix() for p in package.rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]
    missing = [f for f in data if not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
    assert data and missing == [], f"files under eglass/ no package-data pattern covers: {missing}"


def test_readme_shows_both_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make book" in readme and "make test" in readme
