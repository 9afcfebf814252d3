"""Rules for practice 5: labels that say what every workload and Service is."""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Callable, Container, Iterable, Iterator, MutableMapping
from typing import Any

from kubeproof.core.catalogue import fix, rule
from kubeproof.core.context import Context
from kubeproof.core.fixing import LABEL_VALUE, NAME_LABEL, FixSettings, set_in
from kubeproof.core.index import Index, Record, WorkloadRec
from kubeproof.k8s.quantity import decimal_int
from kubeproof.k8s.selectors import (
    SelectorError,
    is_empty_selector,
    label_selector_matches,
    map_selector_matches,
    validate_label_selector,
)
from kubeproof.k8s.workloads import PodView
from kubeproof.model import SAFE, ObjectRef, Path, Resource, Scope, SetViolation, Violation
from kubeproof.rules.common import as_dict, as_list, quote


@rule("KP0501", "missing-required-labels", practice=5, severity="low", pods=True,
      kinds={"Service"})
def missing_required_labels(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Workload or Service missing a required label.

    What:
        A workload (any object with a pod template) or a Service whose
        `metadata.labels` lacks one of the keys in `labels.required` (default
        `app.kubernetes.io/name`). One finding per missing label. Only the
        object's own labels count, not the pod template's.

    Why:
        Labels are how people and tools find what belongs together: cost
        reports, dashboards, `kubectl get -l`, network policies, alert
        routing and ownership lookups all key on them. An object without the
        agreed labels is invisible to all of these.

    How:
        Add the required labels to `metadata.labels` (the
        `app.kubernetes.io/*` recommended labels are a good base; Kustomize's
        `labels:` can add them to every object).

    Example:
        ```yaml
        apiVersion: v1
        kind: Service
        metadata:
          name: web
          labels:
            app.kubernetes.io/name: web
            app.kubernetes.io/part-of: shop
        spec:
          selector: {app.kubernetes.io/name: web}
          ports: [{port: 80}]
        ```
    """
    if res.kind != "Service" and res.pod is None:
        return
    required = ctx.config.required_labels
    if not required:
        return
    labels = res.metadata.get("labels")
    if not isinstance(labels, dict):
        labels = {}
    for key in required:
        if labels.get(key) is None:
            yield Violation(("metadata", "labels", key),
                            f"{res.kind} {quote(res.name)} has no label {key}")


@fix("KP0501", safety=SAFE,
     why="labels are added, never changed, and never to selectors")
def add_required_labels(res: Resource, settings: FixSettings) -> bool:
    """Add the required labels (values from `fix.labels`; `app.kubernetes.io/name`
    defaults to the object's name) to the object and its pod template."""
    pod = res.pod
    if res.kind != "Service" and pod is None:
        return False
    meta = res.obj.get("metadata")
    if not isinstance(meta, MutableMapping):
        return False
    labels = meta.get("labels")
    if labels is not None and not isinstance(labels, MutableMapping):
        return False
    changed = False
    for key in settings.required_labels:
        if isinstance(labels, MutableMapping) and labels.get(key) is not None:
            continue
        value = settings.labels.get(key)
        if value is None and key == NAME_LABEL and LABEL_VALUE.fullmatch(res.name):
            value = res.name
        if value is None:
            continue
        changed |= set_in(meta, ("labels", key), value, ("namespace", "name", "generateName"))
        labels = meta.get("labels")
        if pod is not None and pod.metadata_path != ("metadata",):
            changed |= _label_template(res, pod, key, value)
    return changed


def _label_template(res: Resource, pod: PodView, key: str, value: str) -> bool:
    """The label on the pod template too (never on selectors), unless it has one."""
    template: Any = res.obj
    for seg in pod.metadata_path[:-1]:
        template = template.get(seg) if isinstance(template, MutableMapping) else None
    if not isinstance(template, MutableMapping):
        return False
    tmeta = template.get("metadata")
    if isinstance(tmeta, MutableMapping) and as_dict(tmeta.get("labels")).get(key) is not None:
        return False
    return set_in(template, ("metadata", "labels", key), value)


# ---------------------------------------------------------------- set rules
#
# Which namespace an object lives in decides what it can select or name. The
# conventions shared by the rules below and the rollout set rules:
#
# - "Missing" rules (a selector that selects nothing, a reference to nothing)
#   judge only subjects with a `metadata.namespace`, and only when the set
#   shows that namespace: its Namespace object is in the set, or the set holds
#   objects of the kind the rule looks for there. The shared namespaces
#   `default`, `kube-system`, `kube-public` and `kube-node-lease` receive
#   objects from many sources and are judged only when described. Objects
#   with no namespace share one unknown namespace of their application
#   (applications.py): they are never candidates in a namespace written down.
# - Rules that only compare objects that are all present compare objects of
#   one namespace and one directory (a repository's directories often hold
#   alternative variants of an application, not parts deployed together);
#   objects with no namespace only with those of the same file (or rendered
#   input), which are applied together.

SHARED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})


