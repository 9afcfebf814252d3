"""The package keeps its layers: read with ``ast`` only, so a broken import cannot hide a violation.

The layers, lowest first (a module may import its own layer and any lower one)::

    k8s, util  <  model  <  sources  <  images  <  core  <  analysis, policies  <  rules  <  api
               <  fix  <  reports  <  webhook  <  cli

``analysis`` (NetworkPolicy reachability, RBAC grants and who-can) sits below the
rules that use it: a rule gets a cross-object engine as a narrow interface, and an
analysis that needs a rule's check is given it by its caller.

Four rules, each violation printed as ``module -> imported (rule)``:

* ``layer``: an import of a higher layer, wherever it sits (module level, inside a function, or
  under ``TYPE_CHECKING``: a type a lower layer needs belongs in that layer or is a Protocol);
* ``cycle``: modules that import each other, directly or round a loop, at module level (an
  import under ``TYPE_CHECKING`` never runs, so it makes no cycle; the layer rule still holds);
* ``hidden``: an import inside a function, unless the line (or the one above) says
  ``# start-up:`` with the measured reason (the CLI loads heavy modules only when used);
* ``click``: click imported outside ``kubeproof.cli``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "kubeproof"

LAYERS: dict[str, int] = {
    "k8s": 0, "util": 0, "model": 1, "sources": 2, "images": 3, "core": 4, "analysis": 5,
    "policies": 5,
    "rules": 6, "api": 7, "fix": 8, "reports": 9, "webhook": 10, "cli": 11,
    "__main__": 11,
}

# Violations accepted for now, each with what must happen to it: none. A new entry needs a
# reason here and an owner; test_every_allowance_is_still_needed removes stale ones.
ALLOWED: set[tuple[str, str, str]] = set()

START_UP_MARK = "# start-up:"


@dataclass(frozen=True)
class Import:
    """One import statement's target as seen from one module."""

    module: str
    imported: str
    line: int
    in_function: bool
    type_checking: bool
    marked: bool


def module_names() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    names: dict[str, Path] = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


