"""NetworkPolicy semantics exactly as the Kubernetes API defines them.

:func:`parse_policy` turns a ``networking.k8s.io/v1`` NetworkPolicy into a
:class:`Policy`, with the API server's defaults applied and its validation
enforced: an object the server would reject raises :class:`PolicyError` and
never takes effect, so callers skip it. The rules it encodes:

- ``spec.podSelector`` is a LabelSelector, not a pointer: missing or null is
  ``{}``, which selects every pod of the policy's namespace.
- Effective ``policyTypes``: when the list is missing or empty, ``Ingress`` is
  always included and ``Egress`` only when ``spec.egress`` has at least one
  rule (``egress: []`` does not count). A policy isolates the pods it selects
  in the directions of its policyTypes only; rules of another direction are
  ignored.
- A rule with no peers (``from``/``to`` missing or empty) matches every peer;
  one with no ``ports`` matches every port. A selected pod isolated in a
  direction admits the union of the rules of every policy isolating it.
- A peer sets ``podSelector`` and/or ``namespaceSelector``, or ``ipBlock``
  alone. ``podSelector`` alone: pods of the policy's own namespace;
  ``namespaceSelector`` alone: every pod of the selected namespaces; both:
  the pods matching the first in the namespaces matching the second.
- A port's protocol defaults to TCP; a string port is a named container port
  of the destination pod; ``endPort`` extends a numeric port to a range.

:class:`LabelIndex` and :class:`PolicyIndex` find the pods a selector selects
and the policies selecting a pod without testing every pair, so the rules and
the reachability analysis that use them stay linear in practice.

Not modelled: ``hostNetwork`` pods (policies do not reliably apply to them)
and ipBlock peers matching pod IPs (implementation-defined): an ipBlock never
selects a pod here.
"""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from kubeproof.k8s.selectors import (
    SelectorError,
    is_empty_selector,
    label_selector_matches,
    validate_label_selector,
)
from kubeproof.util.shapes import Path

INGRESS = "Ingress"
EGRESS = "Egress"
DIRECTIONS = (INGRESS, EGRESS)
PROTOCOLS = ("TCP", "UDP", "SCTP")
# API groups whose kind NetworkPolicy is the Kubernetes one (Calico and Antrea
# also have a kind NetworkPolicy, with other semantics)
POLICY_GROUPS = frozenset({"networking.k8s.io", "extensions"})
# set by the API server on every Namespace (Kubernetes >= 1.21)
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

_PEERS_KEY = {INGRESS: "from", EGRESS: "to"}
_SPEC_KEY = {INGRESS: "ingress", EGRESS: "egress"}
_PORT_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class PolicyError(ValueError):
    """A NetworkPolicy the API server would reject (the message says why)."""


def is_network_policy(api_version: str, kind: str) -> bool:
    """Whether ``apiVersion``/``kind`` name the Kubernetes NetworkPolicy."""
    group = api_version.split("/", 1)[0] if "/" in api_version else ""
    return kind == "NetworkPolicy" and group in POLICY_GROUPS


def namespace_labels(name: str, labels: dict[str, Any] | None = None) -> dict[str, Any]:
    """A namespace's labels as namespaceSelectors see them: its own plus the
    ``kubernetes.io/metadata.name`` label the API server sets to its name."""
    return {**(labels or {}), NAMESPACE_NAME_LABEL: name}


def validate_selector(selector: Any, where: str) -> None:
    """Raise :class:`PolicyError` unless ``selector`` is a valid LabelSelector."""
    try:
        validate_label_selector(selector)
    except SelectorError as exc:
        raise PolicyError(f"{where}: {exc}") from None


def effective_policy_types(spec: dict[str, Any]) -> frozenset[str]:
    """The directions a policy isolates, with the API server's default applied."""
    types = spec.get("policyTypes")
    if types is None or types == []:
        egress = spec.get("egress")
        has_egress = isinstance(egress, list) and len(egress) > 0
        return frozenset((INGRESS, EGRESS)) if has_egress else frozenset((INGRESS,))
    if not isinstance(types, list):
        raise PolicyError("policyTypes must be a list")
    if len(types) > 2:
        raise PolicyError("policyTypes may not list more than two types")
    for t in types:
        if t not in DIRECTIONS:
            raise PolicyError(f"policyTypes: unsupported value {t!r}")
    return frozenset(types)


# ---------------------------------------------------------------- the model


