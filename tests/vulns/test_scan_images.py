"""--scan-images: Trivy run for images no report covers, with a real subprocess.

Trivy itself cannot be installed here, so an executable script named
``trivy`` placed first on PATH plays it (see tests.support.vulns.FAKE_TRIVY): it checks
the arguments, logs each call and writes a Trivy JSON report, or fails the
ways Trivy fails.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kubeproof.images.trivy import CONCURRENCY
from tests.support.vulns import SHOP, fx, hits, install_fake_trivy, run

IMAGES = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: shop
spec:
  selector:
    matchLabels: {app: app}
  template:
    metadata:
      labels: {app: app}
    spec:
      containers:
        - name: app
          image: registry.example.com/app:1
        - name: clean
          image: registry.example.com/clean:1
        - name: denied
          image: registry.example.com/denied:1
        - name: garbage
          image: registry.example.com/garbage:1
        - name: locked
          image: registry.example.com/locked:1
        - name: again
          image: registry.example.com/app:1
"""


@pytest.fixture
def fake_trivy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "trivy.log"
    for key, value in install_fake_trivy(tmp_path / "bin", log).items():
        monkeypatch.setenv(key, value)
    return log


def test_missing_trivy_is_one_error_and_images_are_unscanned(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = run([fx("trivy-nginx.json")], scan_images=True)
    assert [str(e) for e in result.errors] == [
        "--scan-images: trivy is not on PATH, so 7 image(s) were not scanned (install "
        "trivy, or pass reports with --vuln-report)"]
    assert len(hits(result, "KP1102")) == 7  # every image but nginx, which had a report
    assert [c for c, _ in hits(result, "KP1101")] == ["web"]


def test_trivy_runs_for_each_image_without_a_report(tmp_path: Path, fake_trivy: Path) -> None:
    manifest = tmp_path / "app.yaml"
    manifest.write_text(IMAGES)
    started = time.monotonic()
    result = run([], paths=(str(manifest),), scan_images=True)
    assert time.monotonic() - started < 20
    calls = fake_trivy.read_text().splitlines()
    # each distinct image once, the locked one again after the cache-lock error
    assert sorted(calls) == sorted(
        f"image -f json --quiet registry.example.com/{name}:1"
        for name in ("app", "clean", "denied", "garbage", "locked", "locked"))
    assert hits(result, "KP1101") == [("again", 25), ("app", 15), ("locked", 23)]
    assert hits(result, "KP1102") == [("denied", 19), ("garbage", 21)]
    app = next(f for f in result.findings if f.container == "app")
    assert "trivy report trivy image registry.example.com/app:1" in app.message
    errors = sorted(str(e) for e in result.errors)
    assert errors[0].startswith("--scan-images: trivy image registry.example.com/denied:1 "
                                "failed (exit 1): 2026-11-27T10:00:01Z")
    assert "https://***@registry.example.com/v2/: UNAUTHORIZED" in errors[0]
    assert "s3cr3t" not in errors[0] and "ci-bot" not in errors[0]
    assert errors[1] == ("--scan-images: trivy image registry.example.com/garbage:1: not "
                         "JSON; expected Trivy JSON (trivy image -f json) or Grype JSON "
                         "(grype -o json)")
    assert len(errors) == 2


def test_images_with_a_report_are_not_scanned_again(tmp_path: Path, fake_trivy: Path) -> None:
    result = run([fx(n) for n in ("trivy-nginx.json", "grype-proxy.json",
                                  "trivy-busybox-clean.json", "grype-api-clean.json",
                                  "trivy-batch-low.json", "trivy-cron-stale.json",
                                  "trivy-report-undated.json")], scan_images=True)
    assert fake_trivy.read_text().splitlines() == ["image -f json --quiet quay.io/acme/worker:3.1"]
    assert hits(result, "KP1102") == []
    assert ("worker", 25) in hits(result, "KP1101")
    assert not result.errors


def test_a_trivy_that_hangs_is_stopped(tmp_path: Path, fake_trivy: Path) -> None:
    manifest = tmp_path / "slow.yaml"
    manifest.write_text(IMAGES.replace("registry.example.com/app:1", "registry.example.com/slow:1")
                        .split("        - name: clean")[0])
    started = time.monotonic()
    result = run([], paths=(str(manifest),), scan_images=True, timeout=1)
    assert time.monotonic() - started < 15
    assert [str(e) for e in result.errors] == [
        "--scan-images: trivy image registry.example.com/slow:1: no answer within 1 s"]
    assert hits(result, "KP1102") == [("app", 15)]


def test_scan_images_reads_the_set_of_the_shop_fixture(fake_trivy: Path) -> None:
    result = run([], paths=(str(SHOP),), scan_images=True)
    called = {line.rsplit(" ", 1)[1] for line in fake_trivy.read_text().splitlines()}
    assert "${IMAGE}" not in called and len(called) == 8  # the placeholder is not scanned
    assert not result.errors and hits(result, "KP1102") == []


def test_trivy_runs_a_few_at_a_time(tmp_path: Path, fake_trivy: Path) -> None:
    manifest = tmp_path / "many.yaml"
    containers = "".join(f"        - name: c{i}\n          image: registry.example.com/nap{i}:1\n"
                         for i in range(CONCURRENCY * 2))
    manifest.write_text(IMAGES.split("        - name: app")[0] + containers)
    result = run([], paths=(str(manifest),), scan_images=True)
    assert not result.errors and len(hits(result, "KP1101")) == CONCURRENCY * 2
    overlap = [int(n) for n in Path(f"{fake_trivy}.overlap").read_text().split()]
    assert len(overlap) == CONCURRENCY * 2
    assert 2 <= max(overlap) <= CONCURRENCY
