"""Vulnerability reports of container images: Trivy and Grype JSON, read and matched.

kubeproof does not scan images itself; it reads what the two common open
scanners write and ties each report to the images the manifests deploy:

- Trivy, ``trivy image -f json`` (``SchemaVersion: 2``): ``ArtifactName``,
  ``Metadata.RepoTags`` / ``RepoDigests``, ``CreatedAt`` and
  ``Results[].Vulnerabilities[]`` (``null`` or absent when a target is clean);
- Grype, ``grype -o json``: ``source`` of ``type: image`` (``target.userInput``,
  ``tags``, ``repoDigests``, ``manifestDigest``), ``descriptor.timestamp``
  and ``matches[]`` (``[]`` when clean).

Anything else (a SARIF or CycloneDX file, a Trivy report of a filesystem,
broken JSON, YAML) is refused with one line that names the file and says
what it is: the caller reports it as an input error and goes on.

Severities are normalised to lower case (``critical``, ``high``, ``medium``,
``low``, ``negligible``, ``unknown``; anything unrecognised is ``unknown``)
and mapped to kubeproof severities by :data:`KUBEPROOF_SEVERITY`:
``negligible`` counts as ``low`` and ``unknown`` (not yet rated by the
database, often the newest CVEs) as ``info``.

A vulnerability is counted once per ID: scanners list a CVE once per affected
package (``openssl`` and ``libssl3``), which says more about packaging than
about exposure. The worst rating wins and every package stays listed.

Reports are matched to image references (:class:`ReportSet`) by digest when
both sides have one, else by the normalised reference (``nginx:1.25`` is
``docker.io/library/nginx:1.25``; no tag means ``latest``), see
:meth:`ReportSet.find`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from kubeproof.k8s.imageref import parse_image
from kubeproof.model import Severity

SEVERITY_ORDER = ("critical", "high", "medium", "low", "negligible", "unknown")
_RANK = {name: len(SEVERITY_ORDER) - i for i, name in enumerate(SEVERITY_ORDER)}
KUBEPROOF_SEVERITY: dict[str, Severity] = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "negligible": Severity.LOW,
    "unknown": Severity.INFO,
}
MAX_REPORT_BYTES = 512 * 1048576
# image sources a Grype user input may name before the reference (grype registry:nginx)
GRYPE_SCHEMES = ("docker:", "podman:", "registry:", "containerd:")
EXPECTED = "expected Trivy JSON (trivy image -f json) or Grype JSON (grype -o json)"


class ReportError(Exception):
    """A file that is not a usable vulnerability report: where, and why in one line."""

    def __init__(self, source: str, message: str, line: int | None = None) -> None:
        self.source, self.message, self.line = source, message, line
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, slots=True)
class Vuln:
    """One vulnerability of one package, as the scanner reported it."""

    id: str
    severity: str  # one of SEVERITY_ORDER
    package: str = ""
    installed: str = ""
    fixed: str = ""  # fixed version(s), "" when no fix is known
    aliases: tuple[str, ...] = ()  # related IDs (Grype relatedVulnerabilities, Trivy VendorIDs)

    @property
    def rank(self) -> int:
        return _RANK[self.severity]

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.id, *self.aliases)


@dataclass(slots=True)
class VulnReport:
    """One scanned image: who scanned it, when, how to recognise it, what was found."""

    source: str  # the file, or the command that produced it
    tool: str  # "trivy" or "grype"
    artifact: str  # the reference the scanner was given
    created: dt.datetime | None
    vulns: list[Vuln] = field(default_factory=list)
    digests: frozenset[str] = frozenset()  # manifest digests, "sha256:..."
    names: frozenset[tuple[str, str]] = frozenset()  # (normalised name, tag)

    def describe(self) -> str:
        return f"{self.tool} report {self.source}"


def severity_of(value: Any) -> str:
    text = value.strip().lower() if isinstance(value, str) else ""
    return text if text in _RANK else "unknown"


# ---------------------------------------------------------------- reading

def read_report(path: str) -> VulnReport:
    """Read and parse one report file; raises :class:`ReportError`."""
    try:
        p = FsPath(path)
        if p.is_dir():
            raise ReportError(path, "is a directory, not a vulnerability report")
        if p.stat().st_size > MAX_REPORT_BYTES:
            raise ReportError(path, f"refused: larger than {MAX_REPORT_BYTES >> 20} MiB")
        raw = p.read_bytes()
    except OSError as exc:
        raise ReportError(path, f"cannot read vulnerability report: "
                                f"{exc.strerror or exc}") from None
    return parse_report(raw, path)


def parse_report(raw: bytes | str, source: str) -> VulnReport:
    """Parse the text of a report; ``source`` names it in messages and findings."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        first = exc.doc.lstrip()[:1]
        why = f"not valid JSON ({exc.msg})" if first in ("{", "[") else "not JSON"
        raise ReportError(source, f"{why}; {EXPECTED}", exc.lineno) from None
    except (UnicodeDecodeError, RecursionError):
        raise ReportError(source, f"not JSON text; {EXPECTED}") from None
    kind = _other_format(data)
    if kind:
        raise ReportError(source, kind)
    try:
        if "SchemaVersion" in data:
            return _trivy(data, source)
        return _grype(data, source)
    except _Bad as exc:
        raise ReportError(source, str(exc)) from None


