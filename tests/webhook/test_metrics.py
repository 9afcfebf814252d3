"""/metrics: Prometheus text, summed over the server's two worker processes."""

from __future__ import annotations

import copy
from pathlib import Path

from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.support.webhook import Webhook, containers, good_deployment, review


def scrape(hook: Webhook) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, text = hook.curl("/metrics")
    assert status == 200
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def delta(after: dict[tuple[str, tuple[tuple[str, str], ...]], float],
          before: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def answered_by(metrics_dir: Path) -> set[str]:
    """The worker processes whose own counters show /validate requests."""
    pids = set()
    for db in metrics_dir.glob("counter_*.db"):
        for metric in MultiProcessCollector.merge([str(db)], accumulate=True):
            if any(s.name == "kubeproof_webhook_requests_total" and s.value > 0
                   for s in metric.samples):
                pids.add(db.stem)
    return pids


def test_counts_are_exact_across_workers(hook: Webhook, metrics_dir: Path) -> None:
    bad = copy.deepcopy(good_deployment())
    containers(bad)[0]["securityContext"]["privileged"] = True
    before = scrape(hook)
    for i in range(24):
        # a new connection each time, so both workers take requests
        client = hook.client()
        resp = client.post("/validate", json=review(bad if i % 3 == 0 else good_deployment()))
        assert resp.status_code == 200
        client.close()
    client = hook.client()
    assert client.post("/validate", content=b"{").status_code == 400
    after = scrape(hook)
    assert len(answered_by(metrics_dir)) == 2, "both workers answered requests"
    assert delta(after, before, "kubeproof_webhook_requests_total", endpoint="validate",
                 operation="CREATE") == 24
    assert delta(after, before, "kubeproof_webhook_decisions_total", endpoint="validate",
                 decision="denied") == 8
    assert delta(after, before, "kubeproof_webhook_decisions_total", endpoint="validate",
                 decision="allowed") == 16
    assert delta(after, before, "kubeproof_webhook_findings_total", rule="KP0803",
                 outcome="enforce") == 8
    assert delta(after, before, "kubeproof_webhook_request_duration_seconds_count",
                 endpoint="validate") == 24
    assert delta(after, before, "kubeproof_webhook_request_duration_seconds_bucket",
                 endpoint="validate", le="10.0") == 24
    assert delta(after, before, "kubeproof_webhook_bad_requests_total", endpoint="validate",
                 reason="not_admission_review") == 1
    assert ("kubeproof_webhook_internal_errors_total", ()) not in after  # labelled only


def test_metric_families_are_declared(hook: Webhook) -> None:
    status, text = hook.curl("/metrics")
    assert status == 200
    names = {f.name for f in text_string_to_metric_families(text)}
    assert {"kubeproof_webhook_requests", "kubeproof_webhook_decisions",
            "kubeproof_webhook_findings", "kubeproof_webhook_request_duration_seconds",
            "kubeproof_webhook_audit_events_sent"} <= names
