"""NetworkPolicy reachability over a scanned set: who may open a connection to whom.

A workload stands for its pods (the labels of its pod template). Traffic from
a source to a destination on a port is allowed when both ends let it pass:

- the source's **egress**: no policy of its namespace isolates it for egress,
  or some egress rule of one of those policies admits the destination and the
  port;
- the destination's **ingress**: likewise with ingress rules admitting the
  source.

The per-policy semantics (effective ``policyTypes``, peers, ports, ipBlock,
validation) are those of :mod:`kubeproof.k8s.netpol`: policies are additive (the
union of the rules of every policy isolating a pod), a rule with no peers
admits every peer and one with no ports every port, ``namespaceSelector`` and
``podSelector`` in one peer are ANDed and separate peers ORed, a protocol
defaults to TCP, a named port is resolved against the container ports the
destination's template declares, ``endPort`` makes a range. A policy the API
server would reject never takes effect and is ignored (:attr:`Network.invalid`).

Addresses outside the cluster are endpoints too (``external`` is
``0.0.0.0/0``, or any CIDR). No policy governs their side, and only ``ipBlock``
peers (or rules without peers) match them. Pod IPs are unknown from manifests,
so an ``ipBlock`` never matches a workload (as in :mod:`kubeproof.k8s.netpol`).
For a block of addresses the verdict may be ``partial``: some of its
addresses are admitted (an ``except`` carves them out, or the ``cidr`` is
narrower).

What manifests cannot show:

- a namespace's labels are those of its Namespace object in the set plus
  ``kubernetes.io/metadata.name``; for a namespace the set does not describe
  only the latter is known, so a ``namespaceSelector`` on other labels does
  not select it;
- objects without ``metadata.namespace`` are taken to share one namespace
  whose name and labels are unknown (where ``kubectl apply`` would put them);
- traffic from a pod's own node, ``hostNetwork`` pods, and policies of other
  engines (Calico, Antrea: :attr:`Network.foreign`) are not modelled; a pod
  can always reach itself over ``localhost``, which the analysis does not
  report (``W`` to ``W`` is between two pods of the workload).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from copy import copy
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any

from kubeproof.core.index import Index, Record, WorkloadRec
from kubeproof.k8s.names import port_name_problem
from kubeproof.k8s.netpol import (
    EGRESS,
    INGRESS,
    PROTOCOLS,
    IPBlock,
    IPNetwork,
    Policy,
    PolicyError,
    PolicyIndex,
    TrafficRule,
    is_network_policy,
    namespace_labels,
    parse_policy,
)
from kubeproof.k8s.placeholders import is_placeholder
from kubeproof.k8s.quantity import decimal_int
from kubeproof.k8s.selectors import SelectorError
from kubeproof.model import ObjectRef

EXTERNAL = "external"
EXTERNAL_NETWORK: IPNetwork = ipaddress.ip_network("0.0.0.0/0")
# the namespace key of objects without metadata.namespace (no real name is empty)
UNNAMED = ""
MAX_PORT = 65535

ALLOWED = "allowed"
PARTIAL = "partial"
DENIED = "denied"
_RANK = {DENIED: 0, PARTIAL: 1, ALLOWED: 2}

Span = tuple[int, int]  # an inclusive range of integers (addresses or ports)


def ns_key(namespace: str | None) -> str:
    """The namespace an object lives in for the analysis."""
    return namespace if namespace is not None else UNNAMED


# ---------------------------------------------------------------- endpoints


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A source or destination: a workload's pods, or addresses outside the cluster."""

    label: str
    workload: WorkloadRec | None = None
    network: IPNetwork | None = None

    @classmethod
    def of_workload(cls, w: WorkloadRec, label: str | None = None) -> Endpoint:
        return cls(label or workload_label(w), workload=w)

    @classmethod
    def of_network(cls, network: IPNetwork, label: str | None = None) -> Endpoint:
        return cls(label or str(network), network=network)

    @property
    def external(self) -> bool:
        return self.workload is None

    @property
    def namespace(self) -> str:
        return ns_key(self.workload.ref.namespace) if self.workload is not None else UNNAMED


