"""Kyverno ClusterPolicy/Policy rules with ``validate.cel``, judged offline as
Kyverno's engine judges them: match/exclude, autogen, failure actions,
messages, params, unsupported rule kinds, and hostile documents.

The policies are written here in the shape of the public Kyverno library's
``*-cel`` ClusterPolicies (pod-security-cel ``disallow-host-path``,
``require-run-as-nonroot``; best-practices-cel ``disallow-latest-tag``,
``require-labels``), not copied from it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeproof.policies.kyverno_autogen import ANNOTATION
from kubeproof.policies.kyverno_match import kind_name, parse_kind, wildcard
from kubeproof.policies.kyverno_rules import KyvernoPolicy, compile_kyverno_policy
from kubeproof.policies.model import (
    AUDIT,
    DENY,
    ERROR,
    FAIL,
    PASS,
    SKIP,
    UNSUPPORTED,
    NoLookup,
    Outcome,
    PolicyError,
    Source,
    Subject,
)

SOURCE = Source("policy.yaml", 1)

HOST_PATH = """
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: no-host-path
  annotations:
    policies.kyverno.io/severity: medium
spec:
  validationFailureAction: Audit
  background: true
  rules:
    - name: host-path
      match:
        any:
        - resources:
            kinds: [Pod]
      validate:
        cel:
          expressions:
            - expression: >-
                !has(object.spec.volumes) || object.spec.volumes.all(v, !has(v.hostPath))
              message: "hostPath volumes are forbidden"
"""

LATEST_TAG = """
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: no-latest
spec:
  rules:
  - name: image-tag
    match:
      any:
      - resources:
          kinds: [Pod]
          operations: [CREATE, UPDATE]
    validate:
      failureAction: Enforce
      cel:
        expressions:
          - expression: "object.spec.containers.all(c, c.image.contains(':'))"
            message: "An image tag is required."
          - expression: "object.spec.containers.all(c, !c.image.endsWith(':latest'))"
            messageExpression: "'mutable tag in ' + object.metadata.name"
"""

LABELS = """
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: need-name-label
spec:
  validationFailureAction: enforce
  rules:
  - name: name-label
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      cel:
        expressions:
          - expression: "object.metadata.?labels[?'app.kubernetes.io/name'].orValue('') != ''"
            message: "The label app.kubernetes.io/name is required."
