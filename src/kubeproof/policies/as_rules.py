"""Any compiled :class:`~kubeproof.policies.model.Policy` as a
:class:`kubeproof.model.Rule` of one run, so that a custom rule, a
ValidatingAdmissionPolicy or a Kyverno policy behaves like a built-in rule
everywhere: selection, severity overrides, exemptions, inline and annotation
ignores, baselines, the scorecard, SARIF, JUnit and exit codes.

The rules are built per run (:func:`policy_rules`) and handed to the run
(``RunSettings.extra_rules``); they never enter the catalogue's module state,
so a webhook and a scan in one process, or two tests, never see each other's.

Codes: a custom rule keeps its own (``ACME001``); a policy's is its kind and
name: ``vap/<name>`` (ValidatingAdmissionPolicy), ``vpol/<name>`` (Kyverno
ValidatingPolicy), ``kyverno/<name>`` (ClusterPolicy) and
``kyverno/<namespace>/<name>`` (a namespaced Kyverno Policy).

Severity: the annotation ``kubeproof.dev/severity``, else
``policies.kyverno.io/severity``, else the config's ``policies.defaultSeverity``
(medium). Practice: ``kubeproof.dev/practice``, else 16 (admission control).

What each outcome becomes:

* each :class:`Failure` a finding at its ``fieldPath`` (a path that does not
  exist in the object points at its closest existing parent), its message
  prefixed with the binding (or the Kyverno rule) that judged it;
* the severity follows what the policy says to do with a failure, as a
  platform engineer reads it: **Deny** is the rule's severity; **Warn**
  without Deny is at most ``low`` (the cluster admits the object and tells
  the user: worth showing, never a failure of the default ``--fail-on high``
  gate on its own); **Audit** alone is ``info`` (a record, as the API
  server's audit log keeps it). A config ``rules.severity`` override still wins;
* an ``error`` outcome (an expression that failed on this object, or ran over
  its cost budget) is a warning of the run naming the rule, the object and
  why (at most :data:`MAX_ERROR_WARNINGS` per rule, then one line saying how
  many more), never a finding and never a guess;
* ``unsupported`` gives nothing per object: the caller reports it once per
  policy; ``pass`` and ``skip`` give nothing.

Rules from policies have no fix: ``kubeproof fix`` leaves them alone.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from kubeproof.core.catalogue import lookup
from kubeproof.core.config import Config
from kubeproof.core.context import Context
from kubeproof.model import PRACTICES, InputError, Path, Resource, Rule, Scope, Severity, Violation
from kubeproof.policies.model import (
    DENY,
    ERROR,
    FAIL,
    WARN,
    WARN_ACTION,
    Lookup,
    NoLookup,
    Outcome,
    Policy,
    Subject,
)
from kubeproof.util.terminal import safe

SEVERITY_ANNOTATIONS = ("kubeproof.dev/severity", "policies.kyverno.io/severity")
PRACTICE_ANNOTATION = "kubeproof.dev/practice"
SUMMARY_ANNOTATIONS = ("kubeproof.dev/summary", "policies.kyverno.io/title")
DESCRIPTION_ANNOTATIONS = ("kubeproof.dev/description", "policies.kyverno.io/description")
DEFAULT_PRACTICE = 16
CUSTOM = "CustomRule"  # the kind of policies.custom's rules
MAX_ERROR_WARNINGS = 20  # per rule and run: the rest is counted in one line
MAX_FIELD_PATH = 1024
_PREFIX = {"ValidatingAdmissionPolicy": "vap", "ValidatingPolicy": "vpol",
           "NamespacedValidatingPolicy": "vpol",
           "ClusterPolicy": "kyverno", "Policy": "kyverno"}
FAMILY = {"CustomRule": "custom", "ValidatingAdmissionPolicy": "vap",
          "ValidatingPolicy": "kyverno", "NamespacedValidatingPolicy": "kyverno",
          "ClusterPolicy": "kyverno", "Policy": "kyverno"}
# the kinds of policies that judge only their own namespace: their codes name it
NAMESPACED_KINDS = frozenset({"Policy", "NamespacedValidatingPolicy"})
# the families of admission policies (not custom rules): the webhook judges an
# UPDATE with them as the API server does, old findings included
ADMISSION_FAMILIES = frozenset({"vap", "kyverno"})


class FieldPathError(ValueError):
    """A ``fieldPath`` that is not a JSONPath of fields and indices."""


# one step of a fieldPath: .name, [0], ['key'] or ["key"]
_STEP = re.compile(r"\.?([^.\[\]'\"]+)|\[(\d{1,9})\]|\['((?:[^'\\]|\\.)*)'\]"
                   r"|\[\"((?:[^\"\\]|\\.)*)\"\]")


def parse_field_path(text: str) -> Path:
    """``spec.template.spec.containers[0].image`` (Kubernetes' fieldPath, a
    leading ``.`` allowed, ``metadata.labels['app.kubernetes.io/name']`` for a
    key with dots) as the model's path ``("spec", ..., 0, "image")``; raises
    :class:`FieldPathError`."""
    if len(text) > MAX_FIELD_PATH:
        raise FieldPathError(f"fieldPath longer than {MAX_FIELD_PATH} characters")
    steps: list[str | int] = []
    pos = 0
    while pos < len(text):
        m = _STEP.match(text, pos)
        if m is None or (m.group(1) is not None and pos and text[pos] != "."
                         and text[pos - 1] != "]"):
            raise FieldPathError(f"fieldPath {safe(text[:80])!r} is not a JSONPath of fields "
                                 f"and indices (at character {pos + 1})")
        name, index, single, double = m.groups()
        if index is not None:
            steps.append(int(index))
        else:
            raw = name if name is not None else single if single is not None else double
            steps.append(re.sub(r"\\(.)", r"\1", raw) if name is None else raw)
        pos = m.end()
    if not steps:
        raise FieldPathError("fieldPath is empty")
    return tuple(steps)


def policy_code(policy: Policy) -> str:
    """The code of a policy's rule (see the module docstring)."""
    code = getattr(policy, "code", None) if policy.kind == CUSTOM else None
    if isinstance(code, str) and code:
        return code
    prefix = _PREFIX.get(policy.kind, policy.kind.lower())
    namespace = getattr(policy, "namespace", None)
    if policy.kind in NAMESPACED_KINDS and isinstance(namespace, str) and namespace:
        return f"{prefix}/{namespace}/{policy.name}"
    return f"{prefix}/{policy.name}"


