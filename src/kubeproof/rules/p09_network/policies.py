"""The set's NetworkPolicies as the set rules read them, and how findings name a workload.

What the set does not show is never held against it:
- objects without metadata.namespace share one unknown namespace of their
  application (applications.py): a policy without one covers only pod
  templates without one, never a namespace written down;
- a namespace holding a NetworkPolicy of another engine (Calico and Antrea
  also name a kind NetworkPolicy) is not judged for isolation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from kubeproof.core.index import Index, Record, WorkloadRec
from kubeproof.k8s.netpol import Policy, PolicyError, is_network_policy, parse_policy
from kubeproof.k8s.selectors import SelectorError
from kubeproof.rules.common import quote


@dataclass(slots=True)
class Policies:
    """The set's NetworkPolicies, parsed once per rule call."""

    # valid Kubernetes NetworkPolicies by namespace (None: no metadata.namespace)
    by_ns: dict[str | None, list[tuple[Record, Policy]]] = field(
        default_factory=lambda: defaultdict(list))
    # namespaces holding some Kubernetes NetworkPolicy, valid or not
    present: set[str] = field(default_factory=set)
    # namespaces holding a policy of another engine (None: one without a namespace)
    foreign: set[str | None] = field(default_factory=set)

    def is_foreign(self, ns: str) -> bool:
        return ns in self.foreign

    def in_force(self, ns: str | None) -> list[Policy]:
        """The valid policies in force in ``ns`` (None: the unknown namespace)."""
        return [p for _, p in self.by_ns.get(ns, ())]


def policies_of(index: Index) -> Policies:
    out = Policies()
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


def unnamed_hint(policies: Iterable[Policy], ns: str) -> str:
    """Why a policy without a namespace that would have counted does not."""
    first = next(iter(policies), None)
    if first is None:
        return ""
    return (f" (NetworkPolicy {quote(first.name)} has no metadata.namespace, so it does not "
            f"count for namespace {quote(ns)}: give it one, or scan with --namespace)")


def kind_name(w: WorkloadRec) -> str:
    return f"{w.ref.kind} {quote(w.ref.name)}"