MODULES = module_names()


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    """The modules a ``from ... import`` names: a submodule when it is one, else the package."""
    base = node.module or ""
    if node.level:
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, base]) if base else ".".join(anchor)
    found = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        found.append(sub if sub in MODULES else base)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(module: str, path: Path) -> Iterator[Import]:
    """Every import in one module, with where it sits."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    is_package = path.name == "__init__.py"

    tree = ast.parse(source, filename=str(path))
    # a run of imports one after the other shares the comment above its first one
    run_start: dict[int, int] = {}
    for node in ast.walk(tree):
        for block in (getattr(node, name, None) for name in ("body", "orelse", "finalbody")):
            if not isinstance(block, list):
                continue
            first = None
            for stmt in block:
                if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                    first = first or stmt.lineno
                    run_start[stmt.lineno] = first
                else:
                    first = None

    def marked(line: int) -> bool:
        """The import, or the comment block right above its run of imports, says ``# start-up:``."""
        if START_UP_MARK in lines[line - 1]:
            return True
        above = run_start.get(line, line) - 2
        while above >= 0 and lines[above].strip().startswith("#"):
            if lines[above].strip().startswith(START_UP_MARK):
                return True
            above -= 1
        return False

    def walk(node: ast.AST, in_function: bool, type_checking: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(module, alias.name, child.lineno, in_function, type_checking,
                                 marked(child.lineno))
            elif isinstance(child, ast.ImportFrom):
                for target in _resolve(module, is_package, child):
                    yield Import(module, target, child.lineno, in_function, type_checking,
                                 marked(child.lineno))
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                yield from walk(child, True, type_checking)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    yield from walk(ast.Module(body=[stmt], type_ignores=[]), in_function, True)
                for stmt in child.orelse:
                    yield from walk(ast.Module(body=[stmt], type_ignores=[]), in_function,
                                    type_checking)
            else:
                yield from walk(child, in_function, type_checking)

    yield from walk(tree, False, False)


ALL_IMPORTS = [imp for name, path in MODULES.items() for imp in imports_of(name, path)]


def layer_of(module: str) -> int | None:
    """The rank of a module of the package; ``None`` for the package root (free to all)."""
    parts = module.split(".")
    if len(parts) < 2:
        return None
    return LAYERS[parts[1]]


def _internal(imp: Import) -> bool:
    return imp.imported == PACKAGE or imp.imported.startswith(PACKAGE + ".")


def _report(found: set[tuple[str, str, str]], detail: dict[tuple[str, str, str], str] | None = None
            ) -> str:
    unexpected = sorted(found - ALLOWED)
    detail = detail or {}
    return "\n".join(f"{module} -> {imported} ({rule}{detail.get((module, imported, rule), '')})"
                     for module, imported, rule in unexpected)


def test_every_module_sits_in_a_known_layer() -> None:
    unknown = [name for name in MODULES if name != PACKAGE and name.split(".")[1] not in LAYERS]
    assert not unknown, unknown


Violations = set[tuple[str, str, str]]
Details = dict[tuple[str, str, str], str]


def _layer_violations() -> Violations:
    found = set()
    for imp in ALL_IMPORTS:
        if not _internal(imp):
            continue
        mine, theirs = layer_of(imp.module), layer_of(imp.imported)
        if mine is not None and theirs is not None and theirs > mine:
            found.add((imp.module, imp.imported, "layer"))
    return found


def test_no_module_imports_a_higher_layer() -> None:
    found = _layer_violations()
    assert not found - ALLOWED, "\n" + _report(found)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each as a loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return components


def _module_level_edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for imp in ALL_IMPORTS:
        if (_internal(imp) and not imp.in_function and not imp.type_checking
                and imp.imported != imp.module):
            edges.setdefault(imp.module, set()).add(imp.imported)
    return edges


def _cycle_violations() -> tuple[Violations, Details]:
    edges = _module_level_edges()
    found = set()
    detail = {}
    for component in _cycles(edges):
        members = set(component)
        for module in component:
            for imported in sorted(edges[module] & members):
                found.add((module, imported, "cycle"))
                detail[(module, imported, "cycle")] = ": " + ", ".join(component)
    return found, detail


def test_no_import_cycle() -> None:
    found, detail = _cycle_violations()
    assert not found - ALLOWED, "\n" + _report(found, detail)


def _hidden_violations() -> tuple[Violations, Details]:
    hidden = [imp for imp in ALL_IMPORTS if imp.in_function and not imp.marked]
    found = {(imp.module, imp.imported, "hidden") for imp in hidden}
    detail = {(imp.module, imp.imported, "hidden"): f" at line {imp.line}" for imp in hidden}
    return found, detail


def test_no_import_hidden_in_a_function() -> None:
    found, detail = _hidden_violations()
    assert not found - ALLOWED, "\n" + _report(found, detail)


def _click_violations() -> Violations:
    return {(imp.module, imp.imported, "click")
            for imp in ALL_IMPORTS
            if imp.imported.split(".")[0] == "click"
            and not (imp.module + ".").startswith(PACKAGE + ".cli.")}


def test_only_the_cli_imports_click() -> None:
    found = _click_violations()
    assert not found - ALLOWED, "\n" + _report(found)


def test_every_allowance_is_still_needed() -> None:
    """An allowance outlives its violation only by mistake: remove it with the fix."""
    found = _layer_violations() | _cycle_violations()[0] | _hidden_violations()[0] \
        | _click_violations()
    stale = sorted(ALLOWED - found)
    assert not stale, stale


def test_the_checker_sees_what_it_must() -> None:
    """The walk finds imports in functions and under TYPE_CHECKING, and resolves submodules."""
    by_kind = {(imp.in_function, imp.type_checking) for imp in ALL_IMPORTS}
    assert (False, False) in by_kind
    assert any(imp.type_checking for imp in ALL_IMPORTS)
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert any(imp.imported == f"{PACKAGE}.model" for imp in ALL_IMPORTS)