class _Bad(Exception):
    pass


def _other_format(data: Any) -> str | None:
    """Why the document is not a Trivy or Grype image report (None when it may be one)."""
    if isinstance(data, list) and data and all(isinstance(d, dict) and "Target" in d
                                               for d in data):
        return "a Trivy report of schema 1 (trivy before 0.20) is not supported; " \
               "re-run a current trivy with -f json"
    what = _what(data)
    return f"{what}, not a vulnerability report; {EXPECTED}" if what else None


def _what(data: Any) -> str | None:
    if isinstance(data, list):
        return "a JSON array"
    if not isinstance(data, dict):
        return f"a JSON {type(data).__name__}"
    schema = data.get("$schema")
    if "runs" in data and ((isinstance(schema, str) and "sarif" in schema.lower())
                           or data.get("version") == "2.1.0"):
        return "a SARIF file"
    if data.get("bomFormat") == "CycloneDX":
        return "a CycloneDX SBOM"
    if "spdxVersion" in data:
        return "an SPDX SBOM"
    if "artifacts" in data and "matches" not in data:
        return "a Syft SBOM" if _name(data.get("descriptor")) == "syft" else \
            "a JSON document of unknown shape"
    if "SchemaVersion" in data or ("matches" in data and ("source" in data
                                                          or "descriptor" in data)):
        return None
    return "a JSON document of unknown shape"


def _name(value: Any) -> str:
    return str(value.get("name", "")) if isinstance(value, dict) else ""


def _parse_time(value: Any, where: str) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Bad(f"{where} is not a date")
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _Bad(f"{where} {value[:40]!r} is not an RFC 3339 date") from None
    if when.year <= 1:  # Go's zero time: never set
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Bad(f"{where} must be a list of strings")
    return value


def _identity(refs: list[str]) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    """Digests and (name, tag) pairs of the references a scanner recorded."""
    digests: set[str] = set()
    names: set[tuple[str, str]] = set()
    for text in refs:
        ref = parse_image(text)
        if ref.invalid:
            continue
        if ref.digest:
            digests.add(ref.digest)
        if ref.tag is not None:
            names.add((ref.name, ref.tag))
    return frozenset(digests), frozenset(names)


def _trivy(data: dict[str, Any], source: str) -> VulnReport:
    version = data.get("SchemaVersion")
    if version != 2:
        raise _Bad(f"Trivy SchemaVersion {version!r} is not supported (expected 2)")
    kind = data.get("ArtifactType")
    if kind not in (None, "container_image"):
        raise _Bad(f"a Trivy report of a {kind} (ArtifactType), not of a container image")
    artifact = data.get("ArtifactName")
    artifact = artifact if isinstance(artifact, str) else ""
    meta = data.get("Metadata") or {}
    if not isinstance(meta, dict):
        raise _Bad("Metadata must be a mapping")
    refs = [artifact, *_strings(meta.get("RepoTags"), "Metadata.RepoTags"),
            *_strings(meta.get("RepoDigests"), "Metadata.RepoDigests")]
    digests, names = _identity(refs)
    results = data.get("Results")
    if results is None:
        results = []
    if not isinstance(results, list):
        raise _Bad("Results must be a list")
    vulns: list[Vuln] = []
    for i, result in enumerate(results):
        if not isinstance(result, dict):
            raise _Bad(f"Results[{i}] must be a mapping")
        found = result.get("Vulnerabilities")
        if found is None:
            continue
        if not isinstance(found, list):
            raise _Bad(f"Results[{i}].Vulnerabilities must be a list")
        for j, v in enumerate(found):
            if not isinstance(v, dict) or not isinstance(v.get("VulnerabilityID"), str):
                raise _Bad(f"Results[{i}].Vulnerabilities[{j}] has no VulnerabilityID")
            vendor = v.get("VendorIDs")
            vulns.append(Vuln(
                id=v["VulnerabilityID"], severity=severity_of(v.get("Severity")),
                package=_text(v.get("PkgName")), installed=_text(v.get("InstalledVersion")),
                fixed=_text(v.get("FixedVersion")),
                aliases=tuple(a for a in vendor if isinstance(a, str))
                if isinstance(vendor, list) else ()))
    return VulnReport(source, "trivy", artifact, _parse_time(data.get("CreatedAt"), "CreatedAt"),
                      vulns, digests, names)


