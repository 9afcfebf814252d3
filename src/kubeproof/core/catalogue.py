"""The rule registry: the ``@rule`` decorator and lookups by code, name or prefix.

A rule is a generator function plus metadata. Its docstring is the rule's
documentation, in the way ruff documents its rules: a one-line summary, then
sections ``What:``, ``Why:``, ``How:`` and ``Example:`` (a YAML snippet that
passes the rule). ``kubeproof rules`` and ``docs/rules.md`` are generated from it.

    @rule("KP0803", "pss-privileged", practice=8, severity="high", pods=True)
    def privileged(res: Resource, ctx: Context) -> Iterator[Violation]:
        \"\"\"Privileged containers.

        What:
            ...
        \"\"\"

Some rules have two halves: one judged from the manifests (an object or set
rule), one that needs facts gathered in the index phase, such as what the
image registry says under ``--check-images`` (KP0103's image size and OS,
KP0301's registries that answered 401). The second half is attached to the
registered rule with ``@index_half(code)``: it keeps the rule's code, name,
severity and documentation, runs once over the index after the
``Context.prepare`` steps, and yields ``SetViolation`` values like a set rule.
It must yield nothing when the facts it reads were not prepared (image checks
off), so that it costs nothing in a plain scan.

    @index_half("KP0103")
    def image_size(index: Index, ctx: Context) -> Iterator[SetViolation]:
        ...
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from kubeproof.model import IndexCheckFn, Rule, RuleFn, Scope, Severity

if TYPE_CHECKING:
    from kubeproof.fix.fixers import Fixer

F = TypeVar("F", bound=RuleFn)

RULES: dict[str, Rule] = {}
_BY_NAME: dict[str, Rule] = {}

RULE_MODULES = (
    "p00_api_hygiene",
    "p01_images",
    "p03_pull_secrets",
    "p04_namespaces",
    "p05_labels",
    "p06_annotations",
    "p07_rbac",
    "p08_pod_security",
    "p08_host_access",
    "p09_network",
    "p09_ingress",
    "p10_secrets",
    "p11_vulnerabilities",
    "p13_rollouts",
    "p14_monitoring",
    "p15_mesh",
    "p16_admission",
    "p07_control_plane",
    "p07_kubelet",
    "p02_registry_checks",  # after images and pull_secrets: it adds their index halves
)

# Object rules whose verdict other objects of the set may withdraw (KP1303's
# "and no HPA"): code -> a function of the index answering, for (namespace,
# kind, name), whether the rule's findings on that object are withdrawn. The
# engine applies it after every object was checked, whether the object rule
# ran in this process or in a worker.
Withdrawal = Callable[[Any], Callable[[str | None, str, str], bool]]
WITHDRAWN_BY_SET: dict[str, Withdrawal] = {}


def withdrawn_by_set(code: str) -> Callable[[Withdrawal], Withdrawal]:
    """Register what, in the set, withdraws object rule ``code``'s findings."""

    def register(fn: Withdrawal) -> Withdrawal:
        WITHDRAWN_BY_SET[code] = fn
        return fn

    return register


# Practices that may have nothing to check in a set (service mesh without a
# mesh): practice -> a function of one application's index and the context
# answering whether the practice applies there. Where it applies in no
# application and nothing of it was found, the scorecard says n/a, not 100.
Applicability = Callable[[Any, Any], bool]
PRACTICE_APPLIES: dict[int, Applicability] = {}


def practice_applies(practice: int) -> Callable[[Applicability], Applicability]:
    """Register when ``practice`` has something to check in an application's set."""

    def register(fn: Applicability) -> Applicability:
        PRACTICE_APPLIES[practice] = fn
        return fn

    return register


_SECTION = re.compile(r"^(What|Why|How|Example):\s*$")
_loaded = False


