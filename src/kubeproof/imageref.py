"""Container image references, parsed the way the kubelet and container runtimes do.

The grammar is the Docker / OCI distribution reference grammar
(``github.com/distribution/reference``, ``ParseNormalizedNamed``), which the
kubelet uses to decide what to pull::

    reference   := name [ ":" tag ] [ "@" digest ]
    name        := [ domain "/" ] path
    domain      := host [ ":" port ]          (host: DNS name, IPv4, or [IPv6])
    path        := component ( "/" component )*
    component   := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
    tag         := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
    digest      := algorithm ":" hex          (sha256: 64, sha384: 96, sha512: 128 hex)

Normalization, exactly as the runtime applies it:

- The first ``/``-separated component is a registry host only when it
  contains ``.`` or ``:``, is ``localhost``, or contains an uppercase letter;
  otherwise the image lives on Docker Hub (``docker.io``) and the reference
  has no explicit registry. A reference without ``/`` is always Docker Hub
  (``localhost:5000`` alone is repository ``localhost``, tag ``5000``).
- ``index.docker.io`` is the legacy name of ``docker.io``.
- On ``docker.io`` a one-component path gains the ``library/`` prefix.
- No tag and no digest means tag ``latest``; with a digest the tag (if any)
  is informational and the digest is what is pulled.

Invalid references (uppercase repository, bad characters, bad digest, empty,
surrounding whitespace, a 64-hex identifier) do not raise: :func:`parse_image`
returns an :class:`ImageRef` whose ``error`` says why and whose ``invalid`` is
true. Template and environment placeholders (``${IMAGE}``, ``$IMAGE``,
``$(X)``, ``{{ .Values.image }}``, ``<image>``) are marked ``placeholder``
as well as invalid: rules must not judge a reference nobody can resolve.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

DOCKER_HUB = "docker.io"
LEGACY_DOCKER_HUB = "index.docker.io"
LIBRARY = "library/"
DEFAULT_TAG = "latest"
MAX_PATH_LENGTH = 255

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_DOMAIN_RE = re.compile(rf"{_HOST}(?::[0-9]+)?")
_PATH_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG_RE = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_DIGEST_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")
# Digest algorithms the runtimes accept, with the length of their hex encoding.
_DIGEST_HEX = {"sha256": 64, "sha384": 96, "sha512": 128}
_LOWER_HEX_RE = re.compile(r"[a-f0-9]+")
# ${VAR}, $VAR, $(VAR), {{ ... }}, <placeholder>, %{...}
_PLACEHOLDER_RE = re.compile(r"\$[{(A-Za-z_]|\{\{|\}\}|<[^>]*>|%\{")


@dataclass(frozen=True, slots=True)
class ImageRef:
    """One parsed image reference.

    ``registry`` is the normalized host (``docker.io`` when implicit),
    ``repository`` the path on it (``library/nginx``), ``tag`` the tag that is
    pulled (``latest`` when neither tag nor digest is given; ``None`` for a
    digest-only reference), ``digest`` the ``algo:hex`` digest or ``None``.
    ``explicit_tag`` tells whether the tag was written. For invalid references
    ``error`` is set and the name fields are empty.
    """

    registry: str
    repository: str
    tag: str | None
    digest: str | None
    explicit_registry: bool
    original: str
    explicit_tag: bool = False
    error: str | None = None
    placeholder: bool = False

    @property
    def invalid(self) -> bool:
        return self.error is not None

    @property
    def name(self) -> str:
        """The fully qualified name without tag or digest: ``docker.io/library/nginx``."""
        return f"{self.registry}/{self.repository}" if not self.invalid else ""

    @property
    def familiar_name(self) -> str:
        """The short name Docker prints: ``nginx``, ``bitnami/redis``, ``ghcr.io/a/b``."""
        if self.invalid:
            return ""
        if self.registry == DOCKER_HUB:
            path = self.repository
            if path.startswith(LIBRARY) and "/" not in path[len(LIBRARY):]:
                return path[len(LIBRARY):]
            return path
        return self.name

    @property
    def pinned(self) -> bool:
        return self.digest is not None

    @property
    def mutable_tag(self) -> bool:
        """No digest, and the tag is ``latest`` (written or implied)."""
        return not self.invalid and self.digest is None and self.tag == DEFAULT_TAG

    def canonical(self) -> str:
        """``docker.io/library/nginx:latest``, ``ghcr.io/a/b@sha256:...``."""
        if self.invalid:
            return self.original
        out = self.name
        if self.tag is not None:
            out += f":{self.tag}"
        if self.digest is not None:
            out += f"@{self.digest}"
        return out

    def in_registry(self, prefix: str) -> bool:
        """Whether this image lives under ``prefix``: a host (``ghcr.io``) or a
        host plus path prefix (``ghcr.io/my-org``), matched on whole components.

        Hosts compare case-insensitively; ``index.docker.io`` and a scheme
        (``https://``) in ``prefix`` are normalized away.
        """
        if self.invalid:
            return False
        host, path = split_registry_prefix(prefix)
        if not host or host != self.registry.lower():
            return False
        if not path:
            return True
        repo = self.repository
        return repo == path or repo.startswith(path + "/")


def split_registry_prefix(prefix: str) -> tuple[str, str]:
    """Normalize an allow-list entry into (lowercase host, path prefix)."""
    text = prefix.strip()
    for scheme in ("https://", "http://", "oci://", "docker://"):
        if text.lower().startswith(scheme):
            text = text[len(scheme):]
    text = text.strip("/")
    host, _, path = text.partition("/")
    host = host.lower()
    if host == LEGACY_DOCKER_HUB:
        host = DOCKER_HUB
    return host, path.strip("/")


def _invalid(original: str, error: str, placeholder: bool = False) -> ImageRef:
    return ImageRef("", "", None, None, False, original, False, error, placeholder)


def parse_image(value: object) -> ImageRef:
    """Parse an image reference; never raises (see :class:`ImageRef` ``error``)."""
    if not isinstance(value, str):
        return _invalid(str(value), f"image is a {type(value).__name__}, not a string")
    return _parse(value)


@lru_cache(maxsize=8192)
def _parse(text: str) -> ImageRef:
    if not text:
        return _invalid(text, "image is empty")
    if _PLACEHOLDER_RE.search(text):
        return _invalid(text, "image is an unresolved placeholder", placeholder=True)
    if text != text.strip():
        return _invalid(text, "image has leading or trailing whitespace")
    if _IDENTIFIER_RE.fullmatch(text):
        return _invalid(text, "a 64-character hexadecimal string is an image ID, not a name")

    rest = text
    digest: str | None = None
    if "@" in rest:
        rest, _, digest = rest.partition("@")
        error = _check_digest(digest)
        if error:
            return _invalid(text, error)

    # Split the first component off as a domain (splitDockerDomain).
    first, slash, remainder = rest.partition("/")
    if not slash:
        domain, path_and_tag, explicit = DOCKER_HUB, rest, False
    elif (first == "localhost" or "." in first or ":" in first
          or first.lower() != first):
        domain, path_and_tag, explicit = first, remainder, True
    else:
        domain, path_and_tag, explicit = DOCKER_HUB, rest, False

    # The tag is after the last ':' of the path part (the domain is split off).
    path, colon, tag = path_and_tag.rpartition(":")
    if not colon:
        path, tag = path_and_tag, ""
    elif "/" in tag:
        return _invalid(text, "invalid reference format")

    if explicit and not _DOMAIN_RE.fullmatch(domain):
        return _invalid(text, f"invalid registry host {domain!r}")
    if path.lower() != path:
        return _invalid(text, f"repository name {path!r} must be lowercase")
    if not _PATH_RE.fullmatch(path):
        return _invalid(text, f"invalid repository name {path!r}")
    if colon and not _TAG_RE.fullmatch(tag):
        return _invalid(text, f"invalid tag {tag!r}")

    if domain == LEGACY_DOCKER_HUB:
        domain = DOCKER_HUB
    if domain == DOCKER_HUB and "/" not in path:
        path = LIBRARY + path
    if len(path) > MAX_PATH_LENGTH:
        return _invalid(text, f"repository name is longer than {MAX_PATH_LENGTH} characters")

    if colon:
        return ImageRef(domain, path, tag, digest, explicit, text, True)
    return ImageRef(domain, path, None if digest else DEFAULT_TAG, digest, explicit, text, False)


def _check_digest(digest: str) -> str | None:
    if not _DIGEST_RE.fullmatch(digest):
        return f"invalid digest {digest!r}"
    algo, _, hexpart = digest.partition(":")
    want = _DIGEST_HEX.get(algo)
    if want is None:
        return f"unsupported digest algorithm {algo!r}"
    if len(hexpart) != want or not _LOWER_HEX_RE.fullmatch(hexpart):
        return f"invalid {algo} digest (expected {want} lowercase hex characters)"
    return None