"""


def policy(text: str, errors: list[PolicyError] | None = None) -> KyvernoPolicy:
    errs: list[PolicyError] = [] if errors is None else errors
    compiled = compile_kyverno_policy(yaml.safe_load(text), SOURCE, None, errs)
    assert compiled is not None, errs
    if errors is None:
        assert errs == []
    return compiled


def pod(name: str = "p", ns: str | None = "apps", image: str = "nginx:1.27",
        labels: Mapping[str, str] | None = None, host_path: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if ns is not None:
        meta["namespace"] = ns
    if labels:
        meta["labels"] = dict(labels)
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": image}]}
    if host_path:
        spec["volumes"] = [{"name": "h", "hostPath": {"path": "/var"}}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def deployment(template: dict[str, Any], name: str = "d") -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "apps"},
            "spec": {"template": {"metadata": template["metadata"], "spec": template["spec"]}}}


def cronjob(template: dict[str, Any], name: str = "c") -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": name, "namespace": "apps"},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {
                "metadata": template["metadata"], "spec": template["spec"]}}}}}


class Namespaces:
    """The namespaces (and param objects) a scan set would answer with."""

    def __init__(self, namespaces: Mapping[str, Mapping[str, str]],
                 objects: Iterable[Mapping[str, Any]] = ()) -> None:
        self._ns = {name: {"apiVersion": "v1", "kind": "Namespace",
                           "metadata": {"name": name, "labels": dict(labels)}}
                    for name, labels in namespaces.items()}
        self._objects = list(objects)

    def namespace(self, name: str) -> Mapping[str, Any] | None:
        return self._ns.get(name)

    def objects(self, api_version: str, kind: str,
                namespace: str | None) -> Iterable[Mapping[str, Any]]:
        return [o for o in self._objects if o.get("apiVersion") == api_version
                and o.get("kind") == kind and (namespace is None or
                                               o["metadata"].get("namespace") == namespace)]


def results(p: KyvernoPolicy, obj: Mapping[str, Any] | None, lookup: Any = None,
            **subject: Any) -> dict[str, str]:
    outs = p.evaluate(Subject(obj, **subject), lookup or NoLookup())
    return {o.rule: o.result for o in outs}


def outcome(p: KyvernoPolicy, rule: str, obj: Mapping[str, Any] | None, lookup: Any = None,
            **subject: Any) -> Outcome:
    outs = p.evaluate(Subject(obj, **subject), lookup or NoLookup())
    return next(o for o in outs if o.rule == rule)


# ------------------------------------------------------------ pass / fail / skip


def test_a_pod_rule_passes_fails_and_skips() -> None:
    p = policy(HOST_PATH)
    assert p.rule_names == ["host-path", "autogen-host-path", "autogen-cronjob-host-path"]
    assert results(p, pod()) == {"host-path": PASS, "autogen-host-path": SKIP,
                                 "autogen-cronjob-host-path": SKIP}
    bad = outcome(p, "host-path", pod(host_path=True))
    assert bad.result == FAIL
    assert [f.message for f in bad.failures] == ["hostPath volumes are forbidden"]
    assert bad.failures[0].actions == frozenset({AUDIT})
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}
    assert set(results(p, service).values()) == {SKIP}


def test_the_library_style_optional_label_check() -> None:
    p = policy(LABELS)
    assert results(p, pod(labels={"app.kubernetes.io/name": "web"}))["name-label"] == PASS
    assert results(p, pod())["name-label"] == FAIL
    assert results(p, pod(labels={"app.kubernetes.io/name": ""}))["name-label"] == FAIL


def test_operations_restrict_the_rule() -> None:
    p = policy(LATEST_TAG)
    assert results(p, pod(image="nginx:latest"))["image-tag"] == FAIL
    assert results(p, pod(image="nginx:latest"), operation="UPDATE",
                   old_obj=pod(image="nginx:1"))["image-tag"] == FAIL
    deleted = outcome(p, "image-tag", None, old_obj=pod(image="nginx:latest"),
                      operation="DELETE")
    assert deleted.result == SKIP


def test_no_object_at_all_is_a_skip() -> None:
    p = policy(HOST_PATH)
    assert set(results(p, None).values()) == {SKIP}


# ------------------------------------------------------------ messages


def test_message_expression_and_the_default_messages() -> None:
    p = policy(LATEST_TAG)
    out = outcome(p, "image-tag", pod(name="web", image="nginx:latest"))
    assert [f.message for f in out.failures] == ["mutable tag in web"]
    out = outcome(p, "image-tag", pod(name="web", image="nginx"))
    assert [f.message for f in out.failures] == ["An image tag is required."]
    bare = policy(HOST_PATH.replace('              message: "hostPath volumes are forbidden"\n',
                                    ""))
    out = outcome(bare, "host-path", pod(host_path=True))
    assert out.failures[0].message.startswith("failed expression: !has(object.spec.volumes)")


def test_the_rule_message_is_the_default_of_its_expressions() -> None:
    p = policy(HOST_PATH.replace('              message: "hostPath volumes are forbidden"\n',
                                 "").replace("      validate:\n",
                                             "      validate:\n        message: from rule\n"))
    assert outcome(p, "host-path", pod(host_path=True)).failures[0].message == "from rule"


def test_a_message_expression_that_errors_falls_back_to_the_message() -> None:
    p = policy(LATEST_TAG.replace("'mutable tag in ' + object.metadata.name",
                                  "'x' + object.metadata.nothere"))
    out = outcome(p, "image-tag", pod(image="a:latest"))
    assert out.failures[0].message == "failed expression: " \
        "object.spec.containers.all(c, !c.image.endsWith(':latest'))"


def test_field_path_and_reason_are_carried_and_autogen_moves_the_path() -> None:
    text = HOST_PATH.replace('              message: "hostPath volumes are forbidden"',
                             '              message: "no"\n'
                             '              fieldPath: "spec.volumes"\n'
                             '              reason: Forbidden')
    p = policy(text)
    out = outcome(p, "host-path", pod(host_path=True))
    assert (out.failures[0].field_path, out.failures[0].reason) == ("spec.volumes", "Forbidden")
    out = outcome(p, "autogen-host-path", deployment(pod(host_path=True)))
    assert out.failures[0].field_path == "spec.template.spec.volumes"
    out = outcome(p, "autogen-cronjob-host-path", cronjob(pod(host_path=True)))
    assert out.failures[0].field_path == "spec.jobTemplate.spec.template.spec.volumes"


# ------------------------------------------------------------ failure actions


@pytest.mark.parametrize(("spec_action", "rule_action", "expected"), [
    ("Enforce", None, DENY), ("enforce", None, DENY), ("Audit", None, AUDIT),
    ("audit", None, AUDIT), (None, None, AUDIT), ("Audit", "Enforce", DENY),
    ("Enforce", "Audit", AUDIT),
])
def test_validation_failure_action(spec_action: str | None, rule_action: str | None,
                                   expected: str) -> None:
    doc = yaml.safe_load(HOST_PATH)
    doc["spec"].pop("validationFailureAction")
    if spec_action is not None:
        doc["spec"]["validationFailureAction"] = spec_action
    if rule_action is not None:
        doc["spec"]["rules"][0]["validate"]["failureAction"] = rule_action
    p = policy(yaml.safe_dump(doc))
    assert outcome(p, "host-path", pod(host_path=True)).failures[0].actions == \
        frozenset({expected})


def test_action_overrides_are_noted_not_applied() -> None:
    doc = yaml.safe_load(HOST_PATH)
    doc["spec"]["validationFailureActionOverrides"] = [
        {"action": "Enforce", "namespaces": ["apps"]}]
    p = policy(yaml.safe_dump(doc))
    assert len(p.notes) == 1 and "validationFailureActionOverrides" in p.notes[0]
    assert outcome(p, "host-path", pod(host_path=True)).failures[0].actions == \
        frozenset({AUDIT})


def test_background_and_admission_are_kept() -> None:
    p = policy(HOST_PATH)
    assert (p.background, p.admission) == (True, True)
    doc = yaml.safe_load(HOST_PATH)
    doc["spec"].update(background=False, admission=False)
    p = policy(yaml.safe_dump(doc))
    assert (p.background, p.admission) == (False, False)


def test_existing_violations_are_allowed_on_update_under_enforce() -> None:
    p = policy(LABELS)
    unlabelled = pod()
    out = outcome(p, "name-label", unlabelled, operation="UPDATE", old_obj=unlabelled)
    assert out.result == SKIP and "pre-existing" in out.message
    labelled = pod(labels={"app.kubernetes.io/name": "x"})
    assert outcome(p, "name-label", unlabelled, operation="UPDATE",
                   old_obj=labelled).result == FAIL
    doc = yaml.safe_load(LABELS)
    doc["spec"]["rules"][0]["validate"]["allowExistingViolations"] = False
    strict = policy(yaml.safe_dump(doc))
    assert outcome(strict, "name-label", unlabelled, operation="UPDATE",
                   old_obj=unlabelled).result == FAIL


# ------------------------------------------------------------ autogen


def test_autogen_judges_deployment_and_cronjob_templates() -> None:
    p = policy(HOST_PATH)
    assert results(p, deployment(pod())) == {"host-path": SKIP, "autogen-host-path": PASS,
                                             "autogen-cronjob-host-path": SKIP}
    assert results(p, deployment(pod(host_path=True)))["autogen-host-path"] == FAIL
    assert results(p, cronjob(pod())) == {"host-path": SKIP, "autogen-host-path": SKIP,
                                          "autogen-cronjob-host-path": PASS}
    assert results(p, cronjob(pod(host_path=True)))["autogen-cronjob-host-path"] == FAIL
    for kind, api in (("DaemonSet", "apps/v1"), ("StatefulSet", "apps/v1"),
                      ("ReplicaSet", "apps/v1"), ("Job", "batch/v1"),
                      ("ReplicationController", "v1")):
        obj = {**deployment(pod(host_path=True)), "kind": kind, "apiVersion": api}
        assert results(p, obj)["autogen-host-path"] == FAIL, kind


def test_autogen_rewrites_metadata_too() -> None:
    p = policy(LABELS)
    labelled = pod(labels={"app.kubernetes.io/name": "web"})
    assert results(p, deployment(labelled))["autogen-name-label"] == PASS
    assert results(p, deployment(pod()))["autogen-name-label"] == FAIL
    assert results(p, cronjob(labelled))["autogen-cronjob-name-label"] == PASS
    assert results(p, cronjob(pod()))["autogen-cronjob-name-label"] == FAIL


@pytest.mark.parametrize(("annotation", "names"), [
    ("Deployment", ["host-path", "autogen-host-path"]),
    ("Deployment,CronJob", ["host-path", "autogen-host-path", "autogen-cronjob-host-path"]),
    ("CronJob", ["host-path", "autogen-cronjob-host-path"]),
    ("none", ["host-path"]),
])
def test_the_autogen_controllers_annotation(annotation: str, names: list[str]) -> None:
    doc = yaml.safe_load(HOST_PATH)
    doc["metadata"]["annotations"][ANNOTATION] = annotation
    p = policy(yaml.safe_dump(doc))
    assert p.rule_names == names
    bad_ds = {**deployment(pod(host_path=True)), "kind": "DaemonSet"}
    if annotation.startswith("Deployment"):
        assert results(p, deployment(pod(host_path=True)))["autogen-host-path"] == FAIL
        assert results(p, bad_ds)["autogen-host-path"] == SKIP


def test_no_autogen_when_a_filter_names_a_selector_or_mixed_kinds() -> None:
    for resources in ({"kinds": ["Pod"], "selector": {"matchLabels": {"a": "b"}}},
                      {"kinds": ["Pod", "Service"]}, {"kinds": ["Pod"], "names": ["x"]}):
        doc = yaml.safe_load(HOST_PATH)
        doc["spec"]["rules"][0]["match"]["any"][0]["resources"] = resources
        assert policy(yaml.safe_dump(doc)).rule_names == ["host-path"], resources


def test_one_rule_that_forbids_autogen_disables_it_for_the_policy() -> None:
    doc = yaml.safe_load(HOST_PATH)
    second = json.loads(json.dumps(doc["spec"]["rules"][0]))
    second["name"] = "named"
    second["match"]["any"][0]["resources"]["name"] = "x"
    doc["spec"]["rules"].append(second)
    assert policy(yaml.safe_dump(doc)).rule_names == ["host-path", "named"]


def test_autogen_rule_names_are_cut_at_63_characters() -> None:
    long_name = "r" * 60
    p = policy(HOST_PATH.replace("name: host-path", f"name: {long_name}"))
    assert p.rule_names[1] == ("autogen-" + long_name)[:63]
    assert p.rule_names[2] == ("autogen-cronjob-" + long_name)[:63]


# ------------------------------------------------------------ match / exclude

RULE = """
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: m
  annotations:
    pod-policies.kyverno.io/autogen-controllers: none
