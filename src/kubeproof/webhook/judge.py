"""From an admission request to a decision: which requests are judged, and how.

Built once per worker (rules selected, per-kind rule lists cached, policy
parsed), then called per request. The rules are those of ``scan``, object
scope only (set, registry and report rules need more than one object; see
docs/design.md), run by :class:`kubeproof.core.engine.ObjectChecker` with the same
annotation exemptions, config exemptions and severities.

Not judged (allowed at once): DELETE and CONNECT; subresources other than
``pods/ephemeralcontainers`` (what ``kubectl debug`` adds: the request carries
the whole Pod, and its new ephemeral container is judged even when a
controller owns the Pod, as no owner template holds it); namespaces the
policy leaves out; Pods and ReplicaSets whose controller is judged instead
(exactly the owners ``audit`` rolls up, ``sources.cluster.judged_elsewhere``;
``judgeControlled: true`` judges them too). On UPDATE only findings that the
old object did not already have (same rule, container and path) count, so a
violation that predates the webhook does not block an unrelated edit.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonpatch

from kubeproof.api import custom_rules_or_raise
from kubeproof.core.catalogue import fixes, load_rules
from kubeproof.core.config import Config, ConfigError
from kubeproof.core.context import Context
from kubeproof.core.engine import ObjectChecker
from kubeproof.core.fixing import FixSettings
from kubeproof.core.result import ScanResult
from kubeproof.core.run import RunSettings, build_run
from kubeproof.core.suppression import IGNORE_ANNOTATION
from kubeproof.fix.apply import fix_object
from kubeproof.k8s.versions import DEFAULT_KUBE_VERSION, parse_kube_version
from kubeproof.model import Admission, Finding, Rule, RunsIn
from kubeproof.policies.as_rules import ADMISSION_FAMILIES
from kubeproof.policies.scanned import gather
from kubeproof.sources.cluster import as_judged, judged_elsewhere
from kubeproof.sources.files import LoadOptions
from kubeproof.webhook.admission import JUDGED_OPERATIONS, AdmissionRequest, AdmissionResponse
from kubeproof.webhook.policy import AUDIT, ENFORCE, FAIL_ALLOW, WARN, WebhookPolicy

EPHEMERAL = "ephemeralcontainers"  # the subresource kubectl debug writes
MAX_WARNING = 256  # the API server may truncate longer warnings
MAX_MESSAGE = 8192
MAX_ANNOTATION = 2048


class JudgementError(RuntimeError):
    """The rules could not all run on the object (a rule raised)."""


@dataclass(slots=True)
class Decision:
    """The answer to one request, and its audit event (None: not judged)."""

    response: AdmissionResponse
    event: dict[str, Any] | None = None
    outcome: str = "allowed"  # metrics: allowed, denied, skipped, invalid, failure_*
    findings: list[tuple[Finding, str]] = field(default_factory=list)  # (finding, mode)
    fixed: list[str] = field(default_factory=list)  # /mutate: rule codes fixed
    exempted: int = 0  # findings left out by exemptions (counted by the app)


def run_settings(config: Config, policy: WebhookPolicy,
                 policy_paths: Sequence[str] = ()) -> RunSettings:
    """The webhook's run: scan's kube version and PSS level, every rule the
    config leaves on (its custom rules too), the admission policies of
    ``policy_paths`` (``serve --policy``: VAPs with their bindings and params,
    Kyverno policies), annotation exemptions as the policy allows them; raises
    ``ValueError`` for a bad ``scan.kubeVersion``, a custom rule or a policy
    that does not compile (one line each)."""
    settings = config.scan
    version = parse_kube_version(str(settings["kubeVersion"])) \
        if settings.get("kubeVersion") else DEFAULT_KUBE_VERSION
    level = settings.get("pssLevel", "restricted")
    judged = dataclasses.replace(config, allow_annotations=policy.allow_annotations)
    try:
        custom = custom_rules_or_raise(config, version)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    policies = gather((), policy_paths, LoadOptions(), version)
    if policies.errors:
        raise ValueError("\n".join(str(e) for e in policies.errors))
    return RunSettings(judged, kube_version=version, pss_level=level,
                       extra_rules=[*custom, *policies.rules(config)],
                       policy_lookup=policies.lookup)


def build_context(config: Config, policy: WebhookPolicy,
                  policy_paths: Sequence[str] = ()) -> Context:
    """The rules' context for the webhook (see :func:`run_settings`)."""
    return build_run(run_settings(config, policy, policy_paths)).ctx


