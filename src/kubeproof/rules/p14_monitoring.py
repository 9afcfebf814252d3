"""Rules for practice 14: workloads the platform can watch, restart and schedule sanely."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from kubeproof.core.catalogue import fix, rule
from kubeproof.core.context import Context
from kubeproof.core.fixing import RESOURCES_AFTER, FixSettings, set_in, targets
from kubeproof.core.index import Index, Record
from kubeproof.k8s.quantity import quantity_or_none
from kubeproof.k8s.selectors import SelectorError, label_selector_matches, map_selector_matches
from kubeproof.k8s.workloads import BATCH_KINDS, ContainerView, PodView
from kubeproof.model import UNSAFE, Resource, Scope, SetViolation, Violation
from kubeproof.rules.common import as_dict, quote
from kubeproof.rules.p13_rollouts.workload_specs import missing_probe


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
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: shop}
        spec:
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
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
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: shop}
        spec:
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
                - name: web
                  image: ghcr.io/acme/web:1.4.2
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
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: shop}
        spec:
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
                - name: web
                  image: ghcr.io/acme/web:1.4.2
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


def _sized_targets(pod: PodView, settings: FixSettings, code: str) -> Iterator[ContainerView]:
    """Containers that can carry resources: all but ephemeral ones."""
    return (c for c in targets(pod, settings, code) if c.list_name != "ephemeralContainers")


def _has_value(mapping: Any, key: str) -> bool:
    value = as_dict(mapping).get(key)
    return value is not None and value != ""


def _invalid_default(value: Any) -> bool:
    """A configured default that is unset, or not a valid non-negative quantity."""
    parsed = quantity_or_none(value)
    return parsed is None or parsed.negative


@fix("KP1403", safety=UNSAFE,
     why="requests larger than a node's free capacity leave pods Pending")
def default_requests(res: Resource, settings: FixSettings) -> bool:
    """Request the configured CPU and memory (`fix.resources.requests`) where a
    container requests neither it nor limits it."""
    pod = res.pod
    if pod is None:
        return False
    pod_res = as_dict(pod.spec.get("resources"))
    changed = False
    for c in _sized_targets(pod, settings, "KP1403"):
        cres = as_dict(c.data.get("resources"))
        for name in ("cpu", "memory"):
            value = settings.requests.get(name)
            if _invalid_default(value) or any(_has_value(m.get(kind), name)
                                              for m in (cres, pod_res)
                                              for kind in ("requests", "limits")):
                continue
            changed |= set_in(c.data, ("resources", "requests", name), value,
                              RESOURCES_AFTER)
    return changed


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
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: shop}
        spec:
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
                - name: web
                  image: ghcr.io/acme/web:1.4.2
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


@fix("KP1404", safety=UNSAFE,
     why="a process that needs more memory than the limit is OOM-killed")
def default_memory_limit(res: Resource, settings: FixSettings) -> bool:
    """Limit memory to `fix.resources.limits.memory`, or to the container's memory
    request when that is larger (a limit below the request is invalid)."""
    pod = res.pod
    default = settings.limits.get("memory")
    if pod is None or default is None:
        return False
    if _has_value(as_dict(pod.spec.get("resources")).get("limits"), "memory"):
        return False
    changed = False
    for c in _sized_targets(pod, settings, "KP1404"):
        cres = as_dict(c.data.get("resources"))
        if _has_value(cres.get("limits"), "memory"):
            continue
        limit = _memory_limit(as_dict(cres.get("requests")).get("memory"), default)
        if limit is not None:
            changed |= set_in(c.data, ("resources", "limits", "memory"), limit,
                              RESOURCES_AFTER)
    return changed


def _memory_limit(request: Any, default: Any) -> Any:
    """The limit KP1404 writes: ``default``, or ``request`` when that is larger.
    None when either is not a valid, non-negative quantity: nothing derived from
    an invalid value is written (KP0002 reports it)."""
    default_q = quantity_or_none(default)
    if default_q is None or default_q.negative:
        return None
    if request is None or request == "":
        return default
    request_q = quantity_or_none(request)
    if request_q is None or request_q.negative:
        return None
    return request if request_q > default_q else default


# ---------------------------------------------------------------- KP1405

SCRAPE_ANNOTATION = "prometheus.io/scrape"
_ANY = "*"  # a monitor that selects in every namespace (namespaceSelector any: true)
_UNNAMED = "\0unnamed"  # the application's unknown namespace (no metadata.namespace)


def _scrape_on(annotations: Any) -> bool:
    value = as_dict(annotations).get(SCRAPE_ANNOTATION)
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() == "true"


def _hashable(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None


class _SelectorBuckets:
    """Selectors bucketed by one requirement they make, so that finding the ones
    that may select a label set costs that set's labels, not every selector.

    A selector goes in one bucket: a ``matchLabels`` pair, else the values of
    an ``In`` expression (a label has one value, so it is found once), else
    the key of an ``Exists`` expression, else the bucket tried for everything.
    """

    __slots__ = ("by_key", "by_pair", "rest")

    def __init__(self) -> None:
        self.by_pair: dict[tuple[Any, Any], list[Any]] = defaultdict(list)
        self.by_key: dict[Any, list[Any]] = defaultdict(list)
        self.rest: list[Any] = []

    def add(self, match_labels: Any, item: Any, expressions: Any = None) -> None:
        if isinstance(match_labels, dict):
            for k, v in match_labels.items():
                if _hashable(v):
                    self.by_pair[(k, v)].append(item)
                    return
        for expr in expressions if isinstance(expressions, list) else ():
            if not isinstance(expr, dict) or not isinstance(expr.get("key"), str):
                continue
            key, op, values = expr["key"], expr.get("operator"), expr.get("values")
            if op == "In" and isinstance(values, list) and values \
                    and all(_hashable(v) for v in values):
                for v in set(values):
                    self.by_pair[(key, v)].append(item)
                return
            if op == "Exists":
                self.by_key[key].append(item)
                return
        self.rest.append(item)

    def candidates(self, labels: dict[str, Any]) -> Iterator[Any]:
        for k, v in labels.items():
            if _hashable(v):
                yield from self.by_pair.get((k, v), ())
            yield from self.by_key.get(k, ())
        yield from self.rest


def _monitor_scope(m: Record, spec: dict[str, Any]) -> list[str]:
    """Namespaces a ServiceMonitor/PodMonitor looks in (``*`` = any): its own
    unless ``namespaceSelector`` says ``any: true`` or lists ``matchNames``. A
    monitor without a namespace looks only among the objects without one."""
    ns_sel = as_dict(spec.get("namespaceSelector"))
    if ns_sel.get("any") is True:
        return [_ANY]
    names = [n for n in ns_sel.get("matchNames") or [] if isinstance(n, str)] \
        if isinstance(ns_sel.get("matchNames"), list) else []
    if names:
        return names
    return [m.ref.namespace or _UNNAMED]


def _monitors(index: Index, kind: str) -> dict[str, _SelectorBuckets]:
    """The label selectors of the set's monitors of ``kind``, by namespace."""
    out: dict[str, _SelectorBuckets] = defaultdict(_SelectorBuckets)
    for m in index.monitors:
        if m.ref.kind != kind:
            continue
        spec = as_dict(m.data.get("spec"))
        # the operator reads a missing selector as the empty one: everything
        selector = spec.get("selector", {})
        if selector is None:
            selector = {}
        if not isinstance(selector, dict):
            continue
        for ns in _monitor_scope(m, spec):
            out[ns].add(selector.get("matchLabels"), selector,
                        selector.get("matchExpressions"))
    return out