def workload_label(w: WorkloadRec) -> str:
    """``namespace/name``, or ``name`` for a workload without a namespace."""
    ns = w.ref.namespace
    return f"{ns}/{w.ref.name}" if ns is not None else w.ref.name


def parse_network(text: str) -> IPNetwork | None:
    """``external``, a CIDR or one address as a network; None for anything else."""
    if text == EXTERNAL:
        return EXTERNAL_NETWORK
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


# ---------------------------------------------------------------- ports


@dataclass(frozen=True, slots=True)
class QueryPort:
    """A port asked about: a number, or the name of a destination container port."""

    protocol: str
    port: int | str

    @property
    def label(self) -> str:
        return f"{self.port}/{self.protocol}"


def parse_port(text: str) -> QueryPort:
    """``P`` or ``P/PROTO`` (a number 1-65535 or a port name; TCP, UDP or SCTP)."""
    value, _, proto = text.partition("/")
    protocol = proto.upper() if proto else "TCP"
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {proto!r} (expected TCP, UDP or SCTP)")
    if value.isdigit():  # any digits, "²" too: only ASCII ones make a number
        number = decimal_int(value, MAX_PORT + 1)
        if number is None or not 1 <= number <= MAX_PORT:
            shown = value if len(value) <= 20 else value[:20] + "..."
            raise ValueError(f"port {shown} is out of range 1-{MAX_PORT}")
        return QueryPort(protocol, number)
    if not value or port_name_problem(value) is not None:  # "-1" is neither
        raise ValueError(f"{text[:40]!r} is not a port number (1-{MAX_PORT}) or name")
    return QueryPort(protocol, value)


@dataclass(frozen=True, slots=True)
class PortRange:
    """The ports a decision is about: ``start``-``end`` of one protocol
    (``protocol`` ``*``: every port of every protocol), or an unresolved name."""

    protocol: str
    start: int | None
    end: int | None
    name: str | None = None

    @property
    def label(self) -> str:
        if self.protocol == "*":
            return "any port"
        if self.start is None:
            return f"{self.name}/{self.protocol}"
        if self.start == 1 and self.end == MAX_PORT:
            return f"any/{self.protocol}"
        where = str(self.start) if self.start == self.end else f"{self.start}-{self.end}"
        if self.name:
            where = f"{self.name}({where})"
        return f"{where}/{self.protocol}"


def container_ports(w: WorkloadRec | None) -> dict[tuple[str, int], str | None]:
    """(protocol, containerPort) -> its name, for every declared port."""
    out: dict[tuple[str, int], str | None] = {}
    if w is None:
        return out
    for c in w.containers:
        if len(c.path) >= 2 and c.path[-2] == "ephemeralContainers":
            continue
        for p in c.ports:
            number, proto, name = p.get("containerPort"), p.get("protocol") or "TCP", \
                p.get("name")
            if isinstance(number, int) and not isinstance(number, bool) and \
                    isinstance(proto, str):
                out.setdefault((proto, number), name if isinstance(name, str) else None)
    return out


def declared_ports(w: WorkloadRec) -> list[QueryPort]:
    """The container ports a workload's template declares (sorted, no duplicates)."""
    found = sorted((k for k in container_ports(w) if k[0] in PROTOCOLS),
                   key=lambda k: (PROTOCOLS.index(k[0]), k[1]))
    return [QueryPort(protocol, number) for protocol, number in found]


@dataclass(frozen=True, slots=True)
class _Probe:
    """One concrete port: the protocol, its number and its container port name."""

    protocol: str
    number: int | None
    name: str | None


# ---------------------------------------------------------------- addresses


def _span(network: IPNetwork) -> Span:
    return int(network.network_address), int(network.broadcast_address)


