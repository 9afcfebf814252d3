"""NetworkPolicy reachability (kubeproof.analysis.reach) and `kubeproof netpol reach`.

The table cases follow the Kubernetes NetworkPolicy documentation and the
scenarios of its e2e suite (test/e2e/network/netpol): namespaces x, y, z with
pods a, b, c each (fixtures/netpol/model.yaml). A case adds policies and gives
the expected matrix on one port: rows are sources, columns destinations, both
in the order x/a x/b x/c  y/a y/b y/c  z/a z/b z/c; X is allowed, . denied.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest

from kubeproof.analysis.reach import (
    ALLOWED,
    DENIED,
    EXTERNAL_NETWORK,
    PARTIAL,
    Endpoint,
    Network,
    Reach,
    parse_network,
    parse_port,
    without_placeholder_namespaces,
    workload_label,
)
from kubeproof.analysis.reach_paths import Group, Passage, paths, workload_endpoints
from kubeproof.core.index import load_index
from tests.support.cli import kp as run_kubeproof
from tests.support.paths import ROOT

FIXTURES = Path(__file__).parent / "fixtures" / "netpol"
MODEL = FIXTURES / "model.yaml"
PODS = [f"{ns}/{pod}" for ns in "xyz" for pod in "abc"]
ALL = "XXX XXX XXX"
NONE = "... ... ..."


def policy(name: str, ns: str, spec: str) -> str:
    body = "\n".join("  " + line for line in spec.strip("\n").splitlines())
    return (f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
            f"metadata:\n  name: {name}\n  namespace: {ns}\nspec:\n{body}\n")


def network(tmp_path: Path, *policies: str) -> tuple[Network, dict[str, Endpoint]]:
    (tmp_path / "policies.yaml").write_text("---\n".join(policies) or "# none\n")
    index, errors = load_index([str(MODEL), str(tmp_path / "policies.yaml")])
    assert not errors, errors
    pods = {workload_label(w): Endpoint.of_workload(w) for w in index.workloads}
    assert sorted(pods) == PODS
    return Network.from_index(index), pods


def matrix(tmp_path: Path, port: str, *policies: str) -> list[str]:
    net, pods = network(tmp_path, *policies)
    query = parse_port(port)
    rows = []
    for src in PODS:
        marks = ["X" if net.reach(pods[src], pods[dst], query).verdict == ALLOWED else "."
                 for dst in PODS]
        rows.append(" ".join("".join(marks[i:i + 3]) for i in (0, 3, 6)))
    return rows


def grid(*rows: str) -> list[str]:
    """The nine rows of an expected matrix, one per source."""
    assert len(rows) == 9
    return list(rows)


DENY_INGRESS_X = policy("deny-ingress", "x", "podSelector: {}\npolicyTypes: [Ingress]")
DENY_EGRESS_X = policy("deny-egress", "x", "podSelector: {}\npolicyTypes: [Egress]")
A_ONLY = "podSelector:\n  matchLabels: {pod: a}\n"


def ingress_to_xa(rules: str, name: str = "allow-xa") -> str:
    return policy(name, "x", A_ONLY + "policyTypes: [Ingress]\ningress:\n" + rules)


# (id, port, policies, expected matrix)
CASES: list[tuple[str, str, tuple[str, ...], list[str]]] = [
    ("no-policies-allow-everything", "80", (), [ALL] * 9),
    ("default-deny-ingress", "80", (DENY_INGRESS_X,), ["... XXX XXX"] * 9),
    ("default-deny-egress", "80", (DENY_EGRESS_X,), [NONE] * 3 + [ALL] * 6),
    ("default-deny-all", "80",
     (policy("deny-all", "x", "podSelector: {}\npolicyTypes: [Ingress, Egress]"),),
     [NONE] * 3 + ["... XXX XXX"] * 6),
    ("allow-all-ingress-is-additive-to-deny", "80",
     (DENY_INGRESS_X, policy("allow-all", "x", "podSelector: {}\ningress:\n- {}")),
     [ALL] * 9),
    ("allow-all-egress-is-additive-to-deny", "80",
     (DENY_EGRESS_X, policy("allow-all", "x",
                            "podSelector: {}\npolicyTypes: [Egress]\negress:\n- {}")),
     [ALL] * 9),
    ("allow-same-namespace", "80",
     (policy("same-ns", "x", "podSelector: {}\ningress:\n- from:\n  - podSelector: {}"),),
     [ALL] * 3 + ["... XXX XXX"] * 6),
    ("pod-selector-same-namespace", "80",
     (ingress_to_xa("- from:\n  - podSelector:\n      matchLabels: {pod: b}\n"),),
     grid(".XX XXX XXX", ALL, ".XX XXX XXX", *[".XX XXX XXX"] * 6)),
    ("namespace-selector-only", "80",
     (ingress_to_xa("- from:\n  - namespaceSelector:\n      matchLabels: {ns: y}\n"),),
     [".XX XXX XXX"] * 3 + [ALL] * 3 + [".XX XXX XXX"] * 3),
    ("namespace-and-pod-selector-in-one-peer-are-anded", "80",
     (ingress_to_xa("- from:\n  - namespaceSelector:\n      matchLabels: {ns: y}\n"
                    "    podSelector:\n      matchLabels: {pod: b}\n"),),
     grid(*[".XX XXX XXX"] * 4, ALL, *[".XX XXX XXX"] * 4)),
    ("namespace-and-pod-selector-in-two-peers-are-ored", "80",
     (ingress_to_xa("- from:\n  - namespaceSelector:\n      matchLabels: {ns: y}\n"
                    "  - podSelector:\n      matchLabels: {pod: b}\n"),),
     grid(".XX XXX XXX", ALL, ".XX XXX XXX", ALL, ALL, ALL, *[".XX XXX XXX"] * 3)),
    ("namespace-selector-match-expressions", "80",
     (ingress_to_xa("- from:\n  - namespaceSelector:\n      matchExpressions:\n"
                    "      - {key: ns, operator: NotIn, values: [x]}\n"),),
     [".XX XXX XXX"] * 3 + [ALL] * 6),
    ("pod-selector-match-expressions", "80",
     (ingress_to_xa("- from:\n  - podSelector:\n      matchExpressions:\n"
                    "      - {key: pod, operator: In, values: [b, c]}\n"),),
     grid(".XX XXX XXX", ALL, ALL, *[".XX XXX XXX"] * 6)),
    ("any-namespace-with-pod-selector", "80",
     (ingress_to_xa("- from:\n  - namespaceSelector: {}\n    podSelector:\n"
                    "      matchLabels: {pod: b}\n"),),
     grid(".XX XXX XXX", ALL, ".XX XXX XXX", ".XX XXX XXX", ALL, ".XX XXX XXX",
          ".XX XXX XXX", ALL, ".XX XXX XXX")),
    ("default-namespace-name-label", "80",
     (ingress_to_xa("- from:\n  - namespaceSelector:\n      matchLabels:\n"
                    "        kubernetes.io/metadata.name: z\n"),),
     [".XX XXX XXX"] * 6 + [ALL] * 3),
    ("default-namespace-name-label-match-expressions", "80",
     (ingress_to_xa("- from:\n  - namespaceSelector:\n      matchExpressions:\n"
                    "      - {key: kubernetes.io/metadata.name, operator: In, values: [y, z]}\n"),),
     [".XX XXX XXX"] * 3 + [ALL] * 6),
    ("namespace-labels-from-the-namespace-object", "80",
     (ingress_to_xa("- from:\n  - namespaceSelector:\n      matchLabels: {team: blue}\n"),),
     [".XX XXX XXX"] * 3 + [ALL] * 3 + [".XX XXX XXX"] * 3),
    ("port-not-listed-is-denied", "80",
     (ingress_to_xa("- ports:\n  - port: 81\n"),), [".XX XXX XXX"] * 9),
    ("port-listed-is-allowed", "81", (ingress_to_xa("- ports:\n  - port: 81\n"),), [ALL] * 9),
    ("named-port-ingress-matches-its-number", "80",
     (ingress_to_xa("- ports:\n  - port: serve-80-tcp\n"),), [ALL] * 9),
    ("named-port-ingress-other-number-denied", "81",
     (ingress_to_xa("- ports:\n  - port: serve-80-tcp\n"),), [".XX XXX XXX"] * 9),
    ("named-port-egress-resolved-on-destination", "81",
     (policy("egress-named", "x", A_ONLY + "policyTypes: [Egress]\negress:\n"
             "- ports:\n  - port: serve-81-tcp\n"),), [ALL] * 9),
    ("named-port-egress-other-port-denied", "80",
     (policy("egress-named", "x", A_ONLY + "policyTypes: [Egress]\negress:\n"
             "- ports:\n  - port: serve-81-tcp\n"),), [NONE] + [ALL] * 8),
    ("end-port-range-includes", "81",
     (ingress_to_xa("- ports:\n  - {port: 80, endPort: 81}\n"),), [ALL] * 9),
    ("end-port-range-excludes", "81",
     (ingress_to_xa("- ports:\n  - {port: 82, endPort: 90}\n"),), [".XX XXX XXX"] * 9),
    ("udp-only-denies-tcp", "80/TCP",
     (ingress_to_xa("- ports:\n  - {port: 80, protocol: UDP}\n"),), [".XX XXX XXX"] * 9),
    ("udp-only-allows-udp", "80/udp",
     (ingress_to_xa("- ports:\n  - {port: 80, protocol: UDP}\n"),), [ALL] * 9),
    ("sctp-is-not-tcp", "80",
     (ingress_to_xa("- ports:\n  - {port: 80, protocol: SCTP}\n"),), [".XX XXX XXX"] * 9),
    ("any-port-of-one-protocol", "81",
     (ingress_to_xa("- ports:\n  - protocol: TCP\n"),), [ALL] * 9),
    ("any-port-of-one-protocol-other-protocol-denied", "81/UDP",
     (ingress_to_xa("- ports:\n  - protocol: TCP\n"),), [".XX XXX XXX"] * 9),
    ("stacked-policies-port-80", "80",
     (ingress_to_xa("- from:\n  - podSelector:\n      matchLabels: {pod: b}\n"
                    "  ports:\n  - port: 80\n", "from-b"),
      ingress_to_xa("- from:\n  - podSelector:\n      matchLabels: {pod: c}\n"
                    "  ports:\n  - port: 81\n", "from-c")),
     grid(".XX XXX XXX", ALL, *[".XX XXX XXX"] * 7)),
    ("stacked-policies-port-81", "81",
     (ingress_to_xa("- from:\n  - podSelector:\n      matchLabels: {pod: b}\n"
                    "  ports:\n  - port: 80\n", "from-b"),
      ingress_to_xa("- from:\n  - podSelector:\n      matchLabels: {pod: c}\n"
                    "  ports:\n  - port: 81\n", "from-c")),
     grid(".XX XXX XXX", ".XX XXX XXX", ALL, *[".XX XXX XXX"] * 6)),
    ("ingress-allow-all-takes-precedence", "80",
     (ingress_to_xa("- from:\n  - podSelector:\n      matchLabels: {pod: b}\n"
                    "  ports:\n  - port: 81\n", "narrow"),
      ingress_to_xa("- {}\n", "allow-all")), [ALL] * 9),
    ("egress-allow-all-takes-precedence", "80",
     (policy("narrow", "x", A_ONLY + "policyTypes: [Egress]\negress:\n- ports:\n"
             "  - port: 81\n"),
      policy("allow-all", "x", A_ONLY + "policyTypes: [Egress]\negress:\n- {}\n")),
     [ALL] * 9),
    ("client-egress-deny-wins-over-server-allow", "80",
     (policy("deny-egress-a", "x", A_ONLY + "policyTypes: [Egress]"),
      policy("allow-from-xa", "y", "podSelector:\n  matchLabels: {pod: b}\ningress:\n"
             "- from:\n  - namespaceSelector:\n      matchLabels: {ns: x}\n"
             "    podSelector:\n      matchLabels: {pod: a}\n")),
     [NONE] + ["XXX X.X XXX"] * 8),
    ("egress-to-other-namespace-pod", "80",
     (policy("to-yb", "x", A_ONLY + "policyTypes: [Egress]\negress:\n- to:\n"
             "  - namespaceSelector:\n      matchLabels: {ns: y}\n"
             "    podSelector:\n      matchLabels: {pod: b}\n"),),
     ["... .X. ..."] + [ALL] * 8),
    ("ingress-and-egress-together", "80",
     (policy("both", "x", A_ONLY + "policyTypes: [Ingress, Egress]\n"
             "ingress:\n- from:\n  - podSelector:\n      matchLabels: {pod: b}\n"
             "egress:\n- to:\n  - podSelector:\n      matchLabels: {pod: b}\n"),),
     grid(".X. ... ...", ALL, *[".XX XXX XXX"] * 7)),
    ("policy-types-default-with-egress-rules-isolates-both", "80",
     (policy("egress-rules", "x", A_ONLY + "egress:\n- to:\n  - podSelector:\n"
             "      matchLabels: {pod: b}\n"),),
     grid(".X. ... ...", *[".XX XXX XXX"] * 8)),
    ("policy-types-default-with-empty-egress-is-ingress-only", "80",
     (policy("empty-egress", "x", A_ONLY + "egress: []\n"),), [".XX XXX XXX"] * 9),
    ("policy-types-egress-ignores-ingress-rules", "80",
     (policy("egress-only", "x", A_ONLY + "policyTypes: [Egress]\ningress:\n"
             "- from:\n  - podSelector:\n      matchLabels: {pod: b}\n"),),
     [NONE] + [ALL] * 8),
    ("policy-in-another-namespace-does-not-apply", "80",
     (policy("deny-a", "y", A_ONLY + "policyTypes: [Ingress]"),), ["XXX .XX XXX"] * 9),
    ("invalid-policy-never-takes-effect", "80",
     (policy("bad", "x", "podSelector: {}\ningress:\n- ports:\n  - {endPort: 90}\n"),),
     [ALL] * 9),
]


@pytest.mark.parametrize(("port", "policies", "expected"),
                         [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_reachability_matrix(tmp_path: Path, port: str, policies: tuple[str, ...],
                             expected: list[str]) -> None:
    assert matrix(tmp_path, port, *policies) == expected


def test_enough_table_cases() -> None:
    assert len(CASES) >= 30
    assert len({c[0] for c in CASES}) == len(CASES)


# ---------------------------------------------------------------- deciding policies


def cell(tmp_path: Path, src: str, dst: str, port: str | None, *policies: str) -> Reach:
    net, pods = network(tmp_path, *policies)
    return net.reach(pods[src], pods[dst], parse_port(port) if port else None)


def test_allowing_rule_is_named(tmp_path: Path) -> None:
    r = cell(tmp_path, "x/b", "x/a", "80", DENY_INGRESS_X,
             ingress_to_xa("- from:\n  - podSelector:\n      matchLabels: {pod: c}\n"
                           "- from:\n  - podSelector:\n      matchLabels: {pod: b}\n"))
    (d,) = r.decisions
    assert d.ports.label == "serve-80-tcp(80)/TCP"
    assert d.egress is not None and not d.egress.isolated
    assert d.ingress is not None
    assert [(p.name, i) for p, i in d.ingress.allowed_by] == [("allow-xa", 1)]
    assert d.reason() == "egress not isolated; ingress allowed by allow-xa rule 1"


def test_isolating_policies_are_named_when_denied(tmp_path: Path) -> None:
    r = cell(tmp_path, "y/a", "x/a", "80", DENY_INGRESS_X,
             ingress_to_xa("- from:\n  - podSelector:\n      matchLabels: {pod: b}\n"))
    assert r.verdict == DENIED
    (d,) = r.decisions
    assert d.ingress is not None
    assert [p.name for p in d.ingress.isolated_by] == ["allow-xa", "deny-ingress"]
    assert d.reason() == "egress not isolated; ingress isolated by allow-xa, deny-ingress"


def test_without_port_every_allowed_range_is_listed(tmp_path: Path) -> None:
    r = cell(tmp_path, "x/b", "x/a", None,
             ingress_to_xa("- ports:\n  - port: serve-81-tcp\n  - {port: 8000, endPort: 9000}\n"
                           "  - {port: 53, protocol: UDP}\n"))
    assert r.verdict == ALLOWED
    assert [d.ports.label for d in r.decisions] == [
        "serve-81-tcp(81)/TCP", "8000-9000/TCP", "53/UDP"]
    r = cell(tmp_path, "x/b", "x/a", None)
    assert [(d.ports.label, d.reason()) for d in r.decisions] == [
        ("any port", "egress not isolated; ingress not isolated")]


def test_without_port_denied_everywhere_is_one_decision(tmp_path: Path) -> None:
    r = cell(tmp_path, "x/a", "y/a", None,
             policy("dns-only", "x", A_ONLY + "policyTypes: [Egress]\negress:\n"
                    "- ports:\n  - {port: 53, protocol: UDP}\n"),
             policy("web-only", "y", A_ONLY + "ingress:\n- ports:\n  - port: 80\n"))
    assert r.verdict == DENIED
    assert [(d.ports.label, d.reason()) for d in r.decisions] == [
        ("any port", "egress isolated by dns-only; ingress isolated by web-only")]


# ---------------------------------------------------------------- DNS, ipBlock


def scenario(name: str) -> tuple[Network, dict[str, Endpoint]]:
    index, errors = load_index([str(FIXTURES / name)])
    assert not errors
    return Network.from_index(index), {workload_label(w): Endpoint.of_workload(w)
                                       for w in index.workloads}


def address(text: str) -> Endpoint:
    net = parse_network(text)
    assert net is not None
    return Endpoint.of_network(net, text)


def test_egress_to_dns_in_kube_system() -> None:
    net, w = scenario("dns.yaml")
    web, api, dns = w["shop/web"], w["shop/api"], w["kube-system/coredns"]
    assert net.reach(web, dns, parse_port("53/UDP")).verdict == ALLOWED
    assert net.reach(web, dns, parse_port("53")).verdict == ALLOWED
    assert net.reach(web, dns, parse_port("9153")).verdict == DENIED
    assert net.reach(web, api, parse_port("80")).verdict == DENIED
    found = net.reach(web, dns)
    assert [(d.ports.label, d.reason()) for d in found.decisions] == [
        ("dns-tcp(53)/TCP", "egress allowed by allow-dns rule 0; ingress not isolated"),
        ("dns(53)/UDP", "egress allowed by allow-dns rule 0; ingress not isolated")]
    found = net.reach(web, api)
    assert [(d.ports.label, d.reason()) for d in found.decisions] == [
        ("http(8080)/TCP",
         "egress allowed by web-to-api rule 0; ingress allowed by api-from-web rule 0")]
    assert net.reach(api, web).verdict == DENIED
    assert net.reach(address("external"), web).verdict == DENIED


def test_undescribed_namespace_has_only_its_name_label(tmp_path: Path) -> None:
    text = (FIXTURES / "dns.yaml").read_text().replace(
        "kubernetes.io/metadata.name: kube-system", "name: kube-system")
    (tmp_path / "dns.yaml").write_text(text)
    index, _ = load_index([str(tmp_path)])
    net = Network.from_index(index)
    w = {workload_label(x): Endpoint.of_workload(x) for x in index.workloads}
    assert net.reach(w["shop/web"], w["kube-system/coredns"], parse_port("53/UDP")).verdict \
        == DENIED


@pytest.mark.parametrize(("source", "port", "verdict"), [
    ("external", "https", PARTIAL),
    ("8.8.8.8", "8443", ALLOWED),
    ("8.8.0.0/16", "https", ALLOWED),
    ("8.8.8.8", "80", DENIED),
    ("10.2.3.4", "https", DENIED),
    ("10.0.0.0/8", "https", DENIED),
    ("192.168.0.0/15", "https", PARTIAL),
    ("2001:db8::1", "https", DENIED),
])
def test_ingress_ip_block_with_except(source: str, port: str, verdict: str) -> None:
    net, w = scenario("ipblock.yaml")
    assert net.reach(address(source), w["edge/gw"], parse_port(port)).verdict == verdict


@pytest.mark.parametrize(("destination", "port", "verdict"), [
    ("10.2.3.4", "5432", ALLOWED),
    ("10.2.3.4", "5433", DENIED),
    ("10.1.9.9", "5432", DENIED),
    ("10.1.2.3", "5432", ALLOWED),  # the except of one policy, the cidr of another
    ("10.1.2.3", "22", ALLOWED),
    ("10.0.0.0/8", "5432", PARTIAL),
    ("10.1.2.0/24", "5432", ALLOWED),
    ("10.1.0.0/16", "5432", PARTIAL),
    ("external", "5432", PARTIAL),
])
def test_egress_ip_block_with_except_and_additive_policies(destination: str, port: str,
                                                           verdict: str) -> None:
    net, w = scenario("ipblock.yaml")
    assert net.reach(w["edge/worker"], address(destination), parse_port(port)).verdict \
        == verdict


def test_ip_block_never_matches_pods() -> None:
    net, w = scenario("ipblock.yaml")
    assert net.reach(w["edge/worker"], w["edge/gw"], parse_port("https")).verdict == DENIED
    found = net.reach(address("8.8.8.8"), w["edge/gw"])
    assert [(d.ports.label, d.reason()) for d in found.decisions] == [
        ("https(8443)/TCP", "ingress allowed by gw-ingress rule 0")]
    assert found.decisions[0].egress is None


def test_external_to_external_is_refused() -> None:
    net, _ = scenario("ipblock.yaml")
    with pytest.raises(ValueError, match="workload"):
        net.reach(address("external"), address("10.0.0.1"))
    assert parse_network("external") == EXTERNAL_NETWORK


def test_foreign_and_invalid_policies_are_reported(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "apiVersion: crd.projectcalico.org/v1\nkind: NetworkPolicy\n"
        "metadata: {name: calico, namespace: x}\nspec: {}\n---\n"
        + policy("bad", "y", "podSelector: {matchExpressions: [{key: a, operator: Is}]}"))
    index, _ = load_index([str(tmp_path)])
    net = Network.from_index(index)
    assert net.is_foreign("x") and not net.is_foreign("y")
    assert [(r.ref.name, "operator" in why) for r, why in net.invalid] == [("bad", True)]


def test_objects_without_namespace_share_one(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web, labels: {app: web}}\n"
        "spec: {containers: [{name: c, image: ghcr.io/acme/c:1.0}]}\n---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: db, labels: {app: db}}\n"
        "spec: {containers: [{name: c, image: ghcr.io/acme/c:1.0}]}\n---\n"
        + policy("db", "x", "podSelector: {matchLabels: {app: db}}\ningress:\n"
                 "- from:\n  - podSelector: {matchLabels: {app: web}}\n")
        .replace("  namespace: x\n", ""))
    index, _ = load_index([str(tmp_path), str(MODEL)])
    w = {workload_label(x): Endpoint.of_workload(x) for x in index.workloads}
    assert (w["web"].namespace, w["x/a"].namespace) == ("", "x")
    for net in (Network.from_index(index), Network.from_index(index, unnamed_everywhere=True)):
        assert net.reach(w["web"], w["db"], parse_port("5432")).verdict == ALLOWED
        assert net.reach(w["x/a"], w["db"], parse_port("5432")).verdict == DENIED
    # a policy without a namespace may also be applied to namespace x
    (tmp_path / "b.yaml").write_text(policy("deny", "z", "podSelector: {}").replace(
        "  namespace: z\n", ""))
    index, _ = load_index([str(tmp_path), str(MODEL)])
    xa = next(x for x in index.workloads if workload_label(x) == "x/a")
    assert Network.from_index(index).isolating(xa, "Ingress") == ()
    assert [p.name for p in Network.from_index(index, unnamed_everywhere=True)
            .isolating(xa, "Ingress")] == ["deny"]


@pytest.mark.parametrize(("text", "expected"), [
    ("80", ("TCP", 80)), ("53/udp", ("UDP", 53)), ("http", ("TCP", "http")),
    ("serve-80-sctp/SCTP", ("SCTP", "serve-80-sctp"))])
def test_parse_port(text: str, expected: tuple[str, int | str]) -> None:
    q = parse_port(text)
    assert (q.protocol, q.port) == expected


@pytest.mark.parametrize("text", ["0", "65536", "80/icmp", "", "a b", "-/TCP"])
def test_parse_port_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_port(text)


# ---------------------------------------------------------------- the command


# ``kubeproof netpol reach ARGS`` as a user runs it
kp = partial(run_kubeproof, "netpol", "reach", timeout=60)


def test_cli_matrix_of_the_bundled_example() -> None:
    proc = kp("examples/good", "--matrix")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "from \\ to  shop/web",
        "external   denied",
        "shop/web   denied",
        "",
        "external -> shop/web: denied",
        "  any port: denied (ingress isolated by default-deny, web-from-ingress)",
        "shop/web -> shop/web: denied",
        "  any port: denied (egress isolated by default-deny, web-egress-dns; "
        "ingress isolated by default-deny, web-from-ingress)",
    ]


def test_cli_matrix_rows_and_columns() -> None:
    proc = kp(str(FIXTURES / "dns.yaml"), "--port", "53/UDP", "--matrix")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:5] == [
        "from \\ to            kube-system/coredns  shop/api  shop/web",
        "external             allowed              denied    denied",
        "kube-system/coredns  allowed              denied    denied",
        "shop/api             allowed              denied    denied",
        "shop/web             allowed              denied    denied",
    ]
    assert ("  dns(53)/UDP: allowed (egress allowed by allow-dns rule 0; ingress not "
            "isolated)") in lines


def test_cli_json_names_the_deciding_policies() -> None:
    proc = kp(str(FIXTURES / "dns.yaml"), "--from", "shop/web", "--to", "api,coredns",
              "--format", "json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["sources"] == ["shop/web"]
    assert out["destinations"] == ["shop/api", "kube-system/coredns"]
    assert out["matrix"] == [["allowed", "allowed"]]
    api = out["cells"][0]
    assert api["decisions"][0]["ports"] == "http(8080)/TCP"
    assert api["decisions"][0]["egress"]["allowedBy"] == [
        {"namespace": "shop", "policy": "web-to-api", "rule": 0}]
    assert api["decisions"][0]["ingress"]["allowedBy"] == [
        {"namespace": "shop", "policy": "api-from-web", "rule": 0}]


def test_cli_cidrs_and_external_destinations() -> None:
    proc = kp(str(FIXTURES / "ipblock.yaml"), "--from", "worker", "--to",
              "10.2.3.4", "--to", "external", "--port", "5432", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["port"] == "5432/TCP"
    assert out["matrix"] == [["allowed", "partial"]]
    assert out["cells"][0]["decisions"][0]["ingress"] is None
    # with an external destination, external is not a default source
    proc = kp(str(FIXTURES / "ipblock.yaml"), "--to", "external", "-f", "json")
    assert json.loads(proc.stdout)["sources"] == ["edge/gw", "edge/worker"]


@pytest.mark.parametrize(("args", "message"), [
    (("--from", "nope"), "no workload named 'nope'"),
    (("--to", "shop/gw"), "no workload named 'gw' in namespace 'shop'"),
    (("--port", "99999"), "--port: port 99999 is out of range"),
    (("--port", "99999999999999999999"), "--port: port 99999999999999999999 is out of range"),
    (("--port", "9" * 5000), "--port: port 99999999999999999999... is out of range"),
    (("--port", "\u00b2"), "--port: port \u00b2 is out of range"),  # isdigit, not a number
    (("--port", "-1"), "--port: '-1' is not a port number (1-65535) or name"),
    (("--from", "external", "--to", "10.0.0.0/8"), "two external endpoints"),
])
def test_cli_usage_errors(args: tuple[str, ...], message: str) -> None:
    proc = kp(str(FIXTURES / "ipblock.yaml"), *args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_unreadable_input_exits_2(tmp_path: Path) -> None:
    proc = kp(str(tmp_path / "missing.yaml"))
    assert proc.returncode == 2
    assert "no such file" in proc.stderr


def test_cli_notes_invalid_policies(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        (FIXTURES / "ipblock.yaml").read_text()
        + "---\n" + policy("bad", "edge", "podSelector: {}\ningress:\n- ports:\n"
                                          "  - {endPort: 9}\n"))
    proc = kp(str(tmp_path), "--from", "worker", "--to", "gw")
    assert proc.returncode == 0, proc.stderr
    assert "note: " in proc.stdout and "NetworkPolicy 'bad' is invalid" in proc.stdout


# ---------------------------------------------------------------- the exposed paths


def sensitive_config(tmp_path: Path) -> str:
    (tmp_path / "kp.yaml").write_text("network:\n  sensitiveLabels: [tier=data]\n")
    return str(tmp_path / "kp.yaml")


def test_cli_default_prints_the_exposed_paths(tmp_path: Path) -> None:
    proc = kp(str(FIXTURES / "paths.yaml"), "--config", sensitive_config(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "external may connect to 4 of 6 workloads:",
        "  every workload of namespace ops; shop/cache: any port (ingress not isolated)",
        "  shop/web: http(8080)/TCP (ingress allowed by web-from-outside rule 0)",
        "",
        "2 sensitive workloads, and what may connect to them:",
        "  shop/cache (label tier=data)",
        "    <- every workload (5): any port (ingress not isolated)",
        "  shop/db (postgres image)",
        "    <- shop/api: 5432/TCP (ingress allowed by db-from-api rule 0)",
    ]


def test_cli_default_json_carries_the_same_paths(tmp_path: Path) -> None:
    proc = kp(str(FIXTURES / "paths.yaml"), "--no-config", "-f", "json", "--port", "5432")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["port"], out["workloads"], out["skippedSensitive"], out["notes"]) == \
        ("5432/TCP", 6, 0, [])
    assert out["external"] == [
        {"verdict": "allowed", "ports": ["5432/TCP"], "reason": "ingress not isolated",
         "every": False, "namespaces": ["ops"], "but": [], "workloads": ["shop/cache"],
         "count": 3}]
    assert out["sensitive"] == [{"workload": "shop/db", "why": "postgres image", "reachedBy": [
        {"verdict": "allowed", "ports": ["5432/TCP"],
         "reason": "ingress allowed by db-from-api rule 0", "every": False,
         "namespaces": [], "but": [], "workloads": ["shop/api"], "count": 1}]}]
    assert "matrix" not in out


def test_cli_matrix_flag_and_endpoints_print_the_matrix() -> None:
    proc = kp(str(FIXTURES / "paths.yaml"), "--no-config", "--matrix", "-f", "json")
    out = json.loads(proc.stdout)
    assert out["sources"] == ["external", "ops/tool1", "ops/tool2", "shop/api", "shop/cache",
                              "shop/db", "shop/web"]
    assert len(out["matrix"]) == 7 and all(len(row) == 6 for row in out["matrix"])
    proc = kp(str(FIXTURES / "paths.yaml"), "--no-config", "--to", "db")
    assert proc.stdout.splitlines()[:2] == ["from \\ to   shop/db", "external    denied"]


def test_cli_matrix_is_capped(tmp_path: Path) -> None:
    many = "---\n".join(
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: n}}\n"
        f"spec: {{containers: [{{name: c, image: ghcr.io/acme/c:1.0}}]}}\n" for i in range(320))
    (tmp_path / "many.yaml").write_text(many)
    proc = kp(str(tmp_path), "--matrix")
    assert proc.returncode == 2
    assert "the matrix would have 321 x 320 = 102,720 cells, more than 100,000" in proc.stderr
    assert kp(str(tmp_path), "--from", "p1").returncode == 0


def pod(name: str, ns: str | None, labels: str = "{app: x}",
        image: str = "ghcr.io/acme/c:1.0") -> str:
    where = f", namespace: '{ns}'" if ns is not None else ""
    return (f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}{where}, labels: {labels}}}\n"
            f"spec: {{containers: [{{name: c, image: {image}}}]}}\n")


def test_placeholder_namespaces_are_no_namespace(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("---\n".join([
        pod("web", "${NAMESPACE:-default}"), pod("db", "{{ .Release.Namespace }}",
                                                 image="redis:7"),
        pod("job", "$(NS)"), pod("real", "shop"),
        policy("deny", "shop", "podSelector: {}\npolicyTypes: [Ingress]"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: '${NAMESPACE}'}\n"]))
    proc = kp(str(tmp_path), "--no-config", "--matrix", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["sources"] == ["external", "db", "job", "shop/real", "web"]
    proc = kp(str(tmp_path), "--no-config")
    assert proc.stdout.splitlines()[:2] == [
        "external may connect to 3 of 4 workloads:",
        "  every workload without a namespace: any port (ingress not isolated)"]


def test_same_names_get_distinct_labels_and_copies_merge(tmp_path: Path) -> None:
    deploy = (FIXTURES / "paths.yaml").read_text().split("---\n")[2]  # shop/api
    (tmp_path / "a.yaml").write_text(deploy)
    (tmp_path / "b.yaml").write_text(deploy)  # the same manifest again: one workload
    (tmp_path / "c.yaml").write_text(deploy.replace("{app: api}", "{app: api2}"))
    (tmp_path / "d.yaml").write_text(pod("api", "shop"))
    proc = kp(str(tmp_path), "--no-config", "--matrix", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    labels = json.loads(proc.stdout)["destinations"]
    assert labels == ["shop/Deployment/api (a.yaml:1)", "shop/Deployment/api (c.yaml:1)",
                      "shop/Pod/api"]
    assert len(set(labels)) == len(labels)
    # a label selects its endpoint
    proc = kp(str(tmp_path), "--no-config", "--to", "shop/Pod/api", "-f", "json")
    assert json.loads(proc.stdout)["destinations"] == ["shop/Pod/api"]


def test_thousands_of_workloads_answer_in_bounded_time(tmp_path: Path) -> None:
    """2,000 workloads in 40 namespaces, each isolated by a default deny and
    an allow rule, one datastore per namespace: seconds, a screenful."""
    docs = []
    for n in range(40):
        docs.append(policy("deny", f"ns{n}", "podSelector: {}\npolicyTypes: [Ingress, Egress]"))
        docs.append(policy("db-clients", f"ns{n}",
                           "podSelector: {matchLabels: {app: db}}\ningress:\n"
                           "- from:\n  - podSelector: {matchLabels: {tier: front}}\n"
                           "    namespaceSelector: {}\n"))
        docs.append(policy("front-out", f"ns{n}",
                           "podSelector: {matchLabels: {tier: front}}\npolicyTypes: [Egress]\n"
                           "egress:\n- to:\n  - podSelector: {matchLabels: {app: db}}\n"
                           "    namespaceSelector: {}\n"))
        docs.append(pod("db", f"ns{n}", "{app: db}", "postgres:16"))
        docs += [pod(f"w{i}", f"ns{n}", f"{{app: w{i}, tier: {'front' if i % 7 else 'back'}}}")
                 for i in range(49)]
    (tmp_path / "big.yaml").write_text("---\n".join(docs))
    proc = kp(str(tmp_path), "--no-config")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "external may connect to 0 of 2000 workloads."
    assert "40 sensitive workloads, and what may connect to them:" in lines
    assert len(lines) < 60


def test_groups_name_every_workload_but_a_few(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("---\n".join([
        *(pod(f"p{i}", "a", f"{{app: p{i}}}") for i in range(6)), pod("solo", "b"),
        policy("deny-p0", "a", "podSelector: {matchLabels: {app: p0}}"),
        policy("deny", "b", "podSelector: {}")]))
    proc = kp(str(tmp_path), "--no-config")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[:2] == [
        "external may connect to 5 of 7 workloads:",
        "  every workload of namespace a but a/p0: any port (ingress not isolated)"]
    # without the deny in b: 7 of the set's 8, all but one
    (tmp_path / "a.yaml").write_text("---\n".join([
        *(pod(f"p{i}", "a", f"{{app: p{i}}}") for i in range(6)), pod("solo", "b"),
        pod("p6", "b"), policy("deny-p0", "a", "podSelector: {matchLabels: {app: p0}}")]))
    proc = kp(str(tmp_path), "--no-config", "-f", "json")
    group = json.loads(proc.stdout)["external"][0]
    assert (group["every"], group["but"], group["count"]) == (True, ["a/p0"], 7)


def test_hostile_values_never_break_the_paths(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: odd\n  namespace: x\n"
        "  labels: {app: [1, 2], n: 9.5, '': ~}\nspec:\n  containers:\n"
        "  - {name: c, image: [redis], ports: [{containerPort: '5432'}, {containerPort: 1e99},"
        " 7, {containerPort: 80, protocol: [TCP]}]}\n  - redis:7\n---\n"
        + pod("db", "x", "{app: db}", "redis:7") + "---\n"
        + policy("p", "x", "podSelector: {matchLabels: {app: db}}\ningress:\n"
                 "- from: [{podSelector: {matchLabels: {app: [1, 2]}}}, 7, {ipBlock: 9}]\n"
                 "  ports: [{port: {}}, {port: 70000}, 'x']\n")
        + "".join(f"---\n{policy(f'bad{i}', 'x', 'podSelector: 7')}" for i in range(12)))
    for args in ((), ("--matrix",), ("-f", "json"), ("--port", "5432")):
        proc = kp(str(tmp_path), "--no-config", *args)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
    proc = kp(str(tmp_path), "--no-config")
    assert proc.stdout.splitlines()[-1] == "note: ... 5 more notes"


def _members(group: Group, endpoints: list[Endpoint], skip: Endpoint | None = None) -> set[str]:
    return {e.label for e in endpoints if e is not skip and e.label not in group.but
            and (group.every or e.namespace in group.namespaces or e.label in group.workloads)}


def test_paths_agree_with_the_matrix() -> None:
    """Every path the grouped answer names is the matrix's cell, and no other:
    the shortcuts (candidates by peer, no isolation, profiles alike) change
    nothing."""
    network = sorted((ROOT / "tests" / "rules").glob("KP090[1-5]"))  # the rule fixture folders
    index, _ = load_index([str(FIXTURES), *map(str, network),
                           str(ROOT / "examples")])
    index = without_placeholder_namespaces(index)
    net = Network.from_index(index)
    endpoints = workload_endpoints(index.workloads)
    found = paths(net, index, endpoints, ["tier=data"])
    outside = Endpoint.of_network(EXTERNAL_NETWORK, "external")

    def expected(source: Endpoint, targets: list[Endpoint], skip: Endpoint | None = None
                 ) -> dict[str, Passage]:
        return {e.label: p for e in targets if e is not skip
                and (p := Passage.of(net.reach(source, e) if source is outside
                                     else net.reach(e, source))) is not None}

    def answered(groups: tuple[Group, ...] | list[Group], skip: Endpoint | None = None
                 ) -> dict[str, Passage]:
        out: dict[str, Passage] = {}
        for g in groups:
            for label in _members(g, endpoints, skip):
                assert label not in out
                out[label] = g.passage
        return out

    assert answered(found.exposed) == expected(outside, endpoints)
    assert len(found.targets) >= 5
    for t in found.targets:
        assert answered(t.sources, t.endpoint) == expected(t.endpoint, endpoints, t.endpoint)
