"""sources/cluster.py in pieces: item preparation, owners, discovery, errors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from kubeproof.model import Origin
from kubeproof.sources.cluster import (
    AUDIT_KINDS,
    LOCATOR,
    ClusterReader,
    KindSpec,
    RequestFailed,
    Target,
    _group_versions,
    _served,
    judged_elsewhere,
    object_file,
    one_line,
    prepare,
)

HPA = KindSpec("autoscaling", "HorizontalPodAutoscaler", "horizontalpodautoscalers")


def owner(kind: str, controller: Any = True) -> dict[str, Any]:
    return {"ownerReferences": [
        {"apiVersion": "v1", "kind": "Other", "name": "x", "uid": "1"},
        {"apiVersion": "apps/v1", "kind": kind, "name": "o", "uid": "2",
         "controller": controller}]}


@pytest.mark.parametrize(("kind", "meta", "skipped"), [
    ("Pod", {}, False),
    ("Pod", owner("ReplicaSet"), True),
    ("Pod", owner("StatefulSet"), True),
    ("Pod", owner("DaemonSet"), True),
    ("Pod", owner("Job"), True),
    ("Pod", owner("ReplicationController"), True),
    ("Pod", owner("Node"), False),  # a static pod's mirror
    ("Pod", owner("Workflow"), False),  # a custom controller the audit does not list
    ("Pod", owner("ReplicaSet", controller=False), False),  # not its controller
    ("Pod", owner("ReplicaSet", controller="true"), False),  # malformed: not a controller
    ("ReplicaSet", owner("Deployment"), True),
    ("ReplicaSet", owner("Rollout"), False),
    ("ReplicaSet", {}, False),
    ("Job", owner("CronJob"), True),
    ("Job", {}, False),
    ("Deployment", owner("HelmRelease"), False),
    ("Pod", {"ownerReferences": "bogus"}, False),
])
def test_judged_elsewhere(kind: str, meta: dict[str, Any], skipped: bool) -> None:
    assert judged_elsewhere(kind, meta) is skipped


def test_prepare_sets_identity_from_the_list_and_drops_status() -> None:
    item = {"metadata": {"name": "a", "namespace": "n", "managedFields": [{"manager": "x"}]},
            "spec": {"containers": []}, "status": {"phase": "Running"}}
    assert prepare(item, "v1", "Pod") == {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "n"},
        "spec": {"containers": []}}
    crd = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
           "metadata": {"name": "m"}}
    assert prepare(crd, "monitoring.coreos.com/v1beta1", "ServiceMonitor")["apiVersion"] == \
        "monitoring.coreos.com/v1"
    assert prepare("not an object", "v1", "Pod") is None
    assert prepare({"metadata": None}, "v1", "Pod") == {"apiVersion": "v1", "kind": "Pod",
                                                         "metadata": {}}


def test_object_identity_and_locator() -> None:
    assert object_file("prod", "Deployment", "shop", "web") == "prod/shop/Deployment/web"
    assert object_file("prod", "ClusterRole", None, "view") == "prod/-/ClusterRole/view"
    assert LOCATOR.locate(Origin("c/-/Pod/p", 0, 1), None, 0, ("spec", "x")) == (1, 1)
    assert LOCATOR.has_inline_ignores is False and LOCATOR.line_text(1) == ""


def test_target_paths() -> None:
    pods = Target(AUDIT_KINDS[1], "v1", "pods", True)
    assert pods.path(None) == "/api/v1/pods"
    assert pods.path("a b") == "/api/v1/namespaces/a%20b/pods"
    crb = Target(KindSpec("rbac.authorization.k8s.io", "ClusterRoleBinding",
                          "clusterrolebindings"),
                 "rbac.authorization.k8s.io/v1", "clusterrolebindings", False)
    assert crb.path("shop") == "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"


def test_request_failed_messages() -> None:
    assert str(RequestFailed(403, "pods is forbidden")) == "403 Forbidden: pods is forbidden"
    assert str(RequestFailed(500, "")) == "500 Internal Server Error"
    assert str(RequestFailed(599, "x")) == "HTTP 599: x"
    assert str(RequestFailed(None, "cannot reach h: connection refused")) == \
        "cannot reach h: connection refused"
    assert RequestFailed(None, "x", fatal=True).fatal and RequestFailed(401, "").fatal
    assert not RequestFailed(None, "t", timeout=True).fatal
    assert not RequestFailed(None, "the answer broke off").fatal
    assert not RequestFailed(403, "").fatal and not RequestFailed(500, "").fatal
    assert one_line("a\nb\x1b[31m c") == "a b [31m c"
    assert one_line("x" * 400).endswith("...") and len(one_line("x" * 400)) == 300


def test_discovery_documents_are_read_defensively() -> None:
    assert _group_versions({"groups": [
        {"name": "autoscaling", "versions": [{"groupVersion": "autoscaling/v1"},
                                             {"groupVersion": "autoscaling/v2"}],
         "preferredVersion": {"groupVersion": "autoscaling/v2"}},
        {"name": 3}, "junk"]}) == {"autoscaling": ["autoscaling/v2", "autoscaling/v1"]}
    assert _group_versions(None) == {}
    served = _served({"resources": [
        {"name": "pods/log", "kind": "Pod", "verbs": ["get"]},
        {"name": "pods", "kind": "Pod", "namespaced": True, "verbs": ["get", "list"]},
        {"name": "bindings", "kind": "Binding", "verbs": ["create"]},
        {"name": 7}]})
    assert list(served) == ["Pod"] and served["Pod"]["name"] == "pods"


class StubConnection:
    """Answers GETs from a dict; 404 for anything else."""

    label = "stub"
    where = "cluster/stub"

    def __init__(self, docs: dict[str, Any]) -> None:
        self.docs = docs
        self.asked: list[str] = []

    def get(self, path: str, query: dict[str, str] | None = None) -> Any:
        self.asked.append(path)
        doc = self.docs.get(path)
        if isinstance(doc, RequestFailed):
            raise doc
        if doc is None:
            raise RequestFailed(404, "")
        return doc


def test_kind_missing_from_the_preferred_version_is_found_in_another() -> None:
    conn = StubConnection({
        "/apis": {"groups": [{"name": "autoscaling",
                              "versions": [{"groupVersion": "autoscaling/v2"},
                                           {"groupVersion": "autoscaling/v1"}],
                              "preferredVersion": {"groupVersion": "autoscaling/v2"}}]},
        "/apis/autoscaling/v2": {"resources": []},
        "/apis/autoscaling/v1": {"resources": [
            {"name": "horizontalpodautoscalers", "kind": "HorizontalPodAutoscaler",
             "namespaced": True, "verbs": ["list"]}]},
    })
    reader = ClusterReader(conn)  # type: ignore[arg-type]
    with ThreadPoolExecutor(2) as pool:
        targets, errors = reader.discover((HPA,), pool)
    assert errors == []
    assert targets == [Target(HPA, "autoscaling/v1", "horizontalpodautoscalers", True)]


def test_failed_group_discovery_is_a_gap_for_its_kinds_only() -> None:
    conn = StubConnection({
        "/api/v1": {"resources": [{"name": "pods", "kind": "Pod", "namespaced": True}]},
        "/apis": {"groups": [{"name": "autoscaling",
                              "versions": [{"groupVersion": "autoscaling/v2"}]}]},
        "/apis/autoscaling/v2": RequestFailed(503, "the server is currently unable to "
                                                   "handle the request"),
    })
    reader = ClusterReader(conn)  # type: ignore[arg-type]
    with ThreadPoolExecutor(2) as pool:
        targets, errors = reader.discover((AUDIT_KINDS[1], HPA), pool)
    assert [t.plural for t in targets] == ["pods"]
    assert [str(e) for e in errors] == [
        "cluster/stub: cannot discover autoscaling/v2: 503 Service Unavailable: the server "
        "is currently unable to handle the request; not read: "
        "horizontalpodautoscalers.autoscaling"]


def test_failed_group_list_is_one_gap_for_every_grouped_kind() -> None:
    conn = StubConnection({
        "/api/v1": {"resources": [{"name": "pods", "kind": "Pod", "namespaced": True}]},
        "/apis": RequestFailed(500, "boom"),
    })
    reader = ClusterReader(conn)  # type: ignore[arg-type]
    with ThreadPoolExecutor(2) as pool:
        targets, errors = reader.discover((AUDIT_KINDS[1], HPA), pool)
    assert [t.plural for t in targets] == ["pods"]
    assert [e.message for e in errors] == [
        "cannot discover the API groups (/apis): 500 Internal Server Error: boom; not read: "
        "horizontalpodautoscalers.autoscaling"]
    assert "/apis/autoscaling/v2" not in conn.asked