def policy_severity(policy: Policy, default: Severity = Severity.MEDIUM) -> Severity:
    for key in SEVERITY_ANNOTATIONS:
        value = policy.annotations.get(key)
        if isinstance(value, str):
            try:
                return Severity.parse(value)
            except ValueError:
                continue  # a severity kubeproof does not know: the next source
    return default


def policy_practice(policy: Policy) -> int:
    value = policy.annotations.get(PRACTICE_ANNOTATION)
    # ASCII digits only: "²" is a digit to str.isdigit, not to int()
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,2}", value.strip()) \
            and int(value) in PRACTICES:
        return int(value)
    return DEFAULT_PRACTICE


def _first(annotations: Mapping[str, str], keys: Iterable[str]) -> str:
    for key in keys:
        value = annotations.get(key)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())
    return ""


@dataclass(slots=True)
class PolicyCheck:
    """A rule's check: the policy evaluated on each object, its outcomes as
    violations. One per rule and run (it counts the run's error warnings)."""

    policy: Policy
    code: str
    severity: Severity
    # (field path text -> path): a policy names the same few paths on every object
    _paths: dict[str, Path] = field(default_factory=dict)
    errors: int = 0

    def __call__(self, res: Resource, ctx: Context) -> Iterator[Violation]:
        lookup: Lookup = ctx.policy_lookup if ctx.policy_lookup is not None else NoLookup()
        try:
            subject = _subject(res, lookup)
            outcomes = self.policy.evaluate(subject, lookup)
        except Exception as exc:  # never raises, says the protocol: a bug is one warning
            outcomes = [Outcome(self.policy.name, "", ERROR,
                                message=f"internal error {type(exc).__name__}")]
        for outcome in outcomes:
            if outcome.result in (FAIL, WARN):
                yield from self._violations(outcome)
            elif outcome.result == ERROR:
                self._warn(res, ctx, outcome)

    def _violations(self, outcome: Outcome) -> Iterator[Violation]:
        for failure in outcome.failures:
            actions = failure.actions or frozenset({DENY})
            severity: Severity | None = None
            if outcome.result == WARN or DENY not in actions:
                severity = min(self.severity, Severity.LOW) \
                    if WARN_ACTION in actions or outcome.result == WARN else Severity.INFO
            by = failure.binding or (outcome.rule if outcome.rule != outcome.policy else "")
            message = f"{by}: {failure.message}" if by else failure.message
            yield Violation(self._path(failure.field_path), message, severity=severity)
        if not outcome.failures:  # a verdict without detail still is one
            yield Violation((), outcome.message or f"{self.code} failed")

    def _path(self, text: str | None) -> Path:
        if not text:
            return ()
        path = self._paths.get(text)
        if path is None:
            try:
                path = parse_field_path(text)
            except FieldPathError:
                path = ()  # the object: the policy's own checks report a bad path
            if len(self._paths) < 1024:
                self._paths[text] = path
        return path

    def _warn(self, res: Resource, ctx: Context, outcome: Outcome) -> None:
        self.errors += 1
        if self.errors > MAX_ERROR_WARNINGS + 1:
            return
        origin = res.origin
        what = f"{res.kind}/{res.namespace + '/' if res.namespace else ''}{res.name}"
        text = (f"rule {self.code} could not be evaluated on {what}: "
                f"{' '.join(outcome.message.split())[:300]}")
        if self.errors == MAX_ERROR_WARNINGS + 1:
            text = (f"rule {self.code} could not be evaluated on more objects "
                    f"(only the first {MAX_ERROR_WARNINGS} are listed)")
        ctx.warnings.append(InputError(origin.file, origin.line or None, safe(text)))


