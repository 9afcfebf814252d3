"""JSON report: the stable, scriptable contract.

    {
      "tool": {"name": "kubeproof", "version": "..."},
      "findings": [Finding.to_dict(), ...],
      "errors":   [{"file", "line", "message"}, ...],
      "warnings": [{"file", "line", "message"}, ...],
      "summary": {
        "objects", "files", "skippedDocuments", "findings",
        "bySeverity": {"critical", "high", "medium", "low", "info"},
        "byRule": {code: count},          # only rules with findings, by code
        "suppressed": {"annotation", "comment", "exemption", ...},
        "baselined", "rules" (how many ran), "score", "grade",
        "practices": {"0".."16": {"name", "score", "grade", "findings", ...}}
      },
      "run": {
        "rules": [code, ...],             # every rule that ran
        "checked": [[file, line, apiVersion, kind, namespace, name,
                     [rule families], [practices]], ...],  # every object checked
        "notApplicable": [practice, ...]  # nothing to check in the set (scorecard n/a)
      },
      "registries": [{"host", "reachable", "status", "latencyMs", "auth", "error"}, ...],
      "accepted": [Finding.to_dict(), ...]  # suppressed by the baseline (accepted risks)
    }

``run`` makes the report whole: ``kubeproof report FILE.json --format junit``
(``reports/from_json.py``) rebuilds the result from it and renders any format,
passing test cases and scores included. ``registries`` is there only when
``--check-images`` asked the registries; ``accepted`` only when a baseline
suppressed findings (the scorecard still counts them).

Keys are never renamed; new keys may be added. ``score`` is ``null`` and
``grade`` is ``"n/a"`` where nothing could be scored (see ``scorecard``).
"""

from __future__ import annotations

import io
from collections import Counter
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson

from kubeproof.reports import SEVERITY_ORDER, registry_rows
from kubeproof.reports.scorecard import scorecard

if TYPE_CHECKING:
    from kubeproof.core.result import ScanResult

SUPPRESSION_KINDS = ("annotation", "comment", "exemption")


def report(result: ScanResult, *, tool_version: str, with_findings: bool = True
           ) -> dict[str, Any]:
    """The report as a plain dict (what :func:`write` serialises); without
    ``with_findings``, the findings and checked objects are left empty for
    :func:`write` to stream."""
    findings = result.findings
    by_sev: Counter[Any] = Counter(f.severity for f in findings)
    by_rule: Counter[str] = Counter(f.rule.code for f in findings)
    suppressed = dict.fromkeys(SUPPRESSION_KINDS, 0)
    suppressed.update(result.suppressed)
    card = scorecard(result)
    summary = {
        "objects": result.objects,
        "files": result.files,
        "skippedDocuments": result.skipped_documents,
        "findings": len(findings),
        "bySeverity": {label: 0 for label in SEVERITY_ORDER},
        "byRule": dict(sorted(by_rule.items())),
        "suppressed": suppressed,
        "baselined": result.baselined,
        "errors": len(result.errors),
        "warnings": len(result.warnings),
        "rules": len(result.rules),
        "score": card["score"],
        "grade": card["grade"],
        "practices": card["practices"],
    }
    for sev, n in by_sev.items():
        summary["bySeverity"][sev.label] = n
    doc: dict[str, Any] = {
        "tool": {"name": "kubeproof", "version": tool_version},
        "findings": [f.to_dict() for f in findings] if with_findings else [],
        "errors": [e.to_dict() for e in result.errors],
        "warnings": [w.to_dict() for w in result.warnings],
        "summary": summary,
        "run": {"rules": [r.code for r in result.rules],
                "checked": [_checked_row(o) for o in result.checked] if with_findings else [],
                "notApplicable": sorted(result.not_applicable)},
    }
    if result.registries:
        doc["registries"] = registry_rows(result.registries)
    if result.accepted:
        doc["accepted"] = [f.to_dict() for f in result.accepted]
    return doc


def _checked_row(obj: Any) -> list[Any]:
    return [obj.file, obj.line, obj.api_version, obj.kind, obj.namespace, obj.name,
            sorted(obj.families), sorted(obj.practices)]


_OPTS = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
_CHUNK = 2000  # findings serialised at a time: memory stays flat for any number


def write(result: ScanResult, out: BinaryIO, *, tool_version: str) -> None:
    """Stream the JSON report (two-space indent, UTF-8) to a binary stream.

    Serialised with orjson, which is an order of magnitude faster than the
    standard library's indenting encoder; the findings are written in chunks,
    so a report of 170,000 findings never holds all their dicts or all the
    text at once (the whole-document way peaked at 550 MiB).
    """
    doc = report(result, tool_version=tool_version, with_findings=False)
    text = orjson.dumps(doc, option=_OPTS)
    head, rest = text.split(b'\n  "findings": [],', 1)
    middle, tail = rest.split(b'\n    "checked": []', 1)
    out.write(head + b'\n  "findings": [')
    findings = result.findings
    for start in range(0, len(findings), _CHUNK):
        chunk = orjson.dumps([f.to_dict() for f in findings[start:start + _CHUNK]],
                             option=_OPTS)
        # drop the chunk's brackets and indent its items one level deeper
        out.write(b"\n  " + chunk[2:-2].replace(b"\n", b"\n  "))
        out.write(b"," if start + _CHUNK < len(findings) else b"\n  ")
    out.write(b"],")
    out.write(middle + b'\n    "checked": [')
    # one compact line per object: the list is as long as the set
    checked = result.checked
    for i, obj in enumerate(checked):
        out.write(b"\n      " + orjson.dumps(_checked_row(obj)) +
                  (b"," if i + 1 < len(checked) else b"\n    "))
    out.write(b"]" + tail + b"\n")


def render(result: ScanResult, *, tool_version: str) -> str:
    """The JSON report as text (see :func:`write`)."""
    buf = io.BytesIO()
    write(result, buf, tool_version=tool_version)
    return buf.getvalue().decode()
