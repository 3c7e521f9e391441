"""One writer per store: :func:`store_lock` holds an exclusive lock on ``STORE.lock`` (beside
the store) for the whole of a run, so that a second run on the same store is refused at once
instead of doing the work twice and racing on the same files.

The lock is the operating system's (``fcntl.flock``): it goes away with the process that
held it, however that process ended (a killed run leaves no stale lock that blocks the next
one). The file records the holder's pid and host for the message, and is removed on release.
Where ``fcntl`` is missing (Windows) the file itself is the lock (created with
``O_CREAT | O_EXCL``); a run killed there leaves it, and the message says to delete it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["StoreLocked", "lock_path", "store_lock"]


class StoreLocked(ValueError):
    """Another run holds the store's lock."""


def lock_path(store: str | Path) -> Path:
    """The lock file of ``store``: ``STORE.lock`` beside it."""
    store = Path(store)
    return store.with_name(store.name + ".lock")


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text())
        return f"pid {info['pid']} on {info['host']}, since {info['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"


def _refuse(store: Path, path: Path) -> StoreLocked:
    hint = ("" if fcntl is not None else
            f"; if no other run is going (a killed run), delete {path}")
    return StoreLocked(f"{store} is being written by another eglass run ({_holder(path)}); "
                       f"two runs on one store are refused: wait for it to end, or choose "
                       f"another --out{hint}")


def _acquire(store: Path, path: Path) -> int:
    """The open, locked file descriptor of ``path``, or :class:`StoreLocked`."""
    if fcntl is None:  # pragma: no cover - Windows
        try:
            return os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            raise _refuse(store, path) from None
    while True:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise _refuse(store, path) from None
        try:  # the file we locked is still the one at `path` (not removed by a releaser)
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


@contextmanager
def store_lock(store: str | Path) -> Iterator[Path]:
    """Hold the lock of ``store`` while the block runs (:class:`StoreLocked` at once if
    another run holds it); the lock file is removed on the way out."""
    store = Path(store)
    path = lock_path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _acquire(store, path)
    try:
        info = dict(pid=os.getpid(), host=socket.gethostname(),
                    since=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(info).encode())
        yield path
    finally:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        os.close(fd)  # releases the flock
