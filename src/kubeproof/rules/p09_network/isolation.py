"""Isolation by the set's NetworkPolicies: a namespace without default deny (KP0901),
a workload no policy isolates (KP0902), a policy selecting nothing (KP0903)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeproof.core.catalogue import rule
from kubeproof.core.context import Context
from kubeproof.core.index import Index, WorkloadRec
from kubeproof.k8s.netpol import EGRESS, INGRESS, LabelIndex, PolicyIndex
from kubeproof.model import Scope, SetViolation, Severity
from kubeproof.rules.common import quote
from kubeproof.rules.p09_network.policies import kind_name, policies_of, unnamed_hint


@rule("KP0901", "namespace-no-default-deny", practice=9, severity="high", scope=Scope.SET)
def namespace_no_default_deny(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Namespace with workloads but no default-deny NetworkPolicy.

    What:
        A Namespace in the scanned set (or cluster) that runs workloads and has
        no default-deny ingress policy: a NetworkPolicy with `podSelector: {}`,
        `Ingress` in its effective `policyTypes` and no ingress rules. A missing
        default-deny egress policy (`Egress` in `policyTypes`, no egress rules)
        is reported by the same rule at severity low; without an explicit
        `policyTypes`, a policy with no `egress` rules never isolates egress.
        A policy without `metadata.namespace` does not count for a namespace
        written down (give it one, or scan with `--namespace`).
        Namespaces the set does not show, and namespaces holding a Calico or
        Antrea `NetworkPolicy`, are not judged.

    Why:
        Pods accept traffic from anywhere until some policy selects them. A
        default deny makes isolation the rule instead of the exception: a new
        workload, or one whose labels change, gets no traffic until a policy
        names what may reach it, and a compromised pod cannot roam the cluster
        network.

    How:
        Add a NetworkPolicy with `podSelector: {}`, `policyTypes: [Ingress,
        Egress]` and no rules to the namespace, then allow the traffic each
        workload needs (DNS egress included) with narrower policies.

    Example:
        ```yaml
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata:
          name: default-deny
          namespace: shop
        spec:
          podSelector: {}
          policyTypes: [Ingress, Egress]
        ```
    """
    namespaces = sorted({w.ref.namespace for w in index.workloads
                         if w.ref.namespace and index.described(w.ref.namespace)})
    if not namespaces:
        return
    policies = policies_of(index)
    unnamed = policies.in_force(None)
    for ns in namespaces:
        if policies.is_foreign(ns):
            continue
        in_force = policies.in_force(ns)
        ref = index.namespaces[ns].ref
        if not any(p.denies_all(INGRESS) for p in in_force):
            hint = unnamed_hint((p for p in unnamed if p.denies_all(INGRESS)), ns)
            yield SetViolation(ref, ("metadata", "name"),
                               f"namespace {quote(ns)} runs workloads but has no default-deny "
                               f"ingress NetworkPolicy{hint}")
        if not any(p.denies_all(EGRESS) for p in in_force):
            hint = unnamed_hint((p for p in unnamed if p.denies_all(EGRESS)), ns)
            yield SetViolation(ref, ("metadata", "name"),
                               f"namespace {quote(ns)} runs workloads but has no default-deny "
                               f"egress NetworkPolicy{hint}", severity=Severity.LOW)


