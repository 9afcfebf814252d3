"""Kyverno ``ClusterPolicy`` and namespaced ``Policy`` (``kyverno.io/v1``,
``v2beta1``) judged offline: the rules with ``validate.cel``, evaluated as
Kyverno's CEL handler does (kyverno/kyverno
``pkg/engine/handlers/validation/validate_cel.go``, which runs the Kubernetes
admission validator on the rule; read there, written here), over the rules
Kyverno's autogen derives (:mod:`kyverno_autogen`), selected by ``match`` and
``exclude`` (:mod:`kyverno_match`).

Per rule and object, the outcome is Kyverno's:

* not selected -> ``skip`` (a DELETE is matched and judged on its old
  object, with ``object`` null, as Kyverno's handler does);
* ``celPreconditions`` that do not hold -> ``skip`` ("cel preconditions not met");
* a validation that is not ``true`` -> ``fail``, and so is one whose
  evaluation errors or goes over the cost budget (:mod:`kyverno_cel`: Kyverno
  passes no failure policy to the validator, which then defaults to ``Fail``);
* a param that cannot be found (``paramRef.name`` missing, or nothing found
  under ``parameterNotFoundAction: Deny``) -> ``error``; params selected by
  ``paramRef.selector`` are each judged, and none found (without Deny) passes;
* an expression that does not compile -> ``error`` (and a
  :class:`PolicyError` at compile time, where Kyverno would refuse the policy);
* an UPDATE under Enforce whose old object fails the same rule -> ``skip``
  (``allowExistingViolations``, true unless the rule says false);
* everything that is not CEL (``pattern``, ``anyPattern``, ``deny``,
  ``foreach``, ``podSecurity``, ``manifests``, ``assert``, ``mutate``,
  ``generate``, ``verifyImages``, JMESPath ``preconditions``, ``context``) and
  CEL that needs Kyverno's own libraries or the authorizer -> ``unsupported``
  when the rule selects the object; the compiled policy's ``unsupported``
  says what, once per policy. Never guessed.

``spec.applyRules: One`` skips the rules after the first that passes or
fails, as Kyverno stops there. The failure action of a failed rule
(``validate.failureAction``, else the policy's ``validationFailureAction``;
``Enforce`` in any case -> Deny, anything else -> Audit, Kyverno's default)
is on each :class:`Failure`. ``validationFailureActionOverrides``
(per-namespace actions) are not applied; the policy's ``notes`` says so.
``spec.background`` and ``spec.admission`` are kept on the compiled policy
for the caller (a scan or audit is Kyverno's background, the webhook its
admission).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubeproof.policies.cel_values import jsonish
from kubeproof.policies.kyverno_autogen import autogen_rules
from kubeproof.policies.kyverno_cel import (
    CelRule,
    Result,
    cel_texts,
    collect_params,
    compile_cel,
    validate,
)
from kubeproof.policies.kyverno_match import Request, candidate_kinds, rule_matches
from kubeproof.policies.model import (
    AUDIT,
    DENY,
    ERROR,
    FAIL,
    PASS,
    SKIP,
    UNSUPPORTED,
    Lookup,
    Outcome,
    PolicyError,
    Source,
    Subject,
)
from kubeproof.policies.request import labels_of, prepared
from kubeproof.policies.resources import resource_of
from kubeproof.policies.unsupported import libraries_used
from kubeproof.util.shapes import as_dict

KINDS = ("ClusterPolicy", "Policy")
API_VERSIONS = ("kyverno.io/v1", "kyverno.io/v2beta1")
# a policy past this many rules is read in part (with an error), never without end
MAX_RULES = 1000
_NOT_CEL_VALIDATE = ("pattern", "anyPattern", "deny", "foreach", "podSecurity", "manifests",
                     "assert")
_NOT_VALIDATE = ("mutate", "generate", "verifyImages")


@dataclass(slots=True)
class _Rule:
    name: str
    raw: dict[str, Any]  # match/exclude as written (rewritten by autogen)
    actions: frozenset[str]
    allow_existing: bool
    # the kinds the rule can select (None: any), to skip the rest at once
    kinds: frozenset[str] | None = None
    cel: CelRule | None = None
    unsupported: str = ""
    error: str = ""


class KyvernoPolicy:
    """A compiled ClusterPolicy/Policy; see the module text for its semantics."""

    def __init__(self, name: str, kind: str, source: Source, annotations: Mapping[str, str],
                 namespace: str, rules: list[_Rule], background: bool, admission: bool,
                 unsupported: str | None, notes: tuple[str, ...]) -> None:
        self.name = name
        self.kind = kind
        self.source = source
        self.annotations = annotations
        self.namespace = namespace  # "" for a ClusterPolicy
        self.rules = rules
        self.background = background
        self.admission = admission
        # what the policy holds that is not evaluated, one text per policy (None: all is)
        self.unsupported = unsupported
        # what is read but not applied (validationFailureActionOverrides)
        self.notes = notes
        # spec.applyRules: One: the rules after the first that applies are skipped
        self.apply_one = False

    @property
    def kinds(self) -> frozenset[str] | None:
        """The kinds the rules (autogen'd ones too) can select at most; None: any."""
        found: set[str] = set()
        for rule in self.rules:
            if rule.kinds is None:
                return None
            found |= rule.kinds
        return frozenset(found)

    @property
    def rule_names(self) -> list[str]:
        return [r.name for r in self.rules]

    @property
    def param_kinds(self) -> set[tuple[str, str]]:
        """(apiVersion, kind) of the params the rules read (what an audit must fetch)."""
        kinds = set()
        for rule in self.rules:
            ref = rule.cel.param_kind if rule.cel is not None else None
            if ref is not None and isinstance(ref.get("apiVersion"), str) and isinstance(
                    ref.get("kind"), str):
                kinds.add((ref["apiVersion"], ref["kind"]))
        return kinds

    def evaluate(self, subject: Subject, lookup: Lookup) -> list[Outcome]:
        try:
            return self._evaluate(subject, lookup)
        except Exception as err:  # a policy is hostile input: one outcome, never a traceback
            return [Outcome(self.name, r.name, ERROR, message=f"evaluation failed: "
                            f"{type(err).__name__}: {err}"[:500]) for r in self.rules]

    def _evaluate(self, subject: Subject, lookup: Lookup) -> list[Outcome]:
        judged = subject.obj if isinstance(subject.obj, Mapping) else subject.old_obj
        if not isinstance(judged, Mapping):
            return [Outcome(self.name, r.name, SKIP, message="no object to judge")
                    for r in self.rules]
        kind = judged.get("kind") if isinstance(judged.get("kind"), str) else ""
        context: _Context | None = None  # built for the first rule that may select the object
        outcomes: list[Outcome] = []
        for rule in self.rules:
            if self.apply_one and any(o.result in (PASS, FAIL) for o in outcomes):
                outcomes.append(Outcome(self.name, rule.name, SKIP, message=(
                    "applyRules is One and an earlier rule applied")))
                continue
            if rule.kinds is not None and kind not in rule.kinds:
                outcomes.append(Outcome(self.name, rule.name, SKIP,
                                        message="no resource matched"))
                continue
            if context is None:
                context = _Context(subject, lookup)
            outcomes.append(self._rule(rule, context))
        return outcomes

    def _rule(self, rule: _Rule, ctx: _Context) -> Outcome:
        assert ctx.judged is not None
        why = rule_matches(rule.raw, ctx.request(ctx.judged, ctx.operation), self.namespace)
        if why is not None:
            return Outcome(self.name, rule.name, SKIP, message=why)
        if rule.error:
            return Outcome(self.name, rule.name, ERROR, message=rule.error)
        if rule.unsupported:
            return Outcome(self.name, rule.name, UNSUPPORTED, message=rule.unsupported)
        if rule.cel is None:
            return Outcome(self.name, rule.name, PASS)
        result = self._judge(rule, ctx, ctx.bindings)
        old = ctx.old
        if (result.result == FAIL and DENY in rule.actions and rule.allow_existing
                and ctx.operation == "UPDATE" and old is not None
                and rule_matches(rule.raw, ctx.request(old, "CREATE"), self.namespace) is None
                and self._judge(rule, ctx, ctx.as_created()).result == FAIL):
            return Outcome(self.name, rule.name, SKIP, message="skipping the rule evaluation "
                           "as pre-existing violations are allowed")
        return Outcome(self.name, rule.name, result.result, result.failures,
                       result.message, (), result.audit)

    def _judge(self, rule: _Rule, ctx: _Context, bindings: Mapping[str, Any]) -> Result:
        """Kyverno's ``evaluateCEL`` plus ``processCELValidationResults``: each
        param judged in turn, the first that does not pass decides."""
        cel = rule.cel
        assert cel is not None
        params: list[Any] = [None]
        if cel.param_kind is not None and cel.param_ref is not None:
            found = collect_params(cel.param_kind, cel.param_ref, ctx.namespace, ctx.lookup)
            if isinstance(found, str):
                return Result(ERROR, message=f"error in parameterized resource: {found}")
            params = found
        audit: list[tuple[str, str]] = []
        for param in params:
            result = validate(self.name, cel, rule.actions, {
                **bindings, "params": jsonish(param) if param is not None else None})
            audit.extend(result.audit)
            if result.result != PASS:
                return result
        return Result(PASS, audit=tuple(audit))


class _Context:
    """One subject as the rules of one policy see it: the admission request
    H1's :func:`prepared` builds once per subject for every policy, with
    Kyverno's own reading of the namespace."""

    def __init__(self, subject: Subject, lookup: Lookup) -> None:
        self.lookup = lookup
        self.operation = subject.operation if isinstance(subject.operation, str) else "CREATE"
        obj = subject.obj if isinstance(subject.obj, Mapping) else None
        self.old = subject.old_obj if isinstance(subject.old_obj, Mapping) else None
        self.judged = obj if obj is not None else self.old
        if self.judged is None:
            return
        admission = prepared(subject, lookup)
        info = resource_of(self.judged)
        self.group, self.version, self.kind = info.group, info.version, info.kind
        ns = as_dict(self.judged.get("metadata")).get("namespace")
        self.namespace = ns if isinstance(ns, str) and self.kind != "Namespace" else ""
        self.bindings: dict[str, Any] = admission.bindings
        found: Any = None
        if self.namespace:
            if admission.request.namespace == self.namespace:
                found = admission.namespace_obj
            else:
                found = lookup.namespace(self.namespace)
            if not isinstance(found, Mapping):
                # Kyverno without a cluster: a Namespace object that has only its name
                self.bindings = {**self.bindings, "namespaceObject": {
                    "apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": self.namespace}}}
        # namespaceSelector: a cluster-scoped object's namespace has no labels
        # (Kyverno), an unknown namespace's labels are unknown (None: no match)
        self.namespace_labels: Mapping[str, Any] | None = (
            {} if not self.namespace else
            labels_of(found) if isinstance(found, Mapping) else None)
        self.user_info = subject.user_info if isinstance(subject.user_info, Mapping) else {}

    def request(self, obj: Mapping[str, Any], operation: str) -> Request:
        return Request(obj, self.group, self.version, self.kind, operation, self.user_info,
                       self.namespace_labels)

    def as_created(self) -> dict[str, Any]:
        """The bindings of a CREATE of the old object (allowExistingViolations)."""
        request = {**self.bindings["request"], "operation": "CREATE"}
        return {**self.bindings, "object": self.bindings["oldObject"], "oldObject": None,
                "request": request}


