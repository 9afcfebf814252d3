"""``.kubeproof.yaml``: rule selection, severities, settings, exemptions and
custom rules (their entries checked here, :mod:`kubeproof.core.custom_rules`;
their CEL compiled by :mod:`kubeproof.policies.custom`).

The file is validated on load against :data:`SCHEMA`; unknown keys and rule
names are errors that name the file, the line and the nearest valid spelling.
"""

from __future__ import annotations

import datetime as dt
import difflib
import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from kubeproof.core.catalogue import resolve_selection, unknown_rule_message
from kubeproof.core.custom_rules import CustomRuleEntry, EntryError, read_entries
from kubeproof.k8s.imageref import DEFAULT_MUTABLE_TAGS
from kubeproof.k8s.quantity import QuantityError, parse_quantity
from kubeproof.model import Severity
from kubeproof.sources.yamlparse import Document, YamlError, locate, parse_yaml
from kubeproof.util.terminal import safe

CONFIG_NAMES = (".kubeproof.yaml", ".kubeproof.yml")
# what ``kubeproof fix`` gives containers without requests / a memory limit
FIX_REQUESTS = {"cpu": "100m", "memory": "128Mi"}
FIX_LIMITS = {"memory": "256Mi"}
# webhook.fixers: the safe fixers (the default), every object fixer, or a list of rules
FIX_SAFE, FIX_ALL = "safe", "all"
FIX_SELECTIONS = (FIX_SAFE, FIX_ALL)


class ConfigError(Exception):
    """A config file that cannot be used; the message is one line."""


@dataclass(slots=True)
class Exemption:
    rules: frozenset[str]  # rule codes; empty = all rules
    namespace: str = "*"
    kind: str = "*"
    name: str = "*"
    reason: str = ""
    expires: dt.date | None = None
    line: int | None = None

    def matches(self, code: str, kind: str, namespace: str | None, name: str) -> bool:
        return ((not self.rules or code in self.rules)
                and fnmatch.fnmatchcase(kind, self.kind)
                and fnmatch.fnmatchcase(namespace or "", self.namespace)
                and fnmatch.fnmatchcase(name, self.name))

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today


@dataclass(slots=True)
class VulnIgnore:
    """A vulnerability ID accepted for now (``vulnerabilities.ignore``)."""

    id: str
    reason: str
    expires: dt.date | None = None
    line: int | None = None

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today


@dataclass(slots=True)
class Config:
    path: str | None = None
    disabled: set[str] = field(default_factory=set)
    enabled: set[str] = field(default_factory=set)
    severity: dict[str, Severity] = field(default_factory=dict)
    required_labels: list[str] = field(default_factory=lambda: ["app.kubernetes.io/name"])
    required_annotations: list[str] = field(default_factory=list)
    allowed_registries: list[str] = field(default_factory=list)
    private_registries: list[str] = field(default_factory=list)
    mutable_tags: list[str] = field(default_factory=lambda: list(DEFAULT_MUTABLE_TAGS))
    max_image_size_mib: int = 300
    max_registry_latency_ms: int = 2000
    min_replicas: int = 2
    allow_annotations: bool = True
    exemptions: list[Exemption] = field(default_factory=list)
    pod_template_paths: dict[str, str] = field(default_factory=dict)
    require_metrics: bool = False
    mesh_required: bool = False
    sensitive_labels: list[str] = field(default_factory=list)
    scan: dict[str, Any] = field(default_factory=dict)
    vulnerabilities: dict[str, Any] = field(default_factory=dict)
    vuln_fail_on: Severity = Severity.HIGH  # KP1101
    vuln_max_age_days: int = 7  # KP1103
    vuln_ignore: list[VulnIgnore] = field(default_factory=list)
    webhook: dict[str, Any] = field(default_factory=dict)  # parsed by webhook/policy.py
    # kubeproof fix: defaults for KP1403/KP1404 and values for KP0501's labels
    fix_requests: dict[str, str] = field(default_factory=lambda: dict(FIX_REQUESTS))
    fix_limits: dict[str, str] = field(default_factory=lambda: dict(FIX_LIMITS))
    fix_labels: dict[str, str] = field(default_factory=dict)
    # customRules, checked but not compiled (policies.custom compiles them)
    custom_rules: list[CustomRuleEntry] = field(default_factory=list)
    # the severity of a policy's rule without a severity annotation
    policy_severity: Severity = Severity.MEDIUM

    def custom_codes(self) -> dict[str, str]:
        """The code of each custom rule by its code and by its name."""
        return {token: e.code for e in self.custom_rules for token in (e.code, e.name)}


