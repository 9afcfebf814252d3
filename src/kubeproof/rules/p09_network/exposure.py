"""A workload exposed outside the cluster that can connect to a sensitive one (KP0905).

Exposure and sensitivity are decided per workload in one pass each; the
reachability engine (kubeproof.analysis.reach) then answers only for the
exposed x sensitive pairs, never for every pair of workloads.

What makes a workload sensitive, and the shortcuts over many reachability
questions, are shared with ``kubeproof netpol reach``
(:mod:`kubeproof.analysis.reach_paths`): :mod:`kubeproof.analysis.sensitive` and
:mod:`kubeproof.analysis.reach_groups`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterator

from kubeproof.analysis.reach import (
    ALLOWED,
    UNNAMED,
    Endpoint,
    Network,
    Reach,
    declared_ports,
    ns_key,
)
from kubeproof.analysis.reach_groups import namespace_fingerprints, peers_of, profile
from kubeproof.analysis.sensitive import why_sensitive
from kubeproof.core.catalogue import rule
from kubeproof.core.context import Context
from kubeproof.core.index import Index, Record, WorkloadRec
from kubeproof.k8s.netpol import EGRESS, INGRESS, LabelIndex
from kubeproof.k8s.selectors import SelectorError
from kubeproof.model import Scope, SetViolation
from kubeproof.rules.common import as_dict, one_of, quote
from kubeproof.rules.p05_labels.references import ingress_backends
from kubeproof.rules.p09_network.policies import kind_name

_EXPOSING_TYPES = frozenset({"LoadBalancer", "NodePort"})
_MAX_PORTS_SHOWN = 3


def _service_index(index: Index) -> dict[tuple[str, str], Record]:
    return {(ns_key(s.ref.namespace), s.ref.name): s for s in index.services}


def _exposing_services(index: Index) -> Iterator[tuple[Record, str]]:
    """Services traffic from outside arrives through, each with how."""
    services = _service_index(index)
    routed: dict[tuple[str, str], str] = {}
    for ing in index.ingresses:
        ns = ns_key(ing.ref.namespace)
        for _, name, _, _ in ingress_backends(as_dict(ing.data.get("spec"))):
            if isinstance(name, str) and (ns, name) in services:
                routed.setdefault((ns, name), f"Ingress {quote(ing.ref.name)}")
    for key, svc in services.items():
        type_ = as_dict(svc.data.get("spec")).get("type")
        if one_of(type_, _EXPOSING_TYPES):
            yield svc, f"{type_} Service {quote(svc.ref.name)}"
        elif key in routed:
            yield svc, f"{routed[key]} via Service {quote(svc.ref.name)}"


def _exposed(index: Index, judged: Callable[[str], bool]) -> dict[int, tuple[WorkloadRec, str]]:
    """The workloads a Service exposing traffic from outside selects, by id."""
    pods: dict[str, LabelIndex[WorkloadRec]] = {}
    for w in index.workloads:
        pods.setdefault(ns_key(w.ref.namespace), LabelIndex()).add(w.labels, w)
    out: dict[int, tuple[WorkloadRec, str]] = {}
    for svc, how in _exposing_services(index):
        selector = as_dict(svc.data.get("spec")).get("selector")
        ns = ns_key(svc.ref.namespace)
        if not isinstance(selector, dict) or not selector or ns not in pods or not judged(ns):
            continue
        try:
            for w in pods[ns].select({"matchLabels": selector}):
                out.setdefault(id(w), (w, how))
        except SelectorError:
            continue
    return out


def _ports_text(reach: Reach) -> str:
    """``port 5432/TCP``, ``ports 80/TCP, 443/TCP``, ``any port``."""
    labels = [d.ports.label for d in reach.passing()]
    if labels == ["any port"]:
        return "any port"
    more = len(labels) - _MAX_PORTS_SHOWN
    shown = ", ".join(labels[:_MAX_PORTS_SHOWN]) + (f" and {more} more" if more > 0 else "")
    return f"port{'s' if len(labels) > 1 else ''} {shown}"


def _reach_sensitive(net: Network, w: WorkloadRec, target: WorkloadRec) -> Reach | None:
    """The ports (those ``target`` declares, or any when it declares none) on
    which ``w`` may connect to ``target``; None when it may not."""
    src, dst = Endpoint.of_workload(w), Endpoint.of_workload(target)
    ports = declared_ports(target)
    if not ports:
        found = net.reach(src, dst)
        return found if found.verdict == ALLOWED else None
    allowed = [d for p in ports for d in net.reach(src, dst, p).decisions
               if d.verdict == ALLOWED]
    return Reach(src, dst, ALLOWED, tuple(allowed)) if allowed else None



Tagged = tuple[WorkloadRec, str]  # a workload and why it is exposed / sensitive


def _by_namespace(items: list[Tagged]) -> dict[str, LabelIndex[WorkloadRec]]:
    out: dict[str, LabelIndex[WorkloadRec]] = {}
    for w, _ in items:
        out.setdefault(ns_key(w.ref.namespace), LabelIndex()).add(w.labels, w)
    return out


def _split_targets(net: Network, exposed: list[Tagged], sensitive: list[Tagged]
                   ) -> tuple[list[Tagged], dict[int, list[Tagged]]]:
    """The sensitive targets whose ingress policies admit every exposed workload
    by peer (open), and, by exposed workload id, those whose rules name it."""
    exposed_pods = _by_namespace(exposed)
    open_targets: list[Tagged] = []
    narrow: dict[int, list[Tagged]] = defaultdict(list)
    for target in sensitive:
        sources = peers_of(net, target[0], INGRESS, exposed_pods)
        if sources is None:
            open_targets.append(target)
        for source_id in sources or ():
            narrow[source_id].append(target)
    return open_targets, narrow


def _candidate_pairs(net: Network, exposed: list[Tagged], sensitive: list[Tagged]
                     ) -> Iterator[tuple[Tagged, Tagged]]:
    """The (exposed, sensitive) pairs that no end's policies rule out by peer,
    found from each end's rules rather than by testing every pair."""
    open_targets, narrow = _split_targets(net, exposed, sensitive)
    sensitive_pods = _by_namespace(sensitive)
    for source in exposed:
        w = source[0]
        targets = peers_of(net, w, EGRESS, sensitive_pods)
        for target in (*open_targets, *narrow.get(id(w), ())):
            if target[0] is not w and (targets is None or id(target[0]) in targets):
                yield source, target


