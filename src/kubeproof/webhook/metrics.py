"""Prometheus metrics of the webhook, correct with several uvicorn workers.

With ``--workers N`` every worker is its own process with its own counters, and
a scrape reaches one of them at random. ``kubeproof webhook serve`` therefore
always runs prometheus_client in multiprocess mode: it points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before any worker starts, each
worker writes its values to memory-mapped files there, and ``/metrics`` in any
worker sums every worker's files (``MultiProcessCollector``). Only counters and
histograms are used, which need no per-process gauge mode. Without that
variable (the app embedded in another process) the default registry is used.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from kubeproof.webhook.settings import MULTIPROC_ENV

REQUESTS = Counter("kubeproof_webhook_requests", "Admission requests received.",
                   ["endpoint", "operation"])
DECISIONS = Counter("kubeproof_webhook_decisions",
                    "Admission answers: allowed, denied, skipped (not judged), "
                    "failure_allowed or failure_denied (failure policy applied).",
                    ["endpoint", "decision"])
FINDINGS = Counter("kubeproof_webhook_findings",
                   "Findings in judged requests, by rule and outcome "
                   "(enforce, warn, audit, exempted, fixed).",
                   ["rule", "outcome"])
LATENCY = Histogram("kubeproof_webhook_request_duration_seconds",
                    "Time to answer an admission request.", ["endpoint"],
                    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1,
                             0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
INTERNAL_ERRORS = Counter("kubeproof_webhook_internal_errors",
                          "Requests whose judgement failed (exception, rule error or "
                          "deadline); the failure policy answered them.",
                          ["endpoint", "reason"])
BAD_REQUESTS = Counter("kubeproof_webhook_bad_requests",
                       "Bodies that were not an AdmissionReview this webhook can answer.",
                       ["endpoint", "reason"])
AUDIT_SENT = Counter("kubeproof_webhook_audit_events_sent", "Audit events written or sent.")
AUDIT_DROPPED = Counter("kubeproof_webhook_audit_events_dropped",
                        "Audit events lost: queue_full or send_failed.", ["reason"])


# (metric, *label values) -> the labelled child; every label value on the request
# path comes from a small fixed set (endpoints, operations, outcomes, rule codes)
_CHILDREN: dict[tuple[Any, ...], Any] = {}


def labelled(metric: Any, *values: str) -> Any:
    """``metric.labels(*values)``, cached: a request counts a dozen findings, and
    ``labels()`` (string conversion, lock, lookup) costs as much as ``inc()``."""
    key = (metric, *values)
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = metric.labels(*values)
    return child


def exposition() -> tuple[bytes, str]:
    """The metrics text of every worker, and its content type."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
