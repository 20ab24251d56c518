"""The module-level import graph of the nbq package has no cycle.

Edges come from parsing every module with ``ast`` (nothing is imported): absolute
``nbq.*`` imports and relative imports that run at import time, i.e. anywhere except
inside a function or lambda body (class bodies, ``if``/``try`` blocks and
``if TYPE_CHECKING:`` blocks count).  ``from nbq.x import y`` is an edge to ``nbq.x.y``
when that is a module, else to ``nbq.x``; a package's ``__init__.py`` is the package
module.  Imports inside functions are left out: a cycle hidden that way is still a
design smell, but it cannot fail at import time.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

EXCLUDED: tuple[str, ...] = ()  # module prefixes left out of the graph (none)


def module_name(path: Path, root: Path) -> str:
    """Dotted name of a source file under ``root`` (``pkg/sub/__init__.py`` -> ``pkg.sub``)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _excluded(name: str, exclude: tuple[str, ...]) -> bool:
    return any(name == e or name.startswith(e + ".") for e in exclude)


def _import_time_nodes(tree: ast.Module):
    """Import statements that run when the module is imported (not inside a function or lambda)."""
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                todo.append(child)


def _resolve(name: str, modules: set[str]) -> str | None:
    """The longest prefix of ``name`` that is a known module (None if there is none)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def import_graph(package_dir: Path, exclude: tuple[str, ...] = ()) -> dict[str, set[str]]:
    """Module -> modules it imports at import time, for every module of the package at ``package_dir``."""
    root = package_dir.parent
    top = package_dir.name
    files = {module_name(p, root): p for p in sorted(package_dir.rglob("*.py"))}
    files = {name: p for name, p in files.items() if not _excluded(name, exclude)}
    modules = set(files)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _import_time_nodes(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name == top or a.name.startswith(top + ".")]
            else:
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                if source != top and not source.startswith(top + "."):
                    continue
                for alias in node.names:
                    sub = f"{source}.{alias.name}"
                    targets.append(sub if sub in modules else source)
            for target in targets:
                if _excluded(target, exclude):
                    continue
                resolved = _resolve(target, modules)
                if resolved is not None:
                    graph[name].add(resolved)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle ``[a, b, ..., a]`` per strongly connected component that has one (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[v] = min(low[v], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                if len(comp) > 1 or v in graph.get(v, ()):
                    components.append(comp)
    return [_cycle_in(graph, comp) for comp in sorted(components, key=min)]


def _cycle_in(graph: dict[str, set[str]], comp: set[str]) -> list[str]:
    """A shortest cycle through the smallest member of a strongly connected component (BFS inside it)."""
    start = min(comp)
    parent: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph.get(v, ())):
                if w not in comp:
                    continue
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if w not in parent:
                    parent[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"not a cyclic component: {sorted(comp)}")


def _format(cycles: list[list[str]]) -> str:
    return "\n".join("  " + " -> ".join(c) for c in cycles)


# ------------------------------------------------------------------ the nbq package


def test_nbq_has_no_import_cycle():
    graph = import_graph(ROOT / "nbq", exclude=EXCLUDED)
    # guard against a vacuous pass (wrong folder, parser change): known modules and edges are there
    assert "nbq.nn.models" in graph and "nbq.backends.rtl" in graph
    assert "nbq.nn.layers" in graph["nbq.nn.models"]
    assert not any(_excluded(m, EXCLUDED) for deps in graph.values() for m in deps)
    cycles = find_cycles(graph)
    if cycles:
        print("import cycles:\n" + _format(cycles))
    assert not cycles, "module-level import cycles in nbq:\n" + _format(cycles)


# ------------------------------------------------------------------ the checker itself can fail


def test_find_cycles_reports_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]


def test_find_cycles_reports_self_import_and_separate_cycles():
    graph = {"a": {"a"}, "b": {"c"}, "c": {"b"}, "d": {"b"}}
    assert find_cycles(graph) == [["a", "a"], ["b", "c", "b"]]


def test_find_cycles_accepts_a_dag():
    graph = {"a": {"b", "c"}, "b": {"c"}, "c": set(), "d": {"a", "c"}}
    assert find_cycles(graph) == []


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_import_graph_edges(tmp_path):
    _write(tmp_path, {
        "pkg/__init__.py": "from pkg.sub import helper\n",
        "pkg/top.py": "import os\nimport pkg.sub.leaf\n",
        "pkg/sub/__init__.py": "def helper():\n    from pkg import top\n",
        "pkg/sub/leaf.py": "from . import other\nfrom .. import top as _t\nfrom .other import X\n",
        "pkg/sub/other.py": "X = 1\nclass C:\n    from pkg.sub import leaf\n",
        "pkg/skip/__init__.py": "from pkg import top\n",
    })  # fmt: skip
    graph = import_graph(tmp_path / "pkg", exclude=("pkg.skip",))
    assert graph == {
        "pkg": {"pkg.sub"},  # helper is not a module: edge to the package
        "pkg.top": {"pkg.sub.leaf"},
        "pkg.sub": set(),  # the import inside helper() is not module-level
        "pkg.sub.leaf": {"pkg.sub.other", "pkg.top"},
        "pkg.sub.other": {"pkg.sub.leaf"},  # class bodies run at import time
    }
    assert find_cycles(graph) == [["pkg.sub.leaf", "pkg.sub.other", "pkg.sub.leaf"]]


def test_import_graph_finds_cycle_through_package_init(tmp_path):
    _write(tmp_path, {
        "pkg/__init__.py": "from pkg.impl import run\n",
        "pkg/impl.py": "from pkg import CONSTANT\n",
    })  # fmt: skip
    assert find_cycles(import_graph(tmp_path / "pkg")) == [["pkg", "pkg.impl", "pkg"]]
