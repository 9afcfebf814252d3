"""compile_policies: the one entry point over policy documents of every kind
and every shape; errors are one line each with the document's file:line."""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeproof.policies.compile import POLICY_KINDS, compile_policies, is_policy_document
from kubeproof.policies.model import FAIL, NoLookup, Source, Subject

VAP = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
       "metadata": {"name": "p"},
       "spec": {"matchConstraints": {"resourceRules": [
           {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
            "resources": ["configmaps"]}]},
                "validations": [{"expression": "has(object.data)"}]}}
BINDING = {"apiVersion": "admissionregistration.k8s.io/v1",
           "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": "b"},
           "spec": {"policyName": "p", "validationActions": ["Deny"]}}
CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}}


def compile_docs(*docs: Any) -> Any:
    return compile_policies((doc, Source("f.yaml", 10 * (i + 1))) for i, doc in enumerate(docs))


def test_policy_kinds_and_documents() -> None:
    assert ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") in POLICY_KINDS
    assert ("policies.kyverno.io", "ValidatingPolicy") in POLICY_KINDS
    assert ("kyverno.io", "ClusterPolicy") in POLICY_KINDS
    assert is_policy_document(VAP) and is_policy_document(BINDING)
    assert is_policy_document({"apiVersion": "kyverno.io/v1", "kind": "Policy"})
    assert not is_policy_document(CM)
    assert not is_policy_document([VAP]) and not is_policy_document("kind: x")
    assert not is_policy_document({"apiVersion": 1, "kind": "ValidatingAdmissionPolicy"})


def test_a_binding_joins_its_policy_whatever_the_order() -> None:
    result = compile_docs(BINDING, CM, VAP)
    assert not result.errors
    [policy] = result.policies
    assert policy.evaluate(Subject(CM), NoLookup())[0].failures[0].binding == "b"


def test_a_binding_to_a_missing_policy_is_one_error_with_its_line() -> None:
    other = {**BINDING, "spec": {**BINDING["spec"], "policyName": "gone"}}
    result = compile_docs(VAP, other)
    assert [str(e) for e in result.errors] == [
        "f.yaml:20: ValidatingAdmissionPolicyBinding b binds policy 'gone', which is not in "
        "the set"]
    assert len(result.policies) == 1


def test_kyverno_cluster_policies_are_compiled_too() -> None:
    doc = yaml.safe_load("""
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: labels}
spec:
  rules:
  - name: need-team
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      cel:
        expressions:
        - expression: "has(object.metadata.labels) && 'team' in object.metadata.labels"
""")
    result = compile_docs(doc)
    assert not result.errors
    [policy] = result.policies
    assert policy.kind == "ClusterPolicy"
    [outcome] = policy.evaluate(Subject(CM), NoLookup())
    assert outcome.result == FAIL and outcome.rule == "need-team"


def test_a_compile_error_is_reported_and_the_policy_still_judges() -> None:
    bad = {**VAP, "spec": {**VAP["spec"], "validations": [{"expression": "object.(("}]}}
    result = compile_docs(bad)
    assert len(result.errors) == 1
    assert str(result.errors[0]).startswith("f.yaml:10: ValidatingAdmissionPolicy p: "
                                            "spec.validations[0].expression: ")
    [outcome] = result.policies[0].evaluate(Subject(CM), NoLookup())
    assert outcome.result == FAIL and outcome.failures[0].reason == "EvaluationError"


