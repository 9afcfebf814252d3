"""The CEL of a Kyverno ``validate.cel`` rule: compiled once
(:func:`compile_cel`) and evaluated per object (:func:`validate`).

Kyverno's CEL handler (kyverno/kyverno
``pkg/engine/handlers/validation/validate_cel.go``) hands the rule to the
Kubernetes admission validator: ``celPreconditions`` as ``matchConditions``,
``validate.cel`` ``variables``, ``expressions`` (a missing ``message`` is the
rule's ``validate.message``) and ``auditAnnotations``, with no failure policy,
which the validator takes as ``Fail``. So the machine is the one of
ValidatingAdmissionPolicy (:mod:`kubeproof.policies.expressions`, reused
here) in the plain Kubernetes environment (not Kyverno's ValidatingPolicy
one: no ``cel.bind``, no ``orValue`` compatibility), and its answer is read
as Kyverno's ``processCELValidationResults`` reads it: preconditions not met
-> ``skip``; any failure, an evaluation error too -> ``fail``; else ``pass``.

Params are collected as Kyverno's ``CollectParams`` does (:func:`collect_params`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubeproof.k8s.kinds import CLUSTER_SCOPED
from kubeproof.policies.expressions import (
    MAX_VALIDATIONS,
    Body,
    Compiler,
    Verdict,
    compile_body,
    environment,
    evaluate_body,
)
from kubeproof.policies.kyverno_match import selector_matches
from kubeproof.policies.match import Matcher
from kubeproof.policies.model import FAIL, PASS, SKIP, Failure, Lookup
from kubeproof.util.shapes import as_dict, as_list

MAX_PARAMS = 1000
# the rule's own match/exclude (kyverno_match) decides what it selects
_EVERYTHING = Matcher(rules=None)
# the names a message gives the parts of expressions.compile_body's spec
_WHERE = ((".validations[", ".expressions["),
          ("validate.cel.matchConditions[", "celPreconditions["))


@dataclass(frozen=True, slots=True)
class CelRule:
    """The compiled CEL of one rule, and its params."""

    body: Body
    param_kind: Mapping[str, Any] | None = None
    param_ref: Mapping[str, Any] | None = None


@dataclass(slots=True)
class Result:
    """What one rule gave for one object (the parts of an Outcome)."""

    result: str
    failures: tuple[Failure, ...] = ()
    message: str = ""
    audit: tuple[tuple[str, str], ...] = ()


def compile_cel(validate: Mapping[str, Any], rule: Mapping[str, Any], template: str,
                kube_version: tuple[int, int] | None) -> tuple[CelRule | None, list[str]]:
    """The programs of ``validate.cel`` and ``celPreconditions``, and what
    cannot be compiled (any problem makes the rule unusable). ``template`` is
    the pod template's path in an autogen rule's controller (``fieldPath``
    ``spec.x`` of the pod becomes ``spec.template.spec.x``)."""
    cel = validate.get("cel")
    if not isinstance(cel, dict):
        return None, ["validate.cel must be a mapping"]
    expressions = cel.get("expressions")
    if not isinstance(expressions, list) or not expressions:
        return None, ["validate.cel.expressions must be a non-empty list"]
    rule_message = validate.get("message")
    validations = []
    for item in expressions[:MAX_VALIDATIONS + 1]:
        if isinstance(item, dict):
            item = dict(item)
            if not item.get("message") and isinstance(rule_message, str):
                item["message"] = rule_message
            path = item.get("fieldPath")
            if isinstance(path, str):
                path = path.strip().lstrip(".")
                item["fieldPath"] = template + path if template and path.startswith(
                    ("spec.", "metadata.")) else path
        validations.append(item)
    spec = {"validations": validations, "variables": cel.get("variables"),
            "auditAnnotations": cel.get("auditAnnotations"),
            "matchConditions": rule.get("celPreconditions")}
    errors: list[str] = []
    body = compile_body(spec, Compiler(environment(kube_version, False), errors),
                        "validate.cel", _EVERYTHING)
    for i, error in enumerate(errors):
        for old, new in _WHERE:
            error = error.replace(old, new)
        errors[i] = error
    kind_ref, ref = cel.get("paramKind"), cel.get("paramRef")
    if kind_ref is not None and not isinstance(kind_ref, dict):
        errors.append("validate.cel.paramKind must be a mapping")
    if ref is not None and not isinstance(ref, dict):
        errors.append("validate.cel.paramRef must be a mapping")
    if body is None or errors:
        return None, errors or ["validate.cel cannot be read"]
    if isinstance(kind_ref, dict) and isinstance(ref, dict):
        return CelRule(body, kind_ref, ref), []
    return CelRule(body), []


def cel_texts(validate: Mapping[str, Any], rule: Mapping[str, Any]) -> list[str]:
    """Every CEL text of a rule (for the check of the libraries it uses)."""
    cel = as_dict(validate.get("cel"))
    found = []
    for item in as_list(cel.get("expressions"))[:MAX_VALIDATIONS]:
        item = as_dict(item)
        found += [item.get("expression"), item.get("messageExpression")]
    found += [as_dict(v).get("expression") for v in as_list(cel.get("variables"))]
    found += [as_dict(a).get("valueExpression") for a in as_list(cel.get("auditAnnotations"))]
    found += [as_dict(c).get("expression") for c in as_list(rule.get("celPreconditions"))]
    return [f for f in found if isinstance(f, str)]


def validate(policy: str, cel: CelRule, actions: frozenset[str],
             bindings: Mapping[str, Any]) -> Result:
    """One evaluation (one param, or none) of the rule's CEL."""
    verdict = Verdict()
    evaluate_body(policy, cel.body, dict(bindings), True, actions, "", verdict)
    audit = tuple(verdict.annotations)
    if verdict.skipped:
        return Result(SKIP, message="cel preconditions not met")
    if verdict.failures:
        return Result(FAIL, tuple(verdict.failures), verdict.failures[0].message, audit)
    return Result(PASS, audit=audit)


