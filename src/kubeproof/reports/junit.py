"""JUnit XML report, for the test tabs of CI systems.

    <testsuites name="kubeproof" tests failures errors>
      <testsuite name="kubeproof.<family>">        one per rule family (rule module)
        <testcase name="Kind/ns/name [family]" classname="<file>" file="<file>">
          <failure type="<worst severity>" message="...">one line per finding</failure>
        </testcase>
      </testsuite>
      <testsuite name="kubeproof.input">          input errors, one <error> test case each
    </testsuites>

One test case per object and rule family; it fails with the findings of that
family on that object: every object the scan checked (``result.checked``) has
a test case for each rule family that ran on it, passing when clean.
``fail_on`` (a severity) makes findings below it informational: listed in the
test case's ``system-out`` rather than failing it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from kubeproof.model import Finding, Severity
from kubeproof.reports import finding_key, object_key, object_label

if TYPE_CHECKING:
    from kubeproof.core.result import ScanResult

# Characters XML 1.0 cannot carry at all, even escaped.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

Key = tuple[str, str, str, str]


def _clean(text: str) -> str:
    return _ILLEGAL.sub("\ufffd", text) if _ILLEGAL.search(text) else text


def _label(key: Key, line: int) -> str:
    _file, kind, ns, name = key
    if not kind and name.startswith("#"):
        return f"document at line {line}"
    return object_label(kind or "?", ns, name)


def _finding_line(f: Finding) -> str:
    where = f"line {f.line}:{f.column}"
    container = f" container {f.container!r}" if f.container else ""
    return (f"{f.rule.code} {f.severity.label} {where} {f.rule.name}{container}: {f.message}\n"
            f"    fix: {f.rule.remediation}")


class _Case:
    __slots__ = ("file", "findings", "key", "line")

    def __init__(self, key: Key, file: str, line: int) -> None:
        self.key = key
        self.file = file
        self.line = line
        self.findings: list[Finding] = []


def junit_tree(result: ScanResult, *, tool_version: str,
               fail_on: Severity | str | None = None) -> ET.Element:
    threshold = Severity.parse(fail_on) if isinstance(fail_on, str) else fail_on
    families: dict[str, str] = {}  # family -> lowest code, for ordering
    for r in result.rules:
        if r.family not in families or r.code < families[r.family]:
            families[r.family] = r.code
    cases: dict[str, dict[Key, _Case]] = {}
    for obj in result.checked:
        key = object_key(obj.file, obj.kind, obj.namespace, obj.name)
        for fam in obj.families:
            per = cases.setdefault(fam, {})
            if key not in per:
                per[key] = _Case(key, obj.file, obj.line)
    for f in result.findings:
        fam = f.rule.family
        families.setdefault(fam, f.rule.code)
        per = cases.setdefault(fam, {})
        key = finding_key(f)
        case = per.get(key)
        if case is None:
            case = per[key] = _Case(key, f.file, f.line)
        case.findings.append(f)

    root = ET.Element("testsuites", name="kubeproof")
    total_tests = total_failures = total_errors = 0
    for fam in sorted(families, key=lambda fam: (families[fam], fam)):
        in_family = cases.get(fam)
        if not in_family:
            continue
        suite = ET.SubElement(root, "testsuite", name=f"kubeproof.{fam}")
        failures = 0
        for case in sorted(in_family.values(), key=lambda c: (c.file, c.line, c.key)):
            label = _label(case.key, case.line)
            tc = ET.SubElement(suite, "testcase", name=_clean(f"{label} [{fam}]"),
                               classname=_clean(case.file), file=_clean(case.file),
                               line=str(max(1, case.line)))
            if not case.findings:
                continue
            case.findings.sort(key=lambda f: (f.line, f.column, f.rule.code))
            failing = case.findings if threshold is None else [
                f for f in case.findings if f.severity >= threshold]
            informational = [f for f in case.findings if threshold is not None
                             and f.severity < threshold]
            if failing:
                failures += 1
                worst = max(f.severity for f in failing)
                first = failing[0]
                more = f" (+{len(failing) - 1} more)" if len(failing) > 1 else ""
                el = ET.SubElement(tc, "failure", type=worst.label,
                                   message=_clean(f"{first.rule.code} {first.message}{more}"))
                el.text = _clean("\n".join(_finding_line(f) for f in failing))
            if informational:
                out = ET.SubElement(tc, "system-out")
                out.text = _clean("\n".join(_finding_line(f) for f in informational))
        _counts(suite, len(in_family), failures, 0)
        total_tests += len(in_family)
        total_failures += failures

    if result.errors or result.warnings:
        suite = ET.SubElement(root, "testsuite", name="kubeproof.input")
        for err in result.errors:
            where = f"{err.file}:{err.line}" if err.line else err.file
            tc = ET.SubElement(suite, "testcase", name=_clean(where), classname=_clean(err.file),
                               file=_clean(err.file), line=str(max(1, err.line or 1)))
            el = ET.SubElement(tc, "error", type="InputError", message=_clean(err.message))
            el.text = _clean(str(err))
        if result.warnings:
            out = ET.SubElement(suite, "system-out")
            out.text = _clean("\n".join(f"warning: {w}" for w in result.warnings))
        _counts(suite, len(result.errors), 0, len(result.errors))
        total_tests += len(result.errors)
        total_errors += len(result.errors)

    _counts(root, total_tests, total_failures, total_errors)
    return root


def _counts(el: ET.Element, tests: int, failures: int, errors: int) -> None:
    el.set("tests", str(tests))
    el.set("failures", str(failures))
    el.set("errors", str(errors))
    if el.tag == "testsuite":
        el.set("skipped", "0")


def render(result: ScanResult, *, tool_version: str, color: bool = False,
           fail_on: Severity | str | None = None) -> str:
    """The JUnit XML document (UTF-8 text with an XML declaration)."""
    root = junit_tree(result, tool_version=tool_version, fail_on=fail_on)
    ET.indent(root)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            + ET.tostring(root, encoding="unicode") + "\n")
