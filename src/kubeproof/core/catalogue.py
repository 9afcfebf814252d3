"""The rule catalogue: ``@rule``, ``@fix`` and the facts of every rule; lookups.

How to add a rule
=================

One rule is one unit, in one module of :mod:`kubeproof.rules` (its practice
family, ``pNN_family.py``, or a module of the package ``pNN_family/`` once a
family outgrows one file), and one fixture folder:

1. ``@rule(...)`` on its check. The check is a generator: an object rule
   (scope ``object``, the default) gets a :class:`~kubeproof.model.Resource`
   and yields :class:`~kubeproof.model.Violation` values; a set rule
   (``scope=Scope.SET``) gets the :class:`~kubeproof.core.index.Index` and
   yields :class:`~kubeproof.model.SetViolation` values.
2. Its docstring is its documentation, in the way ruff documents its rules: a
   one-line summary, then sections ``What:``, ``Why:``, ``How:`` and
   ``Example:`` (a YAML snippet that passes the rule). ``kubeproof rules`` and
   ``docs/rules.md`` are generated from it.
3. The facts about it are declared on it, nowhere else:

   - ``pss_level="baseline"`` or ``"restricted"``: a Pod Security Standard check
     (its findings are dropped where the namespace's level is lower);
   - ``runs_in=``: where it can run, a subset of :class:`~kubeproof.model.RunsIn`
     (files: scan and fix; cluster: audit; admission: the webhook); default
     everywhere, so a rule about manifests in files (a Secret in a manifest,
     an unparseable file) says so;
   - ``needs=``: what it needs besides the manifests (:class:`~kubeproof.model.Needs`:
     registry answers, vulnerability reports, Secret objects);
   - ``input_errors=True``: it reports the inputs that cannot be read (KP0003).

4. Its fix, if it has one, right after the check: ``@fix(code, safety=SAFE or
   UNSAFE, why=...)`` on a function ``(Resource, FixSettings) -> bool`` that
   changes the object in place where the rule would fire (see
   :mod:`kubeproof.core.fixing` for the settings and the shared edits). The
   rule is then fixable, with that safety. The fix declares what its callers
   need to know: ``needs_verdict`` (it needs the set's verdict: run only when
   named), ``needs_namespace``, ``needs_registry``, ``reads_images``,
   ``creates=`` (the object ``kubeproof fix`` adds next to the fixed one).
5. Its other halves, in the same module: ``@index_half(code)`` for a check
   that needs facts gathered in the index phase (below), ``@withdrawn_by_set(code)``
   for what in the set withdraws an object rule's findings.
6. Its fixtures in ``tests/rules/KPxxxx/``: ``fail-*.yaml`` with
   ``# expect: KPxxxx`` on each offending line, ``pass-*.yaml``, and for a
   fixable rule ``fixed-*.yaml`` (what each ``fail`` becomes once fixed).
   ``tests/rules/test_rule_fixtures.py`` runs them all.

Nothing is listed anywhere else: the rule modules are discovered (every module
under ``kubeproof.rules``, in sorted order) and the engine, the webhook, audit
and ``kubeproof fix`` ask the catalogue (``rule.runs_in``, ``rule.pss_level``,
``rule.fix``...). Registration does not depend on the order the modules are
imported in: fixes, index halves and withdrawals name their rule by code and
are attached once every module is loaded. The rule's family (shown in SARIF
and JUnit) is its module's first segment under ``kubeproof.rules`` without
the ``pNN_`` prefix.

    @rule("KP0803", "pss-privileged", practice=8, severity="high", pods=True,
          pss_level="baseline")
    def privileged(res: Resource, ctx: Context) -> Iterator[Violation]:
        \"\"\"Privileged containers.

        What:
            ...
        \"\"\"

Index halves
------------

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

import copyreg
import difflib
import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from kubeproof.model import (
    SAFETIES,
    CreateFn,
    Fix,
    FixFn,
    IndexCheckFn,
    PssLevel,
    Rule,
    RuleFn,
    RunsIn,
    Scope,
    Severity,
    Withdrawal,
)

F = TypeVar("F", bound=RuleFn)

RULES_PACKAGE = "kubeproof.rules"
RULES: dict[str, Rule] = {}
_BY_NAME: dict[str, Rule] = {}

# Object rules whose verdict other objects of the set may withdraw (KP1303's
# "and no HPA"): code -> a function of the index answering, for (namespace,
# kind, name), whether the rule's findings on that object are withdrawn. The
# engine applies it after every object was checked, whether the object rule
# ran in this process or in a worker. Each is also the rule's ``withdrawn_by``.
WITHDRAWN_BY_SET: dict[str, Withdrawal] = {}


def withdrawn_by_set(code: str) -> Callable[[Withdrawal], Withdrawal]:
    """Register what, in the set, withdraws object rule ``code``'s findings."""

    def register(fn: Withdrawal) -> Withdrawal:
        if code in WITHDRAWN_BY_SET:
            raise ValueError(f"rule {code} has a withdrawal already")
        WITHDRAWN_BY_SET[code] = fn
        _attach(code, "withdrawn_by", fn)
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
# what fixes, index halves and withdrawals attach to rules not registered yet
# (code -> (attribute, value)): attached once every rule module is loaded, so
# that registration does not depend on the order modules are imported in
_PENDING: dict[str, list[tuple[str, Any]]] = {}
_FIXES: dict[str, Fix] = {}
_ATTACHED = {"fix": "a fix", "index_check": "an index half", "withdrawn_by": "a withdrawal"}


