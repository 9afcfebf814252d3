"""Audit events: one JSON object per admission decision, shipped off the request path.

An event holds who did what to which object and what was decided: time, uid,
user, operation, kind, namespace, name, decision, finding codes, dryRun (dry-run
requests are judged and their event is emitted, marked ``"dryRun": true``: the
event is a log line, not a change to the cluster). It never holds the object,
so no Secret data can reach it.

Sinks: ``stdout`` and ``file`` write JSON lines; ``hec`` POSTs batches to a
Splunk HTTP Event Collector (``Authorization: Splunk <token>``, body of
concatenated ``{"time", "sourcetype", "event"}`` objects), the token read from
an environment variable and never logged. Events go through a bounded queue to
one background thread that writes them in batches; :meth:`AuditSink.emit` never
blocks, and an event that finds the queue full, or a batch the sink refuses, is
counted in ``kubeproof_webhook_audit_events_dropped_total``.

``kubeproof audit --events`` uses the same sink (configured by the same
``webhook.audit``) for one event per finding: it waits for room in the queue
(``emit(..., wait_s=...)``), reports failures itself (``log_failures=False``)
from ``sent`` and ``last_error``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import queue
import sys
import threading
import time
from typing import Any

import orjson

from kubeproof.webhook import metrics
from kubeproof.webhook.policy import AuditSettings

LOG = logging.getLogger("kubeproof.webhook")
MAX_TOKEN_BYTES = 4096  # a token file is read this far, no further
_POLL_S = 0.05  # how often a filling batch looks for more events
_STOP = object()


class HecRefused(RuntimeError):
    """The collector answered, with an error status (the message holds only it)."""


class AuditSink:
    def __init__(self, settings: AuditSettings, *, log_failures: bool = True) -> None:
        self.settings = settings
        self.log_failures = log_failures
        self.sent = 0  # events the sink took (written by the sink's thread only)
        self.last_error = ""  # the latest send failure (for HEC its exception's name)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=settings.queue_size)
        self._thread: threading.Thread | None = None
        self._client: Any = None
        self._token = ""
        self._failing = False

    def start(self) -> None:
        if self.settings.sink == "none" or self._thread is not None:
            return
        if self.settings.sink == "hec":
            # start-up: httpx costs 60-220 ms of imports (idle / loaded machine); only the hec
            # sink needs it
            import httpx

            self._token = self._read_token()
            self._client = httpx.Client(timeout=5.0, verify=self.settings.ca_file or True)
        self._thread = threading.Thread(target=self._run, name="kubeproof-audit", daemon=True)
        self._thread.start()

    def _read_token(self) -> str:
        """The HEC token: the first line of ``tokenFile`` (a mounted Secret, so no
        environment variable shows it), else ``$tokenEnv``; never logged."""
        where = self.settings.token_file
        if where:
            try:
                with open(where, encoding="utf-8") as fh:
                    token = fh.read(MAX_TOKEN_BYTES).strip()
            except (OSError, UnicodeDecodeError) as exc:
                LOG.warning("audit sink hec: cannot read the token file: %s",
                            type(exc).__name__)
                return ""
        else:
            token = os.environ.get(self.settings.token_env, "")
            where = f"${self.settings.token_env}"
        if not token:
            LOG.warning("audit sink hec: %s is empty; the collector will likely refuse "
                        "the events", where)
        return token

    def emit(self, event: dict[str, Any], wait_s: float = 0.0) -> None:
        """Queue one event; waits at most ``wait_s`` for room (the webhook: never),
        then drops it, counted."""
        if self._thread is None:
            return
        try:
            if wait_s > 0:
                self._queue.put(event, timeout=wait_s)
            else:
                self._queue.put_nowait(event)
        except queue.Full:
            metrics.AUDIT_DROPPED.labels("queue_full").inc()

    def stop(self, timeout: float = 5.0) -> None:
        """Flush what is queued and stop the thread."""
        if self._thread is None:
            return
        with contextlib.suppress(queue.Full):
            self._queue.put(_STOP, timeout=timeout)
        self._thread.join(timeout)
        self._thread = None
        if self._client is not None:
            self._client.close()

    def _run(self) -> None:
        flush_s = self.settings.flush_ms / 1000
        size = self.settings.batch_size
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            deadline = time.monotonic() + flush_s
            stopping = False
            while len(batch) < size:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    # collect more by polling, not by a wake-up per event: at
                    # hundreds of requests a second those cost the webhook's
                    # threads a GIL hand-off each
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    time.sleep(min(left, _POLL_S))
                    continue
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            self._write(batch)
            if stopping:
                return

    def _write(self, batch: list[dict[str, Any]]) -> None:
        try:
            if self.settings.sink == "hec":
                self._send_hec(batch)
            else:
                data = b"".join(orjson.dumps(e) + b"\n" for e in batch)
                if self.settings.sink == "file":
                    assert self.settings.file is not None
                    with open(self.settings.file, "ab") as fh:
                        fh.write(data)
                else:
                    sys.stdout.buffer.write(data)
                    sys.stdout.buffer.flush()
        except Exception as exc:  # a sink outage loses events, never the webhook
            metrics.AUDIT_DROPPED.labels("send_failed").inc(len(batch))
            # an HTTP client's exception may quote the request: name it only
            self.last_error = type(exc).__name__ if self.settings.sink == "hec" \
                and not isinstance(exc, HecRefused) else str(exc)
            if not self._failing and self.log_failures:
                LOG.error("audit sink %s failed, dropping events: %s", self.settings.sink,
                          self.last_error)
            self._failing = True
            return
        self._failing = False
        self.sent += len(batch)
        metrics.AUDIT_SENT.inc(len(batch))

    def _send_hec(self, batch: list[dict[str, Any]]) -> None:
        sourcetype = self.settings.sourcetype
        body = b"".join(orjson.dumps({"time": _epoch(e["time"]), "sourcetype": sourcetype,
                                      "event": e}) for e in batch)
        assert self.settings.url is not None
        resp = self._client.post(self.settings.url, content=body,
                                 headers={"Authorization": f"Splunk {self._token}".strip(),
                                          "Content-Type": "application/json"})
        if resp.status_code >= 300:
            raise HecRefused(f"HEC answered HTTP {resp.status_code}")


def _epoch(iso: str) -> float:
    """HEC wants the event time in seconds since the epoch."""
    return round(dt.datetime.fromisoformat(iso).timestamp(), 3)
