"""Read JSON reports back into a result, so any format can be made later.

``kubeproof scan ... -f json -o run.json`` (or ``audit``) keeps everything a
report needs: the findings, the input errors and warnings, the summary's
counts and, under ``run``, the rules that ran and every object checked. From
that, ``kubeproof report run.json -f junit`` renders JUnit (passing cases
too), SARIF, text or the scorecard exactly as the original run would have.
Several reports are merged (say, audits of several clusters).

A file that is not a kubeproof JSON report is one :class:`InputError`; a
finding of a rule this version does not know is left out with a warning.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from kubeproof.engine import CheckedObject, ScanResult
from kubeproof.model import Finding, InputError, Rule, Severity
from kubeproof.registry import load_rules


class ReportError(Exception):
    """A JSON report that cannot be read; the message is one line."""


def load_reports(paths: list[str]) -> ScanResult:
    """Merge the JSON reports at ``paths``; unreadable ones become input errors."""
    result = ScanResult()
    rules = load_rules()
    ran: dict[str, Rule] = {}
    for path in paths:
        try:
            doc = _read(path)
            _add(result, doc, path, rules, ran)
        except ReportError as exc:
            result.errors.append(InputError(path, None, str(exc)))
    result.rules = sorted(ran.values(), key=lambda r: r.code)
    return result


def _read(path: str) -> dict[str, Any]:
    try:
        raw = Path(path).read_bytes() if path != "-" else _stdin()
    except OSError as exc:
        raise ReportError(f"cannot read report: {exc.strerror or exc}") from None
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ReportError(f"not JSON: {exc.msg} (line {exc.lineno})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tool"), dict) \
            or doc["tool"].get("name") != "kubeproof" or not isinstance(doc.get("findings"), list):
        raise ReportError("not a kubeproof JSON report (kubeproof scan/audit --format json)")
    return doc


def _stdin() -> bytes:
    import sys

    return sys.stdin.buffer.read()


def _add(result: ScanResult, doc: dict[str, Any], path: str, rules: dict[str, Rule],
         ran: dict[str, Rule]) -> None:
    unknown: Counter[str] = Counter()
    for item in doc["findings"]:
        finding = _finding(item, rules)
        if finding is None:
            unknown[str(item.get("code") if isinstance(item, dict) else item)] += 1
            continue
        result.findings.append(finding)
        ran.setdefault(finding.rule.code, finding.rule)
    for code, n in sorted(unknown.items()):
        result.warnings.append(InputError(
            path, None, f"{n} finding(s) of rule {code}, unknown to this kubeproof, left out"))
    for key, into in (("errors", result.errors), ("warnings", result.warnings)):
        for item in doc.get(key) or ():
            if isinstance(item, dict):
                into.append(InputError(str(item.get("file", path)), _int_or_none(item.get("line")),
                                       str(item.get("message", ""))))
    known = {r.host for r in result.registries}
    result.registries.extend(r for r in _registries(doc.get("registries"))
                             if r.host not in known)
    summary = _dict(doc.get("summary"))
    result.objects += _int(summary.get("objects"))
    result.files += _int(summary.get("files"))
    result.skipped_documents += _int(summary.get("skippedDocuments"))
    result.baselined += _int(summary.get("baselined"))
    suppressed = summary.get("suppressed")
    if isinstance(suppressed, dict):
        result.suppressed.update({str(k): _int(v) for k, v in suppressed.items()})
    run = doc.get("run")
    if not isinstance(run, dict):
        result.warnings.append(InputError(
            path, None, "report without 'run' (older kubeproof): passing checks and scores "
                        "are not known"))
        return
    for code in run.get("rules") or ():
        if isinstance(code, str) and code in rules:
            ran.setdefault(code, rules[code])
    for row in run.get("checked") or ():
        checked = _checked(row)
        if checked is None:
            raise ReportError("malformed 'run.checked' entry")
        result.checked.append(checked)
        result.kinds[checked.kind] += 1


def _registries(rows: Any) -> list[Any]:
    """The registries a ``--check-images`` run asked (``registries``), as statuses."""
    if not isinstance(rows, list) or not rows:
        return []
    from kubeproof.images.registry import RegistryStatus

    out = []
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("host"), str):
            raise ReportError("malformed 'registries' entry")
        latency = row.get("latencyMs")
        out.append(RegistryStatus(
            row["host"], row.get("reachable") is True, _int_or_none(row.get("status")),
            float(latency) if isinstance(latency, int | float) else None,
            str(row.get("auth") or "none"),
            row["error"] if isinstance(row.get("error"), str) else None))
    return out


def _finding(item: Any, rules: dict[str, Rule]) -> Finding | None:
    if not isinstance(item, dict) or item.get("code") not in rules:
        return None
    obj = _dict(item.get("object"))
    try:
        severity = Severity.parse(str(item.get("severity")))
    except ValueError as exc:
        raise ReportError(str(exc)) from None
    return Finding(
        rule=rules[item["code"]], severity=severity, file=str(item.get("file", "")),
        line=_int(item.get("line")), column=_int(item.get("column")),
        api_version=str(obj.get("apiVersion") or ""), kind=str(obj.get("kind") or ""),
        namespace=obj.get("namespace") if isinstance(obj.get("namespace"), str) else None,
        name=str(obj.get("name") or ""),
        container=item.get("container") if isinstance(item.get("container"), str) else None,
        path=str(item.get("path") or ""), message=str(item.get("message") or ""),
        source=str(item.get("source") or "file"),
        rendered_from=item.get("renderedFrom") if isinstance(item.get("renderedFrom"), str)
        else None)


def _checked(row: Any) -> CheckedObject | None:
    if not isinstance(row, list) or len(row) != 8:
        return None
    file, line, api_version, kind, namespace, name, families, practices = row
    if not isinstance(families, list) or not isinstance(practices, list):
        return None
    return CheckedObject(str(file), _int(line), str(api_version), str(kind),
                         namespace if isinstance(namespace, str) else None, str(name),
                         frozenset(str(f) for f in families),
                         frozenset(p for p in practices if isinstance(p, int)))


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