def _block_spans(block: IPBlock, within: IPNetwork) -> list[Span]:
    """The addresses of ``within`` that ``block`` (cidr minus excepts) admits."""
    if block.cidr.version != within.version:
        return []
    lo, hi = _span(block.cidr)
    w_lo, w_hi = _span(within)
    lo, hi = max(lo, w_lo), min(hi, w_hi)
    if lo > hi:
        return []
    out: list[Span] = []
    for ex_lo, ex_hi in sorted(_span(ex) for ex in block.excepts):
        if ex_lo > lo:
            out.append((lo, min(hi, ex_lo - 1)))
        lo = max(lo, ex_hi + 1)
        if lo > hi:
            return out
    out.append((lo, hi))
    return out


def _coverage(spans: Iterable[Span], whole: Span) -> str:
    """ALLOWED when ``spans`` cover ``whole``, PARTIAL when they meet it, else DENIED."""
    merged = sorted(spans)
    if not merged:
        return DENIED
    reach = whole[0]
    for lo, hi in merged:
        if lo > reach:
            return PARTIAL
        reach = max(reach, hi + 1)
        if reach > whole[1]:
            return ALLOWED
    return PARTIAL


# ---------------------------------------------------------------- decisions


@dataclass(frozen=True, slots=True)
class Grant:
    """A rule admitting a peer: ``spans`` are the addresses of an address
    peer it admits (None: the whole peer)."""

    policy: Policy
    rule: TrafficRule
    spans: tuple[Span, ...] | None

    @property
    def index(self) -> int:
        return int(self.rule.path[-1])


@dataclass(frozen=True, slots=True)
class Side:
    """What one end's policies say about traffic with one peer, on any port."""

    direction: str
    isolating: tuple[Policy, ...]  # empty: not isolated in this direction
    grants: tuple[Grant, ...]  # the rules whose peers admit the other end
    whole: Span | None  # the other end's addresses when it is outside the cluster


