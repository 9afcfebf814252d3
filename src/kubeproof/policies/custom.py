"""Custom rules of ``.kubeproof.yaml`` (``customRules:``), compiled once per
config: for teams that want a rule, not a policy object.

Each entry (checked for its shape by :mod:`kubeproof.core.custom_rules` when
the config was read) becomes a :class:`CustomRule`, a
:class:`~kubeproof.policies.model.Policy` of kind ``CustomRule``: ``kubeproof
test`` runs it like any policy, and :mod:`kubeproof.policies.as_rules` makes
it a rule of the run like a built-in one.

Its ``expression`` is CEL over ``object``, ``oldObject``, ``namespaceObject``
(None when the namespace is not in the scanned set or the cluster),
``params`` (the entry's ``params`` mapping) and ``request`` (the admission
request: ``operation``, ``namespace``, ``name``, ``kind``, ``userInfo``,
``dryRun``), as a ValidatingAdmissionPolicy's validation sees them; true means
the object passes. The verdict:

* ``skip`` when ``match`` leaves the object out (``kinds``; ``namespaces`` and
  ``excludeNamespaces`` as globs, a namespace-less object matching only when
  ``namespaces`` is not given; ``labelSelector`` on the object's labels);
* ``pass`` when the expression is true, ``fail`` when false, with the message
  (``messageExpression``'s string when it gives one, else ``message``, else
  ``summary``, else the expression) at ``fieldPath``;
* ``error`` when the expression fails on this object (no such key, a type
  it did not expect, over its cost budget) or is not a bool: the run warns,
  it never guesses a verdict. Write ``has(object.spec.x) && ...`` (or
  ``object.?spec.x.orValue(...)``) where a field may be missing.

A bad expression is one error at load time with its line and column in the
config (:func:`compile_custom_rules`).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubeproof.core.config import Config, position_in_config
from kubeproof.core.custom_rules import CustomRuleEntry
from kubeproof.k8s.cel import CelCostError, CelError, Environment, Program
from kubeproof.k8s.selectors import SelectorError, label_selector_matches
from kubeproof.k8s.versions import DEFAULT_KUBE_VERSION, parse_kube_version
from kubeproof.model import Rule
from kubeproof.policies.as_rules import FieldPathError, parse_field_path, policy_rules
from kubeproof.policies.model import (
    ERROR,
    FAIL,
    PASS,
    SKIP,
    Failure,
    Lookup,
    Outcome,
    PolicyError,
    Source,
    Subject,
)
from kubeproof.util.terminal import safe

KIND = "CustomRule"
VARIABLES = ("object", "oldObject", "namespaceObject", "params", "request")
MAX_MESSAGE = 1024  # a messageExpression's string, as the API server caps it
_POSITION = re.compile(r"<input>:(\d+):(\d+):\s*")
_STATUS = re.compile(r"^[A-Z_]+: (?:ERROR: )?")


@dataclass(slots=True)
class CustomRule:
    """One compiled custom rule (a ``Policy`` of kind ``CustomRule``)."""

    code: str
    name: str
    source: Source
    annotations: Mapping[str, str]
    expression: str
    program: Program
    message: str
    message_program: Program | None = None
    field_path: str | None = None
    params: Mapping[str, Any] | None = None
    kinds: frozenset[str] | None = None  # None: every kind
    namespaces: tuple[str, ...] = ()  # globs; empty: every namespace
    exclude_namespaces: tuple[str, ...] = ()
    label_selector: Mapping[str, Any] | None = None
    kind: str = KIND
    practice: int = 16

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether ``match`` takes the object in."""
        kind = obj.get("kind")
        if self.kinds is not None and kind not in self.kinds:
            return False
        meta = obj.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        namespace = meta.get("namespace")
        if kind == "Namespace" and namespace is None:
            namespace = meta.get("name")  # a namespace is in itself, as namespaceSelector says
        namespace = namespace if isinstance(namespace, str) else None
        if self.namespaces and (namespace is None or not any(
                fnmatch.fnmatchcase(namespace, g) for g in self.namespaces)):
            return False
        if namespace is not None and any(fnmatch.fnmatchcase(namespace, g)
                                         for g in self.exclude_namespaces):
            return False
        if self.label_selector is not None:
            labels = meta.get("labels")
            try:
                return label_selector_matches(self.label_selector,
                                              labels if isinstance(labels, dict) else {})
            except SelectorError:  # checked at load: cannot happen
                return False
        return True

    def evaluate(self, subject: Subject, lookup: Lookup) -> list[Outcome]:
        """The rule's verdict on ``subject`` (never raises)."""
        try:
            return [self._evaluate(subject, lookup)]
        except Exception as exc:  # a hostile value the runtime chokes on: an error, not a crash
            return [Outcome(self.name, "", ERROR, message=f"cannot evaluate: "
                                                          f"{type(exc).__name__}")]

    def _evaluate(self, subject: Subject, lookup: Lookup) -> Outcome:
        obj = subject.obj if subject.obj is not None else subject.old_obj
        if not isinstance(obj, Mapping) or not self.matches(obj):
            return Outcome(self.name, "", SKIP, message="not matched by the rule's match")
        bindings = {
            "object": subject.obj,
            "oldObject": subject.old_obj,
            "namespaceObject": subject.namespace_obj,
            "params": self.params,
            "request": _request(subject, obj),
        }
        try:
            verdict = self.program.evaluate(bindings)
        except CelCostError as exc:
            return Outcome(self.name, "", ERROR,
                           message=f"expression over its cost budget: {_one_line(exc)}")
        except CelError as exc:
            return Outcome(self.name, "", ERROR, message=f"expression failed: {_one_line(exc)}")
        if verdict is True:
            return Outcome(self.name, "", PASS)
        if verdict is not False:
            return Outcome(self.name, "", ERROR, message="expression gave a "
                           f"{type(verdict).__name__}, not a bool")
        return Outcome(self.name, "", FAIL, failures=(
            Failure(self._message(bindings), self.field_path),))

    def _message(self, bindings: dict[str, Any]) -> str:
        if self.message_program is not None:
            try:
                text = self.message_program.evaluate(bindings)
            except CelError:
                text = None  # as the API server: the static message then
            if isinstance(text, str) and text.strip() and "\n" not in text:
                return text[:MAX_MESSAGE]
        return self.message


