"""Rules on the control plane's own configuration (KP0709, KP0710, KP1006,
KP1406, KP1605).

They apply to a kube-apiserver or etcd container found among the scanned
objects: the static pod manifests (`/etc/kubernetes/manifests/*.yaml`), or in
audit the mirror pods in `kube-system`; and to an `EncryptionConfiguration`
file (KP1006). How a container is recognised as the kube-apiserver or etcd and
how its flags are read is in :mod:`kubeproof.k8s.flags`. Each
finding points at the list item that holds the flag, or at the
`command`/`args` list that would hold it when the flag is missing; the
problems found at one place are joined into one finding.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeproof.core.catalogue import rule
from kubeproof.core.context import Context
from kubeproof.k8s.flags import APISERVER, ETCD, Flags, components
from kubeproof.model import Path, Resource, Scope, Violation
from kubeproof.rules.common import as_dict, as_list, grouped, quote


def _apiservers(res: Resource) -> Iterator[Flags]:
    return components(res, APISERVER)


# ------------------------------------------------------------------ KP0709

@rule("KP0709", "apiserver-authorization", practice=7, severity="critical",
      scope=Scope.CLUSTER, pods=True)
def apiserver_authorization(res: Resource, ctx: Context) -> Iterator[Violation]:
    """kube-apiserver without RBAC, with anonymous access, static tokens or debug endpoints.

    What:
        A kube-apiserver whose `--authorization-mode` does not include `RBAC`
        (an unset flag means the default, `AlwaysAllow`), or includes
        `AlwaysAllow`; that does not set `--anonymous-auth=false` (anonymous
        requests are allowed by default); that sets `--token-auth-file`
        (static tokens); whose `--profiling` is not false (it defaults to
        true); or that sets no `--kubelet-certificate-authority`. When
        `--authorization-config` is set (structured authorization, 1.29+),
        the authorizer chain is defined in that file and the mode is not
        judged. When `--authentication-config` is set (structured
        authentication), anonymous access is configured in that file (1.32+:
        it can limit anonymous requests to the health endpoints, and the flag
        may not be given with it): a missing `--anonymous-auth` is then not a
        finding, an explicit `--anonymous-auth=true` still is.

    Why:
        Without RBAC no Role or binding means anything; with `AlwaysAllow`
        anywhere in the chain every authenticated request is allowed.
        Anonymous requests run as `system:anonymous`, so any grant made to
        `system:unauthenticated` is open to the network. Static tokens never
        expire and can only be revoked by restarting the apiserver. The
        profiling endpoints (`/debug/pprof`) reveal internals and cost CPU.
        Without `--kubelet-certificate-authority` the apiserver does not
        verify the kubelet's serving certificate on `exec`, `logs` and
        `port-forward`, so a man in the middle sees the streams.

    How:
        Set `--authorization-mode=Node,RBAC`, `--anonymous-auth=false` (or
        limit anonymous access to the health endpoints with an
        AuthenticationConfiguration file), `--profiling=false` and
        `--kubelet-certificate-authority`; remove `--token-auth-file` and use
        client certificates, OIDC or service account tokens.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: kube-apiserver
          namespace: kube-system
        spec:
          containers:
          - name: kube-apiserver
            image: registry.k8s.io/kube-apiserver:v1.31.0
            command:
            - kube-apiserver
            - --authorization-mode=Node,RBAC
            - --anonymous-auth=false
            - --profiling=false
            - --kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt
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
        if api.is_true("anonymous-auth"):
            problems.append((api.where("anonymous-auth"), "sets --anonymous-auth=true"))
        elif not api.is_false("anonymous-auth") and not api.is_set("authentication-config"):
            problems.append((api.where("anonymous-auth"), "does not set --anonymous-auth=false "
                             "(anonymous requests are allowed by default)"))
        if api.is_set("token-auth-file"):
            problems.append((api.where("token-auth-file"),
                             "sets --token-auth-file (static tokens that never expire)"))
        if not api.is_false("profiling"):
            problems.append((api.where("profiling"), "does not set --profiling=false "
                             "(profiling is on by default)"))
        if not api.is_set("kubelet-certificate-authority"):
            problems.append((api.where("kubelet-certificate-authority"),
                             "sets no --kubelet-certificate-authority (kubelet serving "
                             "certificates are not verified)"))
        yield from grouped(api, problems)


