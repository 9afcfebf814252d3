"""Rules for practice 13: rollouts that can tell a bad version and stop, or roll back."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from kubeproof.core.catalogue import rule, withdrawn_by_set
from kubeproof.core.context import Context
from kubeproof.core.index import ContainerRec, Index, Record, WorkloadRec
from kubeproof.k8s.quantity import decimal_int
from kubeproof.k8s.selectors import SelectorError, is_empty_selector, label_selector_matches
from kubeproof.model import Path, Resource, Scope, SetViolation, Violation
from kubeproof.rules.common import as_dict, as_list, quote
from kubeproof.rules.p05_labels import TemplateLookup, comparison_group, pdb_selects, shown

_PERCENT = re.compile(r"^\s*([0-9]+)\s*%\s*$")



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


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def replicas_of(spec: dict[str, Any]) -> int | None:
    """``spec.replicas`` as the API server defaults it (missing means 1); None if not an int."""
    if "replicas" not in spec or spec["replicas"] is None:
        return 1
    return _int(spec["replicas"])


def _all_unavailable(max_unavailable: Any, replicas: int | None) -> str | None:
    """Why ``maxUnavailable`` lets every pod go down at once, or None."""
    n = _int(max_unavailable)
    if n is not None:
        if replicas is not None and replicas > 0 and n >= replicas:
            plural = "s" if replicas != 1 else ""
            return f"maxUnavailable: {n} of {replicas} replica{plural}"
        return None
    if isinstance(max_unavailable, str):
        m = _PERCENT.match(max_unavailable)
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
    exact = _hpa_targets(index)
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
    if _int(spec.get("revisionHistoryLimit")) == 0:
        yield Violation(("spec", "revisionHistoryLimit"),
                        f"{res.kind} {quote(res.name)} sets revisionHistoryLimit: 0, so there is "
                        "no revision to roll back to")


# ---------------------------------------------------------------- set rules
# Namespace conventions: see the set-rule notes in rules/labels.py.

_REPLICATED = frozenset({"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"})


def _hpa_targets(index: Index) -> set[tuple[str | None, Any, Any]]:
    """(namespace, kind, name) of every HPA target (namespace None: an HPA and
    its target without one, in their application's unknown namespace)."""
    exact: set[tuple[str | None, Any, Any]] = set()
    for hpa in index.hpas:
        ref = as_dict(as_dict(hpa.data.get("spec")).get("scaleTargetRef"))
        kind, name = ref.get("kind"), ref.get("name")
        if not isinstance(kind, str) or not isinstance(name, str):
            continue
        exact.add((hpa.ref.namespace, kind, name))
    return exact


@rule("KP1304", "no-disruption-budget", practice=13, severity="medium", scope=Scope.SET)
def no_disruption_budget(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Replicated Deployment or StatefulSet that no PodDisruptionBudget protects.

    What:
        A Deployment or StatefulSet with `replicas` of 2 or more whose pod
        template no PodDisruptionBudget of its namespace selects. Judged only
        in namespaces where the set could show the budget: the Namespace
        object is in the set, or the set holds some PodDisruptionBudget in
        that namespace and it is not a shared one (`default`, `kube-system`,
        ...); budgets kept in another repository are not guessed at.
        Workloads with no namespace are not judged; budgets with no
        namespace do not count in a namespace written down.

    Why:
        Node drains, cluster upgrades and the autoscaler evict pods through
        the eviction API. Without a budget they may evict every replica at
        once, so running several replicas does not keep the service up
        during maintenance.

    How:
        Add a PodDisruptionBudget that selects the pod template labels, with
        `maxUnavailable: 1` (or a `minAvailable` below the replica count).

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
    with_pdbs = {p.ref.namespace for p in index.pdbs if p.ref.namespace is not None}
    judged = [w for w in index.workloads
              if w.ref.kind in ("Deployment", "StatefulSet") and w.replicas is not None
              and w.replicas >= 2 and shown(index, w.ref.namespace, with_pdbs)]
    if not judged:
        return
    by_ns = TemplateLookup(judged)
    covered: set[int] = set()
    unsure: set[str | None] = set()  # namespaces with a budget whose selector is invalid
    done: set[tuple[Any, ...] | None] = set()
    for pdb in index.pdbs:
        ns = pdb.ref.namespace
        if ns is None:
            continue  # in the unknown namespace, where no workload is judged
        try:
            key, selected = pdb_selects(by_ns, pdb, ns)
        except SelectorError:
            unsure.add(ns)
            continue
        if key not in done:  # copies of one budget select the same pods
            done.add(key)
            covered.update(id(w) for w in selected)
    for w in judged:
        if id(w) in covered or w.ref.namespace in unsure:
            continue
        yield SetViolation(w.ref, ("spec", "replicas"),
                           f"{w.ref.kind} {quote(w.ref.name)} runs {w.replicas} replicas but no "
                           f"PodDisruptionBudget in namespace {quote(w.ref.namespace)} "
                           "selects its pods")


def _percent(value: Any) -> int | None:
    if isinstance(value, str):
        m = _PERCENT.match(value)
        if m:
            return decimal_int(m.group(1))
    return None


def _pod_count(selected: list[WorkloadRec],
               hpa: set[tuple[str | None, Any, Any]]) -> tuple[int, str] | None:
    """How many pods the budget covers, and which workloads they are; None when
    unknown (DaemonSets, Jobs, custom kinds, autoscaled or templated counts)."""
    counts: dict[tuple[str, str], int] = {}
    for w in selected:
        kind, name = w.ref.kind, w.ref.name
        if kind == "PodTemplate":
            continue  # creates no pods
        if kind == "Pod":
            n: int | None = 1
        elif kind in _REPLICATED:
            if (w.ref.namespace, kind, name) in hpa:
                return None
            n = w.replicas
        else:
            n = None
        if n is None:
            return None
        counts[(kind, name)] = max(n, counts.get((kind, name), 0))
    total = sum(counts.values())
    if not total:
        return None
    shown = sorted(counts.items())[:3]
    names = ", ".join(f"{k} {quote(n)}: {c} replica{'s' if c != 1 else ''}"
                      for (k, n), c in shown)
    if len(counts) > len(shown):
        names += ", ..."
    return total, names


@rule("KP1305", "pdb-blocks-eviction", practice=13, severity="medium", scope=Scope.SET)
def pdb_blocks_eviction(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """PodDisruptionBudget that never allows an eviction.

    What:
        A PodDisruptionBudget with `maxUnavailable: 0` (or `"0%"`), with
        `minAvailable: 100%`, or whose `minAvailable` (an integer, or a
        percentage rounded up as the disruption controller does) is at least
        the number of pods it selects: the sum of the `replicas` of the
        Deployments, StatefulSets, ReplicaSets and Pods of its namespace it
        selects (in the set). The count is not judged when it includes a
        DaemonSet, Job or custom kind, or a workload a HorizontalPodAutoscaler
        scales. A budget is compared with the workloads of its namespace in
        its own directory (other directories often hold variants that are
        not deployed together); one with no namespace only with the
        unnamespaced workloads of its own file.

    Why:
        A budget that allows no disruption makes `kubectl drain`, node pool
        upgrades and the cluster autoscaler wait forever on those pods:
        maintenance hangs until someone deletes the budget by hand.

    How:
        Use `maxUnavailable: 1` (or a `minAvailable` below the replica count)
        and run enough replicas that one can be evicted.

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
    lookup: TemplateLookup | None = None
    hpa: set[tuple[str | None, Any, Any]] | None = None
    counted: dict[tuple[Any, ...] | None, tuple[int, str] | None] = {}
    for pdb in index.pdbs:
        spec = as_dict(pdb.data.get("spec"))
        name = quote(pdb.ref.name)
        max_unavailable = spec.get("maxUnavailable")
        if _int(max_unavailable) == 0 or _percent(max_unavailable) == 0:
            yield SetViolation(pdb.ref, ("spec", "maxUnavailable"),
                               f"PodDisruptionBudget {name} sets maxUnavailable: "
                               f"{max_unavailable}, so no pod can ever be evicted")
            continue
        min_available = spec.get("minAvailable")
        pct, count = _percent(min_available), _int(min_available)
        if pct is not None and pct >= 100:
            yield SetViolation(pdb.ref, ("spec", "minAvailable"),
                               f"PodDisruptionBudget {name} sets minAvailable: {min_available}, "
                               "so no pod can ever be evicted")
            continue
        if (pct is None and count is None) or (count is not None and count <= 0):
            continue
        if lookup is None:
            lookup = TemplateLookup(index.workloads, group=lambda w: comparison_group(w.ref))
            hpa = _hpa_targets(index)
        assert hpa is not None
        try:
            key, selected = pdb_selects(lookup, pdb, comparison_group(pdb.ref))
        except SelectorError:
            continue
        if key not in counted:  # copies of one budget select the same pods
            counted[key] = _pod_count(selected, hpa)
        pods = counted[key]
        if pods is None:
            continue
        total, names = pods
        required = count if count is not None else -(-(pct or 0) * total // 100)
        if required >= total:
            plural = "s" if total != 1 else ""
            yield SetViolation(pdb.ref, ("spec", "minAvailable"),
                               f"PodDisruptionBudget {name} requires minAvailable: "
                               f"{min_available} of the {total} pod{plural} it selects "
                               f"({names}), so no pod can ever be evicted")


def _image_repo(image: str | None) -> str | None:
    if not image:
        return None
    image = image.split("@", 1)[0]
    slash = image.rfind("/")
    colon = image.rfind(":")
    return image[:colon] if colon > slash else image


def _same_app(a: WorkloadRec, b: WorkloadRec) -> bool:
    """Stable and canary: a same-named container from the same image repository."""
    repos = {(c.name, _image_repo(c.image)) for c in a.containers if c.image}
    return any((c.name, _image_repo(c.image)) in repos for c in b.containers if c.image)


def _serving(w: WorkloadRec) -> list[ContainerRec]:
    return [c for c in w.containers if len(c.path) >= 2 and c.path[-2] != "ephemeralContainers"]


def _named_port(w: WorkloadRec, name: str) -> tuple[Any, ContainerRec] | None:
    for c in _serving(w):
        for p in c.ports:
            if p.get("name") == name:
                return p.get("containerPort"), c
    return None


def _declared_ports(w: WorkloadRec) -> set[int]:
    return {p["containerPort"] for c in _serving(w) for p in c.ports
            if _int(p.get("containerPort")) is not None}


def _probe_text(probe: Any) -> str | None:
    """What a readiness probe checks, as compared and shown (never an exec
    command, header or query string: they can hold credentials); None when
    there is none."""
    if not isinstance(probe, dict) or not probe:
        return None
    if isinstance(probe.get("httpGet"), dict):
        h = probe["httpGet"]
        path = str(h.get("path", "/")).split("?", 1)[0]
        return f"httpGet {h.get('scheme', 'HTTP')} {path} on port {h.get('port')}"
    if isinstance(probe.get("tcpSocket"), dict):
        return f"tcpSocket on port {probe['tcpSocket'].get('port')}"
    if isinstance(probe.get("grpc"), dict):
        g = probe["grpc"]
        service = f" service {g.get('service')}" if g.get("service") else ""
        return f"grpc on port {g.get('port')}{service}"
    if "exec" in probe:
        return "exec " + repr(probe.get("exec"))
    return "no handler"


def _show_probe(text: str) -> str:
    return "an exec command" if text.startswith("exec ") else text


def _canary_differences(svc: Record, stable: WorkloadRec, canary: WorkloadRec,
                        ) -> Iterator[tuple[Path, str]]:
    s, c = quote(stable.ref.name), quote(canary.ref.name)
    first = _serving(canary)
    base: Path = first[0].path if first else ("spec", "template", "spec", "containers")
    declared_s, declared_c = _declared_ports(stable), _declared_ports(canary)
    for p in as_list(as_dict(svc.data.get("spec")).get("ports")):
        p = as_dict(p)
        target = p.get("targetPort", p.get("port"))
        if decimal_int(target) is not None:
            target = decimal_int(target)
        if isinstance(target, str):
            in_s, in_c = _named_port(stable, target), _named_port(canary, target)
            if (in_s is None and in_c is None) or (in_s and in_c and in_s[0] == in_c[0]):
                continue
            where = (*in_c[1].path, "ports") if in_c else (*base, "ports")
            was = f"{in_s[0]} in {s}" if in_s else f"not declared in {s}"
            now = f"{in_c[0]} in {c}" if in_c else f"not declared in {c}"
            yield where, f"targetPort {quote(target)} is {was} but {now}"
        elif _int(target) is not None and declared_s and declared_c \
                and (target in declared_s) != (target in declared_c):
            have, lack = (s, c) if target in declared_s else (c, s)
            yield (*base, "ports"), (f"container port {target} is declared in {have} "
                                     f"but not in {lack}")
    stable_by_name = {x.name: x for x in _serving(stable)}
    for x in _serving(canary):
        other = stable_by_name.get(x.name)
        if other is None:
            continue
        before, after = _probe_text(other.readiness), _probe_text(x.readiness)
        if before == after:
            continue
        if after is None:
            what = f"has a readinessProbe in {s} but none in {c}"
        elif before is None:
            what = f"has a readinessProbe in {c} but none in {s}"
        else:
            what = (f"probes readiness with {_show_probe(before)} in {s} "
                    f"but {_show_probe(after)} in {c}")
        yield (*x.path, "readinessProbe"), f"container {quote(x.name)} {what}"
    for a, b in ((stable, canary), (canary, stable)):
        sel = a.selector
        if not isinstance(sel, dict) or is_empty_selector(sel):
            continue
        try:
            overlaps = label_selector_matches(sel, b.labels)
        except SelectorError:
            continue
        if overlaps:
            yield ("spec", "selector"), (f"the selector of {quote(a.ref.name)} also selects the "
                                         f"pods of {quote(b.ref.name)}")
            break


@rule("KP1306", "canary-mismatch", practice=13, severity="medium", scope=Scope.SET)
def canary_mismatch(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Stable and canary Deployments behind one Service that disagree.

    What:
        Two or more Deployments whose pod templates one Service selects and
        that run the same application (a same-named container from the same
        image repository, tags may differ), where the canary differs from
        the stable Deployment in a way that changes traffic: a Service
        `targetPort` that maps to different container ports or is declared in
        only one of them, a readiness probe present in one only or checking
        something else (handler, path, port), or a Deployment selector that
        also selects the other's pods. The stable one has the most replicas
        (ties: first by name); findings are reported on the others.
        Deployments are compared with those of the Service's namespace and
        directory (other directories often hold variants that are not
        deployed together); unnamespaced objects only within one file.

    Why:
        A canary must differ from stable only in the version under test.
        When the Service reaches it on another port, or its readiness gate
        is different, the canary's results say nothing about the new version
        (or it takes traffic before it is ready); overlapping Deployment
        selectors make the two controllers fight over each other's pods.

    How:
        Keep the canary's ports, named ports and readiness probe identical to
        the stable Deployment's, and give each Deployment a selector with a
        distinguishing label (`track: stable` / `track: canary`) that the
        Service selector leaves out.

    Example:
        ```yaml
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web-canary, namespace: shop}
        spec:
          replicas: 1
          selector:
            matchLabels: {app: web, track: canary}
          template:
            metadata:
              labels: {app: web, track: canary}
            spec:
              containers:
                - name: web
                  image: ghcr.io/acme/web:1.5.0
                  ports: [{name: http, containerPort: 8080}]
                  readinessProbe:
                    httpGet: {path: /ready, port: http}
        ```
    """
    deployments = [w for w in index.workloads if w.ref.kind == "Deployment"]
    if len(deployments) < 2 or not index.services:
        return
    lookup = TemplateLookup(deployments, group=lambda w: comparison_group(w.ref))
    seen: set[tuple[Any, ...]] = set()
    compared: set[tuple[Any, ...]] = set()
    for svc in index.services:
        spec = as_dict(svc.data.get("spec"))
        selector = spec.get("selector")
        if spec.get("type") == "ExternalName" or not isinstance(selector, dict) or not selector:
            continue
        group = comparison_group(svc.ref)
        key = (group, repr(selector), repr(spec.get("ports")))
        if key in compared:  # a copy of a Service already compared
            continue
        compared.add(key)
        by_name: dict[str, WorkloadRec] = {}
        for w in lookup.map_select(group, selector):
            by_name.setdefault(w.ref.name, w)  # copies of one Deployment count once
        if len(by_name) < 2:
            continue
        ranked = sorted(by_name.values(),
                        key=lambda w: (-(w.replicas if w.replicas is not None else -1),
                                       w.ref.name))
        stable = ranked[0]
        for canary in ranked[1:]:
            if not _same_app(stable, canary):
                continue
            for path, detail in _canary_differences(svc, stable, canary):
                found = (canary.ref, stable.ref.name, path, detail)
                if found in seen:
                    continue
                seen.add(found)
                yield SetViolation(canary.ref, path,
                                   f"canary Deployment {quote(canary.ref.name)} differs from "
                                   f"{quote(stable.ref.name)} behind Service "
                                   f"{quote(svc.ref.name)}: {detail}")
