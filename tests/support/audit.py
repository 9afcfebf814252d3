"""The audit tests' handle on a running fake API server (the ``api`` fixture of
tests/conftest.py): its cluster, a kubeconfig for it, and ``kubeproof audit``
against it, in process or as a user runs it."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubeproof.cli.commands.audit import AuditOptions, run_audit
from kubeproof.core.result import ScanResult
from tests.support.cli import kp
from tests.support.fakeapi import FakeApiServer, FakeCluster, Tls, write_kubeconfig
from tests.support.paths import TESTS

CLUSTER_YAML = TESTS / "audit" / "fixtures" / "cluster.yaml"


@dataclass
class Api:
    server: FakeApiServer
    cluster: FakeCluster
    kubeconfig: Path
    tls: Tls

    @property
    def url(self) -> str:
        return self.server.url

    def audit(self, **kw: Any) -> ScanResult:
        """Run the audit in process against this server."""
        kw.setdefault("kubeconfig", str(self.kubeconfig))
        kw.setdefault("request_timeout", 5.0)
        return run_audit(AuditOptions(**kw))

    def cli(self, *args: str, kubeconfig: Path | None = None, config: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """``kubeproof audit`` as a user runs it (with ``config``: that config file,
        else none; ``env``: added to the environment)."""
        chosen = ["--config", str(config)] if config else ["--no-config"]
        return kp("audit", *chosen, "--kubeconfig", str(kubeconfig or self.kubeconfig), *args,
                  env=env)

    def kubeconfig_with(self, path: Path, *, server: str | None = None,
                        token: str | None = None, context: str = "fake") -> Path:
        return write_kubeconfig(path, server or self.url, self.tls.ca_pem,
                                token or self.cluster.token, context)
