"""Rules for practice 10: keep secrets out of manifests, env vars and loose files.

No rule here ever puts a secret value in a message: findings name the key, the
env var or the field, and the kind of credential it looks like.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterator, MutableMapping
from typing import Any

from kubeproof.core.catalogue import fix, rule
from kubeproof.core.context import Context
from kubeproof.core.fixing import FixSettings, may_replace, put, targets
from kubeproof.k8s.workloads import ContainerView, PodView
from kubeproof.model import SAFE, Path, Resource, RunsIn, Violation
from kubeproof.rules.common import as_dict, as_list, quote

SECRETS_STORE_DRIVER = "secrets-store.csi.k8s.io"


# ----------------------------------------------------------------- KP1001

@rule("KP1001", "secret-in-env", practice=10, severity="medium", pods=True)
def secret_in_env(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Secret exposed to a container as environment variables.

    What:
        A container (init, regular or ephemeral) with an
        `env[].valueFrom.secretKeyRef` or an `envFrom[].secretRef`.

    Why:
        Environment variables leak: they are inherited by every child process,
        printed by crash handlers, debug endpoints and `env` in support
        sessions, readable in `/proc/<pid>/environ`, and frozen at container
        start, so a rotated secret needs a restart. Files in a read-only volume
        are readable only by the process that opens them and are updated in
        place when the Secret changes.

    How:
        Mount the Secret as a volume with `readOnly: true` and have the
        application read the file (most libraries accept a `*_FILE` variant of
        the variable).

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata: {name: app, namespace: shop}
        spec:
          containers:
            - name: app
              image: ghcr.io/acme/app:1.4.2
              env:
                - name: DB_PASSWORD_FILE
                  value: /etc/db/password
              volumeMounts:
                - name: db
                  mountPath: /etc/db
                  readOnly: true
          volumes:
            - name: db
              secret:
                secretName: db-credentials
        ```
    """
    pod = res.pod
    assert pod is not None
    for c in pod.containers:
        for i, env in enumerate(as_list(c.data.get("env"))):
            if not isinstance(env, dict):
                continue
            ref = as_dict(env.get("valueFrom")).get("secretKeyRef")
            if not isinstance(ref, dict):
                continue
            var = env.get("name")
            yield Violation(
                (*c.path, "env", i, "valueFrom", "secretKeyRef"),
                f"container {quote(c.name)} reads key {_s(ref.get('key'))} of Secret"
                f" {_s(ref.get('name'))} into env var {_s(var)}",
                container=c.name,
            )
        for i, src in enumerate(as_list(c.data.get("envFrom"))):
            if not isinstance(src, dict):
                continue
            ref = src.get("secretRef")
            if not isinstance(ref, dict):
                continue
            yield Violation(
                (*c.path, "envFrom", i, "secretRef"),
                f"container {quote(c.name)} loads every key of Secret {_s(ref.get('name'))}"
                " as env vars (envFrom.secretRef)",
                container=c.name,
            )


def _s(value: Any) -> str:
    """A name for a message: quoted, or ``?`` when missing."""
    return quote(value) if isinstance(value, str) and value else "?"


# ----------------------------------------------------------------- KP1002

def secret_volumes(pod: PodView) -> dict[str, tuple[int, str, dict[str, Any]]]:
    """Volumes that carry secrets, by name: (index, description, volume)."""
    found: dict[str, tuple[int, str, dict[str, Any]]] = {}
    for i, vol in pod.volumes:
        name = vol.get("name")
        if not isinstance(name, str) or name in found:
            continue
        secret = vol.get("secret")
        if isinstance(secret, dict):
            found[name] = (i, f"Secret {_s(secret.get('secretName'))}", vol)
            continue
        projected = vol.get("projected")
        if isinstance(projected, dict):
            names = [as_dict(s.get("secret")).get("name") for s in
                     as_list(projected.get("sources"))
                     if isinstance(s, dict) and isinstance(s.get("secret"), dict)]
            if names:
                shown = ", ".join(_s(n) for n in names)
                found[name] = (i, f"projected Secret {shown}", vol)
            continue
        csi = vol.get("csi")
        if isinstance(csi, dict) and csi.get("driver") == SECRETS_STORE_DRIVER:
            found[name] = (i, "Secrets Store CSI", vol)
    return found


