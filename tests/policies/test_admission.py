"""ValidatingAdmissionPolicy (bindings, params, failurePolicy, variables,
messages, audit annotations) and Kyverno ValidatingPolicy (autogen, actions,
unsupported libraries), judged offline; the policies are small inline YAML
written for each behaviour."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeproof.policies.compile import compile_policies
from kubeproof.policies.expressions import kyverno_or_value
from kubeproof.policies.model import (
    AUDIT,
    DENY,
    ERROR,
    FAIL,
    PASS,
    SKIP,
    UNSUPPORTED,
    WARN_ACTION,
    NoLookup,
    Outcome,
    Policy,
    Source,
    Subject,
)
from kubeproof.policies.unsupported import libraries_used
from kubeproof.policies.validating_policy import autogen_rewrite


class Objects:
    """A lookup over a few objects (namespaces and params)."""

    def __init__(self, *objs: Mapping[str, Any]) -> None:
        self.objs = list(objs)

    def namespace(self, name: str) -> Mapping[str, Any] | None:
        return next((o for o in self.objs if o.get("kind") == "Namespace"
                     and o["metadata"]["name"] == name), None)

    def objects(self, api_version: str, kind: str,
                namespace: str | None) -> Iterable[Mapping[str, Any]]:
        return [o for o in self.objs if o.get("apiVersion") == api_version
                and o.get("kind") == kind and (namespace is None or o["metadata"].get(
                    "namespace", namespace) == namespace)]


def policies(text: str) -> list[Policy]:
    result = compile_policies((doc, Source("p.yaml", i + 1))
                              for i, doc in enumerate(yaml.safe_load_all(text)))
    assert not result.errors, [str(e) for e in result.errors]
    return result.policies


def one(text: str, obj: Mapping[str, Any] | None, lookup: Any = None, **kw: Any) -> Outcome:
    [policy] = policies(text)
    outcomes = policy.evaluate(Subject(obj, **kw), lookup or NoLookup())
    assert len(outcomes) == 1 and outcomes[0].rule == ""
    return outcomes[0]


REPLICAS = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: replicas, annotations: {kubeproof.dev/severity: high}}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments]}
  validations:
  - expression: object.spec.replicas <= 3
    messageExpression: "'replicas ' + string(object.spec.replicas) + ' > 3'"
    fieldPath: spec.replicas
    reason: Forbidden
"""


def deployment(replicas: int = 1, name: str = "web", namespace: str = "prod",
               labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
            "spec": {"replicas": replicas, "template": {"metadata": {"labels": {"a": "b"}},
                                                        "spec": {"containers": [
                                                            {"name": "c", "image": "x"}]}}}}


def test_a_vap_passes_fails_and_skips() -> None:
    [policy] = policies(REPLICAS)
    assert policy.kind == "ValidatingAdmissionPolicy"
    assert policy.annotations == {"kubeproof.dev/severity": "high"}
    assert one(REPLICAS, deployment(2)).result == PASS
    fail = one(REPLICAS, deployment(5))
    assert fail.result == FAIL
    assert fail.failures[0].message == "replicas 5 > 3"
    assert fail.failures[0].field_path == "spec.replicas"
    assert fail.failures[0].reason == "Forbidden"
    assert fail.failures[0].actions == frozenset({DENY})
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    assert one(REPLICAS, pod).result == SKIP
    # DELETE is not among the operations
    assert one(REPLICAS, None, old_obj=deployment(9), operation="DELETE").result == SKIP


def test_messages_fall_back_to_message_then_the_expression() -> None:
    text = REPLICAS.replace(
        """messageExpression: "'replicas ' + string(object.spec.replicas) + ' > 3'\"""",
        "messageExpression: \"object.nope\"\n    message: too many")
    assert one(text, deployment(5)).failures[0].message == "too many"
    bare = text.replace("message: too many", "reason: Invalid")
    assert one(bare, deployment(5)).failures[0].message == (
        "failed expression: object.spec.replicas <= 3")


