"""What a reader sees, tested in a real browser: Playwright for Python driving the system's
Chromium (Debian's ``chromium``; Playwright's own browser download cannot work offline).

These tests need the built book (``_build/html``), so they live outside ``tests/`` and run
after the strict book build in ``make test``. When Playwright or Chromium is missing, the run
reports one test skipped with the reason (one line under ``pytest -rs``) and deselects the
rest, so ``make test`` goes on.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"

# Headless and quiet: no GPU, no QUIC, no first-run pages, no background calls home.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str | None:
    """The Chromium executable: ``$CHROMIUM`` if set, else ``chromium`` on the PATH."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return path if Path(path).is_file() and os.access(path, os.X_OK) else None


def _missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "browser tests skipped: Playwright missing (pip install -e '.[test]')"
    if chromium_path() is None:
        return ("browser tests skipped: no Chromium (apt-get install chromium, "
                "or set CHROMIUM=/path/to/chromium)")
    return None


def pytest_collection_modifyitems(config, items):
    """When the browser tests cannot run, keep one of them, skipped with the reason (one line
    under ``-rs``), and deselect the rest."""
    reason = _missing()
    if reason is not None and items:
        config.hook.pytest_deselected(items=items[1:])
        items[1:] = []
        items[0].add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session (a fresh temporary profile), closed at the end."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


@pytest.fixture(scope="session")
def book_server():
    """``_build/html`` served on a free localhost port by a thread; yields the base URL."""
    if not (HTML / "index.html").is_file():
        pytest.fail(f"no built book at {HTML}: run the book build first (make test does)")
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
