"""Rules for practice 8 beyond the Pod Security Standards: host file system
access, writable root file systems, the removed PodSecurityPolicy API and the
Pod Security Admission labels of namespaces."""

from __future__ import annotations

import re
from collections.abc import Iterator, MutableMapping
from typing import Any

from kubeproof.core.catalogue import fix, rule
from kubeproof.core.context import Context
from kubeproof.core.fixing import (
    SC_AFTER,
    FixSettings,
    append,
    image_info,
    linux_pod,
    map_like,
    may_replace,
    new_map,
    new_seq,
    put,
    set_container,
    targets,
)
from kubeproof.core.index import Index
from kubeproof.k8s.workloads import ContainerView, PodView
from kubeproof.model import UNSAFE, Resource, Scope, SetViolation, Violation
from kubeproof.rules.common import as_dict, as_list, quote

# Container runtime API endpoints: whoever can connect to one can start a
# privileged container on the node. A read-only mount does not prevent
# connect(2) on a Unix socket, so these are flagged even when read-only.
_RUNTIME_SOCKET = re.compile(
    r"(?:^|[/\\])(?:docker|dockershim|cri-dockerd|containerd|crio|podman)\.sock$"
    r"|\\pipe\\(?:docker_engine|containerd-containerd)$",
    re.IGNORECASE,
)


def _runtime_socket(path: Any) -> bool:
    return isinstance(path, str) and bool(_RUNTIME_SOCKET.search(path.strip().rstrip("/")))


@rule("KP0820", "writable-host-path", practice=8, severity="critical", pods=True)
def writable_host_path(res: Resource, ctx: Context) -> Iterator[Violation]:
    """hostPath volume mounted writable, or a container runtime socket mounted at all.

    What:
        A container that mounts a `hostPath` volume without `readOnly: true` on
        its `volumeMount` (one finding per mount), and any mount of a container
        runtime socket (`docker.sock`, `containerd.sock`, `crio.sock`,
        `podman.sock`, including a socket reached through `subPath`), even a
        read-only one. A `hostPath` volume that no container mounts is not
        reported.

    Why:
        Write access to a node directory is write access to the node: a
        container can plant binaries, cron jobs, kubelet configuration or
        static pod manifests and take the host over. A runtime socket is worse:
        `readOnly` does not stop a process from connecting to a Unix socket, and
        the runtime API can start a privileged container on the node.

    How:
        Mount `hostPath` volumes with `readOnly: true`, narrow `path` to the
        directory the workload needs, and never mount a container runtime socket;
        use a CSI driver or a dedicated node agent instead.

        Pod Security `baseline` forbids `hostPath` volumes altogether (KP0805);
        this rule ranks the ones that remain by what they allow.

    Example:
        ```yaml
        apiVersion: apps/v1
        kind: DaemonSet
        metadata:
          name: log-shipper
        spec:
          selector:
            matchLabels: {app: log-shipper}
          template:
            metadata:
              labels: {app: log-shipper}
            spec:
              containers:
                - name: log-shipper
                  image: fluent/fluent-bit:3.0
                  volumeMounts:
                    - name: varlog
                      mountPath: /var/log
                      readOnly: true
              volumes:
                - name: varlog
                  hostPath:
                    path: /var/log
        ```
    """
    pod = res.pod
    assert pod is not None
    host_paths: dict[str, tuple[int, Any]] = {}
    for i, vol in pod.volumes:
        hp = vol.get("hostPath")
        name = vol.get("name")
        if isinstance(hp, dict) and isinstance(name, str):
            host_paths.setdefault(name, (i, hp.get("path")))
    if not host_paths:
        return
    vol_path = (*pod.spec_path, "volumes")
    for c in pod.containers:
        seen_sockets: set[tuple[str, str]] = set()
        for j, mount in enumerate(as_list(c.data.get("volumeMounts"))):
            if not isinstance(mount, dict):
                continue
            name = mount.get("name")
            if not isinstance(name, str) or name not in host_paths:
                continue
            index, path = host_paths[name]
            shown = path if isinstance(path, str) else "?"
            sub = mount.get("subPath")
            where = mount.get("mountPath")
            at = f" at {where}" if isinstance(where, str) else ""
            if _runtime_socket(path) or (isinstance(sub, str) and _runtime_socket(sub)):
                target = (
                    (*vol_path, index, "hostPath", "path") if _runtime_socket(path)
                    else (*c.path, "volumeMounts", j, "subPath")
                )
                sock = shown if _runtime_socket(path) else f"{shown.rstrip('/')}/{sub}"
                if (name, sock) in seen_sockets:
                    continue
                seen_sockets.add((name, sock))
                yield Violation(
                    target,
                    f"container {quote(c.name)} mounts the container runtime socket {sock}"
                    f" (volume {quote(name)}){at}",
                    container=c.name,
                )
            elif mount.get("readOnly") is not True:
                yield Violation(
                    (*c.path, "volumeMounts", j, "readOnly"),
                    f"container {quote(c.name)} mounts hostPath {shown} (volume {quote(name)}){at}"
                    " without readOnly: true",
                    container=c.name,
                )


