"""Write the page files of the book's API reference, book/reference/*.md: one per public module
of eglass (``PAGES`` in book/_ext/eglass_reference.py) and an index.

A page only names what it shows: its module, then each module inside a package, each as one
``eglass-module`` directive that the book's extension (book/_ext/eglass_reference.py) expands
from the docstrings at build time. So the files change only when a module is added, removed
or renamed; then run

    python scripts/make_reference.py          # (re)write the pages
    python scripts/make_reference.py --check  # exit 1 if a page is missing or out of date

and add a new page to the "Reference" part of _toc.yml (tests/test_reference.py checks both).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "book" / "reference"
sys.path[:0] = [str(ROOT), str(ROOT / "book" / "_ext")]

import eglass_reference as reference  # noqa: E402  (the book's extension, beside the pages)

HEADER = ("<!-- Written by scripts/make_reference.py; the content comes from the docstrings at "
          "build time. -->\n")


def _directive(module: str, inner: bool = False) -> str:
    option = "\n   :inner:" if inner else ""
    return f"```{{eval-rst}}\n.. eglass-module:: {module}{option}\n```\n"


def page(short: str) -> str:
    """The text of one module's page."""
    module = f"{reference.PACKAGE}.{short}"
    text = f"{HEADER}\n# `{module}`\n\n{_directive(module)}"
    inner = reference.submodules(module)
    if inner:
        text += "\n## Its modules\n"
        text += "".join(f"\n### `{sub}`\n\n{_directive(sub, inner=True)}" for sub in inner)
    return text


def index() -> str:
    """The reference's first page."""
    return f"""{HEADER}
# Reference

Every public module of the `eglass` package, one page each, generated from the docstrings:
what the module is for, a table of its public names (its `__all__`), then each name with its
signature, arguments, return values and runnable examples; a package's page then shows each
module inside it. An object is described once; the other modules that export it link there.
Every module is also an attribute of the package (`import eglass; eglass.geometry`), imported
on first use. The version is `eglass.__version__` (`eglass --version` on the command line).

```{{eval-rst}}
.. eglass-modules::
```
"""


def pages() -> dict[Path, str]:
    """Every file of the reference and its text."""
    files = {OUT / "index.md": index()}
    files.update({OUT / f"{short}.md": page(short) for short in reference.PAGES})
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="report the pages that are missing or differ")
    args = parser.parse_args(argv)
    files = pages()
    stale = [path for path, text in files.items()
             if not path.is_file() or path.read_text() != text]
    extra = sorted(set(OUT.glob("*.md")) - set(files)) if OUT.is_dir() else []
    if args.check:
        for path in [*stale, *extra]:
            print(f"out of date: {path.relative_to(ROOT)} (run scripts/make_reference.py)")
        return 1 if stale or extra else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for path in stale:
        path.write_text(files[path])
    for path in extra:
        path.unlink()
    print(f"{len(files)} pages in {OUT.relative_to(ROOT)} ({len(stale)} written, "
          f"{len(extra)} removed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
