"""Audit events: to a file (main server), to a real Splunk HEC receiver (strict server),
and the bounded queue that never blocks and counts what it drops."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from kubeproof.webhook.events import AuditSink
from kubeproof.webhook.policy import AuditSettings
from tests.support.webhook import (
    HEC_TOKEN,
    HecReceiver,
    Webhook,
    audit_event,
    containers,
    free_port,
    good_deployment,
    review,
    wait_for,
)

EVENT_KEYS = {"time", "uid", "user", "operation", "kind", "namespace", "name", "decision",
              "findings", "enforced", "dryRun"}


def test_file_events_are_json_lines_with_every_field(hook: Webhook, audit_file: Path) -> None:
    dep = good_deployment(name="api", namespace="payments")
    del containers(dep)[0]["livenessProbe"]
    body = review(dep, "CREATE", user="ci-bot")
    hook.post("/validate", body)
    event = audit_event(audit_file, body["request"]["uid"])
    assert set(event) == EVENT_KEYS
    assert event["time"].endswith("+00:00")
    assert (event["user"], event["kind"], event["namespace"], event["name"],
            event["findings"]) == ("ci-bot", "Deployment", "payments", "api", ["KP1401"])


def test_hec_events_carry_the_token_header_and_hec_envelope(strict: Webhook,
                                                             hec: HecReceiver) -> None:
    dep = good_deployment()
    containers(dep)[0]["securityContext"]["privileged"] = True
    body = review(dep, dry_run=True)
    uid = body["request"]["uid"]
    assert strict.post("/validate", body)["allowed"] is False
    wait_for(lambda: any(e["event"]["uid"] == uid for e in hec.events()))
    envelope = next(e for e in hec.events() if e["event"]["uid"] == uid)
    assert envelope["sourcetype"] == "kubeproof:test"
    assert isinstance(envelope["time"], float) and abs(envelope["time"] - time.time()) < 60
    assert envelope["event"]["decision"] == "denied" and envelope["event"]["dryRun"] is True
    assert envelope["event"]["findings"] == ["KP0803"]
    headers = hec.posts[-1][0]
    assert headers["Authorization"] == f"Splunk {HEC_TOKEN}"
    logs = strict.stdout.read_text() + strict.stderr.read_text()
    assert HEC_TOKEN not in logs


def dropped(reason: str) -> float:
    return REGISTRY.get_sample_value("kubeproof_webhook_audit_events_dropped_total",
                                     {"reason": reason}) or 0.0


def event(n: int) -> dict[str, object]:
    return {"time": "2026-01-01T00:00:00.000+00:00", "uid": f"u{n}", "decision": "allowed"}


def test_full_queue_drops_without_blocking(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEPROOF_HEC_TOKEN", HEC_TOKEN)
    receiver = HecReceiver()
    receiver.release.clear()  # the collector hangs: the sink thread waits on it
    sink = AuditSink(AuditSettings(sink="hec", url=receiver.url, batch_size=1, flush_ms=1,
                                   queue_size=2))
    sink.start()
    try:
        before = dropped("queue_full")
        sink.emit(event(0))
        assert receiver.arrived.wait(10)  # event 0 is in flight, the queue is empty
        started = time.perf_counter()
        for n in range(1, 8):
            sink.emit(event(n))
        assert time.perf_counter() - started < 0.05  # emit never waits for the sink
        assert dropped("queue_full") - before == 5  # 2 queued, 5 dropped
    finally:
        receiver.release.set()
        sink.stop()
        receiver.close()
    assert [e["event"]["uid"] for e in receiver.events()] == ["u0", "u1", "u2"]


def test_unreachable_collector_drops_and_logs_without_the_token(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("KUBEPROOF_HEC_TOKEN", HEC_TOKEN)
    url = f"http://127.0.0.1:{free_port()}/services/collector"
    sink = AuditSink(AuditSettings(sink="hec", url=url, batch_size=10, flush_ms=20))
    before = dropped("send_failed")
    with caplog.at_level(logging.ERROR, logger="kubeproof.webhook"):
        sink.start()
        for n in range(3):
            sink.emit(event(n))
        sink.stop()
    assert dropped("send_failed") - before == 3
    assert "audit sink hec failed, dropping events: ConnectError" in caplog.text
    assert HEC_TOKEN not in caplog.text


def test_rejecting_collector_counts_a_send_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEPROOF_HEC_TOKEN", "wrong-token")
    receiver = HecReceiver(status=403)
    sink = AuditSink(AuditSettings(sink="hec", url=receiver.url, flush_ms=20))
    before = dropped("send_failed")
    sink.start()
    sink.emit(event(1))
    sink.stop()
    receiver.close()
    assert dropped("send_failed") - before == 1


def test_token_file_wins_over_the_variable_and_is_never_logged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """webhook.audit.tokenFile: the token from a mounted Secret, first line only."""
    monkeypatch.setenv("KUBEPROOF_HEC_TOKEN", "the-variable-loses")
    token_file = tmp_path / "token"
    token_file.write_text(HEC_TOKEN + "\n")
    receiver = HecReceiver()
    sink = AuditSink(AuditSettings(sink="hec", url=receiver.url, flush_ms=20,
                                   token_file=str(token_file)))
    sink.start()
    sink.emit(event(1))
    sink.stop()
    receiver.close()
    assert [headers["Authorization"] for headers, _ in receiver.posts] == [f"Splunk {HEC_TOKEN}"]
    with caplog.at_level(logging.WARNING, logger="kubeproof.webhook"):
        missing = AuditSink(AuditSettings(sink="hec", url=receiver.url,
                                          token_file=str(tmp_path / "absent")))
        missing.start()
        missing.stop()
    assert "cannot read the token file: FileNotFoundError" in caplog.text
    assert HEC_TOKEN not in caplog.text and "the-variable-loses" not in caplog.text
