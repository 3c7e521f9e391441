"""The Reference part of the book (book/reference/): generated from the package at build time.

One page per public module of eglass (PAGES, in reading order); each page holds one
``eglass-module`` directive per module it shows (the module, then each module inside a
package), and the index one ``eglass-modules`` directive. They expand, when Sphinx reads the
page, into what autodoc documents: the module's docstring, a table of every public name (its
``__all__``) with the first sentence of its documentation, then each name in full. The page
files only name modules (scripts/make_reference.py writes them), so a docstring or a new name
never leaves a page stale.

An object is documented in full once, where a reader looks for it (the page of the package or
module that defines it, or the top-level module that exports it); every other module that
exports it links there in its table. A module that a function of its package shadows
(``eglass.geometry.metrics``) is shown without a module target, so the name stays the
function's.

Cross-references: Sphinx resolves a Python reference by name only, while docstrings name an
object where it is defined (``:func:`plan_metrics``` inside ``eglass.geometry.plan``) or where
it is re-exported (``eglass.models.save_checkpoint``). A reference Sphinx did not resolve is
imported here (as written, then inside the current module and class, then inside the modules
of the current package) and, if the reference documents that object under another name, points
there. A reference to another installed package (``torch.Tensor``, ``pickle.Unpickler``; no
inventory of theirs is reachable offline) is shown as plain code, not as a link to nothing.
Anything else stays unresolved, and ``-n`` reports it.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import inspect
import pkgutil
import re
import sys
from dataclasses import dataclass

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import make_refnode

PACKAGE = "eglass"
# Reading order: the core a user meets first, the algorithms, the pipeline, the applications,
# the generator families, the helpers. Every module of eglass._SUBMODULES is a page except
# ``version`` (its one name, ``eglass.__version__``, is on the index page).
PAGES = (
    "problem", "operators", "deepinv_ops", "priors", "models", "data", "distances",
    "perceptual", "evaluate", "results", "geometry", "inversion", "directions", "walk",
    "reach", "methods", "settings", "explore", "baselines", "comparison", "tables", "figures",
    "widgets", "reconstructor", "batch", "cli", "networks", "checkpoints", "biggan", "pggan",
    "stylegan", "dcgan", "efficientnet", "training", "wheels", "memory", "utils", "display",
)
NOT_PAGES = ("version",)
SHORT_VALUE = 80  # a constant's value is shown when its repr is at most this long


@dataclass(frozen=True)
class Place:
    """One module that exports a name: a page (``depth`` 0) or a module inside a package page."""

    module: str
    page: str
    depth: int


def public_names(module) -> list[str]:
    """The module's ``__all__`` (empty for a module without one)."""
    return list(getattr(module, "__all__", ()))


def submodules(package_name: str) -> list[str]:
    """Every module inside a package, depth first (none for a plain module)."""
    package = importlib.import_module(package_name)
    if not hasattr(package, "__path__"):
        return []
    found = []
    for info in pkgutil.iter_modules(package.__path__, package_name + "."):
        if info.name.rsplit(".", 1)[1].startswith("_"):
            continue
        found.append(info.name)
        found += submodules(info.name)
    return found


def places() -> list[Place]:
    """Every module the reference shows, pages first."""
    found = [Place(f"eglass.{short}", f"eglass.{short}", 0) for short in PAGES]
    for short in PAGES:
        found += [Place(sub, f"eglass.{short}", sub.count(".") - 1)
                  for sub in submodules(f"eglass.{short}")]
    return found


def kind(obj) -> str:
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if inspect.isroutine(obj):
        return "function"
    return "data"


def assigns(module_name: str, name: str) -> bool:
    """Whether the module's own source assigns ``name`` at the top level."""
    module = importlib.import_module(module_name)
    for node in ast.parse(inspect.getsource(module)).body:
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign) else [])
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return True
    return False


def canonical(name: str, obj, exporters: list[Place]) -> Place:
    """Where ``obj`` (exported as ``name`` by ``exporters``) is documented in full: for a class
    or function, the shallowest exporter enclosing the module that defines it, unless that is
    inside a package page while a top-level page exports it (``eglass.data.mnist``); for a
    constant, the first exporter whose source assigns it."""
    if kind(obj) == "data":
        return next((p for p in exporters if assigns(p.module, name)), exporters[0])
    home = getattr(obj, "__module__", "") or ""
    enclosing = [p for p in exporters if home == p.module or home.startswith(p.module + ".")]
    top = [p for p in exporters if p.depth == 0]
    best = min(enclosing, key=lambda p: p.depth) if enclosing else None
    if best is None or (best.depth > 0 and top):
        best = top[0] if top else min(exporters, key=lambda p: p.depth)
    return best


