"""Rules for practice 9: NetworkPolicies.

KP0904 reads one NetworkPolicy alone. The set rules (default deny per
namespace, isolation of each workload, selectors that select nothing) read the
index; the policy semantics they rely on live in :mod:`kubeproof.netpol`.
Policies the API server would reject (an invalid selector, an empty peer ...)
never take effect and are ignored by the set rules.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kubeproof.index import Index, Record, WorkloadRec
from kubeproof.model import Context, Path, Resource, Scope, SetViolation, Severity, Violation
from kubeproof.netpol import (
    EGRESS,
    INGRESS,
    LabelIndex,
    Policy,
    PolicyError,
    PolicyIndex,
    is_network_policy,
    parse_policy,
)
from kubeproof.registry import rule
from kubeproof.rules.common import as_dict, as_list, quote
from kubeproof.selectors import SelectorError

_ANY_CIDRS = frozenset({"0.0.0.0/0", "::/0"})


def _peer_admits_all(peer: dict[str, Any]) -> str | None:
    """Why a single peer matches every source/destination, or None."""
    ns_sel = peer.get("namespaceSelector")
    pod_sel = peer.get("podSelector")
    ip = as_dict(peer.get("ipBlock"))
    if ip:
        if ip.get("cidr") in _ANY_CIDRS and not as_list(ip.get("except")):
            return f"ipBlock {ip.get('cidr')} with no except"
        return None
    if isinstance(ns_sel, dict) and not _selects_something_specific(ns_sel) and (
            pod_sel is None or (isinstance(pod_sel, dict)
                                and not _selects_something_specific(pod_sel))):
        return "an empty namespaceSelector (every pod in every namespace)"
    if not peer:
        return "an empty peer"
    return None


def _selects_something_specific(selector: dict[str, Any]) -> bool:
    return bool(as_dict(selector.get("matchLabels")) or as_list(selector.get("matchExpressions")))


@rule("KP0904", "netpol-allow-all", practice=9, severity="medium", kinds={"NetworkPolicy"})
def netpol_allow_all(res: Resource, ctx: Context) -> Iterator[Violation]:
    """NetworkPolicy rule that admits every source or destination.

    What:
        An ingress or egress rule of a NetworkPolicy that lets everything
        through: a rule with no `from`/`to` and no `ports` (all peers, all
        ports), a peer with an empty `namespaceSelector` (every pod in every
        namespace), or an `ipBlock` of `0.0.0.0/0` or `::/0` without `except`.

    Why:
        Such a rule cancels the isolation the policy exists for: once any
        policy selects a pod, only what the rules allow may reach it, and an
        allow-all rule quietly restores the flat network an attacker wants
        for lateral movement or data exfiltration.

    How:
        Name the peers that need access (a `podSelector`, a `namespaceSelector`
        with labels, or a narrow `ipBlock`) and the ports they use.

    Example:
        ```yaml
        ingress:
        - from:
          - namespaceSelector:
              matchLabels:
                kubernetes.io/metadata.name: ingress-nginx
          ports:
          - port: 8080
        ```
    """
    spec = as_dict(res.obj.get("spec"))
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for i, rule_ in enumerate(as_list(spec.get(direction))):
            if not isinstance(rule_, dict):
                continue
            base: Path = ("spec", direction, i)
            peers = rule_.get(peers_key)
            if not as_list(peers) and not as_list(rule_.get("ports")):
                yield Violation(base, f"{direction} rule {i} has no {quote(peers_key)} and no "
                                      f"ports: it admits all {_who(direction)} on all ports")
                continue
            for j, peer in enumerate(as_list(peers)):
                if not isinstance(peer, dict):
                    continue
                why = _peer_admits_all(peer)
                if why:
                    yield Violation((*base, peers_key, j),
                                    f"{direction} rule {i} admits all {_who(direction)}: "
                                    f"{why}")


def _who(direction: str) -> str:
    return "sources" if direction == "ingress" else "destinations"


# ---------------------------------------------------------------- set rules
#
# What the set does not show is never held against it:
# - a policy without metadata.namespace may be applied to any namespace, so
#   it counts as a policy of every namespace (it can only silence findings);
#   likewise a pod template without a namespace counts in every namespace;
# - a namespace holding a NetworkPolicy of another engine (Calico and Antrea
#   also name a kind NetworkPolicy) is not judged for isolation.


@dataclass(slots=True)
class _Policies:
    """The set's NetworkPolicies, parsed once per rule call."""

    # valid Kubernetes NetworkPolicies by namespace (None: no metadata.namespace)
    by_ns: dict[str | None, list[tuple[Record, Policy]]] = field(
        default_factory=lambda: defaultdict(list))
    # namespaces holding some Kubernetes NetworkPolicy, valid or not
    present: set[str] = field(default_factory=set)
    # namespaces holding a policy of another engine (None: one without a namespace)
    foreign: set[str | None] = field(default_factory=set)

    def is_foreign(self, ns: str) -> bool:
        return ns in self.foreign or None in self.foreign

    def in_force(self, ns: str) -> list[Policy]:
        """The valid policies that may be in force in ``ns``."""
        return [p for _, p in (*self.by_ns.get(ns, ()), *self.by_ns.get(None, ()))]


