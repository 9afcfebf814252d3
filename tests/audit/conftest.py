"""Fixtures for the audit tests: a CA, the fake API server, a kubeconfig for it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kubeproof.cli.commands.audit import AuditOptions, run_audit
from kubeproof.core.result import ScanResult
from tests.audit.fakeapi import FakeApiServer, FakeCluster, Tls, load_manifests, make_tls
from tests.audit.fakeapi import write_kubeconfig as _write_kubeconfig

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
ROOT = HERE.parents[1]


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def cluster() -> FakeCluster:
    """The fixture cluster (tests/audit/fixtures/cluster.yaml); tests may add to it."""
    fake = FakeCluster()
    fake.add_all(load_manifests([FIXTURES / "cluster.yaml"]))
    return fake


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
        return subprocess.run(
            [sys.executable, "-m", "kubeproof", "audit", *chosen, "--kubeconfig",
             str(kubeconfig or self.kubeconfig), *args],
            capture_output=True, text=True, cwd=ROOT, timeout=120,
            env={**os.environ, **env} if env else None)

    def kubeconfig_with(self, path: Path, *, server: str | None = None,
                        token: str | None = None, context: str = "fake") -> Path:
        return _write_kubeconfig(path, server or self.url, self.tls.ca_pem,
                                 token or self.cluster.token, context)


@pytest.fixture
def api(cluster: FakeCluster, tls: Tls, tmp_path: Path) -> Iterator[Api]:
    with FakeApiServer(cluster, tls) as server:
        kubeconfig = _write_kubeconfig(tmp_path / "kubeconfig", server.url, tls.ca_pem,
                                       cluster.token)
        yield Api(server, cluster, kubeconfig, tls)