def rule(
    code: str,
    name: str,
    *,
    practice: int,
    severity: str,
    scope: str = Scope.OBJECT,
    kinds: Iterable[str] | None = None,
    pods: bool = False,
    pss_level: str | None = None,
    runs_in: Iterable[str] = RunsIn.EVERYWHERE,
    needs: Iterable[str] = (),
    input_errors: bool = False,
) -> Callable[[F], F]:
    """Register a rule (see the module docstring for its facts). ``pods=True``
    means it applies to every kind with a pod spec."""
    where = frozenset(runs_in)
    if pss_level is not None and pss_level not in PssLevel.LEVELS:
        raise ValueError(f"rule {code}: pss_level must be one of {PssLevel.LEVELS}")
    if not where or not where <= RunsIn.EVERYWHERE:
        raise ValueError(f"rule {code}: runs_in must be a subset of {sorted(RunsIn.EVERYWHERE)}")

    def register(fn: F) -> F:
        doc = inspect.getdoc(fn) or ""
        summary, sections = _parse_doc(doc, code)
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
            family=family_of(fn.__module__),
            pods=pods,
            pss_level=pss_level,
            runs_in=where,
            needs=frozenset(needs),
            input_errors=input_errors,
        )
        if code in RULES or name in _BY_NAME:
            raise ValueError(f"rule {code}/{name} registered twice")
        RULES[code] = r
        _BY_NAME[name] = r
        for attr, value in _PENDING.pop(code, ()):
            _set_once(r, attr, value)
        return fn

    return register


def family_of(module: str) -> str:
    """The family of a rule defined in ``module``: its first segment under
    ``kubeproof.rules`` without the ``pNN_`` prefix (``kubeproof.rules.p08_pod_security``
    and ``kubeproof.rules.p08_pod_security.capabilities`` are both ``pod_security``)."""
    parts = module.split(".")
    first = parts[2] if parts[:2] == RULES_PACKAGE.split(".") and len(parts) > 2 \
        else parts[-1]
    return re.sub(r"^p\d\d_", "", first)


def fix(code: str, *, safety: str, why: str, needs_verdict: bool = False,
        needs_namespace: bool = False, needs_registry: bool = False, reads_images: bool = False,
        creates: CreateFn | None = None) -> Callable[[FixFn], FixFn]:
    """Register the fix of rule ``code``, beside its check; its docstring's first
    paragraph is the summary. ``safety`` (SAFE or UNSAFE) and ``why`` are
    required: every fix decides whether it can stop a correct workload from
    running. The other facts: see :class:`kubeproof.model.Fix`."""
    if safety not in SAFETIES:
        raise ValueError(f"fix {code}: safety must be one of {SAFETIES}, not {safety!r}")

    def register(fn: FixFn) -> FixFn:
        summary = " ".join((fn.__doc__ or "").strip().split("\n\n")[0].split())
        _attach(code, "fix", Fix(code, fn, summary, safety, why, needs_verdict=needs_verdict,
                                 needs_namespace=needs_namespace, needs_registry=needs_registry,
                                 reads_images=reads_images, creates=creates))
        return fn

    return register


