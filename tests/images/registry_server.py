"""A real registry for the tests: Debian's docker-registry (distribution 2.8) on loopback.

Flavours: plain HTTP without auth, TLS with htpasswd Basic auth, and token
auth trusting a small token service run here. Plus an image builder/pusher
speaking the registry HTTP API, a slow TCP relay, and a tiny HTTP server that
answers what a broken registry would (500s, HTML). Filled in below.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REGISTRY_BIN = "/usr/bin/docker-registry"


@dataclass
class RunningRegistry:
    """A started registry: ``host`` is ``127.0.0.1:PORT``; ``ca_pem`` set for TLS."""

    host: str
    scheme: str
    ca_file: str | None
    workdir: Path


def start_registry(workdir: Path, *, tls: bool = False, htpasswd: dict[str, str] | None = None,
                   token_realm: str | None = None) -> RunningRegistry:
    raise NotImplementedError


def stop_registry(reg: RunningRegistry) -> None:
    raise NotImplementedError


def push_image(reg: RunningRegistry, repository: str, tag: str, *, oci: bool = True,
               platforms: tuple[str, ...] = ("linux/amd64",)) -> str:
    """Push a small image (or an index when several platforms); return its digest."""
    raise NotImplementedError
