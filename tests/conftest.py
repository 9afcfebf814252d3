"""Fixtures shared by the test folders: certificates, the fake API server and the
OCI registries (each started once per session where it can be).

Folder conftests hold only what one folder uses (tests/webhook: its server
processes; tests/integrations: the built package and its virtual environment).
The helpers behind these fixtures are in :mod:`tests.support`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.audit import CLUSTER_YAML, Api
from tests.support.fakeapi import FakeApiServer, FakeCluster, load_manifests, write_kubeconfig
from tests.support.registries import PASSWORD, USER, Seeded, seed
from tests.support.registry_server import (
    RunningRegistry,
    TokenService,
    start_registry,
    stop_registry,
)
from tests.support.tls import Pki, Tls, make_pki, make_tls

# ---------------------------------------------------------------- certificates


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """The fake API server's CA and certificate."""
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """The webhook servers' CA and certificate."""
    return make_pki(tmp_path_factory.mktemp("pki"))


# ---------------------------------------------------------------- the fake API server


@pytest.fixture
def cluster() -> FakeCluster:
    """The fixture cluster (tests/audit/fixtures/cluster.yaml); tests may add to it."""
    fake = FakeCluster()
    fake.add_all(load_manifests([CLUSTER_YAML]))
    return fake


@pytest.fixture
def api(cluster: FakeCluster, tls: Tls, tmp_path: Path) -> Iterator[Api]:
    with FakeApiServer(cluster, tls) as server:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server.url, tls.ca_pem,
                                      cluster.token)
        yield Api(server, cluster, kubeconfig, tls)


# ---------------------------------------------------------------- registries


def _seeded(reg: RunningRegistry) -> Iterator[Seeded]:
    """The registry with the images pushed; stopped after the session."""
    try:
        yield seed(reg)
    finally:
        stop_registry(reg)


@pytest.fixture(scope="session")
def plain_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """Plain HTTP, no authentication."""
    yield from _seeded(start_registry(tmp_path_factory.mktemp("plain-registry")))


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """HTTPS (its own CA) and basic authentication."""
    yield from _seeded(start_registry(tmp_path_factory.mktemp("basic-registry"), tls=True,
                                      users={USER: PASSWORD}))


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """Bearer tokens from a token service."""
    service = TokenService({USER: PASSWORD})
    try:
        yield from _seeded(start_registry(tmp_path_factory.mktemp("token-registry"),
                                          token=service))
    finally:
        service.stop()