# key -> type, or a nested schema. Types: "str", "int", "bool", "list[str]",
# "severity", "severity-map", "exemptions", "date", "str-map", "fix-selection"
# (``safe``, ``all`` or a list of rules: which fixers the webhook's /mutate applies).
SCHEMA: dict[str, Any] = {
    "rules": {"disable": "list[str]", "enable": "list[str]", "severity": "severity-map"},
    "labels": {"required": "list[str]"},
    "annotations": {"required": "list[str]"},
    "images": {
        "allowedRegistries": "list[str]",
        "privateRegistries": "list[str]",
        "mutableTags": "list[str]",
        "maxSizeMiB": "int",
        "maxLatencyMs": "int",
    },
    "rollouts": {"minReplicas": "int"},
    "exemptions": {"allowAnnotations": "bool", "entries": "exemptions"},
    "workloads": {"podTemplatePaths": "str-map"},
    "monitoring": {"requireMetrics": "bool"},
    "mesh": {"required": "bool"},
    "network": {"sensitiveLabels": "list[str]"},
    "vulnerabilities": {"failOn": "severity", "maxAgeDays": "int", "ignore": "list"},
    "scan": {
        "failOn": "severity",
        "kubeVersion": "str",
        "pssLevel": "str",
        "select": "list[str]",
        "ignore": "list[str]",
        "maxFileSizeMiB": "int",
        "groupBy": "str",
        "namespace": "str",
        "applications": "list[str]",
    },
    "webhook": {
        "modes": "str-map",
        "ruleModes": "str-map",
        "namespaceModes": "list",
        "includeNamespaces": "list[str]",
        "excludeNamespaces": "list[str]",
        "allowExemptionAnnotations": "bool",
        "judgeControlled": "bool",
        "failurePolicy": "str",
        "deadlineMs": "int",
        "fixers": "fix-selection",
        "audit": {
            "sink": "str",
            "file": "str",
            "url": "str",
            "tokenEnv": "str",
            "tokenFile": "str",
            "sourcetype": "str",
            "caFile": "str",
            "batchSize": "int",
            "flushMs": "int",
            "queueSize": "int",
        },
    },
    "fix": {"resources": {"requests": "str-map", "limits": "str-map"}, "labels": "str-map"},
    "customRules": "list",  # entries checked by core/custom_rules.py
    "policies": {"defaultSeverity": "severity"},
}
# The range of each "int" setting (dotted key -> lowest, highest): a huge value
# would overflow a file size, sleep for ages or allocate a queue without end.
INT_RANGES: dict[str, tuple[int, int]] = {
    "images.maxSizeMiB": (0, 1 << 20),            # up to 1 TiB
    "images.maxLatencyMs": (1, 600_000),          # up to 10 minutes
    "rollouts.minReplicas": (0, 10_000),
    "vulnerabilities.maxAgeDays": (0, 1_000_000),  # "never stale" in practice
    "scan.maxFileSizeMiB": (1, 4096),             # as --max-file-size
    "webhook.deadlineMs": (1, 30_000),            # the API server waits 30 s at most
    "webhook.audit.batchSize": (1, 10_000),
    "webhook.audit.flushMs": (1, 3_600_000),
    "webhook.audit.queueSize": (1, 1_000_000),
}
MAX_APPLICATION_PATTERNS = 1000  # each input is matched against every pattern
EXEMPTION_KEYS = {"rules", "namespace", "kind", "name", "reason", "expires"}
VULN_IGNORE_KEYS = {"id", "reason", "expires"}


_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def namespace_problem(namespace: str) -> str | None:
    """Why ``namespace`` cannot name a namespace (an RFC 1123 label), or None."""
    if _NAMESPACE.fullmatch(namespace):
        return None
    return (f"namespace '{safe(namespace[:70])}' is not valid: lowercase letters, digits and "
            "'-', starting and ending with a letter or digit, at most 63 characters")