@rule("KP0821", "writable-root-filesystem", practice=8, severity="medium", pods=True)
def writable_root_filesystem(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Container whose root file system is writable.

    What:
        Every container (init, regular and ephemeral) that does not set
        `securityContext.readOnlyRootFilesystem: true`. The setting exists only
        at container level, so nothing is inherited from the pod. Windows pods
        (`spec.os.name: windows`) are skipped: the field cannot be set there.

    Why:
        A writable root file system lets an attacker who gets code execution
        drop tools, modify binaries and configuration, and persist until the
        container restarts. A read-only root also makes the image the single
        source of truth for what runs, and exposes undeclared writes in testing.

    How:
        Set `securityContext.readOnlyRootFilesystem: true` on every container and
        mount an `emptyDir` at each path the process must write to (`/tmp`,
        caches, pid files).

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
            - name: app
              image: ghcr.io/acme/app:1.4.2
              securityContext:
                readOnlyRootFilesystem: true
              volumeMounts:
                - name: tmp
                  mountPath: /tmp
          volumes:
            - name: tmp
              emptyDir: {}
        ```
    """
    pod = res.pod
    assert pod is not None
    if pod.is_windows:
        return
    for c in pod.containers:
        value = c.security_context.get("readOnlyRootFilesystem")
        if value is True:
            continue
        if value is None:
            msg = f"container {quote(c.name)} does not set readOnlyRootFilesystem: true"
        else:
            msg = f"container {quote(c.name)} sets readOnlyRootFilesystem: {_show(value)}"
        yield Violation((*c.path, "securityContext", "readOnlyRootFilesystem"), msg,
                        container=c.name)


@fix("KP0821", safety=UNSAFE, reads_images=True,
     why="a program that writes outside its volumes, to /tmp or a cache, fails")
def read_only_root(res: Resource, settings: FixSettings) -> bool:
    """Set `readOnlyRootFilesystem: true` on every container (an explicit `false`
    only with `--unsafe-fixes`; with image facts, with an `emptyDir` at `/tmp`)."""
    pod = linux_pod(res)
    if pod is None:
        return False
    changed = False
    for c in targets(pod, settings, "KP0821"):
        value = c.security_context.get("readOnlyRootFilesystem")
        if value is True or not may_replace(value, settings):
            continue
        changed |= set_container(c, "readOnlyRootFilesystem", True)
        if image_info(c, settings) is not None and c.list_name != "ephemeralContainers":
            changed |= _writable_tmp(pod, c)
    return changed


TMP_VOLUME = "tmp"


def _writable_tmp(pod: PodView, c: ContainerView) -> bool:
    """Mount an ``emptyDir`` at ``/tmp`` in ``c`` unless something is mounted there:
    the pod's volume ``tmp`` when it is an emptyDir already, else a new one
    (``tmp``, or ``tmp-2``... when that name is taken)."""
    mounts = c.data.get("volumeMounts")
    if mounts is not None and not isinstance(mounts, list):
        return False
    if any(as_dict(m).get("mountPath") in ("/tmp", "/tmp/") for m in mounts or ()):
        return False
    volumes = pod.spec.get("volumes")
    if volumes is not None and not isinstance(volumes, list):
        return False
    taken = {v["name"]: v for v in volumes or () if isinstance(v, MutableMapping)
             and isinstance(v.get("name"), str)}
    name = TMP_VOLUME
    for n in range(2, len(taken) + 3):
        if name not in taken or (set(taken[name]) == {"name", "emptyDir"}):
            break
        name = f"{TMP_VOLUME}-{n}"
    if name not in taken:
        volume = map_like(pod.spec, name=name, emptyDir=new_map(pod.spec))
        if volumes is None:
            put(pod.spec, "volumes", new_seq(pod.spec, [volume]))
        else:
            append(volumes, volume)
    mount = map_like(c.data, name=name, mountPath="/tmp")
    if mounts is None:
        put(c.data, "volumeMounts", new_seq(c.data, [mount]), SC_AFTER)
    else:
        append(mounts, mount)
    return True


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return quote(value)


# Volume types allowed by the restricted Pod Security Standard.
_RESTRICTED_VOLUMES = frozenset({
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
})
# Capabilities the baseline Pod Security Standard allows to be added.
_BASELINE_CAPS = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})
_SECCOMP_ANNOTATION = "seccomp.security.alpha.kubernetes.io/allowedProfileNames"


def _cap(name: Any) -> str:
    text = str(name).upper()
    return text[4:] if text.startswith("CAP_") else text


def _psp_level(spec: dict[str, Any], annotations: dict[str, Any]) -> tuple[str, list[str]]:
    """The closest Pod Security Standard level to a PSP spec, and why."""
    privileged: list[str] = []
    if spec.get("privileged") is True:
        privileged.append("privileged containers")
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key) is True:
            privileged.append(key)
    if as_list(spec.get("hostPorts")):
        privileged.append("hostPorts")
    volumes = {str(v) for v in as_list(spec.get("volumes"))}
    if "hostPath" in volumes or "*" in volumes:
        privileged.append("hostPath volumes")
    caps = {_cap(c) for c in as_list(spec.get("allowedCapabilities"))}
    extra = sorted(c for c in caps if c not in _BASELINE_CAPS)
    if extra:
        privileged.append("capabilities " + ", ".join(extra))
    if as_list(spec.get("allowedUnsafeSysctls")):
        privileged.append("unsafe sysctls")
    if "Unmasked" in {str(p) for p in as_list(spec.get("allowedProcMountTypes"))}:
        privileged.append("Unmasked procMount")
    if privileged:
        return "privileged", privileged

    loose: list[str] = []
    if spec.get("allowPrivilegeEscalation") is not False:
        loose.append("privilege escalation")
    run_as = as_dict(spec.get("runAsUser"))
    strategy = run_as.get("rule")
    ranges = [r for r in as_list(run_as.get("ranges")) if isinstance(r, dict)]
    non_root = strategy == "MustRunAsNonRoot" or (
        strategy == "MustRunAs" and bool(ranges)
        and all(isinstance(r.get("min"), int) and r["min"] > 0 for r in ranges))
    if not non_root:
        loose.append("running as root")
    if not volumes <= _RESTRICTED_VOLUMES:
        loose.append("volume types beyond the restricted set")
    dropped = {_cap(c) for c in as_list(spec.get("requiredDropCapabilities"))}
    if "ALL" not in dropped or caps - {"NET_BIND_SERVICE"}:
        loose.append("capabilities beyond NET_BIND_SERVICE")
    profiles = annotations.get(_SECCOMP_ANNOTATION)
    allowed = {p.strip() for p in profiles.split(",")} if isinstance(profiles, str) else set()
    if not allowed or not allowed <= {"runtime/default", "docker/default"}:
        loose.append("unconfined seccomp")
    if loose:
        return "baseline", loose
    return "restricted", []


@rule("KP0822", "pod-security-policy", practice=8, severity="high",
      kinds={"PodSecurityPolicy"})
def pod_security_policy(res: Resource, ctx: Context) -> Iterator[Violation]:
    """PodSecurityPolicy object, an API removed in Kubernetes 1.25.

    What:
        Any `PodSecurityPolicy` (`policy/v1beta1` or `extensions/v1beta1`). The
        finding names the Pod Security Standard level closest to what the policy
        allows: `privileged` when it allows privileged containers, host
        namespaces, host ports, `hostPath` volumes, extra capabilities or unsafe
        sysctls; `restricted` when it also forces non-root, no privilege
        escalation, dropped capabilities, runtime/default seccomp and restricted
        volume types; `baseline` in between.

    Why:
        PodSecurityPolicy was deprecated in 1.21 and removed in 1.25: the
        object is rejected by current API servers and enforces nothing on
        clusters that still accept it once the admission plugin is gone. The
        protection it was meant to give silently disappears on upgrade.

    How:
        Delete the policy and label each namespace with the Pod Security
        Admission level it should enforce (`pod-security.kubernetes.io/enforce`,
        plus `warn` and `audit`); use Kyverno, Gatekeeper or
        ValidatingAdmissionPolicy for rules the three levels do not express.

    Example:
        ```yaml
        apiVersion: v1
        kind: Namespace
        metadata:
          name: shop
          labels:
            pod-security.kubernetes.io/enforce: restricted
            pod-security.kubernetes.io/warn: restricted
            pod-security.kubernetes.io/audit: restricted
        ```
    """
    level, reasons = _psp_level(as_dict(res.obj.get("spec")),
                                as_dict(res.metadata.get("annotations")))
    if level == "privileged":
        why = f" (it allows {', '.join(reasons)})"
    elif level == "baseline":
        why = f" (restricted would also forbid {', '.join(reasons)})"
    else:
        why = ""
    status = ("was removed in Kubernetes 1.25" if ctx.kube_version >= (1, 25)
              else "is deprecated and removed in Kubernetes 1.25")
    yield Violation(
        ("kind",),
        f"PodSecurityPolicy {quote(res.name)} {status}; replace it with the namespace labels"
        f" pod-security.kubernetes.io/enforce, warn and audit set to {quote(level)}{why}",
    )


# ---------------------------------------------------------------- KP0823

PSS_ENFORCE = "pod-security.kubernetes.io/enforce"
# Namespaces Kubernetes creates for itself: kube-system runs the node agents
# (CNI, kube-proxy, CSI node plugins) that need privileged pods and is usually
# exempted in the PodSecurity admission configuration; the other two hold no pods.
PSS_SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})


@rule("KP0823", "namespace-no-pss-label", practice=8, severity="medium", scope=Scope.SET)
def namespace_no_pss_label(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Namespace that does not enforce a Pod Security Standard.

    What:
        A Namespace of the set (or cluster) without the label
        `pod-security.kubernetes.io/enforce`, or with it set to `privileged`.
        `kube-system`, `kube-public` and `kube-node-lease` are not judged. A
        value that is not a level at all is not reported here: the admission
        plugin evaluates it as `restricted`.

    Why:
        Pod Security Admission applies only what the namespace label asks for
        (or the cluster-wide default, which is `privileged` unless configured).
        Without `enforce`, a privileged, host-network or hostPath pod is
        admitted as readily as any other, and the Pod Security findings of the
        manifests are never enforced by the cluster.

    How:
        Label the namespace `pod-security.kubernetes.io/enforce: restricted`
        (or `baseline` while workloads are brought up to restricted), with
        `warn` and `audit` at `restricted` to see what would break.

        Namespaces that must run privileged node agents (CNI, storage, node
        monitoring) should say so: keep `privileged` and record the decision
        with `kubeproof.dev/ignore: KP0823` and `kubeproof.dev/ignore-reason`.

    Example:
        ```yaml
        apiVersion: v1
        kind: Namespace
        metadata:
          name: shop
          labels:
            pod-security.kubernetes.io/enforce: restricted
            pod-security.kubernetes.io/warn: restricted
        ```
    """
    for name, record in index.namespaces.items():
        if name in PSS_SYSTEM_NAMESPACES:
            continue
        labels = as_dict(record.data.get("labels"))
        level = labels.get(PSS_ENFORCE)
        if level is None:
            yield SetViolation(record.ref, ("metadata", "labels"),
                               f"namespace {quote(name)} has no {PSS_ENFORCE} label")
        elif level == "privileged":
            yield SetViolation(record.ref, ("metadata", "labels", PSS_ENFORCE),
                               f"namespace {quote(name)} enforces the privileged Pod Security "
                               f"level ({PSS_ENFORCE}: privileged)")
