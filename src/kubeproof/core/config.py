"""``.kubeproof.yaml``: rule selection, severities, settings and exemptions.

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

from kubeproof.core.catalogue import resolve_selection, unknown_rule_message
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


def _rule_codes(p: str, tokens: list[str], line: int) -> set[str]:
    codes, unknown = resolve_selection(tokens)
    if unknown:
        raise ConfigError(f"{p}:{line}: {unknown_rule_message(unknown[0])}")
    return codes


def _build(p: str, data: dict[str, Any], line: _LineFinder) -> Config:
    _check(p, data, SCHEMA, (), line)
    cfg = Config(path=p)
    rules = data.get("rules") or {}
    cfg.disabled = _rule_codes(p, rules.get("disable", []), line("rules", "disable"))
    cfg.enabled = _rule_codes(p, rules.get("enable", []), line("rules", "enable"))
    for token, sev in (rules.get("severity") or {}).items():
        where = line("rules", "severity", token)
        for code in _rule_codes(p, [str(token)], where):
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
        cfg.exemptions.append(_exemption(p, entry, i, line))
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


def _exemption(p: str, entry: Any, i: int, line: _LineFinder) -> Exemption:
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
    codes = _rule_codes(p, [str(r) for r in rules], where) if rules else set()
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
"""