_last: tuple[Resource, Lookup, Subject] | None = None


def _subject(res: Resource, lookup: Lookup) -> Subject:
    """The admission subject of ``res``: one per object, shared by every policy's
    rule that judges it (the request and the CEL bindings are prepared once per
    subject, policies.request; measured: preparing them per rule was 60% of a
    scan with 20 policies)."""
    global _last
    last = _last
    if last is not None and last[0] is res and last[1] is lookup:
        return last[2]
    namespace = res.namespace
    namespace_obj = lookup.namespace(namespace) if namespace else None
    request = res.admission
    subject = Subject(obj=res.obj, namespace_obj=namespace_obj) if request is None \
        else Subject(obj=res.obj, old_obj=request.old_object, operation=request.operation,
                     user_info=request.user_info, namespace_obj=namespace_obj,
                     dry_run=request.dry_run)
    _last = (res, lookup, subject)
    return subject


def policy_rule(policy: Policy, default_severity: Severity = Severity.MEDIUM) -> Rule:
    """``policy`` as a rule of one run (see the module docstring)."""
    code = policy_code(policy)
    severity = policy_severity(policy, default_severity)
    annotations = policy.annotations
    custom = policy.kind == CUSTOM
    summary = _first(annotations, SUMMARY_ANNOTATIONS) or \
        f"{policy.kind} {policy.name} (from {policy.source or 'its source'})"
    what = _first(annotations, DESCRIPTION_ANNOTATIONS) or summary
    why = (f"A rule of this team's config ({policy.source})." if custom else
           f"The {policy.kind} {policy.name} ({policy.source}) says so: what the cluster's "
           f"admission would do with this object.")
    how = _first(annotations, ("kubeproof.dev/how",)) or \
        "Change the object so that the rule's expression holds."
    # the kinds it can select at most: the engine gives it only those objects
    kinds = getattr(policy, "kinds", None)
    return Rule(
        code=code,
        name=policy.name,  # policy_rules names it by its code when the name is taken
        practice=policy_practice(policy),
        severity=severity,
        scope=Scope.OBJECT,
        kinds=frozenset(kinds) if kinds else None,
        check=PolicyCheck(policy, code, severity),
        summary=summary,
        what=what,
        why=why,
        how=how,
        example="",
        family=FAMILY.get(policy.kind, "policy"),
        source=str(policy.source),
    )


def policy_rules(policies: Iterable[Policy], config: Config | None = None) -> list[Rule]:
    """The rules of ``policies`` for one run; the severity of a policy without
    a severity annotation is the config's ``policies.defaultSeverity``.

    A policy's rule is named as the policy (``replica-limit``, code
    ``vap/replica-limit``) unless another policy of the run or a built-in rule
    has that name: then its name is its code, so every name names one rule."""
    default = config.policy_severity if config is not None else Severity.MEDIUM
    rules = [policy_rule(p, default) for p in policies]
    names = Counter(r.name for r in rules)
    return [r if r.name == r.code or (names[r.name] == 1 and not lookup(r.name))
            else dataclasses.replace(r, name=r.code) for r in rules]

