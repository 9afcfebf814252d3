"""KP1101-KP1103 over a Deployment and a CronJob, with Trivy and Grype reports."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from kubeproof.model import Severity
from tests.support.vulns import (
    API,
    BATCH,
    CRON,
    INIT,
    PROXY,
    REPORT,
    SHOP,
    WEB,
    WORKER,
    config,
    fx,
    hits,
    run,
)

PROXY_DIGEST = "sha256:f58ab1555d9eab2870a1a7137360d4da7a27a305b51173c126f12c0e3b00fd94"
POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: proxy
  namespace: shop
spec:
  containers:
    - name: proxy
      image: {image}
"""
ALL_GOOD = ["trivy-nginx.json", "grype-proxy.json", "trivy-busybox-clean.json",
            "grype-api-clean.json", "trivy-batch-low.json", "trivy-cron-stale.json",
            "trivy-report-undated.json"]


def reports(*names: str) -> list[str]:
    return [fx(n) for n in names]


def test_kp1101_flags_vulnerable_images_at_their_worst_severity() -> None:
    result = run(reports(*ALL_GOOD))
    assert not result.errors
    assert hits(result, "KP1101") == [("proxy", PROXY), ("web", WEB)]
    by_container = {f.container: f for f in result.findings if f.code == "KP1101"}
    web, proxy = by_container["web"], by_container["proxy"]
    assert web.severity is Severity.CRITICAL and proxy.severity is Severity.HIGH
    assert web.path == "spec.template.spec.containers[0].image"
    assert ("has 7 known vulnerabilities (1 critical, 2 high, 2 medium, 1 low, 1 unknown)"
            in web.message)
    assert ("CVE-2024-0001 critical (libssl3, openssl 3.0.11-1~deb12u2, fixed in "
            "3.0.13-1~deb12u1)") in web.message
    assert "CVE-2024-0003 high (curl 7.88.1-10, no fix yet)" in web.message
    # five listed, the rest counted
    assert web.message.count(" (") == 7 and "and 2 more" in web.message
    assert fx("trivy-nginx.json") in web.message
    assert "1 negligible" in proxy.message and "GHSA-aaaa-bbbb-cccc high" in proxy.message


def test_kp1101_passes_clean_and_below_threshold_images() -> None:
    result = run(reports(*ALL_GOOD))
    flagged = {c for c, _ in hits(result, "KP1101")}
    # busybox and api are clean; batch has only LOW and UNKNOWN (below failOn high)
    assert not flagged & {"init", "api", "batch", "cron", "report"}


def test_fail_on_thresholds(tmp_path: Path) -> None:
    low = run(reports(*ALL_GOOD), cfg=config(tmp_path, "vulnerabilities:\n  failOn: low\n"))
    assert hits(low, "KP1101") == [("batch", BATCH), ("proxy", PROXY), ("web", WEB)]
    batch = next(f for f in low.findings if f.container == "batch")
    assert batch.severity is Severity.LOW
    critical = run(reports(*ALL_GOOD),
                   cfg=config(tmp_path, "vulnerabilities:\n  failOn: critical\n"))
    assert hits(critical, "KP1101") == [("web", WEB)]
    info = run(reports("trivy-batch-low.json"),
               cfg=config(tmp_path, "vulnerabilities:\n  failOn: info\n"))
    assert hits(info, "KP1101") == [("batch", BATCH)]


def test_ignore_list_active_and_expired(tmp_path: Path) -> None:
    cfg = config(tmp_path, """\
vulnerabilities:
  failOn: critical
  ignore:
    - id: CVE-2024-0001
      reason: the TLS server code is not reachable
      expires: 2027-06-30
""")
    result = run(reports("trivy-nginx.json"), cfg=cfg)
    assert hits(result, "KP1101") == []  # the only critical one is accepted
    assert not result.warnings
    cfg = config(tmp_path, """\
vulnerabilities:
  ignore:
    - id: CVE-2024-0002
      reason: accepted for the release
    - id: CVE-2024-0001
      reason: accepted until the base image update
      expires: 2026-11-01
""")
    result = run(reports("trivy-nginx.json"), cfg=cfg)
    web = next(f for f in result.findings if f.code == "KP1101")
    assert web.line == WEB and web.severity is Severity.CRITICAL
    assert "CVE-2024-0001" in web.message and "CVE-2024-0002" not in web.message
    assert "6 known vulnerabilities" in web.message and "1 more ignored" in web.message
    [warning] = result.warnings
    assert warning.file == str(tmp_path / ".kubeproof.yaml") and warning.line == 5
    assert warning.message == ("vulnerabilities.ignore entry CVE-2024-0001 expired on "
                               "2026-11-01 and no longer applies: accepted until the base "
                               "image update")
    assert not result.errors  # a warning, not an input error


