"""Hostile-type mutants of the repository's fixture objects, for the sweep tests.

Every fixture object is walked; each path (mapping key or list index, at any
depth) is a place a rule may read. One path per (kind, shape) is kept (list
indices folded), so the sweep covers every field every fixture shows at a cost
that stays in seconds, and each kept path gets every hostile value.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
RULE_FIXTURES = REPO / "tests" / "rules" / "fixtures"
ANALYSIS_FIXTURES = REPO / "tests" / "analysis" / "fixtures"
EXAMPLES = REPO / "examples"

# what a hostile manifest may put in any field (JSON has no NaN, so no NaN)
HOSTILE: tuple[Any, ...] = (None, [], [{}], {}, {"a": {}}, True, 10**30, -1, 1e308,
                            "²", "\u202e", "", "x" * 10240)
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
    path.write_text("\n---\n".join(json.dumps(o) for o in objects) + "\n", encoding="utf-8")
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
