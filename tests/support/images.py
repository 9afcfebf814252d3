"""Helpers for the --check-images, images and --pin-digests tests: fixtures
rendered with the test registries' addresses, extra images, a logging replica
of a registry (to count what reaches it), and scans in-process or by CLI."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from kubeproof.api import scan
from kubeproof.core.config import Config
from kubeproof.core.result import ScanResult
from kubeproof.images.check import CheckSettings
from kubeproof.images.credentials import Credentials
from kubeproof.images.oci import RegistryOptions
from tests.support.paths import TESTS
from tests.support.registry_server import (
    OCI_CONFIG,
    OCI_LAYER,
    OCI_MANIFEST,
    REGISTRY_BIN,
    Blob,
    BuiltImage,
    Pusher,
    RunningRegistry,
    _config,
    free_port,
    layer,
)

FIXTURES = TESTS / "images" / "fixtures"
MIB = 1024 * 1024
PLAIN_TAR = "application/vnd.oci.image.layer.v1.tar"


def render(name: str, target: Path, subs: dict[str, str]) -> Path:
    """Copy fixture ``name`` to ``target`` with its placeholders replaced
    (longest first, so ``PLAIN`` does not eat ``PLAIN_X``)."""
    text = (FIXTURES / name).read_text()
    for key in sorted(subs, key=len, reverse=True):
        text = text.replace(key, subs[key])
    out = target / Path(name).name
    out.write_text(text)
    return out


def image(history: tuple[str, ...], files: dict[str, bytes], media_type: str = OCI_LAYER,
          user: str = "1000") -> BuiltImage:
    """A one-layer linux/amd64 OCI image holding ``files``."""
    blob, diff_id = layer(files, media_type)
    config_doc = {"architecture": "amd64", "os": "linux", "created": "2024-05-01T12:00:00Z",
                  "config": {"User": user, "Cmd": ["/bin/app"]},
                  "history": [{"created_by": h} for h in history],
                  "rootfs": {"type": "layers", "diff_ids": [diff_id]}}
    config = Blob(OCI_CONFIG, json.dumps(config_doc).encode())
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.descriptor(),
                "layers": [blob.descriptor()]}
    return BuiltImage(config, [blob], Blob(OCI_MANIFEST, json.dumps(manifest).encode()))


def push_extra(reg: RunningRegistry) -> dict[str, str]:
    """Images for the size and base checks: 3 MiB uncompressed (``team/big``),
    3 MiB of incompressible gzip (``team/bigz``), one on Debian (``team/debianish``)."""
    noise = os.urandom(3 * MIB)
    pusher = Pusher(reg)
    try:
        return {
            "big": pusher.image("team/big", "v1", image(("ADD file:big in /",),
                                                        {"big": b"\0" * (3 * MIB)}, PLAIN_TAR)),
            "bigz": pusher.image("team/bigz", "v1", image(("ADD file:bigz in /",),
                                                          {"noise": noise})),
            "debianish": pusher.image("team/debianish", "v1", image(
                ("/bin/sh -c #(nop) ADD file:abc in / debuerreotype 0.15",), {"x": b"x"})),
        }
    finally:
        pusher.close()


@dataclass
class LoggedReplica:
    """A second docker-registry serving a plain registry's storage with its
    access log on, so a test can count the requests that reach it."""

    host: str
    log: Path
    process: subprocess.Popen[bytes]

    def requests(self, needle: str) -> int:
        time.sleep(0.2)  # the log is written after the answer
        return sum(needle in line for line in self.log.read_text().splitlines())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def logged_replica(reg: RunningRegistry, workdir: Path) -> LoggedReplica:
    port = free_port()
    config = workdir / "replica.yml"
    config.write_text(_config(reg.workdir, port, None, None, None)
                      .replace("disabled: true", "disabled: false"))
    log = workdir / "access.log"
    with log.open("wb") as out:
        process = subprocess.Popen([REGISTRY_BIN, "serve", str(config)], stdout=out,
                                   stderr=subprocess.STDOUT)
    replica = LoggedReplica(f"127.0.0.1:{port}", log, process)
    deadline = time.monotonic() + 15
    while True:
        try:
            if httpx.get(f"http://{replica.host}/v2/", timeout=1).status_code == 200:
                return replica
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            replica.stop()
            raise RuntimeError("registry replica did not start")
        time.sleep(0.05)


def settings(*, insecure: tuple[str, ...] = (), ca: str | None = None,
             platform: str = "linux/amd64",
             user: dict[str, list[Credentials]] | None = None) -> CheckSettings:
    return CheckSettings(RegistryOptions(platform=platform, ca_bundle=ca,
                                         insecure=frozenset(insecure), retries=0, timeout=5),
                         user or {})


def check(paths: list[Path], checks: CheckSettings, config: Config | None = None,
          select: tuple[str, ...] = ()) -> ScanResult:
    result = scan([str(p) for p in paths], config=config, select=select, check_images=checks)
    assert not result.errors, result.errors
    return result


def hits(result: ScanResult, code: str) -> list[tuple[str, int, str | None]]:
    """(code, line, container) of the findings of ``code``."""
    return sorted((f.rule.code, f.line, f.container) for f in result.findings
                  if f.rule.code == code)
