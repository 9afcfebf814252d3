"""matchConstraints/matchResources as the API server matches them, and the
kind -> resource mapping an admission request carries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproof.policies.match import Matcher, Request, compile_match
from kubeproof.policies.resources import builtin, guess_plural, resource_of


def request(obj: Mapping[str, Any], operation: str = "CREATE", old: Any = None,
            namespaces: Mapping[str, Mapping[str, str]] | None = None,
            subresource: str = "") -> Request:
    info = resource_of(obj)
    meta = obj.get("metadata") or {}
    return Request(operation, info.group, info.version, info.resource, subresource,
                   meta.get("name", ""), meta.get("namespace", "") if info.namespaced else "",
                   info.namespaced, meta.get("labels") or {},
                   (old.get("metadata") or {}).get("labels") or {} if old else None,
                   lambda ns: (namespaces or {}).get(ns))


def matcher(spec: Any, *, rules_required: bool = True) -> tuple[Matcher, list[str]]:
    errors: list[str] = []
    return compile_match(spec, "m", errors, rules_required=rules_required), errors


DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment",
          "metadata": {"name": "web", "namespace": "prod", "labels": {"app": "web"}}}
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "dev"}}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"a": "b"}}}
NAMESPACE = {"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": "team", "labels": {"env": "prod"}}}


def rule(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"apiGroups": ["apps"], "apiVersions": ["v1"],
                            "operations": ["CREATE"], "resources": ["deployments"]}
    base.update(kw)
    return base


@pytest.mark.parametrize(("kind", "plural"), [
    ("Pod", "pods"), ("Ingress", "ingresses"), ("NetworkPolicy", "networkpolicies"),
    ("Endpoints", "endpoints"), ("Widget", "widgets"), ("Gateway", "gateways"),
    ("Relay", "relaies"),
    ("Proxy", "proxies"), ("Class", "classes"), ("", ""),
])
def test_plurals_are_the_rest_mappers(kind: str, plural: str) -> None:
    assert guess_plural(kind) == plural


def test_request_kind_and_resource_of_an_object() -> None:
    info = resource_of(DEPLOY)
    assert info.request_kind() == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert info.request_resource() == {"group": "apps", "version": "v1",
                                       "resource": "deployments"}
    assert info.namespaced
    assert not resource_of(NODE).namespaced
    custom = resource_of({"apiVersion": "x.io/v2", "kind": "Thing", "metadata": {}})
    assert (custom.group, custom.version, custom.resource, custom.namespaced) == (
        "x.io", "v2", "things", False)
    assert resource_of({"kind": 5, "apiVersion": ["x"]}).kind == ""
    assert resource_of(None).resource == ""


def test_a_rule_matches_operation_group_version_and_resource() -> None:
    m, errors = matcher({"resourceRules": [rule()]})
    assert not errors
    assert m.matches(request(DEPLOY))
    assert not m.matches(request(DEPLOY, operation="DELETE"))
    assert not m.matches(request(POD))


def test_wildcards_and_subresource_forms() -> None:
    star, _ = matcher({"resourceRules": [rule(apiGroups=["*"], apiVersions=["*"],
                                              operations=["*"], resources=["*"])]})
    assert star.matches(request(DEPLOY, operation="UPDATE"))
    assert not star.matches(request(DEPLOY, subresource="status"))
    both, _ = matcher({"resourceRules": [rule(resources=["*/*"])]})
    assert both.matches(request(DEPLOY, subresource="scale"))
    sub, _ = matcher({"resourceRules": [rule(resources=["deployments/*"])]})
    assert sub.matches(request(DEPLOY, subresource="scale"))
    # as the API server splits it: ("deployments", "*"), and "*" covers "" too
    assert sub.matches(request(DEPLOY))
    status, _ = matcher({"resourceRules": [rule(resources=["*/status"])]})
    assert status.matches(request(DEPLOY, subresource="status"))
    assert not status.matches(request(DEPLOY, subresource="scale"))


def test_resource_names_scope_and_exclusions() -> None:
    named, _ = matcher({"resourceRules": [rule(resourceNames=["web"])]})
    assert named.matches(request(DEPLOY))
    other = {**DEPLOY, "metadata": {**DEPLOY["metadata"], "name": "api"}}
    assert not named.matches(request(other))
    cluster, _ = matcher({"resourceRules": [rule(scope="Cluster")]})
    assert not cluster.matches(request(DEPLOY))
    nodes, _ = matcher({"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                           "operations": ["*"], "resources": ["nodes"],
                                           "scope": "Cluster"}]})
    assert nodes.matches(request(NODE))
    excluded, _ = matcher({"resourceRules": [rule()],
                           "excludeResourceRules": [rule(resourceNames=["web"])]})
    assert not excluded.matches(request(DEPLOY))
    assert excluded.matches(request(other))


def test_equivalent_versions_match_unless_exact() -> None:
    old_api = {**DEPLOY, "apiVersion": "extensions/v1beta1"}
    equivalent, _ = matcher({"resourceRules": [rule()]})
    assert equivalent.matches(request(old_api))
    exact, _ = matcher({"resourceRules": [rule()], "matchPolicy": "Exact"})
    assert not exact.matches(request(old_api))
    assert exact.matches(request(DEPLOY))


def test_namespace_selector() -> None:
    namespaces = {"prod": {"env": "prod"}, "dev": {"env": "dev"}}
    m, errors = matcher({"resourceRules": [rule(apiGroups=["*"], resources=["*"])],
                         "namespaceSelector": {"matchExpressions": [
                             {"key": "env", "operator": "In", "values": ["prod"]}]}})
    assert not errors
    assert m.matches(request(DEPLOY, namespaces=namespaces))
    assert not m.matches(request({**POD, "apiVersion": "apps/v1"}, namespaces=namespaces))
    # an unknown namespace has no labels
    assert not m.matches(request({**DEPLOY, "metadata": {"namespace": "x"}}))
    # cluster-scoped objects are always selected; a Namespace by its own labels
    everything, _ = matcher({"resourceRules": [{"apiGroups": ["*"], "apiVersions": ["*"],
                                                "operations": ["*"], "resources": ["*"]}],
                             "namespaceSelector": {"matchLabels": {"env": "prod"}}})
    assert everything.matches(request(NODE))
    assert everything.matches(request(NAMESPACE))
    assert not everything.matches(request({**NAMESPACE, "metadata": {"name": "t"}}))


def test_object_selector_on_object_or_old_object() -> None:
    m, _ = matcher({"resourceRules": [rule(operations=["*"])],
                    "objectSelector": {"matchLabels": {"app": "web"}}})
    assert m.matches(request(DEPLOY))
    plain = {**DEPLOY, "metadata": {"name": "web", "namespace": "prod"}}
    assert not m.matches(request(plain))
    assert m.matches(request(plain, operation="UPDATE", old=DEPLOY))
    exists, _ = matcher({"resourceRules": [rule()], "objectSelector": {
        "matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}})
    assert exists.matches(request(plain))
    assert not exists.matches(request(DEPLOY))


def test_a_binding_without_rules_matches_every_resource() -> None:
    m, errors = matcher({"objectSelector": {"matchLabels": {"app": "web"}}},
                        rules_required=False)
    assert not errors
    assert m.matches(request(DEPLOY))
    assert m.matches(request({**POD, "metadata": {"labels": {"app": "web"}}}))
    m, errors = matcher(None, rules_required=False)
    assert m.matches(request(NODE)) and not errors


@pytest.mark.parametrize("spec", [
    {"resourceRules": "x"},
    {"resourceRules": [5]},
    {"resourceRules": [rule(operations="CREATE")]},
    {"resourceRules": [rule(scope="Galaxy")]},
    {"resourceRules": [rule()], "namespaceSelector": {"matchExpressions": [
        {"key": "a", "operator": "Near"}]}},
    {"resourceRules": [rule()], "objectSelector": {"matchExpressions": [
        {"key": "a", "operator": "In"}]}},
    {"resourceRules": [rule()], "matchPolicy": "Fuzzy"},
    {"resourceRules": []},
    [1, 2],
])
def test_bad_parts_are_reported_and_match_nothing(spec: Any) -> None:
    m, errors = matcher(spec)
    assert errors and all(isinstance(e, str) and e.startswith("m") for e in errors)
    assert not m.matches(request(DEPLOY))


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
_keys = st.sampled_from(["resourceRules", "excludeResourceRules", "namespaceSelector",
                         "objectSelector", "matchPolicy", "operations", "resources",
                         "apiGroups", "matchLabels", "matchExpressions", "scope"])
_spec = st.recursive(_json, lambda inner: st.dictionaries(_keys, inner, max_size=5),
                     max_leaves=30)


@settings(max_examples=200, deadline=None)
@given(spec=_spec, obj=st.dictionaries(st.sampled_from(["apiVersion", "kind", "metadata"]),
                                       _json, max_size=3))
def test_any_spec_and_any_object_never_raise(spec: Any, obj: dict[str, Any]) -> None:
    errors: list[str] = []
    m = compile_match(spec, "m", errors, rules_required=True)
    info = resource_of(obj)
    req = Request("CREATE", info.group, info.version, info.resource, "", "", "",
                  info.namespaced, {}, None)
    assert m.matches(req) in (True, False)


def test_built_in_kinds_know_group_version_resource_and_scope() -> None:
    assert builtin("Deployment") == ("apps", "v1", "deployments", True)
    assert builtin("HorizontalPodAutoscaler") == ("autoscaling", "v2",
                                                  "horizontalpodautoscalers", True)
    assert builtin("ClusterRole") == ("rbac.authorization.k8s.io", "v1", "clusterroles", False)
    assert builtin("Namespace") == ("", "v1", "namespaces", False)
    assert builtin("Widget") is None
    bare = resource_of({"kind": "CronJob", "metadata": {"name": "c"}})
    assert (bare.group, bare.version, bare.resource, bare.namespaced) == (
        "batch", "v1", "cronjobs", True)
