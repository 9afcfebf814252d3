"""`kubeproof audit --vuln-report` against the fake API server of the audit tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.audit.fakeapi import (
    FakeApiServer,
    FakeCluster,
    load_manifests,
    make_tls,
    write_kubeconfig,
)

from .support import env_with, fx

CLUSTER = Path(__file__).parents[1] / "audit" / "fixtures" / "cluster.yaml"


def test_audit_matches_reports_to_live_workloads(tmp_path: Path) -> None:
    tls = make_tls(tmp_path / "tls")
    fake = FakeCluster()
    fake.add_all(load_manifests([CLUSTER]))
    (tmp_path / ".kubeproof.yaml").write_text("vulnerabilities:\n  maxAgeDays: 100000\n")
    with FakeApiServer(fake, tls) as server:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server.url, tls.ca_pem,
                                      fake.token)
        proc = subprocess.run(
            [sys.executable, "-m", "kubeproof", "audit", "--kubeconfig", str(kubeconfig),
             "--select", "KP1101,KP1102", "-f", "json",
             "--vuln-report", fx("trivy-busybox-clean.json"),
             "--vuln-report", fx("wrong-sarif.json")],
            capture_output=True, text=True, cwd=tmp_path, timeout=120, env=env_with({}))
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 2  # the SARIF file
    assert proc.stderr.startswith(f"{fx('wrong-sarif.json')}: a SARIF file")
    found = {(f["code"], f["file"], f["container"]) for f in json.loads(proc.stdout)["findings"]}
    # busybox:latest (CronJob report, Pod debug) has a clean report; the others have none
    assert found == {("KP1102", "fake/shop/Deployment/web", "web"),
                     ("KP1102", "fake/default/Deployment/hello", "hello"),
                     ("KP1102", "fake/kube-system/Pod/kube-apiserver-node-1", "kube-apiserver")}
