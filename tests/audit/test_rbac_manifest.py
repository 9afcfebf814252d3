"""deploy/audit-rbac.yaml: exactly the audit's resources, read verbs only, scans clean."""

from __future__ import annotations

from pathlib import Path

import yaml

from kubeproof.api import scan
from kubeproof.model import Severity
from kubeproof.sources.cluster import AUDIT_KINDS, SECRETS

MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "audit-rbac.yaml"


def docs() -> list[dict]:
    return [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]


def test_scan_of_the_rbac_manifest_reports_nothing_at_high_or_above() -> None:
    result = scan([str(MANIFEST)])
    assert not result.errors
    assert [f for f in result.findings if f.severity >= Severity.HIGH] == []
    assert result.objects == 4


def test_cluster_role_grants_read_verbs_on_exactly_the_audited_resources() -> None:
    [role] = [d for d in docs() if d["kind"] == "ClusterRole"]
    granted = set()
    for rule in role["rules"]:
        assert rule["verbs"] == ["get", "list", "watch"]
        assert set(rule) == {"apiGroups", "resources", "verbs"}
        for group in rule["apiGroups"]:
            granted |= {(group, r) for r in rule["resources"]}
    assert granted == {(k.group, k.plural) for k in AUDIT_KINDS}
    assert (SECRETS.group, SECRETS.plural) not in granted


def test_binding_ties_the_role_to_the_service_account_in_its_namespace() -> None:
    by_kind = {d["kind"]: d for d in docs()}
    assert set(by_kind) == {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"}
    ns = by_kind["Namespace"]["metadata"]
    assert ns["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    sa = by_kind["ServiceAccount"]["metadata"]
    assert sa["namespace"] == ns["name"]
    binding = by_kind["ClusterRoleBinding"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io",
                                  "kind": "ClusterRole",
                                  "name": by_kind["ClusterRole"]["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["name"],
                                    "namespace": sa["namespace"]}]
