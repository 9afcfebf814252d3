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

Workers: ``--workers N`` runs N processes (uvicorn spawns them and each
imports :func:`kubeproof.webhook.app.app_from_env`); the settings travel in the
environment, and metrics are shared through ``PROMETHEUS_MULTIPROC_DIR``
(see :mod:`kubeproof.webhook.metrics`).
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubeproof.webhook.settings import SETTINGS_ENV, AppSettings

LOG = logging.getLogger("kubeproof.webhook")
Stamp = tuple[tuple[int, int, int], ...] | None


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
    import uvicorn

    os.environ[SETTINGS_ENV] = opts.app.to_env()
    uvicorn.run("kubeproof.webhook.app:app_from_env", factory=True, host=opts.host,
                port=opts.port, workers=opts.workers, ssl_certfile=opts.cert_file,
                ssl_keyfile=opts.key_file,
                ssl_context_factory=ReloadingTls(opts.cert_file, opts.key_file),
                access_log=opts.access_log, log_level=opts.log_level,
                timeout_graceful_shutdown=10)