# a target a source reaches: its place in the candidate order, itself, how
Hit = tuple[int, Tagged, Reach]


class _Reacher:
    """Answers "which sensitive targets does this exposed workload reach" for
    every exposed workload, in time linear in the set.

    Workloads alike (labels, ports, in namespaces alike: ``profiles``) reach
    alike, so one reachability question is asked per pair of profiles. Open
    targets (whose ingress admits every exposed workload by peer) are grouped
    by profile: a source whose egress is not confined meets each group once,
    not each member, and only the first members of a group are named.
    """

    def __init__(self, net: Network, exposed: list[Tagged], sensitive: list[Tagged],
                 profiles: dict[int, int]) -> None:
        self.net, self.profiles = net, profiles
        self.open, self.narrow = _split_targets(net, exposed, sensitive)
        self.sensitive_pods = _by_namespace(sensitive)
        self.open_at = {id(t[0]): i for i, t in enumerate(self.open)}
        # profile -> (positions of its open targets, the same by namespace)
        self.groups: dict[int, tuple[list[int], dict[str | None, list[int]]]] = {}
        for i, (t, _) in enumerate(self.open):
            positions, by_ns = self.groups.setdefault(profiles[id(t)], ([], {}))
            positions.append(i)
            by_ns.setdefault(t.ref.namespace, []).append(i)
        self.memo: dict[tuple[bool, int, int], Reach | None] = {}

    def _reach(self, w: WorkloadRec, target: WorkloadRec) -> Reach | None:
        key = (w.ref.namespace == target.ref.namespace, self.profiles[id(w)],
               self.profiles[id(target)])
        if key not in self.memo:
            self.memo[key] = _reach_sensitive(self.net, w, target)
        return self.memo[key]

    def reached(self, w: WorkloadRec, shown: int) -> tuple[list[Hit], int]:
        """The first ``shown`` targets ``w`` reaches (in candidate order), and
        how many it reaches in all."""
        allowed = peers_of(self.net, w, EGRESS, self.sensitive_pods)
        hits: list[Hit] = []
        count = 0
        if allowed is None:
            for positions, by_ns in self.groups.values():
                same = [i for i in by_ns.get(w.ref.namespace, ()) if self.open[i][0] is not w]
                others = len(positions) - len(by_ns.get(w.ref.namespace, ()))
                for members, total in ((same, len(same)), (
                        self._others(positions, w.ref.namespace, shown), others)):
                    found = self._reach(w, self.open[members[0]][0]) if members else None
                    if found is not None:
                        count += total
                        hits += [(i, self.open[i], found) for i in members[:shown]]
            candidates: list[tuple[int, Tagged]] = []
        else:
            candidates = sorted((self.open_at[t], self.open[self.open_at[t]])
                                for t in allowed if t in self.open_at)
        base = len(self.open)
        candidates += [(base + j, t) for j, t in enumerate(self.narrow.get(id(w), ()))
                       if allowed is None or id(t[0]) in allowed]
        for i, target in candidates:
            if target[0] is not w and (found := self._reach(w, target[0])) is not None:
                count += 1
                if len(hits) < 4 * shown:
                    hits.append((i, target, found))
        return sorted(hits, key=lambda h: h[0])[:shown], count

    def _others(self, positions: list[int], namespace: str | None, shown: int) -> list[int]:
        """The first ``shown`` positions of open targets outside ``namespace``."""
        out: list[int] = []
        for i in positions:
            if self.open[i][0].ref.namespace != namespace:
                out.append(i)
                if len(out) == shown:
                    break
        return out


