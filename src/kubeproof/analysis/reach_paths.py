"""The exposed paths that matter, out of a set's reachability (``netpol reach``).

Of every pair of endpoints, two kinds of path are worth a reader's time:

- **external → workload**: the workloads that addresses outside the cluster
  (``0.0.0.0/0``) may open connections to, and what lets them (no policy
  isolates the workload for ingress, or the rules admitting the addresses);
- **workload → sensitive workload**: the workloads that may open connections
  to a sensitive one. Sensitive is KP0905's definition
  (:func:`kubeproof.analysis.sensitive.why_sensitive`): a pod template label
  listed in ``network.sensitiveLabels``, or a container running a well-known
  datastore image (postgres, mysql, redis, mongo, etcd, kafka, ...).

Only those paths are computed: one question per workload for the first
kind, and for the second only the (source, sensitive) pairs that neither
end's policies rule out by peer (KP0905's ``peers_of``); a pair whose ends
are isolated in neither direction is allowed on any port without asking.

The answer is grouped: the endpoints a path passes the same way (verdict,
ports and the policies deciding) form one :class:`Group`, where "every
workload of namespace X" stands for all of a namespace's workloads and
"every workload" for all of the set's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from kubeproof.analysis.reach import (
    ALLOWED,
    DENIED,
    EXTERNAL,
    EXTERNAL_NETWORK,
    MAX_PORT,
    Endpoint,
    Network,
    PortRange,
    QueryPort,
    Reach,
    SideDecision,
    ns_key,
    workload_label,
)
from kubeproof.analysis.reach_groups import namespace_fingerprints, peers_of, profile
from kubeproof.analysis.sensitive import why_sensitive
from kubeproof.core.index import Index, WorkloadRec
from kubeproof.k8s.netpol import EGRESS, INGRESS, PROTOCOLS, LabelIndex

# (source, sensitive) pairs examined at most: beyond it only the first
# sensitive workloads are (a note says so); the set's size bounds the rest
MAX_PAIRS = 2_000_000
# "every workload (of namespace X) but ...": at most this many left out
MAX_BUT = 3


@dataclass(frozen=True, slots=True)
class Passage:
    """How traffic passes one path: the verdict, the ports that pass (adjacent
    ranges merged) and why: what the destination's ingress policies say (the
    source's egress is the path's own business: ``--from``/``--to`` shows it)."""

    verdict: str
    ports: tuple[str, ...]
    reason: str

    @classmethod
    def of(cls, r: Reach) -> Passage | None:
        """None when nothing passes."""
        if r.verdict == DENIED:
            return None
        passing = r.passing()
        return cls(r.verdict, _port_labels([d.ports for d in passing]),
                   _ingress_reason([d.ingress for d in passing if d.ingress is not None]))

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "ports": list(self.ports), "reason": self.reason}


ANY_PORT = PortRange("*", None, None)
OPEN = Passage(ALLOWED, (ANY_PORT.label,), "ingress not isolated")


def _ingress_reason(sides: list[SideDecision]) -> str:
    """What lets traffic in, over every passing port range: no isolation, or
    the rules admitting it (each named once)."""
    if not sides or any(not d.isolated for d in sides):
        return "ingress not isolated"
    rules = dict.fromkeys(f"{p.name} rule {i}" for d in sides for p, i in d.allowed_by)
    partly = "partly " if any(d.verdict != ALLOWED for d in sides) else ""
    return f"ingress {partly}allowed by {', '.join(rules)}"


def _port_labels(ranges: list[PortRange]) -> tuple[str, ...]:
    """Labels of ``ranges`` with adjacent ranges of a protocol merged; "any
    port" when they cover every port of every protocol."""
    if any(r.protocol == "*" for r in ranges):
        return (ANY_PORT.label,)
    merged: list[PortRange] = []
    for r in sorted(ranges, key=lambda r: (r.protocol, r.start or 0, r.name or "")):
        last = merged[-1] if merged else None
        if (last is not None and r.start is not None and last.end is not None
                and last.protocol == r.protocol and r.start <= last.end + 1):
            merged[-1] = PortRange(r.protocol, last.start, max(last.end, r.end or r.start))
        else:
            merged.append(r)
    whole = [r for r in merged if r.start == 1 and r.end == MAX_PORT]
    if len(whole) == len(PROTOCOLS) == len(merged):
        return (ANY_PORT.label,)
    return tuple(r.label for r in merged)


@dataclass(frozen=True, slots=True)
class Group:
    """Endpoints a path passes alike: every workload of the set (``every``)
    or of ``namespaces``, ``but`` some of those (by label), and
    ``workloads`` by label; ``count`` in all."""

    passage: Passage
    every: bool
    namespaces: tuple[str, ...]
    but: tuple[str, ...]
    workloads: tuple[str, ...]
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {**self.passage.to_dict(), "every": self.every,
                "namespaces": list(self.namespaces), "but": list(self.but),
                "workloads": list(self.workloads), "count": self.count}


