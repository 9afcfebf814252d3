"""ValidatingAdmissionPolicy with its bindings and params, evaluated offline
as the API server evaluates it at admission (and the evaluator of Kyverno's
ValidatingPolicy, validating_policy.py, which is the same machine).

Per subject: not selected by ``matchConstraints`` -> ``skip``; then per
binding that selects it (a VAP without bindings is judged as ``kyverno test``
does: as if one binding with ``Deny`` selected everything; with bindings, a
subject none selects is ``skip``) and per param object of the binding's
``paramRef`` (``parameterNotFoundAction`` ``Deny``: a configuration error
under ``failurePolicy``; ``Allow``: not evaluated), the expressions of
expressions.py. Any failure -> ``fail`` (with the binding's
``validationActions`` and name on each :class:`Failure`); else errors under
``Ignore`` -> ``error``; else ``pass``, or ``skip`` when every evaluation was
skipped by ``matchConditions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeproof.policies.cel_values import jsonish
from kubeproof.policies.expressions import (
    EVALUATION_ERROR,
    MAX_VALIDATIONS,
    Body,
    Compiler,
    Verdict,
    compile_body,
    environment,
    evaluate_body,
    short,
)
from kubeproof.policies.match import Matcher, Request, compile_match
from kubeproof.policies.model import (
    AUDIT,
    DENY,
    ERROR,
    FAIL,
    PASS,
    SKIP,
    UNSUPPORTED,
    WARN_ACTION,
    Failure,
    Lookup,
    Outcome,
    PolicyError,
    Source,
    Subject,
)
from kubeproof.policies.request import Admission, labels_of, meta_string, prepared
from kubeproof.policies.resources import kind_of_resource
from kubeproof.policies.unsupported import libraries_used

ACTIONS = frozenset({DENY, WARN_ACTION, AUDIT})
MAX_PARAMS = 1000

@dataclass(frozen=True, slots=True)
class Binding:
    name: str
    matcher: Matcher | None  # None: every resource the policy matches
    actions: frozenset[str]
    param_name: str | None = None
    param_namespace: str | None = None
    param_selector: Mapping[str, Any] | None = None
    has_param_ref: bool = False
    deny_missing_param: bool = True


@dataclass
class AdmissionPolicy:
    """A compiled ValidatingAdmissionPolicy or Kyverno ValidatingPolicy."""

    name: str
    kind: str
    source: Source
    annotations: Mapping[str, str]
    bodies: tuple[Body, ...]  # the policy, then its autogen variants
    fail_closed: bool = True
    bindings: list[Binding] = field(default_factory=list)
    param_kind: tuple[str, str] | None = None  # (apiVersion, kind)
    actions: frozenset[str] = frozenset({DENY})  # without bindings
    unsupported: tuple[str, ...] = ()
    # a Kyverno NamespacedValidatingPolicy judges only the objects of its namespace
    namespace: str | None = None

    @property
    def kinds(self) -> frozenset[str] | None:
        """The kinds the policy (and its autogen variants) can select at most,
        from the resources its matchConstraints name; None: any kind. The run
        gives the policy's rule only objects of these kinds (a cheap filter
        before the exact match; measured: a fifth of a scan with 20 policies
        went to objects no policy selects)."""
        found: set[str] = set()
        for body in self.bodies:
            rules = body.matcher.rules
            if rules is None:
                return None
            for rule in rules:
                for resource in rule.resources:
                    kind = kind_of_resource(resource)
                    if kind is None:
                        return None
                    found.add(kind)
        return frozenset(found)

    def evaluate(self, subject: Subject, lookup: Lookup) -> list[Outcome]:
        try:
            return [self._evaluate(prepared(subject, lookup), lookup)]
        except (ValueError, TypeError, KeyError, RecursionError, OverflowError,
                RuntimeError) as err:  # a last guard: the contract is never to raise
            return [Outcome(self.name, "", ERROR,
                            message=short(f"internal error: {type(err).__name__}: {err}"))]

    def _evaluate(self, admission: Admission, lookup: Lookup) -> Outcome:
        if self.namespace is not None and admission.request.namespace != self.namespace:
            return Outcome(self.name, "", SKIP, message=(
                f"a {self.kind} of namespace {self.namespace} judges only that namespace"))
        body = next((b for b in self.bodies if b.matcher.matches(admission.request)), None)
        if body is None:
            return Outcome(self.name, "", SKIP,
                           message="the policy's matchConstraints do not select it")
        bindings = self.bindings or [Binding("", None, self.actions)]
        selected = [b for b in bindings if b.matcher is None or b.matcher.matches(
            admission.request)]
        if not selected:
            return Outcome(self.name, "", SKIP, message="no binding selects it")
        if self.unsupported:
            return Outcome(self.name, "", UNSUPPORTED, message=(
                "uses CEL libraries kubeproof cannot evaluate offline: "
                + ", ".join(self.unsupported)))
        verdict = Verdict()
        for binding in selected:
            for params in self._params(binding, admission, lookup, verdict):
                data = dict(admission.bindings)
                data["params"] = params
                evaluate_body(self.name, body, data, self.fail_closed, binding.actions,
                               binding.name, verdict)
        annotations = tuple(verdict.annotations)
        if verdict.failures:
            # what the API server sends back for a Warn action
            warnings = tuple(
                f"Validation failed for {self.kind} '{self.name}'"
                + (f" with binding '{f.binding}'" if f.binding else "") + f": {f.message}"
                for f in verdict.failures if WARN_ACTION in f.actions)
            return Outcome(self.name, "", FAIL, failures=tuple(verdict.failures),
                           warnings=warnings, audit_annotations=annotations)
        if verdict.errors:
            return Outcome(self.name, "", ERROR, message="; ".join(verdict.errors[:5]),
                           audit_annotations=annotations)
        if not verdict.evaluated:
            return Outcome(self.name, "", SKIP,
                           message="; ".join(verdict.skipped[:5]) or "not evaluated")
        return Outcome(self.name, "", PASS, audit_annotations=annotations)

    def _params(self, binding: Binding, admission: Admission, lookup: Lookup,
                verdict: Verdict) -> list[Any]:
        """The param objects to evaluate with (``[None]``: no params)."""
        if self.param_kind is None or not self.bindings:
            return [None]

        def config_error(message: str) -> list[Any]:
            if self.fail_closed:
                verdict.failures.append(Failure(message, None, EVALUATION_ERROR,
                                                binding.actions, binding.name))
            else:
                verdict.errors.append(message)
            return []

        if not binding.has_param_ref:
            return config_error(f"binding '{binding.name}' has no paramRef but policy "
                                f"'{self.name}' has a paramKind")
        api_version, kind = self.param_kind
        namespace = binding.param_namespace or admission.request.namespace or None
        try:
            candidates = list(_bounded(lookup.objects(api_version, kind, namespace), MAX_PARAMS))
        except (KeyError, ValueError, TypeError, OSError):
            candidates = []
        found: list[Any] = []
        for obj in candidates:
            if not isinstance(obj, Mapping):
                continue
            if binding.param_name is not None and meta_string(obj, "name") != binding.param_name:
                continue
            if binding.param_selector is not None and not Matcher(
                    rules=None, object_selector=binding.param_selector).matches(
                    _label_request(obj)):
                continue
            found.append(jsonish(obj))
        if found:
            return found
        if binding.deny_missing_param:
            what = (f"'{binding.param_name}'" if binding.param_name is not None
                    else "matching the selector")
            return config_error(f"no params found for policy binding '{binding.name}' "
                                f"({kind} {what}) with `Deny` parameterNotFoundAction")
        verdict.skipped.append(f"no params found for binding '{binding.name}' "
                               "(parameterNotFoundAction: Allow)")
        return []


def _bounded(items: Any, limit: int) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if len(out) >= limit:
            break
        out.append(item)
    return out


def _label_request(obj: Mapping[str, Any]) -> Request:
    return Request("", "", "", "", "", "", "", False, labels_of(obj), None)


# --- compiling the documents ---------------------------------------------------------

def annotations_of(doc: Mapping[str, Any]) -> dict[str, str]:
    metadata = doc.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    if not isinstance(annotations, Mapping):
        return {}
    return {k: v for k, v in annotations.items() if isinstance(k, str) and isinstance(v, str)}


def name_of(doc: Mapping[str, Any]) -> str:
    return meta_string(doc, "name")


def fail_closed_of(spec: Mapping[str, Any], where: str, errors: list[str]) -> bool:
    value = spec.get("failurePolicy")
    if value is None or value == "Fail":
        return True
    if value == "Ignore":
        return False
    errors.append(f"{where}.failurePolicy: must be Fail or Ignore")
    return True


def actions_of(value: Any, where: str, errors: list[str], *, default: frozenset[str]
             ) -> frozenset[str]:
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.append(f"{where} must be a list of Deny, Warn, Audit")
        return default
    bad = [v for v in value if v not in ACTIONS]
    if bad:
        errors.append(f"{where}: {short(bad[0], 60)!r} is not Deny, Warn or Audit")
    actions = frozenset(v for v in value if v in ACTIONS)
    if not actions:
        return default
    return actions


def compile_vap(doc: Mapping[str, Any], source: Source, kube_version: tuple[int, int] | None,
                errors: list[PolicyError]) -> AdmissionPolicy | None:
    """A ValidatingAdmissionPolicy (compile.py adds its bindings)."""
    name = name_of(doc)
    where_errors: list[str] = []
    spec = doc.get("spec")
    if not name:
        errors.append(PolicyError(source, "ValidatingAdmissionPolicy without metadata.name"))
        return None
    if not isinstance(spec, Mapping):
        errors.append(PolicyError(source, f"ValidatingAdmissionPolicy {name}: spec must be "
                                          "a mapping"))
        return None
    matcher = compile_match(spec.get("matchConstraints"), "spec.matchConstraints",
                            where_errors, rules_required=True)
    # authz asks the API server's authorizer: such a policy only matches
    uses = libraries_of(spec, ("authz",))
    body = (Body(matcher, (), (), (), ()) if uses else
            compile_body(spec, Compiler(environment(kube_version, False), where_errors),
                         "spec", matcher))
    fail_closed = fail_closed_of(spec, "spec", where_errors)
    param_kind = _param_kind(spec.get("paramKind"), where_errors)
    for message in where_errors:
        errors.append(PolicyError(source, f"ValidatingAdmissionPolicy {name}: {message}"))
    if body is None:
        return None
    return AdmissionPolicy(name, "ValidatingAdmissionPolicy", source, annotations_of(doc),
                           (body,), fail_closed, param_kind=param_kind,
                           unsupported=tuple(uses))


def _param_kind(value: Any, errors: list[str]) -> tuple[str, str] | None:
    if value is None:
        return None
    if (not isinstance(value, Mapping) or not isinstance(value.get("apiVersion"), str)
            or not isinstance(value.get("kind"), str) or not value.get("kind")):
        errors.append("spec.paramKind needs apiVersion and kind")
        return None
    return value["apiVersion"], value["kind"]


def libraries_of(spec: Mapping[str, Any], only: tuple[str, ...] | None = None) -> list[str]:
    """The unsupported libraries the expressions of ``spec`` use."""
    found: list[str] = []
    for text in _expressions(spec):
        for lib in libraries_used(text):
            if (only is None or lib in only) and lib not in found:
                found.append(lib)
    return found


def _expressions(spec: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for key, field_names in (("validations", ("expression", "messageExpression")),
                             ("variables", ("expression",)),
                             ("matchConditions", ("expression",)),
                             ("auditAnnotations", ("valueExpression",))):
        items = spec.get(key)
        if not isinstance(items, list):
            continue
        for item in items[:MAX_VALIDATIONS]:
            if isinstance(item, Mapping):
                out.extend(item[f] for f in field_names if isinstance(item.get(f), str))
    return out


def compile_binding(doc: Mapping[str, Any], source: Source, errors: list[PolicyError]
                    ) -> tuple[str, Binding] | None:
    """A ValidatingAdmissionPolicyBinding: (policyName, binding)."""
    name = name_of(doc)
    spec = doc.get("spec")
    label = f"ValidatingAdmissionPolicyBinding {name or '(unnamed)'}"
    if not isinstance(spec, Mapping):
        errors.append(PolicyError(source, f"{label}: spec must be a mapping"))
        return None
    policy = spec.get("policyName")
    if not isinstance(policy, str) or not policy:
        errors.append(PolicyError(source, f"{label}: spec.policyName is required"))
        return None
    problems: list[str] = []
    matcher = (compile_match(spec["matchResources"], "spec.matchResources", problems,
                             rules_required=False)
               if spec.get("matchResources") is not None else None)
    actions = actions_of(spec.get("validationActions"), "spec.validationActions", problems,
                       default=frozenset({DENY}))
    ref = spec.get("paramRef")
    binding = Binding(name, matcher, actions)
    if ref is not None:
        if not isinstance(ref, Mapping):
            problems.append("spec.paramRef must be a mapping")
        else:
            param_name = ref.get("name")
            namespace = ref.get("namespace")
            selector = ref.get("selector")
            action = ref.get("parameterNotFoundAction", "Deny")
            if action not in ("Allow", "Deny", None):
                problems.append("spec.paramRef.parameterNotFoundAction must be Allow or Deny")
            if selector is not None:
                check: list[str] = []
                compile_match({"objectSelector": selector}, "spec.paramRef.selector", check,
                              rules_required=False)
                problems.extend(check)
                if check or not isinstance(selector, Mapping):
                    selector = {"matchExpressions": [{"key": "", "operator": "In",
                                                      "values": [""]}]} if check else None
            binding = Binding(
                name, matcher, actions,
                param_name if isinstance(param_name, str) and param_name else None,
                namespace if isinstance(namespace, str) and namespace else None,
                selector if isinstance(selector, Mapping) else None, True, action != "Allow")
            if binding.param_name is None and binding.param_selector is None:
                problems.append("spec.paramRef needs a name or a selector")
    for message in problems:
        errors.append(PolicyError(source, f"{label}: {message}"))
    return policy, binding
