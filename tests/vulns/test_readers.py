"""Trivy and Grype JSON as the tools write them, and everything that is not one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kubeproof.images.vulns import ReportError, ReportSet, parse_report, read_report, summarise
from tests.support.vulns import fx

NGINX_DIGEST = "sha256:ee8033170a45643b1f4bc0f33ff4564b0922e6618fd0e93c0e15f64f9917e44c"
PROXY_DIGEST = "sha256:f58ab1555d9eab2870a1a7137360d4da7a27a305b51173c126f12c0e3b00fd94"


def test_trivy_report_identity_date_and_vulnerabilities() -> None:
    r = read_report(fx("trivy-nginx.json"))
    assert (r.tool, r.artifact) == ("trivy", "nginx:1.25")
    assert r.created == dt.datetime(2026, 11, 25, 8, 41, 5, 412870, tzinfo=dt.UTC)
    assert r.digests == {NGINX_DIGEST}
    assert r.names == {("docker.io/library/nginx", "1.25")}
    # 8 entries: CVE-2024-0001 twice (libssl3 and openssl); null and absent lists skipped
    assert len(r.vulns) == 8
    first = r.vulns[0]
    assert (first.id, first.severity, first.package, first.fixed, first.aliases) == (
        "CVE-2024-0001", "critical", "libssl3", "3.0.13-1~deb12u1", ("DSA-5600-1",))
    assert r.vulns[3].fixed == ""  # no FixedVersion: no fix yet


def test_a_cve_in_several_packages_counts_once() -> None:
    summary = summarise(read_report(fx("trivy-nginx.json")).vulns, frozenset())
    assert summary.counts == {"critical": 1, "high": 2, "medium": 2, "low": 1,
                                "negligible": 0, "unknown": 1}
    assert [p.package for p in summary.packages["CVE-2024-0001"]] == ["libssl3", "openssl"]
    ranked = [v.id for v in summary.ranked]
    # worst first; among equals the fixable one first
    assert ranked[:3] == ["CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003"]


def test_ignore_matches_ids_and_aliases() -> None:
    vulns = read_report(fx("grype-proxy.json")).vulns
    summary = summarise(vulns, frozenset({"CVE-2023-45288"}))  # alias of the GHSA
    assert "GHSA-aaaa-bbbb-cccc" not in summary.worst and summary.ignored == 1


def test_grype_report_with_offset_timestamp_and_manifest_digest() -> None:
    r = read_report(fx("grype-proxy.json"))
    assert (r.tool, r.artifact) == ("grype", "ghcr.io/acme/proxy:2.0")
    assert r.created == dt.datetime(2026, 11, 25, 16, 37, 36, 123456, tzinfo=dt.UTC)
    assert r.digests == {PROXY_DIGEST}
    assert [v.severity for v in r.vulns] == ["high", "medium", "negligible", "unknown"]
    assert r.vulns[0].fixed == "0.23.0" and r.vulns[0].aliases == ("CVE-2023-45288",)


def test_grype_source_scheme_is_not_part_of_the_reference() -> None:
    text = ('{"matches": [], "source": {"type": "image", "target": {"userInput": '
            '"registry:ghcr.io/acme/tool:1.2", "tags": [], "repoDigests": []}}, '
            '"descriptor": {"name": "grype", "timestamp": "2026-11-25T10:00:00Z"}}')
    report = parse_report(text, "g")
    assert report.artifact == "ghcr.io/acme/tool:1.2"
    assert report.names == {("ghcr.io/acme/tool", "1.2")}


def test_reports_without_vulnerabilities() -> None:
    assert read_report(fx("trivy-busybox-clean.json")).vulns == []
    assert read_report(fx("grype-api-clean.json")).vulns == []


def test_unknown_and_odd_severities_are_unknown() -> None:
    text = ('{"SchemaVersion": 2, "ArtifactName": "a:1", "ArtifactType": "container_image",'
            ' "Results": [{"Target": "a", "Vulnerabilities": [{"VulnerabilityID": "X-1",'
            ' "Severity": "SEVERE"}, {"VulnerabilityID": "X-2"}]}]}')
    assert [v.severity for v in parse_report(text, "t").vulns] == ["unknown", "unknown"]


def test_undated_and_zero_time_reports_have_no_date() -> None:
    assert read_report(fx("trivy-report-undated.json")).created is None
    text = ('{"SchemaVersion": 2, "ArtifactName": "a:1", "CreatedAt": "0001-01-01T00:00:00Z",'
            ' "Results": null}')
    assert parse_report(text, "t").created is None
    grype = ('{"matches": [], "source": {"type": "image", "target": {"userInput": "a:1"}},'
             ' "descriptor": {"name": "grype", "timestamp": ""}}')
    assert parse_report(grype, "g").created is None


@pytest.mark.parametrize(("name", "expected"), [
    ("wrong-sarif.json", "wrong-sarif.json: a SARIF file, not a vulnerability report; "
                         "expected Trivy JSON"),
    ("wrong-cyclonedx.json", "wrong-cyclonedx.json: a CycloneDX SBOM, not a vulnerability"),
    ("wrong-random.json", "wrong-random.json: a JSON document of unknown shape, not a "),
    ("wrong-broken.json", "wrong-broken.json:5: not valid JSON (Expecting value); expected"),
    ("wrong-report.yaml", "wrong-report.yaml:1: not JSON; expected Trivy JSON"),
    ("wrong-trivy-filesystem.json", "wrong-trivy-filesystem.json: a Trivy report of a "
                                    "filesystem (ArtifactType), not of a container image"),
    ("wrong-grype-directory.json", "wrong-grype-directory.json: a Grype report of a directory "
                                   "(source.type), not of a container image"),
    ("wrong-trivy-schema1.json", "wrong-trivy-schema1.json: a Trivy report of schema 1 "
                                 "(trivy before 0.20) is not supported"),
])
def test_other_files_are_one_clear_line(name: str, expected: str) -> None:
    with pytest.raises(ReportError) as info:
        read_report(fx(name))
    message = str(info.value)
    assert message.startswith(fx(name)) and expected in message
    assert "\n" not in message


@pytest.mark.parametrize(("text", "expected"), [
    ('{"SchemaVersion": 3, "Results": []}', "Trivy SchemaVersion 3 is not supported"),
    ('{"SchemaVersion": 2, "Results": {}}', "Results must be a list"),
    ('{"SchemaVersion": 2, "Results": [{"Vulnerabilities": [{"Severity": "HIGH"}]}]}',
     "Results[0].Vulnerabilities[0] has no VulnerabilityID"),
    ('{"SchemaVersion": 2, "CreatedAt": "yesterday"}', "CreatedAt 'yesterday' is not an RFC"),
    ('{"SchemaVersion": 2, "Metadata": {"RepoDigests": "x"}}',
     "Metadata.RepoDigests must be a list of strings"),
    ('{"matches": [{}], "source": {"type": "image", "target": {}}}',
     "matches[0] has no vulnerability.id"),
    ('{"matches": [], "source": null, "descriptor": {}}', "without a source image"),
    ('"just a string"', "a JSON str, not a vulnerability report"),
    ('{"spdxVersion": "SPDX-2.3"}', "an SPDX SBOM"),
    ('{"artifacts": [], "source": {}, "descriptor": {"name": "syft"}}', "a Syft SBOM"),
    (b"\xff\xfe\x00garbage", "not"),
])
def test_malformed_reports(text: str | bytes, expected: str) -> None:
    with pytest.raises(ReportError) as info:
        parse_report(text, "r.json")
    assert expected in str(info.value) and str(info.value).startswith("r.json")


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="cannot read vulnerability report: No such file"):
        read_report(str(tmp_path / "missing.json"))
    with pytest.raises(ReportError, match="is a directory"):
        read_report(str(tmp_path))


def test_matching_by_digest_and_by_normalised_reference() -> None:
    nginx = read_report(fx("trivy-nginx.json"))
    proxy = read_report(fx("grype-proxy.json"))
    busybox = read_report(fx("trivy-busybox-clean.json"))
    other_build = read_report(fx("grype-proxy-other-build.json"))
    reports = ReportSet([nginx, proxy, busybox])

    def found(image: str) -> object:
        hit = reports.find(image)
        return hit.report if hit else "not judged"

    assert found("nginx:1.25") is nginx
    assert found("docker.io/library/nginx:1.25") is nginx
    assert found("index.docker.io/library/nginx:1.25") is nginx
    assert found("nginx:1.26") is None
    assert found("busybox") is busybox  # no tag means latest
    assert found(f"ghcr.io/acme/proxy@{PROXY_DIGEST}") is proxy  # by repoDigests
    assert found(f"mirror.example.com/proxy@{PROXY_DIGEST}") is proxy  # content, not name
    assert found(f"nginx@{NGINX_DIGEST}") is nginx  # Trivy RepoDigests
    assert found("ghcr.io/acme/proxy:2.0") is proxy  # tag, no digest on the image side
    assert found("${IMAGE}") == "not judged"
    # a digest-pinned image and a report of the same tag for another build: no match
    only_other = ReportSet([other_build])
    hit = only_other.find(f"ghcr.io/acme/proxy:2.0@{PROXY_DIGEST}")
    assert hit is not None and hit.report is None and hit.other_digest is other_build
    # a report that records no digest cannot contradict one: matched by name and tag
    undigested = read_report(fx("trivy-cron-stale.json"))
    hit = ReportSet([undigested]).find(
        f"registry.example.com/shop/cron:1.0@{PROXY_DIGEST}")
    assert hit is not None and hit.report is undigested


def test_the_newest_of_several_reports_wins() -> None:
    older = parse_report('{"SchemaVersion": 2, "ArtifactName": "a:1", '
                         '"CreatedAt": "2026-11-01T00:00:00Z"}', "old")
    newer = parse_report('{"SchemaVersion": 2, "ArtifactName": "docker.io/library/a:1", '
                         '"CreatedAt": "2026-11-20T00:00:00Z"}', "new")
    hit = ReportSet([older, newer]).find("a:1")
    assert hit is not None and hit.report is newer
