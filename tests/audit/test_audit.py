"""``kubeproof audit`` against the fake API server: findings, owners, narrowing, paging."""

from __future__ import annotations

import json
from pathlib import Path

from kubeproof.core.result import ScanResult
from kubeproof.policies.in_cluster import POLICY_SPECS
from kubeproof.sources.cluster import AUDIT_KINDS
from tests.support.audit import Api
from tests.support.cli import kp


def by_object(result: ScanResult) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in result.findings:
        out.setdefault(f.file, set()).add(f.rule.code)
    return out


def checked(result: ScanResult) -> set[str]:
    return {c.file for c in result.checked}


def test_findings_carry_the_cluster_namespace_kind_name_identity(api: Api) -> None:
    result = api.audit(select=("KP0401", "KP0101"))
    assert not result.errors
    hello = [f for f in result.findings if f.rule.code == "KP0401"]
    assert [(f.file, f.line, f.column, f.source) for f in hello] == \
        [("fake/default/Deployment/hello", 1, 1, "cluster")]
    f = hello[0]
    assert (f.api_version, f.kind, f.namespace, f.name) == ("apps/v1", "Deployment", "default",
                                                            "hello")
    assert f.path == "metadata.namespace"
    web = [f for f in result.findings if f.file == "fake/shop/Deployment/web"]
    assert [(f.rule.code, f.container, f.path) for f in web] == \
        [("KP0101", "web", "spec.template.spec.containers[0].image")]


def test_checked_objects_come_in_one_order_whatever_order_the_lists_arrive_in(
        api: Api) -> None:
    # the kinds are listed concurrently (up to --max-requests at once)
    keys = [[(c.namespace or "", c.kind, c.name) for c in api.audit(max_requests=n).checked]
            for n in (1, 8, 8)]
    assert keys[0] == sorted(keys[0]) and len(keys[0]) > 10
    assert keys[1] == keys[0] and keys[2] == keys[0]


def test_set_rule_findings_are_placed_on_the_live_object(api: Api) -> None:
    result = api.audit(select=("KP0403", "KP1304"))
    assert not result.errors
    got = sorted((f.rule.code, f.file, f.line) for f in result.findings)
    assert ("KP1304", "fake/shop/Deployment/web", 1) in got
    assert ("KP0403", "fake/-/Namespace/shop", 1) in got


def test_owned_objects_are_judged_once_at_their_top_level_owner(api: Api) -> None:
    result = api.audit()
    assert not result.errors
    seen = checked(result)
    # judged: the Deployment, the CronJob, the bare Pod, the apiserver's mirror Pod
    assert {"fake/shop/Deployment/web", "fake/shop/CronJob/report", "fake/shop/Pod/debug",
            "fake/kube-system/Pod/kube-apiserver-node-1"} <= seen
    # not judged: the ReplicaSet and Pod of the Deployment, the Job and Pod of the CronJob
    assert not seen & {"fake/shop/ReplicaSet/web-5d4f8", "fake/shop/Pod/web-5d4f8-abcde",
                       "fake/shop/Job/report-28500000",
                       "fake/shop/Pod/report-28500000-xyz12"}
    assert not [f for f in result.findings if f.kind in ("ReplicaSet", "Job")]
    # each image finding once, on the owner
    latest = sorted(f.file for f in result.findings if f.rule.code == "KP0101")
    assert latest == ["fake/shop/CronJob/report", "fake/shop/Deployment/web",
                      "fake/shop/Pod/debug"]


