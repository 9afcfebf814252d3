"""Report formats: one module per format, one call for the CLI.

    from kubeproof.reports import render
    text = render("sarif", result, tool_version="1.2.3")

Formats: ``text`` (rich, for people), ``json`` (stable contract for scripts),
``sarif`` (SARIF 2.1.0, GitHub code scanning), ``junit`` (JUnit XML for CI
test tabs), ``scorecard`` (the per-practice score table alone), ``html``
(one self-contained page: scorecard, filterable findings, excerpts) and
``codequality`` (GitLab Code Quality JSON, for merge requests) and
``policyreport`` (``wgpolicyk8s.io/v1alpha2`` PolicyReport objects, for Policy
Reporter and Kyverno's reporting). Each
format module exposes ``render(result, *, tool_version, color=False, ...)``
returning a string, and is imported only when asked for.

Objects checked: the :class:`ScanResult` lists every object the rules ran on
(``result.checked``, ``engine.CheckedObject`` items); JUnit reports passing
test cases for clean objects from it and the scorecard counts the objects each
practice applies to.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from kubeproof import __version__
from kubeproof.util.gcpause import gc_paused

if TYPE_CHECKING:
    from kubeproof.core.result import ScanResult
    from kubeproof.model import Finding

FORMATS: dict[str, str] = {
    "text": "text",
    "json": "json_report",
    "sarif": "sarif",
    "junit": "junit",
    "scorecard": "scorecard_table",
    "html": "html",
    "codequality": "codequality",
    "policyreport": "policyreport",
}

# Options the CLI may pass to every format; a format that does not take one
# simply does not receive it.
COMMON_OPTIONS = frozenset({"color", "width", "quiet", "root", "group_by", "show_all"})

SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")


def render(fmt: str, result: ScanResult, **opts: Any) -> str:
    """Render ``result`` in format ``fmt`` (one of :data:`FORMATS`) as text.

    ``tool_version`` defaults to the installed kubeproof version. Common
    options (:data:`COMMON_OPTIONS`) are dropped for formats that do not use
    them; any other unknown option raises ``TypeError``.
    """
    fn = _module(fmt).render
    with gc_paused():
        out: str = fn(result, **_options(fn, opts))
    return out


def write(fmt: str, result: ScanResult, out: BinaryIO, **opts: Any) -> None:
    """Write the report to a binary stream, streaming where the format can."""
    module = _module(fmt)
    fn = getattr(module, "write", None)
    with gc_paused():
        if fn is not None:
            fn(result, out, **_options(fn, opts))
        else:
            text = module.render(result, **_options(module.render, opts))
            out.write(text.encode())
            if not text.endswith("\n"):
                out.write(b"\n")


def _module(fmt: str) -> Any:
    module_name = FORMATS.get(fmt)
    if module_name is None:
        raise ValueError(f"unknown report format {fmt!r} (expected one of {', '.join(FORMATS)})")
    return importlib.import_module(f"kubeproof.reports.{module_name}")


def _options(fn: Any, opts: dict[str, Any]) -> dict[str, Any]:
    if "tool_version" not in opts:
        opts = {**opts, "tool_version": __version__}
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return opts
    return {k: v for k, v in opts.items() if k in params or k not in COMMON_OPTIONS}


# ------------------------------------------------------------ shared helpers


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


def registry_rows(registries: Iterable[Any]) -> list[dict[str, Any]]:
    """Each registry ``--check-images`` asked (``RegistryStatus`` values), as the
    JSON report lists it: ``host``, ``reachable``, ``status`` (HTTP),
    ``latencyMs``, ``auth``, ``error``."""
    return [{"host": r.host, "reachable": r.reachable, "status": r.status,
             "latencyMs": r.latency_ms, "auth": r.auth, "error": r.error}
            for r in sorted(registries, key=lambda r: r.host)]