@functools.cache
def documentation() -> dict[tuple[str, str], str]:
    """``(module, name) -> module`` where that exported name is documented in full."""
    exporters: dict[tuple[str, int], list[Place]] = {}
    objects: dict[tuple[str, int], object] = {}
    for place in places():
        module = importlib.import_module(place.module)
        for name in public_names(module):
            obj = getattr(module, name)
            key = (name, id(obj))
            exporters.setdefault(key, []).append(place)
            objects[key] = obj
    where = {}
    for key, found in exporters.items():
        home = canonical(key[0], objects[key], found).module
        for place in found:
            where[(place.module, key[0])] = home
    return where


def _plain(text: str) -> str:
    """Docstring text safe out of its context: roles with a relative target become literals,
    ``~`` shortening stays only on qualified eglass targets."""
    def fix(match):
        role, target = match.group(1), match.group(2)
        bare = target.split("<")[-1].rstrip(">").lstrip("~.")
        if role == "math" or bare.startswith("eglass."):
            return match.group(0)
        return f"``{bare}``"
    return re.sub(r":(?:py:)?(\w+):`([^`]+)`", fix, text)


def summary(obj, module_name: str, name: str) -> str:
    """The first sentence of the object's documentation, as one line (a sentence ends at a
    full stop before a capital or the end, outside double-backtick literals)."""
    text = (inspect.getdoc(obj) or "") if kind(obj) != "data" else comment(module_name, name)
    first = " ".join(text.strip().split("\n\n")[0].split())
    for match in re.finditer(r"\.(?=\s+[A-Z(`]|$)", first):
        if first[: match.end()].count("``") % 2 == 0:
            return _plain(first[: match.end()])
    return _plain(first)


def comment(module_name: str, name: str) -> str:
    """The ``#`` comment lines just above a constant's assignment (backticks made literal)."""
    lines = inspect.getsource(importlib.import_module(module_name)).splitlines()
    start = next((i for i, line in enumerate(lines)
                  if re.match(rf"{re.escape(name)}\s*(:[^=]*)?=", line)), None)
    if start is None:
        return ""
    text = []
    for line in reversed(lines[:start]):
        if not line.startswith("#"):
            break
        text.insert(0, line.lstrip("#:").strip())
    trailing = lines[start].partition("  # ")[2]
    return _as_rst(" ".join(text) or trailing)


def _as_rst(comment_text: str) -> str:
    """A source comment (plain text, `code` in single backticks) as reStructuredText: code in
    double backticks, and outside it the characters reStructuredText reads as markup
    (``*``, ``|``, ``\\``, a trailing ``_``) escaped."""
    parts = re.split(r"(?<!`)`([^`]+)`(?!`)", comment_text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"``{part}``")
        else:
            part = re.sub(r"([\\*|])", r"\\\1", part)
            out.append(re.sub(r"(\w)_(?=\W|$)", r"\1\\_", part))
    return "".join(out)


def full_entry(module_name: str, name: str, obj) -> list[str]:
    """reStructuredText documenting one name in full."""
    what, target = kind(obj), f"{module_name}.{name}"
    if what == "class":
        lines = [f".. autoclass:: {target}", "   :members:"]
        if getattr(obj, "_fields", None):  # a NamedTuple: its fields are in Attributes
            lines.append("   :exclude-members: " + ", ".join(obj._fields))
        return lines
    if what == "exception":
        return [f".. autoexception:: {target}", "   :members:"]
    if what == "function":
        return [f".. autofunction:: {target}"]
    lines = [f".. py:data:: {name}", f"   :module: {module_name}"]
    value = repr(obj)
    if len(value) <= SHORT_VALUE and " at 0x" not in value and "\n" not in value:
        lines.append(f"   :value: {value}")
    text = comment(module_name, name)
    return lines + ([""] + [f"   {text}"] if text else [])


def table(module_name: str, names: list[str], where: dict) -> list[str]:
    """A two-column table of the module's names, each linked to its documentation."""
    module = importlib.import_module(module_name)
    rows = [".. list-table::", "   :header-rows: 0", "   :widths: 30 70", ""]
    for name in names:
        obj, home = getattr(module, name), where[(module_name, name)]
        text = summary(obj, home, name) if home == module_name else f"from :mod:`{home}`"
        rows += [f"   * - :py:obj:`{name} <{home}.{name}>`", f"     - {text}"]
    return rows


def module_block(module_name: str, where: dict, heading: bool) -> list[str]:
    """The reStructuredText of one module: docstring, table of names, each name."""
    module = importlib.import_module(module_name)
    names = public_names(module)
    parent, _, last = module_name.rpartition(".")
    shadowed = getattr(importlib.import_module(parent), last, module) is not module
    rst = [f".. automodule:: {module_name}", *(["   :no-index:"] if shadowed else []), "",
           f".. currentmodule:: {module_name}", ""]
    if names:
        rst += [".. rubric:: Public names" if heading else ".. rubric:: Names", ""]
        rst += table(module_name, names, where) + [""]
    for name in names:
        if where[(module_name, name)] == module_name:
            rst += full_entry(module_name, name, getattr(module, name)) + [""]
    return rst


