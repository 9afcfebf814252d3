"""GitLab Code Quality report (the CodeClimate issue subset GitLab reads), for
``artifacts:reports:codequality``: merge requests show new and fixed findings.

A JSON array, one issue per finding and per input error::

    {"type": "issue", "check_name": "KP0401 default-namespace",
     "description": "KP0401 default-namespace: <message>",
     "categories": ["Security"], "severity": "critical",
     "fingerprint": "<unique in the report, stable across line moves>",
     "location": {"path": "deploy/web.yaml", "lines": {"begin": 5}}}

Severities map critical → ``blocker``, high → ``critical``, medium → ``major``,
low → ``minor``, info → ``info``; input errors are ``major`` issues named
``input-error``. Paths are relative to ``root`` (default: the working
directory, where GitLab runs the job) with forward slashes; files outside it
keep the path given. The fingerprint is the finding's (rule, object, container,
field: never the line), so GitLab tracks a finding across edits elsewhere; a
repeat within one report gets ``-2``, ``-3``... appended, as GitLab needs each
fingerprint once. A file name that is not UTF-8 shows U+FFFD for its bad bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import TYPE_CHECKING, Any

from kubeproof.model import Finding, InputError, Severity

if TYPE_CHECKING:
    from kubeproof.core.result import ScanResult

SEVERITIES = {
    Severity.CRITICAL: "blocker",
    Severity.HIGH: "critical",
    Severity.MEDIUM: "major",
    Severity.LOW: "minor",
    Severity.INFO: "info",
}


def _path(path: str, root: str) -> str:
    rel = path
    if os.path.isabs(path):
        try:
            rel = os.path.relpath(path, root)
        except ValueError:  # other drive on Windows
            rel = ".."
        if rel == ".." or rel.startswith(".." + os.sep):
            rel = path
    rel = rel.replace(os.sep, "/")
    while rel.startswith("./"):
        rel = rel[2:]
    return rel


def _issue(check: str, description: str, severity: str, fingerprint: str, path: str,
           line: int | None) -> dict[str, Any]:
    return {
        "type": "issue",
        "check_name": check,
        "description": description,
        "categories": ["Security"],
        "severity": severity,
        "fingerprint": fingerprint,
        "location": {"path": path, "lines": {"begin": max(1, int(line or 1))}},
    }


def _finding(f: Finding, root: str) -> dict[str, Any]:
    check = f"{f.rule.code} {f.rule.name}"
    return _issue(check, f"{check}: {f.message}", SEVERITIES[f.severity], f.fingerprint(),
                  _path(f.file, root), f.line)


def _error(err: InputError, root: str) -> dict[str, Any]:
    key = "\x1f".join(("input-error", err.file, err.message))
    return _issue("input-error", err.message, "major",
                  hashlib.sha256(key.encode()).hexdigest()[:32], _path(err.file, root), err.line)


def issues(result: ScanResult, *, root: str | None = None) -> list[dict[str, Any]]:
    """The report as a list of issues, fingerprints unique."""
    base = os.path.abspath(root if root is not None else os.getcwd())
    out = [_finding(f, base) for f in result.findings]
    out += [_error(e, base) for e in result.errors]
    seen: dict[str, int] = {}
    for issue in out:
        fp = issue["fingerprint"]
        n = seen[fp] = seen.get(fp, 0) + 1
        if n > 1:
            issue["fingerprint"] = f"{fp}-{n}"
    return out


def render(result: ScanResult, *, tool_version: str, color: bool = False,
           root: str | None = None) -> str:
    """The report as JSON text (``tool_version`` and ``color`` are not used)."""
    return json.dumps(issues(result, root=root), ensure_ascii=False, indent=1) + "\n"
