"""Rules for practice 4: put every object in a namespace, never ``default``."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping

from kubeproof.core.catalogue import fix, rule
from kubeproof.core.context import Context
from kubeproof.core.fixing import FixSettings, put
from kubeproof.core.index import Index, Record
from kubeproof.k8s.kinds import NAMESPACED, is_namespaced_builtin
from kubeproof.model import SAFE, Resource, Scope, SetViolation, Violation
from kubeproof.rules.common import quote


@rule("KP0401", "default-namespace", practice=4, severity="high", kinds=NAMESPACED)
def default_namespace(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Namespaced object placed explicitly in the `default` namespace.

    What:
        A namespaced object whose `metadata.namespace` is `default`.

    Why:
        `default` has no owner, no quota, no network policy and no Pod Security
        label by design; everything that lands there shares one flat trust
        zone. Namespaces are the unit of RBAC, quota and policy.

    How:
        Create a namespace per team or application and set `metadata.namespace`.

    Example:
        ```yaml
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: web
          namespace: shop
        data: {mode: production}
        ```
    """
    if res.namespace == "default":
        yield Violation(("metadata", "namespace"),
                        f"{res.kind} {quote(res.name)} is in the \"default\" namespace")


@rule("KP0402", "namespace-unset", practice=4, severity="low", kinds=NAMESPACED)
def namespace_unset(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Namespaced object with no `metadata.namespace`.

    What:
        A namespaced built-in object whose manifest does not say which namespace
        it belongs to.

    Why:
        Without a namespace the object lands wherever `kubectl -n` or the
        current context points, often `default`; the same file deploys
        differently for different people.

    How:
        Set `metadata.namespace` explicitly (or let Kustomize's `namespace:` set it).

    Example:
        ```yaml
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: web
          namespace: shop
        data: {mode: production}
        ```
    """
    if res.namespace is None:
        yield Violation(("metadata", "namespace"),
                        f"{res.kind} {quote(res.name)} has no metadata.namespace")


@fix("KP0402", safety=SAFE, needs_namespace=True,
     why="only where no namespace is written, with the one --namespace names")
def set_namespace(res: Resource, settings: FixSettings) -> bool:
    """Set `metadata.namespace` to `--namespace` on namespaced objects without one."""
    if not settings.namespace or not is_namespaced_builtin(res.kind):
        return False
    meta = res.obj.get("metadata")
    if not isinstance(meta, MutableMapping) or meta.get("namespace") is not None:
        return False
    return put(meta, "namespace", settings.namespace, ("name", "generateName"))


def _namespaces_with_workloads(index: Index) -> Iterator[tuple[str, Record]]:
    """Namespaces the set describes (their Namespace object is in it) that hold
    at least one workload."""
    for ns in sorted({w.ref.namespace for w in index.workloads if w.ref.namespace}):
        record = index.namespaces.get(ns)
        if record is not None:
            yield ns, record


@rule("KP0403", "namespace-no-quota", practice=4, severity="medium", scope=Scope.SET)
def namespace_no_quota(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Namespace with workloads but no ResourceQuota.

    What:
        A Namespace in the scanned set (or cluster) that runs workloads and has
        no ResourceQuota. Namespaces the set does not show are not judged.

    Why:
        Without a quota one team's runaway rollout, a leaking CronJob or a
        compromised workload can take every CPU, byte of memory and pod slot of
        the cluster, starving its neighbours.

    How:
        Add a ResourceQuota to the namespace with requests, limits and a pod
        count sized for what the team runs.

    Example:
        ```yaml
        apiVersion: v1
        kind: ResourceQuota
        metadata:
          name: quota
          namespace: shop
        spec:
          hard:
            requests.cpu: "8"
            requests.memory: 16Gi
            pods: "50"
        ```
    """
    for ns, record in _namespaces_with_workloads(index):
        if ns not in index.quotas:
            yield SetViolation(record.ref, ("metadata", "name"),
                               f"namespace {quote(ns)} runs workloads but has no ResourceQuota")


@rule("KP0404", "namespace-no-limitrange", practice=4, severity="low", scope=Scope.SET)
def namespace_no_limitrange(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Namespace with workloads but no LimitRange.

    What:
        A Namespace in the scanned set (or cluster) that runs workloads and has
        no LimitRange. Namespaces the set does not show are not judged.

    Why:
        A LimitRange gives containers that forget `resources` sensible default
        requests and limits, so the scheduler can place them and one of them
        cannot exhaust its node.

    How:
        Add a LimitRange with default requests and a default memory limit for
        containers.

    Example:
        ```yaml
        apiVersion: v1
        kind: LimitRange
        metadata:
          name: defaults
          namespace: shop
        spec:
          limits:
          - type: Container
            defaultRequest: {cpu: 100m, memory: 128Mi}
            default: {memory: 256Mi}
        ```
    """
    for ns, record in _namespaces_with_workloads(index):
        if ns not in index.limit_ranges:
            yield SetViolation(record.ref, ("metadata", "name"),
                               f"namespace {quote(ns)} runs workloads but has no LimitRange")
