import random
from pathlib import Path

import pytest
import yaml

from kubeproof.analysis.reach import Network
from kubeproof.analysis.sensitive import datastore_image
from kubeproof.core.config import Config
from kubeproof.core.index import load_index
from kubeproof.k8s.netpol import (
    EGRESS,
    INGRESS,
    LabelIndex,
    PolicyError,
    PolicyIndex,
    effective_policy_types,
    is_network_policy,
    namespace_labels,
    parse_policy,
)
from kubeproof.k8s.netpol import (
    NAMESPACE_NAME_LABEL as NAMESPACE_NAME,
)
from kubeproof.k8s.selectors import label_selector_matches
from kubeproof.rules.p09_network.exposure import _candidate_pairs, _reach_sensitive
from tests.helpers import findings, hits


def rule_fixture(code: str, name: str) -> str:
    """A fixture of the rule's folder, tests/rules/CODE/ (its marked lines are tested there)."""
    return str(Path(__file__).parent / code / name)






# ---------------------------------------------------------------- set rules


def test_default_deny_missing_is_high_for_ingress_and_low_for_egress() -> None:
    path = rule_fixture("KP0901", "fail-namespaces.yaml")
    found = [(f.line, f.severity.label, "egress" in f.message) for f in findings(path, "KP0901")]
    assert found == [(5, "high", False), (5, "low", True), (53, "low", True),
                     (84, "high", False), (84, "low", True)]




def test_default_deny_in_other_files_of_the_folder_counts(tmp_path: Path) -> None:
    text = Path(rule_fixture("KP0901", "pass-denied.yaml")).read_text()
    docs = text.split("\n---\n")
    # Namespace, workload and policy of "shop" each in its own file
    (tmp_path / "ns.yaml").write_text(docs[0])
    (tmp_path / "deploy.yaml").write_text(docs[1])
    (tmp_path / "deny.yaml").write_text(docs[2])
    assert hits(tmp_path, "KP0901") == []
    (tmp_path / "deny.yaml").unlink()
    assert hits(tmp_path, "KP0901") == [("KP0901", 5), ("KP0901", 5)]


def test_default_deny_without_namespace_covers_only_objects_without_one(tmp_path: Path
                                                                         ) -> None:
    (tmp_path / "a.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\n"
        "spec: {containers: [{name: c, image: ghcr.io/acme/c:1.0}]}\n")
    (tmp_path / "b.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\n"
        "spec: {podSelector: {}, policyTypes: [Egress, Ingress]}\n")
    # its namespace is whatever kubectl -n says, not shop
    assert hits(tmp_path, "KP0901") == [("KP0901", 3), ("KP0901", 3)]
    # applied with -n shop, it is shop's default deny
    assert hits(tmp_path, "KP0901", config=Config(scan={"namespace": "shop"})) == []


def test_workloads_not_isolated_for_ingress_are_flagged_at_their_labels() -> None:
    path = rule_fixture("KP0902", "fail-workloads.yaml")
    messages = [f.message for f in findings(path, "KP0902")]
    assert messages[0] == ('Deployment "web": no NetworkPolicy of namespace "shop" selects '
                           'its pods for ingress')




def test_isolation_by_a_policy_in_another_file(tmp_path: Path) -> None:
    docs = Path(rule_fixture("KP0902", "pass-isolated.yaml")).read_text().split("\n---\n")
    (tmp_path / "ns.yaml").write_text(docs[0])
    (tmp_path / "web.yaml").write_text(docs[1])
    assert hits(tmp_path, "KP0902") == [("KP0902", 11)]
    (tmp_path / "policy.yaml").write_text(docs[2])
    assert hits(tmp_path, "KP0902") == []


def test_selectors_that_select_nothing_are_flagged() -> None:
    messages = [f.message for f in findings(rule_fixture("KP0903", "fail-selectors.yaml"),
                                            "KP0903")]
    assert messages == [
        'NetworkPolicy "typo": podSelector matches no pod template in namespace "shop"',
        'NetworkPolicy "web": ingress rule 0 peer 0 podSelector matches no pod template in '
        'namespace "shop"',
        'NetworkPolicy "web": egress rule 0 peer 1 podSelector matches no pod template in '
        'namespace "shop"']




