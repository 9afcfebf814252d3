"""A real webhook server process whose judge has one extra rule that spins for
ever (a pure-Python loop) on objects annotated ``test/spin``: only killing the
judge process stops it. Run as ``python -m tests.webhook.spin_server CERT KEY
PORT [MAX_CONNECTIONS]``; the server is the production app and uvicorn
options, with a 1 s request-head timeout (production: 5 s) and a 500 ms
judging deadline.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import replace

import uvicorn

from kubeproof.core.config import Config
from kubeproof.core.context import Context
from kubeproof.model import Resource, Rule, Scope, Severity, Violation
from kubeproof.webhook import server
from kubeproof.webhook.app import create_app
from kubeproof.webhook.events import AuditSink
from kubeproof.webhook.judge import Judge
from kubeproof.webhook.policy import AuditSettings, load_policy

DEADLINE_MS = 500
HEADER_TIMEOUT = 1.0


def spin(res: Resource, ctx: Context) -> Iterator[Violation]:
    annotations = res.metadata.get("annotations")
    if isinstance(annotations, dict) and "test/spin" in annotations:
        n = 0
        while True:
            n += 1
    yield from ()


SPIN_RULE = Rule(code="KP9903", name="test-spin", practice=0, severity=Severity.HIGH,
                 scope=Scope.OBJECT, kinds=None, check=spin, summary="test rule",
                 what="test", why="test", how="test", example="", family="test")


def main(cert: str, key: str, port: int, max_connections: int | None = None) -> None:
    server.HEADER_TIMEOUT = HEADER_TIMEOUT
    if max_connections is not None:
        server.MAX_CONNECTIONS = max_connections
    config = Config()
    config.webhook = {"failurePolicy": "deny", "deadlineMs": DEADLINE_MS}
    judge = Judge(config, load_policy(config), extra_rules=(SPIN_RULE,))
    app = create_app(judge, AuditSink(replace(AuditSettings(), sink="none")))
    opts = server.ServeOptions(cert_file=cert, key_file=key, host="127.0.0.1", port=port)
    uvicorn.run(app, **server.uvicorn_options(opts))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]),
         int(sys.argv[4]) if len(sys.argv) > 4 else None)