def find_config(start: FsPath | None = None) -> FsPath | None:
    """``.kubeproof.yaml`` in the working directory or the nearest parent."""
    here = (start or FsPath.cwd()).resolve()
    for d in (here, *here.parents):
        for name in CONFIG_NAMES:
            if (d / name).is_file():
                return d / name
    return None


def load_config(path: str | FsPath | None) -> Config:
    if path is None:
        return Config()

    p = str(path)
    try:
        raw = FsPath(p).read_bytes()
        text = raw.decode("utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: config is not valid UTF-8") from None
    docs = list(parse_yaml(text))
    for d in docs:
        if isinstance(d, YamlError):
            raise ConfigError(f"{p}:{d.line or 1}: {d.message}")
    real = [d for d in docs if isinstance(d, Document) and d.data is not None]
    if not real:
        return Config(path=p)
    if len(real) > 1:
        raise ConfigError(f"{p}:{real[1].line}: config must be a single YAML document")
    doc = real[0]
    if not isinstance(doc.data, dict):
        raise ConfigError(f"{p}:{doc.line}: config must be a mapping of settings")
    return _build(p, doc.data, _LineFinder(doc.node))


class _LineFinder:
    def __init__(self, node: Any) -> None:
        self.node = node

    def __call__(self, *path: str | int) -> int:
        found = locate(self.node, path)
        return found[0] if found else 1


