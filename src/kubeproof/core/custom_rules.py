"""Custom rules as ``.kubeproof.yaml`` states them (``customRules:``): each
entry checked for its shape, its code and its name when the config is read,
and kept raw with the lines of its keys.

The core only keeps them: the CEL expressions are compiled by
:mod:`kubeproof.policies.custom` (a layer above, which the core may not
import). The core still needs their codes and names while it reads the
config, so that ``rules.disable: [ACME001]``, severity overrides and
exemptions may name them like built-in rules.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kubeproof.k8s.selectors import SelectorError, validate_label_selector
from kubeproof.model import PRACTICES, Severity
from kubeproof.util.terminal import safe

# a team prefix and a number: ACME001, ACME-12 (never KP: the built-in rules' own)
CODE = re.compile(r"[A-Z][A-Z0-9]{1,9}-?[0-9]{1,6}")
NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
# the code of a rule of one run, not of the catalogue: a custom rule's, or a
# policy's (``vap/<name>``, ``vpol/<name>``, ``kyverno/[<namespace>/]<name>``)
RUN_RULE_CODE = re.compile(r"(?!KP)" + CODE.pattern + r"|(?:vap|vpol|kyverno)/[a-z0-9][-a-z0-9.]*"
                           r"(?:/[a-z0-9][-a-z0-9.]*)?")
MAX_NAME = 63
MAX_TEXT = 4096  # summary, description, how, message: help text, not documents
MAX_RULES = 1000  # each runs on every object it matches
DEFAULT_PRACTICE = 16  # admission controllers: "self-developed logic and restrictions"
KEYS = frozenset({"code", "name", "practice", "severity", "summary", "description", "how",
                  "match", "expression", "message", "messageExpression", "fieldPath",
                  "params"})
MATCH_KEYS = frozenset({"kinds", "namespaces", "excludeNamespaces", "labelSelector"})
_TEXT_KEYS = ("summary", "description", "how", "message", "messageExpression", "fieldPath")


@dataclass(slots=True)
class CustomRuleEntry:
    """One ``customRules`` entry, its shape checked; ``data`` is the entry as
    written (``match``, ``params`` and the texts are read from it)."""

    index: int
    code: str
    name: str
    practice: int
    severity: Severity
    data: dict[str, Any]
    line: int  # the entry's line in the config (1: unknown)
    # the line of each key of the entry that was written
    key_lines: dict[str, int] = field(default_factory=dict)

    @property
    def where(self) -> str:
        """``customRules[0]``: how errors name the entry."""
        return f"customRules[{self.index}]"

    def text(self, key: str) -> str:
        value = self.data.get(key)
        return value if isinstance(value, str) else ""


class EntryError(ValueError):
    """A bad entry: ``path`` is the path of the offending key under the config's root."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


def read_entries(raw: Any, builtin: Callable[[str], bool],
                 line: Callable[..., int]) -> list[CustomRuleEntry]:
    """The entries of ``customRules`` (``raw``), checked; raises :class:`EntryError`.

    ``builtin(token)`` says whether a code or name is a built-in rule's;
    ``line(*path)`` is the line of a path of the config."""
    if not isinstance(raw, list):
        raise EntryError(("customRules",), "customRules must be a list of rules")
    if len(raw) > MAX_RULES:
        raise EntryError(("customRules",), f"customRules may hold at most {MAX_RULES} rules")
    entries: list[CustomRuleEntry] = []
    seen: dict[str, str] = {}  # code or name -> the entry that has it
    for i, item in enumerate(raw):
        entry = _entry(i, item, builtin, line)
        for token in (entry.code, entry.name):
            if token in seen:
                key = "code" if token == entry.code else "name"
                raise EntryError(("customRules", i, key),
                                 f"{entry.where}.{key}: '{token}' is also {seen[token]}")
            seen[token] = f"the code or name of {entry.where}"
        entries.append(entry)
    return entries


def _entry(i: int, item: Any, builtin: Callable[[str], bool],
           line: Callable[..., int]) -> CustomRuleEntry:
    where = f"customRules[{i}]"
    at: tuple[str | int, ...] = ("customRules", i)
    if not isinstance(item, dict):
        raise EntryError(at, f"{where} must be a mapping (code, name, expression, ...)")
    for key in item:
        if key not in KEYS:
            raise EntryError((*at, str(key)), f"unknown key '{where}.{safe(str(key)[:60])}'"
                             + _hint(str(key), KEYS))
    code = item.get("code")
    if not isinstance(code, str) or not CODE.fullmatch(code) or code.startswith("KP"):
        shown = f" '{safe(code[:40])}'" if isinstance(code, str) else ""
        raise EntryError((*at, "code") if "code" in item else at,
                         f"{where}.code{shown}: a custom rule needs a code of its team's "
                         "prefix and a number, such as ACME001 or ACME-12 (capitals and "
                         "digits, not KP...)")
    name = item.get("name")
    if not isinstance(name, str) or len(name) > MAX_NAME or not NAME.fullmatch(name):
        raise EntryError((*at, "name") if "name" in item else at,
                         f"{where}.name: a custom rule needs a name in kebab-case (such as "
                         f"require-team-label), at most {MAX_NAME} characters")
    for key, token in (("code", code), ("name", name)):
        if builtin(token):
            raise EntryError((*at, key), f"{where}.{key}: '{token}' is a built-in rule's")
    practice = item.get("practice", DEFAULT_PRACTICE)
    if isinstance(practice, bool) or not isinstance(practice, int) or \
            not 1 <= practice <= max(PRACTICES):
        raise EntryError((*at, "practice"),
                         f"{where}.practice must be a practice from 1 to {max(PRACTICES)}")
    try:
        severity = Severity.parse(str(item.get("severity", "medium")))
    except ValueError as exc:
        raise EntryError((*at, "severity"), f"{where}.severity: {exc}") from None
    expression = item.get("expression")
    if not isinstance(expression, str) or not expression.strip():
        raise EntryError((*at, "expression") if "expression" in item else at,
                         f"{where}.expression: a custom rule needs a CEL expression over "
                         "object (true when the object passes)")
    for key in _TEXT_KEYS:
        if key in item and (not isinstance(item[key], str) or len(item[key]) > MAX_TEXT):
            raise EntryError((*at, key),
                             f"{where}.{key} must be a string of at most {MAX_TEXT} characters")
    if "params" in item and not isinstance(item["params"], dict):
        raise EntryError((*at, "params"), f"{where}.params must be a mapping")
    _match(item.get("match"), (*at, "match"), f"{where}.match")
    return CustomRuleEntry(i, code, name, practice, severity, item, line(*at),
                           {str(k): line(*at, str(k)) for k in item})


def _match(match: Any, at: tuple[str | int, ...], where: str) -> None:
    if match is None:
        return
    if not isinstance(match, dict):
        raise EntryError(at, f"{where} must be a mapping (kinds, namespaces, labelSelector)")
    for key, value in match.items():
        if key not in MATCH_KEYS:
            raise EntryError((*at, str(key)), f"unknown key '{where}.{safe(str(key)[:60])}'"
                             + _hint(str(key), MATCH_KEYS))
        if key == "labelSelector":
            try:
                validate_label_selector(value)
            except SelectorError as exc:
                raise EntryError((*at, key), f"{where}.labelSelector: {exc}") from None
        elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise EntryError((*at, key), f"{where}.{key} must be a list of strings")


def _hint(key: str, allowed: Iterable[str]) -> str:
    found = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.5)
    return f" (did you mean {found[0]!r}?)" if found else ""