FAILURE_POLICY = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: strict}
spec:
  failurePolicy: %s
  matchConstraints:
    resourceRules:
    - {apiGroups: ["*"], apiVersions: ["*"], operations: ["*"], resources: ["*"]}
  validations:
  - expression: object.spec.missing == 1
"""


def test_an_evaluation_error_fails_under_fail_and_is_an_error_under_ignore() -> None:
    fail = one(FAILURE_POLICY % "Fail", deployment())
    assert fail.result == FAIL
    assert fail.failures[0].reason == "EvaluationError"
    assert "object.spec.missing == 1" in fail.failures[0].message
    assert "resulted in error" in fail.failures[0].message
    ignore = one(FAILURE_POLICY % "Ignore", deployment())
    assert ignore.result == ERROR and "object.spec.missing" in ignore.message


def test_an_expression_over_its_cost_budget_is_an_evaluation_error() -> None:
    text = FAILURE_POLICY.replace(
        "object.spec.missing == 1",
        "object.spec.items.all(a, object.spec.items.all(b, object.spec.items.all(c, "
        "a + b + c >= 0)))") % "Fail"
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
           "spec": {"items": list(range(3000))}}
    start = time.monotonic()
    outcome = one(text, obj)
    assert time.monotonic() - start < 5
    assert outcome.result == FAIL and outcome.failures[0].reason == "EvaluationError"


BINDINGS = REPLICAS + """
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: prod-only}
spec:
  policyName: replicas
  validationActions: [Warn, Audit]
  matchResources:
    namespaceSelector: {matchLabels: {env: prod}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: labelled}
spec:
  policyName: replicas
  validationActions: [Deny]
  matchResources:
    objectSelector: {matchLabels: {tier: web}}
"""
NAMESPACES = Objects(
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod",
                                                           "labels": {"env": "prod"}}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev",
                                                           "labels": {"env": "dev"}}})


def test_bindings_select_and_carry_their_actions() -> None:
    assert one(BINDINGS, deployment(5, namespace="dev"), NAMESPACES).result == SKIP
    prod = one(BINDINGS, deployment(5, namespace="prod"), NAMESPACES)
    assert prod.result == FAIL
    assert [(f.binding, f.actions) for f in prod.failures] == [
        ("prod-only", frozenset({WARN_ACTION, AUDIT}))]
    assert prod.warnings == ("Validation failed for ValidatingAdmissionPolicy 'replicas' with "
                             "binding 'prod-only': replicas 5 > 3",)
    both = one(BINDINGS, deployment(5, labels={"tier": "web"}), NAMESPACES)
    assert sorted(f.binding for f in both.failures) == ["labelled", "prod-only"]
    assert one(BINDINGS, deployment(1, namespace="prod"), NAMESPACES).result == PASS


def test_the_namespace_object_comes_from_the_subject_or_the_lookup() -> None:
    text = REPLICAS.replace("object.spec.replicas <= 3",
                            "namespaceObject.metadata.labels.env == 'prod'")
    assert one(text, deployment(namespace="prod"), NAMESPACES).result == PASS
    assert one(text, deployment(namespace="dev"), NAMESPACES).result == FAIL
    given = {"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": "dev", "labels": {"env": "prod"}}}
    assert one(text, deployment(namespace="dev"), NAMESPACES,
               namespace_obj=given).result == PASS


PARAMS = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: limits}
spec:
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  validations:
  - expression: object.spec.replicas <= int(params.data.max)
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: limits-binding}
spec:
  policyName: limits
  validationActions: [Deny]
  paramRef: %s
"""


def config_map(name: str, maximum: int, labels: Mapping[str, str] | None = None,
               namespace: str = "prod") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "data": {"max": str(maximum)},
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})}}


