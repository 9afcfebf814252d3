"""References to nothing: Ingress backends (KP0504) and HPA targets (KP0505) that
name no object in the set."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from kubeproof.core.catalogue import rule
from kubeproof.core.context import Context
from kubeproof.core.index import Index, Record
from kubeproof.k8s.quantity import decimal_int
from kubeproof.model import Path, Scope, SetViolation
from kubeproof.rules.common import as_dict, as_list, quote
from kubeproof.rules.p05_labels.selection import hashable, shown, unnamed_hint


def _namespaces_with(records: Iterable[Any]) -> set[str]:
    return {r.ref.namespace for r in records if r.ref.namespace is not None}


class _Exposed:
    """The ports of every Service of one name in one namespace (copies merged)."""

    __slots__ = ("names", "numbers", "unknown")

    def __init__(self) -> None:
        self.numbers: set[Any] = set()
        self.names: set[Any] = set()
        self.unknown = False  # some copy lists no judgeable ports

    def add(self, svc: Record) -> None:
        ports = as_dict(svc.data.get("spec")).get("ports")
        if not isinstance(ports, list):
            self.unknown = True
            return
        for p in ports:
            if isinstance(p, dict):
                if hashable(p.get("port")):
                    self.numbers.add(p.get("port"))
                if hashable(p.get("name")):
                    self.names.add(p.get("name"))

    def exposes(self, port: Any) -> bool:
        """Whether a backend port is exposed (unjudgeable values pass)."""
        if self.unknown or isinstance(port, bool) or not isinstance(port, (int, str)) \
                or port == "use-annotation":  # AWS load balancer controller actions
            return True
        if isinstance(port, int):
            return port in self.numbers
        return port in self.names or decimal_int(port) in self.numbers


def ingress_backends(spec: dict[str, Any]) -> Iterator[tuple[Path, Any, Any, Path]]:
    """(backend path, service name, port (int number or str name), port path)
    for every Service backend, networking.k8s.io/v1 and v1beta1 forms."""
    places: list[tuple[Path, Any]] = [(("spec", "defaultBackend"), spec.get("defaultBackend")),
                                      (("spec", "backend"), spec.get("backend"))]
    for i, r in enumerate(as_list(spec.get("rules"))):
        for j, p in enumerate(as_list(as_dict(as_dict(r).get("http")).get("paths"))):
            places.append((("spec", "rules", i, "http", "paths", j, "backend"),
                           as_dict(p).get("backend")))
    for path, backend in places:
        if not isinstance(backend, dict):
            continue
        service = backend.get("service")
        if isinstance(service, dict):
            port = as_dict(service.get("port"))
            if "number" in port:
                yield path, service.get("name"), port["number"], (*path, "service", "port")
            else:
                yield path, service.get("name"), port.get("name"), (*path, "service", "port")
        elif "serviceName" in backend:
            yield path, backend["serviceName"], backend.get("servicePort"), (*path, "servicePort")


@rule("KP0504", "ingress-backend-missing", practice=5, severity="high", scope=Scope.SET)
def ingress_backend_missing(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Ingress backend naming a Service or port that is not in the set.

    What:
        An Ingress whose default backend or a rule path's backend names a
        Service that is not in its namespace, or a port the Service does not
        expose (`port.number` against the Service's `ports[].port`,
        `port.name` against `ports[].name`; also the `serviceName` /
        `servicePort` form of `networking.k8s.io/v1beta1` and `extensions`).
        Only namespaces the set shows are judged: the Namespace object is in
        the set, or Services in a namespace that is not shared (`default`,
        `kube-system`, ...). Services with no namespace are not present in a
        namespace written down; Ingresses with no namespace are not judged;
        `resource` backends and AWS load balancer `use-annotation` actions
        are not checked.

    Why:
        The ingress controller answers such a path with 503 (or drops the
        whole Ingress): the route looks configured but serves nothing,
        typically after a Service was renamed or its port changed.

    How:
        Point the backend at the Service's `metadata.name` and at one of its
        `spec.ports` (by number or by name), in the Ingress's namespace.

    Example:
        ```yaml
        kind: Ingress
        metadata: {name: web, namespace: shop}
        spec:
          defaultBackend:
            service:
              name: web
              port: {name: http}
        ---
        kind: Service
        metadata: {name: web, namespace: shop}
        spec:
          ports:
            - {name: http, port: 80, targetPort: 8080}
        ```
    """
    services: dict[tuple[str | None, str], _Exposed] = defaultdict(_Exposed)
    for svc in index.services:
        services[(svc.ref.namespace, svc.ref.name)].add(svc)
    with_services = _namespaces_with(index.services)
    for ing in index.ingresses:
        ns = ing.ref.namespace
        if not shown(index, ns, with_services):
            continue
        for path, name, port, port_path in ingress_backends(as_dict(ing.data.get("spec"))):
            if not isinstance(name, str) or not name:
                continue
            found = [e for e in (services.get((ns, name)),) if e]
            if not found:
                hint = unnamed_hint("Service", services.get((None, name)), ns)
                yield SetViolation(ing.ref, path,
                                   f"Ingress {quote(ing.ref.name)} routes to Service {quote(name)}"
                                   f", which is not in namespace {quote(ns)}{hint}")
            elif not any(e.exposes(port) for e in found):
                yield SetViolation(ing.ref, port_path,
                                   f"Ingress {quote(ing.ref.name)} routes to port {quote(port)} "
                                   f"of Service {quote(name)}, which does not expose it")


