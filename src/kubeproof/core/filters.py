"""The filters applied once every input was checked: the Pod Security level of
each finding's namespace, config exemptions, and the baseline (and writing one).

They run after all files because the level of a namespace comes from its
Namespace object, which may be in any file (or a worker's files).
"""

from __future__ import annotations

import datetime as dt
import json

from kubeproof.core.config import Config, Exemption
from kubeproof.core.result import ScanResult
from kubeproof.model import Finding, InputError, PssLevel


def apply_filters(result: ScanResult, config: Config, default_level: str,
                  today: dt.date | None = None, baseline: set[str] | None = None
                  ) -> ScanResult:
    """Drop what the namespace's Pod Security level, the exemptions and the
    baseline leave out (counting each), then sort the findings by place."""
    levels = result.namespaces_pss
    kept: list[Finding] = []
    exemptions = config.exemptions
    today = today or dt.date.today()
    active = [e for e in exemptions if not e.expired(today)]
    for e in exemptions:
        if e.expired(today):
            result.warnings.append(InputError(
                config.path or ".kubeproof.yaml", e.line,
                f"exemption expired on {e.expires} and no longer applies: {e.reason}"))
    for f in result.findings:
        pss = f.rule.pss_level
        if pss is not None:
            level = levels.get(f.namespace or "", default_level) if f.namespace \
                else default_level
            if level == "privileged" or (level == "baseline" and pss == PssLevel.RESTRICTED):
                continue
        if active and _exempted(active, f):
            result.suppressed["exemption"] += 1
            continue
        if baseline is not None and f.fingerprint() in baseline:
            result.baselined += 1
            result.accepted.append(f)
            continue
        kept.append(f)
    kept.sort(key=lambda f: (f.file, f.line, f.column, f.rule.code))
    result.findings = kept
    return result


def _exempted(active: list[Exemption], f: Finding) -> bool:
    return any(e.matches(f.rule.code, f.kind, f.namespace, f.name) for e in active)


# ---------------------------------------------------------------- baselines

def write_baseline(path: str, findings: list[Finding]) -> None:
    entries = {
        f.fingerprint(): {
            "code": f.rule.code,
            "object": f"{f.kind}/{f.namespace + '/' if f.namespace else ''}{f.name}",
            "container": f.container,
            "path": f.path,
        }
        for f in findings
    }
    doc = {"kubeproof": "baseline", "version": 1, "findings": dict(sorted(entries.items()))}
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2)
        fh.write("\n")


def read_baseline(path: str) -> set[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read baseline: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}: baseline is not valid JSON: {exc.msg}") from None
    if not isinstance(doc, dict) or doc.get("kubeproof") != "baseline":
        raise ValueError(f"{path}: not a kubeproof baseline (write one with --write-baseline)")
    findings = doc.get("findings")
    if not isinstance(findings, dict):
        raise ValueError(f"{path}: baseline has no 'findings' mapping")
    return set(findings)
