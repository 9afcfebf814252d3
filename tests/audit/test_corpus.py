"""The same objects give the same findings whether scanned as files or audited live.

Each corpus repository is served by the fake API server exactly as stored
(namespaced objects without a namespace land in ``demo``) and written out as
one manifest file; ``scan`` of the file and ``audit`` of the server must agree
on every finding, except where the audit deliberately differs: KP1004 (Secret
values in a manifest) does not run, KP0401 reports only workloads, and kinds
the audit does not list (ConfigMaps, for instance) are not judged.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kubeproof.api import scan
from kubeproof.cli.commands.audit import AuditOptions, run_audit
from kubeproof.k8s.workloads import WORKLOAD_KINDS
from kubeproof.model import Finding
from kubeproof.sources.cluster import AUDIT_KINDS
from tests.support.fakeapi import FakeApiServer, FakeCluster, Tls, load_manifests, write_kubeconfig
from tests.support.paths import CORPUS

AUDITED = {k.kind for k in AUDIT_KINDS} | {"Secret"}


def key(f: Finding) -> tuple[str, str, str | None, str, str | None, str, str]:
    return (f.rule.code, f.kind, f.namespace, f.name, f.container, f.path, f.message)


def expected_in_audit(f: Finding) -> bool:
    if f.rule.code == "KP1004" or f.kind not in AUDITED:
        return False
    return f.rule.code != "KP0401" or f.kind in WORKLOAD_KINDS


@pytest.mark.parametrize("repo", [
    "GoogleCloudPlatform__microservices-demo/release",
    "argoproj__argo-cd/manifests/install.yaml",
    "prometheus-operator__kube-prometheus/manifests",
    "kubernetes__ingress-nginx/deploy/static/provider/cloud",
])
def test_audit_and_scan_agree_on_a_corpus_repository(repo: str, tls: Tls, tmp_path: Path
                                                     ) -> None:
    cluster = FakeCluster()
    served = cluster.add_all(load_manifests([CORPUS / repo]), default_namespace="demo")
    assert served > 10
    stored = [o for objs in cluster.objects.values() for o in objs.values()]
    manifest = tmp_path / "cluster.yaml"
    manifest.write_text(yaml.safe_dump_all(stored))
    scanned = scan([str(manifest)], kube_version=(1, 30))  # the fake server's version
    assert not scanned.errors
    with FakeApiServer(cluster, tls) as server:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server.url, tls.ca_pem,
                                      cluster.token)
        audited = run_audit(AuditOptions(kubeconfig=str(kubeconfig), read_secrets=True))
    assert not audited.errors and not audited.warnings
    want = sorted(key(f) for f in scanned.findings if expected_in_audit(f))
    assert sorted(key(f) for f in audited.findings) == want
    assert len(want) > 20
    assert {f.file.split("/")[0] for f in audited.findings} == {"fake"}
