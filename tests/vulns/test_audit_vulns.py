"""`kubeproof audit --vuln-report` against the fake API server of the audit tests."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.audit import Api
from tests.support.cli import kp
from tests.support.vulns import fx


def test_audit_matches_reports_to_live_workloads(api: Api, tmp_path: Path) -> None:
    (tmp_path / ".kubeproof.yaml").write_text("vulnerabilities:\n  maxAgeDays: 100000\n")
    proc = kp("audit", "--kubeconfig", str(api.kubeconfig), "--select", "KP1101,KP1102",
              "-f", "json", "--vuln-report", fx("trivy-busybox-clean.json"),
              "--vuln-report", fx("wrong-sarif.json"), cwd=tmp_path)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 2  # the SARIF file
    assert proc.stderr.startswith(f"{fx('wrong-sarif.json')}: a SARIF file")
    found = {(f["code"], f["file"], f["container"]) for f in json.loads(proc.stdout)["findings"]}
    # busybox:latest (CronJob report, Pod debug) has a clean report; the others have none
    assert found == {("KP1102", "fake/shop/Deployment/web", "web"),
                     ("KP1102", "fake/default/Deployment/hello", "hello"),
                     ("KP1102", "fake/kube-system/Pod/kube-apiserver-node-1", "kube-apiserver")}
