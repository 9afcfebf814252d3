"""`kubeproof scan --vuln-report / --scan-images` as a user runs it: real subprocesses."""

from __future__ import annotations

import json
import subprocess
from functools import partial
from pathlib import Path

from tests.support.cli import kp
from tests.support.vulns import (
    CRON,
    PROXY,
    REPORT,
    SHOP,
    WEB,
    WORKER,
    fx,
    install_fake_trivy,
)

GOOD = ["trivy-nginx.json", "grype-proxy.json", "trivy-busybox-clean.json",
        "grype-api-clean.json", "trivy-batch-low.json", "trivy-cron-stale.json",
        "trivy-report-undated.json"]
# the fixture reports date from 2026-11-25: keep them fresh whatever the date today
CONFIG = "vulnerabilities:\n  maxAgeDays: 100000\n"


# every run here, as a user runs it, must be free of tracebacks
run = partial(kp, traceback_free=True)


def reports(*names: str) -> list[str]:
    return [a for n in names for a in ("--vuln-report", fx(n))]


def codes_lines(proc: subprocess.CompletedProcess[str]) -> list[tuple[str, int, str]]:
    doc = json.loads(proc.stdout)
    return sorted((f["code"], f["line"], f["severity"]) for f in doc["findings"])


def test_reports_give_findings_exit_1_and_json(tmp_path: Path) -> None:
    (tmp_path / ".kubeproof.yaml").write_text(CONFIG)
    proc = run("scan", str(SHOP), "--select", "KP11", "-f", "json", *reports(*GOOD),
              cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    assert codes_lines(proc) == [("KP1101", WEB, "critical"), ("KP1101", PROXY, "high"),
                                 ("KP1102", WORKER, "medium"), ("KP1103", REPORT, "low")]
    web = next(f for f in json.loads(proc.stdout)["findings"] if f["line"] == WEB)
    assert web["container"] == "web" and len(web["message"]) < 800
    assert web["remediation"].startswith("Rebuild the image on a patched base")


def test_stale_report_and_expired_ignore_warning(tmp_path: Path) -> None:
    (tmp_path / ".kubeproof.yaml").write_text(
        "vulnerabilities:\n  maxAgeDays: 30\n  ignore:\n    - id: CVE-2024-0001\n"
        "      reason: old decision\n      expires: 2020-01-01\n")
    proc = run("scan", str(SHOP), "--select", "KP1103", "-f", "json",
              *reports("trivy-cron-stale.json"), cwd=tmp_path)
    assert proc.returncode == 0  # KP1103 is low, below --fail-on high
    assert [(c, ln) for c, ln, _ in codes_lines(proc)] == [("KP1103", CRON)]
    assert proc.stderr.strip() == (
        f"{tmp_path / '.kubeproof.yaml'}:4: warning: vulnerabilities.ignore entry "
        "CVE-2024-0001 expired on 2020-01-01 and no longer applies: old decision")


def test_wrong_files_exit_2_and_the_other_reports_are_used(tmp_path: Path) -> None:
    (tmp_path / ".kubeproof.yaml").write_text(CONFIG)
    proc = run("scan", str(SHOP), "--select", "KP1101", "-f", "json",
              *reports("wrong-sarif.json", "trivy-nginx.json", "wrong-report.yaml",
                       "wrong-cyclonedx.json"),
              "--vuln-report", str(tmp_path / "missing.json"), cwd=tmp_path)
    assert proc.returncode == 2
    assert codes_lines(proc) == [("KP1101", WEB, "critical")]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 4
    assert lines[0].startswith(f"{fx('wrong-sarif.json')}: a SARIF file, not a vulnerability")
    assert lines[1].startswith(f"{fx('wrong-report.yaml')}:1: not JSON; expected Trivy JSON")
    assert lines[2].startswith(f"{fx('wrong-cyclonedx.json')}: a CycloneDX SBOM")
    assert lines[3] == (f"{tmp_path / 'missing.json'}: cannot read vulnerability report: "
                        "No such file or directory")
    assert len(json.loads(proc.stdout)["errors"]) == 4


def test_without_reports_the_vulnerability_rules_do_not_run(tmp_path: Path) -> None:
    proc = run("scan", str(SHOP), "--no-config", "--select", "KP11", "-f", "json", cwd=tmp_path)
    assert proc.returncode == 0 and json.loads(proc.stdout)["findings"] == []


def test_text_and_sarif_reports(tmp_path: Path) -> None:
    (tmp_path / ".kubeproof.yaml").write_text(CONFIG)
    text = run("scan", str(SHOP), "--select", "KP1101", "--no-color",
              *reports("trivy-nginx.json"), cwd=tmp_path)
    assert "KP1101 image-vulnerable" in text.stdout and "CVE-2024-0001 critical" in text.stdout
    sarif = run("scan", str(SHOP), "--select", "KP1101", "-f", "sarif",
               *reports("trivy-nginx.json"), cwd=tmp_path)
    [result] = json.loads(sarif.stdout)["runs"][0]["results"]
    assert result["ruleId"] == "KP1101"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == WEB


def test_scan_images_without_trivy_on_path(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    proc = run("scan", str(SHOP), "--no-config", "--select", "KP1102", "-f", "json",
              "--scan-images", cwd=tmp_path, env={"PATH": str(tmp_path / "empty")})
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("--scan-images: trivy is not on PATH, so 8 image(s) were "
                                   "not scanned (install trivy, or pass reports with "
                                   "--vuln-report)")
    assert len(json.loads(proc.stdout)["findings"]) == 8


def test_scan_images_with_trivy_on_path(tmp_path: Path) -> None:
    log = tmp_path / "trivy.log"
    env = install_fake_trivy(tmp_path / "bin", log)
    proc = run("scan", str(SHOP), "--no-config", "--select", "KP1101,KP1102", "-f", "json",
              "--scan-images", *reports("trivy-nginx.json"), cwd=tmp_path, env=env)
    assert proc.returncode == 1, proc.stderr
    assert len(log.read_text().splitlines()) == 7  # not nginx: it has a report
    found = codes_lines(proc)
    assert all(code == "KP1101" for code, _, _ in found) and len(found) == 8


def test_audit_accepts_the_same_options() -> None:
    proc = kp("audit", "--help", timeout=60)
    assert "--vuln-report" in proc.stdout and "--scan-images" in proc.stdout