def test_selected_workload_in_another_file(tmp_path: Path) -> None:
    docs = Path(rule_fixture("KP0903", "pass-selected.yaml")).read_text().split("\n---\n")
    (tmp_path / "policies.yaml").write_text("\n---\n".join(docs[2:4]))
    (tmp_path / "report.yaml").write_text(docs[1])
    # only the CronJob is there: the policy's own podSelector (app: web) selects nothing
    assert hits(tmp_path, "KP0903") == [("KP0903", 7)]
    (tmp_path / "web.yaml").write_text(docs[0])
    assert hits(tmp_path, "KP0903") == []


def test_template_without_namespace_is_not_in_a_namespace_written_down(tmp_path: Path
                                                                       ) -> None:
    policy = ("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
              "metadata: {name: api, namespace: shop}\n"
              "spec: {podSelector: {matchLabels: {app: api}}}\n---\n")
    web = ("apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop, labels: {app: web}}"
           "\nspec: {containers: [{name: c, image: ghcr.io/acme/c:1.0}]}\n")
    (tmp_path / "a.yaml").write_text(policy + web)
    assert hits(tmp_path, "KP0903") == [("KP0903", 4)]
    api = web.replace("name: web, namespace: shop", "name: api").replace("app: web", "app: api")
    (tmp_path / "b.yaml").write_text(api)
    assert hits(tmp_path, "KP0903") == [("KP0903", 4)]
    (tmp_path / "b.yaml").write_text(api.replace("name: api", "name: api, namespace: shop"))
    assert hits(tmp_path, "KP0903") == []


def test_set_rules_survive_malformed_policies(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop, labels: {a: b}}\n"
        "spec: {containers: [{name: c, image: ghcr.io/acme/c:1.0}]}\n---\n"
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: x, namespace: shop}\nspec: nonsense\n---\n"
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: y, namespace: shop}\n"
        "spec: {podSelector: [a], ingress: {from: 1}, policyTypes: Ingress}\n---\n"
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: z, namespace: shop}\n"
        "spec: {podSelector: {matchLabels: {a: b}}, ingress: [{from: [{}]}]}\n")
    for code in ("KP0901", "KP0902", "KP0903"):
        hits(tmp_path, code)  # no internal errors (hits asserts there are none)
    # all three policies are rejected by the API server: the pod is not isolated
    assert hits(tmp_path, "KP0902") == [("KP0902", 7)]


# ---------------------------------------------------------------- netpol semantics


def _policy(spec: object, **meta: str) -> object:
    return parse_policy({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                         "metadata": {"name": "p", **meta}, "spec": spec})


@pytest.mark.parametrize(("spec", "types"), [
    ({}, {INGRESS}),
    ({"policyTypes": []}, {INGRESS}),
    ({"egress": []}, {INGRESS}),                      # an empty egress section does not count
    ({"egress": [{}]}, {INGRESS, EGRESS}),
    ({"ingress": [{}], "egress": [{"to": []}]}, {INGRESS, EGRESS}),
    ({"policyTypes": ["Egress"], "ingress": [{}]}, {EGRESS}),
    ({"policyTypes": ["Ingress", "Ingress"]}, {INGRESS}),
])
def test_effective_policy_types(spec: dict, types: set) -> None:
    assert effective_policy_types(spec) == types


@pytest.mark.parametrize("spec", [
    {"policyTypes": ["ingress"]},
    {"policyTypes": "Ingress"},
    {"policyTypes": ["Ingress", "Egress", "Ingress"]},
])
def test_invalid_policy_types(spec: dict) -> None:
    with pytest.raises(PolicyError):
        effective_policy_types(spec)


def test_missing_spec_or_pod_selector_selects_every_pod_and_denies_ingress() -> None:
    for spec in (None, {}, {"podSelector": None}):
        p = _policy(spec)
        assert p.selects_all and p.selects({"any": "thing"}) and p.denies_all(INGRESS)
        assert not p.affects(EGRESS) and not p.denies_all(EGRESS)


def test_rules_of_a_direction_outside_policy_types_are_not_in_force() -> None:
    p = _policy({"policyTypes": ["Ingress"], "egress": [{}]})
    assert len(p.egress) == 1 and p.rules(EGRESS) == () and p.rules(INGRESS) == ()
    assert p.denies_all(INGRESS)