_SCALABLE = frozenset({"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"})
_SAME_GROUP = frozenset({"apps", "extensions"})


def _group(api_version: Any) -> str | None:
    if not isinstance(api_version, str) or not api_version:
        return None
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def _same_group(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b or (a in _SAME_GROUP and b in _SAME_GROUP)


@rule("KP0505", "hpa-target-missing", practice=5, severity="medium", scope=Scope.SET)
def hpa_target_missing(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """HorizontalPodAutoscaler whose scaleTargetRef is not in the set.

    What:
        A HorizontalPodAutoscaler whose `spec.scaleTargetRef` (kind, name and
        the group of its apiVersion) names a Deployment, StatefulSet,
        ReplicaSet or ReplicationController (or a kind configured in
        `workloads.podTemplatePaths`) that is not in its namespace. Other
        kinds are not judged (their objects are not indexed). Only namespaces
        the set shows are judged: the Namespace object is in the set, or
        workloads in a namespace that is not shared (`default`,
        `kube-system`, ...); workloads with no namespace are not present in a
        namespace written down.

    Why:
        An autoscaler whose target does not exist scales nothing: the
        workload it was meant for stays at its fixed replica count under
        load, and the HPA only reports `FailedGetScale` events nobody reads.

    How:
        Set `scaleTargetRef` to the kind, apiVersion and `metadata.name` of
        the workload in the HPA's namespace.

    Example:
        ```yaml
        kind: HorizontalPodAutoscaler
        metadata: {name: web, namespace: shop}
        spec:
          scaleTargetRef:
            apiVersion: apps/v1
            kind: Deployment
            name: web
          minReplicas: 2
          maxReplicas: 10
        ```
    """
    scalable = _SCALABLE | set(ctx.pod_templates)
    # the API groups each (namespace, kind, name) exists in, copies merged
    targets: dict[tuple[str | None, str, str], set[str | None]] = defaultdict(set)
    for w in index.workloads:
        targets[(w.ref.namespace, w.ref.kind, w.ref.name)].add(_group(w.ref.api_version))
    with_workloads = _namespaces_with(index.workloads)
    for hpa in index.hpas:
        ns = hpa.ref.namespace
        if not shown(index, ns, with_workloads):
            continue
        ref = as_dict(as_dict(hpa.data.get("spec")).get("scaleTargetRef"))
        kind, name = ref.get("kind"), ref.get("name")
        if kind not in scalable or not isinstance(name, str) or not name:
            continue
        group = _group(ref.get("apiVersion"))
        found = targets.get((ns, kind, name), set())
        if any(_same_group(group, g) for g in found):
            continue
        hint = unnamed_hint(kind, any(_same_group(group, g)
                                      for g in targets.get((None, kind, name), ())), ns)
        yield SetViolation(hpa.ref, ("spec", "scaleTargetRef"),
                           f"HorizontalPodAutoscaler {quote(hpa.ref.name)} scales {kind} "
                           f"{quote(name)}, which is not in namespace {quote(ns)}{hint}")
