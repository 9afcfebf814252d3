"""``kubeproof audit --write-reports``: the audit's PolicyReports applied to the
(fake) cluster and read back with the real ``kubectl``, the reference client.

What is checked: one ``PolicyReport`` per namespace with findings and the
``ClusterPolicyReport``, whose results are exactly the audit's JSON findings
(policy = rule name, rule = code, fail, severity, the object) with matching
summaries; a second audit updates them in place (same uid, no duplicates) and
deletes those of namespaces left without findings; a missing CRD and a 403 are
one line and exit 2 with the audit's report still printed; without the flag
nothing is written.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from kubeproof.api import scan
from kubeproof.reports import cluster_reports
from kubeproof.reports.cluster_reports import MAX_OBJECT_BYTES, WriteFailed
from kubeproof.reports.policyreport import MAX_RESULTS
from kubeproof.sources import cluster
from tests.support.audit import Api
from tests.support.cli import invoke
from tests.support.fakeapi import _BY_KIND, POLICY_REPORTS
from tests.support.fakeapi_writes import OLD_SEVERITIES

KUBECTL = shutil.which("kubectl")
MANAGED = {"app.kubernetes.io/managed-by": "kubeproof"}


# ---------------------------------------------------------------- helpers

def kubectl(api: Api, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert KUBECTL, "kubectl must be on PATH for these tests"
    env = {**os.environ, "KUBECONFIG": str(api.kubeconfig),
           "HOME": str(tmp_path)}  # a fresh discovery cache
    return subprocess.run([KUBECTL, *args, "--request-timeout=20s"], capture_output=True,
                          text=True, env=env, timeout=90)


def read_back(api: Api, tmp_path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The PolicyReports (all namespaces) and ClusterPolicyReports, as kubectl gets them."""
    out = []
    for args in (("policyreports", "-A"), ("clusterpolicyreports",)):
        proc = kubectl(api, tmp_path, "get", *args, "-o", "json")
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        assert doc["kind"] == "List"
        out.append(doc["items"])
    return out[0], out[1]


