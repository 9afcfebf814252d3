"""The fake API server speaks the real protocol: the real kubectl works against it.

kubectl is the reference client here: discovery (``api-resources``), lists
with chunking (``--chunk-size`` sends ``limit`` and follows ``continue``), the
typed list decoding that sets each item's ``apiVersion``/``kind`` from the
list, and its handling of 401 and 403 ``Status`` answers.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support.audit import Api
from tests.support.fakeapi import RESOURCE_TYPES

KUBECTL = shutil.which("kubectl")


def kubectl(api: Api, tmp_path: Path, *args: str, kubeconfig: Path | None = None
            ) -> subprocess.CompletedProcess[str]:
    assert KUBECTL, "kubectl must be on PATH for these tests"
    env = {**os.environ, "KUBECONFIG": str(kubeconfig or api.kubeconfig),
           "HOME": str(tmp_path)}  # a fresh discovery cache
    return subprocess.run([KUBECTL, *args, "--request-timeout=20s"], capture_output=True,
                          text=True, env=env, timeout=90)


def raw_get(api: Api, path: str, token: str | None = None) -> tuple[int, Any]:
    ctx = ssl.create_default_context(cadata=api.tls.ca_pem.decode())
    req = urllib.request.Request(api.url + path, headers={
        "Authorization": f"Bearer {token or api.cluster.token}"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_kubectl_get_pods_all_namespaces_matches_the_served_pods(api: Api, tmp_path: Path
                                                                  ) -> None:
    proc = kubectl(api, tmp_path, "get", "pods", "-A", "-o", "json", "--chunk-size", "2")
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)["items"]
    served = api.cluster.stored("Pod")
    assert len(served) == 4
    assert [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in listed] == \
        [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in served]
    # kubectl set apiVersion/kind on each item from the list, as the audit does
    assert {(p["apiVersion"], p["kind"]) for p in listed} == {("v1", "Pod")}
    for got, want in zip(listed, served, strict=True):
        assert got["metadata"]["uid"] == want["metadata"]["uid"]
        assert got["metadata"]["resourceVersion"] == want["metadata"]["resourceVersion"]
        assert got["spec"]["containers"] == want["spec"]["containers"]
        assert got["status"] == want["status"]
    # chunks of 2: kubectl followed the continue token
    calls = api.cluster.list_requests("/api/v1/pods")
    assert [q.get("limit") for q in calls] == [["2"], ["2"]]
    assert "continue" not in calls[0] and "continue" in calls[1]


def test_kubectl_get_in_one_namespace_and_a_custom_resource(api: Api, tmp_path: Path) -> None:
    api.cluster.add({"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
                     "metadata": {"name": "web", "namespace": "shop"},
                     "spec": {"selector": {"matchLabels": {"app": "web"}},
                              "endpoints": [{"port": "http"}]}})
    proc = kubectl(api, tmp_path, "get", "deployments,servicemonitors", "-n", "shop", "-o",
                   "json")
    assert proc.returncode == 0, proc.stderr
    got = [(i["apiVersion"], i["kind"], i["metadata"]["name"])
           for i in json.loads(proc.stdout)["items"]]
    assert got == [("apps/v1", "Deployment", "web"),
                   ("monitoring.coreos.com/v1", "ServiceMonitor", "web")]


def test_kubectl_api_resources_matches_discovery(api: Api, tmp_path: Path) -> None:
    api.cluster.missing = {"cronjobs.batch", "peerauthentications.security.istio.io"}
    proc = kubectl(api, tmp_path, "api-resources", "--no-headers")
    assert proc.returncode == 0, proc.stderr
    rows = set()
    for line in proc.stdout.splitlines():
        cols = line.split()
        # NAME [SHORTNAMES] APIVERSION NAMESPACED KIND
        rows.add((cols[0], cols[-3], cols[-2] == "true", cols[-1]))
    want = {(rt.plural, rt.group_version, rt.namespaced, rt.kind) for rt in RESOURCE_TYPES
            if rt.resource not in api.cluster.missing}
    assert rows == want
    assert not any(r[0] == "cronjobs" for r in rows)


def test_kubectl_sees_401_and_403_as_from_a_real_server(api: Api, tmp_path: Path) -> None:
    bad = api.kubeconfig_with(tmp_path / "bad", token="expired")
    proc = kubectl(api, tmp_path, "get", "pods", "-A", kubeconfig=bad)
    assert proc.returncode != 0
    assert "error: You must be logged in to the server" in proc.stderr
    api.cluster.forbidden = {"secrets"}
    proc = kubectl(api, tmp_path, "get", "secrets", "-A")
    assert proc.returncode != 0
    assert "Error from server (Forbidden): secrets is forbidden: User " \
           '"system:serviceaccount:kubeproof:kubeproof-audit" cannot list resource ' \
           '"secrets" in API group "" at the cluster scope' in proc.stderr


def test_list_semantics_pages_tokens_and_item_identity(api: Api) -> None:
    status, first = raw_get(api, "/api/v1/pods?limit=3")
    assert status == 200 and first["kind"] == "PodList" and first["apiVersion"] == "v1"
    assert len(first["items"]) == 3
    assert first["metadata"]["remainingItemCount"] == 1
    assert all("apiVersion" not in i and "kind" not in i for i in first["items"])
    status, rest = raw_get(api, "/api/v1/pods?limit=3&continue=" + first["metadata"]["continue"])
    assert status == 200 and len(rest["items"]) == 1
    assert "continue" not in rest["metadata"] and "remainingItemCount" not in rest["metadata"]
    assert rest["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    status, err = raw_get(api, "/api/v1/pods?limit=3&continue=garbage")
    assert status == 400 and err["kind"] == "Status" and err["reason"] == "BadRequest"
    status, shop = raw_get(api, "/apis/apps/v1/namespaces/shop/deployments")
    assert [d["metadata"]["name"] for d in shop["items"]] == ["web"]


def test_errors_are_status_objects(api: Api) -> None:
    api.cluster.broken = {"services"}
    status, doc = raw_get(api, "/api/v1/services")
    assert status == 500 and doc["reason"] == "InternalError" and doc["code"] == 500
    status, doc = raw_get(api, "/api/v1/pods", token="wrong")
    assert status == 401 and doc["reason"] == "Unauthorized"
    status, doc = raw_get(api, "/apis/example.com/v1/widgets")
    assert status == 404 and doc["reason"] == "NotFound"


@pytest.mark.parametrize("path", ["/version", "/api", "/apis", "/apis/apps",
                                  "/apis/apps/v1", "/api/v1"])
def test_discovery_documents(api: Api, path: str) -> None:
    status, doc = raw_get(api, path)
    assert status == 200
    kinds = {"/api": "APIVersions", "/apis": "APIGroupList", "/apis/apps": "APIGroup",
             "/apis/apps/v1": "APIResourceList", "/api/v1": "APIResourceList"}
    if path == "/version":
        assert (doc["major"], doc["minor"]) == ("1", "30")
    else:
        assert doc["kind"] == kinds[path]
