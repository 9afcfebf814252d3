"""A NetworkPolicy rule that admits every source or destination (KP0904), read from
the one policy alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeproof.core.catalogue import rule
from kubeproof.core.context import Context
from kubeproof.model import Path, Resource, Violation
from kubeproof.rules.common import as_dict, as_list, one_of, quote

_ANY_CIDRS = frozenset({"0.0.0.0/0", "::/0"})


def _peer_admits_all(peer: dict[str, Any]) -> str | None:
    """Why a single peer matches every source/destination, or None."""
    ns_sel = peer.get("namespaceSelector")
    pod_sel = peer.get("podSelector")
    ip = as_dict(peer.get("ipBlock"))
    if ip:
        if one_of(ip.get("cidr"), _ANY_CIDRS) and not as_list(ip.get("except")):
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
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: web, namespace: shop}
        spec:
          podSelector:
            matchLabels: {app: web}
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
