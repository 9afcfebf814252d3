"""SARIF 2.1.0 report, as GitHub code scanning and other SARIF viewers read it.

One run. ``tool.driver.rules`` holds one reportingDescriptor per rule that ran
(``ruleIndex`` points into it); each finding is a result with its level
(critical/high → ``error``, medium → ``warning``, low/info → ``note``), a
physical location (path relative to ``%SRCROOT%`` with forward slashes, or an
absolute ``file://`` URI for files outside the root), a logical location for
the Kubernetes object and ``partialFingerprints["kubeproof/v1"]`` so that
code scanning tracks a finding across line moves. Input errors and warnings
are ``toolExecutionNotifications`` of the invocation, which is unsuccessful
when there are errors. Rules carry ``security-severity`` (a numeric string,
as GitHub expects) and the ``security`` tag.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from kubeproof.model import PRACTICES, Finding, InputError, Rule, Severity

if TYPE_CHECKING:
    from kubeproof.core.result import ScanResult

SCHEMA_URI = ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
              "sarif-schema-2.1.0.json")
INFORMATION_URI = "https://github.com/kubeproof/kubeproof"
RULES_DOC_URI = INFORMATION_URI + "/blob/main/docs/rules.md"
FINGERPRINT_KEY = "kubeproof/v1"
SRCROOT = "%SRCROOT%"

LEVELS: dict[Severity, str] = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
SEVERITY_LABELS: dict[Severity, str] = {s: s.label for s in Severity}
SECURITY_SEVERITY: dict[Severity, str] = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "1.0",
}


def pascal_case(name: str) -> str:
    """``default-namespace`` → ``DefaultNamespace``."""
    return "".join(part[:1].upper() + part[1:] for part in name.replace("_", "-").split("-"))


def help_uri(rule: Rule) -> str:
    """The rule's section of docs/rules.md (what SARIF viewers and the HTML report link);
    empty for a rule defined elsewhere (a custom rule, a policy: ``rule.source``)."""
    return "" if rule.source else f"{RULES_DOC_URI}#{rule.code.lower()}-{rule.name}"


def strip_fence(example: str) -> str:
    """A rule's example without its Markdown code fence."""
    lines = example.strip().splitlines()
    if lines and lines[0].startswith("```"):
        lines = lines[1:]
    if lines and lines[-1].strip() == "```":
        lines = lines[:-1]
    return "\n".join(lines)


def rule_descriptor(rule: Rule) -> dict[str, Any]:
    example = rule.example.strip()
    fenced = example if example.startswith("```") else f"```yaml\n{example}\n```"
    text = (f"{rule.summary}\n\nWhat: {rule.what}\n\nWhy: {rule.why}\n\nHow: {rule.how}"
            + (f"\n\nExample:\n{strip_fence(example)}" if example else ""))
    markdown = (f"**{rule.code} {rule.name}**: {rule.summary}\n\n**What.** {rule.what}\n\n"
                f"**Why.** {rule.why}\n\n**How.** {rule.how}"
                + (f"\n\n**Example**\n\n{fenced}" if example else ""))
    if rule.source:  # a custom rule or a policy: documented where it is defined
        text += f"\n\nDefined in: {rule.source}"
        markdown += f"\n\nDefined in `{rule.source}`."
    descriptor: dict[str, Any] = {
        "id": rule.code,
        "name": pascal_case(rule.name),
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.what or rule.summary},
        "help": {"text": text, "markdown": markdown},
        "helpUri": help_uri(rule),
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {
            "name": rule.name,
            "practice": rule.practice,
            "practiceName": PRACTICES.get(rule.practice, ""),
            "family": rule.family,
            "severity": rule.severity.label,
            "tags": ["security", "kubernetes", f"practice-{rule.practice}", rule.family],
            "security-severity": SECURITY_SEVERITY[rule.severity],
        },
    }
    if not descriptor["helpUri"]:
        del descriptor["helpUri"]
    return descriptor


