"""Modules import downwards: no import cycle between the project's modules.

Every import counts, wherever it is written: at module level, inside functions (a lazy import still ties the two
modules together: the cycle only moves from import time to run time), and under ``if TYPE_CHECKING:``. A
package's ``__init__`` counts as a module of its own; that importing a submodule first imports its parent package
is not counted (every package that re-exports its submodules would be a cycle). Imports by name through
``importlib`` (the CLI's lazy ``train`` command) are not seen.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["flashdepth_vfx"]


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``module`` imports, anywhere in its source."""
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                names.add(f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in modules else prefix)
    found = set()
    for name in names:
        while name and name not in modules:  # `import a.b.c` of a module a.b.c; a name inside a module: the module
            name = name.rpartition(".")[0]
        if name and name != module:
            found.add(name)
    return found


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each as one cycle through them."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(_cycle_through(sorted(component), graph))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return components


def _cycle_through(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """One import path from the component's first module back to itself, for the message."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & members):
            if w == start:
                return paths[v] + [start]
            if w not in paths:
                paths[w] = paths[v] + [w]
                queue.append(w)
    return component  # pragma: no cover - a strongly connected component always has a cycle


def test_finder_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .a import A\n")
    (pkg / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .sub.b import B\nA = 1\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..a import A\n    return A\n")
    (pkg / "c.py").write_text("import pkg.sub.b\nfrom pkg import sub\n")
    modules = {module_name(p, tmp_path): p for p in pkg.rglob("*.py")}
    graph = {m: imports_of(m, p, modules) for m, p in modules.items()}
    assert graph["pkg"] == {"pkg.a"}
    assert graph["pkg.a"] == {"pkg.sub.b"}
    assert graph["pkg.sub.b"] == {"pkg.a"}
    assert graph["pkg.c"] == {"pkg.sub.b", "pkg.sub"}
    assert import_cycles(graph) == [["pkg.a", "pkg.sub.b", "pkg.a"]]


def test_no_import_cycles_between_project_modules() -> None:
    modules = project_modules()
    assert "flashdepth_vfx.cli" in modules and "flashdepth_vfx.model.stream" in modules
    graph = {m: imports_of(m, p, modules) for m, p in modules.items()}
    cycles = import_cycles(graph)
    assert not cycles, "import cycles (move what both sides need into a module below them):\n" + "\n".join(
        " -> ".join(cycle) for cycle in cycles)


def test_command_modules_import_the_shared_helpers_not_the_cli() -> None:
    modules = project_modules()
    graph = {m: imports_of(m, p, modules) for m, p in modules.items()}
    for name in ("solve.command", "farm.command", "train.command", "hosts.command"):
        assert "flashdepth_vfx.cli" not in graph[f"flashdepth_vfx.{name}"]
    assert "flashdepth_vfx.commands" in graph["flashdepth_vfx.solve.command"]
    assert "flashdepth_vfx.model.flashdepth" not in graph["flashdepth_vfx.model.stream"]
