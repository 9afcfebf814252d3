"""What the webhook does with a finding: the ``webhook:`` section of ``.kubeproof.yaml``.

Each finding gets a *mode*:

- ``enforce``: the request is denied; the message lists the findings and how to fix them;
- ``warn``: allowed, with a warning the client (kubectl) shows;
- ``audit``: allowed, with an audit annotation and an audit event.

The mode comes from, first match wins: the first ``namespaceModes`` entry whose
``namespace`` glob matches the request's namespace (its ``ruleModes``, then its
``mode`` or ``modes`` by severity), then the global ``ruleModes`` (rule code, name
or prefix), then ``modes`` by the finding's severity (default: critical and high
enforce, medium warn, low and info audit).

Which requests are judged: an AdmissionRequest carries the namespace's name but
not its labels, so namespaces are chosen here by name globs
(``includeNamespaces``, default ``["*"]``; ``excludeNamespaces``, default
``["kube-system"]``); select by namespace labels with the webhook
configuration's ``namespaceSelector`` instead. The webhook's own namespace
(``--namespace``, else ``$POD_NAMESPACE``) is always excluded: a webhook that
judged its own pods could not be restarted while it is down. Cluster-scoped
objects are always judged.

What ``/mutate`` fixes: ``fixers`` names it, ``safe`` (the default: the fixes
that cannot stop a correct workload from running, see :mod:`kubeproof.core.fixing`),
``all`` (every object fixer, unsafe ones too) or a list of rules (codes, names,
prefixes; unsafe ones among them run). Whatever it names, a value the object
states (``readOnlyRootFilesystem: false``...) is never flipped at admission:
that needs ``kubeproof fix --unsafe-fixes`` on the manifests.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from kubeproof.core.catalogue import fixes, resolve_selection, unknown_rule_message
from kubeproof.core.config import FIX_ALL, FIX_SAFE, FIX_SELECTIONS, Config, ConfigError
from kubeproof.model import Severity

ENFORCE, WARN, AUDIT = "enforce", "warn", "audit"
MODES = (ENFORCE, WARN, AUDIT)
DEFAULT_MODES: dict[Severity, str] = {
    Severity.CRITICAL: ENFORCE,
    Severity.HIGH: ENFORCE,
    Severity.MEDIUM: WARN,
    Severity.LOW: AUDIT,
    Severity.INFO: AUDIT,
}
FAIL_ALLOW, FAIL_DENY = "allow", "deny"
DEFAULT_DEADLINE_MS = 8000  # below the API server's default webhook timeout (10 s)
SINKS = ("stdout", "file", "hec", "none")


@dataclass(frozen=True, slots=True)
class NamespaceModes:
    """A ``namespaceModes`` entry: modes for the namespaces matching ``pattern``."""

    pattern: str
    modes: dict[Severity, str]
    rule_modes: dict[str, str]


@dataclass(frozen=True, slots=True)
class AuditSettings:
    sink: str = "stdout"
    file: str | None = None
    url: str | None = None
    token_env: str = "KUBEPROOF_HEC_TOKEN"  # the HEC token is read from this variable
    token_file: str | None = None  # ... or from this file (a mounted Secret): it wins
    sourcetype: str = "kubeproof:admission"
    ca_file: str | None = None
    batch_size: int = 100
    flush_ms: int = 1000
    queue_size: int = 10000


@dataclass(frozen=True, slots=True)
class WebhookPolicy:
    modes: dict[Severity, str] = field(default_factory=lambda: dict(DEFAULT_MODES))
    rule_modes: dict[str, str] = field(default_factory=dict)
    namespace_modes: tuple[NamespaceModes, ...] = ()
    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ("kube-system",)
    own_namespace: str | None = None
    allow_annotations: bool = True
    judge_controlled: bool = False
    failure_policy: str = FAIL_ALLOW
    deadline_ms: int = DEFAULT_DEADLINE_MS
    # what /mutate fixes: FIX_SAFE, FIX_ALL or the rule codes the config lists
    fixers: str | tuple[str, ...] = FIX_SAFE
    audit: AuditSettings = field(default_factory=AuditSettings)

    def judges_namespace(self, namespace: str | None) -> bool:
        """Whether requests in ``namespace`` are judged (cluster-scoped: always)."""
        if not namespace:
            return True
        if namespace == self.own_namespace:
            return False
        if any(fnmatch.fnmatchcase(namespace, p) for p in self.exclude):
            return False
        return any(fnmatch.fnmatchcase(namespace, p) for p in self.include)

    @property
    def unsafe_fixes(self) -> bool:
        """Whether /mutate may run unsafe fixers (``all`` or a list names them)."""
        return self.fixers != FIX_SAFE

    def fix_codes(self) -> set[str]:
        """The rule codes whose fixers /mutate runs (set-scoped ones only when listed)."""
        if isinstance(self.fixers, tuple):
            return set(self.fixers)
        return {c for c, fx in fixes().items()
                if not fx.needs_verdict and (fx.safe or self.fixers == FIX_ALL)}

    def mode_for(self, code: str, severity: Severity, namespace: str | None) -> str:
        for entry in self.namespace_modes:
            if fnmatch.fnmatchcase(namespace or "", entry.pattern):
                if code in entry.rule_modes:
                    return entry.rule_modes[code]
                if severity in entry.modes:
                    return entry.modes[severity]
                break
        if code in self.rule_modes:
            return self.rule_modes[code]
        return self.modes.get(severity, DEFAULT_MODES[severity])


def load_policy(config: Config, own_namespace: str | None = None) -> WebhookPolicy:
    """The webhook settings of ``config``; raises ConfigError naming the bad key."""
    raw = config.webhook
    where = config.path or ".kubeproof.yaml"
    custom = config.custom_codes()  # ruleModes may name the config's custom rules
    modes = dict(DEFAULT_MODES)
    modes.update(_severity_modes(where, "webhook.modes", raw.get("modes") or {}))
    failure = raw.get("failurePolicy", FAIL_ALLOW)
    if failure not in (FAIL_ALLOW, FAIL_DENY):
        raise ConfigError(f"{where}: webhook.failurePolicy must be allow or deny, not {failure!r}")
    fixers = raw.get("fixers", FIX_SAFE)
    if not isinstance(fixers, list) and fixers not in FIX_SELECTIONS:
        raise ConfigError(f"{where}: webhook.fixers must be {' or '.join(FIX_SELECTIONS)} or a "
                          f"list of rules, not {str(fixers)[:40]!r}")
    return WebhookPolicy(
        modes=modes,
        rule_modes=_rule_modes(where, "webhook.ruleModes", raw.get("ruleModes") or {}, custom),
        namespace_modes=tuple(_namespace_modes(where, raw.get("namespaceModes") or [],
                                               custom)),
        include=tuple(raw.get("includeNamespaces", ["*"])),
        exclude=tuple(raw.get("excludeNamespaces", ["kube-system"])),
        own_namespace=own_namespace or None,
        allow_annotations=raw.get("allowExemptionAnnotations", config.allow_annotations),
        judge_controlled=raw.get("judgeControlled", False),
        failure_policy=failure,
        deadline_ms=raw.get("deadlineMs", DEFAULT_DEADLINE_MS),
        fixers=tuple(sorted(_codes(where, "webhook.fixers", fixers)))
        if isinstance(fixers, list) else str(fixers),
        audit=_audit(where, raw.get("audit") or {}),
    )


def _mode(where: str, key: str, value: Any) -> str:
    if value not in MODES:
        raise ConfigError(f"{where}: {key} must be one of {', '.join(MODES)}, not {value!r}")
    return str(value)


def _severity_modes(where: str, key: str, raw: dict[str, Any]) -> dict[Severity, str]:
    out: dict[Severity, str] = {}
    for sev, mode in raw.items():
        try:
            severity = Severity.parse(str(sev))
        except ValueError as exc:
            raise ConfigError(f"{where}: {key}: {exc}") from None
        out[severity] = _mode(where, f"{key}.{sev}", mode)
    return out


def _codes(where: str, key: str, tokens: list[str],
           custom: dict[str, str] | None = None) -> set[str]:
    codes, unknown = resolve_selection(tokens)
    for token in unknown:
        code = (custom or {}).get(token)
        if code is None:
            raise ConfigError(f"{where}: {key}: {unknown_rule_message(token)}")
        codes.add(code)
    return codes


def _rule_modes(where: str, key: str, raw: Any,
                custom: dict[str, str] | None = None) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: {key} must be a mapping of rule to mode")
    out: dict[str, str] = {}
    for token, mode in raw.items():
        checked = _mode(where, f"{key}.{token}", mode)
        if "/" in str(token):  # a policy's code (vap/<name>): known once its policies are
            out[str(token)] = checked
            continue
        for code in _codes(where, key, [str(token)], custom):
            out[code] = checked
    return out


def _namespace_modes(where: str, raw: list[Any],
                     custom: dict[str, str] | None = None) -> list[NamespaceModes]:
    out: list[NamespaceModes] = []
    for i, entry in enumerate(raw):
        key = f"webhook.namespaceModes[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("namespace"), str):
            raise ConfigError(f"{where}: {key} must be a mapping with a 'namespace' glob")
        unknown = set(entry) - {"namespace", "mode", "modes", "ruleModes"}
        if unknown:
            raise ConfigError(f"{where}: unknown key '{key}.{sorted(unknown)[0]}' "
                              f"(expected namespace, mode, modes, ruleModes)")
        modes: dict[Severity, str] = {}
        if "mode" in entry:
            modes = dict.fromkeys(Severity, _mode(where, f"{key}.mode", entry["mode"]))
        if "modes" in entry:
            if not isinstance(entry["modes"], dict):
                raise ConfigError(f"{where}: {key}.modes must be a mapping of severity to mode")
            modes.update(_severity_modes(where, f"{key}.modes", entry["modes"]))
        out.append(NamespaceModes(entry["namespace"], modes,
                                  _rule_modes(where, f"{key}.ruleModes",
                                              entry.get("ruleModes") or {}, custom)))
    return out


def _audit(where: str, raw: dict[str, Any]) -> AuditSettings:
    base = AuditSettings()
    sink = raw.get("sink", base.sink)
    if sink not in SINKS:
        raise ConfigError(f"{where}: webhook.audit.sink must be one of {', '.join(SINKS)}, "
                          f"not {sink!r}")
    if sink == "file" and not raw.get("file"):
        raise ConfigError(f"{where}: webhook.audit.sink file needs webhook.audit.file")
    if sink == "hec" and not raw.get("url"):
        raise ConfigError(f"{where}: webhook.audit.sink hec needs webhook.audit.url")
    for key in ("batchSize", "queueSize"):
        if key in raw and raw[key] < 1:
            raise ConfigError(f"{where}: webhook.audit.{key} must be at least 1")
    return AuditSettings(
        sink=sink, file=raw.get("file"), url=raw.get("url"),
        token_env=raw.get("tokenEnv", base.token_env), token_file=raw.get("tokenFile"),
        sourcetype=raw.get("sourcetype", base.sourcetype), ca_file=raw.get("caFile"),
        batch_size=raw.get("batchSize", base.batch_size),
        flush_ms=raw.get("flushMs", base.flush_ms),
        queue_size=raw.get("queueSize", base.queue_size))