@rule("KP0902", "workload-not-isolated", practice=9, severity="medium", scope=Scope.SET)
def workload_not_isolated(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Workload whose pods no NetworkPolicy isolates for ingress.

    What:
        A workload whose pod template labels no NetworkPolicy of its namespace
        selects with `Ingress` in its effective `policyTypes` (a policy that
        omits `policyTypes` always counts for ingress). Judged only for
        workloads with a `metadata.namespace` that the set shows: its Namespace
        object or one of its NetworkPolicies is in the set. A policy without
        `metadata.namespace` does not count for a namespace written down.
        Namespaces holding a Calico or Antrea `NetworkPolicy` are not judged.

    Why:
        A pod that no policy selects accepts connections from every pod in
        the cluster on every port, whatever the other policies of its
        namespace say; one compromised neighbour is enough to reach it.

    How:
        Select the pods with a NetworkPolicy that allows only the clients and
        ports they serve, or add a default-deny policy (`podSelector: {}`) to
        the namespace.

    Example:
        ```yaml
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata:
          name: web
          namespace: shop
        spec:
          podSelector:
            matchLabels:
              app: web
          policyTypes: [Ingress]
          ingress:
          - from:
            - podSelector:
                matchLabels:
                  app: frontend
            ports:
            - port: 8080
        ```
    """
    if not index.workloads:
        return
    policies = policies_of(index)
    by_ns = {ns: PolicyIndex(p for _, p in pairs if p.affects(INGRESS))
             for ns, pairs in policies.by_ns.items()}
    empty = PolicyIndex()
    unnamed = by_ns.get(None, empty)
    for w in index.workloads:
        ns = w.ref.namespace
        if ns is None or policies.is_foreign(ns):
            continue
        if not (index.described(ns) or ns in policies.present):
            continue
        if next(by_ns.get(ns, empty).selecting(w.labels, INGRESS), None) is None:
            hint = unnamed_hint(unnamed.selecting(w.labels, INGRESS), ns)
            yield SetViolation(w.ref, (*w.metadata_path, "labels"),
                               f"{kind_name(w)}: no NetworkPolicy of namespace {quote(ns)} "
                               f"selects its pods for ingress{hint}")


def _unseen_pods(index: Index, templates: dict[str | None, LabelIndex[WorkloadRec]]
                 ) -> set[str]:
    """Namespaces where a Service selects pods that no pod template of the set
    describes (pods an operator creates from a custom resource, say): the set
    does not show every pod there."""
    out: set[str] = set()
    for svc in index.services:
        ns = svc.ref.namespace
        spec = svc.data.get("spec")
        selector = spec.get("selector") if isinstance(spec, dict) else None
        if ns is None or ns in out or not isinstance(selector, dict) or not selector:
            continue
        as_label_selector = {"matchLabels": selector}
        pods = templates.get(ns)
        if pods is None or not pods.any_selected(as_label_selector):
            out.add(ns)
    return out


@rule("KP0903", "netpol-selects-nothing", practice=9, severity="low", scope=Scope.SET)
def netpol_selects_nothing(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """NetworkPolicy selector matching no pod template of its namespace.

    What:
        A NetworkPolicy whose non-empty `podSelector` matches no pod template
        of its namespace, or a peer `podSelector` without a
        `namespaceSelector` (a peer in the policy's own namespace) that matches
        none. Judged only in namespaces where the set shows workloads, and not
        where a Service selects pods no template describes (pods an operator
        creates from a custom resource): there the set does not show every pod.
        A pod template without `metadata.namespace` does not count for a
        namespace written down.

    Why:
        A policy that selects nothing protects nothing, and a peer that
        selects nothing allows nothing: usually a label typo, or a label
        renamed in the workload but not in the policy. The pods meant to be
        isolated stay open, or the clients meant to be allowed are cut off.

    How:
        Make the selector match the pod template labels of the intended
        workload (`kubectl get pods -l ...` lists what it selects).

    Example:
        ```yaml
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: web, namespace: shop}
        spec:
          podSelector:
            matchLabels:
              app: web      # the Deployment's template has app: web
        ---
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
        ```
    """
    if not index.network_policies or not index.workloads:
        return
    templates: dict[str | None, LabelIndex[WorkloadRec]] = {}
    for w in index.workloads:
        templates.setdefault(w.ref.namespace, LabelIndex()).add(w.labels, w)
    unseen = _unseen_pods(index, templates)
    policies = policies_of(index)

    def selects_nothing(pods: LabelIndex[WorkloadRec], selector: dict[str, Any]) -> bool:
        return not pods.any_selected(selector)

    for ns, pairs in policies.by_ns.items():
        pods = templates.get(ns)
        if ns is None or pods is None or ns in unseen:
            continue
        for record, policy in pairs:
            label = f"NetworkPolicy {quote(policy.name)}"
            if not policy.selects_all and selects_nothing(pods, policy.pod_selector):
                yield SetViolation(record.ref, policy.pod_selector_path,
                                   f"{label}: podSelector matches no pod template in "
                                   f"namespace {quote(ns)}")
            for traffic in (*policy.ingress, *policy.egress):
                for j, peer in enumerate(traffic.peers):
                    if (peer.same_namespace and peer.pod_selector is not None
                            and selects_nothing(pods, peer.pod_selector)):
                        yield SetViolation(
                            record.ref, (*peer.path, "podSelector"),
                            f"{label}: {traffic.direction.lower()} rule {traffic.path[-1]} "
                            f"peer {j} podSelector matches no pod template in namespace "
                            f"{quote(ns)}")
