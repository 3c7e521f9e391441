"""Every page of the built book, opened in Chromium over a local HTTP server: it loads with no
console error and no failed or outside request, every image decodes, math is typeset by the
MathJax shipped in ``_static`` (no raw ``\\(...\\)`` left), no cell output is a traceback,
every internal link (citations, cross-references, navigation) points at an existing page and
anchor, and the sidebar and the "next" buttons reach every chapter. A screenshot of each page
goes to ``_build/screenshots/``. The pages of the API reference (``book/reference/``) show no
Sphinx markup left raw (``:math:``, ``:func:``, double backticks) and list every public name
of their module.
"""

from __future__ import annotations

import importlib
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"


def toc_pages() -> list[str]:
    """The book's pages in reading order, as paths under ``_build/html`` (``book/intro.html``)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())

    def walk(entries):
        for entry in entries:
            yield entry["file"]
            yield from walk(entry.get("sections", []))

    chapters = list(walk(toc.get("chapters", [])))
    for part in toc.get("parts", []):
        chapters += list(walk(part.get("chapters", [])))
    return [f"{page}.html" for page in [toc["root"], *chapters]]


PAGES = toc_pages()
# The API reference: one page per public module (book/reference/eglass-module.md) and an index.
REFERENCE = [page for page in PAGES if page.startswith("book/reference/")]
# Chapters that run code and draw: each must show at least one output image. A book built from
# notebooks that were never executed has none, and would otherwise pass every check here.
DRAWING = [page for page in PAGES if re.match(r"book/(\d\d_|appendix_)", page)]


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)


_ID_CACHE: dict[Path, set[str]] = {}


def anchors(path: Path) -> set[str]:
    """The ``id``/``name`` attributes of one built HTML file."""
    if path not in _ID_CACHE:
        parser = _Ids()
        parser.feed(path.read_text(encoding="utf-8"))
        _ID_CACHE[path] = parser.ids
    return _ID_CACHE[path]


def broken_links(hrefs: list[str], base: str) -> list[str]:
    """The internal links among ``hrefs`` (absolute URLs under ``base``) whose file or anchor
    does not exist in ``_build/html``."""
    broken = []
    for href in hrefs:
        if not href.startswith(base + "/"):
            continue
        url, fragment = urldefrag(href)
        path = HTML / unquote(urlparse(url).path).lstrip("/")
        if path.is_dir():
            path = path / "index.html"
        if not path.is_file():
            broken.append(f"{href} (no file {path.relative_to(HTML)})")
        elif fragment and path.suffix == ".html" and unquote(fragment) not in anchors(path):
            broken.append(f"{href} (no anchor #{fragment} in {path.relative_to(HTML)})")
    return broken


@pytest.fixture
def page(browser, book_server):
    """A fresh browser page that records console errors, page errors, failed requests and
    any request leaving localhost (aborted: the book must work offline)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    problems: list[str] = []

    def route(route):
        if route.request.url.startswith(book_server) or route.request.url.startswith("data:"):
            route.continue_()
        else:
            problems.append(f"request outside the book: {route.request.url}")
            route.abort()

    context.route("**/*", route)
    tab = context.new_page()
    tab.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    tab.on("requestfailed", lambda r: problems.append(f"failed request: {r.url}"))
    tab.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))
    tab.problems = problems
    try:
        yield tab
    finally:
        context.close()


# Runs in the page: waits for MathJax (when the page loads it) and for every image, then
# reports what the reader sees.
INSPECT = """async () => {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
        await MathJax.startup.promise;
    }
    const images = [...document.images];
    const undecoded = [];
    await Promise.all(images.map(img => img.decode().catch(() => undecoded.push(img.src))));
    const main = document.querySelector("main") || document.body;
    const prose = main.cloneNode(true);
    prose.querySelectorAll("pre, code, mjx-container, script, style, .cell_input")
        .forEach(e => e.remove());
    return {
        images: images.length,
        outputImages: main.querySelectorAll(".cell_output img").length,
        broken: [...new Set(images.filter(i => !(i.naturalWidth > 0)).map(i => i.src)
                            .concat(undecoded))],
        math: main.querySelectorAll(".math").length,
        untypeset: [...main.querySelectorAll(".math")].filter(
            e => !e.querySelector("mjx-container")).map(e => e.textContent.slice(0, 80)),
        typeset: main.querySelectorAll("mjx-container").length,
        rawMath: (prose.innerText.match(/\\\\\\(.{0,60}|\\\\\\[.{0,60}|\\$\\$.{0,60}/g) || []),
        tracebacks: [...main.querySelectorAll(".traceback, .output.error")].map(
            e => e.innerText.slice(0, 300)),
        unresolved: [...main.querySelectorAll(".xref, .citation-reference, .bibtex")].filter(
            e => !e.closest("a")).map(e => e.textContent),
        questionCites: (main.innerText.match(/\\[\\?\\]|\\(\\?\\?\\)/g) || []),
        links: [...document.querySelectorAll("a[href]")].map(a => a.href),
        sidebar: [...document.querySelectorAll(".bd-docs-nav a[href]")].map(a => a.href),
        next: (document.querySelector("a.right-next") || {}).href || null,
        mathjaxScripts: [...document.scripts].map(s => s.src).filter(
            s => /mathjax/i.test(s)),
    };
}"""