@dataclass(frozen=True, slots=True)
class SideDecision:
    """One end's verdict on one port: the policies that decided it."""

    direction: str
    verdict: str
    isolated: bool
    allowed_by: tuple[tuple[Policy, int], ...]  # (policy, rule index) admitting it
    isolated_by: tuple[Policy, ...]

    def text(self) -> str:
        what = self.direction.lower()
        if not self.isolated:
            return f"{what} not isolated"
        if self.allowed_by:
            # copies of one policy (in several files) name the same rule
            rules = ", ".join(dict.fromkeys(f"{p.name} rule {i}" for p, i in self.allowed_by))
            prefix = "partly allowed" if self.verdict == PARTIAL else "allowed"
            return f"{what} {prefix} by {rules}"
        return f"{what} isolated by {', '.join(dict.fromkeys(p.name for p in self.isolated_by))}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "isolated": self.isolated,
            "allowedBy": [{"namespace": p.namespace, "policy": p.name, "rule": i}
                          for p, i in self.allowed_by],
            "isolatedBy": [{"namespace": p.namespace, "policy": p.name}
                           for p in self.isolated_by],
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict for some ports: both ends' decisions (None: an end outside
    the cluster, which no policy governs)."""

    ports: PortRange
    verdict: str
    egress: SideDecision | None
    ingress: SideDecision | None

    def sides(self) -> tuple[SideDecision, ...]:
        return tuple(s for s in (self.egress, self.ingress) if s is not None)

    def reason(self) -> str:
        return "; ".join(s.text() for s in self.sides())

    def to_dict(self) -> dict[str, Any]:
        return {"ports": self.ports.label, "verdict": self.verdict,
                "egress": self.egress.to_dict() if self.egress else None,
                "ingress": self.ingress.to_dict() if self.ingress else None}


@dataclass(frozen=True, slots=True)
class Reach:
    """One cell of the matrix: every allowed (or partial) port range, or the
    single denied decision when nothing passes."""

    source: Endpoint
    destination: Endpoint
    verdict: str
    decisions: tuple[Decision, ...]

    def passing(self) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if d.verdict != DENIED)

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.source.label, "to": self.destination.label,
                "verdict": self.verdict, "decisions": [d.to_dict() for d in self.decisions]}


def _decide_side(side: Side | None, probe: _Probe) -> SideDecision | None:
    if side is None:
        return None
    if not side.isolating:
        return SideDecision(side.direction, ALLOWED, False, (), ())
    admitting = [g for g in side.grants
                 if g.rule.admits_port(probe.protocol, probe.number, probe.name)]
    if side.whole is None or any(g.spans is None for g in admitting):
        verdict = ALLOWED if admitting else DENIED
    else:
        verdict = _coverage((s for g in admitting for s in g.spans or ()), side.whole)
    if verdict == DENIED:
        return SideDecision(side.direction, DENIED, True, (), side.isolating)
    return SideDecision(side.direction, verdict, True,
                        tuple((g.policy, g.index) for g in admitting), ())


def _combine(ports: PortRange, egress: SideDecision | None,
             ingress: SideDecision | None) -> Decision:
    verdicts = [s.verdict for s in (egress, ingress) if s is not None]
    return Decision(ports, min(verdicts, key=_RANK.__getitem__), egress, ingress)


# ---------------------------------------------------------------- the network


@dataclass(slots=True)
class Network:
    """The set's NetworkPolicies indexed by namespace, and its namespaces' labels.

    Build it once (:meth:`from_index`); every lookup is by namespace, so the
    cost of a question is that of the policies of the two ends' namespaces.
    """

    policies: dict[str, PolicyIndex] = field(default_factory=dict)
    # namespaces (keys) holding a Kubernetes NetworkPolicy, valid or not
    present: set[str] = field(default_factory=set)
    # namespaces holding a NetworkPolicy of another engine (Calico, Antrea)
    foreign: set[str] = field(default_factory=set)
    # policies the API server would reject: (record, why), never in force
    invalid: list[tuple[Record, str]] = field(default_factory=list)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    unnamed_everywhere: bool = False
    _isolating: dict[tuple[int, str], tuple[Policy, ...]] = field(default_factory=dict)

    @classmethod
    def from_index(cls, index: Index, *, unnamed_everywhere: bool = False) -> Network:
        """``unnamed_everywhere``: policies without ``metadata.namespace`` are in
        force in every namespace (they may be applied to any), not only
        among the other objects without one."""
        net = cls(unnamed_everywhere=unnamed_everywhere)
        by_ns: dict[str, list[Policy]] = {}
        for record in index.network_policies:
            key = ns_key(record.ref.namespace)
            if not is_network_policy(record.ref.api_version, record.ref.kind):
                net.foreign.add(key)
                continue
            net.present.add(key)
            try:
                by_ns.setdefault(key, []).append(parse_policy(record.data))
            except (PolicyError, SelectorError) as exc:
                net.invalid.append((record, str(exc)))
        net.policies = {key: PolicyIndex(ps) for key, ps in by_ns.items()}
        for name, record in index.namespaces.items():
            labels = record.data.get("labels")
            net.labels[name] = namespace_labels(name, labels if isinstance(labels, dict)
                                                else None)
        return net

    def namespace_labels(self, key: str) -> dict[str, Any]:
        if key == UNNAMED:
            return {}
        found = self.labels.get(key)
        return found if found is not None else namespace_labels(key)

    def is_foreign(self, key: str) -> bool:
        """Whether policies of another engine may apply in namespace ``key`` (one
        without a namespace applies only among the other objects without one)."""
        return key in self.foreign

    def isolating(self, w: WorkloadRec, direction: str) -> tuple[Policy, ...]:
        """The policies isolating the workload's pods in ``direction``."""
        cache_key = (id(w), direction)
        found = self._isolating.get(cache_key)
        if found is None:
            key = ns_key(w.ref.namespace)
            keys = (key, UNNAMED) if self.unnamed_everywhere and key != UNNAMED else (key,)
            found = tuple(sorted((p for k in keys if k in self.policies
                                  for p in self.policies[k].selecting(w.labels, direction)),
                                 key=lambda p: p.name))
            self._isolating[cache_key] = found
        return found

    # ------------------------------------------------------------ one side

    def side(self, direction: str, subject: Endpoint, peer: Endpoint) -> Side | None:
        """What ``subject``'s policies say about traffic with ``peer`` in
        ``direction`` (None when the subject is outside the cluster)."""
        w = subject.workload
        if w is None:
            return None
        isolating = self.isolating(w, direction)
        whole = _span(peer.network) if peer.network is not None else None
        grants = tuple(g for p in isolating for r in p.rules(direction)
                       if (g := self._grant(p, r, peer, subject.namespace)) is not None)
        return Side(direction, isolating, grants, whole)

    def _grant(self, policy: Policy, rule: TrafficRule, peer: Endpoint,
               policy_ns: str) -> Grant | None:
        """The grant of ``rule`` to ``peer``; ``policy_ns`` is the namespace the
        policy is in force in (its subject's)."""
        if not rule.peers:
            return Grant(policy, rule, None)
        if peer.network is not None:
            spans = [s for pe in rule.peers if pe.ip_block is not None
                     for s in _block_spans(pe.ip_block, peer.network)]
            return Grant(policy, rule, tuple(spans)) if spans else None
        w = peer.workload
        assert w is not None
        key = peer.namespace
        labels = self.namespace_labels(key)
        if any(pe.selects_pod(policy_ns, key, w.labels, labels) for pe in rule.peers):
            return Grant(policy, rule, None)
        return None

    # ------------------------------------------------------------ both sides

    def reach(self, source: Endpoint, destination: Endpoint,
              port: QueryPort | None = None) -> Reach:
        """Whether ``source`` may open connections to ``destination``: on
        ``port``, or (None) on which ports."""
        if source.external and destination.external:
            raise ValueError("at least one end must be a workload")
        egress = self.side(EGRESS, source, destination)
        ingress = self.side(INGRESS, destination, source)
        ports = container_ports(destination.workload)
        if port is not None:
            decisions = [self._decide_port(egress, ingress, port, ports)]
        else:
            decisions = _decide_all_ports(egress, ingress, ports)
        verdict = max((d.verdict for d in decisions), key=_RANK.__getitem__)
        if verdict == DENIED and len(decisions) > 1:
            decisions = [_denial(decisions, egress, ingress)]
        shown = [d for d in decisions if d.verdict != DENIED] or decisions
        return Reach(source, destination, verdict, tuple(shown))

    def _decide_port(self, egress: Side | None, ingress: Side | None, port: QueryPort,
                     ports: dict[tuple[str, int], str | None]) -> Decision:
        if isinstance(port.port, int):
            probe = _Probe(port.protocol, port.port, ports.get((port.protocol, port.port)))
            span = PortRange(port.protocol, port.port, port.port, probe.name)
        else:
            number = next((n for (proto, n), name in ports.items()
                           if proto == port.protocol and name == port.port), None)
            probe = _Probe(port.protocol, number, port.port)
            span = PortRange(port.protocol, number, number, port.port)
        return _combine(span, _decide_side(egress, probe), _decide_side(ingress, probe))


