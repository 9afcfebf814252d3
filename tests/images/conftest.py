"""Session-wide registries with images pushed once (see registry_server.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.images.registry_server import (
    BuiltImage,
    Pusher,
    RunningRegistry,
    TokenService,
    build_image,
    start_registry,
    stop_registry,
)

USER, PASSWORD = "kp-user", "s3cr3t-Pa55word-xyz"
LABELS = {"org.opencontainers.image.base.name": "docker.io/library/alpine:3.19",
          "team": "payments"}


@dataclass
class Seeded:
    """A registry and what was pushed to it: digests by name."""

    reg: RunningRegistry
    digests: dict[str, str] = field(default_factory=dict)
    images: dict[str, BuiltImage] = field(default_factory=dict)


def seed(reg: RunningRegistry) -> Seeded:
    """Push the images every flavour holds."""
    out = Seeded(reg)
    pusher = Pusher(reg)
    try:
        amd = build_image("app", labels=LABELS, history=(
            "/bin/sh -c #(nop) ADD file:abc in / alpine-minirootfs", "RUN adduser -D app"))
        arm = build_image("app", platform="linux/arm64", labels=LABELS)
        out.images.update({"app:amd64": amd, "app:arm64": arm})
        out.digests["team/app:1.0"] = pusher.index("team/app", "1.0",
                                                   {"linux/amd64": amd, "linux/arm64": arm})
        single = build_image("single", user="", oci=False)
        out.images["single"] = single
        out.digests["team/single:v1"] = pusher.image("team/single", "v1", single)
        legacy = {p: build_image("legacy", platform=p, oci=False)
                  for p in ("linux/amd64", "linux/arm/v7")}
        out.images.update({f"legacy:{p}": image for p, image in legacy.items()})
        out.digests["team/legacy:1.0"] = pusher.index("team/legacy", "1.0", legacy, oci=False)
        plain = build_image("plain", layer_media_type="application/vnd.oci.image.layer.v1.tar")
        out.images["plain"] = plain
        out.digests["team/plain:v1"] = pusher.image("team/plain", "v1", plain)
    finally:
        pusher.close()
    return out


@pytest.fixture(scope="session")
def plain_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    reg = start_registry(tmp_path_factory.mktemp("plain-registry"))
    try:
        yield seed(reg)
    finally:
        stop_registry(reg)


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    reg = start_registry(tmp_path_factory.mktemp("basic-registry"), tls=True,
                         users={USER: PASSWORD})
    try:
        yield seed(reg)
    finally:
        stop_registry(reg)


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    service = TokenService({USER: PASSWORD})
    reg = start_registry(tmp_path_factory.mktemp("token-registry"), token=service)
    try:
        yield seed(reg)
    finally:
        stop_registry(reg)
        service.stop()