@dataclass(frozen=True, slots=True)
class Port:
    """One entry of a rule's ``ports``."""

    path: Path
    protocol: str
    port: int | str | None  # None: every port of the protocol; str: a named port
    end_port: int | None

    def admits(self, protocol: str, number: int | None, name: str | None = None) -> bool:
        """Whether traffic to destination port ``number`` (container port name
        ``name``) over ``protocol`` matches this entry."""
        if protocol != self.protocol:
            return False
        if self.port is None:
            return True
        if isinstance(self.port, str):
            return name is not None and name == self.port
        if number is None:
            return False
        if self.end_port is None:
            return number == self.port
        return self.port <= number <= self.end_port


@dataclass(frozen=True, slots=True)
class IPBlock:
    cidr: IPNetwork
    excepts: tuple[IPNetwork, ...]

    def contains(self, address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        if ip.version != self.cidr.version or ip not in self.cidr:
            return False
        return not any(ip in ex for ex in self.excepts)


@dataclass(frozen=True, slots=True)
class Peer:
    """One entry of a rule's ``from``/``to``."""

    path: Path
    pod_selector: dict[str, Any] | None
    namespace_selector: dict[str, Any] | None
    ip_block: IPBlock | None

    @property
    def same_namespace(self) -> bool:
        """Selects pods of the policy's own namespace only (a podSelector alone)."""
        return self.ip_block is None and self.namespace_selector is None

    def selects_pod(self, policy_namespace: str | None, namespace: str | None,
                    labels: dict[str, Any], ns_labels: dict[str, Any]) -> bool:
        """Whether this peer selects a pod with ``labels`` in ``namespace``
        (whose labels, see :func:`namespace_labels`, are ``ns_labels``)."""
        if self.ip_block is not None:
            return False
        if self.namespace_selector is None:
            return (namespace is not None and namespace == policy_namespace
                    and self.pod_selector is not None
                    and label_selector_matches(self.pod_selector, labels))
        if not label_selector_matches(self.namespace_selector, ns_labels):
            return False
        return self.pod_selector is None or label_selector_matches(self.pod_selector, labels)


@dataclass(frozen=True, slots=True)
class TrafficRule:
    """One ingress or egress rule."""

    path: Path
    direction: str
    peers: tuple[Peer, ...]  # empty: every peer
    ports: tuple[Port, ...]  # empty: every port

    def admits_port(self, protocol: str, number: int | None, name: str | None = None) -> bool:
        return not self.ports or any(p.admits(protocol, number, name) for p in self.ports)


@dataclass(frozen=True, slots=True)
class Policy:
    namespace: str | None
    name: str
    pod_selector: dict[str, Any]
    types: frozenset[str]  # effective policyTypes
    ingress: tuple[TrafficRule, ...]  # as written, whether in force or not
    egress: tuple[TrafficRule, ...]

    pod_selector_path = ("spec", "podSelector")

    @property
    def selects_all(self) -> bool:
        """Its podSelector is ``{}``: every pod of its namespace."""
        return is_empty_selector(self.pod_selector)

    def selects(self, labels: dict[str, Any]) -> bool:
        """Whether a pod of the policy's namespace with ``labels`` is selected."""
        return label_selector_matches(self.pod_selector, labels)

    def affects(self, direction: str) -> bool:
        return direction in self.types

    def isolates(self, direction: str, labels: dict[str, Any]) -> bool:
        """Whether a pod of its namespace with ``labels`` is isolated by it in
        ``direction`` (only traffic some rule allows may pass then)."""
        return direction in self.types and self.selects(labels)

    def rules(self, direction: str) -> tuple[TrafficRule, ...]:
        """The rules in force in ``direction`` (none when not in policyTypes)."""
        if direction not in self.types:
            return ()
        return self.ingress if direction == INGRESS else self.egress

    def denies_all(self, direction: str) -> bool:
        """A default deny: selects every pod, isolates ``direction``, allows nothing."""
        written = self.ingress if direction == INGRESS else self.egress
        return self.selects_all and direction in self.types and not written


# ---------------------------------------------------------------- parsing


def parse_policy(obj: dict[str, Any]) -> Policy:
    """A NetworkPolicy object (as a dict) as a :class:`Policy`.

    Raises :class:`PolicyError` when the API server would reject it.
    """
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    ns = meta.get("namespace")
    name = meta.get("name")
    spec = obj.get("spec")
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise PolicyError("spec must be a mapping")
    pod_selector = spec.get("podSelector")
    if pod_selector is None:
        pod_selector = {}
    validate_selector(pod_selector, "spec.podSelector")
    types = effective_policy_types(spec)
    return Policy(
        namespace=str(ns) if ns is not None else None,
        name=str(name) if name is not None else "",
        pod_selector=pod_selector,
        types=types,
        ingress=_rules(spec, INGRESS),
        egress=_rules(spec, EGRESS),
    )


def _rules(spec: dict[str, Any], direction: str) -> tuple[TrafficRule, ...]:
    key = _SPEC_KEY[direction]
    written = spec.get(key)
    if written is None:
        return ()
    if not isinstance(written, list):
        raise PolicyError(f"spec.{key} must be a list")
    out = []
    peers_key = _PEERS_KEY[direction]
    for i, rule in enumerate(written):
        path: Path = ("spec", key, i)
        if rule is None:  # a null entry decodes as an empty rule
            rule = {}
        if not isinstance(rule, dict):
            raise PolicyError(f"spec.{key}[{i}] must be a mapping")
        peers = _list(rule.get(peers_key), f"spec.{key}[{i}].{peers_key}")
        ports = _list(rule.get("ports"), f"spec.{key}[{i}].ports")
        out.append(TrafficRule(
            path, direction,
            tuple(_peer(p, (*path, peers_key, j)) for j, p in enumerate(peers)),
            tuple(_port(p, (*path, "ports", j)) for j, p in enumerate(ports)),
        ))
    return tuple(out)


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PolicyError(f"{where} must be a list")
    return value


def _where(path: Path) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else p for p in path).replace(".[", "[")


