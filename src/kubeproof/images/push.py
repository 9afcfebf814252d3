"""Push an OCI image layout to a registry (OCI distribution API).

Used by ``deploy/image/build.py --push`` to publish kubeproof's own image
without a Docker daemon: each blob the registry lacks goes up in one
monolithic upload (``POST`` then ``PUT ?digest=``), then the manifest is
``PUT`` under the tag. Anonymous or Basic auth (a registry answering with a
Bearer challenge needs ``skopeo copy oci:DIR docker://REF`` instead).
"""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import Any

import httpx

from kubeproof.k8s.imageref import parse_image

_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class PushError(Exception):
    """The registry refused a blob or the manifest."""


def _load(layout: Path) -> tuple[dict[str, Any], bytes]:
    index = json.loads((layout / "index.json").read_text())
    entries = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(entries, list) or len(entries) != 1 or not isinstance(entries[0], dict):
        raise PushError(f"{layout}/index.json must name exactly one manifest")
    entry = entries[0]
    return entry, _blob(layout, str(entry.get("digest", "")))


def _blob(layout: Path, digest: str) -> bytes:
    algorithm, _, hexdigest = digest.partition(":")
    if algorithm != "sha256" or len(hexdigest) != 64 or not hexdigest.isalnum():
        raise PushError(f"unsupported digest {digest[:80]!r}")
    return (layout / "blobs" / "sha256" / hexdigest).read_bytes()


def push_layout(layout: Path, reference: str, *, insecure: bool = False,
                ca_file: str | None = None, user: str | None = None,
                password: str | None = None) -> dict[str, str]:
    """Push the single image of ``layout`` as ``reference`` (``host/repo:tag``);
    the pushed reference pinned by digest."""
    ref = parse_image(reference)
    if ref.invalid or ref.tag is None:
        raise PushError(f"{reference[:200]!r} is not a registry/repository:tag reference")
    entry, manifest = _load(layout)
    doc = json.loads(manifest)
    blobs = [doc["config"], *doc["layers"]]
    base = f"{'http' if insecure else 'https'}://{ref.registry}/v2/{ref.repository}"
    auth = httpx.BasicAuth(user, password or "") if user else None
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
    with httpx.Client(timeout=_TIMEOUT, verify=verify, auth=auth) as http:
        for blob in blobs:
            digest = str(blob["digest"])
            if http.head(f"{base}/blobs/{digest}").status_code == 200:
                continue
            start = http.post(f"{base}/blobs/uploads/")
            if start.status_code != 202 or "location" not in start.headers:
                raise PushError(f"upload of {digest} refused: HTTP {start.status_code}")
            location = httpx.URL(base).join(start.headers["location"])
            done = http.put(location.copy_merge_params({"digest": digest}),
                            content=_blob(layout, digest),
                            headers={"Content-Type": "application/octet-stream"})
            if done.status_code != 201:
                raise PushError(f"upload of {digest} refused: HTTP {done.status_code}")
        put = http.put(f"{base}/manifests/{ref.tag}", content=manifest,
                       headers={"Content-Type": str(entry.get("mediaType"))})
        if put.status_code != 201:
            raise PushError(f"manifest refused: HTTP {put.status_code}")
    digest = str(entry["digest"])
    return {"reference": f"{ref.registry}/{ref.repository}:{ref.tag}@{digest}",
            "digest": digest}
