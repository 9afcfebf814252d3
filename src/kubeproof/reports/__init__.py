"""Report formats: one module per format, one call for the CLI.

    from kubeproof.reports import render
    text = render("sarif", result, tool_version="1.2.3")

Formats: ``text`` (rich, for people), ``json`` (stable contract for scripts),
``sarif`` (SARIF 2.1.0, GitHub code scanning), ``junit`` (JUnit XML for CI
test tabs) and ``scorecard`` (the per-practice score table alone). Each
format module exposes ``render(result, *, tool_version, color=False, ...)``
returning a string, and is imported only when asked for.

Objects checked: when the :class:`ScanResult` lists the objects it checked
(``result.checked``, see :func:`checked_objects`), JUnit reports passing test
cases for clean objects and the scorecard counts the objects each practice
applies to from it; without it both fall back to what the findings and
``result.kinds`` show.
"""

from __future__ import annotations

import gc
import importlib
import inspect
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubeproof.model import Scope

if TYPE_CHECKING:
    from kubeproof.engine import ScanResult
    from kubeproof.model import Finding, Rule

FORMATS: dict[str, str] = {
    "text": "text",
    "json": "json_report",
    "sarif": "sarif",
    "junit": "junit",
    "scorecard": "scorecard",
}

# Options the CLI may pass to every format; a format that does not take one
# simply does not receive it.
COMMON_OPTIONS = frozenset({"color", "width", "quiet", "root"})

SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")


def render(fmt: str, result: ScanResult, **opts: Any) -> str:
    """Render ``result`` in format ``fmt`` (one of :data:`FORMATS`).

    ``tool_version`` defaults to the installed kubeproof version. Common
    options (``color``, ``width``, ``quiet``, ``root``) are dropped for formats
    that do not use them; any other unknown option raises ``TypeError``.
    """
    module_name = FORMATS.get(fmt)
    if module_name is None:
        raise ValueError(f"unknown report format {fmt!r} (expected one of {', '.join(FORMATS)})")
    module = importlib.import_module(f"kubeproof.reports.{module_name}")
    fn = module.render
    if "tool_version" not in opts:
        from kubeproof import __version__

        opts["tool_version"] = __version__
    params = inspect.signature(fn).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    if not accepts_any:
        opts = {k: v for k, v in opts.items() if k in params or k not in COMMON_OPTIONS}
    with gc_paused():
        out: str = fn(result, **opts)
    return out


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a report is built.

    Reports allocate millions of small dicts and strings and no cycles; the
    collector's repeated full passes over them cost ~20% of the time on
    200,000 findings.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# ------------------------------------------------------------ shared helpers


@dataclass(frozen=True, slots=True)
class CheckedItem:
    """One object the engine ran rules on, as the reports read it."""

    file: str
    line: int
    api_version: str
    kind: str
    namespace: str | None
    name: str
    families: frozenset[str]
    practices: frozenset[int]  # of the rules that ran on it, cluster-scope rules left out

    @property
    def key(self) -> tuple[str, str, str, str]:
        return object_key(self.file, self.kind, self.namespace, self.name)


def object_key(file: str, kind: str, namespace: str | None, name: str) -> tuple[str, str, str, str]:
    return (file, kind, namespace or "", name)


def finding_key(f: Finding) -> tuple[str, str, str, str]:
    """The object a finding belongs to; documents that are not objects key by line."""
    if not f.kind and not f.name:
        return (f.file, "", "", f"#{f.line}")
    return (f.file, f.kind, f.namespace or "", f.name)


def object_label(kind: str, namespace: str | None, name: str) -> str:
    """``Kind/namespace/name`` (``Kind/name`` when cluster-scoped or unset)."""
    if namespace:
        return f"{kind}/{namespace}/{name}"
    return f"{kind}/{name}"


def checked_objects(result: ScanResult) -> list[CheckedItem] | None:
    """The objects the engine checked, or ``None`` when the result does not say.

    Reads ``result.checked`` (``engine.CheckedObject`` items). Each item has
    attributes ``file``, ``kind``, ``namespace``, ``name``, optionally ``line``
    and ``api_version``, and one of ``rules`` (the Rules that ran on it),
    ``practices`` or ``families`` (a family's practices are all of its rules'
    practices); a 5-tuple ``(file, kind, namespace, name, families)`` is
    accepted too. An empty list for a scan that saw objects means "not
    recorded" (e.g. a result built by hand) and gives ``None``.

    ``practices`` of an item are those of the rules that ran on it, leaving
    out cluster-scope rules: those run on every pod but speak only about
    control-plane components (the scorecard counts such objects when they
    have findings).
    """
    raw = getattr(result, "checked", None)
    if raw is None or (not raw and result.objects):
        return None
    family_practices: dict[str, set[int]] = {}
    for r in result.rules:
        if r.scope != Scope.CLUSTER:
            family_practices.setdefault(r.family, set()).add(r.practice)
    # the engine shares one families tuple per (kind, has pod): convert each once
    cache: dict[tuple[int, int], tuple[frozenset[str], frozenset[int]]] = {}
    keep: list[Any] = []  # keeps cached ids alive
    out: list[CheckedItem] = []
    for item in raw:
        practices_raw: Any = None
        if isinstance(item, tuple):
            file, kind, namespace, name, families_raw = item
            line, api_version, rules = 1, "", None
        else:
            file, kind = item.file, item.kind
            namespace, name = item.namespace, item.name
            line = getattr(item, "line", 1) or 1
            api_version = getattr(item, "api_version", "") or ""
            rules = getattr(item, "rules", None)
            families_raw = getattr(item, "families", ()) if rules is None else ()
            practices_raw = getattr(item, "practices", None) if rules is None else None
        ident = (id(rules if rules is not None else families_raw), id(practices_raw))
        hit = cache.get(ident)
        if hit is None:
            hit = _families_and_practices(rules, families_raw, practices_raw, family_practices)
            cache[ident] = hit
            keep.append((rules, families_raw, practices_raw))
        out.append(CheckedItem(file, line, api_version, kind, namespace, name, *hit))
    return out


def _families_and_practices(
    rules: Iterable[Rule] | None, families: Iterable[str], practices: Iterable[int] | None,
    family_practices: dict[str, set[int]],
) -> tuple[frozenset[str], frozenset[int]]:
    if rules is not None:
        rules = list(rules)
        return (frozenset(r.family for r in rules),
                frozenset(r.practice for r in rules if r.scope != Scope.CLUSTER))
    fams = frozenset(families)
    if practices is not None:
        return fams, frozenset(practices)
    found: set[int] = set()
    for fam in fams:
        found |= family_practices.get(fam, set())
    return fams, frozenset(found)


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    counts = dict.fromkeys(SEVERITY_ORDER, 0)
    for f in findings:
        counts[f.severity.label] += 1
    return counts


def iter_by_file(findings: list[Finding]) -> Iterator[tuple[str, list[Finding]]]:
    """Findings grouped by file, files in first-seen order, each sorted by position."""
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(f.file, []).append(f)
    for file, group in groups.items():
        group.sort(key=lambda f: (f.line, f.column, f.rule.code))
        yield file, group