def _selected(buckets: Iterable[_SelectorBuckets | None], labels: dict[str, Any]) -> bool:
    for bucket in buckets:
        if bucket is None:
            continue
        for selector in bucket.candidates(labels):
            try:
                if label_selector_matches(selector, labels):
                    return True
            except SelectorError:
                continue  # an invalid selector selects nothing (KP0002's business)
    return False


def _scraped_services(index: Index) -> dict[str, _SelectorBuckets]:
    """Pod selectors of the Services Prometheus scrapes (annotated
    ``prometheus.io/scrape``, or selected by a ServiceMonitor), by namespace."""
    service_monitors = _monitors(index, "ServiceMonitor")
    out: dict[str, _SelectorBuckets] = defaultdict(_SelectorBuckets)
    for svc in index.services:
        selector = as_dict(as_dict(svc.data.get("spec")).get("selector"))
        if not selector:
            continue  # selects no pods
        meta = as_dict(svc.data.get("metadata"))
        ns = svc.ref.namespace or _UNNAMED
        if not _scrape_on(meta.get("annotations")):
            labels = as_dict(meta.get("labels"))
            scopes = (service_monitors.get(_ANY), service_monitors.get(ns))
            if not _selected(scopes, labels):
                continue
        out[ns].add(selector, selector)
    return out