def _peer(peer: Any, path: Path) -> Peer:
    if not isinstance(peer, dict):
        raise PolicyError(f"{_where(path)}: must specify a peer")
    pod_sel, ns_sel, block = (peer.get("podSelector"), peer.get("namespaceSelector"),
                              peer.get("ipBlock"))
    if pod_sel is None and ns_sel is None and block is None:
        raise PolicyError(f"{_where(path)}: must specify a peer")
    if block is not None and (pod_sel is not None or ns_sel is not None):
        raise PolicyError(f"{_where(path)}: may not specify both ipBlock and another peer")
    if pod_sel is not None:
        validate_selector(pod_sel, _where((*path, "podSelector")))
    if ns_sel is not None:
        validate_selector(ns_sel, _where((*path, "namespaceSelector")))
    return Peer(path, pod_sel, ns_sel,
                _ip_block(block, (*path, "ipBlock")) if block is not None else None)


def _network(text: Any, where: str) -> IPNetwork:
    if not isinstance(text, str) or "/" not in text:
        raise PolicyError(f"{where} must be a CIDR")
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise PolicyError(f"{where} is not a valid CIDR") from None


def _ip_block(block: Any, path: Path) -> IPBlock:
    where = _where(path)
    if not isinstance(block, dict):
        raise PolicyError(f"{where} must be a mapping")
    cidr = _network(block.get("cidr"), f"{where}.cidr")
    excepts = []
    for i, text in enumerate(_list(block.get("except"), f"{where}.except")):
        ex = _network(text, f"{where}.except[{i}]")
        if (ex.version != cidr.version or not ex.subnet_of(cidr)  # type: ignore[arg-type]
                or ex.prefixlen <= cidr.prefixlen):
            raise PolicyError(f"{where}.except[{i}] must be a strict subset of cidr")
        excepts.append(ex)
    return IPBlock(cidr, tuple(excepts))


def _port_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def _port(entry: Any, path: Path) -> Port:
    where = _where(path)
    if entry is None:  # a null entry decodes as an empty one: every TCP port
        entry = {}
    if not isinstance(entry, dict):
        raise PolicyError(f"{where} must be a mapping")
    protocol = entry.get("protocol")
    if protocol is None:
        protocol = "TCP"
    if protocol not in PROTOCOLS:
        raise PolicyError(f"{where}.protocol: unsupported value {protocol!r}")
    port, end = entry.get("port"), entry.get("endPort")
    if isinstance(port, str):
        if not (_PORT_NAME.fullmatch(port) and "--" not in port
                and any(ch.isalpha() for ch in port)):
            raise PolicyError(f"{where}.port: {port!r} is not a valid port name")
        if end is not None:
            raise PolicyError(f"{where}.endPort may not be set with a named port")
    elif port is not None:
        if not _port_number(port):
            raise PolicyError(f"{where}.port must be a port number or name")
        if end is not None and not (_port_number(end) and end >= port):
            raise PolicyError(f"{where}.endPort must be a port number >= port")
    elif end is not None:
        raise PolicyError(f"{where}.endPort may not be set without port")
    return Port(path, protocol, port, end)


