"""Selectors that select nothing: Services (KP0502) and PodDisruptionBudgets
(KP0503) that match no pod template in the set."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeproof.core.catalogue import rule
from kubeproof.core.context import Context
from kubeproof.core.index import Index
from kubeproof.k8s.selectors import (
    SelectorError,
)
from kubeproof.model import Scope, SetViolation
from kubeproof.rules.common import as_dict, quote
from kubeproof.rules.p05_labels.selection import (
    ALL_RUNTIME,
    namespace_lookup,
    pdb_selector,
    shown,
    unnamed_hint,
)


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
        absent = [f"{k}={v}" for k, v in selector.items() if k not in ALL_RUNTIME
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
