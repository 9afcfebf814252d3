"""``--scan-images``: run ``trivy image -f json --quiet REF`` for images with no report.

Trivy is run as a subprocess, a few at a time (:data:`CONCURRENCY`), each
bounded by a timeout; its JSON goes through the same reader as a report file
(:func:`kubeproof.images.vulns.parse_report`). Parallel Trivy processes that
share a cache directory can collide on its lock ("cache may be in use by
another process"); an image that failed that way is scanned again once, alone,
after the others.

Every failure (trivy not on PATH, a non-zero exit, a timeout, output that is
not a report) is one line naming the image; the scan goes on without it.
Trivy's own error text is shortened to its last line and any
``user:password@`` in a URL is masked.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from kubeproof.images.vulns import ReportError, VulnReport, parse_report

CONCURRENCY = 4
DEFAULT_TIMEOUT = 300.0  # vulnfacts.VulnInputs.scan_timeout repeats it (lazy import)
_LOCK_ERROR = "cache may be in use by another process"
_USERINFO = re.compile(r"(://)[^/@\s]+@")


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    image: str
    report: VulnReport | None
    error: str | None = None
    retry: bool = False  # failed on Trivy's cache lock: worth one more, alone


def find_trivy() -> str | None:
    return shutil.which("trivy")


def scan_images(images: Iterable[str], trivy: str, *, timeout: float = DEFAULT_TIMEOUT,
                concurrency: int = CONCURRENCY) -> list[ScanOutcome]:
    """Scan each image with Trivy; outcomes in the order of ``images``."""
    todo = list(dict.fromkeys(images))
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        outcomes = list(pool.map(lambda ref: _scan_one(trivy, ref, timeout), todo))
    return [_scan_one(trivy, o.image, timeout) if o.retry else o for o in outcomes]


def _scan_one(trivy: str, image: str, timeout: float) -> ScanOutcome:
    command = [trivy, "image", "-f", "json", "--quiet", image]
    try:
        proc = subprocess.run(command, capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        return ScanOutcome(image, None, f"trivy image {image}: no answer within {timeout:g} s")
    except OSError as exc:
        return ScanOutcome(image, None, f"trivy image {image}: cannot run trivy: "
                                        f"{exc.strerror or exc}")
    if proc.returncode != 0:
        detail = _last_line(proc.stderr) or _last_line(proc.stdout)
        return ScanOutcome(image, None,
                           f"trivy image {image} failed (exit {proc.returncode}): {detail}",
                           retry=_LOCK_ERROR in proc.stderr.decode("utf-8", "replace"))
    try:
        return ScanOutcome(image, parse_report(proc.stdout, f"trivy image {image}"))
    except ReportError as exc:
        return ScanOutcome(image, None, f"{exc.source}: {exc.message}")


def _last_line(data: bytes) -> str:
    lines = [ln.strip() for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
    text = _USERINFO.sub(r"\1***@", lines[-1]) if lines else ""
    return text[:300]