@pytest.mark.parametrize("spec", [
    "text",
    {"podSelector": "app=web"},
    {"podSelector": {"matchExpressions": [{"key": "a", "operator": "Equals"}]}},
    # an invalid requirement after one that fails to match is still invalid
    {"podSelector": {"matchExpressions": [{"key": "a", "operator": "In", "values": ["x"]},
                                          {"key": "b", "operator": "Exists",
                                           "values": ["y"]}]}},
    {"ingress": {"from": []}},
    {"ingress": [{"from": [{}]}]},                   # a peer must name something
    {"ingress": [{"from": [None]}]},
    {"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}]},
    {"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.1"}}]}]},
    {"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]}}]}]},
    {"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/16"]}}]}]},
    {"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["fd00::/8"]}}]}]},
    {"ingress": [{"ports": [{"protocol": "HTTP"}]}]},
    {"ingress": [{"ports": [{"port": 0}]}]},
    {"ingress": [{"ports": [{"port": "8080"}]}]},    # a string port is a name: needs a letter
    {"ingress": [{"ports": [{"port": "http", "endPort": 90}]}]},
    {"ingress": [{"ports": [{"port": 90, "endPort": 80}]}]},
    {"ingress": [{"ports": [{"endPort": 80}]}]},
    {"ingress": [{"ports": [{"port": True}]}]},
])
def test_policies_the_api_server_rejects(spec: object) -> None:
    with pytest.raises(PolicyError):
        _policy(spec)


def test_peers_and_ports() -> None:
    p = _policy({
        "podSelector": {"matchLabels": {"app": "db"}},
        "ingress": [
            {"from": [{"podSelector": {"matchLabels": {"app": "api"}}},
                      {"namespaceSelector": {"matchLabels": {"team": "ops"}}},
                      {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "bi"}}},
                      {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
             "ports": [{"port": 5432}, {"port": "metrics", "protocol": "UDP"},
                       {"port": 8000, "endPort": 8080}]},
            None,
            {"ports": [None]},
        ],
    }, namespace="data")
    own, ops, bi, block = p.ingress[0].peers
    ops_ns = namespace_labels("ops", {"team": "ops"})
    assert own.same_namespace and not ops.same_namespace and not block.same_namespace
    assert own.path == ("spec", "ingress", 0, "from", 0)
    assert own.selects_pod("data", "data", {"app": "api"}, namespace_labels("data"))
    assert not own.selects_pod("data", "ops", {"app": "api"}, ops_ns)
    assert ops.selects_pod("data", "ops", {"any": "pod"}, ops_ns)
    assert not ops.selects_pod("data", "dev", {}, namespace_labels("dev"))
    assert bi.selects_pod("data", "dev", {"app": "bi"}, namespace_labels("dev"))
    assert not bi.selects_pod("data", "dev", {"app": "api"}, namespace_labels("dev"))
    assert not block.selects_pod("data", "data", {"app": "api"}, namespace_labels("data"))
    assert block.ip_block is not None
    assert block.ip_block.contains("10.2.3.4") and not block.ip_block.contains("10.1.2.3")
    assert not block.ip_block.contains("192.168.0.1") and not block.ip_block.contains("::1")
    rule = p.ingress[0]
    assert rule.admits_port("TCP", 5432) and not rule.admits_port("UDP", 5432)
    assert rule.admits_port("UDP", 9100, "metrics") and not rule.admits_port("TCP", 9100,
                                                                              "metrics")
    assert rule.admits_port("TCP", 8042) and not rule.admits_port("TCP", 8081)
    assert not rule.admits_port("TCP", 1)
    assert p.ingress[1].peers == () and p.ingress[1].admits_port("SCTP", 1)
    every_tcp = p.ingress[2]  # a null port entry: every TCP port
    assert every_tcp.admits_port("TCP", 1) and not every_tcp.admits_port("UDP", 1)


def test_namespace_name_label_is_always_present() -> None:
    assert namespace_labels("shop", {"team": "a"}) == {
        "team": "a", "kubernetes.io/metadata.name": "shop"}


def test_only_the_kubernetes_network_policy_is_modelled() -> None:
    assert is_network_policy("networking.k8s.io/v1", "NetworkPolicy")
    assert is_network_policy("extensions/v1beta1", "NetworkPolicy")
    assert not is_network_policy("projectcalico.org/v3", "NetworkPolicy")
    assert not is_network_policy("crd.antrea.io/v1beta1", "NetworkPolicy")
    assert not is_network_policy("cilium.io/v2", "CiliumNetworkPolicy")


_KEYS = ("app", "tier", "env")
_VALUES = ("a", "b", "c", 1)


