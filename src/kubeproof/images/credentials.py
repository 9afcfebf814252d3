"""Registry credentials from Docker config payloads (pull secrets, ~/.docker/config.json).

A pull secret holds the same JSON Docker writes to ``~/.docker/config.json``:
``{"auths": {HOST: {"auth": base64("user:pass")}}}`` (``kubernetes.io/dockerconfigjson``)
or the legacy ``{HOST: {...}}`` map (``kubernetes.io/dockercfg``). Keys come in
many spellings for one registry (``https://index.docker.io/v1/``,
``registry.example.com:5000``, ``http://host/v2/``); they are normalised to the
registry name that :mod:`kubeproof.k8s.imageref` gives an image (``docker.io`` for
Docker Hub), so a lookup by ``ImageRef.registry`` finds them.

Secrets never leave this module in text: :class:`Credentials` hides the
password from ``repr``/``str``, and :class:`CredentialsError` messages name the
source and the key at fault, never a value.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubeproof.k8s.imageref import DOCKER_HUB, parse_image, split_registry_prefix

# Docker Hub's API host; its other names all mean docker.io.
DOCKER_HUB_API = "registry-1.docker.io"
_HUB_ALIASES = frozenset({DOCKER_HUB, "index.docker.io", DOCKER_HUB_API})


@dataclass(frozen=True, slots=True)
class Credentials:
    """A username and password for one registry, and where they came from.

    ``source`` names the origin for reports (``pull secret team-a/regcred``,
    ``~/.docker/config.json``, ``--registry-auth``); the password is never shown.
    """

    username: str
    password: str = field(repr=False)
    source: str = ""


class CredentialsError(ValueError):
    """A credentials payload that cannot be read; the message quotes no value."""


def normalise_host(key: str) -> str:
    """The registry name of a Docker config key: no scheme, no path, Docker Hub as docker.io."""
    host, _ = split_registry_prefix(key)
    return DOCKER_HUB if host in _HUB_ALIASES else host


def registry_host(reference: str) -> str:
    """The host to speak the registry API to for an image reference.

    ``nginx`` and ``docker.io/x/y`` go to ``registry-1.docker.io``; an invalid
    reference raises ``ValueError`` with the parser's reason.
    """
    ref = parse_image(reference)
    if ref.error is not None:
        raise ValueError(ref.error)
    return api_host(ref.registry)


def api_host(registry: str) -> str:
    """The API host of a registry name (``docker.io`` -> ``registry-1.docker.io``)."""
    return DOCKER_HUB_API if registry.lower() in _HUB_ALIASES else registry.lower()


def _entry(entry: Any, source: str, key: str) -> Credentials | None:
    if not isinstance(entry, dict):
        raise CredentialsError(f"{source}: the entry for {key!r} is not a JSON object")
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            decoded = base64.b64decode(auth, validate=True).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise CredentialsError(
                f"{source}: the 'auth' field for {key!r} is not base64 of UTF-8 text") from None
        username, colon, password = decoded.partition(":")
        if not colon:
            raise CredentialsError(
                f"{source}: the 'auth' field for {key!r} is not of the form user:password")
        return Credentials(username, password, source)
    user, secret = entry.get("username"), entry.get("password")
    if isinstance(user, str) and isinstance(secret, str) and (user or secret):
        return Credentials(user, secret, source)
    if "identitytoken" in entry or "registrytoken" in entry:
        raise CredentialsError(
            f"{source}: the entry for {key!r} holds an identity token, which is not supported")
    return None  # an entry with only an email, as old Docker wrote: nothing to send


def parse_docker_config(payload: bytes | str, source: str) -> dict[str, list[Credentials]]:
    """Credentials per registry name from a ``.dockerconfigjson`` or ``.dockercfg`` payload.

    Raises :class:`CredentialsError` when the payload is not JSON, not an
    object, or an entry is malformed; the message names ``source`` and the
    registry key, never a value.
    """
    try:
        text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
        parsed = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        raise CredentialsError(f"{source}: the payload is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise CredentialsError(f"{source}: the payload is not a JSON object")
    auths = parsed.get("auths", parsed if "auths" not in parsed else None)
    if not isinstance(auths, dict):
        raise CredentialsError(f"{source}: 'auths' is not a JSON object")
    out: dict[str, list[Credentials]] = {}
    for key, entry in auths.items():
        if key in ("credsStore", "credHelpers", "HttpHeaders", "psFormat"):
            continue  # config.json settings that sit beside auths in a legacy file
        creds = _entry(entry, source, str(key))
        if creds is not None:
            host = normalise_host(str(key))
            if host:
                out.setdefault(host, []).append(creds)
    return out


def docker_config_path() -> Path:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``."""
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def docker_config_credentials(path: str | None = None) -> dict[str, list[Credentials]]:
    """Credentials from a Docker CLI config file (default: :func:`docker_config_path`).

    A missing file gives no credentials. Credential stores and helpers
    (``credsStore``, ``credHelpers``) are not run: a file that relies on them
    raises :class:`CredentialsError` saying so, unless it also has inline auths.
    """
    file = Path(path) if path else docker_config_path()
    source = str(path) if path else "~/.docker/config.json"
    try:
        payload = file.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CredentialsError(f"{source}: cannot be read ({exc.strerror})") from None
    creds = parse_docker_config(payload, source)
    if not creds:
        parsed = json.loads(payload)
        helpers = [k for k in ("credsStore", "credHelpers") if parsed.get(k)]
        if helpers:
            raise CredentialsError(
                f"{source}: credentials are kept by {' and '.join(helpers)}, which kubeproof "
                "does not run; pass --registry-auth or a pull secret instead")
    return creds