# ---------------------------------------------------------------- lookups

T = TypeVar("T")


def _hashable(value: Any) -> bool:
    return isinstance(value, Hashable)


class LabelIndex(Generic[T]):
    """Labelled items (pod templates) of one namespace, to find the ones a
    valid selector selects without testing every item.

    A selector's candidates are the items sharing one of its ``matchLabels``
    pairs (the rarest), or one of the values of an ``In`` requirement, or the
    key of an ``Exists`` one; every candidate is then tested exactly.
    """

    def __init__(self, items: Iterable[tuple[dict[str, Any], T]] = ()) -> None:
        self._items: list[tuple[dict[str, Any], T]] = []
        self._by_pair: dict[tuple[str, Any], list[tuple[dict[str, Any], T]]] = \
            defaultdict(list)
        self._by_key: dict[str, list[tuple[dict[str, Any], T]]] = defaultdict(list)
        self._odd: list[tuple[dict[str, Any], T]] = []  # items with unhashable label values
        for labels, item in items:
            self.add(labels, item)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, labels: dict[str, Any], item: T) -> None:
        entry = (labels, item)
        self._items.append(entry)
        odd = False
        for k, v in labels.items():
            self._by_key[k].append(entry)
            if _hashable(v):
                self._by_pair[(k, v)].append(entry)
            else:
                odd = True
        if odd:
            self._odd.append(entry)

    def _candidates(self, selector: dict[str, Any]) -> list[tuple[dict[str, Any], T]]:
        best: list[tuple[dict[str, Any], T]] | None = None
        match_labels = selector.get("matchLabels")
        if isinstance(match_labels, dict):
            for k, v in match_labels.items():
                if _hashable(v):
                    pairs = self._by_pair.get((k, v), [])
                    if best is None or len(pairs) < len(best):
                        best = pairs
        expressions = selector.get("matchExpressions")
        for expr in expressions if isinstance(expressions, list) else ():
            if not isinstance(expr, dict):
                continue
            key: Any = expr.get("key")
            op, values = expr.get("operator"), expr.get("values")
            bucket: list[tuple[dict[str, Any], T]] | None = None
            if op == "Exists":
                bucket = self._by_key.get(key, [])
            elif op == "In" and isinstance(values, list) and all(map(_hashable, values)):
                bucket = [e for v in dict.fromkeys(values)
                          for e in self._by_pair.get((key, v), [])]
            if bucket is not None and (best is None or len(bucket) < len(best)):
                best = bucket
        if best is None:
            return self._items
        if not self._odd:
            return best
        seen = {id(e) for e in best}
        return best + [e for e in self._odd if id(e) not in seen]

    def select(self, selector: dict[str, Any]) -> Iterator[T]:
        """The items ``selector`` selects (it must be valid)."""
        for labels, item in self._candidates(selector):
            if label_selector_matches(selector, labels):
                yield item

    def any_selected(self, selector: dict[str, Any]) -> bool:
        return next(self.select(selector), None) is not None


class PolicyIndex:
    """The policies of one namespace, to find those selecting a pod without
    testing every policy: a policy whose podSelector has ``matchLabels`` is
    only tested against pods carrying the one of its pairs that the fewest
    policies share."""

    def __init__(self, policies: Iterable[Policy] = ()) -> None:
        self._by_pair: dict[tuple[str, Any], list[Policy]] = defaultdict(list)
        self._general: list[Policy] = []
        keyed: list[tuple[Policy, list[tuple[str, Any]]]] = []
        shared: dict[tuple[str, Any], int] = defaultdict(int)
        for p in policies:
            match_labels = p.pod_selector.get("matchLabels")
            pairs = [(k, v) for k, v in match_labels.items() if _hashable(v)] \
                if isinstance(match_labels, dict) else []
            if not pairs:
                self._general.append(p)
                continue
            keyed.append((p, pairs))
            for pair in pairs:
                shared[pair] += 1
        for p, pairs in keyed:
            self._by_pair[min(pairs, key=shared.__getitem__)].append(p)

    def selecting(self, labels: dict[str, Any], direction: str | None = None) -> Iterator[Policy]:
        """The policies that select a pod with ``labels`` (and, given a
        ``direction``, isolate it in that direction)."""
        buckets = [self._general]
        for k, v in labels.items():
            if _hashable(v):
                bucket = self._by_pair.get((k, v))
                if bucket:
                    buckets.append(bucket)
        for bucket in buckets:
            for p in bucket:
                if (direction is None or direction in p.types) and p.selects(labels):
                    yield p