def collect_params(kind_ref: Mapping[str, Any], ref: Mapping[str, Any], namespace: str,
                   lookup: Lookup) -> list[Any] | str:
    """The param objects (Kyverno's ``CollectParams``), or why they cannot be
    had: a named param that is missing, or none found under
    ``parameterNotFoundAction: Deny``. None found otherwise: no evaluation
    (the rule passes). A kind the built-in tables do not call cluster-scoped
    is namespaced (a ConfigMap, a custom kind)."""
    api_version, kind = kind_ref.get("apiVersion"), kind_ref.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return "paramKind needs apiVersion and kind"
    wanted_ns = ref.get("namespace") if isinstance(ref.get("namespace"), str) else ""
    if kind in CLUSTER_SCOPED:
        if wanted_ns:
            return "paramRef.namespace must not be provided for a cluster-scoped `paramKind`"
        scope: str | None = None
    else:
        scope = wanted_ns or namespace
        if not scope:
            return "can't use namespaced paramRef to match cluster-scoped resources"
    objects = [o for o in itertools.islice(lookup.objects(api_version, kind, scope), MAX_PARAMS)
               if isinstance(o, Mapping)]
    name = ref.get("name")
    found: list[Any] = []
    if isinstance(name, str) and name:
        found = [o for o in objects if as_dict(o.get("metadata")).get("name") == name][:1]
        if not found:
            return f'{kind} "{name}" not found' + (f" in namespace {scope}" if scope else "")
        return found
    if ref.get("selector") is not None:
        found = [o for o in objects if selector_matches(
            ref["selector"], as_dict(as_dict(o.get("metadata")).get("labels")))]
    if not found and ref.get("parameterNotFoundAction") == "Deny":
        return "no params found"
    return found
