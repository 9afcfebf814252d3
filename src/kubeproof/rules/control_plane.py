"""Rules on the kube-apiserver's own flags (KP0709, KP1406, KP1605).

They apply to a kube-apiserver container found among the scanned objects: the
static pod manifest (`/etc/kubernetes/manifests/kube-apiserver.yaml`), or in
audit the mirror pod in `kube-system`. A container is the kube-apiserver when
its command (or, without a command, its args) runs a `kube-apiserver` binary
(also `hyperkube kube-apiserver` and `sh -c "... kube-apiserver ..."`), or when
it has no command and its image is `kube-apiserver`.

Flags are read from command and args in both `--flag=value` and `--flag value`
forms. As in the apiserver's flag parser, the last occurrence of a scalar flag
wins and list flags (`--authorization-mode`, the admission plugin lists)
accumulate. Each finding points at the list item that holds the flag, or at the
`command`/`args` list that would hold it when the flag is missing.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field

from kubeproof.model import Context, Path, Resource, Scope, Violation
from kubeproof.registry import rule
from kubeproof.rules.common import as_list, quote
from kubeproof.workloads import ContainerView

BINARY = "kube-apiserver"
_IMAGE = re.compile(r"(?:^|/)kube-apiserver(?:-(?:amd64|arm64|arm|ppc64le|s390x))?(?:[:@]|$)")
# Programs that run the binary named later in their arguments.
_WRAPPERS = frozenset({"sh", "bash", "ash", "dash", "exec", "env", "tini", "dumb-init"})
# Flags that take no separate value (a bare `--anonymous-auth` means true).
BOOL_FLAGS = frozenset({"anonymous-auth"})
LIST_FLAGS = frozenset({"authorization-mode", "enable-admission-plugins",
                        "disable-admission-plugins", "admission-control"})
_TRUE = frozenset({"1", "t", "true"})


@dataclass(slots=True)
class ApiServer:
    """The flags of one kube-apiserver container: name -> [(value, item path)]."""

    container: ContainerView
    flags: dict[str, list[tuple[str, Path]]] = field(default_factory=dict)
    list_path: Path = ()

    def last(self, name: str) -> tuple[str, Path] | None:
        seen = self.flags.get(name)
        return seen[-1] if seen else None

    def is_set(self, name: str) -> bool:
        found = self.last(name)
        return found is not None and found[0].strip() != ""

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
        return f"kube-apiserver container {quote(self.container.name)}"


def _basename(token: str) -> str:
    return token.rsplit("/", 1)[-1]


def _tokens(c: ContainerView) -> tuple[list[tuple[str, Path]], list[str] | None]:
    """Every word of command then args with the path of its list item, and the
    command words (None when no command is set)."""
    tokens: list[tuple[str, Path]] = []
    command: list[str] | None = None
    for key in ("command", "args"):
        items = as_list(c.data.get(key))
        if key == "command" and items:
            command = []
        for j, item in enumerate(items):
            if not isinstance(item, str):
                continue
            path: Path = (*c.path, key, j)
            words = [item]
            if any(ch.isspace() for ch in item.strip()):
                try:
                    words = shlex.split(item)
                except ValueError:
                    words = item.split()
            for w in words:
                tokens.append((w, path))
                if command is not None and key == "command":
                    command.append(w)
    return tokens, command


def _mentions_binary(c: ContainerView) -> bool:
    """Cheap pre-check before any parsing: most containers are not apiservers."""
    image = c.data.get("image")
    if isinstance(image, str) and _IMAGE.search(image):
        return True
    for key in ("command", "args"):
        for item in as_list(c.data.get(key)):
            if isinstance(item, str) and ("kube-apiserver" in item or "hyperkube" in item):
                return True
    return False


def _apiserver(c: ContainerView) -> ApiServer | None:
    if not _mentions_binary(c):
        return None
    tokens, command = _tokens(c)
    start: int | None = None
    if tokens:
        base = _basename(tokens[0][0])
        if base == BINARY:
            start = 1
        elif base == "hyperkube" and len(tokens) > 1 and tokens[1][0] in (BINARY, "apiserver"):
            start = 2
        elif base in _WRAPPERS:
            for k, (w, _) in enumerate(tokens[1:], 1):
                if not w.startswith("-") and _basename(w) == BINARY:
                    start = k + 1
                    break
    if start is None:
        image = c.data.get("image")
        if command or not isinstance(image, str) or not _IMAGE.search(image):
            return None
        start = 0
    api = ApiServer(container=c)
    rest = tokens[start:]
    k = 0
    while k < len(rest):
        w, path = rest[k]
        k += 1
        if not w.startswith("--") or len(w) == 2:
            continue
        name, sep, value = w[2:].partition("=")
        if not sep:
            if name in BOOL_FLAGS:
                value = "true"
            elif k < len(rest) and not rest[k][0].startswith("-"):
                value = rest[k][0]
                k += 1
        api.flags.setdefault(name, []).append((value, path))
    # where a missing flag would go: the list holding the last flag, else the
    # list naming the binary, else command
    anchor = rest[-1][1] if rest else (tokens[start - 1][1] if start > 0 else None)
    key = anchor[len(c.path)] if anchor else "command"
    api.list_path = (*c.path, key)
    return api


def _apiservers(res: Resource) -> Iterator[ApiServer]:
    pod = res.pod
    if pod is None:
        return
    for c in pod.containers:
        api = _apiserver(c)
        if api is not None:
            yield api


def _grouped(api: ApiServer, problems: list[tuple[Path, str]]) -> Iterator[Violation]:
    """One violation per path, joining the problems found at the same item."""
    by_path: dict[Path, list[str]] = {}
    for path, text in problems:
        by_path.setdefault(path, []).append(text)
    for path, texts in by_path.items():
        yield Violation(path, f"{api.label()} {' and '.join(texts)}",
                        container=api.container.name)


# ------------------------------------------------------------------ KP0709

@rule("KP0709", "apiserver-authorization", practice=7, severity="critical",
      scope=Scope.CLUSTER, pods=True)
def apiserver_authorization(res: Resource, ctx: Context) -> Iterator[Violation]:
    """kube-apiserver that authorizes without RBAC, allows everything, or allows anonymous access.

    What:
        A kube-apiserver whose `--authorization-mode` does not include `RBAC`
        (an unset flag means the default, `AlwaysAllow`), or includes
        `AlwaysAllow`, or that sets `--anonymous-auth=true` explicitly. When
        `--authorization-config` is set (structured authorization, 1.29+),
        the authorizer chain is defined in that file and only the anonymous
        check applies.

    Why:
        Without RBAC no Role or binding means anything; with `AlwaysAllow`
        anywhere in the chain every authenticated request is allowed.
        Anonymous requests run as `system:anonymous`, so any grant made to
        `system:unauthenticated` is open to the network.

    How:
        Set `--authorization-mode=Node,RBAC` and `--anonymous-auth=false` (or
        limit anonymous access to the health endpoints with an
        AuthenticationConfiguration file).

    Example:
        ```yaml
        command:
        - kube-apiserver
        - --authorization-mode=Node,RBAC
        - --anonymous-auth=false
        ```
    """
    for api in _apiservers(res):
        problems: list[tuple[Path, str]] = []
        if not api.is_set("authorization-config"):
            modes = api.items("authorization-mode")
            if not modes:
                problems.append((api.where("authorization-mode"),
                                 "sets no --authorization-mode (defaults to AlwaysAllow)"))
            else:
                names = [m for m, _ in modes]
                if "AlwaysAllow" in names:
                    problems.append((next(p for m, p in modes if m == "AlwaysAllow"),
                                     "enables AlwaysAllow authorization"))
                if "RBAC" not in names:
                    problems.append((modes[-1][1], "does not include RBAC in "
                                     f"--authorization-mode ({','.join(names)})"))
        anon = api.last("anonymous-auth")
        if anon is not None and anon[0].strip().lower() in _TRUE:
            problems.append((anon[1], "sets --anonymous-auth=true"))
        yield from _grouped(api, problems)


# ------------------------------------------------------------------ KP1406

@rule("KP1406", "apiserver-audit-log", practice=14, severity="high",
      scope=Scope.CLUSTER, pods=True)
def apiserver_audit_log(res: Resource, ctx: Context) -> Iterator[Violation]:
    """kube-apiserver without an audit log backend and an audit policy.

    What:
        A kube-apiserver with neither `--audit-log-path` nor
        `--audit-webhook-config-file`, or without `--audit-policy-file`
        (without a policy nothing is logged, whatever the backend).

    Why:
        The audit log is the only record of who did what through the API:
        who read a secret, who exec'd into a pod, who changed a binding. A
        SIEM has nothing to alert on and an investigation nothing to read
        without it.

    How:
        Set `--audit-policy-file` to a policy (metadata level for secrets,
        request level for writes) and a backend: `--audit-log-path` with
        rotation flags, or `--audit-webhook-config-file`; mount both files
        into the static pod.

    Example:
        ```yaml
        command:
        - kube-apiserver
        - --audit-policy-file=/etc/kubernetes/audit-policy.yaml
        - --audit-log-path=/var/log/kubernetes/audit/audit.log
        - --audit-log-maxage=30
        ```
    """
    for api in _apiservers(res):
        backend = api.is_set("audit-log-path") or api.is_set("audit-webhook-config-file")
        policy = api.is_set("audit-policy-file")
        if backend and policy:
            continue
        if not backend and not policy:
            text = "sets neither an audit backend nor --audit-policy-file"
        elif not policy:
            text = "sets an audit backend but no --audit-policy-file, so nothing is logged"
        else:
            text = ("sets --audit-policy-file but neither --audit-log-path nor "
                    "--audit-webhook-config-file")
        path = api.where("audit-policy-file") if not policy else api.list_path
        yield from _grouped(api, [(path, text)])


# ------------------------------------------------------------------ KP1605

@rule("KP1605", "apiserver-admission-plugins", practice=16, severity="high",
      scope=Scope.CLUSTER, pods=True)
def apiserver_admission_plugins(res: Resource, ctx: Context) -> Iterator[Violation]:
    """kube-apiserver with `AlwaysAdmit`, or without `NodeRestriction`.

    What:
        A kube-apiserver whose `--enable-admission-plugins` (or the
        deprecated `--admission-control`) includes `AlwaysAdmit`, or does not
        include `NodeRestriction` (it is not enabled by default), or whose
        `--disable-admission-plugins` includes `NodeRestriction`.

    Why:
        `AlwaysAdmit` admits every request unexamined. Without
        `NodeRestriction` a kubelet's credentials can modify any Node and any
        pod, so one compromised node can relabel others to attract workloads
        and their secrets.

    How:
        Remove `AlwaysAdmit` and add `NodeRestriction` to
        `--enable-admission-plugins` (with `--authorization-mode` including
        `Node`).

    Example:
        ```yaml
        command:
        - kube-apiserver
        - --enable-admission-plugins=NodeRestriction
        ```
    """
    for api in _apiservers(res):
        enabled = api.items("enable-admission-plugins") + api.items("admission-control")
        disabled = api.items("disable-admission-plugins")
        problems: list[tuple[Path, str]] = []
        for name, path in enabled:
            if name == "AlwaysAdmit":
                problems.append((path, "enables AlwaysAdmit"))
                break
        off = [p for n, p in disabled if n == "NodeRestriction"]
        if off:
            problems.append((off[0], "disables NodeRestriction"))
        elif not any(n == "NodeRestriction" for n, _ in enabled):
            path = enabled[-1][1] if enabled else api.list_path
            problems.append((path, "does not enable NodeRestriction"))
        yield from _grouped(api, problems)