# ------------------------------------------------------------------ KP0710

# etcd flags that must name a file (client and peer TLS)
_ETCD_FILES = ("cert-file", "key-file", "peer-cert-file", "peer-key-file")
_APISERVER_ETCD_FILES = ("etcd-certfile", "etcd-keyfile", "etcd-cafile")


def _cluster_etcd(res: Resource) -> bool:
    """Whether an etcd in ``res`` is the cluster's: anything in kube-system (the
    mirror pod, a self-hosted etcd), or a Pod with no namespace (a static pod
    manifest); an application's etcd (a chart's StatefulSet in its own
    namespace) is not judged here."""
    return res.namespace == "kube-system" or (res.kind == "Pod" and not res.namespace)


def _plain_urls(found: Flags, name: str) -> list[tuple[str, Path]]:
    return [(u, p) for u, p in found.items(name) if u.lower().startswith("http://")]


@rule("KP0710", "etcd-not-tls", practice=7, severity="critical",
      scope=Scope.CLUSTER, pods=True)
def etcd_not_tls(res: Resource, ctx: Context) -> Iterator[Violation]:
    """kube-apiserver or etcd that talks to etcd without mutual TLS.

    What:
        A kube-apiserver without `--etcd-certfile`, `--etcd-keyfile` or
        `--etcd-cafile`, or with an `http://` URL in `--etcd-servers`. An
        etcd container (in `kube-system`, or a Pod without a namespace as a
        static pod manifest may be; an application's etcd in its own
        namespace is not judged) whose
        `--client-cert-auth` or `--peer-client-cert-auth` is not true, that
        lacks `--cert-file`/`--key-file` or `--peer-cert-file`/
        `--peer-key-file`, that sets `--auto-tls=true` or
        `--peer-auto-tls=true` (self-signed certificates nobody verifies), or
        that listens on an `http://` client or peer URL. etcd reads its flags
        from `ETCD_*` environment variables too (`ETCD_CLIENT_CERT_AUTH`);
        with `--config-file` it ignores both, so such an etcd is not judged.

    Why:
        etcd holds every Secret of the cluster and is the cluster's state:
        whoever can reach it without a client certificate can read every
        token and rewrite any object, bypassing authentication, RBAC and
        admission. Without TLS the traffic between apiserver and etcd, and
        between etcd members, can be read and altered on the network.

    How:
        Give the apiserver a client certificate for etcd and the etcd CA, and
        run etcd with server and peer certificates and client certificate
        authentication, as kubeadm does.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: etcd
          namespace: kube-system
        spec:
          containers:
          - name: etcd
            image: registry.k8s.io/etcd:3.5.15-0
            command:
            - etcd
            - --cert-file=/etc/kubernetes/pki/etcd/server.crt
            - --key-file=/etc/kubernetes/pki/etcd/server.key
            - --client-cert-auth=true
            - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt
            - --peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt
            - --peer-key-file=/etc/kubernetes/pki/etcd/peer.key
            - --peer-client-cert-auth=true
            - --peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt
        ```
    """
    for api in _apiservers(res):
        problems: list[tuple[Path, str]] = []
        missing = [f"--{f}" for f in _APISERVER_ETCD_FILES if not api.is_set(f)]
        if missing:
            problems.append((api.list_path, f"sets no {'/'.join(missing)} (no mutual TLS "
                             "to etcd)"))
        for url, path in _plain_urls(api, "etcd-servers")[:1]:
            problems.append((path, f"reaches etcd over plain HTTP ({quote(url)})"))
        yield from grouped(api, problems)
    if not _cluster_etcd(res):
        return
    for etcd in components(res, ETCD):
        if etcd.is_set("config-file"):
            continue
        problems = []
        for flag in ("client-cert-auth", "peer-client-cert-auth"):
            if not etcd.is_true(flag):
                problems.append((etcd.where(flag), f"does not set --{flag}=true"))
        missing = [f"--{f}" for f in _ETCD_FILES if not etcd.is_set(f)]
        if missing:
            problems.append((etcd.list_path, f"sets no {'/'.join(missing)}"))
        for flag in ("auto-tls", "peer-auto-tls"):
            if etcd.is_true(flag):
                problems.append((etcd.where(flag), f"sets --{flag}=true (self-signed "
                                 "certificates nobody verifies)"))
        for flag in ("listen-client-urls", "listen-peer-urls"):
            for url, path in _plain_urls(etcd, flag)[:1]:
                problems.append((path, f"listens on plain HTTP in --{flag} ({quote(url)})"))
        yield from grouped(etcd, problems)


