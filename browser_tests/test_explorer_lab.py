"""The explorers of chapter 5 (digits) and chapter 8 (faces) in a real JupyterLab: start
``jupyter lab`` on a free localhost port with a random token, open a copy of the chapter in
Chromium, run all its cells, move the explorer's K slider and its eta slider with the
keyboard, and check that the solution image and the printed measurement error change each time
and that no cell shows an error. The server is stopped at the end whatever happens; the
repository's notebooks are never touched.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Each chapter with an explorer, and how long running all its cells may take (seconds).
CHAPTERS = {"digits": (ROOT / "book" / "05_orthogonalization.ipynb", 300),
            "faces": (ROOT / "book" / "08_faces.ipynb", 600)}
SCREENSHOTS = ROOT / "_build" / "screenshots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(params=list(CHAPTERS))
def chapter(request) -> tuple[Path, int]:
    """``(notebook, seconds its cells may take)`` of each chapter with an explorer."""
    return CHAPTERS[request.param]


@pytest.fixture
def lab(tmp_path, chapter):
    """A JupyterLab server rooted at a temporary copy of the chapter, with its own runtime,
    config, data and settings directories; yields ``(base_url, token, log_path)``."""
    notebook = chapter[0]
    root = tmp_path / "root"
    (root / "book").mkdir(parents=True)
    shutil.copy(notebook, root / "book" / notebook.name)
    (root / "benchmarks").symlink_to(ROOT / "benchmarks")  # chapters read ../benchmarks
    token, port = secrets.token_hex(16), free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    for var, sub in (("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTER_CONFIG_DIR", "config"),
                     ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                     ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("IPYTHONDIR", "ipython")):
        env[var] = str(tmp_path / sub)
    log = tmp_path / "lab.log"
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
        "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    if os.geteuid() == 0:  # CI containers run as root; jupyter refuses that unless told
        command.append("--allow-root")
    with open(log, "w") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"jupyter lab exited with {server.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not answer in 60 s:\n{log.read_text()}")
                time.sleep(0.5)
        yield base, token, log
    finally:
        # The server, its kernels and their children share one process group.
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=15)


def explorer_state(page) -> dict:
    """What the explorer shows: its status line and the src of its solution figure.

    Text is read as ``textContent``, which does not depend on layout: JupyterLab skips the
    rendering of cells outside the viewport (``content-visibility``), and ``innerText`` of
    such a cell read as empty once, just after scrolling to it (CI, 2026-12)."""
    return page.evaluate("""() => {
        const status = document.querySelector(".eglass-explorer-status");
        const box = status && status.closest(".widget-vbox");
        const img = box && box.querySelector(".widget-output img");
        return {status: status ? status.textContent : null, image: img ? img.src : null};
    }""")


def wait_for_change(page, before: dict, what: str, timeout_ms: int = 45_000) -> dict:
    """Wait until both the status line and the solution image differ from ``before``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            """([status, image]) => {
                const s = document.querySelector(".eglass-explorer-status");
                const img = s && s.closest(".widget-vbox").querySelector(".widget-output img");
                return s && img && s.textContent !== status && img.src !== image;
            }""", arg=[before["status"], before["image"]], timeout=timeout_ms)
    except PlaywrightTimeout:
        now = explorer_state(page)
        pytest.fail(f"moving {what}: the explorer did not change in {timeout_ms / 1000:g} s "
                    f"(status {'unchanged' if now['status'] == before['status'] else 'changed'}"
                    f": {now['status']!r}; image "
                    f"{'unchanged' if now['image'] == before['image'] else 'changed'})")
    return explorer_state(page)


def measurement_error(status: str) -> float:
    match = re.search(r"measurement error ([-+.\deE]+)", status)
    assert match, f"no measurement error in the status line {status!r}"
    return float(match.group(1))


def status_number(status: str, name: str) -> float:
    """The number after ``name=`` in the status line (``eta=+1.75``, ``K=9``)."""
    match = re.search(rf"{name}=([-+.\d]+)", status)
    assert match, f"no {name}= in the status line {status!r}"
    return float(match.group(1))


def feasible_interval(status: str) -> tuple[float, float]:
    """The feasible interval of eta the status line reports."""
    match = re.search(r"feasible for eta in \[([-+.\d]+), ([-+.\d]+)\]", status)
    assert match, f"no feasible interval in the status line {status!r}"
    return float(match.group(1)), float(match.group(2))


def errors_shown(page) -> list[str]:
    """Error outputs and stderr tracebacks anywhere in the notebook."""
    return page.evaluate("""() => [...document.querySelectorAll(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"], '
        + '.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]')]
        .map(e => e.textContent).filter(t => /Error|Traceback/.test(t))
        .map(t => t.slice(0, 500))""")


def move_slider(page, label: str, key: str):
    """Focus the handle of the explorer slider labelled ``label`` and press ``key``."""
    name = page.locator(".widget-label", has_text=re.compile(f"^{re.escape(label)}$"))
    handle = page.locator(".widget-slider", has=name)
    handle = handle.locator(".noUi-handle").first
    handle.focus()
    page.keyboard.press(key)


def test_explorer_responds_to_K_and_eta(browser, lab, chapter):
    base, token, log = lab
    notebook, run_all_timeout_s = chapter
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    # Nothing outside this machine: JupyterLab's news and extension manager calls fail fast.
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base)
                  else r.abort())
    page = context.new_page()
    try:
        page.goto(f"{base}/lab/tree/book/{notebook.name}?token={token}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        page.wait_for_function("() => window.jupyterapp && jupyterapp.shell.currentWidget "
                               "&& jupyterapp.shell.currentWidget.sessionContext"
                               ".session?.kernel?.status === 'idle'", timeout=120_000)
        started = time.monotonic()
        page.evaluate("() => jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_selector(".eglass-explorer-status", timeout=run_all_timeout_s * 1000)
        page.wait_for_function(
            """() => jupyterapp.shell.currentWidget.sessionContext.session.kernel.status
                     === 'idle' && ![...document.querySelectorAll('.jp-InputPrompt')]
                     .some(p => p.textContent.includes('*'))""",
            timeout=run_all_timeout_s * 1000)
        ran_s = time.monotonic() - started
        page.locator(".eglass-explorer-status").scroll_into_view_if_needed()
        state = explorer_state(page)
        assert state["image"] and "measurement error" in state["status"], state
        assert errors_shown(page) == []

        move_slider(page, "K", "ArrowRight")
        after_K = wait_for_change(page, state, "the K slider")
        assert "K=9" in after_K["status"], after_K["status"]  # each chapter starts at K=8
        assert measurement_error(after_K["status"]) != measurement_error(state["status"])

        # the eta slider spans K=9's feasible interval (the value is clamped into it)
        low, high = feasible_interval(after_K["status"])
        eta_K = status_number(after_K["status"], "eta")
        assert low - 1e-9 <= eta_K <= high + 1e-9, after_K["status"]
        move_slider(page, "eta", "ArrowLeft")
        after_eta = wait_for_change(page, after_K, "the eta slider")
        assert status_number(after_eta["status"], "eta") == eta_K - 0.25, after_eta["status"]
        assert measurement_error(after_eta["status"]) != measurement_error(after_K["status"])
        assert "(feasible at" in after_eta["status"], after_eta["status"]  # inside the reach

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"lab_{notebook.stem[:2]}_explorer.png"))
        assert errors_shown(page) == []
        print(f"{notebook.stem} ran in JupyterLab in {ran_s:.0f} s; "
              f"{state['status']} -> {after_K['status']} -> {after_eta['status']}")
    finally:
        context.close()