def index_half(code: str) -> Callable[[IndexCheckFn], IndexCheckFn]:
    """Attach an index-phase check to the rule ``code`` (see the module docstring)."""

    def attach(fn: IndexCheckFn) -> IndexCheckFn:
        _attach(code, "index_check", fn)
        return fn

    return attach


def _attach(code: str, attr: str, value: Any) -> None:
    """Set ``attr`` of rule ``code`` now, or once the rule is registered."""
    target = RULES.get(code)
    if target is not None:
        _set_once(target, attr, value)
        return
    if _loaded:
        raise ValueError(f"{_ATTACHED[attr]} for unknown rule {code}")
    pending = _PENDING.setdefault(code, [])
    if any(a == attr for a, _ in pending):
        raise ValueError(f"rule {code} has {_ATTACHED[attr]} already")
    pending.append((attr, value))


def _set_once(target: Rule, attr: str, value: Any) -> None:
    if getattr(target, attr) is not None:
        raise ValueError(f"rule {target.code} has {_ATTACHED[attr]} already")
    setattr(target, attr, value)


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


def rule_modules() -> list[str]:
    """Every module under ``kubeproof.rules`` (packages walked), sorted by name."""
    package = importlib.import_module(RULES_PACKAGE)
    return sorted(m.name for m in pkgutil.walk_packages(package.__path__, f"{RULES_PACKAGE}."))


def load_rules() -> dict[str, Rule]:
    """Import every rule module once and return the catalogue (sorted by code)."""
    global _loaded
    if not _loaded:
        for mod in rule_modules():
            importlib.import_module(mod)
        if _PENDING:
            what = ", ".join(f"{_ATTACHED[a]} for {c}" for c, p in sorted(_PENDING.items())
                             for a, _ in p)
            raise ValueError(f"unknown rules: {what}")
        _loaded = True
        for registry in (RULES, _BY_NAME):
            ordered = dict(sorted(registry.items()))
            registry.clear()
            registry.update(ordered)
    return RULES


def fixes() -> dict[str, Fix]:
    """The fixes of the rules, by code (sorted: the order fixes are applied in)."""
    if not _FIXES:  # built once: /mutate asks for every object it fixes
        _FIXES.update((code, r.fix) for code, r in load_rules().items() if r.fix is not None)
    return _FIXES


def codes(*, pss_level: str | None = None, runs_in: str | None = None,
          needs: str | None = None) -> frozenset[str]:
    """The codes of the rules with these facts (``codes(pss_level="restricted")``)."""
    return frozenset(
        c for c, r in load_rules().items()
        if (pss_level is None or r.pss_level == pss_level)
        and (runs_in is None or runs_in in r.runs_in)
        and (needs is None or needs in r.needs))


def input_error_rule() -> Rule | None:
    """The rule that reports the inputs that cannot be read (KP0003)."""
    return next((r for r in load_rules().values() if r.input_errors), None)


def rule_by_code(code: str) -> Rule:
    return load_rules()[code]


def _reduce_rule(rule: Rule) -> tuple[Callable[..., Rule], tuple[Any, ...]]:
    if RULES.get(rule.code) is rule:
        return rule_by_code, (rule.code,)
    return _detached, (rule.code, rule.name, rule.practice, int(rule.severity), rule.scope,
                       rule.summary, rule.what, rule.why, rule.how, rule.example, rule.family,
                       rule.source)


def _detached(code: str, name: str, practice: int, severity: int, scope: str, summary: str,
              what: str, why: str, how: str, example: str, family: str, source: str) -> Rule:
    """A rule of one run, not of the catalogue (a custom rule, a policy), as a
    finding from another process names it: everything reports read, no check."""
    return Rule(code=code, name=name, practice=practice, severity=Severity(severity),
                scope=scope, kinds=None, check=_no_check, summary=summary, what=what,
                why=why, how=how, example=example, family=family, source=source)


def _no_check(*_: Any) -> Iterator[Any]:
    return iter(())


# Rules travel between processes (``--jobs``, the webhook's judges) by code: their
# functions cannot be pickled, and a worker has the same catalogue, so a rule is
# looked up there. A rule of one run only (a custom rule, a policy: not in the
# catalogue) travels as its metadata: the process that reads the finding never
# runs its check (workers are forked with the run's rules).
copyreg.pickle(Rule, _reduce_rule)


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
