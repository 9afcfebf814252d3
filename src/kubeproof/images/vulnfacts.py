"""The facts the vulnerability rules (KP1101-KP1103) read, gathered once per run.

:meth:`VulnInputs.gather` runs once over the finished index, before the
index-phase rules (the run's prepare step, ``core.run``, keeps its result in
``ctx.facts.vulnerabilities``). It reads every ``--vuln-report`` file (each
exactly once), and with ``--scan-images`` runs Trivy for the images of the set
that no report covers. Reading after the index is built is what lets
``--scan-images`` know which images to scan.

Files that are not reports, Trivy failures and a missing ``trivy`` are input
errors (the run's errors, which the engine adds to the scan result), so the
exit code is 2 and every other report is still used. A missing
``trivy`` is one error for the run, not one per image: the images it would
have scanned are then reported by KP1102 (not scanned), which is the truth.
Expired ``vulnerabilities.ignore`` entries become warnings, as expired
exemptions do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from kubeproof.images.indexview import ContainerLike, IndexLike, WorkloadLike
from kubeproof.images.vulns import (
    Lookup,
    ReportError,
    ReportSet,
    Summary,
    VulnReport,
    read_report,
    summarise,
)
from kubeproof.model import InputError, Scope

SCAN_IMAGES = "--scan-images"


class IgnoreEntry(Protocol):
    """A vulnerability ID accepted for now (config ``vulnerabilities.ignore``)."""

    @property
    def id(self) -> str: ...

    @property
    def reason(self) -> str: ...

    @property
    def expires(self) -> dt.date | None: ...

    @property
    def line(self) -> int | None: ...

    def expired(self, today: dt.date) -> bool: ...


@dataclass(slots=True)
class VulnFacts:
    reports: ReportSet
    ignored_ids: frozenset[str]  # active vulnerabilities.ignore IDs
    now: dt.datetime
    _found: dict[str, Lookup | None] = field(default_factory=dict)
    _summaries: dict[int, Summary] = field(default_factory=dict)

    def find(self, image: str) -> Lookup | None:
        if image not in self._found:
            self._found[image] = self.reports.find(image)
        return self._found[image]

    def summary(self, report: VulnReport) -> Summary:
        """The report's vulnerabilities after the ignore list (once per report:
        many containers share an image)."""
        key = id(report)
        if key not in self._summaries:
            self._summaries[key] = summarise(report.vulns, self.ignored_ids)
        return self._summaries[key]


def image_uses(index: IndexLike) -> Iterator[tuple[WorkloadLike, ContainerLike, str]]:
    """Every container of the set with an image reference."""
    for w in index.workloads:
        for c in w.containers:
            if c.image:
                yield w, c, c.image


@dataclass(slots=True)
class VulnInputs:
    """Where the reports come from; ``prepare`` turns them into :class:`VulnFacts`."""

    report_paths: list[str] = field(default_factory=list)
    scan_images: bool = False
    scan_timeout: float = 300.0  # seconds per trivy run (trivy.DEFAULT_TIMEOUT)
    now: dt.datetime | None = None  # tests pin the clock

    @property
    def active(self) -> bool:
        return bool(self.report_paths) or self.scan_images

    def scopes(self, base: frozenset[str]) -> frozenset[str]:
        """The rule scopes to run: ``base``, plus ``report`` when there are reports."""
        return base | {Scope.REPORT} if self.active else base

    def gather(self, index: IndexLike, ignore: Sequence[IgnoreEntry], config_path: str,
               errors: list[InputError], warnings: list[InputError]) -> VulnFacts:
        """The reports and the accepted IDs (config ``vulnerabilities.ignore``,
        read from ``config_path``); what could not be read goes to ``errors``,
        expired acceptances to ``warnings``."""
        now = self.now or dt.datetime.now(dt.UTC)
        reports: list[VulnReport] = []
        for path in dict.fromkeys(self.report_paths):
            try:
                reports.append(read_report(path))
            except ReportError as exc:
                errors.append(InputError(exc.source, exc.line, exc.message))
        found = ReportSet(reports)
        if self.scan_images:
            found = ReportSet(reports + self._scan(index, found, errors))
        ignored: set[str] = set()
        for entry in ignore:
            if entry.expired(now.date()):
                warnings.append(InputError(
                    config_path, entry.line,
                    f"vulnerabilities.ignore entry {entry.id} expired on {entry.expires} "
                    f"and no longer applies: {entry.reason}"))
            else:
                ignored.add(entry.id)
        return VulnFacts(found, frozenset(ignored), now)

    def _scan(self, index: IndexLike, known: ReportSet, errors: list[InputError]
              ) -> list[VulnReport]:
        """Trivy reports for the valid images no given report covers."""
        todo = []
        for _, _, image in image_uses(index):
            hit = known.find(image)
            if hit is not None and hit.report is None:
                todo.append(image)
        if not todo:
            return []
        # start-up: the trivy runner loads subprocess and thread pools (~8 ms of imports
        # after the engine, measured with perf_counter, best of 5); every scan loads this
        # module (the KP11 rules), few run trivy
        from kubeproof.images.trivy import find_trivy, scan_images

        trivy = find_trivy()
        if trivy is None:
            errors.append(InputError(
                SCAN_IMAGES, None, f"trivy is not on PATH, so {len(set(todo))} image(s) were "
                "not scanned (install trivy, or pass reports with --vuln-report)"))
            return []
        out: list[VulnReport] = []
        for outcome in scan_images(todo, trivy, timeout=self.scan_timeout):
            if outcome.report is not None:
                out.append(outcome.report)
            else:
                errors.append(InputError(SCAN_IMAGES, None, outcome.error or "failed"))
        return out