# ------------------------------------------------------------------ KP1006

ENCRYPTION_KINDS = frozenset({"EncryptionConfiguration", "EncryptionConfig"})
# resource names of an EncryptionConfiguration entry that cover Secrets
_COVERS_SECRETS = frozenset({"secrets", "secrets.", "*.", "*.*"})


def _first_provider(entry: dict[str, Any]) -> tuple[str, Path] | None:
    providers = as_list(entry.get("providers"))
    if not providers or not isinstance(providers[0], dict) or not providers[0]:
        return None
    return str(next(iter(providers[0]))), ("providers", 0)


def _encryption_config(res: Resource) -> Iterator[Violation]:
    entries = as_list(res.obj.get("resources"))
    for i, entry in enumerate(entries[:10_000]):
        entry = as_dict(entry)
        names = [n.strip().lower() for n in as_list(entry.get("resources"))
                 if isinstance(n, str)]
        if not _COVERS_SECRETS.intersection(names):
            continue
        first = _first_provider(entry)
        if first is None:
            yield Violation(("resources", i, "providers"),
                            f"{res.kind} lists no provider for secrets")
        elif first[0] == "identity":
            yield Violation(("resources", i, *first[1]),
                            f"{res.kind}: the first provider for secrets is identity, so "
                            "new and updated Secrets are stored in plain text")
        return
    yield Violation(("resources",), f"{res.kind} has no entry covering secrets, so they "
                    "are stored in plain text")


@rule("KP1006", "secrets-not-encrypted-at-rest", practice=10, severity="high",
      scope=Scope.CLUSTER, pods=True, kinds=ENCRYPTION_KINDS)
def secrets_not_encrypted_at_rest(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Secrets stored in etcd without encryption.

    What:
        A kube-apiserver without `--encryption-provider-config`; or an
        `EncryptionConfiguration` (apiserver.config.k8s.io/v1, also the
        legacy `EncryptionConfig`) whose first entry covering Secrets
        (`secrets`, or the wildcards `*.` and `*.*`: the first matching
        entry applies) has `identity` as its first provider (the provider
        that writes), or that has no entry covering Secrets at all.

    Why:
        Without encryption at rest every Secret is stored in plain text in
        etcd, its snapshots and backups: a stolen backup or etcd disk is
        every credential of the cluster. `identity` later in the list is
        fine (it reads data written before encryption was turned on).

    How:
        Write an EncryptionConfiguration with a KMS v2 provider (or
        `aesgcm`/`secretbox`) first for `secrets`, pass it with
        `--encryption-provider-config`, then rewrite the existing Secrets
        (`kubectl get secrets -A -o json | kubectl replace -f -`).

    Example:
        ```yaml
        apiVersion: apiserver.config.k8s.io/v1
        kind: EncryptionConfiguration
        resources:
        - resources: [secrets]
          providers:
          - kms:
              apiVersion: v2
              name: vault
              endpoint: unix:///var/run/kms/socket.sock
          - identity: {}
        ```
    """
    if res.kind in ENCRYPTION_KINDS:
        yield from _encryption_config(res)
        return
    for api in _apiservers(res):
        if not api.is_set("encryption-provider-config"):
            yield from grouped(api, [(api.list_path, "sets no --encryption-provider-config "
                                      "(Secrets are stored in plain text in etcd)")])


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
        apiVersion: v1
        kind: Pod
        metadata: {name: kube-apiserver, namespace: kube-system}
        spec:
          containers:
          - name: kube-apiserver
            image: registry.k8s.io/kube-apiserver:v1.31.0
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
        yield from grouped(api, [(path, text)])


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
        apiVersion: v1
        kind: Pod
        metadata: {name: kube-apiserver, namespace: kube-system}
        spec:
          containers:
          - name: kube-apiserver
            image: registry.k8s.io/kube-apiserver:v1.31.0
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
        yield from grouped(api, problems)