def _random_selector(rng: random.Random) -> dict:
    sel: dict = {}
    if rng.random() < 0.6:
        sel["matchLabels"] = {k: rng.choice(_VALUES) for k in rng.sample(_KEYS, rng.randint(0, 2))}
    if rng.random() < 0.6:
        exprs = []
        for _ in range(rng.randint(0, 2)):
            op = rng.choice(("In", "NotIn", "Exists", "DoesNotExist"))
            expr = {"key": rng.choice(_KEYS), "operator": op}
            if op in ("In", "NotIn"):
                expr["values"] = rng.sample(_VALUES, rng.randint(1, 3))
            exprs.append(expr)
        sel["matchExpressions"] = exprs
    return sel


def _random_labels(rng: random.Random) -> dict:
    labels = {k: rng.choice(_VALUES) for k in rng.sample(_KEYS, rng.randint(0, 3))}
    if rng.random() < 0.05:
        labels["odd"] = ["unhashable"]
    return labels


def test_indexes_agree_with_testing_every_pair() -> None:
    rng = random.Random(9)
    for _ in range(200):
        pods = [_random_labels(rng) for _ in range(rng.randint(0, 8))]
        selectors = [_random_selector(rng) for _ in range(rng.randint(0, 8))]
        policies = [_policy({"podSelector": s, "policyTypes": [rng.choice((INGRESS, EGRESS))]})
                    for s in selectors]
        labels_index = LabelIndex((labels, i) for i, labels in enumerate(pods))
        policy_index = PolicyIndex(policies)
        for sel in selectors:
            expected = [i for i, labels in enumerate(pods) if label_selector_matches(sel, labels)]
            assert sorted(labels_index.select(sel)) == expected
            assert labels_index.any_selected(sel) == bool(expected)
        for labels in pods:
            for direction in (None, INGRESS):
                expected_ids = sorted(
                    id(p) for p in policies
                    if p.selects(labels) and (direction is None or p.affects(direction)))
                assert sorted(map(id, policy_index.selecting(labels, direction))) == expected_ids


# ---------------------------------------------------------------- KP0905


def test_exposed_workloads_reaching_datastores_are_flagged_at_their_labels() -> None:
    path = rule_fixture("KP0905", "fail-datastores.yaml")
    assert [f.message for f in findings(path, "KP0905")] == [
        'Deployment "web" (exposed by LoadBalancer Service "web") can open connections to '
        'StatefulSet "db" (postgres image) on port pg(5432)/TCP',
        'Deployment "api" (exposed by Ingress "public" via Service "api") can open '
        'connections to StatefulSet "db" (postgres image) on port pg(5432)/TCP',
        'Pod "gateway" (exposed by NodePort Service "gateway") can open connections to '
        'Deployment "cache" of namespace "shop" (redis image) on port 6379/TCP']


def test_sensitive_labels_from_the_config() -> None:
    path = rule_fixture("KP0905", "fail-datastores.yaml")
    for labels in (["data=pii"], ["data"], ["other=x", "data=pii"]):
        found = findings(path, "KP0905", config=Config(sensitive_labels=labels))
        # one finding per exposed workload, naming every target it reaches
        assert [(f.line, f.path) for f in found] == [
            (17, "spec.template.metadata.labels"), (87, "spec.template.metadata.labels"),
            (166, "metadata.labels")]
        assert found[1].message.endswith(
            f'CronJob "ledger" (label {labels[-1]}) on port 9000-9001/TCP')
    assert hits(path, "KP0905", config=Config(sensitive_labels=["data=public"])) == [
        ("KP0905", 17), ("KP0905", 87), ("KP0905", 166)]


def test_exposed_reaches_sensitive_pass_cases() -> None:
    path = rule_fixture("KP0905", "pass-isolated.yaml")
    # the v1beta1 Ingress backend exposes api, and nothing isolates the worker
    found = findings(path, "KP0905", config=Config(sensitive_labels=["app=worker"]))
    assert [(f.line, f.message) for f in found] == [
        (62, 'Deployment "api" (exposed by Ingress "public" via Service "api") can open '
             'connections to Deployment "worker" (label app=worker) on any port')]