def inspect(page, url: str) -> dict:
    response = page.goto(url, wait_until="load")
    assert response is not None and response.ok, f"{url}: HTTP {response and response.status}"
    # let MathJax's web fonts finish loading: leaving the page earlier aborts those requests,
    # which the next navigation would report as failed requests
    page.evaluate("document.fonts.ready.then(() => true)")
    page.wait_for_load_state("networkidle")
    return page.evaluate(INSPECT)


@pytest.mark.parametrize("name", PAGES)
def test_page_reads_as_intended(page, book_server, name):
    url = f"{book_server}/{name}"
    seen = inspect(page, url)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{Path(name).stem}.png"), full_page=True)

    assert page.problems == [], f"{name}: {page.problems}"
    assert seen["broken"] == [], f"{name}: images that do not decode: {seen['broken']}"
    if name in DRAWING:
        assert seen["outputImages"] > 0, f"{name}: no figure in any cell output (not executed?)"
    assert seen["tracebacks"] == [], f"{name}: error output in the page: {seen['tracebacks']}"
    for script in seen["mathjaxScripts"]:
        assert script.startswith(f"{book_server}/_static/"), f"{name}: MathJax from {script}"
    if seen["math"]:
        assert seen["mathjaxScripts"], f"{name}: has math but loads no MathJax"
        assert seen["untypeset"] == [], f"{name}: math not typeset: {seen['untypeset'][:5]}"
        assert seen["typeset"] >= seen["math"], f"{name}: {seen['typeset']} of {seen['math']}"
    assert seen["rawMath"] == [], f"{name}: raw TeX in the text: {seen['rawMath'][:5]}"
    assert seen["unresolved"] == [], f"{name}: unresolved references: {seen['unresolved']}"
    assert seen["questionCites"] == [], f"{name}: unresolved citations {seen['questionCites']}"
    broken = broken_links(seen["links"], book_server)
    assert broken == [], f"{name}: links to nowhere: {broken}"


def test_navigation_reaches_every_chapter(page, book_server):
    """The landing page leads to the first chapter; from there the sidebar lists every page
    and the "next" buttons walk the whole book in table-of-contents order."""
    page.goto(f"{book_server}/index.html")
    page.wait_for_url(f"{book_server}/{PAGES[0]}", timeout=10_000)  # index.html redirects
    page.evaluate("document.fonts.ready.then(() => true)")  # as inspect() does: leaving
    page.wait_for_load_state("networkidle")  # before MathJax's fonts load aborts them
    seen = page.evaluate(INSPECT)
    sidebar = {urldefrag(href)[0].removeprefix(book_server + "/") for href in seen["sidebar"]}
    assert set(PAGES[1:]) <= sidebar, f"sidebar lacks {sorted(set(PAGES[1:]) - sidebar)}"
    visited = [PAGES[0]]
    while seen["next"] and len(visited) <= len(PAGES):
        seen = inspect(page, seen["next"])
        visited.append(urldefrag(page.url)[0].removeprefix(book_server + "/"))
    assert visited == PAGES, f"the 'next' buttons visit {visited}, the toc is {PAGES}"
    assert page.problems == [], page.problems


# Runs in a reference page: the text a reader sees outside code, the first column of its
# tables (the names), and the modules its index lists.
REFERENCE_INSPECT = """() => {
    const main = document.querySelector("main") || document.body;
    const prose = main.cloneNode(true);
    prose.querySelectorAll("pre, code, script, style, mjx-container, .math")
        .forEach(e => e.remove());
    return {
        text: prose.innerText,
        listed: [...main.querySelectorAll("table tr td:first-child")].map(
            td => td.innerText.trim()),
    };
}"""
RAW_ROLE = re.compile(r":(?:py:)?(?:math|func|class|meth|mod|attr|data|exc|obj|ref|doc|cite):`")


def reference_module(name: str) -> str | None:
    """The module a reference page documents (``book/reference/geometry.html`` ->
    ``eglass.geometry``), ``None`` for the index."""
    stem = Path(name).stem
    return None if stem == "index" else f"eglass.{stem}"


@pytest.mark.parametrize("name", REFERENCE)
def test_reference_page_renders_every_name(page, book_server, name):
    seen = inspect(page, f"{book_server}/{name}")
    shown = page.evaluate(REFERENCE_INSPECT)
    raw = RAW_ROLE.findall(shown["text"])
    assert raw == [], f"{name}: Sphinx roles left raw: {raw[:5]}"
    backticks = [line for line in shown["text"].splitlines() if "``" in line]
    assert backticks == [], f"{name}: double backticks left raw: {backticks[:3]}"
    assert "\\(" not in shown["text"], f"{name}: math left raw"
    broken = broken_links(seen["links"], book_server)
    assert broken == [], f"{name}: links to nowhere: {broken}"
    assert page.problems == [], f"{name}: {page.problems}"
    module = reference_module(name)
    if module is None:  # the index lists every module
        import eglass

        pages = {f"eglass.{m}" for m in eglass._SUBMODULES if m != "version"}
        assert pages <= set(shown["listed"]), f"index lacks {sorted(pages - set(shown['listed']))}"
        return
    names = set(importlib.import_module(module).__all__)
    missing = names - set(shown["listed"])
    assert not missing, f"{name}: public names not listed: {sorted(missing)}"
