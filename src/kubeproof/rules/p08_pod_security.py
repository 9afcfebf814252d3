"""Rules for practice 8: the Pod Security Standards (KP0801–KP0819).

Each rule is one check of upstream pod-security-admission (PSA), with upstream's
allowed values and version cut-overs; ``ctx.kube_version`` plays the role of the
namespace's ``enforce-version``. A check returns nothing below the version that
introduced it. The checks apply to Pods and to every pod template (``pods=True``);
annotations (AppArmor, the seccomp alpha annotations) are read from the pod (or
template) metadata. Every container list is visited: init, regular, ephemeral.

Levels. The rules always evaluate the full restricted set and never read
``ctx.pss_level``: the engine drops the restricted-only codes (KP0812–KP0817,
KP0819) afterwards for a run or namespace at ``baseline`` (and everything at
``privileged``).

Restricted twins. Upstream's restricted level *replaces* four baseline checks by
stricter twins: hostPathVolumes by restrictedVolumes, capabilities_baseline by
capabilities_restricted (1.22+), seccompProfile_baseline by
seccompProfile_restricted (1.19+) and procMount by procMount_restricted (1.35+).
kubeproof reports every violation once: what the baseline check flags is reported
under the baseline code, and the twin reports only what its baseline check lets
through:

* KP0812 (restrictedVolumes): disallowed volume types other than ``hostPath``
  (``hostPath`` is KP0805).
* KP0817 (capabilities_restricted): a missing ``drop: [ALL]``, and added
  capabilities that baseline allows but restricted does not (anything but
  ``NET_BIND_SERVICE`` from baseline's default set; the rest is KP0804).
* KP0816 (seccompProfile_restricted): containers with no seccomp profile when the
  pod sets none (an explicit bad type is KP0810).
* KP0819 (procMount_restricted): a non-default ``procMount`` in a pod with
  ``hostUsers: false``, which baseline allows from 1.35 (the rest is KP0809).

So the union of codes kept at ``restricted`` denies what upstream restricted
denies, and the baseline codes alone deny what upstream baseline denies. One
deliberate difference: from 1.25 upstream restricted skips the Linux-only checks
for ``spec.os.name: windows`` pods, overriding the baseline capability and
seccomp checks with them, so a Windows pod that *adds* a capability or sets an
``Unconfined`` seccomp profile passes upstream restricted while failing baseline.
Such pods are rejected by API validation anyway (Windows pods may not set those
fields); kubeproof keeps reporting them under KP0804/KP0810.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from kubeproof.core.catalogue import fix, rule
from kubeproof.core.context import Context
from kubeproof.core.fixing import (
    POD_SC_AFTER,
    SC_AFTER,
    FixSettings,
    append,
    image_info,
    linux_pod,
    map_like,
    may_replace,
    new_seq,
    set_container,
    set_in,
    targets,
)
from kubeproof.k8s.workloads import ContainerView, PodView
from kubeproof.model import UNSAFE, Path, PssLevel, Resource, Violation
from kubeproof.rules.common import as_dict, as_list, quote

# ------------------------------------------------------------------ upstream data

CAPABILITIES_BASELINE = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})
CAPABILITY_ALL = "ALL"
CAPABILITY_NET_BIND_SERVICE = "NET_BIND_SERVICE"

# (first policy version, names that become safe at that version)
_SYSCTL_STEPS: tuple[tuple[int, frozenset[str]], ...] = (
    (0, frozenset({
        "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
    })),
    (27, frozenset({"net.ipv4.ip_local_reserved_ports"})),
    (29, frozenset({
        "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
    })),
    (32, frozenset({"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"})),
    (37, frozenset({"net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"})),
)

SELINUX_TYPES_1_0 = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
SELINUX_TYPES_1_31 = SELINUX_TYPES_1_0 | {"container_engine_t"}

SECCOMP_VALID_TYPES = frozenset({"RuntimeDefault", "Localhost"})
SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_ANNOTATION = "container.seccomp.security.alpha.kubernetes.io/"
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
APPARMOR_VALID_TYPES = frozenset({"RuntimeDefault", "Localhost"})

# Volume sources allowed by restricted (``image`` since the 1.33 binary, at every
# policy version), and the ones it names as forbidden, in upstream's order.
RESTRICTED_VOLUME_ALLOWED = (
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
    "persistentVolumeClaim", "projected", "secret",
)
RESTRICTED_VOLUME_FORBIDDEN = (
    "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi", "glusterfs",
    "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile", "vsphereVolume",
    "quobyte", "azureDisk", "photonPersistentDisk", "portworxVolume", "scaleIO", "storageos",
)

PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
LIFECYCLE_HOOKS = ("postStart", "preStop")
HOST_HANDLERS = ("httpGet", "tcpSocket")


# ------------------------------------------------------------------ helpers

def _since(ctx: Context, minor: int) -> bool:
    return tuple(ctx.kube_version) >= (1, minor)


def _allowed_sysctls(ctx: Context) -> frozenset[str]:
    allowed: set[str] = set()
    for minor, names in _SYSCTL_STEPS:
        if _since(ctx, minor):
            allowed |= names
    return frozenset(allowed)


_SYSCTLS_BY_MINOR: dict[int, frozenset[str]] = {}


def _sysctls_for(ctx: Context) -> frozenset[str]:
    minor = ctx.kube_version[1]
    cached = _SYSCTLS_BY_MINOR.get(minor)
    if cached is None:
        cached = _SYSCTLS_BY_MINOR[minor] = _allowed_sysctls(ctx)
    return cached


def _user_namespace(pod: PodView) -> bool:
    """``hostUsers: false``: the pod runs in its own user namespace."""
    return pod.spec.get("hostUsers") is False


def _linux_exempt(pod: PodView, ctx: Context) -> bool:
    """From 1.25, restricted's Linux-only checks skip ``os.name: windows`` pods."""
    return _since(ctx, 25) and pod.is_windows