def compile_kyverno_policy(doc: Mapping[str, Any], source: Source,
                           kube_version: tuple[int, int] | None,
                           errors: list[PolicyError]) -> KyvernoPolicy | None:
    """A ClusterPolicy/Policy document compiled once: None (with an error)
    when it cannot be used at all; a broken rule is an error and an ``error``
    outcome, the other rules go on. Never raises."""
    try:
        return _compile(doc, source, kube_version, errors)
    except (RecursionError, ValueError, TypeError) as err:  # nesting past any real policy
        errors.append(PolicyError(source, f"Kyverno policy cannot be read: {err}"[:300]))
        return None


def _compile(doc: Mapping[str, Any], source: Source, kube_version: tuple[int, int] | None,
             errors: list[PolicyError]) -> KyvernoPolicy | None:
    if not isinstance(doc, Mapping):
        errors.append(PolicyError(source, "a Kyverno policy must be a mapping"))
        return None
    kind = doc.get("kind")
    if kind not in KINDS:
        errors.append(PolicyError(source, f"not a Kyverno ClusterPolicy or Policy: kind "
                                          f"{_show(kind)}"))
        return None
    if doc.get("apiVersion") not in API_VERSIONS:
        errors.append(PolicyError(source, f"{kind}: apiVersion {_show(doc.get('apiVersion'))} "
                                          f"is not one of {', '.join(API_VERSIONS)}"))
        return None
    meta = as_dict(doc.get("metadata"))
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        errors.append(PolicyError(source, f"{kind} without metadata.name"))
        return None
    where = f"{kind} {name!r}"
    namespace = ""
    if kind == "Policy":
        ns = meta.get("namespace")
        namespace = ns if isinstance(ns, str) and ns else "default"
    annotations = {k: v for k, v in as_dict(meta.get("annotations")).items()
                   if isinstance(k, str) and isinstance(v, str)}
    spec = doc.get("spec")
    if not isinstance(spec, Mapping):
        errors.append(PolicyError(source, f"{where}: spec must be a mapping"))
        return None
    raw_rules = spec.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        errors.append(PolicyError(source, f"{where}: spec.rules must be a non-empty list"))
        return None
    if len(raw_rules) > MAX_RULES:
        errors.append(PolicyError(source, f"{where}: {len(raw_rules)} rules, more than "
                                          f"{MAX_RULES}; the rest are not read"))
        raw_rules = raw_rules[:MAX_RULES]
    rules: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, rule in enumerate(raw_rules):
        rule_name = rule.get("name") if isinstance(rule, dict) else None
        if not isinstance(rule_name, str) or not rule_name:
            errors.append(PolicyError(source, f"{where}: spec.rules[{i}] must be a mapping "
                                              f"with a name"))
            continue
        if rule_name in seen:
            errors.append(PolicyError(source, f"{where}: rule name {rule_name!r} used twice"))
        seen.add(rule_name)
        rules.append(rule)
    action = _action(spec.get("validationFailureAction"))
    notes = []
    if spec.get("validationFailureActionOverrides"):
        notes.append(f"{where}: validationFailureActionOverrides are not applied "
                     f"(the policy's action is used in every namespace)")
    compiled: list[_Rule] = []
    unsupported: list[str] = []
    for rule, template in autogen_rules(rules, annotations):
        own = template == ""
        out = _compile_rule(rule, template, action, kube_version, errors if own else [], source,
                            where)
        if own and out.unsupported:
            unsupported.append(out.unsupported)
        if own and as_dict(rule.get("validate")).get("failureActionOverrides"):
            notes.append(f"{where}: rule {out.name!r}: failureActionOverrides are not applied")
        compiled.append(out)
    policy = KyvernoPolicy(name, str(kind), source, annotations, namespace, compiled,
                           spec.get("background") is not False,
                           spec.get("admission") is not False,
                           "; ".join(unsupported) or None, tuple(notes))
    policy.apply_one = spec.get("applyRules") == "One"
    return policy