spec:
  rules:
  - name: r
    match: MATCH
    exclude: EXCLUDE
    validate:
      cel:
        expressions:
        - expression: "false"
"""


def rule_policy(match: Any, exclude: Any = None) -> KyvernoPolicy:
    doc = yaml.safe_load(RULE)
    doc["spec"]["rules"][0]["match"] = match
    if exclude is None:
        del doc["spec"]["rules"][0]["exclude"]
    else:
        doc["spec"]["rules"][0]["exclude"] = exclude
    return policy(yaml.safe_dump(doc))


def selected(p: KyvernoPolicy, obj: Mapping[str, Any], lookup: Any = None,
             **subject: Any) -> bool:
    return results(p, obj, lookup, **subject)["r"] != SKIP


def test_match_any_all_and_the_legacy_form() -> None:
    any_of = rule_policy({"any": [{"resources": {"kinds": ["Service"]}},
                                  {"resources": {"namespaces": ["apps"]}}]})
    assert selected(any_of, pod(ns="apps")) and not selected(any_of, pod(ns="web"))
    all_of = rule_policy({"all": [{"resources": {"kinds": ["Pod"]}},
                                  {"resources": {"namespaces": ["ap*"]}}]})
    assert selected(all_of, pod(ns="apps")) and not selected(all_of, pod(ns="web"))
    legacy = rule_policy({"resources": {"kinds": ["Pod"], "names": ["we?-*"]}})
    assert selected(legacy, pod(name="web-1")) and not selected(legacy, pod(name="api"))
    assert not selected(rule_policy({"any": [{}]}), pod())  # match cannot be empty


def test_exclude_any_and_all() -> None:
    match = {"any": [{"resources": {"kinds": ["Pod"]}}]}
    p = rule_policy(match, {"any": [{"resources": {"namespaces": ["kube-*"]}},
                                    {"resources": {"names": ["skip-me"]}}]})
    assert selected(p, pod(ns="apps"))
    assert not selected(p, pod(ns="kube-system"))
    assert not selected(p, pod(name="skip-me"))
    p = rule_policy(match, {"all": [{"resources": {"namespaces": ["kube-system"]}},
                                    {"resources": {"names": ["skip-me"]}}]})
    assert selected(p, pod(ns="kube-system"))
    assert not selected(p, pod(name="skip-me", ns="kube-system"))


@pytest.mark.parametrize(("kind", "obj_kind", "api", "hit"), [
    ("Pod", "Pod", "v1", True), ("v1/Pod", "Pod", "v1", True),
    ("apps/v1/Deployment", "Deployment", "apps/v1", True),
    ("apps/v1/Deployment", "Deployment", "extensions/v1beta1", False),
    ("*/*", "Deployment", "apps/v1", True), ("*", "Pod", "v1", True),
    ("Pod/status", "Pod", "v1", False), ("Po*", "Pod", "v1", True),
    ("batch/*/Job", "Job", "batch/v1", True), ("Deployment", "Pod", "v1", False),
])
def test_kind_selectors(kind: str, obj_kind: str, api: str, hit: bool) -> None:
    p = rule_policy({"any": [{"resources": {"kinds": [kind]}}]})
    obj = {"apiVersion": api, "kind": obj_kind, "metadata": {"name": "x", "namespace": "a"}}
    assert selected(p, obj) is hit


def test_annotations_selector_and_namespaces_of_a_namespace() -> None:
    p = rule_policy({"any": [{"resources": {"kinds": ["Pod"],
                                            "annotations": {"team": "pay*"}}}]})
    annotated = pod()
    annotated["metadata"]["annotations"] = {"team": "payments"}
    assert selected(p, annotated) and not selected(p, pod())
    p = rule_policy({"any": [{"resources": {"kinds": ["Pod"], "selector": {
        "matchLabels": {"tier": "*"}, "matchExpressions": [
            {"key": "env", "operator": "NotIn", "values": ["dev"]}]}}}]})
    assert selected(p, pod(labels={"tier": "web"}))
    assert not selected(p, pod(labels={"tier": "web", "env": "dev"}))
    assert not selected(p, pod())
    p = rule_policy({"any": [{"resources": {"kinds": ["Namespace"],
                                            "namespaces": ["team-*"]}}]})
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}
    assert selected(p, namespace)


def test_namespace_selector_needs_the_namespace() -> None:
    p = rule_policy({"any": [{"resources": {"kinds": ["Pod"], "namespaceSelector": {
        "matchLabels": {"env": "prod"}}}}]})
    lookup = Namespaces({"prod-apps": {"env": "prod"}, "dev-apps": {"env": "dev"}})
    assert selected(p, pod(ns="prod-apps"), lookup)
    assert not selected(p, pod(ns="dev-apps"), lookup)
    assert not selected(p, pod(ns="unknown"), lookup)  # never guessed
    namespace = {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": "prod-apps", "labels": {"env": "prod"}}}
    assert not selected(p, namespace, lookup)  # not applicable to a Namespace
    inverted = rule_policy({"any": [{"resources": {"kinds": ["Pod"], "namespaceSelector": {
        "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}]}}}]})
    assert selected(inverted, pod(ns="prod-apps"), lookup)
    assert not selected(inverted, pod(ns="unknown"), lookup)


def test_the_namespace_object_is_bound() -> None:
    doc = yaml.safe_load(RULE)
    doc["spec"]["rules"][0]["match"] = {"any": [{"resources": {"kinds": ["Pod"]}}]}
    del doc["spec"]["rules"][0]["exclude"]
    doc["spec"]["rules"][0]["validate"]["cel"]["expressions"][0]["expression"] = \
        "namespaceObject.metadata.?labels[?'env'].orValue('none') == 'prod'"
    p = policy(yaml.safe_dump(doc))
    lookup = Namespaces({"prod-apps": {"env": "prod"}, "dev-apps": {"env": "dev"}})
    assert results(p, pod(ns="prod-apps"), lookup)["r"] == PASS
    assert results(p, pod(ns="dev-apps"), lookup)["r"] == FAIL
    assert results(p, pod(ns="elsewhere"), lookup)["r"] == FAIL  # a name-only Namespace


def test_user_info_subjects_roles_and_cluster_roles() -> None:
    p = rule_policy({"any": [{"resources": {"kinds": ["Pod"]}, "subjects": [
        {"kind": "User", "name": "alice"}, {"kind": "Group", "name": "ops-*"},
        {"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}]}]})
    assert selected(p, pod(), user_info={"username": "alice"})
    assert selected(p, pod(), user_info={"username": "bob", "groups": ["ops-1"]})
    assert selected(p, pod(), user_info={"username": "system:serviceaccount:ci:deployer"})
    assert not selected(p, pod(), user_info={"username": "bob", "groups": ["dev"]})
    # without a user (a scan, kyverno test without userinfo) Kyverno ignores them in match
    assert selected(p, pod())
    p = rule_policy({"any": [{"resources": {"kinds": ["Pod"]},
                              "clusterRoles": ["cluster-admin"]}]})
    assert selected(p, pod(), user_info={"username": "x", "clusterRoles": ["cluster-admin"]})
    assert not selected(p, pod(), user_info={"username": "x", "clusterRoles": ["view"]})
    excluded = rule_policy({"any": [{"resources": {"kinds": ["Pod"]}}]},
                           {"any": [{"subjects": [{"kind": "User", "name": "admin"}]}]})
    assert not selected(excluded, pod(), user_info={"username": "admin"})
    assert selected(excluded, pod(), user_info={"username": "dev"})
    assert selected(excluded, pod())


def test_a_namespaced_policy_applies_in_its_namespace_only() -> None:
    doc = yaml.safe_load(HOST_PATH)
    doc["kind"] = "Policy"
    doc["metadata"]["namespace"] = "apps"
    p = policy(yaml.safe_dump(doc))
    assert p.kind == "Policy" and p.namespace == "apps"
    assert results(p, pod(ns="apps", host_path=True))["host-path"] == FAIL
    assert results(p, pod(ns="web", host_path=True))["host-path"] == SKIP
    assert results(p, deployment(pod(host_path=True)))["autogen-host-path"] == FAIL
    del doc["metadata"]["namespace"]
    p = policy(yaml.safe_dump(doc))
    assert results(p, pod(ns=None, host_path=True))["host-path"] == FAIL
    assert results(p, pod(ns="apps", host_path=True))["host-path"] == SKIP


# ------------------------------------------------------------ CEL semantics

CEL_RULE = """
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: c
spec:
  validationFailureAction: Enforce
  rules:
  - name: r
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      cel: {}
"""


def cel_policy(cel: Mapping[str, Any], errors: list[PolicyError] | None = None,
               **rule: Any) -> KyvernoPolicy:
    doc = yaml.safe_load(CEL_RULE)
    doc["spec"]["rules"][0]["validate"]["cel"] = dict(cel)
    doc["spec"]["rules"][0].update(rule)
    return policy(yaml.safe_dump(doc), errors)


def test_variables_and_cel_preconditions() -> None:
    p = cel_policy({"variables": [{"name": "images", "expression":
                                   "object.spec.containers.map(c, c.image)"}],
                    "expressions": [{"expression":
                                     "variables.images.all(i, i.startsWith('reg.io/'))"}]},
                   celPreconditions=[{"name": "not-system", "expression":
                                      "object.metadata.namespace != 'kube-system'"}])
    assert results(p, pod(image="reg.io/a:1"))["r"] == PASS
    assert results(p, pod(image="docker.io/a:1"))["r"] == FAIL
    skipped = outcome(p, "r", pod(ns="kube-system", image="docker.io/a:1"))
    assert (skipped.result, skipped.message) == (SKIP, "cel preconditions not met")


def test_an_evaluation_error_fails_the_rule_as_kyverno_does() -> None:
    p = cel_policy({"expressions": [{"expression": "object.spec.nothere == 1",
                                     "message": "m"}]})
    out = outcome(p, "r", pod())
    assert out.result == FAIL
    assert "resulted in error" in out.failures[0].message


def test_a_compile_error_is_a_policy_error_and_an_error_outcome() -> None:
    errors: list[PolicyError] = []
    p = cel_policy({"expressions": [{"expression": "object.spec.("}]}, errors)
    assert len(errors) == 1 and str(errors[0]).startswith(
        "policy.yaml:1: ClusterPolicy 'c': rule 'r': validate.cel.expressions[0].expression:")
    assert results(p, pod())["r"] == ERROR
    # an autogen rule does not repeat the error
    assert results(p, deployment(pod()))["autogen-r"] == ERROR


def test_audit_annotations() -> None:
    p = cel_policy({"expressions": [{"expression": "true"}], "auditAnnotations": [
        {"key": "image", "valueExpression": "object.spec.containers[0].image"}]})
    assert outcome(p, "r", pod(image="a:1")).audit_annotations == (("c/image", "a:1"),)


PARAM = {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "limits", "namespace": "apps", "labels": {"use": "policy"}},
         "data": {"registry": "reg.io/"}}


def test_params_by_name_selector_and_missing() -> None:
    check = "object.spec.containers.all(c, c.image.startsWith(params.data.registry))"
    cel = {"paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
           "paramRef": {"name": "limits"}, "expressions": [{"expression": check}]}
    p = cel_policy(cel)
    assert p.param_kinds == {("v1", "ConfigMap")}
    lookup = Namespaces({"apps": {}}, [PARAM])
    assert results(p, pod(image="reg.io/a:1"), lookup)["r"] == PASS
    assert results(p, pod(image="x.io/a:1"), lookup)["r"] == FAIL
    missing = outcome(p, "r", pod(ns="other"), lookup)
    assert missing.result == ERROR and "not found" in missing.message
    by_selector = cel_policy({**cel, "paramRef": {"selector": {"matchLabels": {"use": "policy"}}}})
    assert results(by_selector, pod(image="x.io/a:1"), lookup)["r"] == FAIL
    assert results(by_selector, pod(ns="other", image="x.io/a:1"), lookup)["r"] == PASS
    deny = cel_policy({**cel, "paramRef": {"selector": {"matchLabels": {"use": "policy"}},
                                           "parameterNotFoundAction": "Deny"}})
    assert results(deny, pod(ns="other"), lookup)["r"] == ERROR


def test_request_and_old_object_are_bound() -> None:
    p = cel_policy({"expressions": [{"expression":
                                     "request.operation == 'CREATE' || "
                                     "object.spec.containers[0].image == "
                                     "oldObject.spec.containers[0].image"},
                                    {"expression": "request.userInfo.username != 'mallory'"},
                                    {"expression": "request.kind.kind == 'Pod' && "
                                     "request.resource.resource == 'pods'"}]})
    alice = {"username": "alice"}
    assert results(p, pod(), user_info=alice)["r"] == PASS
    assert results(p, pod(image="b:1"), operation="UPDATE", old_obj=pod(image="a:1"),
                   user_info=alice)["r"] == FAIL
    assert results(p, pod(), user_info={"username": "mallory"})["r"] == FAIL


# ------------------------------------------------------------ unsupported


def test_pattern_rules_are_unsupported_once_per_policy() -> None:
    text = """
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: mixed
spec:
  rules:
  - name: require-x
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      pattern:
        metadata:
          labels:
            x: "?*"
  - name: jmes
    match:
      any:
      - resources:
          kinds: [Pod]
    preconditions:
      all:
      - key: "{{ request.operation }}"
        operator: Equals
        value: CREATE
    validate:
      cel:
        expressions:
        - expression: "true"
  - name: mutator
    match:
      any:
      - resources:
          kinds: [Service]
    mutate:
      patchStrategicMerge:
        metadata:
          labels:
            y: z
