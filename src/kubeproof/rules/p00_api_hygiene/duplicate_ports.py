"""KP0004: container ports the API server warns about as duplicate or ambiguous.

The check mirrors the warnings the API server returns for a pod template
(``pkg/api/pod/warnings.go``): every port of every container, init and
ephemeral container is keyed by container port and protocol (``TCP`` when
unset, as defaulting gives it); a hostNetwork pod's ports get their container
port as host port, as defaulting does. Each port is compared with the ones
before it through a few lookups, so a template with very many ports costs
linear time, not one comparison per pair.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from kubeproof.core.catalogue import rule
from kubeproof.core.context import Context
from kubeproof.model import Path, Resource, Severity, Violation, format_path
from kubeproof.rules.common import as_list, quote

_PROTOCOLS = frozenset({"TCP", "UDP", "SCTP"})


@dataclass(slots=True)
class _Seen:
    """The earlier ports of one container port and protocol, as far as a new
    one's verdict needs them: where each (host IP, host port) pair was first
    declared, the first one without a host port, and per host port the first
    one with and without a host IP."""

    exact: dict[tuple[str, int], Path] = field(default_factory=dict)
    no_host_port: Path | None = None
    any_port: Path | None = None
    by_host_port: dict[tuple[int, bool], Path] = field(default_factory=dict)


def _port_number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@rule("KP0004", "duplicate-container-port", practice=0, severity="low", pods=True)
def duplicate_container_port(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Container port declared twice, or ambiguously, in one pod.

    What:
        A container port (`containerPort` and `protocol`, `TCP` when unset)
        that an earlier port of the same pod template declares again, across
        init, regular and ephemeral containers: with the same `hostIP` and
        `hostPort` (a duplicate), with a `hostPort` on one side only
        (overlapping), or with the same `hostPort` and a `hostIP` on one side
        only (ambiguous); and a `hostIP` without a `hostPort`. These are the
        warnings the API server prints on `kubectl apply`; in a hostNetwork
        pod each port's host port is its container port. Medium when the two
        ports belong to different containers (they share the pod's network:
        only one of them can listen), low within one container.

    Why:
        Containers of a pod share one network namespace: a second container
        listening on a port the first one holds fails to bind and restarts
        forever. Within one container the second entry is dead weight that
        hides which definition Services and probes refer to, and a `hostIP`
        without a `hostPort` is ignored.

    How:
        Give each container its own port, or remove the repeated entry; set
        `hostPort` wherever a `hostIP` is set (or drop the `hostIP`).

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
            - name: app
              image: registry.example.com/web:1.4.2
              ports:
                - containerPort: 8080
            - name: metrics
              image: registry.example.com/exporter:0.9.0
              ports:
                - containerPort: 9100
        ```
    """
    pod = res.pod
    if pod is None:
        return
    host_network = pod.spec.get("hostNetwork") is True
    seen: dict[tuple[int, str], _Seen] = {}
    for c in pod.containers:
        for i, port in enumerate(as_list(c.data.get("ports"))):
            if not isinstance(port, dict):
                continue
            container_port = _port_number(port.get("containerPort"))
            protocol = port.get("protocol", "TCP")
            host_ip = port.get("hostIP", "")
            host_port = _port_number(port.get("hostPort", 0))
            if container_port is None or host_port is None \
                    or not isinstance(protocol, str) or not isinstance(host_ip, str):
                continue  # KP0002 reports values of the wrong type
            if host_network and host_port == 0:
                host_port = container_port
            path: Path = (*c.path, "ports", i)
            shown = protocol if protocol in _PROTOCOLS else quote(protocol)
            here = f"container {quote(c.name)} port {container_port}/{shown}"
            if host_ip and host_port == 0:
                yield Violation((*path, "hostIP"), f"{here} sets hostIP {quote(host_ip)} "
                                "without a hostPort: the hostIP is ignored", container=c.name)
            earlier = seen.setdefault((container_port, protocol), _Seen())
            verdict = _conflict(earlier, host_ip, host_port)
            if verdict is not None:
                what, other = verdict
                other_container = other[:len(c.path)]
                yield Violation(
                    (*path, "containerPort"), f"{here} {what} {format_path(other)}",
                    container=c.name,
                    severity=Severity.MEDIUM if other_container != c.path else None)
            earlier.exact.setdefault((host_ip, host_port), path)
            earlier.any_port = earlier.any_port or path
            if host_port == 0:
                earlier.no_host_port = earlier.no_host_port or path
            else:
                earlier.by_host_port.setdefault((host_port, bool(host_ip)), path)


def _conflict(earlier: _Seen, host_ip: str, host_port: int) -> tuple[str, Path] | None:
    """The API server's verdict on a port against the earlier ones of its
    container port and protocol (the first that applies, as it checks them)."""
    if (host_ip, host_port) in earlier.exact:
        return "is declared already at", earlier.exact[(host_ip, host_port)]
    if host_port == 0 and earlier.any_port is not None:
        return "overlaps (no hostPort)", earlier.any_port
    if host_port != 0 and earlier.no_host_port is not None:
        return "overlaps (a hostPort beside none)", earlier.no_host_port
    if host_port != 0:
        other = earlier.by_host_port.get((host_port, not host_ip))
        if other is not None:
            return f"is ambiguous (hostPort {host_port} with and without a hostIP) with", other
    return None