def test_kp1102_image_not_scanned() -> None:
    result = run(reports(*ALL_GOOD))
    # worker has no report; ${IMAGE} is a placeholder and is not judged
    assert hits(result, "KP1102") == [("worker", WORKER)]
    [finding] = [f for f in result.findings if f.code == "KP1102"]
    assert finding.message == ("container 'worker' image quay.io/acme/worker:3.1 is in no "
                               "vulnerability report")
    everything = run(reports("trivy-nginx.json"))
    assert sorted(line for _, line in hits(everything, "KP1102")) == sorted(
        [INIT, PROXY, API, WORKER, BATCH, CRON, REPORT])


def test_kp1102_digest_pinned_image_and_a_report_of_another_build(tmp_path: Path) -> None:
    pod = tmp_path / "pod.yaml"
    pod.write_text(POD.format(image=f"ghcr.io/acme/proxy:2.0@{PROXY_DIGEST}"))
    result = run(reports("grype-proxy-other-build.json"), paths=(str(pod),))
    [finding] = [f for f in result.findings if f.code == "KP1102"]
    assert finding.line == 9
    assert finding.message.endswith(
        f"is in no vulnerability report; grype report {fx('grype-proxy-other-build.json')} "
        f"is for the same tag but digest sha256:74cb409ffefae91ee2a745347b60230880df25a74e542"
        f"d9f032c0144c7774c1a")
    # the same tag without a digest is what that report scanned
    pod.write_text(POD.format(image="ghcr.io/acme/proxy:2.0"))
    result = run(reports("grype-proxy-other-build.json"), paths=(str(pod),))
    assert hits(result, "KP1102") == [] and hits(result, "KP1101") == []


def test_kp1103_stale_and_undated_reports() -> None:
    result = run(reports(*ALL_GOOD))
    assert hits(result, "KP1103") == [("cron", CRON), ("report", REPORT)]
    messages = {f.container: f.message for f in result.findings if f.code == "KP1103"}
    assert "was created 2026-01-02 (329 days ago), more than vulnerabilities.maxAgeDays 7" \
        in messages["cron"]
    assert "records no creation time, so its age is unknown" in messages["report"]


def test_kp1103_passes_fresh_reports_and_follows_max_age(tmp_path: Path) -> None:
    # on 2026-11-25 + 7 days the nginx report is still fresh; a day later it is not
    fresh = run(reports("trivy-nginx.json"), now=dt.datetime(2026, 12, 2, 8, tzinfo=dt.UTC))
    assert hits(fresh, "KP1103") == []
    later = run(reports("trivy-nginx.json"), now=dt.datetime(2026, 12, 2, 9, tzinfo=dt.UTC))
    assert hits(later, "KP1103") == [("web", WEB)]
    lenient = run(reports("trivy-cron-stale.json"),
                  cfg=config(tmp_path, "vulnerabilities:\n  maxAgeDays: 400\n"))
    assert hits(lenient, "KP1103") == []


def test_wrong_files_are_input_errors_and_the_other_reports_still_count() -> None:
    result = run(reports("wrong-sarif.json", "trivy-nginx.json", "wrong-broken.json",
                         "grype-proxy.json"))
    assert [(e.file, e.line) for e in result.errors] == [
        (fx("wrong-sarif.json"), None), (fx("wrong-broken.json"), 5)]
    assert hits(result, "KP1101") == [("proxy", PROXY), ("web", WEB)]


def test_no_reports_no_vulnerability_rules() -> None:
    from kubeproof.api import scan

    result = scan([str(SHOP)], select=["KP11"])
    assert result.findings == [] and not result.errors


def test_findings_respect_exemptions_and_annotations(tmp_path: Path) -> None:
    cfg = config(tmp_path, """\
exemptions:
  entries:
    - rules: [KP1101]
      kind: Deployment
      name: shop
      reason: rebuilt weekly, tracked in SEC-12
""")
    result = run(reports(*ALL_GOOD), cfg=cfg)
    assert hits(result, "KP1101") == []
    assert result.suppressed["exemption"] == 2
