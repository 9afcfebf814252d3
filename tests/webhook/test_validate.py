"""/validate over real HTTPS: modes, namespaces, UPDATE, skipped requests, exemptions."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

from tests.support.webhook import (
    Webhook,
    audit_event,
    containers,
    good_deployment,
    review,
)


def privileged(obj: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    containers(obj)[0]["securityContext"]["privileged"] = True
    return obj


def bare_pod(name: str = "tool", namespace: str = "shop", **meta: Any) -> dict[str, Any]:
    dep = good_deployment(name, namespace)
    template = dep["spec"]["template"]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": dict(template["metadata"]["labels"]), **meta},
            "spec": template["spec"]}


def codes(text: str) -> set[str]:
    return {word for word in text.replace(":", " ").split() if word.startswith("KP")
            and word[2:].isdigit()}


def test_clean_object_is_allowed_and_audited(hook: Webhook, audit_file: Path) -> None:
    body = review(good_deployment())
    resp = hook.post("/validate", body)
    uid = body["request"]["uid"]
    assert resp == {"uid": uid, "allowed": True}
    event = audit_event(audit_file, uid)
    assert event["decision"] == "allowed" and event["findings"] == []
    assert (event["user"], event["operation"], event["kind"], event["namespace"],
            event["name"], event["dryRun"]) == ("jane@example.com", "CREATE", "Deployment",
                                                 "shop", "web", False)


def test_enforce_denies_with_findings_and_how_to_fix(hook: Webhook, audit_file: Path) -> None:
    body = review(privileged(good_deployment()))
    resp = hook.post("/validate", body)
    assert resp["allowed"] is False
    assert resp["status"]["code"] == 403
    message = resp["status"]["message"]
    assert message.startswith("kubeproof denied Deployment shop/web: 1 finding to fix")
    assert "KP0803 pss-privileged (container 'app', " \
           "spec.template.spec.containers[0].securityContext.privileged)" in message
    assert "Fix: Remove `privileged`" in message
    assert "kubeproof.dev/ignore" in message
    event = audit_event(audit_file, body["request"]["uid"])
    assert event["decision"] == "denied"
    assert event["findings"] == ["KP0803"] and event["enforced"] == ["KP0803"]


def test_warn_mode_allows_with_warnings(hook: Webhook) -> None:
    dep = good_deployment()
    del containers(dep)[0]["securityContext"]["readOnlyRootFilesystem"]  # KP0821, medium
    resp = hook.post("/validate", review(dep))
    assert resp["allowed"] is True and "status" not in resp
    assert resp["warnings"] == [
        "KP0821 writable-root-filesystem (container 'app', spec.template.spec.containers[0]"
        ".securityContext.readOnlyRootFilesystem): container \"app\" does not set "
        "readOnlyRootFilesystem: true"]


def test_audit_mode_annotates_and_emits_an_event(hook: Webhook, audit_file: Path) -> None:
    dep = good_deployment()
    del containers(dep)[0]["livenessProbe"]  # KP1401, low
    body = review(dep)
    resp = hook.post("/validate", body)
    assert resp["allowed"] is True and "warnings" not in resp
    assert resp["auditAnnotations"]["audit-findings"].startswith(
        "KP1401 no-liveness-probe (container 'app', spec.template.spec.containers[0]"
        ".livenessProbe)")
    event = audit_event(audit_file, body["request"]["uid"])
    assert event["decision"] == "allowed" and event["findings"] == ["KP1401"]
    assert event["enforced"] == []


def test_rule_mode_overrides_the_severity_mode(hook: Webhook) -> None:
    dep = good_deployment()
    containers(dep)[0]["image"] = "registry.example.com/shop/web:1.4.2"  # KP0102, low
    resp = hook.post("/validate", review(dep))
    assert resp["allowed"] is True
    assert [w.split()[0] for w in resp["warnings"]] == ["KP0102"]  # ruleModes: warn


def test_namespace_modes(hook: Webhook) -> None:
    dev = hook.post("/validate", review(privileged(good_deployment(namespace="dev-alice"))))
    assert dev["allowed"] is True
    assert [w.split()[0] for w in dev["warnings"]] == ["KP0803"]
    legacy = privileged(good_deployment(namespace="legacy"))
    containers(legacy)[0]["image"] = "registry.example.com/shop/web"  # KP0101 high, KP0102
    resp = hook.post("/validate", review(legacy))
    assert resp["allowed"] is False  # its ruleModes: pss-privileged enforce
    assert codes(resp["status"]["message"].splitlines()[1]) == {"KP0803"}
    assert len(resp["status"]["message"].splitlines()) == 3  # one finding + exemption hint
    assert "KP0101 image-tag-mutable" in resp["auditAnnotations"]["audit-findings"]
    alone = good_deployment(namespace="legacy")
    containers(alone)[0]["image"] = "registry.example.com/shop/web"
    assert hook.post("/validate", review(alone))["allowed"] is True  # high: audit there


def test_excluded_namespaces_are_not_judged(hook: Webhook, audit_file: Path) -> None:
    for ns in ("kube-system", "scratch-42", "kubeproof-system"):  # last: --namespace
        body = review(privileged(good_deployment(namespace=ns)))
        assert hook.post("/validate", body) == {"uid": body["request"]["uid"],
                                                "allowed": True}
    time.sleep(0.3)
    assert body["request"]["uid"] not in audit_file.read_text()  # no event when not judged


def test_cluster_scoped_objects_are_judged(hook: Webhook) -> None:
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "everything"},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}
    resp = hook.post("/validate", review(role))
    assert resp["allowed"] is False
    assert "KP0701 rbac-wildcard" in resp["status"]["message"]


def test_update_reports_only_new_findings(hook: Webhook) -> None:
    old = privileged(good_deployment())
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 3
    new["metadata"]["annotations"] = {"team": "shop"}  # fields move; findings are the same
    assert hook.post("/validate", review(new, "UPDATE", old=old))["allowed"] is True
    worse = copy.deepcopy(new)
    second = copy.deepcopy(containers(worse)[0])
    second["name"] = "sidecar"
    containers(worse).append(second)  # a new privileged container: a new finding
    resp = hook.post("/validate", review(worse, "UPDATE", old=old))
    assert resp["allowed"] is False
    lines = resp["status"]["message"].splitlines()
    assert lines[0].endswith("1 finding to fix")
    assert "container 'sidecar'" in lines[1] and "container 'app'" not in resp["status"][
        "message"]
    fixed = copy.deepcopy(good_deployment())
    assert hook.post("/validate", review(fixed, "UPDATE", old=old))["allowed"] is True


def test_delete_and_connect_are_allowed(hook: Webhook, audit_file: Path) -> None:
    old = privileged(good_deployment())
    delete = review(None, "DELETE", old=old)
    assert hook.post("/validate", delete) == {"uid": delete["request"]["uid"], "allowed": True}
    execute = review({"apiVersion": "v1", "kind": "PodExecOptions", "stdin": True,
                      "command": ["sh"], "container": "app"}, "CONNECT",
                     namespace="shop", kind="PodExecOptions")
    execute["request"]["subResource"] = "exec"
    assert hook.post("/validate", execute)["allowed"] is True


def test_dry_run_is_judged_and_its_event_marked(hook: Webhook, audit_file: Path) -> None:
    body = review(privileged(good_deployment()), dry_run=True)
    resp = hook.post("/validate", body)
    assert resp["allowed"] is False
    event = audit_event(audit_file, body["request"]["uid"])
    assert event["dryRun"] is True and event["decision"] == "denied"


def test_controller_owned_pods_and_replicasets_are_skipped(hook: Webhook) -> None:
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d9c",
             "uid": "0b1c", "controller": True, "blockOwnerDeletion": True}
    pod = privileged(bare_pod(ownerReferences=[owner]))
    assert hook.post("/validate", review(pod))["allowed"] is True
    rs_owner = {**owner, "kind": "Deployment", "name": "web"}
    dep = privileged(good_deployment())
    rs = {**dep, "kind": "ReplicaSet", "metadata": {**dep["metadata"],
                                                    "ownerReferences": [rs_owner]}}
    assert hook.post("/validate", review(rs))["allowed"] is True
    assert hook.post("/validate", review(privileged(bare_pod())))["allowed"] is False
    custom = {**owner, "apiVersion": "example.com/v1", "kind": "Sandbox"}
    # the owner is not a workload kubeproof judges: the pod is the only chance
    assert hook.post("/validate", review(privileged(bare_pod(ownerReferences=[custom]))))[
        "allowed"] is False


def test_kubectl_debug_ephemeral_containers_are_judged_on_controlled_pods(hook: Webhook
                                                                         ) -> None:
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d9c",
             "uid": "0b1c", "controller": True}
    old = bare_pod(ownerReferences=[owner])
    debug = copy.deepcopy(old)
    app = containers(debug)[0]
    debug["spec"]["ephemeralContainers"] = [{
        "name": "debugger", "image": app["image"], "targetContainerName": "app",
        "securityContext": {**copy.deepcopy(app["securityContext"]), "privileged": True}}]
    body = review(debug, "UPDATE", old=old)
    body["request"]["subResource"] = "ephemeralcontainers"
    resp = hook.post("/validate", body)
    assert resp["allowed"] is False
    assert "container 'debugger'" in resp["status"]["message"]
    assert "KP0803" in codes(resp["status"]["message"])
    # a debug container that keeps the pod's settings passes; other subresources are skipped
    safe = copy.deepcopy(debug)
    safe["spec"]["ephemeralContainers"][0]["securityContext"]["privileged"] = False
    body = review(safe, "UPDATE", old=old)
    body["request"]["subResource"] = "ephemeralcontainers"
    assert hook.post("/validate", body)["allowed"] is True
    status = review(debug, "UPDATE", old=old)
    status["request"]["subResource"] = "status"
    assert hook.post("/validate", status)["allowed"] is True


def test_exemption_annotation_is_honoured(hook: Webhook, audit_file: Path) -> None:
    dep = privileged(good_deployment())
    dep["metadata"]["annotations"] = {"kubeproof.dev/ignore": "pss-privileged",
                                      "kubeproof.dev/ignore-reason": "node agent"}
    body = review(dep)
    resp = hook.post("/validate", body)
    assert resp == {"uid": body["request"]["uid"], "allowed": True}
    assert audit_event(audit_file, body["request"]["uid"])["findings"] == []


def test_secret_values_never_leave(hook: Webhook, audit_file: Path) -> None:
    value = "c3VwZXItc2VjcmV0LXBhc3N3b3Jk"  # super-secret-password
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": "db", "namespace": "shop",
                           "annotations": {"password": "super-secret-password"}},
              "data": {"password": value}}
    body = review(secret)
    resp = hook.post("/validate", body)
    event = audit_event(audit_file, body["request"]["uid"])
    text = json.dumps(resp) + json.dumps(event)
    assert "KP1004" not in text  # scan only: a live Secret always holds its data
    assert "super-secret-password" not in text and value not in text
    assert "KP1003" in event["findings"]  # the annotation holds a literal credential


def test_exemption_annotation_forbidden_by_config(strict: Webhook) -> None:
    dep = privileged(good_deployment())
    dep["metadata"]["annotations"] = {"kubeproof.dev/ignore": "pss-privileged"}
    resp = strict.post("/validate", review(dep))
    assert resp["allowed"] is False
    assert "KP0803 pss-privileged" in resp["status"]["message"]
    assert "kubeproof.dev/ignore" not in resp["status"]["message"]  # no hint to exempt


def test_controlled_pods_judged_when_configured(strict: Webhook) -> None:
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d9c",
             "uid": "0b1c", "controller": True}
    resp = strict.post("/validate", review(privileged(bare_pod(ownerReferences=[owner]))))
    assert resp["allowed"] is False


def test_object_without_namespace_takes_the_requests(hook: Webhook) -> None:
    dep = privileged(good_deployment(namespace="kube-system"))
    del dep["metadata"]["namespace"]
    # excluded by the request's namespace, and judged there (KP0402 namespace-unset
    # is not reported: the API server sets the namespace)
    assert hook.post("/validate", review(dep, namespace="kube-system"))["allowed"] is True
    resp = hook.post("/validate", review(dep, namespace="dev-bob"))
    assert [w.split()[0] for w in resp["warnings"]] == ["KP0803"]


def test_no_secret_value_of_the_rule_fixtures_leaves(hook: Webhook, audit_file: Path) -> None:
    from ruamel.yaml import YAML

    from tests.test_no_secret_leaks import SECRETS, VALUES

    answers: list[str] = []
    uids: list[str] = []
    for path in sorted(p for d in SECRETS for g in ("*_fail.yaml", "fail-*.yaml")
                       for p in d.glob(g)):
        for doc in YAML(typ="safe").load_all(path.read_text()):
            if not isinstance(doc, dict):
                continue
            body = review(json.loads(json.dumps(doc)), namespace="shop")
            uids.append(body["request"]["uid"])
            answers.append(json.dumps(hook.post("/validate", body)))
    events = [json.dumps(audit_event(audit_file, uid)) for uid in uids]
    assert any("KP1003" in a for a in answers)  # the credentials were found
    for value in VALUES:
        assert not any(value in text for text in answers + events), value