def _rule_bounds(side: Side | None, protocol: str,
                 ports: dict[tuple[str, int], str | None]) -> set[int]:
    """Where the ports a side's rules admit start and stop (for ``protocol``)."""
    out: set[int] = set()
    if side is None:
        return out
    for g in side.grants:
        for p in g.rule.ports:
            if p.protocol != protocol or p.port is None:
                continue
            if isinstance(p.port, str):
                out.update(n for (proto, n), name in ports.items()
                           if proto == protocol and name == p.port)
                out.update(n + 1 for (proto, n), name in ports.items()
                           if proto == protocol and name == p.port)
            else:
                out.add(p.port)
                out.add((p.end_port or p.port) + 1)
    return out


def _segments(egress: Side | None, ingress: Side | None, protocol: str,
              ports: dict[tuple[str, int], str | None]) -> Iterator[Span]:
    """Port ranges over which every rule of both sides admits all or nothing."""
    bounds = {1, MAX_PORT + 1}
    bounds |= _rule_bounds(egress, protocol, ports) | _rule_bounds(ingress, protocol, ports)
    edges = sorted(b for b in bounds if 1 <= b <= MAX_PORT + 1)
    for lo, hi in pairwise(edges):
        yield lo, hi - 1


def _decide_all_ports(egress: Side | None, ingress: Side | None,
                      ports: dict[tuple[str, int], str | None]) -> list[Decision]:
    """A decision per maximal port range with one verdict and the same deciders."""
    out: list[Decision] = []
    for protocol in PROTOCOLS:
        current: Decision | None = None
        for lo, hi in _segments(egress, ingress, protocol, ports):
            probe = _Probe(protocol, lo, ports.get((protocol, lo)) if lo == hi else None)
            d = _combine(PortRange(protocol, lo, hi, probe.name),
                         _decide_side(egress, probe), _decide_side(ingress, probe))
            if current is not None and _same(current, d):
                current = Decision(PortRange(protocol, current.ports.start, hi),
                                   d.verdict, d.egress, d.ingress)
                continue
            if current is not None:
                out.append(current)
            current = d
        if current is not None:
            out.append(current)
    return _collapse(out)


