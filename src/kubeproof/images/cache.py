"""On-disk cache of registry answers, so a second scan does not ask again.

Two kinds of entries under ``cache_dir``:

- ``blobs/<algo>/<hex>``: manifests, indexes and image configs by digest.
  Content-addressed, so they never go stale; a read re-hashes the bytes and
  ignores a file that does not match its name (a torn or tampered write).
- ``tags/<sha256>.json``: what a tag resolved to (digest, media type, which
  credentials' source was used), with the time it was learnt; older than
  ``ttl`` seconds it is a miss. The file name hashes the registry, repository,
  tag and :func:`account_key` of the credentials, so a tag learnt with one
  username and password is not served to another pair: a rotated or wrong
  password misses the cache and meets the registry (KP0304 stays honest).

No password or token is ever written: only digests, media types, the
credentials' ``source`` label, and file names derived from scrypt of the
credentials (slow to invert, salted by registry).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class TagEntry:
    """What a tag pointed at when it was cached."""

    digest: str
    media_type: str
    credentials_source: str | None


_ACCOUNT_KEYS: dict[tuple[str, str, str], str] = {}


def account_key(registry: str, username: str | None, password: str | None) -> str:
    """A fingerprint of one registry account for cache file names ("" when anonymous).

    scrypt (2**14, 8, 1), salted by the registry, so a cache directory does
    not become a cheap way to test password guesses; computed once per run.
    """
    if username is None or password is None:
        return ""
    key = (registry, username, password)
    cached = _ACCOUNT_KEYS.get(key)
    if cached is None:
        cached = hashlib.scrypt(f"{username}\0{password}".encode(),
                                salt=b"kubeproof-registry-cache\0" + registry.encode(),
                                n=2**14, r=8, p=1, dklen=16).hex()
        _ACCOUNT_KEYS[key] = cached
    return cached


def content_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class DiskCache:
    """Blobs by digest and tags with a time to live, in one directory."""

    def __init__(self, directory: str, ttl: float) -> None:
        self.root = Path(directory)
        self.ttl = ttl

    def _write(self, path: Path, data: bytes) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written is only a slower run

    def _blob_path(self, digest: str) -> Path | None:
        algo, _, hexpart = digest.partition(":")
        if algo != "sha256" or len(hexpart) != 64 or not hexpart.isalnum():
            return None
        return self.root / "blobs" / algo / hexpart

    def get_blob(self, digest: str) -> bytes | None:
        path = self._blob_path(digest)
        if path is None:
            return None
        try:
            data = path.read_bytes()
        except OSError:
            return None
        return data if content_digest(data) == digest else None

    def put_blob(self, digest: str, data: bytes) -> None:
        path = self._blob_path(digest)
        if path is not None and content_digest(data) == digest:
            self._write(path, data)

    def _tag_path(self, registry: str, repository: str, tag: str, account: str) -> Path:
        key = "\0".join((registry, repository, tag, account)).encode()
        return self.root / "tags" / (hashlib.sha256(key).hexdigest() + ".json")

    def get_tag(self, registry: str, repository: str, tag: str,
                account: str) -> TagEntry | None:
        try:
            raw = json.loads(self._tag_path(registry, repository, tag, account).read_bytes())
            if time.time() - float(raw["at"]) > self.ttl:
                return None
            return TagEntry(str(raw["digest"]), str(raw["media_type"]), raw.get("source"))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put_tag(self, registry: str, repository: str, tag: str, account: str,
                entry: TagEntry) -> None:
        payload = {"digest": entry.digest, "media_type": entry.media_type,
                   "source": entry.credentials_source, "at": time.time()}
        self._write(self._tag_path(registry, repository, tag, account),
                    json.dumps(payload).encode())
