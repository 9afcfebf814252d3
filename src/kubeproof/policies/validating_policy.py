"""Kyverno ``ValidatingPolicy`` (``policies.kyverno.io``), read as Kyverno
reads it: the evaluator of admission.py with the actions on the policy
(``spec.validationActions``), Kyverno's CEL environment (expressions.py) and
its autogen (kyverno/kyverno ``pkg/cel/autogen``): a policy whose
``matchConstraints`` are one rule for ``pods`` (no selector, names or
exclusions) also judges DaemonSets, Deployments, ReplicaSets, StatefulSets
and Jobs (``object.spec`` -> ``object.spec.template.spec``,
``object.metadata`` -> ``object.spec.template.metadata``) and CronJobs
(``spec.jobTemplate.spec.template``), the same for ``oldObject``, with
occurrences followed by ``.namespace``/``.name`` left alone;
``spec.autogen.podControllers.controllers`` (resource names) restricts them
and an empty list disables autogen.

A policy whose expressions call a Kyverno-only library (unsupported.py) is
never guessed: it only matches, and its outcome is ``unsupported``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kubeproof.k8s.cel import Environment
from kubeproof.policies.admission import (
    AdmissionPolicy,
    actions_of,
    annotations_of,
    fail_closed_of,
    libraries_of,
    name_of,
)
from kubeproof.policies.expressions import Body, Compiler, compile_body, environment
from kubeproof.policies.match import Matcher, compile_match
from kubeproof.policies.model import DENY, PolicyError, Source

_PROTECTED = re.compile(r"\.(?:namespace|name)(?![A-Za-z0-9_])")
# autogen targets (kyverno/kyverno pkg/cel/autogen config.go): resource -> (group, kind, rewrite)
_AUTOGEN = {
    "daemonsets": ("apps", "DaemonSet", "defaults"),
    "deployments": ("apps", "Deployment", "defaults"),
    "replicasets": ("apps", "ReplicaSet", "defaults"),
    "statefulsets": ("apps", "StatefulSet", "defaults"),
    "jobs": ("batch", "Job", "defaults"),
    "cronjobs": ("batch", "CronJob", "cronjobs"),
}
_REWRITES = {
    "defaults": (("spec", "spec.template.spec"), ("metadata", "spec.template.metadata")),
    "cronjobs": (("spec", "spec.jobTemplate.spec.template.spec"),
                 ("metadata", "spec.jobTemplate.spec.template.metadata")),
}


def autogen_rewrite(text: str, rewrite: str) -> str:
    """Kyverno's autogen text rewrite (``object.spec`` -> ``object.spec.template.spec``
    and so on), occurrences followed by ``.namespace``/``.name`` left alone."""
    for old, new in _REWRITES[rewrite]:
        for prefix in ("object.", "oldObject."):
            text = _replace(text, prefix + old, prefix + new)
    return text


def _replace(text: str, old: str, new: str) -> str:
    out: list[str] = []
    pos = 0
    while True:
        found = text.find(old, pos)
        if found < 0:
            out.append(text[pos:])
            return "".join(out)
        out.append(text[pos:found])
        end = found + len(old)
        out.append(old if _PROTECTED.match(text, end) else new)
        pos = end


def _can_autogen(match: Any) -> bool:
    """kyverno/kyverno pkg/cel/autogen support.go CanAutoGen."""
    if not isinstance(match, Mapping):
        return False
    for key in ("namespaceSelector", "objectSelector"):
        selector = match.get(key)
        if isinstance(selector, Mapping) and (selector.get("matchLabels")
                                              or selector.get("matchExpressions")):
            return False
    if match.get("excludeResourceRules"):
        return False
    rules = match.get("resourceRules")
    if not isinstance(rules, list) or len(rules) != 1 or not isinstance(rules[0], Mapping):
        return False
    rule = rules[0]
    return (not rule.get("resourceNames") and rule.get("apiGroups") == [""]
            and rule.get("apiVersions") == ["v1"] and rule.get("resources") == ["pods"])


def _autogen_controllers(spec: Mapping[str, Any]) -> list[str]:
    autogen = spec.get("autogen")
    controllers: Any = None
    if isinstance(autogen, Mapping):
        pod_controllers = autogen.get("podControllers")
        if isinstance(pod_controllers, Mapping):
            controllers = pod_controllers.get("controllers")
    if controllers is None:
        return sorted(_AUTOGEN)
    if not isinstance(controllers, list):
        return []
    return sorted({c for c in controllers if isinstance(c, str) and c in _AUTOGEN})


def compile_validating_policy(doc: Mapping[str, Any], source: Source,
                              kube_version: tuple[int, int] | None,
                              errors: list[PolicyError]) -> AdmissionPolicy | None:
    """A Kyverno ``ValidatingPolicy`` (or ``NamespacedValidatingPolicy``: the
    same spec, judging only the objects of its own namespace, ``default`` when
    its metadata names none) with its autogen variants."""
    kind = "NamespacedValidatingPolicy" if doc.get("kind") == "NamespacedValidatingPolicy" \
        else "ValidatingPolicy"
    namespace: str | None = None
    if kind == "NamespacedValidatingPolicy":
        meta = doc.get("metadata")
        given = meta.get("namespace") if isinstance(meta, Mapping) else None
        namespace = given if isinstance(given, str) and given else "default"
    name = name_of(doc)
    spec = doc.get("spec")
    if not name:
        errors.append(PolicyError(source, "ValidatingPolicy without metadata.name"))
        return None
    if not isinstance(spec, Mapping):
        errors.append(PolicyError(source, f"ValidatingPolicy {name}: spec must be a mapping"))
        return None
    problems: list[str] = []
    annotations = annotations_of(doc)
    fail_closed = fail_closed_of(spec, "spec", problems)
    actions = actions_of(spec.get("validationActions"), "spec.validationActions", problems,
                       default=frozenset({DENY}))
    uses = libraries_of(spec)
    match = spec.get("matchConstraints")
    if uses:
        # never compiled (the libraries are not declared here): only matched, the
        # pod controllers of autogen too, so that what it would judge is unsupported
        matcher = compile_match(match, "spec.matchConstraints", problems, rules_required=True)
        for message in problems:
            errors.append(PolicyError(source, f"ValidatingPolicy {name}: {message}"))
        empties = [Body(matcher, (), (), (), ())]
        if isinstance(match, Mapping) and _can_autogen(match):
            operations = match["resourceRules"][0].get("operations")
            empties += [Body(_autogen_matcher(controllers, operations), (), (), (), ())
                        for controllers in _autogen_groups(spec).values()]
        return AdmissionPolicy(name, kind, source, annotations, tuple(empties), fail_closed,
                               actions=actions, unsupported=tuple(uses), namespace=namespace)
    env = environment(kube_version, True)
    matcher = compile_match(match, "spec.matchConstraints", problems, rules_required=True)
    body = compile_body(spec, Compiler(env, problems, kyverno=True), "spec", matcher)
    bodies: list[Body] = [body] if body is not None else []
    if body is not None and isinstance(match, Mapping) and _can_autogen(match):
        operations = match["resourceRules"][0].get("operations")
        for rewrite, controllers in _autogen_groups(spec).items():
            variant = _autogen_variant(spec, rewrite, controllers, operations, env, name)
            if variant is not None:
                bodies.append(variant)
    for message in problems:
        errors.append(PolicyError(source, f"ValidatingPolicy {name}: {message}"))
    if not bodies:
        return None
    return AdmissionPolicy(name, kind, source, annotations, tuple(bodies), fail_closed,
                           actions=actions, namespace=namespace)


def _autogen_groups(spec: Mapping[str, Any]) -> dict[str, list[str]]:
    """The autogen controllers (resources) of ``spec`` by the rewrite they take."""
    groups: dict[str, list[str]] = {}
    for controller in _autogen_controllers(spec):
        groups.setdefault(_AUTOGEN[controller][2], []).append(controller)
    return dict(sorted(groups.items()))


def _autogen_matcher(controllers: list[str], operations: Any) -> Matcher:
    """What an autogen variant for ``controllers`` (resources) matches."""
    by_group: dict[str, list[str]] = {}
    for controller in controllers:
        by_group.setdefault(_AUTOGEN[controller][0], []).append(controller)
    rules = [{"apiGroups": [group], "apiVersions": ["v1"], "resources": sorted(resources),
              "operations": operations} for group, resources in sorted(by_group.items())]
    ignored: list[str] = []  # the policy's own errors were reported already
    return compile_match({"resourceRules": rules}, "autogen", ignored, rules_required=True)


def _autogen_variant(spec: Mapping[str, Any], rewrite: str, controllers: list[str],
                     operations: Any, env: Environment, name: str) -> Body | None:
    matcher = _autogen_matcher(controllers, operations)
    ignored: list[str] = []  # the policy's own errors were reported already
    precondition = "||".join(sorted(
        f"(object.apiVersion == '{_AUTOGEN[c][0]}/v1' && object.kind =='{_AUTOGEN[c][1]}')"
        for c in controllers))
    return compile_body(spec, Compiler(env, ignored, kyverno=True), f"autogen-{rewrite}-{name}",
                        matcher, rewrite=lambda text: autogen_rewrite(text, rewrite),
                        extra_condition=precondition)
