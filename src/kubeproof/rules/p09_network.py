"""Rules for practice 9: NetworkPolicies.

KP0904 reads one NetworkPolicy alone. The set rules (default deny per
namespace, isolation of each workload, selectors that select nothing, exposed
workloads reaching sensitive ones) read the index; the policy semantics they
rely on live in :mod:`kubeproof.k8s.netpol`, the reachability KP0905 asks about in
:mod:`kubeproof.analysis.reach`.
Policies the API server would reject (an invalid selector, an empty peer ...)
never take effect and are ignored by the set rules.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from kubeproof.analysis.reach import (
    ALLOWED,
    UNNAMED,
    Endpoint,
    Network,
    Reach,
    container_ports,
    declared_ports,
    ns_key,
)
from kubeproof.core.catalogue import rule
from kubeproof.core.context import Context
from kubeproof.core.index import Index, Record, WorkloadRec
from kubeproof.k8s.imageref import parse_image
from kubeproof.k8s.netpol import (
    EGRESS,
    INGRESS,
    LabelIndex,
    Peer,
    Policy,
    PolicyError,
    PolicyIndex,
    is_network_policy,
    parse_policy,
)
from kubeproof.k8s.selectors import SelectorError, label_selector_matches
from kubeproof.model import Path, Resource, Scope, SetViolation, Severity, Violation
from kubeproof.rules.common import as_dict, as_list, one_of, quote
from kubeproof.rules.p05_labels.references import ingress_backends

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


# ---------------------------------------------------------------- set rules
#
# What the set does not show is never held against it:
# - objects without metadata.namespace share one unknown namespace of their
#   application (applications.py): a policy without one covers only pod
#   templates without one, never a namespace written down;
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
        return ns in self.foreign

    def in_force(self, ns: str | None) -> list[Policy]:
        """The valid policies in force in ``ns`` (None: the unknown namespace)."""
        return [p for _, p in self.by_ns.get(ns, ())]


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


def _unnamed_hint(policies: Iterable[Policy], ns: str) -> str:
    """Why a policy without a namespace that would have counted does not."""
    first = next(iter(policies), None)
    if first is None:
        return ""
    return (f" (NetworkPolicy {quote(first.name)} has no metadata.namespace, so it does not "
            f"count for namespace {quote(ns)}: give it one, or scan with --namespace)")


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
    policies = _policies(index)
    unnamed = policies.in_force(None)
    for ns in namespaces:
        if policies.is_foreign(ns):
            continue
        in_force = policies.in_force(ns)
        ref = index.namespaces[ns].ref
        if not any(p.denies_all(INGRESS) for p in in_force):
            hint = _unnamed_hint((p for p in unnamed if p.denies_all(INGRESS)), ns)
            yield SetViolation(ref, ("metadata", "name"),
                               f"namespace {quote(ns)} runs workloads but has no default-deny "
                               f"ingress NetworkPolicy{hint}")
        if not any(p.denies_all(EGRESS) for p in in_force):
            hint = _unnamed_hint((p for p in unnamed if p.denies_all(EGRESS)), ns)
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
    policies = _policies(index)
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
            hint = _unnamed_hint(unnamed.selecting(w.labels, INGRESS), ns)
            yield SetViolation(w.ref, (*w.metadata_path, "labels"),
                               f"{_kind_name(w)}: no NetworkPolicy of namespace {quote(ns)} "
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
    policies = _policies(index)

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


# ---------------------------------------------------------------- KP0905
#
# Exposure and sensitivity are decided per workload in one pass each; the
# reachability engine (kubeproof.analysis.reach) then answers only for the
# exposed x sensitive pairs, never for every pair of workloads.

_DATASTORES = ("postgres", "mysql", "mariadb", "mongo", "redis", "memcached", "cassandra",
               "elasticsearch", "etcd", "kafka", "zookeeper", "couchdb", "neo4j", "influxdb",
               "clickhouse", "cockroach")
# words of an image name that make it a tool around a datastore, not the datastore
_TOOL_WORDS = frozenset({
    "exporter", "operator", "ui", "admin", "dashboard", "backup", "restore", "dump", "cli",
    "client", "controller", "agent", "metrics", "init", "tools", "migrate", "migrations",
    "connect", "rest", "commander", "express", "webhook", "manager", "console", "insight",
    "curator", "bootstrap", "setup", "test", "tests"})
_WORD_SPLIT = re.compile(r"[-_.]")
_EXPOSING_TYPES = frozenset({"LoadBalancer", "NodePort"})
_MAX_PORTS_SHOWN = 3


def datastore_image(image: str | None) -> str | None:
    """The datastore an image runs, judged on its repository's last component:
    it starts with a well-known datastore name (``postgres``, ``bitnami/
    postgresql``, ``mysql-server``) and has no tool word (``postgres-exporter``,
    ``redis-operator``)."""
    if not image:
        return None
    ref = parse_image(image)
    if ref.invalid:
        return None
    last = ref.repository.rsplit("/", 1)[-1].lower()
    store = next((d for d in _DATASTORES if last.startswith(d)), None)
    if store is None or any(w in _TOOL_WORDS for w in _WORD_SPLIT.split(last)):
        return None
    return store


def _sensitive_label(labels: dict[str, Any], wanted: list[str]) -> str | None:
    for entry in wanted:
        if not isinstance(entry, str) or not entry:
            continue
        key, eq, value = entry.partition("=")
        if key in labels and (not eq or str(labels[key]) == value):
            return entry
    return None


def why_sensitive(w: WorkloadRec, wanted: list[str]) -> str | None:
    label = _sensitive_label(w.labels, wanted)
    if label is not None:
        return f"label {label}"
    for c in w.containers:
        if len(c.path) >= 2 and c.path[-2] == "containers":
            store = datastore_image(c.image)
            if store is not None:
                return f"{store} image"
    return None


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


Tagged = tuple[WorkloadRec, str]  # a workload and why it is exposed / sensitive


def _by_namespace(items: list[Tagged]) -> dict[str, LabelIndex[WorkloadRec]]:
    out: dict[str, LabelIndex[WorkloadRec]] = {}
    for w, _ in items:
        out.setdefault(ns_key(w.ref.namespace), LabelIndex()).add(w.labels, w)
    return out


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
                           f"{_kind_name(w)} (exposed by {how}) can open connections to "
                           f"{shown}{more}")


MAX_TARGETS_SHOWN = 3


def _target_text(w: WorkloadRec, target: WorkloadRec, why: str, found: Reach) -> str:
    ns = target.ref.namespace
    where = f" of namespace {quote(ns)}" if ns != w.ref.namespace else ""
    return f"{_kind_name(target)}{where} ({why}) on {_ports_text(found)}"