@pytest.mark.parametrize("doc", [
    {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy"},
    {**VAP, "spec": 5},
    {**VAP, "spec": {"validations": "x"}},
    {**VAP, "spec": {**VAP["spec"], "validations": [5]}},
    {**VAP, "spec": {**VAP["spec"], "variables": [{"name": "a b", "expression": "1"}]}},
    {**VAP, "spec": {**VAP["spec"], "failurePolicy": "Maybe"}},
    {**VAP, "spec": {**VAP["spec"], "paramKind": "ConfigMap"}},
    {**VAP, "spec": {**VAP["spec"], "matchConstraints": {"resourceRules": [
        {"resources": ["pods"], "scope": 1}]}}},
    {**VAP, "apiVersion": "admissionregistration.k8s.io/v9"},
    {**BINDING, "spec": {"policyName": 7}},
    {**BINDING, "spec": {**BINDING["spec"], "validationActions": ["Explode"]}},
    {**BINDING, "spec": {**BINDING["spec"], "paramRef": {"parameterNotFoundAction": "x"}}},
    {"apiVersion": "policies.kyverno.io/v1", "kind": "ValidatingPolicy",
     "metadata": {"name": "v"}, "spec": []},
    {**VAP, "spec": {**VAP["spec"], "validations": [{"expression": "x" * 1_000_000}]}},
    {**VAP, "spec": {**VAP["spec"], "validations": [{"expression": "true"}] * 10_000}},
])
def test_bad_documents_are_errors_never_exceptions(doc: Any) -> None:
    start = time.monotonic()
    result = compile_docs(VAP | {"metadata": {"name": "other"}}, doc)
    assert time.monotonic() - start < 10
    assert result.errors
    for error in result.errors:
        text = str(error)
        assert text.startswith("f.yaml:20: ") and "\n" not in text and len(text) < 1000


def test_non_policy_documents_are_ignored() -> None:
    result = compile_docs(CM, [1, 2], "text", None, {"kind": "ValidatingAdmissionPolicy"})
    assert not result.policies and not result.errors


_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=12)
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=30)
_keys = st.sampled_from([
    "spec", "matchConstraints", "resourceRules", "validations", "expression", "variables",
    "name", "matchConditions", "paramKind", "paramRef", "policyName", "auditAnnotations",
    "validationActions", "failurePolicy", "messageExpression", "autogen", "rules",
    "validate", "cel", "expressions", "match", "metadata"])
_shaped = st.recursive(_json, lambda inner: st.dictionaries(_keys, inner, max_size=6),
                       max_leaves=40)
_docs = st.builds(
    lambda api, kind, rest: {**(rest if isinstance(rest, dict) else {}), "apiVersion": api,
                             "kind": kind},
    st.sampled_from(["admissionregistration.k8s.io/v1", "policies.kyverno.io/v1alpha1",
                     "kyverno.io/v1", "v1"]),
    st.sampled_from(["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
                     "ValidatingPolicy", "ClusterPolicy", "Policy", "ConfigMap"]),
    _shaped)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=st.lists(_docs | _json, max_size=4), obj=_json)
def test_any_document_compiles_or_errs_and_any_object_is_judged(docs: list[Any],
                                                                 obj: Any) -> None:
    result = compile_docs(*docs)
    for error in result.errors + result.unsupported:
        assert str(error).startswith("f.yaml:")
    for policy in result.policies:
        outcomes = policy.evaluate(Subject(obj), NoLookup())
        assert outcomes


def test_unsupported_policies_are_listed_once_each() -> None:
    vpol = {"apiVersion": "policies.kyverno.io/v1", "kind": "ValidatingPolicy",
            "metadata": {"name": "v"},
            "spec": {"matchConstraints": VAP["spec"]["matchConstraints"],
                     "validations": [{"expression": "http.Get('x') != null"},
                                     {"expression": "resource.List('v1', 'pods', '') != null"}]}}
    pattern = yaml.safe_load("""
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: pattern}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {pattern: {metadata: {labels: {team: "?*"}}}}
""")
    result = compile_docs(vpol, pattern)
    assert not result.errors
    assert str(result.unsupported[0]) == (
        "f.yaml:10: ValidatingPolicy v: not evaluated, it uses CEL libraries kubeproof cannot "
        "evaluate offline (http, resource)")
    assert len(result.unsupported) == 2
    assert str(result.unsupported[1]).startswith("f.yaml:20: ClusterPolicy pattern: not "
                                                 "evaluated, ")