def _policies(index: Index) -> _Policies:
    out = _Policies()
    for record in index.network_policies:
        ns = record.ref.namespace
        if not is_network_policy(record.ref.api_version, record.ref.kind):
            out.foreign.add(ns)
            continue
        if ns is not None:
            out.present.add(ns)
        try:
            policy = parse_policy(record.data)
        except (PolicyError, SelectorError):
            continue  # the API server rejects it: never in force
        out.by_ns[ns].append((record, policy))
    return out


def _kind_name(w: WorkloadRec) -> str:
    return f"{w.ref.kind} {quote(w.ref.name)}"


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
        A policy without `metadata.namespace` counts for every namespace.
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
    policies = _policies(index)
    for ns in namespaces:
        if policies.is_foreign(ns):
            continue
        in_force = policies.in_force(ns)
        ref = index.namespaces[ns].ref
        if not any(p.denies_all(INGRESS) for p in in_force):
            yield SetViolation(ref, ("metadata", "name"),
                               f"namespace {quote(ns)} runs workloads but has no default-deny "
                               f"ingress NetworkPolicy")
        if not any(p.denies_all(EGRESS) for p in in_force):
            yield SetViolation(ref, ("metadata", "name"),
                               f"namespace {quote(ns)} runs workloads but has no default-deny "
                               f"egress NetworkPolicy", severity=Severity.LOW)


@rule("KP0902", "workload-not-isolated", practice=9, severity="medium", scope=Scope.SET)
def workload_not_isolated(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Workload whose pods no NetworkPolicy isolates for ingress.

    What:
        A workload whose pod template labels no NetworkPolicy of its namespace
        selects with `Ingress` in its effective `policyTypes` (a policy that
        omits `policyTypes` always counts for ingress). Judged only for
        workloads with a `metadata.namespace` that the set shows: its Namespace
        object or one of its NetworkPolicies is in the set. A policy without
        `metadata.namespace` counts for every namespace. Namespaces holding a
        Calico or Antrea `NetworkPolicy` are not judged.

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
    policies = _policies(index)
    by_ns = {ns: PolicyIndex(p for _, p in pairs if p.affects(INGRESS))
             for ns, pairs in policies.by_ns.items()}
    empty = PolicyIndex()
    anywhere = by_ns.get(None, empty)
    for w in index.workloads:
        ns = w.ref.namespace
        if ns is None or policies.is_foreign(ns):
            continue
        if not (index.described(ns) or ns in policies.present):
            continue
        if (next(by_ns.get(ns, empty).selecting(w.labels, INGRESS), None) is None
                and next(anywhere.selecting(w.labels, INGRESS), None) is None):
            yield SetViolation(w.ref, (*w.metadata_path, "labels"),
                               f"{_kind_name(w)}: no NetworkPolicy of namespace {quote(ns)} "
                               f"selects its pods for ingress")


def _unseen_pods(index: Index, templates: dict[str | None, LabelIndex[WorkloadRec]]
                 ) -> set[str]:
    """Namespaces where a Service selects pods that no pod template of the set
    describes (pods an operator creates from a custom resource, say): the set
    does not show every pod there."""
    out: set[str] = set()
    anywhere = templates.get(None)
    for svc in index.services:
        ns = svc.ref.namespace
        spec = svc.data.get("spec")
        selector = spec.get("selector") if isinstance(spec, dict) else None
        if ns is None or ns in out or not isinstance(selector, dict) or not selector:
            continue
        as_label_selector = {"matchLabels": selector}
        pods = templates.get(ns)
        if not ((pods is not None and pods.any_selected(as_label_selector))
                or (anywhere is not None and anywhere.any_selected(as_label_selector))):
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
        A pod template without `metadata.namespace` counts for every namespace.

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
        spec:
          podSelector:
            matchLabels:
              app: web      # the Deployment's template has app: web
        ```
    """
    if not index.network_policies or not index.workloads:
        return
    templates: dict[str | None, LabelIndex[WorkloadRec]] = {}
    for w in index.workloads:
        templates.setdefault(w.ref.namespace, LabelIndex()).add(w.labels, w)
    anywhere = templates.get(None)
    unseen = _unseen_pods(index, templates)
    policies = _policies(index)

    def selects_nothing(pods: LabelIndex[WorkloadRec], selector: dict[str, Any]) -> bool:
        return not pods.any_selected(selector) and not (
            anywhere is not None and anywhere.any_selected(selector))

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
