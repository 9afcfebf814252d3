"""``kubeproof audit --events``: one event per finding, sent to the audit sink
that the config's ``webhook.audit`` configures for the webhook (the same
:class:`~kubeproof.webhook.events.AuditSink`: stdout, a file or Splunk HEC).

An event names the object and the finding, in the style of the webhook's
admission events: time, source ``"audit"``, kind, namespace, name, code,
severity, message. Never the object and never a value (finding messages are
display-safe and hold no Secret value). Sending is bounded: the events wait for
room in the sink's queue and the sink's flush together at most
:data:`SEND_TIMEOUT_S`; what the sink did not take is counted in one warning.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kubeproof.cli.common import echo
from kubeproof.webhook.events import AuditSink

if TYPE_CHECKING:
    from kubeproof.model import Finding
    from kubeproof.webhook.policy import AuditSettings

SEND_TIMEOUT_S = 30.0


def finding_event(f: Finding, when: str) -> dict[str, Any]:
    """The audit event of one finding."""
    return {"time": when, "source": "audit", "kind": f.kind, "namespace": f.namespace,
            "name": f.name, "code": f.rule.code, "severity": f.severity.label,
            "message": f.message}


class _Warnings(logging.Handler):
    """The sink's own log lines (an empty token variable) as the command's warnings."""
    def emit(self, record: logging.LogRecord) -> None:
        echo(f"kubeproof: warning: {record.getMessage()}", err=True)


def send_events(findings: Sequence[Finding], settings: AuditSettings,
                timeout: float = SEND_TIMEOUT_S) -> str | None:
    """Send one event per finding and wait for the sink (at most ``timeout``
    seconds); returns a warning when some were not delivered, else None."""
    if settings.sink == "none" or not findings:
        return None
    when = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    sink = AuditSink(settings, log_failures=False)
    deadline = time.monotonic() + timeout
    log = logging.getLogger("kubeproof.webhook")
    handler, propagate = _Warnings(logging.WARNING), log.propagate
    log.addHandler(handler)
    log.propagate = False
    try:
        try:
            sink.start()
        except Exception as exc:  # e.g. an unreadable caFile: named, never a traceback
            sink.last_error = type(exc).__name__
        for f in findings:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sink.emit(finding_event(f, when), wait_s=left)
    finally:
        sink.stop(max(0.1, deadline - time.monotonic()))
        log.removeHandler(handler)
        log.propagate = propagate
    lost = len(findings) - sink.sent
    if lost <= 0:
        return None
    why = f" ({sink.last_error})" if sink.last_error else " (timed out)"
    return (f"audit sink {settings.sink}: {lost} of {len(findings)} events "
            f"not delivered{why}")