def _check(p: str, data: dict[str, Any], schema: dict[str, Any], prefix: tuple[str, ...],
           line: _LineFinder) -> None:
    for key, value in data.items():
        where = (*prefix, str(key))
        dotted = ".".join(where)
        if key not in schema:
            hint = difflib.get_close_matches(str(key), list(schema), n=1, cutoff=0.5)
            msg = f"unknown key {dotted!r}"
            if hint:
                msg += f" (did you mean {'.'.join((*prefix, hint[0]))!r}?)"
            raise ConfigError(f"{p}:{line(*where)}: {msg}")
        expected = schema[key]
        if isinstance(expected, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{p}:{line(*where)}: {dotted} must be a mapping")
            _check(p, value, expected, where, line)
            continue
        ok = {
            "str": isinstance(value, str),
            "int": isinstance(value, int) and not isinstance(value, bool) and value >= 0,
            "bool": isinstance(value, bool),
            "list[str]": isinstance(value, list) and all(isinstance(v, str) for v in value),
            "list": isinstance(value, list),
            "severity": isinstance(value, str),
            "severity-map": isinstance(value, dict),
            "str-map": isinstance(value, dict)
            and all(isinstance(v, str) for v in value.values()),
            "exemptions": isinstance(value, list),
            "fix-selection": value in FIX_SELECTIONS
            or (isinstance(value, list) and all(isinstance(v, str) for v in value)),
        }[expected]
        if not ok:
            human = {"list[str]": "a list of strings", "int": "a non-negative integer",
                     "bool": "true or false", "str": "a string", "severity": "a severity",
                     "severity-map": "a mapping of rule to severity", "list": "a list",
                     "str-map": "a mapping of strings", "exemptions": "a list of exemptions",
                     "fix-selection": f"{' or '.join(FIX_SELECTIONS)} or a list of rules, "
                                      f"not {str(value)[:40]!r}"}
            raise ConfigError(f"{p}:{line(*where)}: {dotted} must be {human[expected]}")
        if expected == "severity":
            _severity(p, value, line(*where))
        if expected == "fix-selection" and isinstance(value, list):
            _rule_codes(p, value, line(*where))
        if expected == "int":
            lowest, highest = INT_RANGES[dotted]
            if not lowest <= value <= highest:
                raise ConfigError(f"{p}:{line(*where)}: {dotted} must be an integer from "
                                  f"{lowest} to {highest}")
        if dotted in ("fix.resources.requests", "fix.resources.limits"):
            _check_quantities(p, dotted, value, line, where)


def _check_quantities(p: str, dotted: str, amounts: dict[str, Any], line: _LineFinder,
                      where: tuple[str, ...]) -> None:
    """The values ``kubeproof fix`` writes must be quantities the API server takes."""
    for name, value in amounts.items():
        try:
            negative = parse_quantity(value).negative
        except QuantityError as exc:
            raise ConfigError(f"{p}:{line(*where, name)}: {dotted}.{name} {exc}") from None
        if negative:
            raise ConfigError(f"{p}:{line(*where, name)}: {dotted}.{name} must not be negative")


def _severity(p: str, value: Any, line: int) -> Severity:
    try:
        return Severity.parse(str(value))
    except ValueError as exc:
        raise ConfigError(f"{p}:{line}: {exc}") from None


def _rule_codes(p: str, tokens: list[str], line: int,
                custom: dict[str, str] | None = None) -> set[str]:
    """The codes ``tokens`` name: built-in rules, else the config's custom rules."""
    codes, unknown = resolve_selection(tokens)
    for token in unknown:
        code = (custom or {}).get(token.strip())
        if code is None:
            raise ConfigError(f"{p}:{line}: {unknown_rule_message(token)}")
        codes.add(code)
    return codes


def _custom_rules(p: str, raw: Any, line: _LineFinder) -> list[CustomRuleEntry]:
    try:
        return read_entries(raw, lambda token: bool(resolve_selection([token])[0]), line)
    except EntryError as exc:
        raise ConfigError(f"{p}:{line(*exc.path)}: {exc}") from None


def position_in_config(path: str, keys: tuple[str | int, ...], value_offset: int | None = None
                       ) -> tuple[int, int] | None:
    """Line and column of ``keys`` in the config at ``path`` (of the character
    ``value_offset`` of its value when given and exactly known), for a problem
    found after loading (a custom rule's CEL error); None when the file cannot
    be read again. Read again only then: a config keeps no node tree; and only a
    regular file (a FIFO read twice would wait for a writer that is gone)."""
    try:
        if not FsPath(path).is_file():
            return None
        text = FsPath(path).read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None
    lines = text.split("\n")
    for doc in parse_yaml(text):
        if isinstance(doc, Document) and doc.data is not None:
            inside = _on_one_line(doc.node, keys, value_offset, lines)
            return inside or locate(doc.node, keys, value_offset=value_offset, lines=lines)
    return None


def _on_one_line(node: Any, keys: tuple[str | int, ...], offset: int | None,
                 lines: list[str]) -> tuple[int, int] | None:
    """The position of character ``offset`` of a value written on one line,
    when the source shows it exactly (no escapes); else None (``locate`` knows
    values over several lines)."""
    for key in keys:
        if isinstance(node, MappingNode):
            node = next((v for k, v in reversed(node.value) if k.value == key), None)
        elif isinstance(node, SequenceNode) and isinstance(key, int) \
                and 0 <= key < len(node.value):
            node = node.value[key]
        else:
            return None
    if offset is None or not isinstance(node, ScalarNode) or \
            node.start_mark.line != node.end_mark.line or node.style not in (None, "", "'", '"'):
        return None
    start, end = node.start_mark, node.end_mark
    written = lines[start.line][start.column:end.column] if start.line < len(lines) else ""
    quote = 1 if node.style in ("'", '"') else 0
    if written[quote:len(written) - quote] != node.value or not 0 <= offset <= len(node.value):
        return None  # escapes: the value is not its source
    return start.line + 1, start.column + 1 + quote + offset


def _build(p: str, data: dict[str, Any], line: _LineFinder) -> Config:
    _check(p, data, SCHEMA, (), line)
    cfg = Config(path=p)
    cfg.custom_rules = _custom_rules(p, data.get("customRules", []), line)
    custom = cfg.custom_codes()
    policies = data.get("policies") or {}
    if "defaultSeverity" in policies:
        cfg.policy_severity = _severity(p, policies["defaultSeverity"],
                                        line("policies", "defaultSeverity"))
    rules = data.get("rules") or {}
    cfg.disabled = _rule_codes(p, rules.get("disable", []), line("rules", "disable"), custom)
    cfg.enabled = _rule_codes(p, rules.get("enable", []), line("rules", "enable"), custom)
    for token, sev in (rules.get("severity") or {}).items():
        where = line("rules", "severity", token)
        for code in _rule_codes(p, [str(token)], where, custom):
            cfg.severity[code] = _severity(p, sev, where)
    if "labels" in data and "required" in data["labels"]:
        cfg.required_labels = list(data["labels"]["required"])
    cfg.required_annotations = list((data.get("annotations") or {}).get("required", []))
    images = data.get("images") or {}
    cfg.allowed_registries = list(images.get("allowedRegistries", []))
    cfg.private_registries = list(images.get("privateRegistries", []))
    cfg.mutable_tags = list(images.get("mutableTags", cfg.mutable_tags))
    cfg.max_image_size_mib = images.get("maxSizeMiB", cfg.max_image_size_mib)
    cfg.max_registry_latency_ms = images.get("maxLatencyMs", cfg.max_registry_latency_ms)
    cfg.min_replicas = (data.get("rollouts") or {}).get("minReplicas", cfg.min_replicas)
    ex = data.get("exemptions") or {}
    cfg.allow_annotations = ex.get("allowAnnotations", True)
    for i, entry in enumerate(ex.get("entries", [])):
        cfg.exemptions.append(_exemption(p, entry, i, line, custom))
    cfg.pod_template_paths = dict((data.get("workloads") or {}).get("podTemplatePaths", {}))
    cfg.require_metrics = (data.get("monitoring") or {}).get("requireMetrics", False)
    cfg.mesh_required = (data.get("mesh") or {}).get("required", False)
    cfg.sensitive_labels = list((data.get("network") or {}).get("sensitiveLabels", []))
    cfg.scan = dict(data.get("scan") or {})
    problem = namespace_problem(cfg.scan["namespace"]) if "namespace" in cfg.scan else None
    if problem:
        raise ConfigError(f"{p}:{line('scan', 'namespace')}: scan.namespace: {problem}")
    if len(cfg.scan.get("applications", [])) > MAX_APPLICATION_PATTERNS:
        raise ConfigError(f"{p}:{line('scan', 'applications')}: scan.applications may list "
                          f"at most {MAX_APPLICATION_PATTERNS} patterns")
    cfg.vulnerabilities = dict(data.get("vulnerabilities") or {})
    vulns = cfg.vulnerabilities
    if "failOn" in vulns:
        cfg.vuln_fail_on = _severity(p, vulns["failOn"], line("vulnerabilities", "failOn"))
    cfg.vuln_max_age_days = vulns.get("maxAgeDays", cfg.vuln_max_age_days)
    cfg.vuln_ignore = [_vuln_ignore(p, entry, i, line)
                       for i, entry in enumerate(vulns.get("ignore", []))]
    cfg.webhook = dict(data.get("webhook") or {})
    fix = data.get("fix") or {}
    resources = fix.get("resources") or {}
    cfg.fix_requests = dict(resources.get("requests", cfg.fix_requests))
    cfg.fix_limits = dict(resources.get("limits", cfg.fix_limits))
    cfg.fix_labels = dict(fix.get("labels", {}))
    return cfg


def _entry_keys(p: str, entry: Any, where: tuple[str | int, ...], allowed: set[str],
                line: _LineFinder) -> None:
    """A list entry must be a mapping of known keys."""
    dotted = ".".join(str(w) for w in where[:-1]) + f"[{where[-1]}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{p}:{line(*where)}: {dotted} must be a mapping")
    for key in entry:
        if key not in allowed:
            hint = difflib.get_close_matches(str(key), sorted(allowed), n=1, cutoff=0.5)
            msg = f"unknown key '{dotted}.{key}'"
            if hint:
                msg += f" (did you mean {hint[0]!r}?)"
            raise ConfigError(f"{p}:{line(*where, key)}: {msg}")


