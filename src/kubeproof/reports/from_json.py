"""Read JSON reports back into a result, so any format can be made later.

``kubeproof scan ... -f json -o run.json`` (or ``audit``) keeps everything a
report needs: the findings, the input errors and warnings, the summary's
counts and, under ``run``, the rules that ran and every object checked. From
that, ``kubeproof report run.json -f junit`` renders JUnit (passing cases
too), SARIF, text or the scorecard exactly as the original run would have.
Several reports are merged (say, audits of several clusters).

A file that is not a kubeproof JSON report is one :class:`InputError`; a
finding of a rule this version does not know is left out with a warning,
except a rule of the run's own (a custom rule, a policy: ``ACME001``,
``vap/<name>``), which the report describes enough to show (name, practice,
how to fix).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from kubeproof.core.catalogue import load_rules
from kubeproof.core.custom_rules import RUN_RULE_CODE
from kubeproof.core.result import CheckedObject, ScanResult
from kubeproof.model import PRACTICES, Finding, InputError, Rule, Severity


class ReportError(Exception):
    """A JSON report that cannot be read; the message is one line."""


class NoReportError(Exception):
    """Not one of the files given is a readable report: ``errors`` says why, one
    per file."""

    def __init__(self, errors: list[InputError]) -> None:
        super().__init__(f"no readable report among {len(errors)} file(s)")
        self.errors = errors


def load_reports(paths: list[str], require_one: bool = False) -> ScanResult:
    """Merge the JSON reports at ``paths``; unreadable ones become input errors
    (``require_one``: when no file at all is readable, raise
    :class:`NoReportError` instead: there is nothing to render).

    Each file is read whole into its own result first and merged only when it
    is valid, so a malformed file adds one error line and nothing else.
    """
    result = ScanResult()
    rules = load_rules()
    ran: dict[str, Rule] = {}
    loaded = 0
    for path in paths:
        part = ScanResult()
        part_ran: dict[str, Rule] = {}
        try:
            doc = _read(path)
            _add(part, doc, path, rules, part_ran)
        except ReportError as exc:
            result.errors.append(InputError(path, None, str(exc)))
            continue
        loaded += 1
        result.add(part)
        for code, rule_ in part_ran.items():
            ran.setdefault(code, rule_)
    if require_one and not loaded:
        raise NoReportError(result.errors)
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
    return sys.stdin.buffer.read()


# ----------------------------------------------------------- typed field reads
#
# A report is input like any other: each field is checked for the type the
# JSON report writes as it is read, and a wrong one is a ReportError naming the
# field (``findings[3].file: expected a string, got a list``), never the value.

_TYPE_NAMES = {str: "a string", int: "an integer", dict: "an object", list: "a list",
               bool: "true or false", float: "a number"}


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    for t in (bool, str, int, float, dict, list):
        if isinstance(value, t):
            return _TYPE_NAMES[t]
    return type(value).__name__


def _wrong(where: str, expected: str, value: Any) -> ReportError:
    return ReportError(f"{where}: expected {expected}, got {_kind_of(value)}")


def _str(obj: dict[str, Any], key: str, where: str, default: str = "") -> str:
    value = obj.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise _wrong(f"{where}.{key}", "a string", value)
    return value


def _opt_str(obj: dict[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise _wrong(f"{where}.{key}", "a string or null", value)
    return value


def _count(obj: dict[str, Any], key: str, where: str) -> int:
    value = obj.get(key, 0)
    if value is None:
        return 0
    if not _is_int(value):
        raise _wrong(f"{where}.{key}", "an integer", value)
    return int(value)


def _opt_int(obj: dict[str, Any], key: str, where: str) -> int | None:
    value = obj.get(key)
    if value is not None and not _is_int(value):
        raise _wrong(f"{where}.{key}", "an integer or null", value)
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _section(doc: dict[str, Any], key: str, kind: type, where: str = "") -> Any:
    """``doc[key]`` when it is a ``kind`` (dict or list), empty when missing or null."""
    value = doc.get(key)
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise _wrong(f"{where}{key}", _TYPE_NAMES[kind], value)
    return value


def _add(result: ScanResult, doc: dict[str, Any], path: str, rules: dict[str, Rule],
         ran: dict[str, Rule]) -> None:
    unknown: Counter[str] = Counter()
    for i, item in enumerate(doc["findings"]):
        where = f"findings[{i}]"
        if not isinstance(item, dict):
            raise _wrong(where, "an object", item)
        code = _str(item, "code", where)
        if code not in rules and RUN_RULE_CODE.fullmatch(code):
            rules = {**rules, code: _run_rule(item, code, where)}
        if code not in rules:
            unknown[code] += 1
            continue
        finding = _finding(item, rules[code], where)
        result.findings.append(finding)
        ran.setdefault(code, finding.rule)
    for code, n in sorted(unknown.items()):
        result.warnings.append(InputError(
            path, None, f"{n} finding(s) of rule {code}, unknown to this kubeproof, left out"))
    for key, into in (("errors", result.errors), ("warnings", result.warnings)):
        for i, item in enumerate(_section(doc, key, list)):
            where = f"{key}[{i}]"
            if not isinstance(item, dict):
                raise _wrong(where, "an object", item)
            into.append(InputError(_str(item, "file", where, path),
                                   _opt_int(item, "line", where),
                                   _str(item, "message", where)))
    result.registries.extend(_registries(_section(doc, "registries", list)))
    for i, item in enumerate(_section(doc, "accepted", list)):
        where = f"accepted[{i}]"
        if not isinstance(item, dict):
            raise _wrong(where, "an object", item)
        code = _str(item, "code", where)
        if code in rules:
            result.accepted.append(_finding(item, rules[code], where))
    summary = _section(doc, "summary", dict)
    result.objects += _count(summary, "objects", "summary")
    result.files += _count(summary, "files", "summary")
    result.skipped_documents += _count(summary, "skippedDocuments", "summary")
    result.baselined += _count(summary, "baselined", "summary")
    suppressed = _section(summary, "suppressed", dict, "summary.")
    result.suppressed.update({str(k): _count(suppressed, k, "summary.suppressed")
                              for k in suppressed})
    run = doc.get("run")
    if run is None:
        result.warnings.append(InputError(
            path, None, "report without 'run' (older kubeproof): passing checks and scores "
                        "are not known"))
        return
    if not isinstance(run, dict):
        raise _wrong("run", "an object", run)
    for code in _section(run, "rules", list, "run."):
        if isinstance(code, str) and code in rules:
            ran.setdefault(code, rules[code])
    for i, row in enumerate(_section(run, "checked", list, "run.")):
        checked = _checked(row, f"run.checked[{i}]")
        result.checked.append(checked)
        result.kinds[checked.kind] += 1
    for i, practice in enumerate(_section(run, "notApplicable", list, "run.")):
        if isinstance(practice, bool) or not isinstance(practice, int) \
                or practice not in PRACTICES:
            raise _wrong(f"run.notApplicable[{i}]", "a practice number", practice)
        result.not_applicable.add(practice)


def _registries(rows: list[Any]) -> list[Any]:
    """The registries a ``--check-images`` run asked (``registries``), as statuses."""
    if not rows:
        return []
    # start-up: the registry client module loads httpx (about 100 ms); only a report of a --check-
    # images run has registry rows
    from kubeproof.images.oci import RegistryStatus

    out = []
    for i, row in enumerate(rows):
        where = f"registries[{i}]"
        if not isinstance(row, dict):
            raise _wrong(where, "an object", row)
        host = _str(row, "host", where)
        if not host:
            raise ReportError(f"{where}.host: missing")
        latency = row.get("latencyMs")
        if latency is not None and (isinstance(latency, bool)
                                    or not isinstance(latency, int | float)):
            raise _wrong(f"{where}.latencyMs", "a number or null", latency)
        out.append(RegistryStatus(
            host, row.get("reachable") is True, _opt_int(row, "status", where),
            float(latency) if latency is not None else None,
            _str(row, "auth", where, "none") or "none", _opt_str(row, "error", where)))
    return out


def _run_rule(item: dict[str, Any], code: str, where: str) -> Rule:
    """A custom rule's or a policy's (not in the catalogue), as its finding describes it."""
    practice = item.get("practice")
    if isinstance(practice, bool) or not isinstance(practice, int) or practice not in PRACTICES:
        practice = 16
    try:
        severity = Severity.parse(_str(item, "severity", where))
    except ValueError:
        severity = Severity.MEDIUM  # _finding says what is wrong with it
    name = _str(item, "name", where) or code
    return Rule(code=code, name=name, practice=practice, severity=severity, scope="object",
                kinds=None, check=_no_check, summary=name, what="", why="",
                how=_str(item, "remediation", where), example="",
                family=code.split("/")[0] if "/" in code else "custom", source="a report")


def _no_check(*_: Any) -> Iterator[Any]:
    return iter(())


def _finding(item: dict[str, Any], rule_: Rule, where: str) -> Finding:
    obj = _section(item, "object", dict, f"{where}.")
    try:
        severity = Severity.parse(_str(item, "severity", where))
    except ValueError:
        raise ReportError(f"{where}.severity: not a severity "
                          "(critical, high, medium, low, info)") from None
    owhere = f"{where}.object"
    return Finding(
        rule=rule_, severity=severity, file=_str(item, "file", where),
        line=_count(item, "line", where), column=_count(item, "column", where),
        api_version=_str(obj, "apiVersion", owhere), kind=_str(obj, "kind", owhere),
        namespace=_opt_str(obj, "namespace", owhere), name=_str(obj, "name", owhere),
        container=_opt_str(item, "container", where),
        path=_str(item, "path", where), message=_str(item, "message", where),
        source=_str(item, "source", where, "file") or "file",
        rendered_from=_opt_str(item, "renderedFrom", where))


def _checked(row: Any, where: str) -> CheckedObject:
    if not isinstance(row, list) or len(row) != 8:
        raise ReportError(f"{where}: expected a list of 8 fields")
    file, line, api_version, kind, namespace, name, families, practices = row
    fields = {"file": file, "apiVersion": api_version, "kind": kind, "name": name}
    for label, value in fields.items():
        if not isinstance(value, str):
            raise _wrong(f"{where} {label}", "a string", value)
    if not _is_int(line):
        raise _wrong(f"{where} line", "an integer", line)
    if namespace is not None and not isinstance(namespace, str):
        raise _wrong(f"{where} namespace", "a string or null", namespace)
    if not isinstance(families, list) or not all(isinstance(f, str) for f in families):
        raise ReportError(f"{where} families: expected a list of strings")
    if not isinstance(practices, list) or not all(_is_int(p) for p in practices):
        raise ReportError(f"{where} practices: expected a list of integers")
    return CheckedObject(file, line, api_version, kind, namespace, name,
                         frozenset(families), frozenset(practices))