def test_exposure_and_policies_in_other_files(tmp_path: Path) -> None:
    docs = Path(rule_fixture("KP0905", "fail-datastores.yaml")).read_text().split("\n---\n")
    names = ["ns", "web", "web-svc", "db", "db-clients", "api", "api-svc", "ingress",
             "ledger", "ledger-policy", "edge-ns", "gateway", "gateway-svc", "cache",
             "cache-clients"]
    assert len(docs) == len(names)
    for name, doc in zip(names, docs, strict=True):
        (tmp_path / f"{name}.yaml").write_text(doc + "\n")
    assert [(Path(f.file).name, f.line) for f in findings(tmp_path, "KP0905")] == [
        ("api.yaml", 12), ("gateway.yaml", 6), ("web.yaml", 12)]
    # without the Ingress, api is not exposed; without the LoadBalancer, web is not
    (tmp_path / "ingress.yaml").unlink()
    (tmp_path / "web-svc.yaml").unlink()
    assert [f.file for f in findings(tmp_path, "KP0905")] == [str(tmp_path / "gateway.yaml")]
    # a policy in another file that isolates the cache ends the last finding
    (tmp_path / "deny.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: deny, namespace: edge}\n"
        "spec: {podSelector: {}, policyTypes: [Egress]}\n")
    assert hits(tmp_path, "KP0905") == []


_EXPOSED_DB = (
    "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n"
    "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop, labels: {app: web}}\n"
    "spec: {containers: [{name: c, image: ghcr.io/acme/web:1.0}]}\n---\n"
    "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
    "spec: {type: NodePort, selector: {app: web}}\n---\n"
    "apiVersion: v1\nkind: Pod\nmetadata: {name: db, namespace: shop, labels: {app: db}}\n"
    "spec: {containers: [{name: c, image: mariadb:11}]}\n")


def test_policy_without_namespace_is_in_force_only_without_one(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(_EXPOSED_DB)
    assert hits(tmp_path, "KP0905") == [("KP0905", 7)]
    (tmp_path / "b.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\n"
        "spec: {podSelector: {}, policyTypes: [Ingress]}\n")
    assert hits(tmp_path, "KP0905") == [("KP0905", 7)]
    assert hits(tmp_path, "KP0905", config=Config(scan={"namespace": "shop"})) == []


def test_unknown_namespaces_and_other_engines_are_not_judged(tmp_path: Path) -> None:
    # the same objects without a namespace: where they run is unknown
    (tmp_path / "a.yaml").write_text(_EXPOSED_DB.replace(", namespace: shop", "")
                                     .split("---\n", 1)[1])
    (tmp_path / "b.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web}\n"
        "spec: {podSelector: {matchLabels: {app: web}}}\n")
    assert hits(tmp_path, "KP0905") == []
    (tmp_path / "a.yaml").write_text(_EXPOSED_DB)
    (tmp_path / "b.yaml").write_text(
        "apiVersion: crd.projectcalico.org/v1\nkind: NetworkPolicy\n"
        "metadata: {name: deny, namespace: shop}\nspec: {}\n")
    assert hits(tmp_path, "KP0905") == []


@pytest.mark.parametrize(("image", "store"), [
    ("postgres:16", "postgres"),
    ("bitnami/postgresql:16@sha256:" + "a" * 64, "postgres"),
    ("docker.io/library/mysql", "mysql"),
    ("mysql/mysql-server:8.0", "mysql"),
    ("registry.k8s.io/redis-slave:v2", "redis"),
    ("quay.io/strimzi/kafka:0.40.0-kafka-3.7.0", "kafka"),
    ("cockroachdb/cockroach:v23.2.0", "cockroach"),
    ("clickhouse/clickhouse-server:24.3", "clickhouse"),
    ("MONGO:7", None),  # not a valid reference
    ("quay.io/prometheuscommunity/postgres-exporter:v0.15.0", None),
    ("oliver006/redis_exporter", None),
    ("cockroachdb/cockroach-k8s-init:0.2", None),
    ("ghcr.io/acme/redis-operator:1.0", None),
    ("arungupta/wildfly-mysql-javaee7", None),
    ("ghcr.io/acme/web:1.0", None),
    ("", None),
])
def test_datastore_images(image: str, store: str | None) -> None:
    assert datastore_image(image) == store


def _random_workload(rng: random.Random, i: int) -> dict:
    image = rng.choice(["postgres:16", "redis:7", "ghcr.io/acme/web:1.0"])
    ports = [{"containerPort": rng.choice([80, 5432]), "name": rng.choice(["http", "db"])}] \
        if rng.random() < 0.7 else []
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"p{i}", "namespace": rng.choice(["a", "b"]),
                         "labels": _random_labels(rng)},
            "spec": {"containers": [{"name": "c", "image": image, "ports": ports}]}}