def _denial(decisions: list[Decision], egress: Side | None, ingress: Side | None
            ) -> Decision:
    """No port passes: one decision naming, for each end, what isolates it."""
    return Decision(PortRange("*", None, None), DENIED,
                    _summary(egress, [d.egress for d in decisions]),
                    _summary(ingress, [d.ingress for d in decisions]))


def _summary(side: Side | None, found: list[SideDecision | None]) -> SideDecision | None:
    if side is None:
        return None
    if not side.isolating:
        return SideDecision(side.direction, ALLOWED, False, (), ())
    if all(d is not None and d.verdict == ALLOWED for d in found):
        allowed: dict[tuple[int, int], tuple[Policy, int]] = {}
        for d in found:
            for p, i in d.allowed_by if d is not None else ():
                allowed.setdefault((id(p), i), (p, i))  # policies hold dicts: not hashable
        return SideDecision(side.direction, ALLOWED, True, tuple(allowed.values()), ())
    return SideDecision(side.direction, DENIED, True, (), side.isolating)


def _same(a: Decision, b: Decision) -> bool:
    return (a.verdict, a.egress, a.ingress) == (b.verdict, b.egress, b.ingress)


def _collapse(decisions: list[Decision]) -> list[Decision]:
    """One "any port" decision when every protocol's whole range decided alike."""
    if len(decisions) == len(PROTOCOLS) and all(
            d.ports.start == 1 and d.ports.end == MAX_PORT and _same(d, decisions[0])
            for d in decisions):
        first = decisions[0]
        return [Decision(PortRange("*", None, None), first.verdict, first.egress,
                         first.ingress)]
    return decisions


# ---------------------------------------------------------------- loading




def without_placeholder_namespaces(index: Index) -> Index:
    """``index`` where an object whose ``metadata.namespace`` is a template
    placeholder (``${NAMESPACE:-default}``, ``{{ .Release.Namespace }}``,
    ``$(NS)``: :func:`kubeproof.k8s.placeholders.is_placeholder`) has no
    namespace: it lands wherever it is applied, like any namespace-less
    object. A Namespace object so named describes no namespace. The index
    given is not changed; records are copied only where they change."""

    def fix_ref(ref: ObjectRef) -> ObjectRef:
        return replace(ref, namespace=None) if is_placeholder(ref.namespace) else ref

    def fix(records: list[Record]) -> list[Record]:
        return [r if not is_placeholder(r.ref.namespace) else Record(fix_ref(r.ref), r.data)
                for r in records]

    out = copy(index)
    out.workloads = [w if not is_placeholder(w.ref.namespace) else replace(w, ref=fix_ref(w.ref))
                     for w in index.workloads]
    out.network_policies = fix(index.network_policies)
    out.services = fix(index.services)
    out.ingresses = fix(index.ingresses)
    out.namespaces = {name: r for name, r in index.namespaces.items()
                      if not is_placeholder(name)}
    return out
