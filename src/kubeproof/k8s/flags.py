"""The command-line flags of a Kubernetes component running in a container.

Shared by the control-plane and kubelet rules: one reader for kube-apiserver,
etcd and the kubelet, each described by a :class:`Binary`. A container runs a
binary when its command (or, without a command, its args) starts with it (also
`hyperkube <name>` and wrappers such as `sh -c "exec <name> ..."`), or when it
has no command and its image is the binary's.

Flags are read from command and args in both `--flag=value` and `--flag value`
forms (and `-flag` for etcd, whose flag parser accepts one dash). The last
occurrence of a flag wins; list flags accumulate (:meth:`Flags.items`). A
boolean flag never takes the next word as its value, as in the Go flag
parsers: a bare `--anonymous-auth` means true. For etcd, `ETCD_*` environment
variables stand for the flags the command line does not set.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from kubeproof.k8s.workloads import ContainerView, PodView
from kubeproof.util.shapes import Path, as_dict, as_list, quote


class HasPod(Protocol):
    """An object that may carry a pod spec (``model.Resource``)."""

    @property
    def pod(self) -> PodView | None: ...

# Programs that run the binary named later in their arguments.
_WRAPPERS = frozenset({"sh", "bash", "ash", "dash", "exec", "env", "tini", "dumb-init"})
_TRUE = frozenset({"1", "t", "true"})
_FALSE = frozenset({"0", "f", "false"})
MAX_TOKENS = 4096  # words of command and args read per container; the rest are ignored


@dataclass(frozen=True, slots=True)
class Binary:
    """How to recognise one component and read its flags."""

    name: str
    image: re.Pattern[str]
    # names hyperkube knows it by (`hyperkube kube-apiserver`, `hyperkube apiserver`)
    hyperkube: frozenset[str] = frozenset()
    bool_flags: frozenset[str] = frozenset()
    single_dash: bool = False
    env_prefix: str = ""

    def runs_in(self, c: ContainerView) -> bool:
        """Cheap pre-check before any parsing: most containers run none of them."""
        image = c.data.get("image")
        if isinstance(image, str) and self.image.search(image):
            return True
        hyper = bool(self.hyperkube)
        for key in ("command", "args"):
            for item in as_list(c.data.get(key)):
                if isinstance(item, str) and (self.name in item or (hyper and "hyperkube" in item)):
                    return True
        return False


def _image(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?:^|/){name}(?:-(?:amd64|arm64|arm|ppc64le|s390x))?(?:[:@]|$)")


APISERVER = Binary("kube-apiserver", _image("kube-apiserver"),
                   hyperkube=frozenset({"kube-apiserver", "apiserver"}),
                   bool_flags=frozenset({"anonymous-auth", "profiling"}))
ETCD = Binary("etcd", _image("etcd"), single_dash=True, env_prefix="ETCD_",
              bool_flags=frozenset({"client-cert-auth", "peer-client-cert-auth", "auto-tls",
                                    "peer-auto-tls"}))
KUBELET = Binary("kubelet", _image("kubelet"), hyperkube=frozenset({"kubelet"}),
                 bool_flags=frozenset({"anonymous-auth", "rotate-certificates"}))


@dataclass(slots=True)
class Flags:
    """The flags of one component container: name -> [(value, item path)]."""

    binary: Binary
    container: ContainerView
    flags: dict[str, list[tuple[str, Path]]] = field(default_factory=dict)
    list_path: Path = ()

    def last(self, name: str) -> tuple[str, Path] | None:
        seen = self.flags.get(name)
        return seen[-1] if seen else None

    def is_set(self, name: str) -> bool:
        found = self.last(name)
        return found is not None and found[0].strip() != ""

    def is_true(self, name: str) -> bool:
        found = self.last(name)
        return found is not None and found[0].strip().lower() in _TRUE

    def is_false(self, name: str) -> bool:
        found = self.last(name)
        return found is not None and found[0].strip().lower() in _FALSE

    def items(self, name: str) -> list[tuple[str, Path]]:
        """Every comma-separated value of a list flag, with its item path."""
        out: list[tuple[str, Path]] = []
        for value, path in self.flags.get(name, []):
            out.extend((v.strip(), path) for v in value.split(",") if v.strip())
        return out

    def where(self, name: str) -> Path:
        found = self.last(name)
        return found[1] if found else self.list_path

    def label(self) -> str:
        return f"{self.binary.name} container {quote(self.container.name)}"


def basename(token: str) -> str:
    return token.rsplit("/", 1)[-1]


def _tokens(c: ContainerView) -> tuple[list[tuple[str, Path]], bool]:
    """Every word of command then args with the path of its list item (at most
    ``MAX_TOKENS``), and whether a command is set."""
    tokens: list[tuple[str, Path]] = []
    has_command = False
    for key in ("command", "args"):
        items = as_list(c.data.get(key))
        if key == "command" and items:
            has_command = True
        for j, item in enumerate(items):
            if len(tokens) >= MAX_TOKENS:
                return tokens, has_command
            if not isinstance(item, str):
                continue
            path: Path = (*c.path, key, j)
            words = [item]
            if any(ch.isspace() for ch in item.strip()):
                try:
                    words = shlex.split(item)
                except ValueError:
                    words = item.split()
            tokens.extend((w, path) for w in words[:MAX_TOKENS - len(tokens)])
    return tokens, has_command


_SEPARATORS = (";", "&&", "||", "|", "&")
_KEYWORDS = frozenset({"then", "do", "else", "!"})


def _start(binary: Binary, tokens: list[tuple[str, Path]]) -> int | None:
    """Index of the first argument of ``binary`` in ``tokens`` (None: not run).

    The binary must stand where a program name does: first, after wrappers
    (`sh -c exec`, `env VAR=value`, `tini --`), or after a shell separator or
    keyword (`until nc -z etcd 2379; do sleep 1; done; exec etcd ...`). A name
    met elsewhere (the `etcd` of `nc -z etcd 2379`) is an argument."""
    at_command, wrapped = True, False
    for k, (w, _) in enumerate(tokens):
        # a flag or VAR=value is no program (`--kubelet-service=kube-system/kubelet`)
        base = "" if w.startswith("-") or "=" in w else basename(w)
        if at_command:
            if base == binary.name:
                return k + 1
            if base == "hyperkube" and k + 1 < len(tokens) \
                    and tokens[k + 1][0] in binary.hyperkube:
                return k + 2
            # a wrapper's options and VAR=value words keep the program position
            wrapped = base in _WRAPPERS or (wrapped and not base)
        at_command = (at_command and wrapped) or w.endswith(_SEPARATORS) or w in _KEYWORDS
    return None


def read_flags(binary: Binary, c: ContainerView) -> Flags | None:
    """The flags ``c`` runs ``binary`` with, or None when it does not run it."""
    if not binary.runs_in(c):
        return None
    tokens, has_command = _tokens(c)
    start = _start(binary, tokens)
    if start is None:
        image = c.data.get("image")
        if has_command or not isinstance(image, str) or not binary.image.search(image):
            return None
        start = 0
    found = Flags(binary=binary, container=c)
    rest = tokens[start:]
    k = 0
    while k < len(rest):
        w, path = rest[k]
        k += 1
        if w.startswith("--") and len(w) > 2:
            w = w[2:]
        elif binary.single_dash and w.startswith("-") and len(w) > 1:
            w = w[1:]
        else:
            continue
        name, sep, value = w.partition("=")
        if not sep:
            if name in binary.bool_flags:
                value = "true"
            elif k < len(rest) and not rest[k][0].startswith("-"):
                value = rest[k][0]
                k += 1
        found.flags.setdefault(name, []).append((value, path))
    if binary.env_prefix:
        _env_flags(found, c)
    # where a missing flag would go: the list holding the last flag, else the
    # list naming the binary, else command
    anchor = rest[-1][1] if rest else (tokens[start - 1][1] if start > 0 else None)
    key = anchor[len(c.path)] if anchor else "command"
    found.list_path = (*c.path, key)
    return found


def _env_flags(found: Flags, c: ContainerView) -> None:
    """Environment variables standing for the flags the command line lacks."""
    prefix = found.binary.env_prefix
    for j, entry in enumerate(as_list(c.data.get("env"))[:MAX_TOKENS]):
        entry = as_dict(entry)
        name, value = entry.get("name"), entry.get("value")
        if not isinstance(name, str) or not name.startswith(prefix) or not isinstance(value, str):
            continue
        flag = name[len(prefix):].lower().replace("_", "-")
        if flag and flag not in found.flags:
            found.flags[flag] = [(value, (*c.path, "env", j, "value"))]


def components(res: HasPod, binary: Binary) -> Iterator[Flags]:
    """Every container of ``res`` that runs ``binary``, with its flags."""
    pod = res.pod
    if pod is None:
        return
    for c in pod.containers:
        found = read_flags(binary, c)
        if found is not None:
            yield found

