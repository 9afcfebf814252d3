"""Hostile-type mutants of the repository's fixture objects, for the sweep tests.

Every fixture object is walked; each path (mapping key or list index, at any
depth) is a place a rule may read. One path per (kind, shape) is kept (list
indices folded), so the sweep covers every field every fixture shows at a cost
that stays in seconds, and each kept path gets every hostile value.
"""

from __future__ import annotations

import ast
import copy
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
RULE_FIXTURES = REPO / "tests" / "rules" / "fixtures"
RULE_CASES = REPO / "tests" / "rules"  # fixtures/ and the rule folders KPxxxx/
ANALYSIS_FIXTURES = REPO / "tests" / "analysis" / "fixtures"
EXAMPLES = REPO / "examples"

# what a hostile manifest may put in any field (YAML's .nan and .inf included)
HOSTILE: tuple[Any, ...] = (None, [], [{}], {}, {"a": {}}, True, 10**30, -1, 1e308,
                            float("nan"), float("-inf"), "²", "\u202e", "", "x" * 10240)
Step = str | int


def fixture_files(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*.yaml"))


def objects_of(path: Path) -> list[dict[str, Any]]:
    """The mapping documents of a fixture; none when it is deliberately unparseable."""
    try:
        return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8"))
                if isinstance(d, dict)]
    except yaml.YAMLError:
        return []


def paths(node: Any, prefix: tuple[Step, ...] = ()) -> Iterator[tuple[Step, ...]]:
    """Every path below ``node``, parents before children."""
    items: Any = node.items() if isinstance(node, dict) else \
        enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield (*prefix, key)
        yield from paths(value, (*prefix, key))


def _shape(obj: dict[str, Any], path: tuple[Step, ...]) -> tuple[Any, ...]:
    kind = obj.get("kind")
    return (kind if isinstance(kind, str) else "",
            *("[]" if isinstance(s, int) else s for s in path))


def mutation_sites(files: list[Path]) -> list[tuple[Path, dict[str, Any], tuple[Step, ...]]]:
    """(fixture, object, path) for the first occurrence of each (kind, path shape)."""
    seen: set[tuple[Any, ...]] = set()
    sites = []
    for f in files:
        for obj in objects_of(f):
            for path in paths(obj):
                shape = _shape(obj, path)
                if shape not in seen:
                    seen.add(shape)
                    sites.append((f, obj, path))
    return sites


def mutated(obj: dict[str, Any], path: tuple[Step, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    node: Any = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = copy.deepcopy(value)
    return out


def write_documents(path: Path, objects: list[dict[str, Any]]) -> Path:
    """A multi-document YAML file (JSON documents: YAML reads them, fast to write)."""
    text = "\n---\n".join(json.dumps(o) for o in objects)
    # json writes NaN and -Infinity, YAML reads .nan and -.inf (the fixtures hold neither)
    text = text.replace("-Infinity", "-.inf").replace("NaN", ".nan")
    path.write_text(text + "\n", encoding="utf-8")
    return path


def mutant_files(out: Path, files: list[Path]) -> list[Path]:
    """One file per fixture and hostile value: the fixture's objects, then every
    mutant of its mutation sites (so set rules see the objects it relates)."""
    by_fixture: dict[Path, list[tuple[dict[str, Any], tuple[Step, ...]]]] = {}
    for f, obj, path in mutation_sites(files):
        by_fixture.setdefault(f, []).append((obj, path))
    written = []
    for n, (f, sites) in enumerate(sorted(by_fixture.items())):
        originals = objects_of(f)
        for h, value in enumerate(HOSTILE):
            docs = originals + [mutated(obj, path, value) for obj, path in sites]
            written.append(write_documents(out / f"{n:03d}-{f.stem}-h{h}.yaml", docs))
    return written


SOURCES = REPO / "src" / "kubeproof"
_KEY_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9_.:/-]{0,62}")


def field_names_read() -> list[str]:
    """Every string constant of the rule, analysis and fixer code that could be
    a field name: fixtures leave most optional fields out, so the sweep also
    adds each of these, with a hostile value, to the mappings it mutates."""
    names: set[str] = set()
    files = [*SOURCES.glob("rules/**/*.py"), *SOURCES.glob("analysis/*.py"),
             *SOURCES.glob("k8s/*.py"), *SOURCES.glob("fix/**/*.py"),
             *(SOURCES / f for f in ("core/index.py", "core/inventory.py"))]
    for f in files:
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and _KEY_LIKE.fullmatch(node.value):
                names.add(node.value)
    return sorted(names)


def mapping_sites(files: list[Path]) -> list[tuple[dict[str, Any], tuple[Step, ...]]]:
    """(object, path) of the first mapping of each (kind, path shape), the root included."""
    seen: set[tuple[Any, ...]] = set()
    sites = []
    for f in files:
        for obj in objects_of(f):
            for path in ((), *paths(obj)):
                node: Any = obj
                for step in path:
                    node = node[step]
                shape = _shape(obj, path)
                if isinstance(node, dict) and shape not in seen:
                    seen.add(shape)
                    sites.append((obj, path))
    return sites


# the values added fields get: HOSTILE with a shorter long string (a thousand
# added fields of 10 kB would be a file over the loader's size limit)
# Values that reach the rules from a file: the loader refuses a whole document
# holding NaN, an infinity or an integer past 64 bits (as kubectl does: JSON has
# no NaN, the API server keeps 64 bits), so with one of those in every document
# nothing would be judged. They still meet every field in the mutant sweep above
# (refused there, with no internal error) and in every fixer (plain dicts).
def loader_refuses(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63


ADDED_VALUES: tuple[Any, ...] = (*(v for v in HOSTILE[:-1] if not loader_refuses(v)),
                                 "x" * 256)


def with_fields(obj: dict[str, Any], path: tuple[Step, ...], names: list[str],
                offset: int) -> dict[str, Any]:
    """``obj`` with every field of ``names`` its mapping at ``path`` lacks added,
    the n-th holding ``ADDED_VALUES[(offset + n) % len(ADDED_VALUES)]``."""
    out = copy.deepcopy(obj)
    node: Any = out
    for step in path:
        node = node[step]
    for n, name in enumerate(names):
        node.setdefault(name, copy.deepcopy(ADDED_VALUES[(offset + n) % len(ADDED_VALUES)]))
    return out


def added_field_files(out: Path, files: list[Path], per_file: int = 40) -> list[Path]:
    """Each mapping site with every field name the code reads added there. The
    values rotate with the site, so every name meets every hostile value at
    some site; ``per_file`` objects per file keep the sets small."""
    names = field_names_read()
    docs = [with_fields(obj, path, names, i) for i, (obj, path) in
            enumerate(mapping_sites(files))]
    return [write_documents(out / f"added-{k:03d}.yaml", docs[k:k + per_file])
            for k in range(0, len(docs), per_file)]
