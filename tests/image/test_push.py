"""kubeproof.images.push: an OCI image layout pushed to Debian's docker-registry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kubeproof.images.push import PushError, push_layout
from tests.support.registry_server import (
    OCI_INDEX,
    OCI_MANIFEST,
    BuiltImage,
    RunningRegistry,
    build_image,
    start_registry,
    stop_registry,
)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    reg = start_registry(tmp_path_factory.mktemp("push-registry"))
    try:
        yield reg
    finally:
        stop_registry(reg)


def write_layout(path: Path, image: BuiltImage, manifests: int = 1) -> Path:
    blobs = path / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    for blob in (*image.layers, image.config, image.manifest):
        (blobs / blob.digest.removeprefix("sha256:")).write_bytes(blob.data)
    entry = image.manifest.descriptor()
    (path / "index.json").write_text(json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry] * manifests}))
    return path


def test_push_uploads_every_blob_and_tags_the_manifest(registry: RunningRegistry,
                                                       tmp_path: Path) -> None:
    image = build_image("pushed")
    layout = write_layout(tmp_path / "oci", image)
    pushed = push_layout(layout, f"{registry.host}/team/pushed:1.0", insecure=True)
    digest = image.manifest.digest
    assert pushed == {"reference": f"{registry.host}/team/pushed:1.0@{digest}",
                      "digest": digest}
    with httpx.Client() as http:
        resp = http.get(f"{registry.url}/v2/team/pushed/manifests/1.0",
                        headers={"Accept": OCI_MANIFEST})
        assert resp.headers["docker-content-digest"] == digest
        for blob in image.layers:
            got = http.get(f"{registry.url}/v2/team/pushed/blobs/{blob.digest}")
            assert got.content == blob.data
    # a second push finds the blobs there and only tags again
    assert push_layout(layout, f"{registry.host}/team/pushed:1.1", insecure=True) == {
        "reference": f"{registry.host}/team/pushed:1.1@{digest}", "digest": digest}


@pytest.mark.parametrize("reference",
                         ["", "no spaces/allowed here", "host/repo@sha256:" + "a" * 64])
def test_a_reference_without_a_tag_is_refused(tmp_path: Path, reference: str) -> None:
    layout = write_layout(tmp_path / "oci", build_image("x"))
    with pytest.raises(PushError, match="reference"):
        push_layout(layout, reference, insecure=True)


def test_a_layout_of_several_images_is_refused(tmp_path: Path) -> None:
    layout = write_layout(tmp_path / "oci", build_image("x"), manifests=2)
    with pytest.raises(PushError, match="exactly one manifest"):
        push_layout(layout, "127.0.0.1:1/x:1", insecure=True)


def test_basic_auth_over_tls_and_a_refusal(tmp_path: Path) -> None:
    reg = start_registry(tmp_path / "reg", tls=True, users={"ci-bot": "pa55-word"})
    try:
        layout = write_layout(tmp_path / "oci", build_image("private"))
        target = f"{reg.host}/team/private:1"
        with pytest.raises(PushError, match="HTTP 401"):
            push_layout(layout, target, ca_file=reg.ca_file)
        pushed = push_layout(layout, target, ca_file=reg.ca_file, user="ci-bot",
                             password="pa55-word")
        assert pushed["digest"] == json.loads((layout / "index.json").read_text()
                                              )["manifests"][0]["digest"]
    finally:
        stop_registry(reg)
