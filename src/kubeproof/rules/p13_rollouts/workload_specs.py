"""What one workload's spec says about its rollouts: readiness probes (KP1301),
rollout strategy (KP1302), replicas (KP1303, withdrawn where an HPA scales the
workload) and rollback history (KP1307)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from kubeproof.core.catalogue import rule, withdrawn_by_set
from kubeproof.core.context import Context
from kubeproof.core.index import Index
from kubeproof.k8s.quantity import decimal_int
from kubeproof.model import Path, Resource, Violation
from kubeproof.rules.common import as_dict, quote
from kubeproof.rules.p13_rollouts.scaling import PERCENT, hpa_targets, int_or_none


def _probe_set(value: Any) -> bool:
    """A probe counts when it is a non-empty mapping (an empty one has no handler)."""
    return isinstance(value, dict) and bool(value)


def missing_probe(res: Resource, key: str) -> Iterator[Violation]:
    """Long-running containers of a non-batch workload that lack probe ``key``.

    Shared with the monitoring rules (livenessProbe).
    """
    pod = res.pod
    if pod is None or pod.is_batch:
        return
    for c in pod.containers:
        if c.long_running and not _probe_set(c.data.get(key)):
            what = "sidecar" if c.is_sidecar else "container"
            yield Violation((*c.path, key), f"{what} {quote(c.name)} has no {key}",
                            container=c.name)


def replicas_of(spec: dict[str, Any]) -> int | None:
    """``spec.replicas`` as the API server defaults it (missing means 1); None if not an int."""
    if "replicas" not in spec or spec["replicas"] is None:
        return 1
    return int_or_none(spec["replicas"])


def _all_unavailable(max_unavailable: Any, replicas: int | None) -> str | None:
    """Why ``maxUnavailable`` lets every pod go down at once, or None."""
    n = int_or_none(max_unavailable)
    if n is not None:
        if replicas is not None and replicas > 0 and n >= replicas:
            plural = "s" if replicas != 1 else ""
            return f"maxUnavailable: {n} of {replicas} replica{plural}"
        return None
    if isinstance(max_unavailable, str):
        m = PERCENT.match(max_unavailable)
        if m and (decimal_int(m.group(1)) or 0) >= 100:
            return f"maxUnavailable: {max_unavailable.strip()}"
    return None


@rule("KP1301", "no-readiness-probe", practice=13, severity="high", pods=True)
def no_readiness_probe(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Long-running container without a readinessProbe.

    What:
        A regular container, or a native sidecar (init container with
        `restartPolicy: Always`), of a Pod or controller-managed workload that
        has no `readinessProbe`. Jobs and CronJobs, one-shot init containers and
        ephemeral containers are not checked: they run to completion. Bare Pods
        are checked too (a Service still routes to them).

    Why:
        Without a readiness probe a container is Ready as soon as it starts: a
        Service sends it traffic before it can serve, and a rolling update
        replaces every old pod with a new version that may be broken, because
        the Deployment controller cannot tell. The readiness gate is what makes
        `maxUnavailable`, `minReadySeconds` and `progressDeadlineSeconds` work.

    How:
        Add a `readinessProbe` that checks the container can serve (an HTTP
        health endpoint, a TCP port or gRPC health check).

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
                    httpGet:
                      path: /healthz/ready
                      port: 8080
                    periodSeconds: 5
        ```
    """
    yield from missing_probe(res, "readinessProbe")


@rule("KP1302", "unsafe-rollout-strategy", practice=13, severity="medium",
      kinds={"Deployment", "StatefulSet", "DaemonSet"})