def test_bare_replicaset_and_pods_of_custom_controllers_are_judged(api: Api) -> None:
    api.cluster.add({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {
        "name": "canary-7f9", "namespace": "shop", "ownerReferences": [
            {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "canary",
             "uid": "u-1", "controller": True}]},
        "spec": {"selector": {"matchLabels": {"app": "canary"}}, "template": {
            "metadata": {"labels": {"app": "canary"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:latest"}]}}}})
    api.cluster.add({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "wf-step-1", "namespace": "shop", "ownerReferences": [
            {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": "wf",
             "uid": "u-2", "controller": True}]},
        "spec": {"containers": [{"name": "main", "image": "nginx:latest"}]}})
    seen = checked(api.audit(select=("KP0101",)))
    assert {"fake/shop/ReplicaSet/canary-7f9", "fake/shop/Pod/wf-step-1"} <= seen


def test_cluster_rules_read_the_apiserver_mirror_pod(api: Api) -> None:
    result = api.audit(select=("KP0709", "KP0710", "KP1006", "KP1406", "KP1605"))
    assert not result.errors
    # KP0709: AlwaysAllow at its item, the missing hardening flags at the command list
    assert sorted((f.rule.code, f.file) for f in result.findings) == [
        ("KP0709", "fake/kube-system/Pod/kube-apiserver-node-1"),
        ("KP0709", "fake/kube-system/Pod/kube-apiserver-node-1"),
        ("KP0710", "fake/kube-system/Pod/kube-apiserver-node-1"),
        ("KP1006", "fake/kube-system/Pod/kube-apiserver-node-1"),
        ("KP1406", "fake/kube-system/Pod/kube-apiserver-node-1"),
        ("KP1605", "fake/kube-system/Pod/kube-apiserver-node-1"),
    ]


def test_default_namespace_rule_reports_only_workloads(api: Api) -> None:
    result = api.audit(select=("KP0401",))
    # the kubernetes Service and the default ServiceAccount live in default too
    assert checked(result) >= {"fake/default/Service/kubernetes",
                               "fake/default/ServiceAccount/default"}
    assert [f.file for f in result.findings] == ["fake/default/Deployment/hello"]


def test_every_audited_kind_is_listed_with_one_paginated_call(api: Api) -> None:
    api.audit()
    listed = {p for p, q in api.cluster.requests if "limit" in q}
    # and, first, the cluster's admission policies (policies.in_cluster)
    assert len(listed) == len(AUDIT_KINDS) + len(POLICY_SPECS)
    assert "/api/v1/pods" in listed and "/apis/apps/v1/deployments" in listed
    assert "/apis/autoscaling/v2/horizontalpodautoscalers" in listed  # the preferred version
    assert not any(p.endswith("/secrets") for p, _ in api.cluster.requests)
    assert all(q["limit"] == ["500"] for p, q in api.cluster.requests if "limit" in q)


def test_pagination_reads_more_objects_than_one_page(api: Api) -> None:
    for i in range(1234):
        api.cluster.add({"apiVersion": "v1", "kind": "Service",
                         "metadata": {"name": f"svc-{i:04d}", "namespace": "bulk"},
                         "spec": {"ports": [{"port": 80}]}})
    result = api.audit(select=("KP0501",), page_size=100)
    assert not result.errors
    services = [c for c in result.checked if c.kind == "Service"]
    assert len(services) == 1234 + 2
    assert len({c.file for c in services}) == len(services)
    calls = api.cluster.list_requests("/api/v1/services")
    assert len(calls) == 13
    assert sum("continue" in q for q in calls) == 12
    assert len([f for f in result.findings if f.kind == "Service"]) == 1236


def test_an_expired_continue_token_restarts_the_list_without_duplicates(api: Api) -> None:
    for i in range(25):
        api.cluster.add({"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": f"p-{i:02d}", "namespace": "bulk"},
                         "spec": {"containers": [{"name": "c", "image": "nginx:latest"}]}})
    api.cluster.expire_continue = {"pods"}
    result = api.audit(select=("KP0101",), page_size=10)
    assert not result.errors
    pods = [c.file for c in result.checked if c.kind == "Pod"]
    assert len(pods) == len(set(pods)) == 25 + 2  # + the bare debug pod and the mirror pod
    calls = api.cluster.list_requests("/api/v1/pods")
    assert sum("continue" not in q for q in calls) == 2  # the first list, then the restart


def test_namespace_narrows_the_lists_and_the_findings(api: Api) -> None:
    result = api.audit(namespace="shop")
    assert not result.errors
    assert {f.namespace or f.name for f in result.findings} == {"shop"}
    assert "KP0702" not in {f.rule.code for f in result.findings}  # a ClusterRoleBinding
    assert {c.namespace or c.name for c in result.checked} == {"shop"}
    paths = {p for p, q in api.cluster.requests if "limit" in q}
    namespaced = {p for p in paths if "/namespaces/" in p}
    assert "/api/v1/namespaces/shop/pods" in namespaced
    # and the cluster's admission policies, cluster-scoped (policies.in_cluster)
    assert paths - namespaced == {
        "/api/v1/namespaces", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies",
        "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings",
        "/apis/policies.kyverno.io/v1/validatingpolicies",
        "/apis/kyverno.io/v1/clusterpolicies"}
    assert all(q["fieldSelector"] == ["metadata.name=shop"]
               for p, q in api.cluster.requests if p == "/api/v1/namespaces")
    # the Namespace itself is judged (set rules about it)
    assert any(f.file == "fake/-/Namespace/shop" for f in result.findings)


def test_namespace_that_does_not_exist_is_an_error(api: Api) -> None:
    result = api.audit(namespace="nope")
    assert [e.message for e in result.errors] == ["namespace 'nope' does not exist"]


def test_concurrency_is_bounded_by_max_requests(api: Api) -> None:
    api.cluster.latency = 0.03
    api.audit(select=("KP0101",), max_requests=3)
    assert api.cluster.max_in_flight == 3
    api.cluster.max_in_flight = 0
    api.audit(select=("KP0101",), max_requests=1)
    assert api.cluster.max_in_flight == 1


def test_kube_version_comes_from_the_server(api: Api) -> None:
    from kubeproof.sources.cluster import connect, server_version

    # net.ipv4.tcp_keepalive_time is a safe sysctl from Kubernetes 1.29 on (KP0811)
    api.cluster.add({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "tuned", "namespace": "shop"}, "spec": {
        "securityContext": {"sysctls": [{"name": "net.ipv4.tcp_keepalive_time",
                                         "value": "600"}]},
        "containers": [{"name": "c", "image": "nginx:1.27"}]}})

    def sysctl_findings(**kw: object) -> list[str]:
        result = api.audit(select=("KP0811",), **kw)
        assert not result.errors and not result.warnings
        return [f.file for f in result.findings]

    api.cluster.version = ("1", "28+")  # as EKS and GKE report it
    assert server_version(connect(str(api.kubeconfig))) == (1, 28)
    assert sysctl_findings() == ["fake/shop/Pod/tuned"]
    api.cluster.version = ("1", "30")
    assert sysctl_findings() == []
    assert sysctl_findings(kube_version=(1, 28)) == ["fake/shop/Pod/tuned"]  # the flag wins
    api.cluster.version = ("1", "99")  # newer than known: capped, not refused
    assert sysctl_findings() == []


def test_json_report_of_an_audit(api: Api, tmp_path: Path) -> None:
    out = tmp_path / "audit.json"
    proc = api.cli("--select", "KP0401,KP0709", "--format", "json", "--output", str(out))
    assert proc.returncode == 1, proc.stderr  # KP0401 high, KP0709 critical
    report = json.loads(out.read_text())
    assert sorted((f["code"], f["file"], f["line"]) for f in report["findings"]) == [
        ("KP0401", "fake/default/Deployment/hello", 1),
        ("KP0709", "fake/kube-system/Pod/kube-apiserver-node-1", 1),
        ("KP0709", "fake/kube-system/Pod/kube-apiserver-node-1", 1)]
    assert report["errors"] == []
    assert proc.stdout == ""


def test_exit_codes_follow_fail_on_as_in_scan(api: Api) -> None:
    assert api.cli("--select", "KP0401", "--fail-on", "critical", "-q").returncode == 0
    assert api.cli("--select", "KP0401").returncode == 1
    assert api.cli("--select", "KP0401", "--fail-on", "none").returncode == 0
    assert api.cli("--select", "KP9999").returncode == 2


def test_text_and_sarif_reports(api: Api, tmp_path: Path) -> None:
    sarif = tmp_path / "audit.sarif"
    proc = api.cli("--select", "KP0401", "--no-color", "--format", "text", "--format", "sarif",
                   "--output", "-", "--output", str(sarif))
    assert proc.returncode == 1
    assert "fake/default/Deployment/hello" in proc.stdout
    assert "Traceback" not in proc.stderr
    doc = json.loads(sarif.read_text())
    [res] = doc["runs"][0]["results"]
    assert res["ruleId"] == "KP0401"
    loc = res["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"].endswith("fake/default/Deployment/hello")
    assert loc["region"]["startLine"] == 1


def test_exemption_annotations_on_live_objects_are_honoured(api: Api) -> None:
    [hello] = [o for o in api.cluster.stored("Deployment") if o["metadata"]["name"] == "hello"]
    hello["metadata"]["annotations"] = {"kubeproof.dev/ignore": "default-namespace",
                                        "kubeproof.dev/ignore-reason": "legacy demo"}
    result = api.audit(select=("KP0401",))
    assert result.findings == []
    assert result.suppressed["annotation"] == 1


def test_a_saved_audit_renders_as_sarif_with_cluster_locations(api: Api, tmp_path: Path
                                                                ) -> None:
    saved = tmp_path / "audit.json"
    assert api.cli("--select", "KP0401", "-f", "json", "-o", str(saved)).returncode == 1
    proc = kp("report", str(saved), "-f", "sarif", timeout=60)
    assert proc.returncode == 1, proc.stderr
    [res] = json.loads(proc.stdout)["runs"][0]["results"]
    assert res["ruleId"] == "KP0401"
    assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(
        "fake/default/Deployment/hello")