"""
    p = policy(text)
    assert p.unsupported is not None
    assert "rule require-x: validate.pattern is not supported (not CEL)" in p.unsupported
    assert "rule jmes: preconditions are not supported (JMESPath)" in p.unsupported
    assert "rule mutator: mutate is not supported (not CEL)" in p.unsupported
    got = results(p, pod())
    assert got["require-x"] == UNSUPPORTED and got["jmes"] == UNSUPPORTED
    assert got["mutator"] == SKIP  # it does not select a Pod
    assert got["autogen-require-x"] == SKIP
    assert results(p, deployment(pod()))["autogen-require-x"] == UNSUPPORTED


def test_kyverno_only_libraries_and_the_authorizer_are_unsupported() -> None:
    p = cel_policy({"expressions": [{"expression":
                                     "resource.Get('v1', 'configmaps', 'a', 'b').data.x == '1'"}]})
    assert p.unsupported is not None and "resource" in p.unsupported
    assert results(p, pod())["r"] == UNSUPPORTED
    p = cel_policy({"expressions": [{"expression":
                                     "authorizer.group('').resource('pods').check('get').allowed()"}]})
    assert results(p, pod())["r"] == UNSUPPORTED
    fine = cel_policy({"expressions": [{"expression": "'resource.Get(' != ''"}]})
    assert fine.unsupported is None


# ------------------------------------------------------------ hostile input


@pytest.mark.parametrize("doc", [
    None, 5, "text", [], {}, {"kind": "ClusterPolicy"},
    {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": 5}},
    {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "x"},
     "spec": {"rules": "many"}},
    {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "x"},
     "spec": {"rules": []}},
    {"apiVersion": "kyverno.io/v2", "kind": "ClusterPolicy", "metadata": {"name": "x"}},
])
def test_unusable_documents_are_one_error(doc: Any) -> None:
    errors: list[PolicyError] = []
    assert compile_kyverno_policy(doc, SOURCE, None, errors) is None
    assert len(errors) == 1


def test_broken_rules_are_errors_and_the_rest_goes_on() -> None:
    doc = yaml.safe_load(HOST_PATH)
    doc["spec"]["rules"] += ["a string", {"name": "m5", "match": 5, "exclude": [1],
                                          "validate": {"cel": {"expressions": [
                                              {"expression": "true"}]}}},
                             {"name": "v", "validate": 7},
                             {"name": "e", "validate": {"cel": {"expressions": "x"}}}]
    errors: list[PolicyError] = []
    p = policy(yaml.safe_dump(doc), errors)
    assert [e.message.split(": ", 1)[1] for e in errors] == [
        "spec.rules[1] must be a mapping with a name",
        "rule 'v': validate must be a mapping",
        "rule 'e': validate.cel.expressions must be a non-empty list"]
    got = results(p, pod(host_path=True))
    assert got["host-path"] == FAIL and got["m5"] == SKIP


def test_ten_thousand_rules_and_a_huge_expression() -> None:
    doc = yaml.safe_load(HOST_PATH)
    rule = doc["spec"]["rules"][0]
    doc["spec"]["rules"] = [{**rule, "name": f"r{i}"} for i in range(10_000)]
    errors: list[PolicyError] = []
    p = compile_kyverno_policy(doc, SOURCE, None, errors)
    assert p is not None and len(errors) == 1 and "more than 1000" in errors[0].message
    assert len(p.evaluate(Subject(pod()), NoLookup())) == 3000
    doc = yaml.safe_load(HOST_PATH)
    doc["spec"]["rules"][0]["validate"]["cel"]["expressions"][0]["expression"] = \
        " || ".join(["true"] * 20_000)
    errors = []
    p = compile_kyverno_policy(doc, SOURCE, None, errors)
    assert p is not None and len(errors) == 1 and "longer than" in errors[0].message
    assert results(p, pod())["host-path"] == ERROR


def test_a_costly_expression_fails_and_never_hangs() -> None:
    p = cel_policy({"expressions": [{"expression":
                                     "object.spec.containers.all(a, object.spec.containers.all("
                                     "b, object.spec.containers.all(c, a.name != '')))"}]})
    big = pod()
    big["spec"]["containers"] = [{"name": f"c{i}", "image": "a:1"} for i in range(500)]
    out = outcome(p, "r", big)
    assert out.result == FAIL and "resulted in error" in out.failures[0].message


def test_hostile_objects_never_raise() -> None:
    p = policy(HOST_PATH)
    for obj in ({"kind": 5}, {"kind": ["Pod"]}, {"kind": "Pod", "metadata": [1]},
                {"kind": "Pod", "spec": "x"},
                {"apiVersion": ["v1"], "kind": "Pod", "metadata": {"namespace": 3}}):
        outs = p.evaluate(Subject(obj), NoLookup())
        assert all(out.result in (FAIL, SKIP) for out in outs), outs


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    | st.sampled_from(["Pod", "ClusterPolicy", "kyverno.io/v1", "cel", "rules", "match", "*"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["apiVersion", "kind", "metadata", "name", "spec", "rules", "match",
                         "exclude", "any", "all", "resources", "kinds", "validate", "cel",
                         "expressions", "expression", "namespaces", "selector", "x"]),
        children, max_size=5),
    max_leaves=25)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=JSON, obj=JSON)
def test_any_document_never_raises(spec: Any, obj: Any) -> None:
    doc = {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
           "metadata": {"name": "h"}, "spec": spec}
    errors: list[PolicyError] = []
    p = compile_kyverno_policy(doc, SOURCE, None, errors)
    if p is not None:
        subject = Subject(obj if isinstance(obj, dict) else None)
        for out in p.evaluate(subject, NoLookup()):
            assert out.result in (PASS, FAIL, SKIP, ERROR, UNSUPPORTED)


@settings(max_examples=60, deadline=None)
@given(rule=JSON)
def test_any_rule_never_raises(rule: Any) -> None:
    doc = yaml.safe_load(HOST_PATH)
    doc["spec"]["rules"].append(rule)
    if isinstance(rule, dict):
        rule["name"] = "h"
    p = compile_kyverno_policy(doc, SOURCE, None, [])
    assert p is not None
    for obj in (pod(host_path=True), deployment(pod())):
        p.evaluate(Subject(obj), NoLookup())


# ------------------------------------------------------------ helpers of the match


@pytest.mark.parametrize(("pattern", "text", "hit"), [
    ("*", "", True), ("a*c", "abbc", True), ("a?c", "abc", True), ("a?c", "ac", False),
    ("*a*a*a*a*b", "a" * 5000, False), ("kube-*", "kube-system", True), ("x", "x", True),
])
def test_wildcards(pattern: str, text: str, hit: bool) -> None:
    assert wildcard(pattern, text) is hit


def test_kind_selector_parsing() -> None:
    assert parse_kind("Pod") == ("*", "*", "Pod", "")
    assert parse_kind("Pod/status") == ("*", "*", "Pod", "status")
    assert parse_kind("v1/Pod") == ("*", "v1", "Pod", "")
    assert parse_kind("apps/v1/Deployment") == ("apps", "v1", "Deployment", "")
    assert parse_kind("*/*") == ("*", "*", "*", "*")
    assert kind_name("apps/v1/Deployment") == "Deployment"
    assert kind_name("Pod/ephemeralcontainers") == "Pod"


def test_a_rule_that_matches_delete_judges_the_old_object() -> None:
    doc = yaml.safe_load(RULE)
    doc["spec"]["rules"][0]["match"] = {"any": [{"resources": {"kinds": ["Pod"],
                                                               "operations": ["DELETE"]}}]}
    del doc["spec"]["rules"][0]["exclude"]
    doc["spec"]["rules"][0]["validate"]["cel"]["expressions"][0]["expression"] = \
        "object == null && oldObject.metadata.name != 'protected'"
    p = policy(yaml.safe_dump(doc))
    assert results(p, None, old_obj=pod(name="x"), operation="DELETE")["r"] == PASS
    assert results(p, None, old_obj=pod(name="protected"), operation="DELETE")["r"] == FAIL
    assert results(p, pod(name="protected"))["r"] == SKIP


def test_a_broken_precondition_names_the_field_as_written() -> None:
    errors: list[PolicyError] = []
    cel_policy({"expressions": [{"expression": "true"}]}, errors,
               celPreconditions=[{"name": "c", "expression": "object.("}])
    assert len(errors) == 1 and "rule 'r': celPreconditions[0].expression:" in str(errors[0])


def test_apply_rules_one_stops_after_the_first_rule_that_applies() -> None:
    doc = yaml.safe_load(HOST_PATH)
    second = json.loads(json.dumps(doc["spec"]["rules"][0]))
    second["name"] = "second"
    doc["spec"]["rules"].append(second)
    doc["spec"]["applyRules"] = "One"
    p = policy(yaml.safe_dump(doc))
    got = results(p, pod(host_path=True))
    assert (got["host-path"], got["second"]) == (FAIL, SKIP)
    got = results(p, deployment(pod(host_path=True)))
    assert (got["autogen-host-path"], got["autogen-second"]) == (FAIL, SKIP)
    doc["spec"]["applyRules"] = "All"
    assert results(policy(yaml.safe_dump(doc)), pod(host_path=True))["second"] == FAIL


# ------------------------------------------------------------ Kyverno's own expectations

KYVERNO_TESTS = Path(__file__).parents[1] / "conformance" / "kyverno"
# the resource of each kind a ValidatingPolicy of the set names
_KIND_OF = {"pods": "Pod", "services": "Service", "ingresses": "Ingress", "jobs": "Job",
            "cronjobs": "CronJob", "deployments": "Deployment", "statefulsets": "StatefulSet",
            "daemonsets": "DaemonSet", "replicasets": "ReplicaSet",
            "runtimeclasses": "RuntimeClass", "poddisruptionbudgets": "PodDisruptionBudget",
            "podsecuritypolicies": "PodSecurityPolicy",
            "horizontalpodautoscalers": "HorizontalPodAutoscaler", "flowschemas": "FlowSchema",
            "prioritylevelconfigurations": "PriorityLevelConfiguration",
            "endpointslices": "EndpointSlice", "events": "Event",
            "csistoragecapacities": "CSIStorageCapacity"}
# its second validation calls orValue on a plain field: Kyverno's ValidatingPolicy
# environment accepts it, Kubernetes' CEL (a ClusterPolicy rule's) errors, so it fails
_NOT_PORTABLE = {"adding-capabilities-strict"}


def as_cluster_policy(vpol: Mapping[str, Any]) -> dict[str, Any]:
    """A ValidatingPolicy written as the ClusterPolicy CEL rule of the library's
    ``*-cel`` folders: its resourceRules as kinds, validations as expressions."""
    spec = vpol["spec"]
    rules = spec["matchConstraints"]["resourceRules"]
    kinds = []
    for rule in rules:
        for group in rule.get("apiGroups", ["*"]):
            for version in rule.get("apiVersions", ["*"]):
                for resource in rule["resources"]:
                    if "/" in resource:
                        continue  # Kyverno's "Pod" covers pods/ephemeralcontainers
                    kind = _KIND_OF[resource]
                    kinds.append(kind if (group, version) == ("", "v1") else
                                 f"{group}/{version}/{kind}" if group else f"{version}/{kind}")
    operations = sorted({op for rule in rules for op in rule.get("operations", [])})
    cel: dict[str, Any] = {"expressions": spec["validations"]}
    if spec.get("variables"):
        cel["variables"] = spec["variables"]
    rule_doc: dict[str, Any] = {
        "name": vpol["metadata"]["name"], "validate": {"cel": cel},
        "match": {"any": [{"resources": {"kinds": kinds, "operations": operations}}]}}
    if spec.get("matchConditions"):
        rule_doc["celPreconditions"] = spec["matchConditions"]
    return {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
            "metadata": {"name": vpol["metadata"]["name"]}, "spec": {"rules": [rule_doc]}}


def test_the_library_policies_as_cluster_policies_agree_with_kyverno_tests() -> None:
    """The ValidatingPolicies of the conformance set, each written as a
    ClusterPolicy CEL rule (as the library's ``*-cel`` folders hold them), on
    the resources of their Kyverno tests: every expected result holds, for
    Pods directly and for Deployments and CronJobs through autogen."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    files: dict[str, list[dict[str, Any]]] = {}

    def documents(name: str) -> list[dict[str, Any]]:
        if name not in files:
            with (KYVERNO_TESTS / name).open(encoding="utf-8") as fh:
                files[name] = [d for d in yaml.load_all(fh, Loader=loader)
                               if isinstance(d, dict)]
        return files[name]

    with (KYVERNO_TESTS / "index.csv").open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["policy_kind"] == "ValidatingPolicy"
                and r["policy"] not in _NOT_PORTABLE]
    compiled: dict[tuple[str, str], KyvernoPolicy] = {}
    wrong = []
    for row in rows:
        key = (row["policy_file"], row["policy"])
        if key not in compiled:
            vpol = next(d for d in documents(row["policy_file"])
                        if d.get("kind") == "ValidatingPolicy"
                        and d["metadata"]["name"] == row["policy"])
            compiled[key] = policy(yaml.safe_dump(as_cluster_policy(vpol)))
        obj = next(d for f in row["resource_file"].split(";") for d in documents(f)
                   if d.get("kind") == row["kind"] and d["metadata"]["name"] == row["name"])
        got = {o.result for o in compiled[key].evaluate(Subject(obj), NoLookup())}
        actual = FAIL if FAIL in got else PASS if PASS in got else SKIP if got == {SKIP} \
            else str(sorted(got))
        if actual != row["expected"]:
            wrong.append(f"{row['policy']} {row['kind']} {row['name']}: expected "
                         f"{row['expected']} got {actual}")
    assert wrong == []
    assert len(rows) == 868  # 928 rows of ValidatingPolicies, 60 of the one left out
