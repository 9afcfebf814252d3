"""Shared servers: one CA for the session, and the main webhook process.

The main server runs with two workers (so metrics and certificate reload are
tested across processes), the webhook's own namespace ``kubeproof-system``,
an audit file sink and the policy below.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.webhook.support import Pki, Webhook, make_pki, start_webhook

MAIN_CONFIG = """\
webhook:
  ruleModes:
    image-not-pinned: warn
  namespaceModes:
    - namespace: "dev-*"
      mode: warn
    - namespace: legacy
      modes: {critical: audit, high: audit}
      ruleModes: {pss-privileged: enforce}
  excludeNamespaces: [kube-system, "scratch-*"]
  audit:
    sink: file
    file: AUDIT_FILE
    flushMs: 20
"""


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def audit_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audit") / "audit.jsonl"


@pytest.fixture(scope="session")
def hook(pki: Pki, audit_file: Path, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Webhook]:
    server = start_webhook(pki, tmp_path_factory.mktemp("main"),
                           MAIN_CONFIG.replace("AUDIT_FILE", str(audit_file)),
                           "--workers", "2", "--namespace", "kubeproof-system")
    try:
        yield server
    finally:
        server.stop()
