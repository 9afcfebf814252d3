"""The fake API server writes PolicyReports as a real one does: the real
``kubectl`` creates, replaces, applies (server-side), patches, lists and deletes
them and gets the answers a real server gives (409s, 404s, 422s, conflicts of
field managers), so ``audit --write-reports`` is tested against real semantics.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.audit import Api
from tests.support.fakeapi import POLICY_REPORTS

KUBECTL = shutil.which("kubectl")


def kubectl(api: Api, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert KUBECTL, "kubectl must be on PATH for these tests"
    env = {**os.environ, "KUBECONFIG": str(api.kubeconfig), "HOME": str(tmp_path)}
    return subprocess.run([KUBECTL, *args, "--request-timeout=20s"], capture_output=True,
                          text=True, env=env, timeout=90)


def report(name: str = "r1", namespace: str = "shop", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
            "metadata": {"name": name, "namespace": namespace, "labels": {"team": "a"}},
            "results": [{"policy": "p", "rule": "r", "result": "fail", "severity": "high"}],
            "summary": {"fail": 1}, **extra}


def put_file(tmp_path: Path, doc: dict[str, Any], name: str = "doc.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def get(api: Api, tmp_path: Path, *args: str) -> Any:
    proc = kubectl(api, tmp_path, "get", *args, "-o", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_create_get_list_and_create_again(api: Api, tmp_path: Path) -> None:
    doc = put_file(tmp_path, report(extra_field="pruned"))
    proc = kubectl(api, tmp_path, "create", "--validate=false", "-f", doc)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "policyreport.wgpolicyk8s.io/r1 created"
    got = get(api, tmp_path, "polr", "r1", "-n", "shop")
    assert got["kind"] == "PolicyReport" and got["metadata"]["generation"] == 1
    assert got["metadata"]["uid"] and got["metadata"]["resourceVersion"]
    assert "extra_field" not in got  # the structural schema prunes unknown fields
    assert "managedFields" not in got["metadata"]  # kubectl hides them, as from a real server
    stored = api.cluster.stored("PolicyReport")[0]
    assert stored["metadata"]["managedFields"][0]["manager"] == "kubectl-create"
    proc = kubectl(api, tmp_path, "get", "--raw", "/apis/wgpolicyk8s.io/v1alpha2/policyreports")
    raw = json.loads(proc.stdout)
    assert raw["kind"] == "PolicyReportList" and raw["apiVersion"] == "wgpolicyk8s.io/v1alpha2"
    assert [(i["kind"], i["metadata"]["name"]) for i in raw["items"]] == [("PolicyReport", "r1")]
    listed = get(api, tmp_path, "policyreports", "-A", "-l", "team=a")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["r1"]
    assert get(api, tmp_path, "policyreports", "-A", "-l", "team notin (a)")["items"] == []
    proc = kubectl(api, tmp_path, "create", "--validate=false", "-f", doc)
    assert proc.returncode != 0
    assert 'Error from server (AlreadyExists): error when creating "' in proc.stderr
    assert 'policyreports.wgpolicyk8s.io "r1" already exists' in proc.stderr


def test_replace_needs_the_current_resource_version(api: Api, tmp_path: Path) -> None:
    kubectl(api, tmp_path, "create", "--validate=false", "-f", put_file(tmp_path, report()))
    current = get(api, tmp_path, "polr", "r1", "-n", "shop")
    changed = {**current, "summary": {"fail": 2}}
    proc = kubectl(api, tmp_path, "replace", "--validate=false", "-f",
                   put_file(tmp_path, changed, "new.json"))
    assert proc.returncode == 0, proc.stderr
    after = get(api, tmp_path, "polr", "r1", "-n", "shop")
    assert after["summary"] == {"fail": 2} and after["metadata"]["generation"] == 2
    assert after["metadata"]["uid"] == current["metadata"]["uid"]
    proc = kubectl(api, tmp_path, "replace", "--validate=false", "-f",
                   put_file(tmp_path, changed, "stale.json"))  # the old resourceVersion
    assert proc.returncode != 0
    assert "Error from server (Conflict)" in proc.stderr
    assert "the object has been modified; please apply your changes to the latest version " \
           "and try again" in proc.stderr


def test_server_side_apply_conflicts_between_managers(api: Api, tmp_path: Path) -> None:
    doc = put_file(tmp_path, report())
    proc = kubectl(api, tmp_path, "apply", "--server-side", "--validate=false", "-f", doc)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "policyreport.wgpolicyk8s.io/r1 serverside-applied"
    other_doc = report(summary={"fail": 5})
    del other_doc["metadata"]["labels"]
    other = put_file(tmp_path, other_doc, "other.json")
    proc = kubectl(api, tmp_path, "apply", "--server-side", "--validate=false",
                   "--field-manager=other", "-f", other)
    assert proc.returncode != 0
    assert 'error: Apply failed with 1 conflict:\n- conflict with "kubectl" using ' \
           "wgpolicyk8s.io/v1alpha2: .summary\n" in proc.stderr
    proc = kubectl(api, tmp_path, "apply", "--server-side", "--validate=false",
                   "--field-manager=other", "--force-conflicts", "-f", other)
    assert proc.returncode == 0, proc.stderr
    got = api.cluster.stored("PolicyReport")[0]
    assert got["summary"] == {"fail": 5}
    owners = {m["manager"]: set(m["fieldsV1"]) for m in got["metadata"]["managedFields"]}
    assert "f:summary" in owners["other"] and "f:summary" not in owners["kubectl"]
    # a field the manager no longer applies is removed (no one else owns it); applying
    # the value another manager set is no conflict (the field is shared)
    smaller = report(summary={"fail": 5})
    del smaller["metadata"]["labels"]
    proc = kubectl(api, tmp_path, "apply", "--server-side", "--validate=false", "-f",
                   put_file(tmp_path, smaller, "smaller.json"))
    assert proc.returncode == 0, proc.stderr
    assert "labels" not in api.cluster.stored("PolicyReport")[0]["metadata"]


def test_the_schema_rejects_what_the_crd_rejects(api: Api, tmp_path: Path) -> None:
    bad = report(results=[{"policy": "p", "result": "failed", "severity": "urgent"}])
    proc = kubectl(api, tmp_path, "create", "--validate=false", "-f", put_file(tmp_path, bad))
    assert proc.returncode != 0
    # kubectl prints the causes of the 422's details, one per line
    assert 'The PolicyReport "r1" is invalid: \n* results[0].result: Unsupported value: ' \
           '"failed": supported values: "pass", "fail"' in proc.stderr
    assert '\n* results[0].severity: Unsupported value: "urgent"' in proc.stderr
    assert api.cluster.stored("PolicyReport") == []


def test_an_object_past_etcds_limit_is_refused(api: Api, tmp_path: Path) -> None:
    huge = report(results=[{"policy": "p", "result": "fail", "message": "m" * 1024}
                           for _ in range(1600)])
    proc = kubectl(api, tmp_path, "create", "--validate=false", "-f",
                   put_file(tmp_path, huge))
    assert proc.returncode != 0
    assert "etcdserver: request is too large" in proc.stderr
    assert api.cluster.stored("PolicyReport") == []


def test_delete_and_delete_again(api: Api, tmp_path: Path) -> None:
    kubectl(api, tmp_path, "create", "--validate=false", "-f", put_file(tmp_path, report()))
    proc = kubectl(api, tmp_path, "delete", "polr", "r1", "-n", "shop", "--wait=false")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == 'policyreport.wgpolicyk8s.io "r1" deleted'
    proc = kubectl(api, tmp_path, "delete", "polr", "r1", "-n", "shop", "--wait=false")
    assert proc.returncode != 0
    assert 'Error from server (NotFound): policyreports.wgpolicyk8s.io "r1" not found' \
           in proc.stderr


@pytest.mark.parametrize("kind", ["policyreports", "clusterpolicyreports"])
def test_without_the_crd_kubectl_knows_no_such_resource(api: Api, tmp_path: Path,
                                                         kind: str) -> None:
    api.cluster.missing = set(POLICY_REPORTS)
    proc = kubectl(api, tmp_path, "get", kind, "-A")
    assert proc.returncode != 0
    assert f'the server doesn\'t have a resource type "{kind}"' in proc.stderr