@rule("KP1405", "no-metrics-endpoint", practice=14, severity="info", scope=Scope.SET)
def no_metrics_endpoint(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Workload that no Prometheus scrape configuration reaches.

    What:
        Only when `monitoring.requireMetrics` is on: a workload (Jobs and
        CronJobs excepted) whose pod template has no
        `prometheus.io/scrape: "true"` annotation, that no PodMonitor selects,
        and that no Service selects which is itself annotated
        `prometheus.io/scrape: "true"` or selected by a ServiceMonitor.
        Monitors look in their own namespace unless `namespaceSelector` says
        `any: true` or lists `matchNames`; monitors and Services without
        `metadata.namespace` count only for objects without one.

        Judged only in namespaces the set describes: the monitor may otherwise
        live elsewhere.

    Why:
        A workload nobody scrapes is invisible: no error rates, no latency, no
        saturation, no alerts; its first outage is reported by its users.

    How:
        Expose a metrics endpoint and add a PodMonitor or ServiceMonitor that
        selects the workload (or its Service), or annotate the pod template
        with `prometheus.io/scrape: "true"` and `prometheus.io/port` when
        Prometheus discovers pods by annotation.

    Example:
        ```yaml
        apiVersion: monitoring.coreos.com/v1
        kind: PodMonitor
        metadata:
          name: web
          namespace: shop
        spec:
          selector:
            matchLabels:
              app.kubernetes.io/name: web
          podMetricsEndpoints:
            - port: metrics
        ```
    """
    if not ctx.config.require_metrics:
        return
    candidates = [w for w in index.workloads
                  if w.ref.kind not in BATCH_KINDS and index.described(w.ref.namespace)]
    if not candidates:
        return
    pod_monitors = _monitors(index, "PodMonitor")
    services = _scraped_services(index)
    for w in candidates:
        if _scrape_on(w.annotations):
            continue
        ns = w.ref.namespace or _UNNAMED
        if _selected((pod_monitors.get(ns), pod_monitors.get(_ANY)), w.labels):
            continue
        if any(map_selector_matches(sel, w.labels)
               for bucket in (services.get(ns), services.get(_ANY)) if bucket is not None
               for sel in bucket.candidates(w.labels)):
            continue
        value = w.annotations.get(SCRAPE_ANNOTATION)
        what = f"sets {SCRAPE_ANNOTATION}: {quote(value)}" if value is not None \
            else f"has no {SCRAPE_ANNOTATION} annotation"
        yield SetViolation(
            w.ref, (*w.metadata_path, "annotations", SCRAPE_ANNOTATION),
            f"{w.ref.kind} {quote(w.ref.name)} {what} and no PodMonitor, ServiceMonitor or "
            f"scraped Service selects it")