def test_params_by_name_and_by_selector() -> None:
    lookup = Objects(config_map("small", 2, {"set": "a"}), config_map("big", 10, {"set": "a"}))
    by_name = PARAMS % "{name: small, parameterNotFoundAction: Deny}"
    assert one(by_name, deployment(2), lookup).result == PASS
    assert one(by_name, deployment(3), lookup).result == FAIL
    # a policy is evaluated once per param object: 5 fails against small only
    by_selector = PARAMS % "{selector: {matchLabels: {set: a}}, parameterNotFoundAction: Deny}"
    outcome = one(by_selector, deployment(5), lookup)
    assert outcome.result == FAIL and len(outcome.failures) == 1
    [policy] = [p for p in compile_policies(
        (d, Source()) for d in yaml.safe_load_all(by_name)).policies]
    assert compile_policies((d, Source()) for d in yaml.safe_load_all(by_name)
                            ).param_kinds() == {("v1", "ConfigMap")}
    assert policy.name == "limits"


def test_a_missing_param_denies_or_allows() -> None:
    deny = one(PARAMS % "{name: gone, parameterNotFoundAction: Deny}", deployment(1), Objects())
    assert deny.result == FAIL and "no params found" in deny.failures[0].message
    allow = one(PARAMS % "{name: gone, parameterNotFoundAction: Allow}", deployment(1),
                Objects())
    assert allow.result == SKIP and "Allow" in allow.message
    other_ns = Objects(config_map("small", 9, namespace="elsewhere"))
    assert one(PARAMS % "{name: small, parameterNotFoundAction: Deny}", deployment(1),
               other_ns).result == FAIL
    pinned = PARAMS % "{name: small, namespace: elsewhere, parameterNotFoundAction: Deny}"
    assert one(pinned, deployment(1), other_ns).result == PASS


CONDITIONS = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: conditions}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: ["*"], resources: [deployments]}
  matchConditions:
  - {name: labelled, expression: "'team' in object.metadata.labels"}
  - {name: not-system, expression: "request.namespace != 'kube-system'"}
  variables:
  - {name: containers, expression: object.spec.template.spec.containers}
  - {name: images, expression: "variables.containers.map(c, c.image)"}
  - {name: broken, expression: object.spec.nothing.here}
  - {name: maybe, expression: "object.spec.?paused"}
  validations:
  - expression: "variables.images.all(i, i.contains(':'))"
    message: images need a tag
  - expression: "variables.maybe.orValue(false) == false"
    message: paused
  auditAnnotations:
  - {key: images, valueExpression: "variables.images.join(',')"}
  - {key: none, valueExpression: "null"}
"""


def test_match_conditions_variables_and_audit_annotations() -> None:
    assert one(CONDITIONS, deployment(labels={})).result == SKIP
    skipped = one(CONDITIONS, deployment(labels={"team": "a"}, namespace="kube-system"))
    assert skipped.result == SKIP and "not-system" in skipped.message
    failed = one(CONDITIONS, deployment(labels={"team": "a"}))
    assert failed.result == FAIL
    assert [f.message for f in failed.failures] == ["images need a tag"]
    assert failed.audit_annotations == (("conditions/images", "x"),)
    good = deployment(labels={"team": "a"})
    good["spec"]["template"]["spec"]["containers"][0]["image"] = "x:1"
    assert one(CONDITIONS, good).result == PASS
    good["spec"]["paused"] = True
    assert [f.message for f in one(CONDITIONS, good).failures] == ["paused"]


def test_an_unused_broken_variable_is_never_evaluated_and_a_used_one_fails() -> None:
    text = CONDITIONS.replace("variables.images.all(i, i.contains(':'))",
                              "variables.broken == 1")
    outcome = one(text, deployment(labels={"team": "a"}))
    assert outcome.result == FAIL
    assert "variable 'broken'" in outcome.failures[0].message


def test_the_request_holds_operation_user_kind_and_old_object() -> None:
    text = FAILURE_POLICY.replace(
        "object.spec.missing == 1",
        "request.operation == 'UPDATE' && request.userInfo.username == 'ann' && "
        "request.kind.kind == 'Deployment' && request.resource.resource == 'deployments' && "
        "oldObject.spec.replicas == 1 && object.spec.replicas == 2 && "
        "request.namespace == 'prod' && request.name == 'web'") % "Fail"
    assert one(text, deployment(2), old_obj=deployment(1), operation="UPDATE",
               user_info={"username": "ann"}).result == PASS
    create = FAILURE_POLICY.replace("object.spec.missing == 1", "oldObject == null") % "Fail"
    assert one(create, deployment()).result == PASS
    delete = FAILURE_POLICY.replace("object.spec.missing == 1",
                                    "object == null && oldObject.metadata.name == 'web'")
    assert one(delete % "Fail", None, old_obj=deployment(), operation="DELETE").result == PASS


VPOL = """
apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata: {name: no-host-network, annotations: {policies.kyverno.io/severity: medium}}
spec:
  validationActions: [Audit]
  %s
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods]}
  validations:
  - expression: >-
      object.spec.?hostNetwork.orValue(false) == false && object.metadata.namespace != 'x'
    message: no host network
