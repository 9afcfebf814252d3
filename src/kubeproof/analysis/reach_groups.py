"""Shortcuts over many reachability questions, shared by rule KP0905 and
``kubeproof netpol reach``: workloads alike (:func:`profile`) in namespaces alike
(:func:`namespace_fingerprints`) get the same answers, and :func:`peers_of`
narrows the workloads a workload's policies may let it talk with by peer alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterator
from typing import Any

import orjson

from kubeproof.analysis.reach import Network, container_ports, ns_key
from kubeproof.core.index import Index, WorkloadRec
from kubeproof.k8s.netpol import LabelIndex, Peer
from kubeproof.k8s.selectors import label_selector_matches
from kubeproof.util.shapes import as_list


def profile(w: WorkloadRec) -> Hashable:
    """What decides a workload's reachability within its namespace: labels, ports."""
    labels = tuple(sorted((str(k), repr(v)) for k, v in w.labels.items()))
    return labels, tuple(sorted(container_ports(w).items(), key=repr))


_NAME_LABEL = "kubernetes.io/metadata.name"


def _selector_values(node: Any, key: str, out: set[str]) -> None:
    """Every value a selector anywhere in ``node`` compares label ``key`` with."""
    if isinstance(node, dict):
        labels = node.get("matchLabels")
        if isinstance(labels, dict) and key in labels:
            out.add(str(labels[key]))
        for expr in as_list(node.get("matchExpressions")):
            if isinstance(expr, dict) and expr.get("key") == key:
                out.update(str(v) for v in as_list(expr.get("values")))
        for value in node.values():
            _selector_values(value, key, out)
    elif isinstance(node, list):
        for value in node:
            _selector_values(value, key, out)


def _spec_key(spec: Any) -> bytes:
    """A policy spec as bytes, equal for equal specs. orjson refuses integers
    beyond 64 bits and non-string keys (hostile input): such a spec falls back
    to its repr, which only costs sharing answers with look-alike namespaces."""
    try:
        return orjson.dumps(spec, option=orjson.OPT_SORT_KEYS, default=repr)
    except TypeError:
        return repr(spec).encode()


def namespace_fingerprints(index: Index, net: Network) -> Callable[[str], Hashable]:
    """What decides reachability about a namespace: its policies (their specs,
    not their names) and its labels. Namespaces alike (copies of one
    application in many namespaces) then share their answers. The automatic
    name label counts only where some selector names that namespace: all
    other namespaces answer every selector on it alike."""
    specs: dict[str, list[bytes]] = defaultdict(list)
    named: set[str] = set()
    for record in index.network_policies:
        spec = record.data.get("spec")
        _selector_values(spec, _NAME_LABEL, named)
        specs[ns_key(record.ref.namespace)].append(_spec_key(spec))
    memo: dict[str, Hashable] = {}

    def fingerprint(ns: str) -> Hashable:
        if ns not in memo:
            labels = dict(net.namespace_labels(ns))
            if labels.get(_NAME_LABEL) not in named:
                labels.pop(_NAME_LABEL, None)
            memo[ns] = (tuple(sorted(specs.get(ns, ()))),
                        tuple(sorted((str(k), repr(v)) for k, v in labels.items())))
        return memo[ns]

    return fingerprint


def _peer_pods(net: Network, policy_ns: str, peer: Peer,
               pods: dict[str, LabelIndex[WorkloadRec]]) -> Iterator[WorkloadRec]:
    """The workloads among ``pods`` that ``peer`` of a policy in force in
    ``policy_ns`` selects (an ipBlock selects none)."""
    if peer.ip_block is not None:
        return
    pod_selector = peer.pod_selector if peer.pod_selector is not None else {}
    if peer.namespace_selector is None:
        if peer.pod_selector is not None and policy_ns in pods:
            yield from pods[policy_ns].select(pod_selector)
        return
    for ns, found in pods.items():
        if label_selector_matches(peer.namespace_selector, net.namespace_labels(ns)):
            yield from found.select(pod_selector)


def peers_of(net: Network, w: WorkloadRec, direction: str,
              pods: dict[str, LabelIndex[WorkloadRec]]) -> set[int] | None:
    """The ids of the workloads among ``pods`` that ``w``'s policies may let
    it talk with in ``direction``, on some port; None for all of them."""
    isolating = net.isolating(w, direction)
    if not isolating:
        return None
    policy_ns = ns_key(w.ref.namespace)
    out: set[int] = set()
    for policy in isolating:
        for traffic in policy.rules(direction):
            if not traffic.peers:
                return None
            for peer in traffic.peers:
                out.update(id(x) for x in _peer_pods(net, policy_ns, peer, pods))
    return out
