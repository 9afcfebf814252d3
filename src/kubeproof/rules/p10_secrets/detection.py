"""How KP1003 recognises a credential in a value, without ever returning the value.

Three signals, checked on container env values, command and args, ConfigMap
data and the annotations of every object:

 1. known token formats anywhere in a value;
 2. a secret-like name (env var, ConfigMap key, annotation key, command-line
    flag, or a `key = value` / `key: value` line inside a value) whose value is
    a literal, not a reference, placeholder, path, URL or flag;
 3. for weaker names (`key`, `salt`, `signature` ...) a long high-entropy value.

And how a finding names what it found: :func:`quoted_name`.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from typing import Any

from kubeproof.rules.common import quote


def quoted_name(value: Any) -> str:
    """A name for a message: quoted, or ``?`` when missing."""
    return quote(value) if isinstance(value, str) and value else "?"


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

_TOKEN_ALPHABET = re.compile(r"[A-Za-z0-9+/=_-]+")
_DIGIT = re.compile(r"[0-9]")
_LETTER = re.compile(r"[A-Za-z]")
_HEX = re.compile(r"^[0-9a-fA-F]+$")

MIN_LITERAL = 4
# Bounds that keep KP1003 linear in its input whatever the input: a name is
# judged by its last MAX_NAME characters, an assigned value inside text by its
# first MAX_ASSIGNED_VALUE (a longer literal is still a literal), and one value
# stops being read once it has quoted_name more keys than a message names.
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


def named_secret(name: str, value: str) -> str | None:
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
        if named_secret(key, value):
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
        quoted_name = ", ".join(quote(_shorten(k)) for k in keys[:MAX_KEYS_SHOWN]) + (
            " ..." if len(keys) > MAX_KEYS_SHOWN else "")
        parts.append(f"a literal credential for {quoted_name}")
    if too_many:
        parts.append("more assignments to secret-like keys than are inspected per object"
                     f" ({MAX_ASSIGNMENTS}), not all inspected")
    return " and ".join(parts)


def _scan_value(text: str, budget: Budget | None = None) -> str | None:
    """Token formats and embedded assignments in one value, described."""
    found = scan_value_at(text, budget)
    return found[0] if found else None


def scan_value_at(text: str, budget: Budget | None = None) -> tuple[str, int] | None:
    """:func:`_scan_value`, with where in ``text`` the first credential starts
    (for :attr:`Violation.value_offset`: the line inside a multi-line value)."""
    kinds = _token_kinds(text)
    keys = _embedded(text, budget if budget is not None else Budget())
    if not kinds and not keys:
        return None
    return _describe(list(kinds), list(keys)), min((*kinds.values(), *keys.values()))


SA_TOKEN_TYPE = "kubernetes.io/service-account-token"