def audit(api: Api, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``kubeproof audit -f json ARGS``: the process and its JSON report."""
    proc = api.cli("-f", "json", *args)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, json.loads(proc.stdout)


def finding_keys(report: dict[str, Any]) -> Counter[tuple[Any, ...]]:
    return Counter((f["name"], f["code"], "fail", f["severity"], f["object"]["kind"],
                    f["object"]["namespace"], f["object"]["name"], f["fingerprint"])
                   for f in report["findings"])


def result_keys(reports: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    keys: Counter[tuple[Any, ...]] = Counter()
    for rep in reports:
        for r in rep["results"]:
            if r["result"] == "error":
                continue
            (res,) = r["resources"]
            keys[(r["policy"], r["rule"], r["result"], r["severity"], res["kind"],
                  res.get("namespace"), res["name"], r["properties"]["fingerprint"])] += 1
    return keys


def names(reports: list[dict[str, Any]]) -> list[tuple[str | None, str]]:
    return sorted((r["metadata"].get("namespace"), r["metadata"]["name"]) for r in reports)


def versions(api: Api, tmp_path: Path) -> dict[tuple[str | None, str], str]:
    """(namespace, name) -> resourceVersion of every report."""
    namespaced, clusterwide = read_back(api, tmp_path)
    return {(r["metadata"].get("namespace"), r["metadata"]["name"]):
            r["metadata"]["resourceVersion"] for r in [*namespaced, *clusterwide]}


def fix_web(api: Api) -> None:
    """Fix KP0708 on shop/web: the token is no longer mounted."""
    (web,) = [d for d in api.cluster.stored("Deployment") if d["metadata"]["name"] == "web"]
    web["spec"]["template"]["spec"]["automountServiceAccountToken"] = False
    api.cluster.add(web)


def remove(api: Api, kind: str, namespace: str, name: str) -> None:
    del api.cluster.objects[_BY_KIND[kind]][(namespace, name)]


def test_help_says_the_audit_writes_only_with_the_flag() -> None:
    out = " ".join(invoke("audit", "--help", expect=0).stdout.split())
    assert "Read-only unless --write-reports" in out
    assert "Without this flag the audit writes nothing." in out


# ---------------------------------------------------------------- the reports

def test_reports_read_back_with_kubectl_hold_the_audit_findings(api: Api, tmp_path: Path
                                                                 ) -> None:
    proc, report = audit(api, "--write-reports")
    assert proc.returncode == 1, proc.stderr  # findings at or above high, all written
    assert "PolicyReports written to cluster/fake: 4 applied, 0 stale deleted" in proc.stderr
    namespaced, clusterwide = read_back(api, tmp_path)

    with_findings = {f["object"]["namespace"] for f in report["findings"]} - {None}
    assert names(namespaced) == [(ns, f"kubeproof-{ns}") for ns in sorted(with_findings)]
    assert names(clusterwide) == [(None, "kubeproof-cluster")]
    for rep in namespaced + clusterwide:
        assert rep["apiVersion"] == "wgpolicyk8s.io/v1alpha2"
        assert rep["metadata"]["labels"] == MANAGED
        assert rep["summary"] == {"pass": 0, "fail": len(rep["results"]), "warn": 0,
                                  "error": 0, "skip": 0}
        assert {r["source"] for r in rep["results"]} == {"kubeproof"}
    for rep in namespaced:  # each namespace's findings in its own report
        ns = rep["metadata"]["namespace"]
        assert {r["resources"][0]["namespace"] for r in rep["results"]} == {ns}
    # every finding exactly once, as the JSON report has it
    assert result_keys(namespaced + clusterwide) == finding_keys(report)
    assert sum(r["summary"]["fail"] for r in namespaced + clusterwide) == \
        len(report["findings"])


def test_a_second_audit_updates_the_reports_in_place_and_deletes_stale_ones(
        api: Api, tmp_path: Path) -> None:
    audit(api, "--write-reports")
    before, _ = read_back(api, tmp_path)
    by_name = {r["metadata"]["name"]: r for r in before}
    fix_web(api)  # one finding fewer in shop
    remove(api, "Pod", "kube-system", "kube-apiserver-node-1")  # kube-system: none left

    proc, report = audit(api, "--write-reports")
    assert "3 applied, 1 stale deleted" in proc.stderr, proc.stderr
    after, cluster_after = read_back(api, tmp_path)
    assert names(after) == [("default", "kubeproof-default"), ("shop", "kubeproof-shop")]
    assert names(cluster_after) == [(None, "kubeproof-cluster")]
    assert result_keys(after + cluster_after) == finding_keys(report)
    shop = next(r for r in after if r["metadata"]["name"] == "kubeproof-shop")
    old_shop = by_name["kubeproof-shop"]
    assert shop["metadata"]["uid"] == old_shop["metadata"]["uid"]  # updated, not recreated
    assert shop["metadata"]["resourceVersion"] != old_shop["metadata"]["resourceVersion"]
    assert shop["summary"]["fail"] == old_shop["summary"]["fail"] - 1
    gone = [r for r in shop["results"]
            if r["rule"] == "KP0708" and r["resources"][0]["name"] == "web"]
    assert gone == []
    # the deletion was conditional on what was listed
    deletes = [(p, q) for m, p, q in api.cluster.writes if m == "DELETE"]
    assert [p for p, _ in deletes] == [
        "/apis/wgpolicyk8s.io/v1alpha2/namespaces/kube-system/policyreports/"
        "kubeproof-kube-system"]


def test_without_the_flag_nothing_is_written(api: Api, tmp_path: Path) -> None:
    proc, report = audit(api)
    assert proc.returncode == 1 and report["findings"]
    assert api.cluster.writes == []
    assert not any("policyreports" in path for path, _ in api.cluster.requests)
    namespaced, clusterwide = read_back(api, tmp_path)
    assert namespaced == [] and clusterwide == []


def test_a_missing_crd_is_one_line_and_exit_2_after_the_report(api: Api) -> None:
    api.cluster.missing = set(POLICY_REPORTS)
    proc, report = audit(api, "--write-reports")
    assert proc.returncode == 2
    assert report["findings"]  # the audit's own output is there
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert errors == ["kubeproof: error: the cluster has no wgpolicyk8s.io/v1alpha2 "
                      "PolicyReport CRD: install it (kubectl apply -f https://"
                      "raw.githubusercontent.com/kyverno/kyverno/main/config/crds/policyreport/"
                      "wgpolicyk8s.io_policyreports.yaml and "
                      "wgpolicyk8s.io_clusterpolicyreports.yaml beside it; Kyverno brings "
                      "both) or drop --write-reports"]
    assert api.cluster.writes == []


@pytest.mark.parametrize(("denied", "line"), [
    (("patch", "policyreports.wgpolicyk8s.io"),
     'kubeproof: error: cannot patch policyreports.wgpolicyk8s.io "kubeproof-default" in '
     'namespace "default": 403 Forbidden (--write-reports needs list, create, patch and '
     "delete on policyreports and clusterpolicyreports in wgpolicyk8s.io)"),
    (("create", "policyreports.wgpolicyk8s.io"),
     'kubeproof: error: cannot create policyreports.wgpolicyk8s.io "kubeproof-default" in '
     'namespace "default": 403 Forbidden (--write-reports needs list, create, patch and '
     "delete on policyreports and clusterpolicyreports in wgpolicyk8s.io)"),
    (("list", "clusterpolicyreports.wgpolicyk8s.io"),
     "kubeproof: error: cannot list clusterpolicyreports.wgpolicyk8s.io at the cluster "
     "scope: 403 Forbidden (--write-reports needs list, create, patch and delete on "
     "policyreports and clusterpolicyreports in wgpolicyk8s.io)"),
])
def test_forbidden_is_one_line_naming_the_verb_and_the_resource(
        api: Api, denied: tuple[str, str], line: str) -> None:
    api.cluster.denied = {denied}
    proc, report = audit(api, "--write-reports")
    assert proc.returncode == 2
    assert report["findings"]
    assert [x for x in proc.stderr.splitlines() if "error" in x] == [line]


def test_a_forbidden_delete_keeps_the_report_and_says_so(api: Api, tmp_path: Path) -> None:
    audit(api, "--write-reports")
    remove(api, "Pod", "kube-system", "kube-apiserver-node-1")
    api.cluster.denied = {("delete", "policyreports.wgpolicyk8s.io")}
    proc, _ = audit(api, "--write-reports")
    assert proc.returncode == 2
    assert 'kubeproof: error: cannot delete policyreports.wgpolicyk8s.io ' \
           '"kubeproof-kube-system" in namespace "kube-system": 403 Forbidden' in proc.stderr
    assert ("kube-system", "kubeproof-kube-system") in names(read_back(api, tmp_path)[0])


def test_a_stale_report_rewritten_since_it_was_listed_is_not_deleted(api: Api) -> None:
    audit(api, "--write-reports")
    conn = cluster.connect(str(api.kubeconfig))
    (listed,) = cluster_reports._listed(conn, "PolicyReport", "kube-system")
    ref = cluster_reports.ReportRef("PolicyReport", "kube-system", "kubeproof-kube-system")
    rewritten = dict(api.cluster.stored("PolicyReport")[1])
    assert rewritten["metadata"]["name"] == ref.name
    api.cluster.add(rewritten)  # another run wrote it again: a new resourceVersion
    assert cluster_reports._delete(conn, ref, listed["metadata"]) is False
    assert ref.name in [r["metadata"]["name"] for r in api.cluster.stored("PolicyReport")]
    fresh = cluster_reports._listed(conn, "PolicyReport", "kube-system")[0]
    assert cluster_reports._delete(conn, ref, fresh["metadata"]) is True
    assert cluster_reports._delete(conn, ref, fresh["metadata"]) is False  # gone already


def test_an_incomplete_audit_writes_but_deletes_nothing(api: Api, tmp_path: Path) -> None:
    audit(api, "--write-reports")
    remove(api, "Pod", "kube-system", "kube-apiserver-node-1")
    api.cluster.forbidden = {"pods"}
    proc, report = audit(api, "--write-reports")
    assert proc.returncode == 2  # the audit's own coverage gap
    assert "3 applied, 0 stale deleted, 1 stale kept (the audit was incomplete)" in proc.stderr
    namespaced, clusterwide = read_back(api, tmp_path)
    assert ("kube-system", "kubeproof-kube-system") in names(namespaced)
    (cpolr,) = clusterwide
    errors = [r for r in cpolr["results"] if r["result"] == "error"]
    assert [e["message"] for e in errors] == [e["message"] for e in report["errors"]]
    assert any("cannot list pods" in e["message"] for e in errors)
    assert cpolr["summary"]["error"] == len(errors)


def test_namespace_writes_only_that_namespace(api: Api, tmp_path: Path) -> None:
    audit(api, "--write-reports")
    before = versions(api, tmp_path)
    fix_web(api)
    api.cluster.writes.clear()
    proc, _ = audit(api, "--namespace", "shop", "--write-reports")
    assert "1 applied, 0 stale deleted" in proc.stderr, proc.stderr
    assert [(m, p) for m, p, _ in api.cluster.writes] == [
        ("PATCH", "/apis/wgpolicyk8s.io/v1alpha2/namespaces/shop/policyreports/kubeproof-shop")]
    after = versions(api, tmp_path)
    assert after.keys() == before.keys()
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {("shop", "kubeproof-shop")}


def test_a_hand_edit_is_overwritten_and_foreign_reports_are_left_alone(
        api: Api, tmp_path: Path) -> None:
    audit(api, "--write-reports")
    proc = kubectl(api, tmp_path, "patch", "policyreport", "kubeproof-shop", "-n", "shop",
                   "--type", "merge", "-p", '{"summary": {"fail": 0}, "results": []}')
    assert proc.returncode == 0, proc.stderr
    # another tool's report in the same namespace, and one carrying kubeproof's label
    # but not its name: neither is kubeproof's to delete
    for name, labels in (("kyverno-shop", {"app.kubernetes.io/managed-by": "kyverno"}),
                         ("imposter", MANAGED)):
        doc = {"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
               "metadata": {"name": name, "namespace": "shop", "labels": labels},
               "results": [], "summary": {"pass": 1}}
        (tmp_path / f"{name}.json").write_text(json.dumps(doc))
        proc = kubectl(api, tmp_path, "create", "--validate=false", "-f",
                       str(tmp_path / f"{name}.json"))  # the fake serves no OpenAPI
        assert proc.returncode == 0, proc.stderr
    remove(api, "Pod", "kube-system", "kube-apiserver-node-1")
    proc, report = audit(api, "--write-reports")
    assert "3 applied, 1 stale deleted" in proc.stderr, proc.stderr
    namespaced, clusterwide = read_back(api, tmp_path)
    assert names(namespaced) == [("default", "kubeproof-default"), ("shop", "imposter"),
                                 ("shop", "kubeproof-shop"), ("shop", "kyverno-shop")]
    ours = [r for r in namespaced if r["metadata"]["name"].startswith("kubeproof-")]
    assert result_keys(ours + clusterwide) == finding_keys(report)


def test_secret_values_never_reach_the_reports(api: Api, tmp_path: Path) -> None:
    password = "Hunter2-S3cr3t-Value"  # the fixture's Secret shop/db
    env_value = "Pl41n-T3xt-Passw0rd-In-Env"
    api.cluster.add({"apiVersion": "apps/v1", "kind": "Deployment",
                     "metadata": {"name": "leaky", "namespace": "shop"},
                     "spec": {"selector": {"matchLabels": {"app": "leaky"}}, "template": {
                         "metadata": {"labels": {"app": "leaky"}},
                         "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                                  "env": [{"name": "DB_PASSWORD",
                                                           "value": env_value}]}]}}}})
    _, report = audit(api, "--read-secrets", "--write-reports")
    assert any(f["object"]["name"] == "leaky" and f["code"] == "KP1003"
               for f in report["findings"]), "the hard-coded credential is a finding"
    text = json.dumps(read_back(api, tmp_path))
    for value in (password, env_value):
        for form in (value, base64.b64encode(value.encode()).decode()):
            assert form not in text
            assert all(form not in json.dumps(p) for _, p, _ in api.cluster.writes)


def test_a_large_namespace_continues_in_parts_and_shrinks_back(api: Api, tmp_path: Path
                                                                ) -> None:
    for i in range(75):  # ~16 findings each: more than one report's MAX_RESULTS
        api.cluster.add({"apiVersion": "apps/v1", "kind": "Deployment",
                         "metadata": {"name": f"app-{i:03}", "namespace": "big"},
                         "spec": {"selector": {"matchLabels": {"app": f"a{i}"}}, "template": {
                             "metadata": {"labels": {"app": f"a{i}"}},
                             "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    proc, report = audit(api, "--write-reports")
    namespaced, clusterwide = read_back(api, tmp_path)
    big = [r for r in namespaced if r["metadata"]["namespace"] == "big"]
    assert [r["metadata"]["name"] for r in big] == ["kubeproof-big", "kubeproof-big-2"]
    assert len(big[0]["results"]) == MAX_RESULTS
    assert result_keys(namespaced + clusterwide) == finding_keys(report)
    for i in range(10, 75):
        remove(api, "Deployment", "big", f"app-{i:03}")
    proc, report = audit(api, "--write-reports")
    assert "1 stale deleted" in proc.stderr, proc.stderr
    namespaced, clusterwide = read_back(api, tmp_path)
    assert [r["metadata"]["name"] for r in namespaced if r["metadata"]["namespace"] == "big"] \
        == ["kubeproof-big"]
    assert result_keys(namespaced + clusterwide) == finding_keys(report)


def test_the_older_crd_gets_its_severities_and_keeps_the_real_ones(api: Api, tmp_path: Path
                                                                    ) -> None:
    api.cluster.report_severities = OLD_SEVERITIES  # wg-policy-prototypes' v1alpha2 CRD
    proc, report = audit(api, "--write-reports")
    assert proc.returncode == 1, proc.stderr
    assert "kubeproof: warning: the cluster's PolicyReport CRD takes only high, medium and " \
           "low severities" in proc.stderr
    assert "error" not in proc.stderr
    namespaced, clusterwide = read_back(api, tmp_path)
    results = [r for rep in namespaced + clusterwide for r in rep["results"]]
    assert {r["severity"] for r in results} <= set(OLD_SEVERITIES)
    real = Counter(r["properties"].get("severity", r["severity"]) for r in results)
    assert real == Counter(f["severity"] for f in report["findings"])
    assert real["critical"]  # the fixture has critical findings (and no info ones)


# ---------------------------------------------------------------- RBAC

RBAC_MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "audit-reports-rbac.yaml"
ALL_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")


def granted_by_the_manifest() -> set[tuple[str, str]]:
    """(verb, resource) the shipped ClusterRole grants."""
    docs = [d for d in yaml.safe_load_all(RBAC_MANIFEST.read_text()) if d]
    (role,) = [d for d in docs if d["kind"] == "ClusterRole"]
    return {(verb, f"{plural}.{group}") for rule in role["rules"] for group in rule["apiGroups"]
            for plural in rule["resources"] for verb in rule["verbs"]}


def test_the_shipped_rbac_is_exactly_what_writing_needs(api: Api, tmp_path: Path) -> None:
    granted = granted_by_the_manifest()
    assert granted == {(v, r) for v in ("list", "create", "patch", "delete")
                       for r in POLICY_REPORTS}
    # the fake denies every other verb on the reports: creating, updating and
    # deleting stale reports all work with exactly these
    api.cluster.denied = {(v, r) for v in ALL_VERBS for r in POLICY_REPORTS} - granted
    proc, _ = audit(api, "--write-reports")
    assert proc.returncode == 1, proc.stderr
    remove(api, "Pod", "kube-system", "kube-apiserver-node-1")
    proc, report = audit(api, "--write-reports")
    assert proc.returncode == 1 and "3 applied, 1 stale deleted" in proc.stderr, proc.stderr
    namespaced, clusterwide = read_back(api, tmp_path)
    assert result_keys(namespaced + clusterwide) == finding_keys(report)
    # and each of them is needed
    for verb in ("list", "create", "patch"):
        api.cluster.denied = {(v, r) for v in ALL_VERBS for r in POLICY_REPORTS} - \
            {g for g in granted if g[0] != verb}
        if verb == "create":
            api.cluster.objects.pop(_BY_KIND["PolicyReport"], None)
        proc, _ = audit(api, "--write-reports")
        assert proc.returncode == 2 and f"error: cannot {verb} " in proc.stderr, proc.stderr


def test_scan_of_the_rbac_manifest_finds_nothing() -> None:
    result = scan([str(RBAC_MANIFEST)])
    assert not result.errors and result.objects == 2
    assert result.findings == []


# ---------------------------------------------------------------- sizes

def _result(i: int, message: str) -> dict[str, Any]:
    return {"policy": "p", "rule": f"KP{i:04}", "result": "fail", "severity": "high",
            "message": message, "source": "kubeproof", "scored": True,
            "timestamp": {"seconds": 1, "nanos": 0}, "properties": {"path": "x" * 1024}}


def test_reports_are_cut_by_size_below_what_etcd_takes() -> None:
    results = [_result(i, "m" * 1024) for i in range(900)]  # ~2 MB in all
    parts = list(cluster_reports._parts("PolicyReport", "shop", results))
    assert [p["metadata"]["name"] for p in parts] == ["kubeproof-shop", "kubeproof-shop-2"]
    assert all(len(orjson.dumps(p)) <= MAX_OBJECT_BYTES for p in parts)  # as sent
    assert sum(len(p["results"]) for p in parts) == 900
    assert [p["summary"]["fail"] for p in parts] == [len(p["results"]) for p in parts]


def test_a_result_too_large_for_any_report_is_refused_before_sending() -> None:
    with pytest.raises(WriteFailed, match=r"more than a report object can hold: nothing "
                                          r"written"):
        list(cluster_reports._parts("PolicyReport", "shop", [_result(1, "m" * 2_000_000)]))