@dataclass(frozen=True, slots=True)
class Target:
    """A sensitive workload, why it is, and the groups of workloads reaching it."""

    endpoint: Endpoint
    why: str
    sources: tuple[Group, ...]


@dataclass(slots=True)
class Paths:
    """The answer: ``exposed`` groups workloads external may reach;
    ``targets`` the sensitive workloads; ``skipped`` how many sensitive
    workloads were left out (:data:`MAX_PAIRS`)."""

    workloads: int
    exposed: list[Group]
    targets: list[Target]
    skipped: int = 0


def group(found: list[tuple[Endpoint, Passage]], population: dict[str, list[Endpoint]],
          skip: Endpoint | None = None) -> list[Group]:
    """``found`` grouped by passage. ``population`` holds the candidate
    endpoints by namespace (``skip`` is not one): what "every workload" means
    here. A group names every workload (of the set, or of namespaces) when
    it holds them all, or all but at most :data:`MAX_BUT` of a namespace (or
    of the set) and at least five and three quarters of it. Largest groups
    first."""
    by_passage: dict[Passage, list[Endpoint]] = {}
    for e, p in found:
        by_passage.setdefault(p, []).append(e)

    def candidates(ns: str) -> list[Endpoint]:
        return [e for e in population.get(ns, ()) if e is not skip]

    total = sum(len(es) for es in population.values()) - (skip is not None)
    out: list[Group] = []
    for passage, members in by_passage.items():
        ids = {id(e) for e in members}
        if _most(len(members), total):
            but = [e.label for ns in population for e in candidates(ns) if id(e) not in ids]
            out.append(Group(passage, True, (), tuple(sorted(but)), (), len(members)))
            continue
        per_ns = Counter(e.namespace for e in members)
        whole = sorted(ns for ns, n in per_ns.items() if _most(n, len(candidates(ns))))
        but = [e.label for ns in whole for e in candidates(ns) if id(e) not in ids]
        rest = tuple(sorted(e.label for e in members if e.namespace not in whole))
        out.append(Group(passage, False, tuple(whole), tuple(sorted(but)), rest, len(members)))
    return sorted(out, key=lambda g: (-g.count, g.passage.reason, g.workloads))


def _most(members: int, population: int) -> bool:
    """Whether ``members`` of ``population`` are to be named "every ... but"."""
    missing = population - members
    if missing == 0:
        return population > 1
    return missing <= MAX_BUT and members >= max(5, 3 * missing)


def workload_endpoints(workloads: list[WorkloadRec]) -> list[Endpoint]:
    """One endpoint per workload, sorted by label, every label distinct:
    ``ns/name``; ``ns/Kind/name`` where names collide; copies alike
    (same kind and name, labels and ports: one manifest in several files)
    merged into the first; ``ns/Kind/name (file:line)`` for the others, the
    file shortened to the last components of its path that tell them apart."""
    first: dict[Hashable, WorkloadRec] = {}
    for w in workloads:
        first.setdefault((w.ref.kind, w.ref.namespace, w.ref.name, profile(w)), w)
    kept = list(first.values())
    plain = Counter(workload_label(w) for w in kept)
    kinded: dict[str, list[WorkloadRec]] = {}
    for w in kept:
        kinded.setdefault(_kinded(w), []).append(w)
    where: dict[int, str] = {}
    for same in kinded.values():
        if len(same) > 1:
            where.update(_places(same))
    out = []
    for w in kept:
        label = workload_label(w)
        if plain[label] > 1:
            label = _kinded(w)
            if id(w) in where:
                label = f"{label} ({where[id(w)]})"
        out.append(Endpoint.of_workload(w, label))
    seen: Counter[str] = Counter()
    for i, e in enumerate(out):  # one file and line holding two (a List): numbered
        seen[e.label] += 1
        if seen[e.label] > 1:
            out[i] = Endpoint.of_workload(e.workload or w, f"{e.label} #{seen[e.label]}")
    return sorted(out, key=lambda e: e.label)


def _places(same: list[WorkloadRec]) -> dict[int, str]:
    """``file:line`` of each workload, the file shortened to its last path
    components as long as that tells them apart."""
    parts = [w.ref.file.replace("\\", "/").split("/") for w in same]
    depth = max(len(p) for p in parts)
    for keep in range(1, depth + 1):
        places = ["/".join(p[-keep:]) + f":{w.ref.line}" for p, w in zip(parts, same, strict=True)]
        if len(set(places)) == len(places) or keep == depth:
            return {id(w): place for w, place in zip(same, places, strict=True)}
    return {}


def _kinded(w: WorkloadRec) -> str:
    ns = w.ref.namespace
    return f"{ns}/{w.ref.kind}/{w.ref.name}" if ns is not None else f"{w.ref.kind}/{w.ref.name}"


def _by_namespace(endpoints: list[Endpoint]) -> dict[str, list[Endpoint]]:
    out: dict[str, list[Endpoint]] = {}
    for e in endpoints:
        if e.workload is not None:
            out.setdefault(e.namespace, []).append(e)
    return out


