"""Every module and subpackage of eglass is an attribute of the package (``eglass.X``, imported
on first use) and listed in ``eglass.__all__``; ``import eglass`` itself imports none of them."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import eglass

PACKAGE = Path(eglass.__file__).parent
MODULES = sorted(m.name for m in pkgutil.iter_modules([str(PACKAGE)])
                 if not m.name.startswith("_"))


def test_the_walk_finds_the_package():
    assert {"problem", "operators", "geometry", "priors", "version"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_every_submodule_is_an_attribute(name):
    assert name in eglass._SUBMODULES, f"eglass/{name} is missing from eglass._SUBMODULES"
    assert name in eglass.__all__ and name in dir(eglass)
    module = getattr(eglass, name)
    assert module.__name__ == f"eglass.{name}"


def test_the_list_names_only_what_exists():
    assert sorted(eglass._SUBMODULES) == MODULES
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        eglass.nonsense  # noqa: B018


def test_import_eglass_stays_cheap():
    code = ("import sys, eglass; print(sorted(m for m in sys.modules "
            "if m.startswith('eglass.') and m != 'eglass.version'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=PACKAGE.parent)
    assert out.stdout.strip() == "[]"
