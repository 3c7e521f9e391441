"""The package's layers, read from the imports with ``ast``: every import of an eglass module
(at the top or inside a function) goes to its own layer or below, no two modules import each
other (directly or round a longer cycle), and no private name crosses a module boundary.

Layers, bottom to top (a name matches its longest prefix; ``eglass.priors`` alone is the
registry, its plugins sit above the networks they load)::

    0 utilities   utils, memory, version, display
    1 core-low    operators, deepinv_ops, evaluate, priors (the registry)
    2 core        problem, perceptual, results, distances, networks, checkpoints, biggan, pggan
    3 priors      priors.<plugin>, models, data, training
    4 algorithms  geometry, inversion, directions, walk, reach, baselines
    5 pipeline    settings, methods, explore
    6 apps        tables, comparison, figures, widgets, batch, cli, __main__, reconstructor
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "eglass"

LAYERS = {
    "eglass.utils": 0, "eglass.memory": 0, "eglass.version": 0, "eglass.display": 0,
    "eglass.operators": 1, "eglass.deepinv_ops": 1, "eglass.evaluate": 1,
    "eglass.problem": 2, "eglass.results": 2, "eglass.distances": 2, "eglass.networks": 2,
    "eglass.checkpoints": 2, "eglass.biggan": 2, "eglass.pggan": 2,
    "eglass.stylegan": 2, "eglass.dcgan": 2, "eglass.efficientnet": 2, "eglass.wheels": 2,
    "eglass.perceptual": 2,
    "eglass.priors": 3, "eglass.models": 3, "eglass.data": 3, "eglass.training": 3,
    "eglass.geometry": 4, "eglass.inversion": 4, "eglass.directions": 4, "eglass.walk": 4,
    "eglass.reach": 4, "eglass.baselines": 4,
    "eglass.methods": 5, "eglass.explore": 5, "eglass.settings": 5,
    "eglass.tables": 6, "eglass.comparison": 6, "eglass.figures": 6, "eglass.widgets": 6,
    "eglass.batch": 6, "eglass.cli": 6, "eglass.__main__": 6, "eglass.reconstructor": 6,
    "eglass": 7,  # the package itself only imports lazily, by name
}
REGISTRY = 1  # eglass.priors alone: the registry of priors, below the plugins


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts)


def layer_of(module: str) -> int:
    """The layer of a module name (``eglass.x.y``; ``eglass.x.__init__`` is ``eglass.x``)."""
    module = module.removesuffix(".__init__")
    if module == "eglass.priors":
        return REGISTRY
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in LAYERS:
            return LAYERS[prefix]
    raise KeyError(f"{module} has no layer: add it to LAYERS in tests/test_layers.py")


def resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` reads from."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports(path: Path) -> list[tuple[str, str, int]]:
    """``(imported module, imported name or "", line)`` for every eglass import in a file."""
    module = module_name(path)
    is_package = path.name == "__init__.py"
    if is_package:
        module = module.removesuffix(".__init__")
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, "", node.lineno) for a in node.names if a.name.startswith("eglass")]
        elif isinstance(node, ast.ImportFrom):
            source = resolve(module, is_package, node)
            if not source.startswith("eglass"):
                continue
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if (PACKAGE.parent / submodule.replace(".", "/")).with_suffix(".py").exists() or (
                        PACKAGE.parent / submodule.replace(".", "/") / "__init__.py").exists():
                    found.append((submodule, "", node.lineno))
                else:
                    found.append((source, alias.name, node.lineno))
    return found


FILES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_down(path):
    here = module_name(path)
    upward = [f"line {line}: {target} (layer {layer_of(target)})"
              for target, _, line in imports(path)
              if layer_of(target) > layer_of(here)]
    assert not upward, f"{here} (layer {layer_of(here)}) imports upwards: {upward}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_name_across_modules(path):
    here = module_name(path).removesuffix(".__init__")
    crossing = [f"line {line}: {name} from {target}" for target, name, line in imports(path)
                if name.startswith("_") and not name.startswith("__")
                and target.removesuffix(".__init__") != here]
    assert not crossing, f"{here} imports private names: {crossing}"


def test_no_import_cycle():
    graph: dict[str, set[str]] = {}
    for path in FILES:
        here = module_name(path).removesuffix(".__init__")
        graph[here] = {target.removesuffix(".__init__") for target, _, _ in imports(path)} - {here}
    # a package's __init__ re-exporting its own modules is not a cycle with them
    for node in graph:
        graph[node] = {t for t in graph[node] if not t.startswith(node + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_every_module_has_a_layer():
    for path in FILES:
        layer_of(module_name(path))


def test_the_layer_test_sees_an_upward_import(tmp_path):
    """The checks are not vacuous: an import of the pipeline from a core module is found."""
    tree = ast.parse("from .explore import explore\n")
    node = tree.body[0]
    assert resolve("eglass.problem", False, node) == "eglass.explore"
    assert layer_of("eglass.explore") > layer_of("eglass.problem")
