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
surrounding whitespace, control characters, a 64-hex identifier, longer than
4096 characters) do not raise: :func:`parse_image` returns an
:class:`ImageRef` whose ``error`` says why and whose ``invalid`` is true.

Placeholders
------------
References in templates and documentation hold placeholders. These are
recognised (and nothing else):

- ``${VAR}``, ``${VAR:-default}`` (braces balanced, nesting allowed; an
  unclosed ``${`` runs to the end), ``$VAR``, ``$(VAR)``;
- ``{{ ... }}`` (Helm, Go, Jinja), ``%{...}``, ``#{...}#``;
- ``<...>``, ``<<...>>`` (``<registry>``, ``<DOCKER_REPO>``);
- ``__VAR__`` at the start of a component;
- ALL-CAPS words of two or more characters (``PROJECT_ID``, ``REGION``,
  ``CONTAINER_IMAGE``) in the registry or path, but only when the reference
  is otherwise one the kubelet rejects: ``REGISTRY.example.com/app`` is a
  valid reference with an uppercase host and stays one.

A reference holding a placeholder has ``placeholder`` set and stays
``invalid`` (nothing may pull, pin or look it up), but its literal parts are
judged: ``registry_known`` (the registry is literal: ``${REGISTRY}/app`` has
none, ``gcr.io/${PROJECT}/app`` has ``gcr.io``; a placeholder in the first
component of a reference may itself be a host), ``tag_known`` (tag and digest
are literal, so ``tag``, ``digest`` and ``explicit_tag`` say what is pulled:
``${REGISTRY}/app:latest`` pulls ``latest``; a placeholder that ends the name
with no tag or digest after it may carry them, so nothing is known), and
``path_prefix`` (the literal leading components of the repository; all of it
when ``path_known``). A reference that is only placeholders (``$IMAGE``,
``{{ .Values.image }}``) knows nothing. When the literal parts are themselves
invalid (``${REGISTRY}/App:1``), the reference is invalid, not a placeholder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

DOCKER_HUB = "docker.io"
LEGACY_DOCKER_HUB = "index.docker.io"
LIBRARY = "library/"
DEFAULT_TAG = "latest"
MAX_PATH_LENGTH = 255
MAX_REFERENCE_LENGTH = 4096
# Tags that move with every push (KP0101, ``images.mutableTags``); those ending
# in ``-latest`` too. Matched case-insensitively.
DEFAULT_MUTABLE_TAGS = ("latest", "main", "master", "head", "develop", "dev", "edge",
                        "nightly", "stable", "canary")

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
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# One placeholder stands where this character is (never in a valid reference).
_HOLE = "\x00"
_DOLLAR_NAME_RE = re.compile(r"\$[A-Za-z_][A-Za-z0-9_]*")
_DUNDER_RE = re.compile(r"__[A-Za-z][A-Za-z0-9_]*?__(?![A-Za-z0-9])")
_CAPS_RE = re.compile(r"(?<![A-Za-z0-9])[A-Z][A-Z0-9_]+(?![A-Za-z0-9])")


@dataclass(frozen=True, slots=True)
class ImageRef:
    """One parsed image reference.

    ``registry`` is the normalized host (``docker.io`` when implicit),
    ``repository`` the path on it (``library/nginx``), ``tag`` the tag that is
    pulled (``latest`` when neither tag nor digest is given; ``None`` for a
    digest-only reference), ``digest`` the ``algo:hex`` digest or ``None``.
    ``explicit_tag`` tells whether the tag was written. For invalid references
    ``error`` is set and the name fields are empty; for references with
    placeholders, ``registry_known``, ``tag_known``, ``path_prefix`` and
    ``path_known`` say which of ``registry``, ``tag``, ``digest`` and
    ``explicit_tag`` are filled in from the literal parts (see the module).
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
    registry_known: bool = False
    tag_known: bool = False
    path_prefix: str = ""
    path_known: bool = False

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
        """No digest, and the tag is one of :data:`DEFAULT_MUTABLE_TAGS` (``latest``
        written or implied, ``main``, ...); see :meth:`moving_tag`."""
        return self.moving_tag(DEFAULT_MUTABLE_TAGS)

    def moving_tag(self, tags: Iterable[object]) -> bool:
        """Whether a known tag without digest is one of ``tags`` or ends in
        ``-latest``, ignoring case."""
        if not self.tag_known or self.digest is not None or self.tag is None:
            return False
        return is_mutable_tag(self.tag, tags)

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
        return self.registry_match(prefix) is True and not self.invalid

    def registry_match(self, prefix: str) -> bool | None:
        """:meth:`in_registry`, answered from the literal parts of a reference
        with placeholders too: ``None`` when a placeholder decides."""
        if not self.registry_known:
            return None if self.placeholder else False
        host, path = split_registry_prefix(prefix)
        if not host or host != self.registry.lower():
            return False
        if not path:
            return True
        want = path.split("/")
        have = self.path_prefix.split("/") if self.path_prefix else []
        if have[:len(want)] == want:
            return True
        if not self.path_known and want[:len(have)] == have:
            return None
        return False


def is_mutable_tag(tag: str, tags: Iterable[object]) -> bool:
    """``tag`` is one of ``tags`` or ends in ``-latest``, ignoring case."""
    low = tag.lower()
    return low.endswith("-latest") or any(
        isinstance(t, str) and t.lower() == low for t in tags)


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
    if len(text) > MAX_REFERENCE_LENGTH:
        return _invalid(text, f"image is longer than {MAX_REFERENCE_LENGTH} characters")
    if text != text.strip():
        return _invalid(text, "image has leading or trailing whitespace")
    if _CONTROL_RE.search(text):
        return _invalid(text, "image holds a control character")
    masked = _mask(text)
    if _HOLE in masked:
        return _parse_masked(text, masked)
    if _IDENTIFIER_RE.fullmatch(text):
        return _invalid(text, "a 64-character hexadecimal string is an image ID, not a name")
    ref = _parse_masked(text, text)
    if ref.invalid and _CAPS_RE.search(text):
        # documentation placeholders: REGION-docker.pkg.dev/PROJECT_ID/app
        name_end = _name_end(text)
        caps = _CAPS_RE.sub(_HOLE, text[:name_end]) + text[name_end:]
        if _HOLE in caps:
            templated = _parse_masked(text, caps)
            if templated.placeholder:
                return templated
    return ref


def _name_end(text: str) -> int:
    """Where the name (registry and path) of ``text`` ends: at its tag or digest."""
    at = text.find("@")
    rest = text if at < 0 else text[:at]
    colon = rest.rfind(":")
    return colon if colon > rest.rfind("/") else len(rest)


def _mask(text: str) -> str:
    """``text`` with each placeholder (see the module) replaced by :data:`_HOLE`.
    Linear: every position is passed once."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        end = _placeholder_end(text, i)
        if end > i:
            out.append(_HOLE)
            i = end
            continue
        j = i + 1
        while j < n and text[j] == "<" and text[i] == "<":  # a '<' run that closed nothing
            j += 1
        out.append(text[i:j])
        i = j
    return "".join(out)


def _placeholder_end(text: str, i: int) -> int:
    """End of the placeholder starting at ``i``, or ``i`` when none does."""
    ch, nxt = text[i], text[i + 1:i + 2]
    if ch == "$":
        if nxt in ("{", "("):
            return _balanced_end(text, i + 1, nxt, "}" if nxt == "{" else ")")
        m = _DOLLAR_NAME_RE.match(text, i)
        return m.end() if m else i
    if nxt == "{" and ch in "{%#":
        close = text.find("}}" if ch == "{" else "}", i + 2)
        if close < 0:
            return len(text)
        end = close + (2 if ch == "{" else 1)
        return end + 1 if ch == "#" and text[end:end + 1] == "#" else end
    if ch == "<":
        j = i
        while j < len(text) and text[j] == "<":
            j += 1
        while j < len(text) and text[j] not in "<>":
            j += 1
        if j >= len(text) or text[j] != ">":
            return i
        while j < len(text) and text[j] == ">":
            j += 1
        return j
    if ch == "_" and nxt == "_" and (i == 0 or not text[i - 1].isalnum()):
        m = _DUNDER_RE.match(text, i)
        return m.end() if m else i
    return i


def _balanced_end(text: str, start: int, open_: str, close: str) -> int:
    """End of the bracket group opening at ``start`` (the end of ``text`` when
    it never closes)."""
    depth = 0
    for j in range(start, len(text)):
        c = text[j]
        if c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return j + 1
    return len(text)


def _parse_masked(text: str, masked: str) -> ImageRef:
    """Parse ``masked`` (``text`` with placeholders replaced by holes); a
    literal reference is its own mask."""
    if not masked.strip(_HOLE):
        return _invalid(text, "image is an unresolved placeholder", placeholder=True)

    rest = masked
    digest: str | None = None
    if "@" in rest:
        rest, _, digest = rest.partition("@")
        if _HOLE not in digest:
            error = _check_digest(digest)
            if error:
                return _invalid(text, error)

    # Split the first component off as a domain (splitDockerDomain); a
    # placeholder there may be a host, so it counts as one.
    first, slash, remainder = rest.partition("/")
    if not slash:
        domain, path_and_tag, explicit = DOCKER_HUB, rest, False
    elif (first == "localhost" or "." in first or ":" in first
          or first.lower() != first or _HOLE in first):
        domain, path_and_tag, explicit = first, remainder, True
    else:
        domain, path_and_tag, explicit = DOCKER_HUB, rest, False

    # The tag is after the last ':' of the path part (the domain is split off).
    path, colon, tag = path_and_tag.rpartition(":")
    if not colon:
        path, tag = path_and_tag, ""
    elif "/" in tag:
        return _invalid(text, "invalid reference format")

    if explicit and not _DOMAIN_RE.fullmatch(domain.replace(_HOLE, "x")):
        return _invalid(text, f"invalid registry host {_shown(domain)!r}")
    literal_path = path.replace(_HOLE, "x")
    if literal_path.lower() != literal_path:
        return _invalid(text, f"repository name {_shown(path)!r} must be lowercase")
    if not _PATH_RE.fullmatch(literal_path):
        return _invalid(text, f"invalid repository name {_shown(path)!r}")
    if colon and _HOLE not in tag and not _TAG_RE.fullmatch(tag):
        return _invalid(text, f"invalid tag {_shown(tag)!r}")

    if domain == LEGACY_DOCKER_HUB:
        domain = DOCKER_HUB
    if domain == DOCKER_HUB and "/" not in path:
        path = LIBRARY + path
    if len(literal_path) > MAX_PATH_LENGTH:
        return _invalid(text, f"repository name is longer than {MAX_PATH_LENGTH} characters")

    pulled = tag if colon else (None if digest else DEFAULT_TAG)
    if masked is text:
        return ImageRef(domain, path, pulled, digest, explicit, text, bool(colon),
                        registry_known=True, tag_known=True, path_prefix=path, path_known=True)

    registry_known = _HOLE not in (first if slash else path)
    # a placeholder ending the name, with no tag or digest after it, may carry them
    tag_known = _HOLE not in tag and (digest is None or _HOLE not in digest) and not (
        not colon and digest is None and path.endswith(_HOLE))
    components = path.split("/")
    literal = next((k for k, c in enumerate(components) if _HOLE in c), len(components))
    path_known = literal == len(components)
    return ImageRef(
        domain if registry_known else "", "", pulled if tag_known else None,
        digest if tag_known else None, explicit and registry_known, text,
        bool(colon) and tag_known, "image holds an unresolved placeholder", True,
        registry_known=registry_known, tag_known=tag_known,
        path_prefix="/".join(components[:literal]) if registry_known else "",
        path_known=path_known and registry_known)


def _shown(part: str) -> str:
    """A part of a masked reference as an error shows it: a placeholder as '…',
    a long part cut to its start."""
    part = part.replace(_HOLE, "…")
    return part if len(part) <= 80 else part[:60] + "…"


def _check_digest(digest: str) -> str | None:
    if not _DIGEST_RE.fullmatch(digest):
        return f"invalid digest {_shown(digest)!r}"
    algo, _, hexpart = digest.partition(":")
    want = _DIGEST_HEX.get(algo)
    if want is None:
        return f"unsupported digest algorithm {_shown(algo)!r}"
    if len(hexpart) != want or not _LOWER_HEX_RE.fullmatch(hexpart):
        return f"invalid {algo} digest (expected {want} lowercase hex characters)"
    return None
