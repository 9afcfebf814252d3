"""Pod Security Standards, kernel confinement: AppArmor, SELinux, procMount (KP0809
and its twin KP0819), seccomp (KP0810 and its twin KP0816, with KP0816's fix) and
sysctls (KP0807-KP0811, KP0816, KP0819)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeproof.core.catalogue import fix, rule
from kubeproof.core.context import Context
from kubeproof.core.fixing import (
    POD_SC_AFTER,
    FixSettings,
    linux_pod,
    map_like,
    set_in,
)
from kubeproof.k8s.workloads import ContainerView
from kubeproof.model import UNSAFE, PssLevel, Resource, Violation
from kubeproof.rules.common import as_dict, as_list, quote
from kubeproof.rules.p08_pod_security.common import (
    linux_exempt,
    psc_path,
    sc_path,
    since,
    user_namespace,
)

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


def _allowed_sysctls(ctx: Context) -> frozenset[str]:
    allowed: set[str] = set()
    for minor, names in _SYSCTL_STEPS:
        if since(ctx, minor):
            allowed |= names
    return frozenset(allowed)


_SYSCTLS_BY_MINOR: dict[int, frozenset[str]] = {}


def _sysctls_for(ctx: Context) -> frozenset[str]:
    minor = ctx.kube_version[1]
    cached = _SYSCTLS_BY_MINOR.get(minor)
    if cached is None:
        cached = _SYSCTLS_BY_MINOR[minor] = _allowed_sysctls(ctx)
    return cached


def _valid_type(value: Any, allowed: frozenset[str]) -> bool:
    return isinstance(value, str) and value in allowed


def _profile_type(profile: Any) -> str:
    """A seccomp/AppArmor profile's ``type`` quoted for a message (profile is not None)."""
    if not isinstance(profile, dict):
        return "a non-mapping value"
    ptype = profile.get("type")
    return quote(ptype if ptype is not None else "")


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
            yield Violation(psc_path(pod, "appArmorProfile", "type"),
                            f"pod must not set AppArmor profile type to {_profile_type(profile)}")
    for c in pod.containers:
        profile = c.security_context.get("appArmorProfile")
        if profile is None:
            continue
        ptype = as_dict(profile).get("type")
        if not _valid_type(ptype, APPARMOR_VALID_TYPES):
            yield Violation(sc_path(c, "appArmorProfile", "type"),
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
    allowed = SELINUX_TYPES_1_31 if since(ctx, 31) else SELINUX_TYPES_1_0
    opts = pod.security_context.get("seLinuxOptions")
    if opts is not None:
        first, problems = _selinux_problems(as_dict(opts), allowed)
        if problems:
            yield Violation(psc_path(pod, "seLinuxOptions", first),
                            "pod sets forbidden securityContext.seLinuxOptions: "
                            + "; ".join(problems))
    for c in pod.containers:
        opts = c.security_context.get("seLinuxOptions")
        if opts is None:
            continue
        first, problems = _selinux_problems(as_dict(opts), allowed)
        if problems:
            yield Violation(sc_path(c, "seLinuxOptions", first),
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
    if since(ctx, 35) and user_namespace(pod):
        return
    for c in pod.containers:
        value = _unmasked(c)
        if value is not None:
            yield Violation(sc_path(c, "procMount"),
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
    if not since(ctx, 19):
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
            yield Violation(psc_path(pod, "seccompProfile", "type"),
                            "pod must not set securityContext.seccompProfile.type to "
                            f"{_profile_type(profile)}")
    for c in pod.containers:
        profile = c.security_context.get("seccompProfile")
        if profile is None:
            continue
        stype = as_dict(profile).get("type")
        if not _valid_type(stype, SECCOMP_VALID_TYPES):
            yield Violation(sc_path(c, "seccompProfile", "type"),
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
        yield Violation(psc_path(pod, "sysctls", i),
                        "pod must not set forbidden sysctl "
                        f"{quote(name if name is not None else '')}")


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
    if not since(ctx, 19):
        return
    pod = res.pod
    assert pod is not None
    if linux_exempt(pod, ctx) or pod.security_context.get("seccompProfile") is not None:
        return
    for c in pod.containers:
        if c.security_context.get("seccompProfile") is None:
            yield Violation(sc_path(c, "seccompProfile", "type"),
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
    if not since(ctx, 35):
        return
    pod = res.pod
    assert pod is not None
    if not user_namespace(pod):
        return
    for c in pod.containers:
        value = _unmasked(c)
        if value is not None:
            yield Violation(sc_path(c, "procMount"),
                            f"container {quote(c.name)} must not set securityContext.procMount "
                            f"to {quote(value)}", container=c.name)