def shown(index: Index, ns: str | None, evidence: Container[Any]) -> bool:
    """Whether a "missing" rule may judge namespace ``ns``: described, or not
    shared and among the namespaces holding the kind of object the rule looks
    for (``evidence``)."""
    if ns is None or ns in index.custom_namespaces:
        return False
    return index.described(ns) or (ns not in SHARED_NAMESPACES and ns in evidence)


def unnamed_hint(what: str, found: Any, ns: str | None) -> str:
    """When an object without metadata.namespace would have matched (``found``):
    why it does not count in ``ns``, and how to make it count."""
    if not found:
        return ""
    return (f" (a {what} without metadata.namespace matches, but it is not in namespace "
            f"{quote(ns)}: give it one, or scan with --namespace)")


def comparison_group(ref: ObjectRef) -> Any:
    """The group within which objects that are both present are compared."""
    if ref.namespace is not None:
        return (ref.namespace, posixpath.dirname(ref.file.replace("\\", "/")))
    return (None, ref.source_input, ref.file)


def _hashable(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float))


_JOB_KEYS = ("controller-uid", "batch.kubernetes.io/controller-uid", "job-name",
             "batch.kubernetes.io/job-name", "batch.kubernetes.io/job-completion-index")
# Labels that controllers add to the pods they create, whose values the
# manifest does not show: a selector requirement on one of them is taken as
# met by the pods of that kind (a Job's own job-name labels are known, below).
RUNTIME_LABELS: dict[str, frozenset[str]] = {
    "Deployment": frozenset({"pod-template-hash"}),
    "ReplicaSet": frozenset({"pod-template-hash"}),
    "StatefulSet": frozenset({"controller-revision-hash", "statefulset.kubernetes.io/pod-name",
                              "apps.kubernetes.io/pod-index"}),
    "DaemonSet": frozenset({"controller-revision-hash", "pod-template-generation"}),
    "Job": frozenset(_JOB_KEYS[:2] + _JOB_KEYS[4:]),
    "CronJob": frozenset(_JOB_KEYS),
}
_ALL_RUNTIME = frozenset().union(*RUNTIME_LABELS.values(), _JOB_KEYS)


def pod_labels(w: WorkloadRec) -> dict[str, Any]:
    """The labels the workload's pods carry as far as the set shows them: the
    template's, plus the job-name labels the Job controller adds."""
    if w.ref.kind != "Job" or not w.ref.name:
        return w.labels
    return {**w.labels, "job-name": w.ref.name, "batch.kubernetes.io/job-name": w.ref.name}


def _without(selector: dict[str, Any], keys: frozenset[str], label: bool) -> dict[str, Any]:
    """``selector`` minus its requirements on ``keys`` (map or LabelSelector)."""
    if not label:
        return {k: v for k, v in selector.items() if k not in keys}
    out = dict(selector)
    if isinstance(selector.get("matchLabels"), dict):
        out["matchLabels"] = {k: v for k, v in selector["matchLabels"].items()
                              if k not in keys}
    if isinstance(selector.get("matchExpressions"), list):
        out["matchExpressions"] = [e for e in selector["matchExpressions"]
                                   if not (isinstance(e, dict) and e.get("key") in keys)]
    return out


def _selector_keys(selector: dict[str, Any], label: bool) -> set[Any]:
    if not label:
        return set(selector)
    keys: set[Any] = set(as_dict(selector.get("matchLabels")))
    keys.update(as_dict(e).get("key") for e in as_list(selector.get("matchExpressions")))
    return keys


def selection_key(group: Any, selector: dict[str, Any], label: bool) -> tuple[Any, ...]:
    """Identifies what a selector selects in a group: equal keys, equal results."""
    return (group, label, repr(selector))