def _pods(endpoints: list[Endpoint]) -> dict[str, LabelIndex[WorkloadRec]]:
    out: dict[str, LabelIndex[WorkloadRec]] = {}
    for e in endpoints:
        if e.workload is not None:
            out.setdefault(e.namespace, LabelIndex()).add(e.workload.labels, e.workload)
    return out


class _Asker:
    """Reachability questions, one per pair of profiles: workloads alike
    (labels, ports) in namespaces alike (KP0905's fingerprint: policy specs
    and labels, plus here the policies' names, which the answer shows) are
    answered alike, as are pairs alike in sharing a namespace or not."""

    def __init__(self, net: Network, index: Index, query: QueryPort | None) -> None:
        self.net, self.query = net, query
        fingerprint = namespace_fingerprints(index, net)
        names: dict[str, list[str]] = {}
        for record in index.network_policies:
            names.setdefault(ns_key(record.ref.namespace), []).append(record.ref.name)
        self.namespaces: dict[str, Hashable] = {}
        for ns, found in names.items():
            self.namespaces[ns] = (fingerprint(ns), tuple(sorted(found)))
        self.fingerprint = fingerprint
        self.memo: dict[Hashable, Passage | None] = {}
        self.profiles: dict[int, Hashable] = {}

    def _key(self, e: Endpoint) -> Hashable:
        if e.workload is None:
            return e.label
        found = self.profiles.get(id(e.workload))
        if found is None:
            ns = e.namespace
            if ns not in self.namespaces:
                self.namespaces[ns] = (self.fingerprint(ns), ())
            found = self.profiles[id(e.workload)] = (self.namespaces[ns],
                                                     profile(e.workload))
        return found

    def passage(self, source: Endpoint, destination: Endpoint) -> Passage | None:
        key = (source.namespace == destination.namespace, self._key(source),
               self._key(destination))
        if key not in self.memo:
            self.memo[key] = Passage.of(self.net.reach(source, destination, self.query))
        return self.memo[key]


def exposed_paths(net: Network, index: Index, endpoints: list[Endpoint],
                  query: QueryPort | None = None) -> list[Group]:
    """The workloads among ``endpoints`` that addresses outside the cluster
    may connect to, grouped."""
    asker = _Asker(net, index, query)
    outside = Endpoint.of_network(EXTERNAL_NETWORK, EXTERNAL)
    found = [(e, p) for e in endpoints
             if e.workload is not None and (p := asker.passage(outside, e)) is not None]
    return group(found, _by_namespace(endpoints))


def sensitive_paths(net: Network, index: Index, endpoints: list[Endpoint],
                    sensitive_labels: list[str], query: QueryPort | None = None
                    ) -> tuple[list[Target], int]:
    """Each sensitive workload among ``endpoints`` with the groups of
    workloads that may connect to it, and how many sensitive workloads were
    left out to keep within :data:`MAX_PAIRS`."""
    workloads = [e for e in endpoints if e.workload is not None]
    sensitive = [(e, why) for e in workloads if e.workload is not None
                 and (why := why_sensitive(e.workload, sensitive_labels)) is not None]
    keep = max(1, MAX_PAIRS // max(1, len(workloads)))
    skipped = max(0, len(sensitive) - keep)
    sensitive = sensitive[:keep]
    by_id = {id(e.workload): e for e in workloads}
    all_pods = _pods(workloads)
    sensitive_pods = _pods([e for e, _ in sensitive])
    population = _by_namespace(workloads)
    asker = _Asker(net, index, query)
    reachable: dict[int, set[int] | None] = {}  # a source's egress peers among the targets

    def egress_peers(w: WorkloadRec) -> set[int] | None:
        if id(w) not in reachable:
            reachable[id(w)] = peers_of(net, w, EGRESS, sensitive_pods)
        return reachable[id(w)]

    targets: list[Target] = []
    for t, why in sensitive:
        tw = t.workload
        assert tw is not None
        admitted = peers_of(net, tw, INGRESS, all_pods)
        candidates = workloads if admitted is None else \
            [by_id[i] for i in admitted if i in by_id]
        t_open = not net.isolating(tw, INGRESS)
        found: list[tuple[Endpoint, Passage]] = []
        for s in candidates:
            sw = s.workload
            if sw is None or sw is tw:
                continue
            peers = egress_peers(sw)
            if peers is not None and id(tw) not in peers:
                continue
            if t_open and query is None and not net.isolating(sw, EGRESS):
                found.append((s, OPEN))
            elif (p := asker.passage(s, t)) is not None:
                found.append((s, p))
        targets.append(Target(t, why, tuple(group(found, population, skip=t))))
    return targets, skipped


def paths(net: Network, index: Index, endpoints: list[Endpoint], sensitive_labels: list[str],
          query: QueryPort | None = None) -> Paths:
    """Both kinds of path over ``endpoints`` (workloads; others are ignored)."""
    targets, skipped = sensitive_paths(net, index, endpoints, sensitive_labels, query)
    return Paths(sum(1 for e in endpoints if e.workload is not None),
                 exposed_paths(net, index, endpoints, query), targets, skipped)