def _random_peer(rng: random.Random) -> dict:
    peer = {}
    if rng.random() < 0.6:
        peer["podSelector"] = _random_selector(rng)
    if rng.random() < 0.4 or not peer:
        peer["namespaceSelector"] = rng.choice([{}, {"matchLabels": {"team": "x"}},
                                                {"matchLabels": {NAMESPACE_NAME: "b"}}])
    return peer


def _random_netpol(rng: random.Random, i: int) -> dict:
    spec: dict = {"podSelector": _random_selector(rng),
                  "policyTypes": rng.choice([["Ingress"], ["Egress"], ["Ingress", "Egress"]])}
    for direction, key in (("ingress", "from"), ("egress", "to")):
        spec[direction] = [
            {**({key: [_random_peer(rng) for _ in range(rng.randint(1, 2))]}
                if rng.random() < 0.8 else {}),
             **({"ports": [{"port": rng.choice([80, 5432, "db"])}]} if rng.random() < 0.5
                else {})}
            for _ in range(rng.randint(0, 2))]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": f"np{i}", "namespace": rng.choice(["a", "b"])}, "spec": spec}


def test_kp0905_candidates_agree_with_testing_every_pair(tmp_path: Path) -> None:
    rng = random.Random(5)
    total = pruned = 0
    for round_ in range(60):
        objs: list[dict] = [
            {"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": "a", "labels": {"team": "x"}}},
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "b"}}]
        workloads = [_random_workload(rng, i) for i in range(rng.randint(2, 7))]
        objs += workloads
        objs += [_random_netpol(rng, i) for i in range(rng.randint(0, 4))]
        objs += [{"apiVersion": "v1", "kind": "Service",
                  "metadata": {"name": f"s{i}", "namespace": w["metadata"]["namespace"]},
                  "spec": {"type": "LoadBalancer",
                           "selector": {"exposed": w["metadata"]["name"]}}}
                 for i, w in enumerate(workloads) if rng.random() < 0.5]
        for w in workloads:
            w["metadata"]["labels"]["exposed"] = w["metadata"]["name"]
        path = tmp_path / f"set{round_}.yaml"
        path.write_text(yaml.safe_dump_all(objs))
        index, _ = load_index([str(path)])
        net = Network.from_index(index)
        exposed = [(w, "") for w in index.workloads
                   if any(o["kind"] == "Service" and o["metadata"]["namespace"] == w.ref.namespace
                          and o["spec"]["selector"]["exposed"] == w.ref.name for o in objs)]
        sensitive = [(w, "") for w in index.workloads if datastore_image(w.containers[0].image)]
        candidates = {(id(s[0]), id(t[0])) for s, t in _candidate_pairs(net, exposed, sensitive)}
        reachable = {(id(s), id(t)) for s, _ in exposed for t, _ in sensitive
                     if s is not t and _reach_sensitive(net, s, t) is not None}
        assert reachable <= candidates
        # one finding per exposed workload that reaches anything
        assert len(findings(path, "KP0905")) == len({src for src, _ in reachable})
        total += len(reachable)
        pruned += len(exposed) * len(sensitive) - len(candidates)
    assert total > 30 and pruned > 30, (total, pruned)


def test_one_finding_per_exposed_workload_names_three_targets_and_counts_the_rest(
        tmp_path: Path) -> None:
    docs = ["apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
            "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
            "spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80}]}\n",
            "apiVersion: v1\nkind: Pod\n"
            "metadata: {name: web, namespace: shop, labels: {app: web}}\n"
            "spec: {containers: [{name: web, image: ghcr.io/acme/web:1.0}]}\n"]
    docs += [f"apiVersion: v1\nkind: Pod\nmetadata: {{name: cache{i}, namespace: shop}}\n"
             f"spec: {{containers: [{{name: r, image: docker.io/library/redis:7}}]}}\n"
             for i in range(5)]
    (tmp_path / "set.yaml").write_text("---\n".join(docs))
    [finding] = findings(tmp_path / "set.yaml", "KP0905")
    assert finding.name == "web" and finding.message.count("(redis image)") == 3
    assert finding.message.endswith("; and 2 more")