def rule(
    code: str,
    name: str,
    *,
    practice: int,
    severity: str,
    scope: str = Scope.OBJECT,
    kinds: Iterable[str] | None = None,
    pods: bool = False,
    fixable: bool = False,
) -> Callable[[F], F]:
    """Register a rule. ``pods=True`` means it applies to every kind with a pod spec."""

    def register(fn: F) -> F:
        doc = inspect.getdoc(fn) or ""
        summary, sections = _parse_doc(doc, code)
        family = re.sub(r"^p\d\d_", "", fn.__module__.rsplit(".", 1)[-1])
        r = Rule(
            code=code,
            name=name,
            practice=practice,
            severity=Severity.parse(severity),
            scope=scope,
            kinds=frozenset(kinds) if kinds is not None else None,
            check=fn,
            summary=summary,
            what=sections["What"],
            why=sections["Why"],
            how=sections["How"],
            example=sections["Example"],
            family=family,
            fixable=fixable,
            pods=pods,
        )
        if code in RULES or name in _BY_NAME:
            raise ValueError(f"rule {code}/{name} registered twice")
        RULES[code] = r
        _BY_NAME[name] = r
        return fn

    return register


def index_half(code: str) -> Callable[[IndexCheckFn], IndexCheckFn]:
    """Attach an index-phase check to the already registered rule ``code``
    (see the module docstring); the rule's module must be loaded first."""

    def attach(fn: IndexCheckFn) -> IndexCheckFn:
        target = RULES.get(code)
        if target is None:
            raise ValueError(f"index half for unknown rule {code}")
        if target.index_check is not None:
            raise ValueError(f"rule {code} has an index half already")
        target.index_check = fn
        return fn

    return attach


def _parse_doc(doc: str, code: str) -> tuple[str, dict[str, str]]:
    lines = doc.splitlines()
    summary = lines[0].strip() if lines else ""
    sections: dict[str, list[str]] = {"What": [], "Why": [], "How": [], "Example": []}
    current: list[str] | None = None
    for line in lines[1:]:
        m = _SECTION.match(line)
        if m:
            current = sections[m.group(1)]
        elif current is not None:
            current.append(line[4:] if line.startswith("    ") else line.strip())
    out = {k: "\n".join(v).strip() for k, v in sections.items()}
    missing = [k for k, v in out.items() if not v]
    if not summary or missing:
        raise ValueError(f"rule {code}: docstring lacks summary or sections {missing}")
    return summary, out


def load_rules() -> dict[str, Rule]:
    """Import every rule module once and return the registry (sorted by code)."""
    global _loaded
    if not _loaded:
        for mod in RULE_MODULES:
            importlib.import_module(f"kubeproof.rules.{mod}")
        _loaded = True
        ordered = dict(sorted(RULES.items()))
        RULES.clear()
        RULES.update(ordered)
    return RULES


def fixer_of(code: str) -> Fixer | None:
    """The fixer of rule ``code`` (None: not fixable). The fixers are imported on
    first use only: they pull in ruamel.yaml, which a scan never needs."""
    from kubeproof.fix.fixers import FIXERS

    return FIXERS.get(code)


def rule_by_code(code: str) -> Rule:
    return load_rules()[code]


def lookup(token: str) -> list[Rule]:
    """Rules matching a code, a name, or a code prefix such as ``KP08``."""
    rules = load_rules()
    tok = token.strip()
    if tok.upper() in rules:
        return [rules[tok.upper()]]
    if tok in _BY_NAME:
        return [_BY_NAME[tok]]
    if re.fullmatch(r"(?i)KP\d{0,3}", tok):
        found = [r for c, r in rules.items() if c.startswith(tok.upper())]
        if found:
            return found
    return []


def suggest(token: str) -> str | None:
    """The nearest valid rule code or name, for error messages."""
    rules = load_rules()
    candidates = list(rules) + list(_BY_NAME)
    match = difflib.get_close_matches(token, candidates, n=1, cutoff=0.5)
    return match[0] if match else None


def resolve_selection(tokens: Iterable[str]) -> tuple[set[str], list[str]]:
    """Codes selected by ``tokens`` and the tokens that match nothing."""
    codes: set[str] = set()
    unknown: list[str] = []
    for tok in tokens:
        if not tok.strip():
            continue
        found = lookup(tok)
        if not found:
            unknown.append(tok.strip())
        codes.update(r.code for r in found)
    return codes, unknown


def unknown_rule_message(token: str) -> str:
    hint = suggest(token)
    return f"unknown rule {token!r}" + (f" (did you mean {hint!r}?)" if hint else "")
