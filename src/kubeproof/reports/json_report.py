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
      }
    }

Keys are never renamed; new keys may be added. ``score`` is ``null`` and
``grade`` is ``"n/a"`` where nothing could be scored (see ``scorecard``).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from kubeproof.reports import SEVERITY_ORDER
from kubeproof.reports.scorecard import scorecard

if TYPE_CHECKING:
    from kubeproof.engine import ScanResult

# json.dumps(ensure_ascii=False) encodes strings with this (the C version when present).
_encode_str = json.encoder.encode_basestring  # type: ignore[attr-defined]

SUPPRESSION_KINDS = ("annotation", "comment", "exemption")
_CHUNK = 5000  # findings encoded per C-encoder call (bounds the memory of the fast path)


def report(result: ScanResult, *, tool_version: str) -> dict[str, Any]:
    """The report as a plain dict (what :func:`render` serialises)."""
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
    return {
        "tool": {"name": "kubeproof", "version": tool_version},
        "findings": [f.to_dict() for f in findings],
        "errors": [e.to_dict() for e in result.errors],
        "warnings": [w.to_dict() for w in result.warnings],
        "summary": summary,
    }


def render(result: ScanResult, *, tool_version: str, color: bool = False) -> str:
    """The JSON report, indented by two spaces, UTF-8 text kept as is.

    The output is byte for byte ``json.dumps(report, ensure_ascii=False,
    indent=2)``. Python's indenting encoder is pure Python and takes ~10 s for
    200,000 findings, so the findings list is written by :func:`_dump_items`,
    which produces the same text with the C string encoder.
    """
    doc = report(result, tool_version=tool_version)
    findings = doc["findings"]
    if not findings:
        return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    doc["findings"] = []
    head = json.dumps(doc, ensure_ascii=False, indent=2)
    # The first '"findings": []' at indent 2 is the top-level key ("tool" comes
    # before it and holds no such text; quotes inside strings are escaped).
    marker = '\n  "findings": [],'
    at = head.index(marker)
    body = _dump_items(findings, 2)
    return "".join((head[:at], '\n  "findings": [\n', body, "\n  ],", head[at + len(marker):],
                    "\n"))


def _dump_items(items: list[Any], level: int) -> str:
    """The members of a list at nesting ``level``, exactly as json.dumps(indent=2) writes them.

    Fast path for lists of dicts of one shape whose values are scalars or dicts
    of scalars (``Finding.to_dict``): every value of every item is encoded in a
    single C-encoder call with a newline as the separator (JSON text never holds
    a raw newline, so splitting on it is exact), then poured into one template
    per shape. Anything else goes through json.dumps item by item.
    """
    pad = "  " * level
    parts: list[str] = []
    for start in range(0, len(items), _CHUNK):
        chunk = items[start:start + _CHUNK]
        fast = _dump_uniform(chunk, pad)
        if fast is None:
            fast = ",\n".join(
                pad + json.dumps(item, ensure_ascii=False, indent=2).replace("\n", "\n" + pad)
                for item in chunk)
        parts.append(fast)
    return ",\n".join(parts)


def _dump_uniform(items: list[Any], pad: str) -> str | None:
    first = items[0]
    if type(first) is not dict or not first:
        return None
    keys = tuple(first)
    if any(type(k) is not str for k in keys):
        return None
    nested: list[tuple[int, str, tuple[str, ...]]] = []
    inner, inner2 = pad + "  ", pad + "    "
    lines: list[str] = []
    for j, (k, v) in enumerate(first.items()):
        ek = _encode_str(k).replace("%", "%%")
        if type(v) is dict:
            sub = tuple(v)
            if not sub or any(type(k2) is not str for k2 in sub):
                return None
            nested.append((j, k, sub))
            body = ",\n".join(f"{inner2}{_encode_str(k2).replace('%', '%%')}: %s" for k2 in sub)
            lines.append(f"{inner}{ek}: {{\n{body}\n{inner}}}")
        else:
            lines.append(f"{inner}{ek}: %s")
    template = pad + "{\n" + ",\n".join(lines) + "\n" + pad + "}"

    values: list[Any] = []
    extend = values.extend
    for item in items:
        if type(item) is not dict or tuple(item) != keys:
            return None
        if not nested:
            extend(item.values())
            continue
        row = list(item.values())
        for j, _k, sub in reversed(nested):
            v = row[j]
            if type(v) is not dict or tuple(v) != sub:
                return None
            row[j:j + 1] = v.values()
        extend(row)
    flat = json.dumps(values, ensure_ascii=False, separators=("\n", ": "))
    # a list or dict among the values would need indenting: take the slow path
    if flat[1:2] in ("[", "{") or "\n[" in flat or "\n{" in flat:
        return None
    tokens = flat[1:-1].split("\n")
    width = len(tokens) // len(items)
    if width * len(items) != len(tokens) or len(tokens) != len(values):
        return None
    return ",\n".join([template % tuple(tokens[i:i + width])
                        for i in range(0, len(tokens), width)])
