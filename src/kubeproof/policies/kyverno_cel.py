"""The CEL of a Kyverno ``validate.cel`` rule: compiled once
(:func:`compile_cel`) and evaluated per object (:func:`validate`) as
Kyverno's CEL handler has the Kubernetes admission validator do it, with no
failure policy, so ``Fail``: a validation that is not ``true`` fails, and so
does one whose evaluation errors or goes over the cost budget (its message
says so); ``celPreconditions`` that do not hold skip the rule. Params are
collected as Kyverno's ``CollectParams`` does (:func:`collect_params`).

The environment is the Kubernetes admission one (Kyverno's CEL handler uses
the API server's own compiler), not Kyverno's ValidatingPolicy environment:
Kyverno's own libraries are reported unsupported by the caller.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeproof.k8s.cel import CelError, Environment, Optional, Program
from kubeproof.k8s.kinds import CLUSTER_SCOPED
from kubeproof.policies.kyverno_match import selector_matches
from kubeproof.policies.model import FAIL, PASS, SKIP, Failure, Lookup
from kubeproof.util.shapes import as_dict, as_list

VARIABLES = ("object", "oldObject", "request", "namespaceObject", "params", "variables",
             "authorizer")
# a rule past these is read in part, never without end
MAX_EXPRESSIONS = 1000
MAX_PARAMS = 1000


_ENVIRONMENTS: dict[tuple[int, int] | None, Environment] = {}


def environment(kube_version: tuple[int, int] | None) -> Environment:
    """The Kubernetes admission CEL environment (Kyverno's CEL handler uses
    the API server's own compiler), built once per version and run."""
    env = _ENVIRONMENTS.get(kube_version)
    if env is None:
        env = _ENVIRONMENTS[kube_version] = Environment(VARIABLES, kube_version)
    return env


@dataclass(frozen=True, slots=True)
class Validation:
    """One ``validate.cel.expressions`` entry, compiled."""

    expression: str
    program: Program
    message: str
    message_program: Program | None
    reason: str
    field_path: str | None


@dataclass(slots=True)
class CelRule:
    """The compiled CEL of one rule (``validate.cel`` and ``celPreconditions``)."""

    validations: list[Validation] = field(default_factory=list)
    variables: list[tuple[str, Program]] = field(default_factory=list)
    audit_annotations: list[tuple[str, Program]] = field(default_factory=list)
    preconditions: list[tuple[str, Program]] = field(default_factory=list)
    param_kind: dict[str, Any] | None = None
    param_ref: dict[str, Any] | None = None


@dataclass(slots=True)
class Result:
    """What one rule gave for one object (the parts of an Outcome)."""

    result: str
    failures: tuple[Failure, ...] = ()
    message: str = ""
    audit: tuple[tuple[str, str], ...] = ()


def validate(cel: CelRule, actions: frozenset[str], bindings: dict[str, Any]) -> Result:
    """The Kubernetes admission validator under failure policy Fail."""
    holds, errors = True, []
    for name, program in cel.preconditions:
        try:
            if value_of(program, bindings) is not True:
                holds = False
        except CelError as err:
            errors.append(f"cel precondition {name!r} resulted in error: {err}")
    if not holds:
        return Result(SKIP, message="cel preconditions not met")
    if errors:
        return Result(FAIL, (Failure(errors[0], actions=actions),), errors[0])
    values: dict[str, Any] = {}
    bindings["variables"] = values
    for name, program in cel.variables:
        try:
            values[name] = value_of(program, bindings)
        except CelError:
            continue  # lazily an error: an expression that reads it errors
    failures: list[Failure] = []
    for check in cel.validations:
        try:
            ok = value_of(check.program, bindings) is True
            message = "" if ok else message_of(check, bindings)
        except CelError as err:
            ok, message = False, f"expression '{check.expression}' resulted in error: {err}"
        if not ok:
            failures.append(Failure(message, check.field_path, check.reason, actions))
    audit: list[tuple[str, str]] = []
    for key, program in cel.audit_annotations:
        try:
            value = value_of(program, bindings)
        except CelError as err:
            failures.append(Failure(f"audit annotation {key!r} resulted in error: {err}",
                                    actions=actions))
            continue
        if isinstance(value, str) and value:
            audit.append((key, value))
    if failures:
        return Result(FAIL, tuple(failures), failures[0].message, tuple(audit))
    return Result(PASS, audit=tuple(audit))


def value_of(program: Program, bindings: Mapping[str, Any]) -> Any:
    value = program.evaluate(bindings)
    if isinstance(value, Optional):
        return value.value if value.has_value else None
    return value


def message_of(check: Validation, bindings: Mapping[str, Any]) -> str:
    """``messageExpression`` when it gives a non-blank one-line string, else
    ``message``, else the API server's ``failed expression: ...``."""
    if check.message_program is not None:
        try:
            text = value_of(check.message_program, bindings)
        except CelError:
            text = None
        if isinstance(text, str) and text.strip() and "\n" not in text:
            return text
    return check.message or f"failed expression: {check.expression.strip()}"


def collect_params(kind_ref: Mapping[str, Any], ref: Mapping[str, Any], namespace: str,
            lookup: Lookup) -> list[Any] | str:
    """The param objects (Kyverno's ``CollectParams``), or why they cannot be had."""
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


def cel_texts(validate: Mapping[str, Any], rule: Mapping[str, Any]) -> list[str]:
    """Every CEL text of a rule (for the library check)."""
    cel = as_dict(validate.get("cel"))
    found = []
    for item in as_list(cel.get("expressions"))[:MAX_EXPRESSIONS]:
        item = as_dict(item)
        found += [item.get("expression"), item.get("messageExpression")]
    found += [as_dict(v).get("expression") for v in as_list(cel.get("variables"))]
    found += [as_dict(a).get("valueExpression") for a in as_list(cel.get("auditAnnotations"))]
    found += [as_dict(c).get("expression") for c in as_list(rule.get("celPreconditions"))]
    return [f for f in found if isinstance(f, str)]


def compile_cel(validate: Mapping[str, Any], rule: Mapping[str, Any], template: str,
                 env: Environment) -> tuple[CelRule, list[str]]:
    """The programs of ``validate.cel`` and ``celPreconditions``, and what
    cannot be compiled."""
    problems: list[str] = []
    cel = validate.get("cel")
    if not isinstance(cel, dict):
        return CelRule(), ["validate.cel must be a mapping"]
    out = CelRule()

    def program(text: Any, where: str) -> Program | None:
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{where} must be a non-empty string")
            return None
        try:
            return env.compile(text)
        except CelError as err:
            problems.append(f"{where}: {err}")
            return None

    expressions = cel.get("expressions")
    if not isinstance(expressions, list) or not expressions:
        problems.append("validate.cel.expressions must be a non-empty list")
    rule_message = _string(validate.get("message"), "")
    for i, item in enumerate(as_list(expressions)[:MAX_EXPRESSIONS]):
        where = f"validate.cel.expressions[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{where} must be a mapping")
            continue
        main = program(item.get("expression"), f"{where}.expression")
        message_program = None
        if item.get("messageExpression") is not None:
            message_program = program(item.get("messageExpression"),
                                      f"{where}.messageExpression")
        message = _string(item.get("message"), "")
        reason = _string(item.get("reason"), "Invalid")
        path = item.get("fieldPath")
        field_path = None
        if isinstance(path, str) and path.strip(". "):
            field_path = template + path.strip().lstrip(".") if template and \
                path.strip().lstrip(".").startswith(("spec.", "metadata.")) else \
                path.strip().lstrip(".")
        if main is not None:
            out.validations.append(Validation(str(item["expression"]), main,
                                               message or rule_message, message_program,
                                               reason, field_path))
    for i, var in enumerate(as_list(cel.get("variables"))[:MAX_EXPRESSIONS]):
        var = as_dict(var)
        if not isinstance(var.get("name"), str):
            problems.append(f"validate.cel.variables[{i}].name must be a string")
            continue
        prog = program(var.get("expression"), f"validate.cel.variables[{i}].expression")
        if prog is not None:
            out.variables.append((var["name"], prog))
    for i, ann in enumerate(as_list(cel.get("auditAnnotations"))[:MAX_EXPRESSIONS]):
        ann = as_dict(ann)
        if not isinstance(ann.get("key"), str):
            problems.append(f"validate.cel.auditAnnotations[{i}].key must be a string")
            continue
        prog = program(ann.get("valueExpression"),
                       f"validate.cel.auditAnnotations[{i}].valueExpression")
        if prog is not None:
            out.audit_annotations.append((ann["key"], prog))
    for i, cond in enumerate(as_list(rule.get("celPreconditions"))[:MAX_EXPRESSIONS]):
        cond = as_dict(cond)
        prog = program(cond.get("expression"), f"celPreconditions[{i}].expression")
        if prog is not None:
            out.preconditions.append((str(cond.get("name", i)), prog))
    kind_ref, ref = cel.get("paramKind"), cel.get("paramRef")
    if kind_ref is not None or ref is not None:
        if not isinstance(kind_ref, dict) or not isinstance(ref, dict):
            if kind_ref is not None and not isinstance(kind_ref, dict):
                problems.append("validate.cel.paramKind must be a mapping")
            if ref is not None and not isinstance(ref, dict):
                problems.append("validate.cel.paramRef must be a mapping")
        else:
            out.param_kind, out.param_ref = kind_ref, ref
    return out, problems


def _string(value: Any, default: str) -> str:
    return value if isinstance(value, str) else default