@rule("KP1002", "secret-volume-writable", practice=10, severity="info", pods=True)
def secret_volume_writable(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Secret volume mounted without `readOnly: true`.

    What:
        A `volumeMount` (one finding per mount) of a `secret` volume, a
        `projected` volume with a `secret` source, or a Secrets Store CSI volume
        (`secrets-store.csi.k8s.io`), that does not set `readOnly: true`. For the
        CSI volume, `csi.readOnly: true` on the volume counts as well.

    Why:
        Since Kubernetes 1.10 the kubelet mounts `secret` and `projected`
        volumes read-only whatever the mount says, so for those the flag changes
        nothing at runtime today: hence `info`, not a risk to fix first. Say it
        anyway: it keeps the manifest honest
        for reviewers and policy engines that cannot know kubelet internals,
        it holds on runtimes and virtual kubelets that do not enforce it, and
        CSI drivers make no such promise, so there a writable mount lets a
        compromised container tamper with credentials that other containers of
        the pod read.

    How:
        Set `readOnly: true` on every mount of a volume that carries secrets.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata: {name: app, namespace: shop}
        spec:
          containers:
            - name: app
              image: ghcr.io/acme/app:1.4.2
              volumeMounts:
                - name: tls
                  mountPath: /etc/tls
                  readOnly: true
          volumes:
            - name: tls
              secret:
                secretName: app-tls
        ```
    """
    pod = res.pod
    assert pod is not None
    volumes = secret_volumes(pod)
    if not volumes:
        return
    for c in pod.containers:
        for j, mount in enumerate(as_list(c.data.get("volumeMounts"))):
            if not isinstance(mount, dict) or mount.get("readOnly") is True:
                continue
            name = mount.get("name")
            if not isinstance(name, str) or name not in volumes:
                continue
            _, what, vol = volumes[name]
            if as_dict(vol.get("csi")).get("readOnly") is True:
                continue
            where = mount.get("mountPath")
            at = f" at {where}" if isinstance(where, str) else ""
            yield Violation(
                (*c.path, "volumeMounts", j, "readOnly"),
                f"container {quote(c.name)} mounts volume {quote(name)} ({what}){at}"
                " without readOnly: true",
                container=c.name,
            )


@fix("KP1002", safety=SAFE,
     why="the kubelet mounts secret and projected volumes read-only anyway")
def read_only_secret_mounts(res: Resource, settings: FixSettings) -> bool:
    """Set `readOnly: true` on every mount of a volume that carries secrets."""
    pod = res.pod
    if pod is None:
        return False
    volumes = secret_volumes(pod)
    changed = False
    for c in targets(pod, settings, "KP1002"):
        for mount in as_list(c.data.get("volumeMounts")):
            if not isinstance(mount, MutableMapping) or mount.get("readOnly") is True:
                continue
            name = mount.get("name")  # a list or map here names no volume
            entry = volumes.get(name) if isinstance(name, str) else None
            if entry is None or as_dict(entry[2].get("csi")).get("readOnly") is True:
                continue
            if not may_replace(mount.get("readOnly"), settings):
                continue  # a `readOnly: false` written out is the owner's decision
            changed |= put(mount, "readOnly", True, ("name", "mountPath", "subPath"))
    return changed


# ----------------------------------------------------------------- KP1003
#
# Three signals, checked on container env values, command and args, ConfigMap
# data and the annotations of every object:
#  1. known token formats anywhere in a value;
#  2. a secret-like name (env var, ConfigMap key, annotation key, command-line
#     flag, or a `key = value` / `key: value` line inside a value) whose value is
#     a literal, not a reference, placeholder, path, URL or flag;
#  3. for weaker names (`key`, `salt`, `signature` ...) a long high-entropy value.

# kind -> (substrings one of which must occur, pattern). The substrings are a
# cheap pre-filter: values can be megabytes of dashboard JSON.
_TOKEN_FORMATS: dict[str, tuple[tuple[str, ...], re.Pattern[str]]] = {
    "aws": (("AKIA", "ASIA"), re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    "github": (("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
               re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,})")),
    "gitlab": (("glpat-",), re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}")),
    "slack": (("xox",), re.compile(r"\bxox[baprs]-[A-Za-z0-9-]{10,}")),
    "slackhook": (("hooks.slack.com",), re.compile(
        r"hooks\.slack\.com/services/T[A-Za-z0-9]+/B[A-Za-z0-9]+/[A-Za-z0-9]+")),
    "pem": (("PRIVATE KEY",),
            re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    "google": (("AIza",), re.compile(r"\bAIza[0-9A-Za-z_-]{35}")),
    # Tried once per run of token characters, from its first "eyJ" (atomic group,
    # possessive runs): a later "eyJ" of the run ends at the same dot with fewer
    # characters, and retrying each one was quadratic on "eyJ-eyJ-eyJ-...".
    "jwt": (("eyJ",), re.compile(
        r"(?<![A-Za-z0-9_-])(?>[A-Za-z0-9_-]*?\beyJ)[A-Za-z0-9_-]{8,}+"
        r"\.eyJ[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]{16}")),
    "stripe": (("_live_",), re.compile(r"\b[sr]k_live_[0-9A-Za-z]{20,}")),
    "huggingface": (("hf_",), re.compile(r"\bhf_[A-Za-z]{34}\b")),
}
# Any hint of any token format: one search that rules them all out for most values
# (env values, flags) instead of a substring test per hint.
_ANY_TOKEN_HINT = re.compile("|".join(
    re.escape(h) for hints, _ in _TOKEN_FORMATS.values() for h in hints))
# scheme://user:password@host; the password is checked for placeholders.
_URL_PASSWORD = re.compile(r"://[^\s/:@'\"<>{}]+:([^\s/@'\"]+)@")
_TOKEN_NAMES = {
    "aws": "an AWS access key ID",
    "github": "a GitHub token",
    "gitlab": "a GitLab personal access token",
    "slack": "a Slack token",
    "slackhook": "a Slack webhook URL",
    "pem": "a PEM private key",
    "google": "a Google API key",
    "jwt": "a JSON Web Token",
    "stripe": "a Stripe live key",
    "huggingface": "a Hugging Face token",
    "url": "a URL with an embedded password",
}

# Words that name a secret when they end a name (DB_PASSWORD, apiToken, clientSecret).
_STRONG = frozenset({
    "password", "passwd", "passphrase", "pass", "secret", "token", "credential",
    "credentials", "creds", "apikey", "accesskey", "secretkey", "privatekey", "clientsecret",
})
# "<x> key" pairs that name a secret (API_KEY, secretAccessKey, private-key).
_KEY_PAIRS = frozenset({
    "api", "access", "secret", "private", "encryption", "signing", "master", "hmac",
    "session", "auth", "license",
})
# Weaker words: only a long high-entropy value under them is reported.
_WEAK = frozenset({"key", "salt", "hmac", "seed", "signature", "cookie", "jwt", "sas", "auth"})
# Words that make the name about something else (checksum/secret, PUBLIC_KEY).
_NOT_SECRET = frozenset({"checksum", "hash", "digest", "fingerprint", "sha", "sha1", "sha256",
                         "md5", "public", "pub"})
# Words allowed after the secret word (SECRET_KEY_BASE, password.txt).
_TRAILERS = frozenset({
    "base", "value", "string", "str", "data", "plain", "plaintext", "raw", "hex", "b64",
    "base64", "txt",
})
_CAMEL = re.compile(r"([a-z0-9])([A-Z])|([A-Z]+)([A-Z][a-z])")
_SPLIT = re.compile(r"[^A-Za-z0-9]+")

_PLACEHOLDER = re.compile(
    r"""^(?:
        \$[A-Za-z_][A-Za-z0-9_]*           # $VAR
      | %[A-Za-z_][A-Za-z0-9_]*%           # %VAR%
      | <[^<>]*>                           # <your-password>
      | \[[^\[\]]*\]                       # [password]
      | (?:change|replace|update|set|fill)[-_ ]?(?:me|it|this|with|in).*
      | your.* | (?:insert|enter|put|add)[-_ ].*
      | x{3,} | \*{3,} | \.{3,} | -+ | _+
      | redacted | placeholder | todo | tbd | fixme | n/a | none | null | nil | undefined
      | true | false | yes | no | on | off | enabled? | disabled? | auto | default | empty
      | (?:vault|ref\+|arn:aws|sm|gcpsm|awssm|azkv|op|doppler|secret|secretmanager)
        (?::|://).*                        # secret manager references
      | projects/[^/]+/secrets/.*          # GCP Secret Manager resource name
      | @Microsoft\.KeyVault\(.*
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
# $(VAR) ${VAR} {{ tpl }} {% tpl %} <% erb %> anywhere in a value (searched, not
# matched as `^.*(...).*$`, which backtracks over the whole value).
_TEMPLATE = re.compile(r"\$\(|\$\{|\{\{|\{%|<%")
_PLACEHOLDER_WORDS = ("KEY", "TOKEN", "SECRET", "PASS", "CREDENTIAL")
# An upper-case word naming the secret stands for it: HF_TOKEN, nvapi-NVKEY, SECRET.
# That is a maximal run of ASCII letters, all capitals, holding one of the words;
# tried once per run: the lookahead checks the run, the lazy scan finds the word.
_NAMED_PLACEHOLDER = re.compile(
    r"(?<![A-Za-z])(?=[A-Z]*+(?![a-z]))[A-Z]*?(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASS|CREDENTIAL)")
_PATHLIKE = re.compile(r"^(?:~?\.{0,2}/|[A-Za-z]:\\|\\\\|file:)")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# `auth-secret: basic-auth`, `existingSecret: db-credentials`: under a name
# ending in "secret", a Kubernetes object name (with a dash, maybe namespace/)
# names the Secret, it is not the secret.
_SECRET_NAME = re.compile(r"^(?:[a-z0-9][a-z0-9.-]*/)?[a-z0-9][a-z0-9.]*-[a-z0-9.-]*[a-z0-9]$")
# Inside text (config files, flags, JSON), a secret-like key is found by its
# word (a substring search), then widened to the whole key and checked for
# `key = value`, `key: value`, `"key": "value"` or `--key=value`.
_HINTS = ("pass", "secret", "token", "cred", "key", "salt", "seed", "signature", "cookie",
          "auth")
_ANY_HINT = re.compile("|".join(_HINTS))  # one search rules out most values at once
_KEY_CHAR_SET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"
_KEY_TAIL = re.compile(r"[A-Za-z0-9_.-]*+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# Matched with an end bound (MAX_ASSIGNED_VALUE past the key), so a quoted value
# cut by the bound still counts as quoted (`\Z`).
_ASSIGN_VALUE = re.compile(
    r"""["']?[ \t]*+(?:=|:(?![/\\]))[ \t]*+"""
    r"""(?P<val>"[^"\n]*+(?:"|\Z)|'[^'\n]*+(?:'|\Z)|[^\s,;)}\]'"#]*+)""")
_DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*+(?:\.[A-Za-z_][A-Za-z0-9_]*+)+$")
_CALL_OR_INDEX = re.compile(r"[({\[]")
# nsswitch.conf: `passwd: files systemd` names a database, not a password.
_NSSWITCH = frozenset({"files", "compat", "db", "nis", "nisplus", "sss", "ldap", "systemd",
                       "winbind", "dns", "myhostname", "resolve", "mymachines"})
_COMMENT = re.compile(r"[ \t]*(?:#|;|//|--\s)")
_FLAG = re.compile(r"^--?([A-Za-z][A-Za-z0-9_.-]*)$")
_TOKEN_ALPHABET = re.compile(r"[A-Za-z0-9+/=_-]+")
_DIGIT = re.compile(r"[0-9]")
_LETTER = re.compile(r"[A-Za-z]")
_HEX = re.compile(r"^[0-9a-fA-F]+$")

MIN_LITERAL = 4
# Bounds that keep KP1003 linear in its input whatever the input: a name is
# judged by its last MAX_NAME characters, an assigned value inside text by its
# first MAX_ASSIGNED_VALUE (a longer literal is still a literal), and one value
# stops being read once it has shown more keys than a message names.
MAX_NAME = 256
MAX_ASSIGNED_VALUE = 128
MAX_KEYS_SHOWN = 3
# Assignments to secret-like keys judged in one object (all its values). Real
# config files have a few dozen; past this the value where the budget ran out is
# reported as not fully inspected (a finding, so a credential hidden behind
# thousands of decoys is not silently passed).
MAX_ASSIGNMENTS = 20_000
TOO_MANY = "__too_many__"
MIN_ENTROPY_LEN = 20
MIN_ENTROPY = 4.0  # bits per character; random base64 is about 5-6, English about 3
MIN_ENTROPY_HEX = 3.0  # random hex is about 3.7-4


def _words(name: str) -> list[str]:
    """The lower-case words of a name (camelCase, snake_case, kebab-case ...).

    Only the last :data:`MAX_NAME` characters count (the first, cut word is
    dropped): the head word ends the name, real names are far shorter, and
    splitting a long capital run is quadratic in its length.
    """
    cut = len(name) > MAX_NAME
    tail = name[-MAX_NAME:] if cut else name
    spaced = _CAMEL.sub(lambda m: f"{m[1] or m[3]} {m[2] or m[4]}", tail)
    words = [w for w in _SPLIT.split(spaced.lower()) if w]
    return words[1:] if cut else words


@functools.lru_cache(maxsize=4096)
def _name_strength(name: str) -> tuple[int, str]:
    """How secret-like a name is, and its head word.

    2: the name says secret; 1: it may hold one (key, salt); 0: neither.
    Memoised (bounded): the same env var and flag names come back in every
    object, and splitting them into words was a twentieth of admission judging.
    """
    words = _words(name)
    if not _NOT_SECRET.isdisjoint(words):
        return 0, ""
    while len(words) > 1 and words[-1] in _TRAILERS:
        words.pop()
    if not words:
        return 0, ""
    last = words[-1]
    if last in _STRONG:
        return 2, last
    if last == "key" and len(words) > 1 and words[-2] in _KEY_PAIRS:
        return 2, last
    return (1, last) if last in _WEAK else (0, last)


def _entropy(value: str) -> float:
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _high_entropy(value: str) -> bool:
    """Long, token-shaped (letters and digits, base64 or hex alphabet) and random."""
    if len(value) < MIN_ENTROPY_LEN or _TOKEN_ALPHABET.fullmatch(value) is None \
            or _DIGIT.search(value) is None or _LETTER.search(value) is None:
        return False
    return _entropy(value) >= (MIN_ENTROPY_HEX if _HEX.match(value) else MIN_ENTROPY)


def _literal(value: str) -> bool:
    """A value that could be a credential itself, not a reference or a setting."""
    v = value.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        v = v[1:-1].strip()
    if len(v) < MIN_LITERAL or "\n" in v:
        return False
    return not (_placeholder(v) or _named_placeholder(v)
                or _PATHLIKE.match(v) or _URL.match(v))


def _placeholder(value: str) -> bool:
    """A reference or stand-in (``${VAR}``, ``<password>``, ``changeme``), one line."""
    return _TEMPLATE.search(value) is not None or _PLACEHOLDER.match(value) is not None


def _named_placeholder(value: str) -> bool:
    """An upper-case word naming the secret (``HF_TOKEN``); substring tests first,
    since most values have none of the words."""
    return any(w in value for w in _PLACEHOLDER_WORDS) \
        and _NAMED_PLACEHOLDER.search(value) is not None


def _expression(value: str) -> bool:
    """An unquoted value that is code, not data: os.environ["X"], self.token, getenv("X")."""
    return _CALL_OR_INDEX.search(value) is not None or _DOTTED_NAME.match(value) is not None


def _named_secret(name: str, value: str) -> str | None:
    """What a named value looks like, when it looks like a secret."""
    strength, head = _name_strength(name)
    if not strength or not _literal(value):
        return None
    v = value.strip().strip("\"'").strip()
    if strength == 1:
        return "a high-entropy value" if _high_entropy(v) else None
    if head in ("secret", "clientsecret") and _SECRET_NAME.match(v):
        return None
    return "a literal credential"


def _token_kinds(text: str) -> dict[str, int]:
    """Known token formats in ``text``: kind -> where the first one starts."""
    kinds: dict[str, int] = {}
    if _ANY_TOKEN_HINT.search(text):
        for kind, (hints, pattern) in _TOKEN_FORMATS.items():
            if any(h in text for h in hints) and (m := pattern.search(text)):
                kinds[kind] = m.start()
    if "://" in text and "@" in text:
        for m in _URL_PASSWORD.finditer(text):
            if not _placeholder(m[1]):
                kinds["url"] = m.start()
                break
    return kinds


class Budget:
    """Assignments to secret-like keys still to judge for one object (shared by
    all its values, so a request of many large values is bounded as a whole)."""

    __slots__ = ("left",)

    def __init__(self, left: int = MAX_ASSIGNMENTS) -> None:
        self.left = left


def _embedded(text: str, budget: Budget) -> dict[str, int]:
    """Secret-like keys assigned literal values inside ``text`` (config files,
    flags), each with where it starts.

    One pass over the hint words in text order: each run of key characters
    around a hint is judged once, the current line start only moves forward,
    and a value is read up to :data:`MAX_ASSIGNED_VALUE` characters, so the
    work is linear in ``text`` even when every value holds further keys
    (``key=key=key=...``). Stops once more keys are found than a message names,
    and once the object's ``budget`` of assignments is spent (then
    :data:`TOO_MANY` ends them, so the value is reported as not fully
    inspected).
    """
    low = text.lower()
    if len(low) != len(text):  # a few non-ASCII characters change length when lowered
        low = text.translate(_ASCII_LOWER)
    keys: dict[str, int] = {}
    n = len(text)
    run_end = 0  # end of the last key judged: hints before it are in that key
    line = 0  # start of the line of the current key
    line_scanned = 0  # text[:line_scanned] has been searched for newlines
    for hit in _ANY_HINT.finditer(low):
        pos = hit.start()
        if pos < run_end:
            continue
        start = run_end + len(text[run_end:pos].rstrip(_KEY_CHAR_SET))
        tail = _KEY_TAIL.match(text, hit.end())
        end = tail.end() if tail else hit.end()
        run_end = end
        m = _ASSIGN_VALUE.match(text, end, min(n, end + MAX_ASSIGNED_VALUE))
        if m is None:
            continue
        budget.left -= 1
        if budget.left < 0:
            keys[TOO_MANY] = start
            break
        newline = text.rfind("\n", line_scanned, start)
        line_scanned = start
        if newline >= 0:
            line = newline + 1
        key = _bare_key(text[start:end])
        if key in keys or not _name_strength(key)[0] or _COMMENT.match(text, line):
            continue
        value = m["val"]
        if value[:1] not in "\"'" and (_expression(value) or value in _NSSWITCH):
            continue
        if _named_secret(key, value):
            keys[key] = start
            if len(keys) > MAX_KEYS_SHOWN:
                break
    return keys


def _bare_key(key: str) -> str:
    """A key without its flag dashes or ``-D`` (java ``-Dprop=value``)."""
    if key.startswith("-D") and key[2:3].isalpha():
        key = key[2:]
    return key.lstrip("-.")


def _shorten(key: str) -> str:
    """A key found inside text as a message shows it: a run of key characters can
    be megabytes long, its head and its end say enough."""
    return key if len(key) <= MAX_NAME else f"{key[:64]}...{key[-64:]}"


def _describe(kinds: list[str], keys: list[str]) -> str:
    parts = [_TOKEN_NAMES[k] for k in kinds]
    too_many = TOO_MANY in keys
    keys = [k for k in keys if k != TOO_MANY]
    if keys:
        shown = ", ".join(quote(_shorten(k)) for k in keys[:MAX_KEYS_SHOWN]) + (
            " ..." if len(keys) > MAX_KEYS_SHOWN else "")
        parts.append(f"a literal credential for {shown}")
    if too_many:
        parts.append("more assignments to secret-like keys than are inspected per object"
                     f" ({MAX_ASSIGNMENTS}), not all inspected")
    return " and ".join(parts)


def _scan_value(text: str, budget: Budget | None = None) -> str | None:
    """Token formats and embedded assignments in one value, described."""
    found = _scan_value_at(text, budget)
    return found[0] if found else None


def _scan_value_at(text: str, budget: Budget | None = None) -> tuple[str, int] | None:
    """:func:`_scan_value`, with where in ``text`` the first credential starts
    (for :attr:`Violation.value_offset`: the line inside a multi-line value)."""
    kinds = _token_kinds(text)
    keys = _embedded(text, budget if budget is not None else Budget())
    if not kinds and not keys:
        return None
    return _describe(list(kinds), list(keys)), min((*kinds.values(), *keys.values()))


def _container_findings(c: ContainerView, budget: Budget) -> Iterator[Violation]:
    who = f"container {quote(c.name)}"
    for i, env in enumerate(as_list(c.data.get("env"))):
        if not isinstance(env, dict):
            continue
        value = env.get("value")
        if not isinstance(value, str) or not value:
            continue
        name = env.get("name")
        name = name if isinstance(name, str) else ""
        at = _scan_value_at(value, budget)
        found = at[0] if at else _named_secret(name, value)
        if found:
            yield Violation((*c.path, "env", i, "value"),
                            f"{who} env var {_s(name)} holds {found}", container=c.name,
                            value_offset=at[1] if at else None)
    for field in ("command", "args"):
        items = as_list(c.data.get(field))
        done = -1
        for i, arg in enumerate(items):
            if not isinstance(arg, str) or i == done:
                continue
            at = _scan_value_at(arg, budget)
            found = at[0] if at else None
            if not found and i + 1 < len(items) and isinstance(items[i + 1], str):
                flag = _FLAG.match(arg)
                nxt = items[i + 1]
                if flag and not nxt.startswith("-") and _named_secret(flag[1], nxt):
                    done = i + 1
                    yield Violation((*c.path, field, i + 1),
                                    f"{who} passes a literal credential to {arg} in {field}",
                                    container=c.name)
                    continue
            if at:
                yield Violation((*c.path, field, i), f"{who} {field}[{i}] contains {found}",
                                container=c.name, value_offset=at[1])


def _annotation_findings(ann: Any, meta_path: Path, where: str,
                         budget: Budget) -> Iterator[Violation]:
    if not isinstance(ann, dict):
        return
    for key, value in ann.items():
        if not isinstance(value, str) or not value or not isinstance(key, str):
            continue
        at = _scan_value_at(value, budget)
        found = at[0] if at else _named_secret(key, value)
        if found:
            yield Violation((*meta_path, "annotations", key),
                            f"annotation {quote(key)} on {where} holds {found}",
                            value_offset=at[1] if at else None)


@rule("KP1003", "hardcoded-secret", practice=10, severity="critical")
def hardcoded_secret(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Literal credential in env values, command lines, ConfigMaps or annotations.

    What:
        A credential written into the manifest where Kubernetes will not treat
        it as secret: container `env[].value`, `command` and `args` (init,
        regular and ephemeral containers), ConfigMap `data`, and the annotations
        of any object (pod template annotations included). Three signals:
        known token formats anywhere in a value (AWS access key IDs, GitHub,
        GitLab, Slack, Stripe, Google API and Hugging Face keys, PEM private
        keys, JWTs, URLs with an embedded password); a secret-like name
        (`*_PASSWORD`, `apiKey`, `client_secret`, `--token`, or a
        `password = ...` line inside a config file) holding a literal value;
        and a long high-entropy value under a weaker name (`*_KEY`, `salt`,
        `signature`). Not reported: references and placeholders (`$(VAR)`,
        `${VAR}`, `{{ ... }}`, `<...>`, `changeme`, `your-...`, upper-case
        stand-ins such as `HF_TOKEN`, `vault:...`), paths, URLs without a
        password, booleans, values shorter than four characters, names that
        describe a secret rather than hold it (`*_FILE`, `*_NAME`, `*_ID`,
        `checksum/secret`), a Secret's name under a `*secret` key
        (`auth-secret: basic-auth`), commented lines and code expressions.
        The finding names the field and the kind of credential, never the value.
        In a value written over several lines (a `|` or `>` block, a folded
        quoted or plain scalar), the finding is on the line where the first
        credential starts, not on the key (when the lines rebuild the value
        exactly; else on the key). An inline ignore comment on either line
        applies.
        The work is linear in the input: a name is judged by its last 256
        characters, a value assigned inside text by its first 128, and a value
        where an object's values hold more than 20000 assignments to
        secret-like keys in all is reported as not fully inspected.

    Why:
        Manifests live in Git, CI logs, Helm release history and every
        `kubectl get -o yaml`; ConfigMaps and annotations are readable by anyone
        with `get` on the namespace, which is far wider than access to Secrets.
        A credential committed once stays in history after it is removed.

    How:
        Rotate the credential, then move it to a Secret (created by External
        Secrets, Sealed Secrets or SOPS, not committed in clear) and mount it
        read-only; reference it from args as `$(VAR)` if a flag needs it.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata: {name: app, namespace: shop}
        spec:
          containers:
            - name: app
              image: ghcr.io/acme/app:1.4.2
              env:
                - name: DB_PASSWORD_FILE
                  value: /etc/db/password
              volumeMounts:
                - name: db
                  mountPath: /etc/db
                  readOnly: true
          volumes:
            - name: db
              secret:
                secretName: db-credentials
        ```
    """
    where = f"{res.kind} {quote(res.name)}"
    budget = Budget()
    yield from _annotation_findings(res.metadata.get("annotations"), ("metadata",), where,
                                    budget)
    pod = res.pod
    if pod is not None:
        if pod.metadata_path != ("metadata",):
            yield from _annotation_findings(pod.metadata.get("annotations"),
                                            pod.metadata_path, f"the pod template of {where}",
                                            budget)
        for c in pod.containers:
            yield from _container_findings(c, budget)
    if res.kind == "ConfigMap":
        data = res.obj.get("data")
        if isinstance(data, dict):
            for key, value in data.items():
                if not isinstance(value, str) or not value:
                    continue
                key = str(key)
                at = _scan_value_at(value, budget)
                found = at[0] if at else None
                if not found and "\n" not in value.strip():
                    found = _named_secret(key, value)
                if found:
                    yield Violation(("data", key),
                                    f"ConfigMap {quote(res.name)} key {quote(key)} holds {found}",
                                    value_offset=at[1] if at else None)


# ----------------------------------------------------------------- KP1004

SA_TOKEN_TYPE = "kubernetes.io/service-account-token"


@rule("KP1004", "secret-in-manifest", practice=10, severity="medium", kinds={"Secret"},
      runs_in=(RunsIn.FILES,))
def secret_in_manifest(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Secret with its values committed in the manifest.

    What:
        A `Secret` whose `data` or `stringData` has at least one non-empty
        value. The finding names the keys, never the values. A Secret with no
        values (for example a `kubernetes.io/service-account-token` Secret the
        token controller fills in) is fine.

    Why:
        `data` is base64, not encryption: anyone who can read the repository,
        the CI logs or the rendered chart can read the secret, and it stays in
        Git history after it is rotated.

    How:
        Keep only encrypted or referenced secrets in Git: a SealedSecret, an
        ExternalSecret pointing at a secret manager, or a SOPS-encrypted file
        decrypted at deploy time. Rotate any value that was committed in clear.

    Example:
        ```yaml
        apiVersion: external-secrets.io/v1beta1
        kind: ExternalSecret
        metadata:
          name: db-credentials
          namespace: shop
        spec:
          secretStoreRef:
            name: vault
            kind: ClusterSecretStore
          target:
            name: db-credentials
          data:
            - secretKey: password
              remoteRef:
                key: shop/db
                property: password
        ```
    """
    for field in ("data", "stringData"):
        values = res.obj.get(field)
        if not isinstance(values, dict):
            continue
        keys = [str(k) for k, v in values.items() if v not in (None, "")]
        if not keys:
            continue
        shown = ", ".join(quote(k) for k in keys[:5])
        more = f" and {len(keys) - 5} more" if len(keys) > 5 else ""
        noun = "key" if len(keys) == 1 else "keys"
        yield Violation((field,),
                        f"Secret {quote(res.name)} commits {field} {noun} {shown}{more} "
                        "in the manifest")


# ----------------------------------------------------------------- KP1005

MODE_MASK = 0o7133  # every bit outside 0644


def _mode(value: Any) -> int | None:
    """A file mode from YAML (int, octal literal already an int), JSON (decimal)
    or a string (``"0644"`` octal, ``"420"`` decimal, ``"0o644"``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        try:
            if text.startswith("0o"):
                return int(text[2:], 8)
            if len(text) > 1 and text.startswith("0"):
                return int(text, 8)
            return int(text, 10)
        except ValueError:
            return None
    return None


def _mode_problem(mode: int) -> str:
    bad = []
    if mode & 0o111:
        bad.append("executable")
    if mode & 0o020:
        bad.append("group-writable")
    if mode & 0o002:
        bad.append("world-writable")
    if mode & 0o7000:
        bad.append("setuid/setgid/sticky")
    return " and ".join(bad)


def _check_mode(value: Any, path: Path, what: str) -> Iterator[Violation]:
    mode = _mode(value)
    if mode is None or mode < 0 or not mode & MODE_MASK:
        return
    yield Violation(path, f"{what} is {mode:04o} ({_mode_problem(mode)}); use 0644 or stricter")


@rule("KP1005", "secret-file-mode", practice=10, severity="low", pods=True)
def secret_file_mode(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Secret volume files with a mode looser than 0644 or executable.

    What:
        `defaultMode` of a `secret` volume or of a `projected` volume with a
        `secret` source, and `items[].mode` of those secrets, with any bit set
        outside `0644`: executable by anyone, or writable by group or others.
        Octal YAML (`0640`), decimal JSON (`420`) and strings are understood.

    Why:
        Secret files should be data, readable by the process that needs them
        and nothing more. An executable bit invites running them; group or
        world write bits contradict the read-only intent and are a sign the
        mode was copied without thought. The default, 0644, is the loosest
        sensible value; 0400 or 0440 with `fsGroup` is better.

    How:
        Drop `defaultMode`/`mode` to use 0644, or set 0400 (0440 with an
        `fsGroup` when the process runs as a different user).

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata: {name: app, namespace: shop}
        spec:
          containers:
            - name: app
              image: ghcr.io/acme/app:1.4.2
              volumeMounts:
                - {name: tls, mountPath: /etc/tls, readOnly: true}
          volumes:
            - name: tls
              secret:
                secretName: app-tls
                defaultMode: 0400
        ```
    """
    pod = res.pod
    assert pod is not None
    base = (*pod.spec_path, "volumes")
    for i, vol in pod.volumes:
        name = vol.get("name")
        vname = quote(name) if isinstance(name, str) else f"[{i}]"
        secret = vol.get("secret")
        if isinstance(secret, dict):
            yield from _check_mode(secret.get("defaultMode"), (*base, i, "secret", "defaultMode"),
                                   f"secret volume {vname} defaultMode")
            for k, item in enumerate(as_list(secret.get("items"))):
                if isinstance(item, dict):
                    yield from _check_mode(item.get("mode"),
                                           (*base, i, "secret", "items", k, "mode"),
                                           f"secret volume {vname} item {_s(item.get('key'))}"
                                           " mode")
            continue
        projected = vol.get("projected")
        if not isinstance(projected, dict):
            continue
        has_secret = False
        for s, src in enumerate(as_list(projected.get("sources"))):
            sec = as_dict(src).get("secret") if isinstance(src, dict) else None
            if not isinstance(sec, dict):
                continue
            has_secret = True
            for k, item in enumerate(as_list(sec.get("items"))):
                if isinstance(item, dict):
                    yield from _check_mode(
                        item.get("mode"),
                        (*base, i, "projected", "sources", s, "secret", "items", k, "mode"),
                        f"projected volume {vname} secret item {_s(item.get('key'))} mode")
        if has_secret:
            yield from _check_mode(projected.get("defaultMode"),
                                   (*base, i, "projected", "defaultMode"),
                                   f"projected volume {vname} defaultMode")
