"""Serving the webhook over HTTPS with uvicorn, with certificates that rotate.

cert-manager (or any Secret update) replaces the mounted certificate and key
while the server runs. :class:`ReloadingTls` is uvicorn's ``ssl_context_factory``:
the context it returns calls back on every TLS ClientHello (``sni_callback``,
called with or without SNI), compares the files' inode, mtime and size with
those last loaded (two ``stat`` calls), and on a change loads them into a new
context and hands that to the connection being set up. So the first handshake
after a rotation already gets the new certificate; connections already open
keep theirs; no restart. A half-written pair (certificate and key that do not
match yet) is logged and the previous certificate stays until the next change.

Slow or hostile clients are bounded (:class:`GuardedHttpTools`, the uvicorn
options of :func:`uvicorn_options`): a connection must send a whole request
head within :data:`HEADER_TIMEOUT` s of connecting or of its previous
response, in at most :data:`MAX_HEADER_BYTES`; the body must arrive within the
judging deadline (the app answers 408 otherwise); an idle keep-alive connection
is closed after :data:`KEEP_ALIVE`; past :data:`MAX_CONNECTIONS` connections per
worker a request gets 503. A stalled TLS handshake is closed by asyncio after
60 s. Each such close is one log line, never a traceback.

Workers: ``--workers N`` runs N processes (uvicorn spawns them and each
imports :func:`kubeproof.webhook.app.app_from_env`); the settings travel in the
environment, and metrics are shared through ``PROMETHEUS_MULTIPROC_DIR``
(see :mod:`kubeproof.webhook.metrics`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from kubeproof.webhook.settings import SETTINGS_ENV, AppSettings

LOG = logging.getLogger("kubeproof.webhook")
Stamp = tuple[tuple[int, int, int], ...] | None
HEADER_TIMEOUT = 5.0  # seconds for a request head (the API server sends it at once)
MAX_HEADER_BYTES = 64 * 1024
KEEP_ALIVE = 30  # seconds an idle connection stays open (the API server reuses them)
MAX_CONNECTIONS = 512  # per worker; the API server keeps a few per replica


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol with a deadline and a size cap on the request
    head: uvicorn waits for ever for a connection that sends nothing, or half a
    request line, and its keep-alive timer stops at the first byte.

    "Waiting for a head" means no request is being served (``cycle`` is None or
    its response is complete); the timer runs from the connection (or the last
    response) until the head is parsed.
    """

    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0
    _in_body = False  # between a head and the end of its body (even once answered)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # parse first: one read may hold a head and a body
        if self.transport.is_closing() or not self._awaiting_head():
            self._disarm_head_timer()
            return
        if not self._in_body:  # a head still incomplete (not the rest of an answered body)
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEADER_BYTES:
                self._drop(f"sent a request head over {MAX_HEADER_BYTES} bytes")
                return
        self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._in_body = True
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._head_bytes = 0
        # uvicorn's keep-alive timer bounds the idle wait; ours starts with data

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def _awaiting_head(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(HEADER_TIMEOUT, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._awaiting_head() and not self.transport.is_closing():
            self._drop(f"sent no complete request head within {HEADER_TIMEOUT:g} s")

    def _drop(self, why: str) -> None:
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        LOG.warning("closed the connection of %s: it %s", client, why)
        self._disarm_head_timer()
        self.transport.close()


class ReloadingTls:
    """uvicorn ``ssl_context_factory`` whose certificate follows its files.

    Picklable before use (only the paths), as uvicorn sends it to spawned workers.
    """

    def __init__(self, cert_file: str, key_file: str) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self._build: Callable[[], ssl.SSLContext] | None = None
        self._current: ssl.SSLContext | None = None
        self._stamp: Stamp = None

    def __call__(self, config: Any, default_factory: Callable[[], ssl.SSLContext]
                 ) -> ssl.SSLContext:
        self._build = default_factory
        self._stamp = self._files_stamp()
        base = default_factory()
        base.sni_callback = self._on_hello
        self._current = base
        return base

    def _files_stamp(self) -> Stamp:
        try:
            stats = [os.stat(p) for p in (self.cert_file, self.key_file)]
        except OSError:
            return None
        return tuple((s.st_ino, s.st_mtime_ns, s.st_size) for s in stats)

    def _on_hello(self, conn: Any, server_name: str | None, ctx: ssl.SSLContext) -> None:
        stamp = self._files_stamp()
        if stamp is not None and stamp != self._stamp and self._build is not None:
            self._stamp = stamp  # one attempt per change of the files
            try:
                fresh = self._build()
            except (ssl.SSLError, OSError, ValueError) as exc:
                LOG.error("TLS certificate %s changed but cannot be loaded (%s); "
                          "still serving the previous one", self.cert_file,
                          getattr(exc, "reason", None) or type(exc).__name__)
            else:
                self._current = fresh
                LOG.info("TLS certificate reloaded from %s", self.cert_file)
        if self._current is not None and self._current is not ctx:
            conn.context = self._current


@dataclass(frozen=True, slots=True)
class ServeOptions:
    cert_file: str
    key_file: str
    host: str = "0.0.0.0"
    port: int = 8443
    workers: int = 1
    access_log: bool = False
    log_level: str = "info"
    app: AppSettings = field(default_factory=AppSettings)


def serve(opts: ServeOptions) -> None:
    """Run until stopped (SIGTERM/SIGINT). The metrics directory must be set
    already (:func:`kubeproof.webhook.settings.use_multiprocess_metrics`)."""
    os.environ[SETTINGS_ENV] = opts.app.to_env()
    uvicorn.run("kubeproof.webhook.app:app_from_env", factory=True, **uvicorn_options(opts))


def uvicorn_options(opts: ServeOptions) -> dict[str, Any]:
    """Everything but the app, for ``uvicorn.run`` or ``uvicorn.Config``: TLS that
    follows its files, and the limits against slow and hostile clients."""
    return {"host": opts.host, "port": opts.port, "workers": opts.workers,
            "ssl_certfile": opts.cert_file, "ssl_keyfile": opts.key_file,
            "ssl_context_factory": ReloadingTls(opts.cert_file, opts.key_file),
            "access_log": opts.access_log, "log_level": opts.log_level,
            "http": "kubeproof.webhook.server:GuardedHttpTools",
            "timeout_keep_alive": KEEP_ALIVE, "limit_concurrency": MAX_CONNECTIONS,
            "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
            "timeout_graceful_shutdown": 10}
