"""The webhook tests' server processes (the main one, the strict one, the spinning
one) and the HEC receiver: only tests/webhook starts webhook servers, so they stay
here; the CA they use (``pki``) is in tests/conftest.py.

The main server runs with two workers (so metrics and certificate reload are
tested across processes), the webhook's own namespace ``kubeproof-system``,
an audit file sink and the policy below.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.tls import Pki
from tests.support.webhook import HEC_TOKEN, HecReceiver, SpinServer, Webhook, start_webhook

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
def audit_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audit") / "audit.jsonl"


@pytest.fixture(scope="session")
def metrics_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The main server's prometheus_client multiprocess directory."""
    return tmp_path_factory.mktemp("metrics")


@pytest.fixture(scope="session")
def hook(pki: Pki, audit_file: Path, metrics_dir: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webhook]:
    server = start_webhook(pki, tmp_path_factory.mktemp("main"),
                           MAIN_CONFIG.replace("AUDIT_FILE", str(audit_file)),
                           "--workers", "2", "--namespace", "kubeproof-system",
                           env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})
    try:
        yield server
    finally:
        server.stop()


STRICT_CONFIG = """\
exemptions:
  allowAnnotations: true      # scan honours them; the webhook is told not to
webhook:
  allowExemptionAnnotations: false
  judgeControlled: true
  fixers: [writable-root-filesystem, KP1403]
  audit:
    sink: hec
    url: HEC_URL
    sourcetype: kubeproof:test
    flushMs: 20
"""


@pytest.fixture(scope="session")
def hec() -> Iterator[HecReceiver]:
    with contextlib.closing(HecReceiver()) as receiver:
        yield receiver


@pytest.fixture(scope="session")
def strict(pki: Pki, hec: HecReceiver, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Webhook]:
    """No exemption annotations, controlled pods judged, two fixers, audit to HEC."""
    server = start_webhook(pki, tmp_path_factory.mktemp("strict"),
                           STRICT_CONFIG.replace("HEC_URL", hec.url),
                           env={"KUBEPROOF_HEC_TOKEN": HEC_TOKEN})
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def spinner(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpinServer]:
    srv = SpinServer(pki, tmp_path_factory.mktemp("spin"))
    try:
        yield srv
    finally:
        srv.stop()