def index_table() -> list[str]:
    """The modules of the reference with the first sentence of each one's docstring."""
    rows = [".. list-table::", "   :header-rows: 0", "   :widths: 25 75", ""]
    for short in PAGES:
        doc = inspect.getdoc(importlib.import_module(f"{PACKAGE}.{short}")) or ""
        first = _plain(" ".join(doc.split("\n\n")[0].split()))
        rows += [f"   * - :py:mod:`{PACKAGE}.{short}`", f"     - {first}"]
    return rows


class _Generated(SphinxDirective):
    """A directive whose content is reStructuredText made from the package."""

    def lines(self) -> list[str]:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        lines = self.lines()
        source = f"<{self.name} {' '.join(self.arguments)}>"
        node = nodes.Element()
        self.state.nested_parse(StringList(lines, source=source), self.content_offset, node)
        return node.children


class EglassModule(_Generated):
    """``.. eglass-module:: eglass.x`` (``:inner:`` for a module inside a package's page)."""

    required_arguments = 1
    option_spec = {"inner": lambda argument: True}

    def lines(self) -> list[str]:
        module = importlib.import_module(self.arguments[0])
        if getattr(module, "__file__", None):
            self.env.note_dependency(module.__file__)
        return module_block(self.arguments[0], documentation(), "inner" not in self.options)


class EglassModules(_Generated):
    """``.. eglass-modules::``: the table of every page's module."""

    def lines(self) -> list[str]:
        return index_table()


def _lookup(path: str):
    """The object a dotted path names, read as Python reads it: attributes first (so that
    ``eglass.geometry.metrics`` is the function the package exports, not its module), else
    the longest importable module then attributes (``eglass.inversion.finetune.finetune``);
    ``None`` if there is nothing."""
    parts = path.split(".")
    for end in [1, *range(len(parts), 1, -1)]:
        try:
            obj = importlib.import_module(".".join(parts[:end]))
        except ImportError:
            continue
        try:
            for attribute in parts[end:]:
                obj = getattr(obj, attribute)
        except AttributeError:
            continue
        return obj
    return None


def _inside(module: str, target: str) -> list[str]:
    """``target`` in each module already imported under ``module`` (a docstring documented
    at package level names what its defining module holds)."""
    head = target.split(".", 1)[0]
    return [f"{name}.{target}" for name, mod in sorted(sys.modules.items())
            if name.startswith(module + ".") and hasattr(mod, head)]


def _documented(app, env) -> dict[int, list[str]]:
    """``id(object) -> documented full names`` of every eglass object the domain holds
    (built once per run and kept on the application, not in the pickled environment; the
    objects stay alive in their modules)."""
    cache = getattr(app, "_eglass_documented", None)
    if cache is None:
        cache = {}
        for name in env.get_domain("py").objects:
            if name.startswith(PACKAGE + "."):
                obj = _lookup(name)
                if obj is not None:
                    cache.setdefault(id(obj), []).append(name)
        app._eglass_documented = cache
    return cache


def _elsewhere(target: str) -> bool:
    """Whether ``target`` names something in another installed package."""
    head = target.split(".", 1)[0]
    if not head.isidentifier() or head == PACKAGE:
        return False
    try:
        return importlib.util.find_spec(head) is not None
    except (ImportError, ValueError):
        return False


def resolve(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "").lstrip("~.")
    module, klass = node.get("py:module"), node.get("py:class")
    candidates = [target]
    if module:
        candidates += [f"{module}.{klass}.{target}" if klass else None, f"{module}.{target}",
                       *_inside(module, target)]
    domain = env.get_domain("py")
    for candidate in filter(None, candidates):
        if not candidate.startswith(PACKAGE + "."):
            continue
        obj = _lookup(candidate)
        if obj is None:
            continue
        names = _documented(app, env).get(id(obj), [])
        last = candidate.rsplit(".", 1)[-1]
        if not (inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj)):
            # a constant: equal small values are one object, so only the same name counts
            names = [n for n in names if n.rsplit(".", 1)[-1] == last]
        names = sorted(names, key=lambda n: n.rsplit(".", 1)[-1] != last)  # same name first
        for name in names:
            entry = domain.objects[name]
            return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id,
                                contnode, name)
    if _elsewhere(target):  # shown as the code it is, without the look of a link
        plain = contnode.deepcopy()
        if isinstance(plain, nodes.Element):
            plain["classes"] = [c for c in plain["classes"] if c != "xref"]
        return plain
    return None


def setup(app):
    app.add_directive("eglass-module", EglassModule)
    app.add_directive("eglass-modules", EglassModules)
    app.connect("missing-reference", resolve)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