def unsafe_rollout_strategy(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Update strategy that takes every pod down at once or never rolls out.

    What:
        A Deployment with `strategy.type: Recreate`, or a RollingUpdate whose
        `maxUnavailable` is 100% or at least `replicas` (missing `replicas`
        means 1); a StatefulSet with `updateStrategy.type: OnDelete` or a
        rolling `maxUnavailable` of all its pods; a DaemonSet whose update
        strategy is not RollingUpdate (`extensions/v1beta1` DaemonSets default
        to OnDelete) or whose `maxUnavailable` is 100%.

    Why:
        `Recreate` and an all-unavailable rolling update stop every old pod
        before a new one is Ready: each release is an outage, and a bad
        version is not caught while old pods still serve. `OnDelete` never
        rolls out at all until someone deletes pods by hand, so nodes run
        mixed versions indefinitely.

    How:
        Use `RollingUpdate` with a `maxUnavailable` below the replica count
        (the default 25% is fine), paired with a readiness probe.

    Example:
        ```yaml
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: shop}
        spec:
          replicas: 3
          strategy:
            type: RollingUpdate
            rollingUpdate:
              maxUnavailable: 1
              maxSurge: 1
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
                - name: web
                  image: ghcr.io/acme/web:1.4.2
        ```
    """
    spec = as_dict(res.obj.get("spec"))
    kind = res.kind
    name = res.name
    if kind == "Deployment":
        strategy = as_dict(spec.get("strategy"))
        stype = strategy.get("type")
        if stype == "Recreate":
            yield Violation(("spec", "strategy", "type"),
                            f"Deployment {quote(name)} uses strategy Recreate: every pod is "
                            "stopped before the new version starts")
            return
        if stype in (None, "RollingUpdate"):
            yield from _check_rolling(("spec", "strategy"), strategy, replicas_of(spec),
                                      kind, name)
        return
    strategy = as_dict(spec.get("updateStrategy"))
    stype = strategy.get("type")
    if kind == "StatefulSet":
        if stype == "OnDelete":
            yield Violation(("spec", "updateStrategy", "type"),
                            f"StatefulSet {quote(name)} uses updateStrategy OnDelete: pods are "
                            "only updated when deleted by hand")
        elif stype in (None, "RollingUpdate"):
            yield from _check_rolling(("spec", "updateStrategy"), strategy,
                                      replicas_of(spec), kind, name)
        return
    # DaemonSet
    if stype is None and res.api_version == "extensions/v1beta1":
        yield Violation(("spec", "updateStrategy", "type"),
                        f"DaemonSet {quote(name)} sets no updateStrategy type and "
                        "extensions/v1beta1 defaults to OnDelete")
    elif stype is not None and stype != "RollingUpdate":
        yield Violation(("spec", "updateStrategy", "type"),
                        f"DaemonSet {quote(name)} uses updateStrategy {stype}, not RollingUpdate: "
                        "pods are only updated when deleted by hand")
    else:
        # the node count is unknown: only a percentage can be judged
        yield from _check_rolling(("spec", "updateStrategy"), strategy, None, kind, name)


def _check_rolling(base: Path, strategy: dict[str, Any], replicas: int | None,
                   kind: str, name: str) -> Iterator[Violation]:
    rolling = as_dict(strategy.get("rollingUpdate"))
    if "maxUnavailable" not in rolling:
        return
    why = _all_unavailable(rolling["maxUnavailable"], replicas)
    if why:
        yield Violation((*base, "rollingUpdate", "maxUnavailable"),
                        f"{kind} {quote(name)} rolls out with {why}: every pod may be down at once")


@rule("KP1303", "single-replica", practice=13, severity="medium",
      kinds={"Deployment", "StatefulSet"})
def single_replica(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Deployment or StatefulSet with fewer replicas than `rollouts.minReplicas`.

    What:
        A Deployment or StatefulSet whose `spec.replicas` is below
        `rollouts.minReplicas` (default 2). A missing `replicas` means 1, as
        the API server defaults it. `replicas: 0` (deliberately scaled down)
        and templated, non-integer values are not judged. A workload that a
        HorizontalPodAutoscaler of the set (or of the cluster, in `audit`)
        scales is not reported: its `scaleTargetRef` names the workload's
        kind and name, in the same namespace (an HPA without a namespace
        counts only for workloads without one).

    Why:
        One replica means every rollout, node drain or crash is an outage, and
        there is no old pod left serving while a canary proves itself.

    How:
        Run at least two replicas (and spread them with topology spread
        constraints or anti-affinity), or let a HorizontalPodAutoscaler with
        `minReplicas: 2` manage the count.

    Example:
        ```yaml
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: shop}
        spec:
          replicas: 3
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
                - name: web
                  image: ghcr.io/acme/web:1.4.2
        ```
    """
    spec = res.obj.get("spec")
    if not isinstance(spec, dict):
        return
    replicas = replicas_of(spec)
    minimum = ctx.config.min_replicas
    if replicas is None or replicas == 0 or replicas >= minimum:
        return
    what = f"replicas: {replicas}" if "replicas" in spec and spec["replicas"] is not None \
        else "no replicas (defaults to 1)"
    yield Violation(("spec", "replicas"),
                    f"{res.kind} {quote(res.name)} has {what}, fewer than the minimum of {minimum}")


@withdrawn_by_set("KP1303")
def autoscaled(index: Index) -> Callable[[str | None, str, str], bool]:
    """KP1303's "and no HPA": workloads an HPA of the set scales."""
    exact = hpa_targets(index)
    return lambda ns, kind, name: (ns, kind, name) in exact


@rule("KP1307", "no-rollback-history", practice=13, severity="low",
      kinds={"Deployment", "StatefulSet", "DaemonSet"})
def no_rollback_history(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Workload that keeps no old revisions to roll back to.

    What:
        A Deployment, StatefulSet or DaemonSet with `revisionHistoryLimit: 0`.

    Why:
        With no old ReplicaSets or ControllerRevisions kept, `kubectl rollout
        undo` has nothing to return to: a bad release can only be fixed by
        redeploying the previous manifest, which is slow during an incident.

    How:
        Remove `revisionHistoryLimit` (the default keeps 10) or set it to a
        small positive number such as 3.

    Example:
        ```yaml
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: shop}
        spec:
          revisionHistoryLimit: 5
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
                - name: web
                  image: ghcr.io/acme/web:1.4.2
        ```
    """
    spec = as_dict(res.obj.get("spec"))
    if int_or_none(spec.get("revisionHistoryLimit")) == 0:
        yield Violation(("spec", "revisionHistoryLimit"),
                        f"{res.kind} {quote(res.name)} sets revisionHistoryLimit: 0, so there is "
                        "no revision to roll back to")
