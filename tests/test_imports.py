"""The structure of the package: imports run one way, and no public name hides a module.

The import graph is read from the source with ``ast`` (nothing is imported to build it):
every ``import`` and ``from ... import`` of a ``flowlab`` module, at module level or inside
a function, relative ones resolved.  An import inside a function is still a dependency: it
only moves the cycle from import time to call time, so it counts.
"""

import ast
import importlib
import importlib.util
import pkgutil
import types
from pathlib import Path


import flowlab

ROOT = Path(flowlab.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict:
    """Every module of the package: dotted name -> source path."""
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imported(node, name: str, is_package: bool, modules) -> set:
    """The flowlab modules one import statement of module ``name`` takes names from.

    ``from pkg import sub`` of a submodule depends on ``sub`` alone (the package is
    already being imported); ``from pkg import name`` of anything else on ``pkg``.
    """
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in modules}
    if node.level:                                  # relative: from the module's package
        package = name if is_package else name.rpartition(".")[0]
        base = package.split(".")
        if node.level > 1:
            base = base[:-(node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    subs = {f"{target}.{alias.name}" for alias in node.names} & set(modules)
    if len(subs) < len(node.names) and target in modules:
        subs.add(target)                            # a name defined by (or re-exported in) it
    return subs


def import_graph(modules=None) -> dict:
    """module -> the set of flowlab modules it imports (anywhere in its source)."""
    modules = _modules() if modules is None else modules
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges |= _imported(node, name, path.name == "__init__.py", modules)
        edges.discard(name)
        graph[name] = edges
    return graph


def find_cycles(graph: dict) -> list:
    """The import cycles of ``graph``: for every strongly connected component of more than
    one module (Tarjan), a shortest cycle through each of its modules, each cycle once."""
    index, low, stack, on_stack, comps = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    cycles, seen = [], set()
    for comp in comps:
        for start in sorted(comp):
            cycle = _shortest_cycle(graph, comp, start)
            key = frozenset(zip(cycle, cycle[1:]))
            if key not in seen:
                seen.add(key)
                cycles.append(cycle)
    return cycles


def _shortest_cycle(graph: dict, comp: set, start: str) -> list:
    """A shortest cycle from ``start`` back to it inside the component ``comp``."""
    paths, frontier = {start: [start]}, [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & comp):
                if w == start:
                    return paths[v] + [start]
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"{start} lies on no cycle of its component")


def test_graph_reader_sees_cycles():
    """The reader finds a cycle hidden by a function-level import (a test of the test)."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    src = ast.parse("def f():\n    from .solve import Recorder\n")
    node = src.body[0].body[0]
    mods = {"flowlab._flow.solve": None, "flowlab._flow.exact": None}
    assert _imported(node, "flowlab._flow.exact", False, mods) == {"flowlab._flow.solve"}


def test_graph_reaches_the_package():
    graph = import_graph()
    assert "flowlab._flow.solve" in graph["flowlab._flow"]
    assert "flowlab._kernels.radau" in set().union(*graph.values())


def test_no_import_cycle():
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles inside flowlab:\n" + "\n".join(
        " -> ".join(c) for c in cycles)


def _packages() -> list:
    """Every package of flowlab (those of the torch bridge only when PyTorch is installed)."""
    names = sorted(n for n, p in _modules().items() if p.name == "__init__.py")
    if importlib.util.find_spec("torch") is None:
        names = [n for n in names if not n.startswith("flowlab.torch")]
    return [importlib.import_module(n) for n in names]


def test_no_public_name_shadows_a_module():
    """``flowlab.torch._flow`` is the module, whatever ``flowlab.torch.flow`` names: no
    attribute of a package is a non-module object named like one of its submodules."""
    shadows = []
    for pkg in _packages():
        for info in pkgutil.iter_modules(pkg.__path__):
            value = getattr(pkg, info.name, None)
            if value is not None and not isinstance(value, types.ModuleType):
                shadows.append(f"{pkg.__name__}.{info.name} is the {type(value).__name__} "
                               f"{getattr(value, '__qualname__', value)!s:.60}, not the module")
    assert not shadows, "public names that hide a module:\n" + "\n".join(shadows)
