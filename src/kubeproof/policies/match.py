"""``matchConstraints`` (policy) and ``matchResources`` (binding) as the API
server decides them (k8s.io/apiserver admission/plugin/policy/matching).

A request is selected when its namespace matches ``namespaceSelector``
(cluster-scoped objects always do; a Namespace is judged by its own labels),
its object or old object matches ``objectSelector``, some ``resourceRules``
entry covers it (operation, group, version, resource with its subresource
forms, name, scope) and no ``excludeResourceRules`` entry does. Under
``matchPolicy: Equivalent`` (the default) a rule naming another version of
the same resource (``extensions/v1beta1`` deployments for an ``apps/v1``
Deployment) covers it too.

Compiled once per policy: a selector or rule the API server would reject is
reported by :func:`compile_match` and matches nothing, never raises.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeproof.k8s.selectors import SelectorError, label_selector_matches, validate_label_selector

# resources that are one object served under several group/versions (what the
# RESTMapper's equivalent-resource registry answers for built-ins)
_EQUIVALENT: tuple[tuple[str, frozenset[tuple[str, str]]], ...] = tuple(
    (res, frozenset(gvs)) for res, gvs in (
        ("deployments", [("apps", "v1"), ("apps", "v1beta1"), ("apps", "v1beta2"),
                         ("extensions", "v1beta1")]),
        ("daemonsets", [("apps", "v1"), ("apps", "v1beta2"), ("extensions", "v1beta1")]),
        ("replicasets", [("apps", "v1"), ("apps", "v1beta2"), ("extensions", "v1beta1")]),
        ("statefulsets", [("apps", "v1"), ("apps", "v1beta1"), ("apps", "v1beta2")]),
        ("controllerrevisions", [("apps", "v1"), ("apps", "v1beta1"), ("apps", "v1beta2")]),
        ("networkpolicies", [("networking.k8s.io", "v1"), ("extensions", "v1beta1")]),
        ("ingresses", [("networking.k8s.io", "v1"), ("networking.k8s.io", "v1beta1"),
                       ("extensions", "v1beta1")]),
        ("podsecuritypolicies", [("policy", "v1beta1"), ("extensions", "v1beta1")]),
        ("cronjobs", [("batch", "v1"), ("batch", "v1beta1"), ("batch", "v2alpha1")]),
        ("horizontalpodautoscalers", [("autoscaling", "v1"), ("autoscaling", "v2"),
                                      ("autoscaling", "v2beta1"), ("autoscaling", "v2beta2")]),
        ("poddisruptionbudgets", [("policy", "v1"), ("policy", "v1beta1")]),
        ("events", [("", "v1"), ("events.k8s.io", "v1"), ("events.k8s.io", "v1beta1")]),
        ("endpointslices", [("discovery.k8s.io", "v1"), ("discovery.k8s.io", "v1beta1")]),
        ("runtimeclasses", [("node.k8s.io", "v1"), ("node.k8s.io", "v1beta1")]),
        ("priorityclasses", [("scheduling.k8s.io", "v1"), ("scheduling.k8s.io", "v1beta1")]),
        ("csistoragecapacities", [("storage.k8s.io", "v1"), ("storage.k8s.io", "v1beta1")]),
        ("flowschemas", [("flowcontrol.apiserver.k8s.io", v) for v in
                         ("v1", "v1beta1", "v1beta2", "v1beta3")]),
        ("prioritylevelconfigurations", [("flowcontrol.apiserver.k8s.io", v) for v in
                                         ("v1", "v1beta1", "v1beta2", "v1beta3")]),
        ("validatingadmissionpolicies", [("admissionregistration.k8s.io", v) for v in
                                         ("v1", "v1beta1", "v1alpha1")]),
        ("validatingadmissionpolicybindings", [("admissionregistration.k8s.io", v) for v in
                                               ("v1", "v1beta1", "v1alpha1")]),
    ))

MAX_ENTRIES = 1000  # rules, and strings per list, a policy may hold


@dataclass(frozen=True, slots=True)
class Request:
    """What matching reads of one admission request."""

    operation: str
    group: str
    version: str
    resource: str
    subresource: str
    name: str
    namespace: str
    namespaced: bool
    labels: Mapping[str, Any]
    old_labels: Mapping[str, Any] | None
    # for a Namespace object, its own labels (namespaceSelector judges them)
    namespace_labels: Callable[[str], Mapping[str, Any] | None] = field(
        default=lambda _name: None)


@dataclass(frozen=True, slots=True)
class Rule:
    operations: frozenset[str]
    groups: frozenset[str]
    versions: frozenset[str]
    resources: tuple[str, ...]
    names: frozenset[str]
    scope: str

    def covers(self, req: Request, group: str, version: str, resource: str) -> bool:
        if "*" not in self.operations and req.operation not in self.operations:
            return False
        if "*" not in self.groups and group not in self.groups:
            return False
        if "*" not in self.versions and version not in self.versions:
            return False
        if self.names and req.name not in self.names:
            return False
        if self.scope == "Cluster" and req.namespaced:
            return False
        if self.scope == "Namespaced" and not req.namespaced:
            return False
        return any(_resource_matches(pattern, resource, req.subresource)
                   for pattern in self.resources)


def _resource_matches(pattern: str, resource: str, sub: str) -> bool:
    if pattern == "*/*":
        return True
    res, _, psub = pattern.partition("/")
    if "/" not in pattern:
        return not sub and (res == "*" or res == resource)
    if res != "*" and res != resource:
        return False
    return psub == "*" or psub == sub


@dataclass(frozen=True, slots=True)
class Matcher:
    """A compiled ``matchConstraints``/``matchResources``."""

    rules: tuple[Rule, ...] | None  # None: no resourceRules (a binding: every resource)
    exclude: tuple[Rule, ...] = ()
    namespace_selector: Mapping[str, Any] | None = None
    object_selector: Mapping[str, Any] | None = None
    equivalent: bool = True
    broken: bool = False  # a part the API server would reject: matches nothing

    def matches(self, req: Request) -> bool:
        if self.broken:
            return False
        if not self._namespace_ok(req) or not self._object_ok(req):
            return False
        if self.rules is not None and not self._covered(self.rules, req):
            return False
        return not self._covered(self.exclude, req)

    def _covered(self, rules: tuple[Rule, ...], req: Request) -> bool:
        if any(rule.covers(req, req.group, req.version, req.resource) for rule in rules):
            return True
        if not self.equivalent:
            return False
        for resource, gvs in _EQUIVALENT:
            if resource == req.resource and (req.group, req.version) in gvs:
                return any(rule.covers(req, group, version, resource)
                           for group, version in sorted(gvs) for rule in rules)
        return False

    def _namespace_ok(self, req: Request) -> bool:
        selector = self.namespace_selector
        if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
            return True
        if req.resource == "namespaces" and not req.subresource:
            labels: Mapping[str, Any] | None = req.labels
        elif not req.namespaced or not req.namespace:
            return True  # cluster-scoped: always selected
        else:
            labels = req.namespace_labels(req.namespace)
        return _selects(selector, labels or {})

    def _object_ok(self, req: Request) -> bool:
        selector = self.object_selector
        if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
            return True
        if _selects(selector, req.labels):
            return True
        return req.old_labels is not None and _selects(selector, req.old_labels)


def _selects(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    try:
        return label_selector_matches(dict(selector), dict(labels))
    except SelectorError:
        return False


def compile_match(spec: Any, where: str, errors: list[str], *,
                  rules_required: bool) -> Matcher:
    """``spec`` (a matchConstraints/matchResources value) compiled; what the
    API server would reject is appended to ``errors`` (``where``: its path) and
    the matcher then matches nothing."""
    if spec is None:
        return Matcher(rules=None if not rules_required else (), broken=rules_required)
    if not isinstance(spec, Mapping):
        errors.append(f"{where} must be a mapping")
        return Matcher(rules=(), broken=True)
    broken = False
    selectors: dict[str, Mapping[str, Any] | None] = {}
    for key in ("namespaceSelector", "objectSelector"):
        value = spec.get(key)
        if value is None:
            selectors[key] = None
            continue
        try:
            validate_label_selector(value)
            selectors[key] = value
        except SelectorError as err:
            errors.append(f"{where}.{key}: {err}")
            selectors[key] = None
            broken = True
    rules = _rules(spec.get("resourceRules"), f"{where}.resourceRules", errors)
    exclude = _rules(spec.get("excludeResourceRules"), f"{where}.excludeResourceRules", errors)
    if rules is None or exclude is None:
        broken = True
    policy = spec.get("matchPolicy", "Equivalent")
    if policy not in ("Equivalent", "Exact", None):
        errors.append(f"{where}.matchPolicy: {_show(policy)} is not Equivalent or Exact")
        broken = True
    if rules_required and not rules:
        errors.append(f"{where}.resourceRules: at least one rule is required")
        broken = True
    return Matcher(
        rules=tuple(rules or ()) if (rules or rules_required) else None,
        exclude=tuple(exclude or ()), namespace_selector=selectors["namespaceSelector"],
        object_selector=selectors["objectSelector"], equivalent=policy != "Exact",
        broken=broken)


def _rules(value: Any, where: str, errors: list[str]) -> list[Rule] | None:
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append(f"{where} must be a list")
        return None
    if len(value) > MAX_ENTRIES:
        errors.append(f"{where}: more than {MAX_ENTRIES} rules")
        return None
    out: list[Rule] = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            errors.append(f"{where}[{i}] must be a mapping")
            return None
        parts: dict[str, list[str]] = {}
        for key in ("operations", "apiGroups", "apiVersions", "resources", "resourceNames"):
            strings = _strings(item.get(key), f"{where}[{i}].{key}", errors)
            if strings is None:
                return None
            parts[key] = strings
        if item.get("operations") is None:
            # the API server requires operations; the Kyverno CLI, whose tests
            # leave them out (vap/match-namespaces), takes every operation
            parts["operations"] = ["*"]
        scope = item.get("scope", "*")
        if scope is None:
            scope = "*"
        if scope not in ("*", "Cluster", "Namespaced"):
            errors.append(f"{where}[{i}].scope: {_show(scope)} is not *, Cluster or Namespaced")
            return None
        out.append(Rule(frozenset(parts["operations"]), frozenset(parts["apiGroups"]),
                        frozenset(parts["apiVersions"]), tuple(parts["resources"]),
                        frozenset(parts["resourceNames"]), scope))
    return out


def _strings(value: Any, where: str, errors: list[str]) -> list[str] | None:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.append(f"{where} must be a list of strings")
        return None
    if len(value) > MAX_ENTRIES:
        errors.append(f"{where}: more than {MAX_ENTRIES} entries")
        return None
    return list(value)


def _show(value: Any) -> str:
    if value is not None and not isinstance(value, (str, int, float)):
        return f"a {type(value).__name__}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