"""


def pod_spec(host: bool) -> dict[str, Any]:
    return {"hostNetwork": host, "containers": [{"name": "c", "image": "x"}]}


def test_a_validating_policy_judges_pods_and_through_autogen_their_controllers() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "a"},
           "spec": pod_spec(True)}
    outcome = one(VPOL % "", pod)
    assert outcome.result == FAIL and outcome.failures[0].actions == frozenset({AUDIT})
    deploy = deployment()
    deploy["spec"]["template"]["spec"] = pod_spec(True)
    assert one(VPOL % "", deploy).result == FAIL
    deploy["spec"]["template"]["spec"] = pod_spec(False)
    assert one(VPOL % "", deploy).result == PASS
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"jobTemplate": {"spec": {"template": {"spec": pod_spec(True)}}}}}
    assert one(VPOL % "", cron).result == FAIL
    only_cron = VPOL % "autogen: {podControllers: {controllers: [cronjobs]}}"
    assert one(only_cron, cron).result == FAIL
    assert one(only_cron, deployment()).result == SKIP
    assert one(VPOL % "autogen: {podControllers: {controllers: []}}", cron).result == SKIP
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}
    assert one(VPOL % "", service).result == SKIP


def test_autogen_rewrites_as_kyverno_does() -> None:
    text = "object.spec.x && oldObject.metadata.labels && object.metadata.namespace"
    assert autogen_rewrite(text, "defaults") == (
        "object.spec.template.spec.x && oldObject.spec.template.metadata.labels && "
        "object.metadata.namespace")
    assert autogen_rewrite("object.spec.y", "cronjobs") == (
        "object.spec.jobTemplate.spec.template.spec.y")
    assert autogen_rewrite("object.metadata.name + object.metadata.namespaceX", "defaults") == (
        "object.metadata.name + object.spec.template.metadata.namespaceX")


def test_kyverno_or_value_on_a_plain_field_chain() -> None:
    assert kyverno_or_value("c.a.b.orValue([]) + 'x.y.orValue(1)' + c.?d.orValue(1)") == (
        "c.?a.?b.orValue([]) + 'x.y.orValue(1)' + c.?d.orValue(1)")
    text = VPOL.replace("object.spec.?hostNetwork.orValue(false)",
                        "object.spec.hostNetwork.orValue(false)") % ""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "a"},
           "spec": {"containers": []}}
    assert one(text, pod).result == PASS


def test_kyverno_extensions_are_there_for_kyverno_kinds_only() -> None:
    text = VPOL.replace("object.spec.?hostNetwork.orValue(false) == false",
                        "cel.bind(n, object.metadata.name, math.greatest(1, size(n)) > 0 "
                        "&& base64.encode(b'a') == 'YQ==')") % ""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "a"}}
    assert one(text, pod).result == PASS
    vap = FAILURE_POLICY.replace("object.spec.missing == 1", "math.greatest(1, 2) == 2")
    result = compile_policies((d, Source("v.yaml", 1)) for d in yaml.safe_load_all(
        vap % "Fail"))
    assert result.errors and "math" in str(result.errors[0])


def test_kyverno_only_libraries_are_unsupported_never_guessed() -> None:
    text = VPOL.replace("object.spec.?hostNetwork.orValue(false) == false",
                        "http.Get('https://x').ok && image('nginx').registry() != ''") % ""
    result = compile_policies((d, Source("k.yaml", 3)) for d in yaml.safe_load_all(text))
    assert not result.errors
    assert len(result.unsupported) == 1
    assert "http" in str(result.unsupported[0]) and "k.yaml:3" in str(result.unsupported[0])
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    outcome = result.policies[0].evaluate(Subject(pod), NoLookup())
    assert outcome[0].result == UNSUPPORTED and "http, image" in outcome[0].message
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}
    assert result.policies[0].evaluate(Subject(service), NoLookup())[0].result == SKIP


@pytest.mark.parametrize(("expression", "libraries"), [
    ("resource.Get('v1', 'pods', 'a', 'b') != null", ["resource"]),
    ("globalContext.Get('x', '') == 1", ["globalContext"]),
    ("image.GetMetadata('nginx') != null", ["imagedata"]),
    ("object.spec.containers.all(image, image.startsWith('a'))", []),
    ("'http.Get(x)' == x", []),
    ("sha256('a') != '' && time.now() != null", ["time", "hash"]),
    ("parseServiceAccount(request.userInfo.username).namespace == 'x'", ["user"]),
    ("authorizer.group('').resource('pods').check('get').allowed()", ["authz"]),
    ("json.unmarshal(x) && x509.decode(y) && listObjToMap(a, b, c, d)",
     ["json", "x509", "transform"]),
])
def test_library_detection(expression: str, libraries: list[str]) -> None:
    assert libraries_used(expression) == libraries


def test_an_authz_vap_is_unsupported() -> None:
    text = FAILURE_POLICY.replace(
        "object.spec.missing == 1",
        "authorizer.group('').resource('pods').check('get').allowed()") % "Fail"
    result = compile_policies((d, Source("a.yaml", 1)) for d in yaml.safe_load_all(text))
    assert not result.errors and len(result.unsupported) == 1
    assert result.policies[0].evaluate(Subject(deployment()), NoLookup())[0].result == (
        UNSUPPORTED)


def test_one_compilation_serves_many_evaluations_quickly() -> None:
    [policy] = policies(CONDITIONS)
    obj = deployment(labels={"team": "a"})
    start = time.perf_counter()
    for _ in range(300):
        policy.evaluate(Subject(obj), NoLookup())
    per_call = (time.perf_counter() - start) / 300
    assert per_call < 0.005, per_call


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                  max_size=4), max_leaves=25)
_objects = st.fixed_dictionaries({
    "apiVersion": st.sampled_from(["apps/v1", "v1", 5]),
    "kind": st.sampled_from(["Deployment", "Pod", "Namespace", None]),
    "metadata": _json | st.fixed_dictionaries({"name": st.text(max_size=5),
                                               "namespace": st.text(max_size=5),
                                               "labels": _json}),
    "spec": _json,
})


_EVERY: list[Policy] = []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=_objects | _json, old=st.none() | _objects,
       operation=st.sampled_from(["CREATE", "UPDATE", "DELETE", "CONNECT", 7]))
def test_any_object_is_judged_without_raising(obj: Any, old: Any, operation: Any) -> None:
    if not _EVERY:
        _EVERY.extend(policies(REPLICAS) + policies(CONDITIONS) + policies(VPOL % "")
                      + policies(BINDINGS) + policies(FAILURE_POLICY % "Ignore"))
    for policy in _EVERY:
        outcomes = policy.evaluate(Subject(obj, old, operation), NAMESPACES)
        assert len(outcomes) == 1
        assert outcomes[0].result in (PASS, FAIL, SKIP, ERROR)
        json.dumps([o.message for o in outcomes])
