"""Rules for practice 14: workloads the platform can watch, restart and schedule sanely."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeproof.model import Context, Resource, Violation
from kubeproof.registry import rule
from kubeproof.rules.common import as_dict, quote
from kubeproof.rules.rollouts import missing_probe
from kubeproof.workloads import ContainerView, PodView


@rule("KP1401", "no-liveness-probe", practice=14, severity="low", pods=True)
def no_liveness_probe(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Long-running container without a livenessProbe.

    What:
        A regular container, or a native sidecar (init container with
        `restartPolicy: Always`), with no `livenessProbe`. Jobs, CronJobs,
        one-shot init containers and ephemeral containers are not checked.

    Why:
        A process that deadlocks or hangs without exiting stays Running for
        ever: nothing restarts it and nothing alerts on it. The liveness probe
        is how the kubelet notices and restarts it, and its failures are the
        events and restart counts that monitoring picks up.

    How:
        Add a `livenessProbe` that fails only when a restart would help (a
        cheap endpoint that does not depend on downstream services), with a
        `failureThreshold` generous enough not to kill a slow but healthy
        process.

    Example:
        ```yaml
        containers:
          - name: web
            image: ghcr.io/acme/web:1.4.2
            livenessProbe:
              httpGet:
                path: /healthz/live
                port: 8080
              periodSeconds: 10
              failureThreshold: 6
        ```
    """
    yield from missing_probe(res, "livenessProbe")


@rule("KP1402", "identical-probes", practice=14, severity="medium", pods=True)
def identical_probes(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Liveness probe identical to the readiness probe.

    What:
        A container whose `livenessProbe` and `readinessProbe` are exactly the
        same (handler, port, path and every timing field).

    Why:
        Readiness answers "should this pod get traffic now?"; liveness answers
        "is this process beyond repair?". When both are the same check, a
        transient overload or a slow dependency that should only take the pod
        out of rotation also makes the kubelet kill it, and a restart storm
        follows exactly when the service is under stress.

    How:
        Point liveness at a cheaper check that only fails when the process is
        stuck, or at least give it a higher `failureThreshold` /
        `periodSeconds` than readiness so it trips later.

    Example:
        ```yaml
        readinessProbe:
          httpGet: {path: /healthz/ready, port: 8080}
          periodSeconds: 5
        livenessProbe:
          httpGet: {path: /healthz/live, port: 8080}
          periodSeconds: 10
          failureThreshold: 6
        ```
    """
    pod = res.pod
    if pod is None:
        return
    for c in pod.containers:
        live = c.data.get("livenessProbe")
        if isinstance(live, dict) and live and live == c.data.get("readinessProbe"):
            yield Violation((*c.path, "livenessProbe"),
                            f"container {quote(c.name)} has a livenessProbe identical to its "
                            "readinessProbe", container=c.name)


def _resources(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    res = as_dict(data.get("resources"))
    return as_dict(res.get("requests")), as_dict(res.get("limits"))


def _has(mapping: dict[str, Any], key: str) -> bool:
    value = mapping.get(key)
    return value is not None and value != ""


def _sized(pod: PodView) -> Iterator[ContainerView]:
    """Containers that can carry resources: all but ephemeral ones."""
    for c in pod.containers:
        if c.list_name != "ephemeralContainers":
            yield c


@rule("KP1403", "no-resource-requests", practice=14, severity="medium", pods=True)
def no_resource_requests(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Container without CPU and memory requests.

    What:
        An init, sidecar or regular container that does not request both
        `cpu` and `memory` (one finding per container, naming what is
        missing). A limit with no request counts as a request, because the API
        server copies limits into unset requests; pod-level `spec.resources`
        (Kubernetes 1.32+) counts for every container. Ephemeral containers
        cannot set resources and are skipped.

    Why:
        The scheduler places pods by their requests. A container with none is
        BestEffort (or Burstable with a hole): it can be packed onto a full
        node, is the first evicted under pressure, and makes capacity
        planning and per-team cost reporting guesswork.

    How:
        Set `resources.requests.cpu` and `resources.requests.memory` from the
        container's observed usage (e.g. a VPA recommendation).

    Example:
        ```yaml
        resources:
          requests:
            cpu: 100m
            memory: 128Mi
          limits:
            memory: 256Mi
        ```
    """
    pod = res.pod
    if pod is None:
        return
    pod_requests, pod_limits = _resources(pod.spec)
    for c in _sized(pod):
        requests, limits = _resources(c.data)
        missing = [r for r in ("cpu", "memory")
                   if not (_has(requests, r) or _has(limits, r)
                           or _has(pod_requests, r) or _has(pod_limits, r))]
        if not missing:
            continue
        path = (*c.path, "resources", "requests")
        if len(missing) == 1:
            path = (*path, missing[0])
            message = f"container {quote(c.name)} has no {missing[0]} request"
        else:
            message = f"container {quote(c.name)} requests neither cpu nor memory"
        yield Violation(path, message, container=c.name)


@rule("KP1404", "no-memory-limit", practice=14, severity="medium", pods=True)
def no_memory_limit(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Container without a memory limit.

    What:
        An init, sidecar or regular container with no
        `resources.limits.memory`, and no pod-level `spec.resources.limits.memory`
        (Kubernetes 1.32+) bounding it. Ephemeral containers are skipped.

    Why:
        Memory is not compressible: a container without a limit can grow
        until the node runs out, and the kernel OOM killer or kubelet eviction
        then takes down neighbours that did nothing wrong. A limit turns a
        leak into a visible, contained OOMKilled restart of the guilty
        container.

    How:
        Set `resources.limits.memory`, usually equal to or a little above the
        memory request.

    Example:
        ```yaml
        resources:
          requests:
            memory: 256Mi
          limits:
            memory: 256Mi
        ```
    """
    pod = res.pod
    if pod is None:
        return
    _, pod_limits = _resources(pod.spec)
    if _has(pod_limits, "memory"):
        return
    for c in _sized(pod):
        _, limits = _resources(c.data)
        if not _has(limits, "memory"):
            yield Violation((*c.path, "resources", "limits", "memory"),
                            f"container {quote(c.name)} has no memory limit", container=c.name)