class _Uris:
    """Artifact locations per file path, cached (many findings share a file)."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self.cache: dict[str, dict[str, str]] = {}

    def __call__(self, path: str) -> dict[str, str]:
        hit = self.cache.get(path)
        if hit is None:
            hit = self.cache[path] = self._make(path)
        return hit

    def _make(self, path: str) -> dict[str, str]:
        if path.startswith("<") and path.endswith(">"):  # <stdin>
            return {"uri": quote(path.strip("<>"), safe="")}
        rel = path
        if os.path.isabs(path):
            try:
                rel = os.path.relpath(path, self.root)
            except ValueError:  # other drive on Windows
                rel = ".."
            if rel == ".." or rel.startswith(".." + os.sep):
                return {"uri": Path(path).as_uri()}
        rel = rel.replace(os.sep, "/")
        while rel.startswith("./"):
            rel = rel[2:]
        return {"uri": quote(rel, safe="/"), "uriBaseId": SRCROOT}


def _region(line: int | None, column: int | None = None) -> dict[str, int]:
    region = {"startLine": max(1, int(line or 1))}
    if column is not None:
        region["startColumn"] = max(1, int(column))
    return region


def _result(f: Finding, index: int, uris: _Uris) -> dict[str, Any]:
    sev = f.severity
    props: dict[str, Any] = {"severity": SEVERITY_LABELS[sev]}
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": uris(f.file),
            "region": {"startLine": f.line if f.line >= 1 else 1,
                       "startColumn": f.column if f.column >= 1 else 1},
        },
    }
    if f.kind or f.name:
        ns = f.namespace
        fq = f"{f.kind}/{ns}/{f.name}" if ns else f"{f.kind}/{f.name}"
        location["logicalLocations"] = [{"name": f.name, "fullyQualifiedName": fq,
                                         "kind": "resource"}]
        props["object"] = {"apiVersion": f.api_version, "kind": f.kind, "namespace": ns,
                           "name": f.name}
    if f.container:
        props["container"] = f.container
    if f.path:
        props["path"] = f.path
    return {
        "ruleId": f.rule.code,
        "ruleIndex": index,
        "level": LEVELS[sev],
        "message": {"text": f.message},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint()},
        "properties": props,
    }


def _notification(err: InputError, level: str, uris: _Uris) -> dict[str, Any]:
    note: dict[str, Any] = {"level": level, "message": {"text": err.message}}
    if err.file:
        note["locations"] = [{"physicalLocation": {
            "artifactLocation": uris(err.file),
            "region": _region(err.line),
        }}]
    return note


def sarif_log(result: ScanResult, *, tool_version: str, root: str | None = None) -> dict[str, Any]:
    """The SARIF log as a dict. ``root`` (default: the working directory) is
    what ``%SRCROOT%`` stands for; paths under it are written relative to it."""
    rules = list(result.rules)
    index = {r.code: i for i, r in enumerate(rules)}
    for f in result.findings:  # a finding whose rule is not listed still needs a descriptor
        if f.rule.code not in index:
            index[f.rule.code] = len(rules)
            rules.append(f.rule)
    uris = _Uris(root if root is not None else os.getcwd())
    results = [_result(f, index[f.rule.code], uris) for f in result.findings]
    notifications = ([_notification(e, "error", uris) for e in result.errors]
                     + [_notification(w, "warning", uris) for w in result.warnings])
    invocation: dict[str, Any] = {"executionSuccessful": not result.errors}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": "kubeproof",
            "version": tool_version,
            "informationUri": INFORMATION_URI,
            "rules": [rule_descriptor(r) for r in rules],
        }},
        "invocations": [invocation],
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    if root is not None:
        base = Path(uris.root).as_uri()
        run["originalUriBaseIds"] = {SRCROOT: {"uri": base if base.endswith("/") else base + "/"}}
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render(result: ScanResult, *, tool_version: str, color: bool = False,
           root: str | None = None, indent: int | None = None) -> str:
    """The SARIF log as JSON text (compact unless ``indent`` is given: SARIF is
    read by tools, and Python's indenting encoder is slow on large results)."""
    log = sarif_log(result, tool_version=tool_version, root=root)
    return json.dumps(log, ensure_ascii=False, indent=indent) + "\n"
