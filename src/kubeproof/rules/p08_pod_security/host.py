"""Pod Security Standards, host access: host process, host namespaces, host ports and
the hosts of probes and lifecycle hooks (KP0801, KP0802, KP0806, KP0818)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeproof.core.catalogue import rule
from kubeproof.core.context import Context
from kubeproof.model import Path, PssLevel, Resource, Violation
from kubeproof.rules.common import as_dict, as_list, quote
from kubeproof.rules.p08_pod_security.common import psc_path, sc_path, since

PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
LIFECYCLE_HOOKS = ("postStart", "preStop")
HOST_HANDLERS = ("httpGet", "tcpSocket")


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
        yield Violation(psc_path(pod, "windowsOptions", "hostProcess"),
                        "pod must not set securityContext.windowsOptions.hostProcess=true")
    for c in pod.containers:
        opts = as_dict(c.security_context.get("windowsOptions"))
        if opts.get("hostProcess") is True:
            yield Violation(sc_path(c, "windowsOptions", "hostProcess"),
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
    if not since(ctx, 34):
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