class Judge:
    def __init__(self, config: Config, policy: WebhookPolicy,
                 extra_rules: tuple[Rule, ...] = (), policy_paths: Sequence[str] = ()) -> None:
        self.policy = policy
        run = build_run(run_settings(config, policy, policy_paths))
        rules = [r for r in run.rules if RunsIn.ADMISSION in r.runs_in]
        self.checker = ObjectChecker(run.ctx, [*rules, *extra_rules])
        self.codes = {r.code for r in rules}
        self.fixers = policy.fix_codes()
        # no digest lookups (KP0101 needs the registry: too slow for admission), no
        # namespace (KP0402: the API server sets it), and values the object states
        # are never flipped (override_explicit stays off)
        self.fix_settings = FixSettings.from_config(config, unsafe_fixes=policy.unsafe_fixes)

    # ------------------------------------------------------------ validate

    def validate(self, req: AdmissionRequest) -> Decision:
        skipped = self._skip(req)
        if skipped is not None:
            return skipped
        assert req.object is not None
        namespace = req.namespace or _namespace(req.object)
        result = self._check(req.object, req)
        findings = result.findings
        # the engine counts these without naming their rules
        exempted = result.suppressed["annotation"] + result.suppressed["exemption"]
        if req.operation == "UPDATE" and req.old_object is not None:
            # admission policies judge the update itself (with oldObject), as the
            # API server does: what the old object already broke still counts
            before = {_key(f) for f in self._check(req.old_object, req, old=True).findings}
            findings = [f for f in findings
                        if _key(f) not in before or f.rule.family in ADMISSION_FAMILIES]
        moded = [(f, self.policy.mode_for(f.rule.code, f.severity, namespace))
                 for f in findings]
        enforced = [f for f, m in moded if m == ENFORCE]
        warned = [f for f, m in moded if m == WARN]
        audited = [f for f, m in moded if m == AUDIT]
        resp = AdmissionResponse(uid=req.uid, allowed=not enforced)
        if enforced:
            resp.code = 403
            resp.message = _deny_message(req, enforced, self.policy.allow_annotations)
        resp.warnings = [_warning(f) for f in warned]
        if audited:
            resp.audit_annotations["audit-findings"] = _cap(
                "; ".join(_one_line(f) for f in audited), MAX_ANNOTATION)
        decision = "allowed" if resp.allowed else "denied"
        return Decision(resp, self._event(req, decision, moded), decision, moded,
                        exempted=exempted)

    # ------------------------------------------------------------ mutate

    def mutate(self, req: AdmissionRequest) -> Decision:
        """Apply the fixers ``webhook.fixers`` names (default: the safe ones) to the
        object; the change as a JSONPatch.

        Codes the object's exemption annotation names are not fixed (the owner
        asked for that setting), nor are rules the config disabled.
        """
        skipped = self._skip(req)
        if skipped is not None:
            return skipped
        assert req.object is not None
        codes = self.fixers & self.codes
        ignored = self.checker.annotation_ignores(req.object) or set()
        codes = set() if {"*", "all"} & ignored else codes - ignored
        fixed = copy.deepcopy(req.object)
        changed = fix_object(fixed, self.fix_settings, codes) if codes else []
        resp = AdmissionResponse(uid=req.uid)
        if not changed:
            return Decision(resp, None, "allowed")
        resp.patch = jsonpatch.make_patch(req.object, fixed).patch
        resp.audit_annotations["fixed"] = ",".join(changed)
        names = load_rules()
        resp.warnings = [_cap(f"kubeproof changed the object to fix {code} {names[code].name}: "
                              f"{fixes()[code].summary}", MAX_WARNING) for code in changed]
        event = self._event(req, "patched", [])
        event["fixed"] = changed
        return Decision(resp, event, "patched", fixed=changed)

    def failure(self, req: AdmissionRequest, reason: str, *, mutating: bool = False
                ) -> Decision:
        """The answer when judging failed (``reason``: deadline, exception, rule_error).

        A failed mutation never denies: the object goes on unpatched, and the
        validating webhook, which applies ``failurePolicy``, still judges it.
        """
        text = {"deadline": "took longer than its deadline",
                "rule_error": "hit an internal error in a rule",
                "exception": "hit an internal error"}.get(reason, reason)
        allowed = mutating or self.policy.failure_policy == FAIL_ALLOW
        resp = AdmissionResponse(uid=req.uid, allowed=allowed)
        note = f"kubeproof could not {'fix' if mutating else 'judge'} this request: it {text}"
        if mutating:
            resp.warnings = [f"{note}; allowed without changes"]
        elif allowed:
            resp.warnings = [f"{note}; allowed by failurePolicy allow"]
        else:
            resp.code = 500
            resp.message = f"{note}; denied by failurePolicy deny"
        decision = "failure_allowed" if allowed else "failure_denied"
        return Decision(resp, self._event(req, decision, [], reason), decision)

    def _skip(self, req: AdmissionRequest) -> Decision | None:
        if req.problem is not None:
            resp = AdmissionResponse(uid=req.uid, allowed=False, code=400, message=req.problem)
            return Decision(resp, None, "invalid")
        obj = req.object
        debug = req.sub_resource == EPHEMERAL and str(obj.get("kind") if obj else "") == "Pod"
        if req.operation not in JUDGED_OPERATIONS or (req.sub_resource and not debug) \
                or obj is None:
            return Decision(AdmissionResponse(uid=req.uid), None, "skipped")
        if not self.policy.judges_namespace(req.namespace or _namespace(obj)):
            return Decision(AdmissionResponse(uid=req.uid), None, "skipped")
        meta = obj.get("metadata")
        if not self.policy.judge_controlled and not debug and isinstance(meta, dict) and \
                judged_elsewhere(str(obj.get("kind") or req.kind), meta):
            return Decision(AdmissionResponse(uid=req.uid), None, "skipped")
        return None

    def _check(self, obj: dict[str, Any], req: AdmissionRequest, old: bool = False
               ) -> ScanResult:
        meta = obj.get("metadata")
        meta = dict(meta) if isinstance(meta, dict) else {}
        if req.namespace and not meta.get("namespace"):
            # the API server places the object in the request's namespace
            meta["namespace"] = req.namespace
        if isinstance(meta.get("annotations"), dict):
            meta["annotations"] = dict(meta["annotations"])
        # as audit sees live objects (a Secret without its values); the request's
        # object stays as it came (copies of what as_judged changes)
        obj = as_judged({**obj, "metadata": meta}, req.api_version, req.kind)
        label = f"admission/{req.namespace or '-'}/{req.kind or obj.get('kind')}/{req.name}"
        admission = None if old else Admission(req.operation, req.old_object, req.user_info,
                                               req.dry_run)
        result = self.checker.check(obj, label, admission=admission)
        if result.errors:
            raise JudgementError(result.errors[0].message)
        return result

    def _event(self, req: AdmissionRequest, decision: str, moded: list[tuple[Finding, str]],
               reason: str | None = None) -> dict[str, Any]:
        event: dict[str, Any] = {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "uid": req.uid,
            "user": req.username,
            "operation": req.operation,
            "kind": req.kind,
            "namespace": req.namespace,
            "name": req.name or _name(req.object),
            "decision": decision,
            "findings": sorted({f.rule.code for f, _ in moded}),
            "enforced": sorted({f.rule.code for f, m in moded if m == ENFORCE}),
            "dryRun": req.dry_run,
        }
        if reason is not None:
            event["reason"] = reason
        return event


