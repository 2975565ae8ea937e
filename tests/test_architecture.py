"""The architecture, checked from the source: which layer may import which, and no import
cycles. Every ``import`` counts, at module level or inside a function or an
``if TYPE_CHECKING:`` block, so the rules hold for the code as written, not only as run."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import ROOT

_LIB = {"lib", "lib.limits", "lib.data", "lib.model", "lib.run", "lib.analysis", "lib.train"}

#: layer -> the layers its modules may import. A module belongs to the longest layer name
#: that is it or a dotted prefix of it (``lib.run.trace`` is in ``lib.run``), but ``lib`` is
#: lib/__init__.py alone: a new module directly under lib/ needs a row of its own.
LAYERS: dict[str, set[str]] = {
    "lib.limits": set(),  # a leaf: any layer may import it
    "lib.data": {"lib.data", "lib.limits"},
    "lib.model": {"lib.data", "lib.model", "lib.limits"},
    "lib.run": {"lib.data", "lib.model", "lib.run", "lib.limits"},
    "lib.analysis": {"lib.data", "lib.model", "lib.run", "lib.analysis", "lib.limits"},
    "lib.train": {"lib.data", "lib.model", "lib.run", "lib.train", "lib.limits"},
    "lib.__main__": _LIB,  # the CLI: anything in lib
    "lib": set(),  # lib/__init__.py
    "dashboard": _LIB | {"dashboard"},  # Streamlit glue: never a page
    "pages": _LIB | {"dashboard"},  # a page never imports another page
    "streamlit_app": _LIB | {"dashboard"},  # the router
}

#: layer, or dotted prefix of layers ("lib": all of lib) -> packages its modules must not import
FORBIDDEN_PACKAGES: dict[str, set[str]] = {"lib": {"streamlit"}}

#: what is parsed: packages (folders) and single files under the repository root
SOURCES = ("lib", "dashboard", "pages", "streamlit_app.py")


@dataclass(frozen=True)
class Import:
    source: str  # importing module, e.g. "lib.run.record"
    target: str  # imported module, resolved to one of ours where it is ours
    path: Path
    line: int

    def where(self) -> str:
        return f"{self.path}:{self.line}"


def find_modules(root: Path, sources=SOURCES) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of ``sources`` under ``root``; a
    package's ``__init__.py`` is the package module (``lib/run/__init__.py`` is ``lib.run``)."""
    files: list[Path] = []
    for source in sources:
        path = root / source
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    modules = {}
    for file in files:
        parts = list(file.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = file
    return modules


def _resolve(name: str, modules: dict[str, Path]) -> str:
    """``name`` as the longest of our modules it starts with (``lib.x.Thing`` -> ``lib.x``);
    a name that is none of ours is returned unchanged."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in modules:
            return candidate
    return name


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """Every import in the file, wherever it stands in the tree. ``from A import n`` imports
    the module ``A.n`` where that is one of ours (``from lib import limits``), else ``A``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [_resolve(alias.name, modules) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the package, one level up per extra dot
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join([*base, *([node.module] if node.module else [])])
            else:
                stem = node.module or ""
            targets = [
                f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in modules else stem
                for alias in node.names
            ]
            targets = [_resolve(t, modules) for t in targets]
        else:
            continue
        found += [Import(module, t, path, node.lineno) for t in dict.fromkeys(targets)]
    return found


def import_graph(root: Path, sources=SOURCES) -> tuple[dict[str, Path], list[Import]]:
    """Our modules and every import in them (of ours and of third-party packages)."""
    modules = find_modules(root, sources)
    edges = [imp for name, path in modules.items() for imp in imports_of(name, path, modules)]
    return modules, edges


#: layers that hold their own module only, not the modules under it
EXACT_LAYERS = {"lib"}


def layer_of(module: str, layers=LAYERS) -> str | None:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in layers and (prefix == module or prefix not in EXACT_LAYERS):
            return prefix
    return None


def _within(layer: str, area: str) -> bool:
    return layer == area or layer.startswith(area + ".")


def layer_violations(
    modules: dict[str, Path], edges: list[Import], layers=LAYERS, forbidden=FORBIDDEN_PACKAGES
) -> list[str]:
    """One line per import that breaks the layer table (or a module in no layer)."""
    problems = [
        f"{path}: module {name} belongs to no layer of the table"
        for name, path in modules.items()
        if layer_of(name, layers) is None
    ]
    for imp in edges:
        source = layer_of(imp.source, layers)
        if source is None:
            continue
        if imp.target in modules:
            target = layer_of(imp.target, layers)
            if target not in layers[source]:
                problems.append(
                    f"{imp.where()}: {imp.source} ({source}) imports {imp.target} "
                    f"({target}); {source} may import only {sorted(layers[source])}"
                )
        else:
            banned = {p for area, ps in forbidden.items() if _within(source, area) for p in ps}
            if imp.target.split(".")[0] in banned:
                problems.append(f"{imp.where()}: {imp.source} ({source}) imports {imp.target}")
    return problems


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of ``graph`` (iterative: no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def _cycle_through(start: str, graph: dict[str, set[str]], members: set[str]) -> list[str]:
    """A shortest import path from ``start`` back to itself inside one component."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & members):
            if child == start:
                return [*paths[node], start]
            if child not in paths:
                paths[child] = [*paths[node], child]
                queue.append(child)
    raise AssertionError(f"{start} is on no cycle")  # pragma: no cover


def import_cycles(modules: dict[str, Path], edges: list[Import]) -> list[str]:
    """One line per import cycle among our modules: ``a -> b -> a`` with the import lines."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    line = {}
    for imp in edges:
        if imp.target in modules:
            graph[imp.source].add(imp.target)
            line.setdefault((imp.source, imp.target), imp.where())
    cycles = []
    for component in strongly_connected(graph):
        if len(component) == 1 and component[0] not in graph[component[0]]:
            continue
        cycle = _cycle_through(component[0], graph, set(component))
        steps = ", ".join(line[a, b] for a, b in zip(cycle, cycle[1:], strict=False))
        cycles.append(f"{' -> '.join(cycle)} (component {component}; imports at {steps})")
    return cycles


# --- the repository ---------------------------------------------------------------------------


def test_every_layer_of_the_table_has_modules_and_every_module_a_layer():
    modules, edges = import_graph(ROOT)
    assert {"lib.limits", "lib.run.trace", "lib.__main__", "streamlit_app"} <= set(modules)
    assert len(edges) > len(modules)  # the files were parsed
    # no stale row: a layer renamed in the code must be renamed in the table
    assert {layer_of(name) for name in modules} == set(LAYERS)


def test_layers_import_only_what_the_table_allows():
    modules, edges = import_graph(ROOT)
    problems = layer_violations(modules, edges)
    assert not problems, "imports against the layer table:\n" + "\n".join(problems)


def test_no_import_cycles():
    modules, edges = import_graph(ROOT)
    cycles = import_cycles(modules, edges)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


# --- the checker can fail ---------------------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_checker_reports_a_planted_cycle_and_layer_violations(tmp_path):
    _write(
        tmp_path,
        {
            "lib/__init__.py": "",
            "lib/limits.py": "import numpy\n",
            "lib/data/__init__.py": "",
            "lib/data/corpora.py": "from lib import limits\n",
            # data -> run: against the layers, and only inside a function
            "lib/data/tokenizer.py": "def f():\n    from lib.run.record import record\n",
            "lib/model/__init__.py": "",
            "lib/model/spec.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import streamlit\n"
            ),
            "lib/run/__init__.py": "from . import record\n",
            # record -> trace -> cells -> record: a cycle, one step a relative import
            "lib/run/record.py": "from lib.run.trace import Trace\nfrom lib.data import corpora\n",
            "lib/run/trace.py": "from .cells import step\n",
            "lib/run/cells.py": "import lib.run.record\n",
            "dashboard/__init__.py": "",
            "dashboard/views.py": "from pages import train\n",
            "pages/train.py": "from dashboard import views\nfrom pages.generate import x\n",
            "pages/generate.py": "import lib.run.trace\n",
            "streamlit_app.py": "from dashboard import views\n",
        },
    )
    modules, edges = import_graph(tmp_path)
    targets = {(imp.source, imp.target) for imp in edges}
    assert {
        ("lib.data.corpora", "lib.limits"),  # from lib import limits
        ("lib.run", "lib.run.record"),  # a package's relative import of a submodule
        ("lib.run.trace", "lib.run.cells"),  # from .cells import step
        ("lib.run.record", "lib.run.trace"),  # from lib.run.trace import Trace
        ("lib.data.tokenizer", "lib.run.record"),  # inside a function
        ("lib.model.spec", "streamlit"),  # under TYPE_CHECKING
    } <= targets

    problems = layer_violations(modules, edges)
    assert len(problems) == 4, problems
    assert any(
        "lib.data.tokenizer (lib.data) imports lib.run.record (lib.run)" in p for p in problems
    )
    assert any("lib.model.spec (lib.model) imports streamlit" in p for p in problems)
    assert any("dashboard.views (dashboard) imports pages.train (pages)" in p for p in problems)
    assert any("pages.train (pages) imports pages.generate (pages)" in p for p in problems)
    assert any("tokenizer.py:2" in p for p in problems)

    cycles = import_cycles(modules, edges)
    assert len(cycles) == 2, cycles  # the planted one, and dashboard.views <-> pages.train
    assert any(
        c.startswith("lib.run.cells -> lib.run.record -> lib.run.trace -> lib.run.cells ")
        for c in cycles
    ), cycles
    assert any(c.startswith("dashboard.views -> pages.train -> dashboard.views ") for c in cycles)


def test_the_checker_passes_a_clean_tree_and_flags_a_module_in_no_layer(tmp_path):
    _write(
        tmp_path,
        {
            "lib/__init__.py": "",
            "lib/limits.py": "",
            "lib/data/__init__.py": "",
            "lib/data/corpora.py": "from lib import limits\nimport numpy as np\n",
            "lib/run/__init__.py": "",
            "lib/run/record.py": "from lib.data.corpora import x\n",
            "lib/train/fit.py": "from lib.run import record\nfrom ..data import corpora\n",
            "dashboard/__init__.py": "",
            "dashboard/views.py": "import streamlit as st\nfrom lib.train.fit import train\n",
            "pages/train.py": "from dashboard import views\n",
            "streamlit_app.py": "from dashboard import views\n",
        },
    )
    modules, edges = import_graph(tmp_path)
    assert ("lib.train.fit", "lib.data.corpora") in {(i.source, i.target) for i in edges}
    assert layer_violations(modules, edges) == []
    assert import_cycles(modules, edges) == []
    (tmp_path / "lib" / "extras.py").write_text("", encoding="utf-8")
    modules, edges = import_graph(tmp_path)
    assert layer_violations(modules, edges) == [
        f"{tmp_path / 'lib' / 'extras.py'}: module lib.extras belongs to no layer of the table"
    ]


def test_tarjan_finds_self_loops_and_nested_components():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": {"d"}, "e": {"a"}}
    assert sorted(strongly_connected(graph)) == [["a", "b", "c"], ["d"], ["e"]]