@rule("KP0905", "exposed-reaches-sensitive", practice=9, severity="high", scope=Scope.SET)
def exposed_reaches_sensitive(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Workload exposed outside the cluster that can connect to a sensitive workload.

    What:
        A workload whose pods receive traffic from outside the cluster (a
        `LoadBalancer` or `NodePort` Service selects them, or a Service that
        an Ingress routes to) and that the set's NetworkPolicies let open
        connections to a sensitive workload: one whose pod template has a
        label listed in `network.sensitiveLabels` (`key=value` or `key`), or
        a container running a well-known datastore image (its repository's
        last component starts with postgres, mysql, mariadb, mongo, redis,
        memcached, cassandra, elasticsearch, etcd, kafka, zookeeper, couchdb,
        neo4j, influxdb, clickhouse or cockroach, and is not a tool such as
        an `-exporter` or `-operator`). The ports checked are the container
        ports the sensitive workload declares (every port when it declares
        none); both the egress policies of the exposed workload and the
        ingress policies of the sensitive one are applied, exactly as
        `kubeproof netpol reach` does. Judged only when both namespaces are
        shown by the set (their Namespace object or a NetworkPolicy of theirs
        is in it), and not where a Calico or Antrea `NetworkPolicy` may apply.
        Workloads without `metadata.namespace` are not judged; a policy
        without one is in force only for them (as in `kubeproof netpol reach`).

    Why:
        The internet-facing workload is the one an attacker compromises
        first. If it can open connections straight to the database, one
        remote code execution or SSRF bug in the front end puts the data one
        hop away; policies that confine it to the services it calls turn that
        into a dead end.

    How:
        Isolate the exposed workload for egress and allow only what it calls,
        and let the sensitive workload accept ingress only from its real
        clients (a `podSelector` naming them, on its port).

    Example:
        ```yaml
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata:
          name: db-clients
          namespace: shop
        spec:
          podSelector:
            matchLabels:
              app: db
          policyTypes: [Ingress]
          ingress:
          - from:
            - podSelector:
                matchLabels:
                  app: api
            ports:
            - port: 5432
        ```
    """
    if not index.workloads or not (index.services or index.ingresses):
        return
    net = Network.from_index(index)

    def judged(ns: str) -> bool:
        return ns != UNNAMED and (index.described(ns) or ns in net.present) \
            and not net.is_foreign(ns)

    sensitive = [(w, why) for w in index.workloads if judged(ns_key(w.ref.namespace))
                 and (why := why_sensitive(w, ctx.config.sensitive_labels)) is not None]
    if not sensitive:
        return
    exposed = list(_exposed(index, judged).values())
    # workloads alike (labels, ports, in namespaces alike) reach alike: one
    # question per pair of profiles, however many copies of them the set holds
    fingerprint = namespace_fingerprints(index, net)
    # profiles as small numbers: tuples do not cache their hash
    numbers: dict[Hashable, int] = {}
    profiles = {id(w): numbers.setdefault((fingerprint(ns_key(w.ref.namespace)), profile(w)),
                                          len(numbers))
                for w, _ in (*exposed, *sensitive)}
    reacher = _Reacher(net, exposed, sensitive, profiles)
    # one finding per exposed workload, naming what it reaches
    for w, how in exposed:
        hits, count = reacher.reached(w, MAX_TARGETS_SHOWN)
        if not count:
            continue
        shown = "; ".join(_target_text(w, target, why, found)
                          for _, (target, why), found in hits)
        more = f"; and {count - MAX_TARGETS_SHOWN} more" if count > MAX_TARGETS_SHOWN else ""
        yield SetViolation(w.ref, (*w.metadata_path, "labels"),
                           f"{kind_name(w)} (exposed by {how}) can open connections to "
                           f"{shown}{more}")


MAX_TARGETS_SHOWN = 3


def _target_text(w: WorkloadRec, target: WorkloadRec, why: str, found: Reach) -> str:
    ns = target.ref.namespace
    where = f" of namespace {quote(ns)}" if ns != w.ref.namespace else ""
    return f"{kind_name(target)}{where} ({why}) on {_ports_text(found)}"