class TemplateLookup:
    """Pod templates of the set, grouped and indexed by label pair, so that a
    selector is evaluated only against the templates carrying its rarest
    required label instead of every template of its group (namespace)."""

    def __init__(self, workloads: Iterable[WorkloadRec],
                 group: Callable[[WorkloadRec], Any] = lambda w: w.ref.namespace) -> None:
        self.by_group: dict[Any, list[WorkloadRec]] = defaultdict(list)
        self._by_label: dict[tuple[Any, str, Any], list[WorkloadRec]] = defaultdict(list)
        self._cache: dict[tuple[Any, ...], list[WorkloadRec]] = {}
        for w in workloads:
            g = group(w)
            self.by_group[g].append(w)
            for k, v in pod_labels(w).items():
                if isinstance(k, str) and _hashable(v):
                    self._by_label[(g, k, v)].append(w)

    def has_label(self, group: Any, key: Any, value: Any) -> bool:
        return _hashable(value) and bool(self._by_label.get((group, key, value)))

    def _candidates(self, group: Any, pairs: dict[Any, Any]) -> list[WorkloadRec]:
        best: list[WorkloadRec] | None = None
        for k, v in pairs.items():
            if not _hashable(v) or k in _ALL_RUNTIME:
                continue
            found = self._by_label.get((group, k, v), [])
            if best is None or len(found) < len(best):
                best = found
                if not best:
                    break
        return best if best is not None else self.by_group.get(group, [])

    def _select(self, group: Any, selector: dict[str, Any], pairs: dict[Any, Any],
                label: bool) -> list[WorkloadRec]:
        # repeated selectors (copies of one object) are evaluated once
        key = selection_key(group, selector, label)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        match = label_selector_matches if label else map_selector_matches
        candidates = self._candidates(group, pairs)
        if not (_selector_keys(selector, label) & _ALL_RUNTIME):
            out = [w for w in candidates if match(selector, pod_labels(w))]
        else:
            out = []
            for w in candidates:
                runtime = RUNTIME_LABELS.get(w.ref.kind)
                sel = _without(selector, runtime, label) if runtime else selector
                if (not label and not sel) or match(sel, pod_labels(w)):
                    out.append(w)
        self._cache[key] = out
        return out

    def map_select(self, group: Any, selector: dict[str, Any]) -> list[WorkloadRec]:
        """Templates a map selector (Service, ReplicationController) selects."""
        if not selector:
            return []
        return self._select(group, selector, selector, label=False)

    def label_select(self, group: Any, selector: dict[str, Any]) -> list[WorkloadRec]:
        """Templates a LabelSelector selects (an empty one: all of the group).

        Raises :class:`SelectorError` for an invalid selector.
        """
        validate_label_selector(selector)
        return self._select(group, selector, as_dict(selector.get("matchLabels")), label=True)


def namespace_lookup(index: Index, ctx: Context) -> TemplateLookup:
    """The set's pod templates by namespace, built once per set for every rule
    that asks (:meth:`Index.derived`)."""
    return index.derived(_template_lookup)


def _template_lookup(index: Index) -> TemplateLookup:
    return TemplateLookup(index.workloads)


def pdb_selector(pdb: Record) -> dict[str, Any] | None:
    """The LabelSelector of a PodDisruptionBudget, or None when it selects no
    pods: a null selector (every version) or an empty one in policy/v1beta1
    (policy/v1 reads `{}` as every pod of the namespace).

    Raises :class:`SelectorError` for an invalid selector.
    """
    selector = as_dict(pdb.data.get("spec")).get("selector")
    if selector is None:
        return None
    validate_label_selector(selector)
    if is_empty_selector(selector) and pdb.ref.api_version != "policy/v1":
        return None
    return selector


def pdb_selects(lookup: TemplateLookup, pdb: Record, group: Any,
                ) -> tuple[tuple[Any, ...] | None, list[WorkloadRec]]:
    """The templates ``pdb`` selects in ``group`` (raises SelectorError when
    invalid), and the :func:`selection_key` of that result (None if none)."""
    selector = pdb_selector(pdb)
    if selector is None:
        return None, []
    return selection_key(group, selector, True), lookup.label_select(group, selector)


def _namespaces_with(records: Iterable[Any]) -> set[str]:
    return {r.ref.namespace for r in records if r.ref.namespace is not None}


def _pairs(selector: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in selector.items())


