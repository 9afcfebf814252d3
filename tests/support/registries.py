"""The images every test registry holds, pushed once per session (the fixtures
``plain_registry``, ``basic_registry`` and ``token_registry`` in tests/conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.support.registry_server import BuiltImage, Pusher, RunningRegistry, build_image

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
