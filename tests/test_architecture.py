"""The layout's rules, checked on the source: the README's Architecture section says why.

- the core (``portal``) imports no integration, except the composition root (settings,
  root urls, the demo runner), which may name everything;
- no import cycles between modules, counting imports inside functions too;
- the sandbox is a development tool: nothing shipped imports it but the demo runner;
- every integration folder has the same shape.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ["portal", "integrations"]
COMPOSITION_ROOT = {"portal.settings", "portal.urls"}
COMPOSITION_PACKAGES = ("portal.demo",)
INTEGRATION_SHAPE = [
    "README.md",
    "__init__.py",
    "admin.py",
    "apps.py",
    "models.py",
    "tasks.py",
    "urls.py",
    "views.py",
    "migrations",
    "templates",
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in SHIPPED:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[module_name(path)] = path
    return found


MODULES = modules()


def imported(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports, anywhere in it (functions included)."""
    found = set()
    package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                full = f"{source}.{alias.name}"
                found.add(full if full in MODULES else source)
    return found


IMPORTS = {name: imported(name, path) for name, path in MODULES.items()}


def is_core(name: str) -> bool:
    return (
        name.startswith("portal")
        and name not in COMPOSITION_ROOT
        and not name.startswith(COMPOSITION_PACKAGES)
    )


def test_the_core_imports_no_integration():
    offenders = {
        name: sorted(m for m in found if m.split(".")[0] in ("integrations", "clarius_sandbox"))
        for name, found in IMPORTS.items()
        if is_core(name)
    }
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_nothing_shipped_imports_the_sandbox_but_the_demo_runner():
    offenders = [
        name
        for name, found in IMPORTS.items()
        if any(m.split(".")[0] == "clarius_sandbox" for m in found)
        and not name.startswith(COMPOSITION_PACKAGES)
    ]
    assert offenders == []


def test_there_are_no_import_cycles():
    graph = {
        name: {m for m in found if m in MODULES and m != name} for name, found in IMPORTS.items()
    }
    cycles, index, low, stack, on_stack = [], {}, {}, [], set()

    def visit(node):  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert cycles == []


def test_the_checks_see_the_imports_they_look_for():
    # Guards the checks themselves: a parser that found nothing would pass them all.
    assert "portal.reports.destinations" in IMPORTS["integrations.clarius.reports"]
    assert "integrations.clarius.tasks" in IMPORTS["integrations.clarius.apps"]
    assert "portal.work.registry" in IMPORTS["portal.reports.issuing"]


@pytest.mark.parametrize(
    "folder",
    sorted(p for p in (ROOT / "integrations").iterdir() if p.is_dir() and p.name != "__pycache__"),
)
def test_each_integration_folder_has_the_same_shape(folder):
    assert [name for name in INTEGRATION_SHAPE if not (folder / name).exists()] == []


def test_no_module_shadows_the_standard_library():
    import sys

    shadowing = sorted(
        name
        for name in MODULES
        if name.rpartition(".")[2] in sys.stdlib_module_names and not name.endswith("__init__")
    )
    assert shadowing == []