def _action(value: Any) -> frozenset[str]:
    """Kyverno's ``ValidationFailureAction.Enforce()``: ``enforce`` in any case."""
    return frozenset({DENY}) if isinstance(value, str) and value.lower() == "enforce" \
        else frozenset({AUDIT})


def _compile_rule(rule: dict[str, Any], template: str, policy_action: frozenset[str],
                  kube_version: tuple[int, int] | None, errors: list[PolicyError],
                  source: Source, where: str) -> _Rule:
    name = str(rule["name"])
    validate = rule.get("validate")
    vdict = as_dict(validate)
    action = _action(vdict["failureAction"]) if "failureAction" in vdict else policy_action
    out = _Rule(name, rule, action, vdict.get("allowExistingViolations") is not False,
                candidate_kinds(rule))
    if validate is not None and not isinstance(validate, dict):
        out.error = f"rule {name}: validate must be a mapping"
        errors.append(PolicyError(source, f"{where}: rule {name!r}: validate must be a mapping"))
        return out
    what = [f"{key} is not supported (not CEL)" for key in _NOT_VALIDATE if key in rule]
    what += [f"validate.{key} is not supported (not CEL)" for key in _NOT_CEL_VALIDATE
             if key in vdict]
    if rule.get("preconditions"):
        what.append("preconditions are not supported (JMESPath)")
    if rule.get("context"):
        what.append("context entries are not supported (JMESPath and API calls)")
    if "cel" not in vdict and not what:
        what.append("a rule without validate.cel is not supported")
    if what:
        out.unsupported = f"rule {name}: {'; '.join(what)}"
        return out
    libraries = sorted({lib for expr in cel_texts(vdict, rule) for lib in libraries_used(expr)})
    if libraries:
        out.unsupported = (f"rule {name}: uses CEL libraries kubeproof cannot evaluate offline: "
                           f"{', '.join(libraries)}")
        return out
    cel, problems = compile_cel(vdict, rule, template, kube_version)
    if problems:
        out.error = f"rule {name}: {problems[0]}"
        for problem in problems:
            errors.append(PolicyError(source, f"{where}: rule {name!r}: {problem}"))
        return out
    out.cel = cel
    return out


def _show(value: Any) -> str:
    if value is not None and not isinstance(value, (str, int, float)):
        return f"a {type(value).__name__}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