def _sc_path(c: ContainerView, *rest: str | int) -> Path:
    return (*c.path, "securityContext", *rest)


def _psc_path(pod: PodView, *rest: str | int) -> Path:
    return (*pod.spec_path, "securityContext", *rest)



def _is_root_uid(value: Any) -> bool:
    return type(value) is int and value == 0


def _valid_type(value: Any, allowed: frozenset[str]) -> bool:
    return isinstance(value, str) and value in allowed


def _profile_type(profile: Any) -> str:
    """A seccomp/AppArmor profile's ``type`` quoted for a message (profile is not None)."""
    if not isinstance(profile, dict):
        return "a non-mapping value"
    ptype = profile.get("type")
    return quote(ptype if ptype is not None else "")


# ------------------------------------------------------------------ baseline checks


@rule("KP0801", "pss-host-process", practice=8, severity="high", pods=True,
      pss_level=PssLevel.BASELINE)
def host_process(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Windows HostProcess pod or container (PSS baseline `windowsHostProcess`).

    What:
        `securityContext.windowsOptions.hostProcess: true` on the pod or on any
        container (init and ephemeral included).

    Why:
        A HostProcess container runs directly on the Windows node, outside any
        container isolation, with the node's network and file system: it is the
        Windows equivalent of a privileged container.

    How:
        Remove `windowsOptions.hostProcess` (or set it to `false`); run node
        agents that truly need the host in a dedicated, exempted namespace.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          os:
            name: windows
          securityContext:
            windowsOptions:
              runAsUserName: ContainerUser
          containers:
            - name: iis
              image: mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2022
        ```
    """
    pod = res.pod
    assert pod is not None
    opts = as_dict(pod.security_context.get("windowsOptions"))
    if opts.get("hostProcess") is True:
        yield Violation(_psc_path(pod, "windowsOptions", "hostProcess"),
                        "pod must not set securityContext.windowsOptions.hostProcess=true")
    for c in pod.containers:
        opts = as_dict(c.security_context.get("windowsOptions"))
        if opts.get("hostProcess") is True:
            yield Violation(_sc_path(c, "windowsOptions", "hostProcess"),
                            f"container {quote(c.name)} must not set "
                            "securityContext.windowsOptions.hostProcess=true", container=c.name)


@rule("KP0802", "pss-host-namespaces", practice=8, severity="high", pods=True,
      pss_level=PssLevel.BASELINE)
def host_namespaces(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Pod shares a host namespace (PSS baseline `hostNamespaces`).

    What:
        `hostNetwork: true`, `hostPID: true` or `hostIPC: true` in the pod spec.

    Why:
        Host namespaces remove the pod's isolation: with the host network it can
        sniff and bind node traffic and reach node-local services, with the host
        PID namespace it can see and signal every process on the node, with host
        IPC it can read other workloads' shared memory.

    How:
        Remove `hostNetwork`, `hostPID` and `hostIPC` (or set them to `false`);
        expose ports through a Service instead of the node network.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          hostNetwork: false
          containers:
            - name: app
              image: registry.example.com/app:1.4.2
              ports:
                - containerPort: 8080
        ```
    """
    pod = res.pod
    assert pod is not None
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.spec.get(key) is True:
            yield Violation((*pod.spec_path, key), f"pod must not set {key}=true (host namespaces)")


@rule("KP0803", "pss-privileged", practice=8, severity="high", pods=True,
      pss_level=PssLevel.BASELINE)
def privileged(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Privileged container (PSS baseline `privileged`).

    What:
        A container (init and ephemeral included) with
        `securityContext.privileged: true`.

    Why:
        A privileged container has every capability, all host devices and no
        seccomp or AppArmor confinement: escaping to the node is trivial.

    How:
        Remove `privileged` (or set it to `false`) and add only the specific
        capability the workload needs, if any.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
            - name: app
              image: registry.example.com/app:1.4.2
              securityContext:
                privileged: false
        ```
    """
    pod = res.pod
    assert pod is not None
    for c in pod.containers:
        if c.security_context.get("privileged") is True:
            yield Violation(_sc_path(c, "privileged"),
                            f"container {quote(c.name)} must not set "
                            "securityContext.privileged=true",
                            container=c.name)


@rule("KP0804", "pss-capabilities-baseline", practice=8, severity="high", pods=True,
      pss_level=PssLevel.BASELINE)
def capabilities_baseline(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Container adds a capability beyond the default set (PSS baseline `capabilities_baseline`).

    What:
        A container whose `securityContext.capabilities.add` names anything
        outside the container runtime's default set (`AUDIT_WRITE`, `CHOWN`,
        `DAC_OVERRIDE`, `FOWNER`, `FSETID`, `KILL`, `MKNOD`, `NET_BIND_SERVICE`,
        `SETFCAP`, `SETGID`, `SETPCAP`, `SETUID`, `SYS_CHROOT`), e.g. `NET_RAW`,
        `NET_ADMIN` or `SYS_ADMIN`. Names are compared exactly, as upstream does.

    Why:
        Extra capabilities hand out pieces of root: `SYS_ADMIN` is nearly full
        root, `NET_ADMIN` reconfigures networking, `NET_RAW` allows spoofing.

    How:
        Remove the capability from `capabilities.add`; at the restricted level add
        nothing but `NET_BIND_SERVICE` and drop `ALL`.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
            - name: app
              image: registry.example.com/app:1.4.2
              securityContext:
                capabilities:
                  drop: ["ALL"]
                  add: ["NET_BIND_SERVICE"]
        ```
    """
    pod = res.pod
    assert pod is not None
    for c in pod.containers:
        caps = as_dict(c.security_context.get("capabilities"))
        bad = [cap for cap in as_list(caps.get("add"))
               if not (isinstance(cap, str) and cap in CAPABILITIES_BASELINE)]
        if bad:
            names = ", ".join(quote(cap) for cap in dict.fromkeys(map(str, bad)))
            yield Violation(_sc_path(c, "capabilities", "add"),
                            f"container {quote(c.name)} must not include {names} in "
                            "securityContext.capabilities.add", container=c.name)


@rule("KP0805", "pss-host-path-volumes", practice=8, severity="high", pods=True,
      pss_level=PssLevel.BASELINE)
def host_path_volumes(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Pod uses a hostPath volume (PSS baseline `hostPathVolumes`).

    What:
        A volume in `spec.volumes` with a `hostPath` source.

    Why:
        A hostPath volume exposes the node's file system to the pod: container
        runtime sockets, kubelet credentials, other pods' data. Writable host
        paths are a direct route to node takeover.

    How:
        Use an `emptyDir`, a `configMap`/`secret`, a projected volume or a
        PersistentVolumeClaim instead; node agents that need host files belong
        in a dedicated, exempted namespace.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
            - name: app
              image: registry.example.com/app:1.4.2
              volumeMounts:
                - name: cache
                  mountPath: /cache
          volumes:
            - name: cache
              emptyDir: {}
        ```
    """
    pod = res.pod
    assert pod is not None
    for i, vol in pod.volumes:
        if vol.get("hostPath") is not None:
            yield Violation((*pod.spec_path, "volumes", i, "hostPath"),
                            f"volume {quote(vol.get('name', i))} must not use hostPath")


@rule("KP0806", "pss-host-ports", practice=8, severity="high", pods=True,
      pss_level=PssLevel.BASELINE)
def host_ports(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Container binds a host port (PSS baseline `hostPorts`).

    What:
        A container port (init and ephemeral containers included) with a
        non-zero `hostPort`.

    Why:
        A host port binds the node's network interface directly: it bypasses
        Services and NetworkPolicies, limits scheduling to one such pod per node
        and exposes the workload on the node's address.

    How:
        Remove `hostPort`; expose the port with a Service (or an Ingress /
        Gateway) instead.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
            - name: app
              image: registry.example.com/app:1.4.2
              ports:
                - name: http
                  containerPort: 8080
        ```
    """
    pod = res.pod
    assert pod is not None
    for c in pod.containers:
        for j, port in enumerate(as_list(c.data.get("ports"))):
            if not isinstance(port, dict):
                continue
            value = port.get("hostPort")
            if value is None or value is False or value == 0:
                continue
            yield Violation((*c.path, "ports", j, "hostPort"),
                            f"container {quote(c.name)} must not use hostPort {value}",
                            container=c.name)


def _apparmor_annotation_ok(value: Any) -> bool:
    if value is None:
        return True
    return isinstance(value, str) and (
        value in ("", "runtime/default") or value.startswith("localhost/"))


@rule("KP0807", "pss-apparmor", practice=8, severity="high", pods=True,
      pss_level=PssLevel.BASELINE)
def apparmor(res: Resource, ctx: Context) -> Iterator[Violation]:
    """AppArmor profile overridden or disabled (PSS baseline `appArmorProfile`).

    What:
        An `appArmorProfile.type` other than `RuntimeDefault` or `Localhost` on the
        pod or a container's securityContext, or a
        `container.apparmor.security.beta.kubernetes.io/<container>` annotation
        other than `runtime/default`, `localhost/<profile>` or empty.

    Why:
        On AppArmor hosts the runtime's default profile confines every container;
        `Unconfined` (or an arbitrary profile) switches that defence off.

    How:
        Remove the override, or set `appArmorProfile.type: RuntimeDefault` (or
        `Localhost` with a reviewed profile); replace the deprecated annotation by
        the field.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          securityContext:
            appArmorProfile:
              type: RuntimeDefault
          containers:
            - name: app
              image: registry.example.com/app:1.4.2
        ```
    """
    pod = res.pod
    assert pod is not None
    profile = pod.security_context.get("appArmorProfile")
    if profile is not None:
        ptype = as_dict(profile).get("type")
        if not _valid_type(ptype, APPARMOR_VALID_TYPES):
            yield Violation(_psc_path(pod, "appArmorProfile", "type"),
                            f"pod must not set AppArmor profile type to {_profile_type(profile)}")
    for c in pod.containers:
        profile = c.security_context.get("appArmorProfile")
        if profile is None:
            continue
        ptype = as_dict(profile).get("type")
        if not _valid_type(ptype, APPARMOR_VALID_TYPES):
            yield Violation(_sc_path(c, "appArmorProfile", "type"),
                            f"container {quote(c.name)} must not set AppArmor profile type to "
                            f"{_profile_type(profile)}", container=c.name)
    for key, value in pod.annotations.items():
        if (isinstance(key, str) and key.startswith(APPARMOR_ANNOTATION)
                and not _apparmor_annotation_ok(value)):
            name = key[len(APPARMOR_ANNOTATION):]
            yield Violation((*pod.metadata_path, "annotations", key),
                            f"annotation {key}={quote(value)} sets a forbidden AppArmor profile",
                            container=name or None)


def _selinux_problems(opts: dict[str, Any], allowed: frozenset[str]) -> tuple[str, list[str]]:
    """The first offending key of seLinuxOptions and a description of every problem."""
    problems: list[str] = []
    first = ""
    stype = opts.get("type")
    if stype is None:
        stype = ""
    if not (isinstance(stype, str) and stype in allowed):
        first = "type"
        problems.append(f"type {quote(stype)}")
    for key in ("user", "role"):
        value = opts.get(key)
        if value is not None and value != "":
            first = first or key
            problems.append(f"{key} may not be set")
    return first, problems


@rule("KP0808", "pss-selinux", practice=8, severity="high", pods=True, pss_level=PssLevel.BASELINE)
def selinux(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Custom SELinux type, user or role (PSS baseline `seLinuxOptions`).

    What:
        `seLinuxOptions` on the pod or a container whose `type` is not empty,
        `container_t`, `container_init_t`, `container_kvm_t` or (from 1.31)
        `container_engine_t`, or that sets `user` or `role`.

    Why:
        The SELinux label is what confines a container on SELinux hosts; a
        custom type such as `spc_t` or `unconfined_t`, or a custom user or role,
        lifts that confinement.

    How:
        Remove `seLinuxOptions.user` and `.role`, and leave `type` unset or use
        one of the container types.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          securityContext:
            seLinuxOptions:
              level: "s0:c123,c456"
          containers:
            - name: app
              image: registry.example.com/app:1.4.2
        ```
    """
    pod = res.pod
    assert pod is not None
    allowed = SELINUX_TYPES_1_31 if _since(ctx, 31) else SELINUX_TYPES_1_0
    opts = pod.security_context.get("seLinuxOptions")
    if opts is not None:
        first, problems = _selinux_problems(as_dict(opts), allowed)
        if problems:
            yield Violation(_psc_path(pod, "seLinuxOptions", first),
                            "pod sets forbidden securityContext.seLinuxOptions: "
                            + "; ".join(problems))
    for c in pod.containers:
        opts = c.security_context.get("seLinuxOptions")
        if opts is None:
            continue
        first, problems = _selinux_problems(as_dict(opts), allowed)
        if problems:
            yield Violation(_sc_path(c, "seLinuxOptions", first),
                            f"container {quote(c.name)} sets forbidden "
                            "securityContext.seLinuxOptions: " + "; ".join(problems),
                            container=c.name)


def _unmasked(c: ContainerView) -> Any:
    """The container's procMount when set to anything but ``Default``, else None."""
    value = c.security_context.get("procMount")
    if value is None or value == "Default":
        return None
    return value


@rule("KP0809", "pss-proc-mount", practice=8, severity="high", pods=True,
      pss_level=PssLevel.BASELINE)
def proc_mount(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Container unmasks /proc (PSS baseline `procMount`).

    What:
        A container whose `securityContext.procMount` is set to anything but
        `Default` (i.e. `Unmasked`). From 1.35 baseline allows it in pods with
        `hostUsers: false` (restricted still does not: KP0819).

    Why:
        The default /proc masks hide kernel interfaces (`/proc/kcore`,
        `/proc/sysrq-trigger`, ...) from the container; unmasking them exposes
        the host kernel.

    How:
        Remove `procMount` (or set it to `Default`).

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
            - name: app
              image: registry.example.com/app:1.4.2
              securityContext:
                procMount: Default
        ```
    """
    pod = res.pod
    assert pod is not None
    if _since(ctx, 35) and _user_namespace(pod):
        return
    for c in pod.containers:
        value = _unmasked(c)
        if value is not None:
            yield Violation(_sc_path(c, "procMount"),
                            f"container {quote(c.name)} must not set securityContext.procMount "
                            f"to {quote(value)}", container=c.name)


def _seccomp_annotation_ok(value: Any) -> bool:
    return isinstance(value, str) and (
        value in ("runtime/default", "docker/default") or value.startswith("localhost/"))


@rule("KP0810", "pss-seccomp-baseline", practice=8, severity="high", pods=True,
      pss_level=PssLevel.BASELINE)
def seccomp_baseline(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Seccomp profile set to a forbidden type (PSS baseline `seccompProfile_baseline`).

    What:
        From 1.19: a pod or container `seccompProfile.type` other than
        `RuntimeDefault` or `Localhost` (e.g. `Unconfined`). Before 1.19: a
        `seccomp.security.alpha.kubernetes.io/pod` or
        `container.seccomp.security.alpha.kubernetes.io/<container>` annotation
        other than `runtime/default`, `docker/default` or `localhost/<profile>`.
        An unset profile is allowed here (restricted requires one: KP0816).

    Why:
        Seccomp filters the system calls a container can make; `Unconfined`
        re-opens the whole kernel attack surface to it.

    How:
        Set `seccompProfile.type: RuntimeDefault` (or `Localhost` with a reviewed
        profile) instead of `Unconfined`.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          securityContext:
            seccompProfile:
              type: RuntimeDefault
          containers:
            - name: app
              image: registry.example.com/app:1.4.2
        ```
    """
    pod = res.pod
    assert pod is not None
    if not _since(ctx, 19):
        ann = pod.annotations
        keys = [SECCOMP_POD_ANNOTATION]
        keys += [SECCOMP_CONTAINER_ANNOTATION + c.name for c in pod.containers]
        for key in dict.fromkeys(keys):
            if key in ann and not _seccomp_annotation_ok(ann[key]):
                name = key[len(SECCOMP_CONTAINER_ANNOTATION):] \
                    if key.startswith(SECCOMP_CONTAINER_ANNOTATION) else None
                yield Violation((*pod.metadata_path, "annotations", key),
                                f"annotation {key}="
                                f"{quote(ann[key] if ann[key] is not None else '')}"
                                " sets a forbidden seccomp profile", container=name)
        return
    profile = pod.security_context.get("seccompProfile")
    if profile is not None:
        stype = as_dict(profile).get("type")
        if not _valid_type(stype, SECCOMP_VALID_TYPES):
            yield Violation(_psc_path(pod, "seccompProfile", "type"),
                            "pod must not set securityContext.seccompProfile.type to "
                            f"{_profile_type(profile)}")
    for c in pod.containers:
        profile = c.security_context.get("seccompProfile")
        if profile is None:
            continue
        stype = as_dict(profile).get("type")
        if not _valid_type(stype, SECCOMP_VALID_TYPES):
            yield Violation(_sc_path(c, "seccompProfile", "type"),
                            f"container {quote(c.name)} must not set "
                            f"securityContext.seccompProfile.type to {_profile_type(profile)}",
                            container=c.name)


@rule("KP0811", "pss-sysctls", practice=8, severity="high", pods=True, pss_level=PssLevel.BASELINE)
def sysctls(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Unsafe sysctl (PSS baseline `sysctls`).

    What:
        An entry of `spec.securityContext.sysctls` outside the safe set:
        `kernel.shm_rmid_forced`, `net.ipv4.ip_local_port_range`,
        `net.ipv4.tcp_syncookies`, `net.ipv4.ping_group_range`,
        `net.ipv4.ip_unprivileged_port_start`; plus
        `net.ipv4.ip_local_reserved_ports` from 1.27; `net.ipv4.tcp_keepalive_time`,
        `net.ipv4.tcp_fin_timeout`, `net.ipv4.tcp_keepalive_intvl`,
        `net.ipv4.tcp_keepalive_probes` from 1.29; `net.ipv4.tcp_rmem`,
        `net.ipv4.tcp_wmem` from 1.32; `net.ipv4.tcp_slow_start_after_idle`,
        `net.ipv4.tcp_notsent_lowat` from 1.37.

    Why:
        Only namespaced sysctls isolated from other pods are safe; the others
        change kernel behaviour for the whole node or weaken its defences.

    How:
        Remove the sysctl, or set it on dedicated nodes (node tuning, tainted
        node pool) rather than from the pod.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          securityContext:
            sysctls:
              - name: net.ipv4.ip_local_port_range
                value: "1024 65535"
          containers:
            - name: app
              image: registry.example.com/app:1.4.2
        ```
    """
    pod = res.pod
    assert pod is not None
    allowed = _sysctls_for(ctx)
    for i, entry in enumerate(as_list(pod.security_context.get("sysctls"))):
        name = entry.get("name") if isinstance(entry, dict) else entry
        if isinstance(name, str) and name in allowed:
            continue
        yield Violation(_psc_path(pod, "sysctls", i),
                        "pod must not set forbidden sysctl "
                        f"{quote(name if name is not None else '')}")


@rule("KP0818", "pss-host-probes", practice=8, severity="high", pods=True,
      pss_level=PssLevel.BASELINE)
def host_probes(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Probe or lifecycle hook with a custom host (PSS baseline `hostProbesAndHostLifecycle`).

    What:
        From 1.34: a non-empty `host` in the `httpGet` or `tcpSocket` handler of
        a container's liveness, readiness or startup probe, or of its
        `postStart`/`preStop` lifecycle hook.

    Why:
        Probes and hooks are executed by the kubelet from the node: a custom
        `host` turns them into a request the node makes on the pod's behalf to
        any address (node-local services, cloud metadata endpoints, other
        namespaces), bypassing NetworkPolicies.

    How:
        Remove `host`: the kubelet then targets the pod's own IP. For a virtual
        host, set an HTTP `Host` header in `httpHeaders` instead.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
            - name: app
              image: registry.example.com/app:1.4.2
              readinessProbe:
                httpGet:
                  path: /healthz
                  port: 8080
        ```
    """
    if not _since(ctx, 34):
        return
    pod = res.pod
    assert pod is not None
    for c in pod.containers:
        handlers: list[tuple[Path, Any]] = [((probe,), c.data.get(probe)) for probe in PROBES]
        lifecycle = as_dict(c.data.get("lifecycle"))
        handlers += [(("lifecycle", hook), lifecycle.get(hook)) for hook in LIFECYCLE_HOOKS]
        for where, handler in handlers:
            handler = as_dict(handler)
            for kind in HOST_HANDLERS:
                host = as_dict(handler.get(kind)).get("host")
                if host is None or host == "":
                    continue
                field = ".".join(map(str, (*where, kind, "host")))
                yield Violation((*c.path, *where, kind, "host"),
                                f"container {quote(c.name)} must not set {field} ({quote(host)})",
                                container=c.name)


# ------------------------------------------------------------------ restricted checks


@rule("KP0812", "pss-volume-types", practice=8, severity="medium", pods=True,
      pss_level=PssLevel.RESTRICTED)
def volume_types(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Volume type not allowed by restricted (PSS restricted `restrictedVolumes`).

    What:
        A volume whose source is not one of `configMap`, `csi`, `downwardAPI`,
        `emptyDir`, `ephemeral`, `image`, `persistentVolumeClaim`, `projected` or
        `secret`: e.g. `nfs`, `iscsi`, `rbd`, `cephfs`, `gitRepo`, `flexVolume` or
        the in-tree cloud disks. `hostPath` is reported by KP0805.

    Why:
        Inline volume sources let a pod mount storage directly, with
        credentials and node-side drivers under its control and outside
        PersistentVolume access policy; `gitRepo` runs git on the node.

    How:
        Mount the storage through a PersistentVolumeClaim (or a CSI driver) so
        that provisioning and access stay with the cluster administrators.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
            - name: app
              image: registry.example.com/app:1.4.2
              volumeMounts:
                - name: data
                  mountPath: /data
          volumes:
            - name: data
              persistentVolumeClaim:
                claimName: data
        ```
    """
    pod = res.pod
    assert pod is not None
    for i, vol in pod.volumes:
        if any(vol.get(key) is not None for key in RESTRICTED_VOLUME_ALLOWED):
            continue
        if vol.get("hostPath") is not None:
            continue  # KP0805
        for key in RESTRICTED_VOLUME_FORBIDDEN:
            if vol.get(key) is not None:
                yield Violation((*pod.spec_path, "volumes", i, key),
                                f"volume {quote(vol.get('name', i))} uses restricted volume "
                                f"type {quote(key)}")
                break


@rule("KP0813", "pss-privilege-escalation", practice=8, severity="medium", pods=True,
      pss_level=PssLevel.RESTRICTED)
def privilege_escalation(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Container may escalate privileges (PSS restricted `allowPrivilegeEscalation`).

    What:
        A container (init and ephemeral included) without
        `securityContext.allowPrivilegeEscalation: false`. The field has no
        pod-level equivalent. From 1.25 pods with `spec.os.name: windows` are
        exempt.

    Why:
        Unless it is explicitly `false`, a process can gain more privileges than
        its parent (setuid binaries, file capabilities): `no_new_privs` is what
        stops a compromised process from becoming root.

    How:
        Set `securityContext.allowPrivilegeEscalation: false` on every container.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
            - name: app
              image: registry.example.com/app:1.4.2
              securityContext:
                allowPrivilegeEscalation: false
        ```
    """
    if not _since(ctx, 8):
        return
    pod = res.pod
    assert pod is not None
    if _linux_exempt(pod, ctx):
        return
    for c in pod.containers:
        value = c.security_context.get("allowPrivilegeEscalation")
        if value is False:
            continue
        detail = "" if value is None else f" (it is {quote(value).lower()})"
        yield Violation(_sc_path(c, "allowPrivilegeEscalation"),
                        f"container {quote(c.name)} must set "
                        f"securityContext.allowPrivilegeEscalation=false{detail}",
                        container=c.name)


@fix("KP0813", safety=UNSAFE,
     why="setuid binaries and file capabilities, such as sudo and ping, stop working")
def no_privilege_escalation(res: Resource, settings: FixSettings) -> bool:
    """Set `allowPrivilegeEscalation: false` on every container (not on privileged
    ones or those adding CAP_SYS_ADMIN, which the API server would then reject;
    an explicit `true` only with `--unsafe-fixes`)."""
    pod = linux_pod(res)
    if pod is None:
        return False
    changed = False
    for c in targets(pod, settings, "KP0813"):
        sc = c.security_context
        value = sc.get("allowPrivilegeEscalation")
        if value is False or sc.get("privileged") is True or not may_replace(value, settings):
            continue
        adds = as_list(as_dict(sc.get("capabilities")).get("add"))
        if "SYS_ADMIN" in adds or "CAP_SYS_ADMIN" in adds:
            continue
        changed |= set_container(c, "allowPrivilegeEscalation", False)
    return changed


@rule("KP0814", "pss-run-as-non-root", practice=8, severity="medium", pods=True,
      pss_level=PssLevel.RESTRICTED)
def run_as_non_root(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Containers not required to run as non-root (PSS restricted `runAsNonRoot`).

    What:
        `runAsNonRoot: false` on the pod or a container, or a container that does
        not set `runAsNonRoot: true` while the pod's securityContext does not
        either (a container inherits the pod-level value). From 1.35 pods with
        `hostUsers: false` are exempt: their root is unprivileged on the node.

    Why:
        `runAsNonRoot: true` makes the kubelet refuse to start a container whose
        image would run as UID 0; root in a container is one kernel bug away from
        root on the node.

    How:
        Set `securityContext.runAsNonRoot: true` at pod level (inherited by every
        container) and build images that run as a non-root `USER`.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          securityContext:
            runAsNonRoot: true
            runAsUser: 10001
          containers:
            - name: app
              image: registry.example.com/app:1.4.2
        ```
    """
    pod = res.pod
    assert pod is not None
    if _since(ctx, 35) and _user_namespace(pod):
        return
    pod_value = pod.security_context.get("runAsNonRoot")
    if pod_value is not None and pod_value is not True:
        yield Violation(_psc_path(pod, "runAsNonRoot"),
                        "pod must not set securityContext.runAsNonRoot=false")
    for c in pod.containers:
        value = c.security_context.get("runAsNonRoot")
        if value is None:
            if pod_value is None:
                yield Violation(_sc_path(c, "runAsNonRoot"),
                                f"pod or container {quote(c.name)} must set "
                                "securityContext.runAsNonRoot=true", container=c.name)
        elif value is not True:
            yield Violation(_sc_path(c, "runAsNonRoot"),
                            f"container {quote(c.name)} must not set "
                            "securityContext.runAsNonRoot=false", container=c.name)


@fix("KP0814", safety=UNSAFE, reads_images=True,
     why="an image that runs as root or as a named user no longer starts")
def require_non_root(res: Resource, settings: FixSettings) -> bool:
    """Set `runAsNonRoot: true` at pod level (inherited) and on containers that say `false`
    (not in pods with `hostUsers: false`, whose root is unprivileged on the node; an
    explicit `false` only with `--unsafe-fixes`; with image facts, only where the
    image's user or `runAsUser` is a numeric non-root UID)."""
    pod = res.pod
    if pod is None or pod.spec.get("hostUsers") is False:
        return False
    pod_value = pod.security_context.get("runAsNonRoot")
    values = [c.security_context.get("runAsNonRoot") for c in pod.containers]
    runnable = [_runs_as_non_root(pod, c, settings) for c in pod.containers]
    pod_fails = pod_value is not None and pod_value is not True
    inherit_fails = pod_value is None and any(v is None for v in values)
    changed = False
    at_pod = (pod_fails or inherit_fails) and may_replace(pod_value, settings)
    if at_pod and all(ok for ok, v in zip(runnable, values, strict=True) if v is None):
        changed |= set_in(pod.spec, ("securityContext", "runAsNonRoot"), True, POD_SC_AFTER)
        pod_value = True
    allowed = {id(c.data) for c in targets(pod, settings, "KP0814")}
    for c, value, ok in zip(pod.containers, values, runnable, strict=True):
        inherits = value is None and pod_value is not True and may_replace(pod_value, settings)
        wrong = value is not None and value is not True and may_replace(value, settings)
        if ok and (inherits or wrong) and id(c.data) in allowed:
            changed |= set_container(c, "runAsNonRoot", True)
    return changed


def _runs_as_non_root(pod: PodView, c: ContainerView, settings: FixSettings) -> bool:
    """Whether ``runAsNonRoot: true`` lets container ``c`` start, as far as is known:
    a non-zero ``runAsUser`` (its own, else the pod's) says yes, zero says no;
    else the image's user (``--check-images``): only a numeric non-zero UID
    passes (the kubelet refuses a named user it cannot verify, and root).
    Without image facts (or when the image could not be read): yes, as the
    manifest alone cannot tell."""
    uid = c.security_context.get("runAsUser", pod.security_context.get("runAsUser"))
    if isinstance(uid, int) and not isinstance(uid, bool):
        return uid > 0
    info = image_info(c, settings)
    if info is None:
        return True
    user = (info.user or "").split(":", 1)[0].strip()
    return user.isascii() and user.isdigit() and len(user) <= 10 and int(user) > 0


@rule("KP0815", "pss-run-as-user", practice=8, severity="medium", pods=True,
      pss_level=PssLevel.RESTRICTED)
def run_as_user(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Pod or container runs as UID 0 (PSS restricted `runAsUser`).

    What:
        From 1.23: `securityContext.runAsUser: 0` on the pod or a container.
        Unset is allowed (KP0814 covers it). From 1.35 pods with
        `hostUsers: false` are exempt.

    Why:
        An explicit UID 0 runs the process as root, defeating `runAsNonRoot`.

    How:
        Set `runAsUser` to a non-zero UID (e.g. 10001), or remove it and let the
        image's non-root `USER` apply.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
            - name: app
              image: registry.example.com/app:1.4.2
              securityContext:
                runAsUser: 10001
        ```
    """
    if not _since(ctx, 23):
        return
    pod = res.pod
    assert pod is not None
    if _since(ctx, 35) and _user_namespace(pod):
        return
    if _is_root_uid(pod.security_context.get("runAsUser")):
        yield Violation(_psc_path(pod, "runAsUser"), "pod must not set runAsUser=0")
    for c in pod.containers:
        if _is_root_uid(c.security_context.get("runAsUser")):
            yield Violation(_sc_path(c, "runAsUser"),
                            f"container {quote(c.name)} must not set runAsUser=0",
                            container=c.name)


@rule("KP0816", "pss-seccomp-restricted", practice=8, severity="medium", pods=True,
      pss_level=PssLevel.RESTRICTED)
def seccomp_restricted(res: Resource, ctx: Context) -> Iterator[Violation]:
    """No seccomp profile (PSS restricted `seccompProfile_restricted`).

    What:
        From 1.19: a container with no `securityContext.seccompProfile` in a pod
        that sets none at pod level either (a container inherits the pod-level
        profile). An explicit forbidden type is reported by KP0810. From 1.25
        pods with `spec.os.name: windows` are exempt.

    Why:
        Without a profile most runtimes run containers `Unconfined`: every
        system call, including rarely used ones with a history of kernel
        exploits, is reachable.

    How:
        Set `securityContext.seccompProfile.type: RuntimeDefault` at pod level
        (or `Localhost` with a reviewed profile).

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          securityContext:
            seccompProfile:
              type: RuntimeDefault
          containers:
            - name: app
              image: registry.example.com/app:1.4.2
        ```
    """
    if not _since(ctx, 19):
        return
    pod = res.pod
    assert pod is not None
    if _linux_exempt(pod, ctx) or pod.security_context.get("seccompProfile") is not None:
        return
    for c in pod.containers:
        if c.security_context.get("seccompProfile") is None:
            yield Violation(_sc_path(c, "seccompProfile", "type"),
                            f"pod or container {quote(c.name)} must set "
                            'securityContext.seccompProfile.type to "RuntimeDefault" or '
                            '"Localhost"', container=c.name)


@fix("KP0816", safety=UNSAFE,
     why="the runtime's default profile blocks syscalls some programs need")
def seccomp_runtime_default(res: Resource, settings: FixSettings) -> bool:
    """Set the pod's `seccompProfile.type: RuntimeDefault` when neither the pod nor
    every container sets a profile."""
    pod = linux_pod(res)
    if pod is None or pod.security_context.get("seccompProfile") is not None:
        return False
    if all(c.security_context.get("seccompProfile") is not None for c in pod.containers):
        return False
    return set_in(pod.spec, ("securityContext", "seccompProfile"),
                  map_like(pod.spec, type="RuntimeDefault"), POD_SC_AFTER)


@rule("KP0817", "pss-capabilities-restricted", practice=8, severity="medium", pods=True,
      pss_level=PssLevel.RESTRICTED)
def capabilities_restricted(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Capabilities not all dropped (PSS restricted `capabilities_restricted`).

    What:
        From 1.22: a container whose `securityContext.capabilities.drop` does not
        contain `ALL`, or whose `capabilities.add` contains a default-set
        capability other than `NET_BIND_SERVICE` (capabilities outside the
        default set are reported by KP0804). From 1.25 pods with
        `spec.os.name: windows` are exempt.

    Why:
        The runtime's default set still grants `CHOWN`, `DAC_OVERRIDE`, `SETUID`,
        `NET_RAW` and more; dropping `ALL` removes privileges the workload
        almost never needs.

    How:
        Set `capabilities.drop: ["ALL"]` on every container and add back only
        `NET_BIND_SERVICE` when binding a port below 1024.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
            - name: app
              image: registry.example.com/app:1.4.2
              securityContext:
                capabilities:
                  drop: ["ALL"]
        ```
    """
    if not _since(ctx, 22):
        return
    pod = res.pod
    assert pod is not None
    if _linux_exempt(pod, ctx):
        return
    for c in pod.containers:
        caps = as_dict(c.security_context.get("capabilities"))
        if CAPABILITY_ALL not in as_list(caps.get("drop")):
            yield Violation(_sc_path(c, "capabilities", "drop"),
                            f'container {quote(c.name)} must set securityContext.capabilities.drop='
                            '["ALL"]', container=c.name)
        extra = [cap for cap in as_list(caps.get("add"))
                 if isinstance(cap, str) and cap in CAPABILITIES_BASELINE
                 and cap != CAPABILITY_NET_BIND_SERVICE]
        if extra:
            names = ", ".join(quote(cap) for cap in dict.fromkeys(extra))
            yield Violation(_sc_path(c, "capabilities", "add"),
                            f"container {quote(c.name)} must not include {names} in "
                            "securityContext.capabilities.add (only NET_BIND_SERVICE)",
                            container=c.name)


@fix("KP0817", safety=UNSAFE, reads_images=True,
     why="a program that needs a capability, to bind a port below 1024 or chown, fails")
def drop_all_capabilities(res: Resource, settings: FixSettings) -> bool:
    """Drop `ALL` capabilities and remove added ones other than `NET_BIND_SERVICE`
    (capabilities outside the default set are KP0804's and stay; added ones stay
    without `--unsafe-fixes`; `NET_BIND_SERVICE` is added for containers that listen
    below 1024: a `containerPort`, or with image facts an exposed port)."""
    pod = linux_pod(res)
    if pod is None:
        return False
    changed = False
    for c in targets(pod, settings, "KP0817"):
        caps = as_dict(c.security_context.get("capabilities"))
        drop = caps.get("drop")
        if CAPABILITY_ALL not in as_list(drop):
            if isinstance(drop, list):
                append(drop, CAPABILITY_ALL)
                changed = True
            elif drop is None:
                changed |= set_in(c.data, ("securityContext", "capabilities", "drop"),
                                  new_seq(c.data, [CAPABILITY_ALL]), SC_AFTER)
        add = caps.get("add")
        if isinstance(add, list) and settings.override_explicit:
            bad = [i for i, cap in enumerate(add) if isinstance(cap, str)
                   and cap in CAPABILITIES_BASELINE and cap != CAPABILITY_NET_BIND_SERVICE]
            for i in reversed(bad):
                del add[i]
            changed |= bool(bad)
        if _listens_below_1024(c, settings):
            changed |= _keep_net_bind(c)
    return changed


_PRIVILEGED_PORTS = 1024  # binding below this needs CAP_NET_BIND_SERVICE
_PORT = re.compile(r"([0-9]{1,5})(?:/[a-z]+)?")


def _listens_below_1024(c: ContainerView, settings: FixSettings) -> bool:
    """Whether the container listens on a privileged port, by its ``containerPort``s
    (the manifest says so: dropping the capability would stop it binding) or,
    with image facts, its image's ``ExposedPorts`` ("80/tcp")."""
    info = image_info(c, settings)
    ports: list[Any] = [as_dict(p).get("containerPort") for p in as_list(c.data.get("ports"))]
    for exposed in info.exposed_ports if info is not None else ():
        m = _PORT.fullmatch(str(exposed)[:16])
        ports.append(int(m.group(1)) if m else None)
    return any(isinstance(p, int) and not isinstance(p, bool) and 0 < p < _PRIVILEGED_PORTS
               for p in ports)


def _keep_net_bind(c: ContainerView) -> bool:
    """Add ``NET_BIND_SERVICE`` to the container's added capabilities unless there."""
    add = as_dict(c.security_context.get("capabilities")).get("add")
    if isinstance(add, list):
        if CAPABILITY_NET_BIND_SERVICE in add:
            return False
        append(add, CAPABILITY_NET_BIND_SERVICE)
        return True
    if add is not None:
        return False  # not a list: the owner's odd value, left for the API server to judge
    return set_in(c.data, ("securityContext", "capabilities", "add"),
                  new_seq(c.data, [CAPABILITY_NET_BIND_SERVICE]), SC_AFTER)


@rule("KP0819", "pss-proc-mount-restricted", practice=8, severity="medium", pods=True,
      pss_level=PssLevel.RESTRICTED)
def proc_mount_restricted(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Unmasked /proc in a user-namespaced pod (PSS restricted `procMount_restricted`).

    What:
        From 1.35: a container with `securityContext.procMount` other than
        `Default` in a pod with `hostUsers: false`. Baseline allows this from
        1.35; restricted does not. Without `hostUsers: false` it is KP0809.

    Why:
        A user namespace limits what an unmasked /proc exposes, but restricted
        keeps the default masks as defence in depth against kernel interfaces
        the namespace does not cover.

    How:
        Remove `procMount` (or set it to `Default`).

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          hostUsers: false
          containers:
            - name: app
              image: registry.example.com/app:1.4.2
              securityContext:
                procMount: Default
        ```
    """
    if not _since(ctx, 35):
        return
    pod = res.pod
    assert pod is not None
    if not _user_namespace(pod):
        return
    for c in pod.containers:
        value = _unmasked(c)
        if value is not None:
            yield Violation(_sc_path(c, "procMount"),
                            f"container {quote(c.name)} must not set securityContext.procMount "
                            f"to {quote(value)}", container=c.name)