def _grype(data: dict[str, Any], source: str) -> VulnReport:
    src = data.get("source")
    if not isinstance(src, dict):
        raise _Bad("a Grype report without a source image (scan an image: grype IMAGE -o json)")
    kind = src.get("type")
    if kind != "image":
        raise _Bad(f"a Grype report of a {kind or 'unknown source'} (source.type), "
                   f"not of a container image")
    target = src.get("target")
    if not isinstance(target, dict):
        raise _Bad("source.target must be a mapping")
    artifact = _text(target.get("userInput"))
    for scheme in GRYPE_SCHEMES:
        if artifact.startswith(scheme):
            artifact = artifact[len(scheme):]
            break
    refs = [artifact, *_strings(target.get("tags"), "source.target.tags"),
            *_strings(target.get("repoDigests"), "source.target.repoDigests")]
    digests, names = _identity(refs)
    manifest = target.get("manifestDigest")
    if isinstance(manifest, str) and manifest.startswith("sha"):
        digests = digests | {manifest}
    matches = data.get("matches")
    if matches is None:
        matches = []
    if not isinstance(matches, list):
        raise _Bad("matches must be a list")
    vulns: list[Vuln] = []
    for i, m in enumerate(matches):
        vuln = m.get("vulnerability") if isinstance(m, dict) else None
        if not isinstance(vuln, dict) or not isinstance(vuln.get("id"), str):
            raise _Bad(f"matches[{i}] has no vulnerability.id")
        art = _mapping(m.get("artifact"))
        versions = _mapping(vuln.get("fix")).get("versions")
        related = m.get("relatedVulnerabilities")
        vulns.append(Vuln(
            id=vuln["id"], severity=severity_of(vuln.get("severity")),
            package=_text(art.get("name")), installed=_text(art.get("version")),
            fixed=", ".join(v for v in versions if isinstance(v, str))
            if isinstance(versions, list) else "",
            aliases=tuple(r["id"] for r in related if isinstance(r, dict)
                          and isinstance(r.get("id"), str) and r["id"] != vuln["id"])
            if isinstance(related, list) else ()))
    created = _parse_time(_mapping(data.get("descriptor")).get("timestamp"),
                          "descriptor.timestamp")
    return VulnReport(source, "grype", artifact, created, vulns, digests, names)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# ---------------------------------------------------------------- matching

@dataclass(frozen=True, slots=True)
class Lookup:
    """What :meth:`ReportSet.find` found for one image reference.

    ``report`` is the matching report (the newest when several match);
    ``other_digest`` a report for the same name and tag whose digests all
    differ from the reference's (a different build was scanned).
    """

    report: VulnReport | None
    other_digest: VulnReport | None = None


class ReportSet:
    """Reports indexed by digest and by normalised name and tag."""

    def __init__(self, reports: list[VulnReport]) -> None:
        self.reports = reports
        self._by_digest: dict[str, list[VulnReport]] = {}
        self._by_name: dict[tuple[str, str], list[VulnReport]] = {}
        for r in reports:
            for d in r.digests:
                self._by_digest.setdefault(d, []).append(r)
            for n in r.names:
                self._by_name.setdefault(n, []).append(r)

    def find(self, image: str) -> Lookup | None:
        """The report for ``image``; None when the reference is invalid (not judged).

        A reference with a digest matches a report with that digest; failing
        that, a report for its name and tag that records no digest at all
        (then nothing contradicts it). A reference without a digest matches
        by name and tag.
        """
        ref = parse_image(image)
        if ref.invalid:
            return None
        if ref.digest:
            hit = self._by_digest.get(ref.digest)
            if hit:
                return Lookup(_newest(hit))
        by_name = self._by_name.get((ref.name, ref.tag)) if ref.tag else None
        if not by_name:
            return Lookup(None)
        if ref.digest:
            undigested = [r for r in by_name if not r.digests]
            if not undigested:
                return Lookup(None, _newest(by_name))
            return Lookup(_newest(undigested))
        return Lookup(_newest(by_name))


def _newest(reports: list[VulnReport]) -> VulnReport:
    floor = dt.datetime.min.replace(tzinfo=dt.UTC)
    return max(reports, key=lambda r: r.created or floor)


# ---------------------------------------------------------------- summaries

@dataclass(frozen=True, slots=True)
class Summary:
    """A report's vulnerabilities after the ignore list, one entry per ID."""

    worst: dict[str, Vuln]  # id -> the worst-rated entry of that ID
    packages: dict[str, list[Vuln]]  # id -> every entry of that ID
    ignored: int  # distinct IDs left out by vulnerabilities.ignore
    ranked: list[Vuln]  # worst first; among equals, those with a fix first, then by ID
    counts: dict[str, int]  # distinct IDs per rating, every rating of SEVERITY_ORDER


def summarise(vulns: list[Vuln], ignored_ids: frozenset[str]) -> Summary:
    worst: dict[str, Vuln] = {}
    packages: dict[str, list[Vuln]] = {}
    skipped: set[str] = set()
    for v in vulns:
        if ignored_ids and any(i in ignored_ids for i in v.ids):
            skipped.add(v.id)
            continue
        packages.setdefault(v.id, []).append(v)
        best = worst.get(v.id)
        if best is None or v.rank > best.rank:
            worst[v.id] = v
    ranked = sorted(worst.values(), key=lambda v: (-v.rank, not v.fixed, v.id))
    counts = dict.fromkeys(SEVERITY_ORDER, 0)
    for v in ranked:
        counts[v.severity] += 1
    return Summary(worst, packages, len(skipped), ranked, counts)