def _expiry(p: str, expires: Any, where: int) -> dt.date | None:
    if expires is None:
        return None
    try:
        return dt.date.fromisoformat(str(expires))
    except ValueError:
        raise ConfigError(f"{p}:{where}: expires must be a date like 2026-12-31") from None


def _vuln_ignore(p: str, entry: Any, i: int, line: _LineFinder) -> VulnIgnore:
    where = line("vulnerabilities", "ignore", i)
    _entry_keys(p, entry, ("vulnerabilities", "ignore", i), VULN_IGNORE_KEYS, line)
    ident = entry.get("id")
    if not isinstance(ident, str) or not ident.strip():
        raise ConfigError(f"{p}:{where}: vulnerabilities.ignore[{i}] needs an 'id' "
                          f"(a vulnerability ID such as CVE-2024-1234)")
    reason = entry.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ConfigError(f"{p}:{where}: vulnerabilities.ignore[{i}] ({ident}) needs a "
                          f"'reason'")
    return VulnIgnore(ident.strip(), reason.strip(),
                      _expiry(p, entry.get("expires"),
                              line("vulnerabilities", "ignore", i, "expires")), where)


def _exemption(p: str, entry: Any, i: int, line: _LineFinder,
               custom: dict[str, str] | None = None) -> Exemption:
    where = line("exemptions", "entries", i)
    _entry_keys(p, entry, ("exemptions", "entries", i), EXEMPTION_KEYS, line)
    rules = entry.get("rules", [])
    if isinstance(rules, str):
        rules = [r.strip() for r in rules.split(",")]
    if not isinstance(rules, list):
        raise ConfigError(f"{p}:{where}: exemptions.entries[{i}].rules must be a list")
    if not entry.get("reason"):
        raise ConfigError(f"{p}:{where}: exemptions.entries[{i}] needs a 'reason'")
    date = _expiry(p, entry.get("expires"), line("exemptions", "entries", i, "expires"))
    codes = _rule_codes(p, [str(r) for r in rules], where, custom) if rules else set()
    return Exemption(
        rules=frozenset(codes),
        namespace=str(entry.get("namespace", "*")),
        kind=str(entry.get("kind", "*")),
        name=str(entry.get("name", "*")),
        reason=str(entry["reason"]),
        expires=date,
        line=where,
    )


