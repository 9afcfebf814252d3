"""Annotations, inline comments, config exemptions and baselines filter findings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from kubeproof.api import scan
from kubeproof.core.config import load_config
from kubeproof.core.filters import read_baseline, write_baseline


def cm(name: str, extra_meta: str = "", ns_line: str = "  namespace: default\n") -> str:
    return (f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n{ns_line}"
            f"{extra_meta}")


def codes(result: object) -> list[tuple[str, str]]:
    return [(f.rule.code, f.name) for f in result.findings]  # type: ignore[attr-defined]


def test_ignore_annotation_by_code_and_name(tmp_path: Path) -> None:
    p = tmp_path / "a.yaml"
    p.write_text(
        cm("by-code", "  annotations:\n    kubeproof.dev/ignore: KP0401\n"
           "    kubeproof.dev/ignore-reason: legacy\n") + "---\n"
        + cm("by-name", "  annotations:\n    kubeproof.dev/ignore: 'default-namespace, x'\n")
        + "---\n" + cm("kept"))
    result = scan([str(p)], select=["KP0401"])
    assert codes(result) == [("KP0401", "kept")]
    assert result.suppressed["annotation"] == 2


def test_annotation_on_pod_template_counts(tmp_path: Path) -> None:
    p = tmp_path / "d.yaml"
    p.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
                 "  namespace: default\nspec:\n  template:\n    metadata:\n      annotations:\n"
                 "        kubeproof.dev/ignore: KP04\n    spec:\n      containers: []\n")
    assert codes(scan([str(p)], select=["KP0401"])) == []


def test_config_can_forbid_annotations(tmp_path: Path) -> None:
    p = tmp_path / "a.yaml"
    p.write_text(cm("x", "  annotations:\n    kubeproof.dev/ignore: KP0401\n"))
    cfg = tmp_path / ".kubeproof.yaml"
    cfg.write_text("exemptions:\n  allowAnnotations: false\n")
    result = scan([str(p)], select=["KP0401"], config=load_config(cfg))
    assert codes(result) == [("KP0401", "x")]


def test_inline_comment_on_line_or_line_above(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text(
        cm("same-line", ns_line="  namespace: default  # kubeproof:ignore KP0401 legacy app\n")
        + "---\n"
        + cm("line-above", ns_line="  # kubeproof:ignore default-namespace, moving in Q3\n"
                                   "  namespace: default\n")
        + "---\n"
        + cm("other-rule", ns_line="  namespace: default  # kubeproof:ignore KP0101\n"))
    result = scan([str(p)], select=["KP0401"])
    assert codes(result) == [("KP0401", "other-rule")]
    assert result.suppressed["comment"] == 2


def test_config_exemptions_with_globs_and_expiry(tmp_path: Path) -> None:
    p = tmp_path / "a.yaml"
    p.write_text(cm("legacy-1") + "---\n" + cm("legacy-2") + "---\n" + cm("fresh"))
    cfg = tmp_path / ".kubeproof.yaml"
    cfg.write_text(
        "exemptions:\n  entries:\n"
        "  - rules: [default-namespace]\n    kind: ConfigMap\n    name: legacy-*\n"
        "    reason: migrating\n    expires: 2999-01-01\n"
        "  - rules: [KP0401]\n    name: fresh\n    reason: was temporary\n"
        "    expires: 2020-01-01\n")
    result = scan([str(p)], select=["KP0401"], config=load_config(cfg))
    assert codes(result) == [("KP0401", "fresh")]
    assert result.suppressed["exemption"] == 2
    [warning] = result.warnings
    assert warning.line == 8 and "expired on 2020-01-01" in warning.message
    assert dt.date(2020, 1, 1) < dt.date.today()


def test_baseline_reports_only_new_findings(tmp_path: Path) -> None:
    p = tmp_path / "a.yaml"
    p.write_text(cm("old"))
    before = scan([str(p)], select=["KP0401"])
    base = tmp_path / "baseline.json"
    write_baseline(str(base), before.findings)
    # lines move and a new object appears: only the new one is reported
    p.write_text("# a comment that shifts every line\n\n" + cm("old") + "---\n" + cm("new"))
    after = scan([str(p)], select=["KP0401"], baseline=read_baseline(str(base)))
    assert codes(after) == [("KP0401", "new")]
    assert after.baselined == 1
