"""PodDisruptionBudgets in the set: none for a replicated workload (KP1304), one
that blocks every eviction (KP1305).

Namespace conventions: see the notes in :mod:`kubeproof.rules.p05_labels.selection`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeproof.core.catalogue import rule
from kubeproof.core.context import Context
from kubeproof.core.index import Index, WorkloadRec
from kubeproof.k8s.quantity import decimal_int
from kubeproof.k8s.selectors import SelectorError
from kubeproof.model import Scope, SetViolation
from kubeproof.rules.common import as_dict, quote
from kubeproof.rules.p05_labels.selection import (
    TemplateLookup,
    comparison_group,
    pdb_selects,
    shown,
)
from kubeproof.rules.p13_rollouts.scaling import PERCENT, hpa_targets, int_or_none

_REPLICATED = frozenset({"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"})


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
        m = PERCENT.match(value)
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
        if int_or_none(max_unavailable) == 0 or _percent(max_unavailable) == 0:
            yield SetViolation(pdb.ref, ("spec", "maxUnavailable"),
                               f"PodDisruptionBudget {name} sets maxUnavailable: "
                               f"{max_unavailable}, so no pod can ever be evicted")
            continue
        min_available = spec.get("minAvailable")
        pct, count = _percent(min_available), int_or_none(min_available)
        if pct is not None and pct >= 100:
            yield SetViolation(pdb.ref, ("spec", "minAvailable"),
                               f"PodDisruptionBudget {name} sets minAvailable: {min_available}, "
                               "so no pod can ever be evicted")
            continue
        if (pct is None and count is None) or (count is not None and count <= 0):
            continue
        if lookup is None:
            lookup = TemplateLookup(index.workloads, group=lambda w: comparison_group(w.ref))
            hpa = hpa_targets(index)
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