def _request(subject: Subject, obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    api_version = obj.get("apiVersion")
    api_version = api_version if isinstance(api_version, str) else ""
    group, _, version = api_version.rpartition("/")
    kind = obj.get("kind")
    name = meta.get("name")
    namespace = meta.get("namespace")
    return {"operation": subject.operation,
            "namespace": namespace if isinstance(namespace, str) else "",
            "name": name if isinstance(name, str) else "",
            "kind": {"group": group, "version": version,
                     "kind": kind if isinstance(kind, str) else ""},
            "userInfo": dict(subject.user_info), "dryRun": subject.dry_run}


def _one_line(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return safe(_STATUS.sub("", _POSITION.sub("", first)))[:300]


def compile_custom_rules(config: Config, kube_version: tuple[int, int] | None = None
                         ) -> tuple[list[CustomRule], list[PolicyError]]:
    """The config's custom rules compiled for ``kube_version`` (the CEL
    functions of that Kubernetes version; default: the config's
    ``scan.kubeVersion``, else kubeproof's default), and one error per
    expression or fieldPath that cannot be used, with its line and column in
    the config file: ``.kubeproof.yaml:7:31: customRules[0].expression: ...``."""
    if not config.custom_rules:
        return [], []
    env = Environment(VARIABLES, kube_version or _config_version(config))
    rules: list[CustomRule] = []
    errors: list[PolicyError] = []
    for entry in config.custom_rules:
        rule = _compile(entry, env, config.path, errors)
        if rule is not None:
            rules.append(rule)
    return rules, errors


def custom_rules(config: Config, kube_version: tuple[int, int] | None = None
                 ) -> tuple[list[Rule], list[PolicyError]]:
    """The config's custom rules as rules of one run (``RunSettings.extra_rules``)
    and the errors of those that cannot be compiled."""
    compiled, errors = compile_custom_rules(config, kube_version)
    return policy_rules(compiled, config), errors


def _config_version(config: Config) -> tuple[int, int]:
    try:
        return parse_kube_version(str(config.scan.get("kubeVersion") or "")) \
            if config.scan.get("kubeVersion") else DEFAULT_KUBE_VERSION
    except ValueError:
        return DEFAULT_KUBE_VERSION  # the command reports a bad kubeVersion itself


def _compile(entry: CustomRuleEntry, env: Environment, path: str | None,
             errors: list[PolicyError]) -> CustomRule | None:
    failed = len(errors)
    programs: dict[str, Program] = {}
    for key in ("expression", "messageExpression"):
        text = entry.text(key)
        if not text:
            continue
        try:
            programs[key] = env.compile(text)
        except CelError as exc:
            errors.append(_error(entry, key, path, str(exc), text))
    field_path = entry.text("fieldPath") or None
    if field_path is not None:
        try:
            parse_field_path(field_path)
        except FieldPathError as exc:
            errors.append(_error(entry, "fieldPath", path, str(exc), None))
    if len(errors) > failed:
        return None
    match = entry.data.get("match") or {}
    kinds = match.get("kinds")
    summary = entry.text("summary")
    annotations = {"kubeproof.dev/severity": entry.severity.label,
                   "kubeproof.dev/practice": str(entry.practice)}
    expression = entry.text("expression")
    message = entry.text("message") or summary or \
        f"failed expression: {' '.join(expression.split())[:200]}"
    annotations["kubeproof.dev/summary"] = summary or message
    for key, annotation in (("description", "kubeproof.dev/description"),
                            ("how", "kubeproof.dev/how")):
        if entry.text(key):
            annotations[annotation] = entry.text(key)
    return CustomRule(
        code=entry.code, name=entry.name,
        source=Source(path or "<config>", entry.line), annotations=annotations,
        expression=expression, program=programs["expression"], message=message,
        message_program=programs.get("messageExpression"), field_path=field_path,
        params=entry.data.get("params"),
        kinds=None if not kinds or "*" in kinds else frozenset(kinds),
        namespaces=tuple(match.get("namespaces") or ()),
        exclude_namespaces=tuple(match.get("excludeNamespaces") or ()),
        label_selector=match.get("labelSelector"), practice=entry.practice)


def _error(entry: CustomRuleEntry, key: str, path: str | None, message: str,
           text: str | None) -> PolicyError:
    """One line: where in the config (the character the CEL error names when
    known, else the key), which key, and the error's first line."""
    line, column = entry.key_lines.get(key, entry.line), 0
    keys: tuple[str | int, ...] = ("customRules", entry.index, key)
    m = _POSITION.search(message)
    offset = None
    if m is not None and text is not None:
        row, col = int(m.group(1)), int(m.group(2))
        lines = text.split("\n")
        if 1 <= row <= len(lines):
            offset = sum(len(s) + 1 for s in lines[:row - 1]) + min(col - 1, len(lines[row - 1]))
            offset = max(min(offset, len(text.rstrip()) - 1), 0)  # "at the end": its last
    if path is not None:
        found = position_in_config(path, keys, offset)
        if found is not None:
            line, column = found
    return PolicyError(Source(path or "<config>", line, column),
                       f"{entry.where}.{key}: {_one_line(Exception(message))}")
