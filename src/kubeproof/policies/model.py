"""The values every policy kind shares: what is judged (:class:`Subject`),
what the evaluator may look up in the set or cluster (:class:`Lookup`), and
what comes back (:class:`Outcome`, one per policy and rule, with its
:class:`Failure` values).

A compiled policy is a :class:`Policy`: compiled once per run (and per webhook
worker), evaluated per object; it never raises for any input: a CEL error is
an ``error`` outcome (or a ``fail`` under ``failurePolicy: Fail`` as the
policy says), an expression over its cost budget the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

# Outcome.result values, as ``kyverno test`` and kubeproof test print them
PASS = "pass"
FAIL = "fail"
SKIP = "skip"
WARN = "warn"
ERROR = "error"
UNSUPPORTED = "unsupported"
RESULTS = (PASS, FAIL, SKIP, WARN, ERROR, UNSUPPORTED)

# validationActions
DENY = "Deny"
WARN_ACTION = "Warn"
AUDIT = "Audit"


@dataclass(frozen=True, slots=True)
class Source:
    """Where a policy document was read: file and 1-based line (0: not a file),
    and the 1-based column where a position inside the line is known (0: not)."""

    file: str = ""
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.column}" if self.column \
            else f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class PolicyError:
    """A policy that cannot be used (does not parse, does not compile, binds a
    missing policy, misses its param): one clear line, the rest goes on."""

    source: Source
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


@dataclass(frozen=True, slots=True)
class Subject:
    """One admission request, as the API server would send it for ``obj``.

    ``operation`` is CREATE by default; UPDATE carries ``old_obj`` (the
    webhook's ``oldObject``; ``kyverno test`` uses the object itself);
    DELETE has only ``old_obj``. ``user_info`` is ``request.userInfo``.
    """

    obj: Mapping[str, Any] | None
    old_obj: Mapping[str, Any] | None = None
    operation: str = "CREATE"
    user_info: Mapping[str, Any] = field(default_factory=dict)
    # the namespace object when known (None: not in the set or cluster)
    namespace_obj: Mapping[str, Any] | None = None
    dry_run: bool = False


class Lookup(Protocol):
    """What the evaluator may read besides the object: the namespaces (labels
    for ``namespaceSelector``, the object for ``namespaceObject``) and the
    param objects of ``paramRef``. A scan answers from the scanned set, audit
    from the cluster, ``kubeproof test`` from the test's files."""

    def namespace(self, name: str) -> Mapping[str, Any] | None: ...

    def objects(self, api_version: str, kind: str,
                namespace: str | None) -> Iterable[Mapping[str, Any]]:
        """Every object of ``apiVersion``/``kind`` (in ``namespace`` when not None)."""
        ...


class NoLookup:
    """A lookup that knows nothing (the webhook without a cluster)."""

    def namespace(self, name: str) -> Mapping[str, Any] | None:
        return None

    def objects(self, api_version: str, kind: str,
                namespace: str | None) -> Iterable[Mapping[str, Any]]:
        return ()


@dataclass(frozen=True, slots=True)
class Failure:
    """One validation that did not hold (or errored under ``failurePolicy: Fail``)."""

    message: str
    # the object field it names (``fieldPath``, a JSONPath such as
    # ``spec.containers[0].image``): the finding's line and column; None: the object
    field_path: str | None = None
    reason: str = "Invalid"
    # what the binding (VAP), the policy (Kyverno) or the rule says to do with it
    actions: frozenset[str] = frozenset({DENY})
    binding: str = ""  # the VAP binding that bound it ("" for other kinds)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The verdict of one policy (and rule, for Kyverno ClusterPolicy rules) on
    one subject. ``message`` says why for ``skip``, ``error`` and
    ``unsupported``; ``failures`` hold the ``fail``/``warn`` details."""

    policy: str
    rule: str
    result: str
    failures: tuple[Failure, ...] = ()
    message: str = ""
    warnings: tuple[str, ...] = ()
    audit_annotations: tuple[tuple[str, str], ...] = ()


class Policy(Protocol):
    """A compiled policy of any kind."""

    name: str
    kind: str  # ValidatingAdmissionPolicy, ValidatingPolicy, ClusterPolicy, Policy, CustomRule
    source: Source
    # ``kubeproof.dev/severity`` / ``policies.kyverno.io/severity`` annotations
    annotations: Mapping[str, str]

    def evaluate(self, subject: Subject, lookup: Lookup) -> list[Outcome]:
        """The outcomes for ``subject`` (one per rule; a policy without rules
        gives one with ``rule == ""``). Never raises."""
        ...