STARTER = """\
# kubeproof configuration. Every key is optional; values shown are defaults
# or typical choices. Rules may be named by code (KP0803), name
# (pss-privileged) or code prefix (KP08).

rules:
  disable: []            # e.g. [KP0102, image-not-pinned]
  enable: []             # opt-in rules
  severity: {}           # e.g. {KP0821: high}

labels:
  required:              # KP0501
    - app.kubernetes.io/name

annotations:
  required: []           # KP0601, e.g. [owner, kubernetes.io/change-cause]

images:
  allowedRegistries: []  # KP0202, e.g. [registry.example.com, ghcr.io/my-org]
  privateRegistries: []  # KP0301
  mutableTags: [latest, main, master, head, develop, dev, edge, nightly, stable, canary]
                         # KP0101: tags that move (and any ending in -latest)
  maxSizeMiB: 300        # KP0103 with --check-images
  maxLatencyMs: 2000     # KP0203 with --check-images

rollouts:
  minReplicas: 2         # KP1303

exemptions:
  allowAnnotations: true # honour kubeproof.dev/ignore annotations
  entries: []
  # - rules: [KP0803]
  #   namespace: monitoring
  #   kind: DaemonSet
  #   name: node-exporter*
  #   reason: needs host access to read node metrics
  #   expires: 2027-06-30

vulnerabilities:         # with --vuln-report or --scan-images
  failOn: high           # KP1101: lowest vulnerability severity that makes a finding
  maxAgeDays: 7          # KP1103: older reports are stale
  ignore: []
  # - id: CVE-2024-1234
  #   reason: not reachable, the affected parser is never called
  #   expires: 2027-01-31

scan:
  failOn: high           # critical, high, medium, low, info
  pssLevel: restricted   # or baseline
  groupBy: rule          # text report: findings by rule or by file
  # kubeVersion: "1.37"
  # namespace: shop      # of objects without one, as kubectl apply -n shop
  # applications: []     # folders whose objects set rules judge together,
  #                      # e.g. ["apps/*"] [default: each command-line argument]

fix:                     # what kubeproof fix writes
  resources:
    requests: {cpu: 100m, memory: 128Mi}   # KP1403
    limits: {memory: 256Mi}                # KP1404
  labels: {}             # KP0501 values, e.g. {app.kubernetes.io/part-of: shop}

customRules: []          # your own rules: CEL over object, true when it passes
# - code: ACME001        # a team prefix and a number (not KP)
#   name: owning-team-label
#   practice: 5          # 1-16 [default: 16]
#   severity: high       # [default: medium]
#   summary: Every workload names the team that owns it.
#   match: {kinds: [Deployment, StatefulSet], excludeNamespaces: ["kube-*"]}
#   expression: object.metadata.?labels.?team.orValue("") in params.teams
#   message: the team label names no known team
#   fieldPath: metadata.labels
#   params: {teams: [payments, search]}

policies:
  defaultSeverity: medium  # of a policy's findings without a severity annotation
"""
