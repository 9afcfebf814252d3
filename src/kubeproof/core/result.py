"""What a run found: the one module every stage may import.

The engine fills a :class:`ScanResult`, the filters thin it, reports and the
webhook read it, and ``kubeproof report`` rebuilds one from a saved JSON
report; none of them needs the engine to know the result's shape.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeproof.core.index import Index
from kubeproof.model import Finding, InputError, Path, Rule, no_templates


@dataclass(slots=True)
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    warnings: list[InputError] = field(default_factory=list)
    objects: int = 0
    files: int = 0
    skipped_documents: int = 0
    suppressed: Counter[str] = field(default_factory=Counter)
    baselined: int = 0
    # the findings the baseline suppressed: accepted risks, which the scorecard counts
    accepted: list[Finding] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    namespaces_pss: dict[str, str] = field(default_factory=dict)
    # every object checked, for reports that list passes too (JUnit):
    # (file, line, apiVersion, kind, namespace, name, rule families that ran)
    checked: list[CheckedObject] = field(default_factory=list)
    # what set rules read, one index per application (applications.py; None
    # when no set rule runs); merged from worker processes
    indexes: dict[str, Index] | None = None
    # with --check-images: each registry's /v2/ answer (images.oci.RegistryStatus)
    registries: list[Any] = field(default_factory=list)
    # practices with nothing to check in the set (catalogue.PRACTICE_APPLIES)
    not_applicable: set[int] = field(default_factory=set)
    # the run's custom pod-template kinds (Context.pod_templates): the HTML
    # report masks their containers' secrets in its excerpts as the scan saw them
    pod_templates: Mapping[str, Path] = field(default_factory=no_templates)

    @property
    def index(self) -> Index | None:
        """Every application's index in one (set rules read them apart); None
        when no set rule ran."""
        if self.indexes is None:
            return None
        if len(self.indexes) == 1:
            return next(iter(self.indexes.values()))
        whole = Index(keep_credentials=any(i.keep_credentials for i in self.indexes.values()))
        for index in self.indexes.values():
            whole.merge(index)
        return whole

    def add(self, part: ScanResult) -> None:
        """Add what ``part`` (a worker's files, another saved report) found."""
        self.findings.extend(part.findings)
        self.errors.extend(part.errors)
        self.warnings.extend(part.warnings)
        self.checked.extend(part.checked)
        self.objects += part.objects
        self.files += part.files
        self.skipped_documents += part.skipped_documents
        self.baselined += part.baselined
        self.accepted.extend(part.accepted)
        self.suppressed.update(part.suppressed)
        self.kinds.update(part.kinds)
        self.namespaces_pss.update(part.namespaces_pss)
        self.not_applicable |= part.not_applicable
        known = {r.host for r in self.registries}
        self.registries.extend(r for r in part.registries if r.host not in known)


@dataclass(frozen=True, slots=True)
class CheckedObject:
    """An object the rules ran on, for reports that also list what passed.

    ``families`` are the rule families that ran on it; ``practices`` the
    practices of those rules, leaving out cluster-scope rules (they run on
    every pod but speak only about control-plane components).
    """

    file: str
    line: int
    api_version: str
    kind: str
    namespace: str | None
    name: str
    families: frozenset[str]
    practices: frozenset[int]


def exit_code(result: ScanResult, fail_on: int) -> int:
    """2 for input errors, else 1 when a finding is at or above ``fail_on`` (a
    :class:`Severity`, or one above critical for ``--fail-on none``), else 0."""
    if result.errors:
        return 2
    return 1 if any(f.severity >= fail_on for f in result.findings) else 0