def _key(f: Finding) -> tuple[str, str, str]:
    """What makes a finding the same one in the old and new object (never the line)."""
    return f.rule.code, f.container or "", f.path


def _namespace(obj: dict[str, Any]) -> str | None:
    meta = obj.get("metadata")
    ns = meta.get("namespace") if isinstance(meta, dict) else None
    return ns if isinstance(ns, str) and ns else None


def _name(obj: dict[str, Any] | None) -> str:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    if not isinstance(meta, dict):
        return ""
    name = meta.get("name") or meta.get("generateName")
    return name if isinstance(name, str) else ""


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _where(f: Finding) -> str:
    parts = [f"container {f.container!r}"] if f.container else []
    if f.path:
        parts.append(f.path)
    return f" ({', '.join(parts)})" if parts else ""


def _one_line(f: Finding) -> str:
    return f"{f.rule.code} {f.rule.name}{_where(f)}: {f.message}"


def _warning(f: Finding) -> str:
    return _cap(_one_line(f), MAX_WARNING)


def _deny_message(req: AdmissionRequest, enforced: list[Finding], exemptable: bool) -> str:
    obj = req.object or {}
    what = f"{req.kind or obj.get('kind')} {_qualified(req.namespace, req.name or _name(obj))}"
    lines = [f"kubeproof denied {what}: {len(enforced)} finding"
             f"{'s' if len(enforced) != 1 else ''} to fix"]
    for f in enforced:
        lines.append(f"- {_one_line(f)} Fix: {f.rule.remediation}")
    if exemptable:
        lines.append(f"To exempt this object, annotate it {IGNORE_ANNOTATION}: <codes>.")
    return _cap("\n".join(lines), MAX_MESSAGE)


def _qualified(namespace: str | None, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name