@rule("KP0502", "service-selects-nothing", practice=5, severity="high", scope=Scope.SET)
def service_selects_nothing(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Service whose selector matches no pod template in its namespace.

    What:
        A Service with a non-empty `spec.selector` that matches the pod
        template labels of no workload (Deployment, StatefulSet, DaemonSet,
        Job, CronJob, Pod, ...) of its namespace; labels that controllers add
        to pods (`pod-template-hash`, `statefulset.kubernetes.io/pod-name`,
        `job-name`, ...) count as present on that kind's pods. Services of
        type `ExternalName` and Services without a selector (endpoints managed
        by hand) are not checked. Only namespaces the set shows are judged:
        the Namespace object is in the set, or the set holds workloads in it
        and it is not a shared namespace (`default`, `kube-system`,
        `kube-public`, `kube-node-lease`). A Service with no
        `metadata.namespace` is not judged; workloads with no namespace are
        not candidates in a namespace written down (scan with `--namespace`
        to give them one).

    Why:
        A selector that matches no pod gives the Service no endpoints: every
        request to it fails, usually after a rename of a label or a typo that
        no validation catches. Pods that operators create from custom
        resources are not visible in manifests; exempt such Services.

    How:
        Make `spec.selector` a subset of the pod template's `metadata.labels`
        (the Deployment's `spec.template.metadata.labels`, not its own labels).

    Example:
        ```yaml
        kind: Service
        metadata: {name: web, namespace: shop}
        spec:
          selector: {app: web}
        ---
        kind: Deployment
        metadata: {name: web, namespace: shop}
        spec:
          template:
            metadata:
              labels: {app: web}
        ```
    """
    lookup = namespace_lookup(index, ctx)
    for svc in index.services:
        ns = svc.ref.namespace
        spec = as_dict(svc.data.get("spec"))
        selector = spec.get("selector")
        if (ns is None or spec.get("type") == "ExternalName" or not isinstance(selector, dict)
                or not selector):
            continue
        if not shown(index, ns, lookup.by_group):
            continue
        if lookup.map_select(ns, selector):
            continue
        absent = [f"{k}={v}" for k, v in selector.items() if k not in _ALL_RUNTIME
                  and not lookup.has_label(ns, k, v)]
        why = f"no template there has {', '.join(absent)}" if absent \
            else "none has all of these labels"
        hint = unnamed_hint("pod template", lookup.map_select(None, selector), ns)
        yield SetViolation(svc.ref, ("spec", "selector"),
                           f"Service {quote(svc.ref.name)} selects {_pairs(selector)} but no "
                           f"pod template in namespace {quote(ns)} matches: {why}{hint}")


@rule("KP0503", "pdb-selects-nothing", practice=5, severity="medium", scope=Scope.SET)
def pdb_selects_nothing(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """PodDisruptionBudget whose selector matches no pod template.

    What:
        A PodDisruptionBudget whose `spec.selector` (matchLabels and
        matchExpressions) matches the pod template of no workload in its
        namespace. A missing selector selects no pods, and so does an empty
        one `{}` in `policy/v1beta1` (in `policy/v1` it selects every pod of
        the namespace): these are reported wherever they are. Otherwise only
        namespaces the set shows are judged, as for KP0502 (the Namespace
        object is in the set, or workloads in a namespace that is not shared);
        workloads with no namespace are not candidates in a namespace written
        down.

    Why:
        A budget that selects nothing protects nothing: a node drain or
        cluster upgrade evicts every replica at once, although the manifest
        suggests the application is covered.

    How:
        Set `spec.selector.matchLabels` to labels of the pod template of the
        workload it should protect.

    Example:
        ```yaml
        apiVersion: policy/v1
        kind: PodDisruptionBudget
        metadata: {name: web, namespace: shop}
        spec:
          maxUnavailable: 1
          selector:
            matchLabels: {app: web}
        ```
    """
    lookup = namespace_lookup(index, ctx)
    for pdb in index.pdbs:
        ns = pdb.ref.namespace
        name = quote(pdb.ref.name)
        try:
            selector = pdb_selector(pdb)
            if selector is None:
                has = as_dict(pdb.data.get("spec")).get("selector") is not None
                why = f"an empty selector in {pdb.ref.api_version}" if has else "no selector"
                yield SetViolation(pdb.ref, ("spec", "selector"),
                                   f"PodDisruptionBudget {name} has {why}, which selects no pods")
                continue
            if not shown(index, ns, lookup.by_group):
                continue
            if lookup.label_select(ns, selector):
                continue
            hint = unnamed_hint("pod template", lookup.label_select(None, selector), ns)
        except SelectorError:
            continue
        yield SetViolation(pdb.ref, ("spec", "selector"),
                           f"PodDisruptionBudget {name} selects no pod template in namespace "
                           f"{quote(ns)}{hint}")


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
                if _hashable(p.get("port")):
                    self.numbers.add(p.get("port"))
                if _hashable(p.get("name")):
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
