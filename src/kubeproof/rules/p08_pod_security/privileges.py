"""Pod Security Standards, privileges: privileged containers, capabilities (KP0804 and
its restricted twin KP0817), privilege escalation, non-root user IDs
(KP0803, KP0804, KP0813-KP0815, KP0817), with the fixes of KP0813, KP0814 and KP0817."""

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
    may_replace,
    new_seq,
    set_container,
    set_in,
    targets,
)
from kubeproof.k8s.workloads import ContainerView, PodView
from kubeproof.model import UNSAFE, PssLevel, Resource, Violation
from kubeproof.rules.common import as_dict, as_list, quote
from kubeproof.rules.p08_pod_security.common import (
    linux_exempt,
    psc_path,
    sc_path,
    since,
    user_namespace,
)

CAPABILITIES_BASELINE = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})
CAPABILITY_ALL = "ALL"
CAPABILITY_NET_BIND_SERVICE = "NET_BIND_SERVICE"


def _is_root_uid(value: Any) -> bool:
    return type(value) is int and value == 0


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
            yield Violation(sc_path(c, "privileged"),
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
            yield Violation(sc_path(c, "capabilities", "add"),
                            f"container {quote(c.name)} must not include {names} in "
                            "securityContext.capabilities.add", container=c.name)


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
    if not since(ctx, 8):
        return
    pod = res.pod
    assert pod is not None
    if linux_exempt(pod, ctx):
        return
    for c in pod.containers:
        value = c.security_context.get("allowPrivilegeEscalation")
        if value is False:
            continue
        detail = "" if value is None else f" (it is {quote(value).lower()})"
        yield Violation(sc_path(c, "allowPrivilegeEscalation"),
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
    if since(ctx, 35) and user_namespace(pod):
        return
    pod_value = pod.security_context.get("runAsNonRoot")
    if pod_value is not None and pod_value is not True:
        yield Violation(psc_path(pod, "runAsNonRoot"),
                        "pod must not set securityContext.runAsNonRoot=false")
    for c in pod.containers:
        value = c.security_context.get("runAsNonRoot")
        if value is None:
            if pod_value is None:
                yield Violation(sc_path(c, "runAsNonRoot"),
                                f"pod or container {quote(c.name)} must set "
                                "securityContext.runAsNonRoot=true", container=c.name)
        elif value is not True:
            yield Violation(sc_path(c, "runAsNonRoot"),
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
    if not since(ctx, 23):
        return
    pod = res.pod
    assert pod is not None
    if since(ctx, 35) and user_namespace(pod):
        return
    if _is_root_uid(pod.security_context.get("runAsUser")):
        yield Violation(psc_path(pod, "runAsUser"), "pod must not set runAsUser=0")
    for c in pod.containers:
        if _is_root_uid(c.security_context.get("runAsUser")):
            yield Violation(sc_path(c, "runAsUser"),
                            f"container {quote(c.name)} must not set runAsUser=0",
                            container=c.name)


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
    if not since(ctx, 22):
        return
    pod = res.pod
    assert pod is not None
    if linux_exempt(pod, ctx):
        return
    for c in pod.containers:
        caps = as_dict(c.security_context.get("capabilities"))
        if CAPABILITY_ALL not in as_list(caps.get("drop")):
            yield Violation(sc_path(c, "capabilities", "drop"),
                            f'container {quote(c.name)} must set securityContext.capabilities.drop='
                            '["ALL"]', container=c.name)
        extra = [cap for cap in as_list(caps.get("add"))
                 if isinstance(cap, str) and cap in CAPABILITIES_BASELINE
                 and cap != CAPABILITY_NET_BIND_SERVICE]
        if extra:
            names = ", ".join(quote(cap) for cap in dict.fromkeys(extra))
            yield Violation(sc_path(c, "capabilities", "add"),
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
