from pathlib import Path

from kubeproof.core.config import Config
from tests.helpers import findings, fixture, hits


def fx(name: str) -> str:
    return fixture("labels", name)


def test_missing_label_on_workloads_and_services_points_at_labels() -> None:
    assert hits(fx("required_fail.yaml"), "KP0501") == [
        ("KP0501", 3),   # Deployment without metadata.labels: metadata line
        ("KP0501", 22),  # Service with other labels: labels line
        ("KP0501", 34),  # CronJob whose labels are not a mapping
    ]


def test_missing_label_message_and_path() -> None:
    f = findings(fx("required_fail.yaml"), "KP0501")[1]
    assert f.message == 'Service "web" has no label app.kubernetes.io/name'
    assert f.path == "metadata.labels['app.kubernetes.io/name']"


def test_template_labels_do_not_count_for_the_object() -> None:
    # the Deployment's pod template has the label; its own metadata does not
    assert ("KP0501", 3) in hits(fx("required_fail.yaml"), "KP0501")


def test_one_finding_per_missing_label_from_config() -> None:
    config = Config(required_labels=["app.kubernetes.io/name", "team"])
    assert hits(fx("required_fail.yaml"), "KP0501", config=config) == [
        ("KP0501", 3), ("KP0501", 3), ("KP0501", 22), ("KP0501", 22),
        ("KP0501", 34), ("KP0501", 34)]
    assert hits(fx("required_pass.yaml"), "KP0501", config=config) == [("KP0501", 6)]


def test_labelled_workloads_and_other_kinds_pass() -> None:
    assert hits(fx("required_pass.yaml"), "KP0501") == []


def test_empty_required_list_disables_the_rule() -> None:
    assert hits(fx("required_fail.yaml"), "KP0501", config=Config(required_labels=[])) == []


# ---------------------------------------------------------------- set rules

NS = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"
DEPLOY = """apiVersion: apps/v1
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
        - {name: web, image: "ghcr.io/acme/web:1.0"}
"""


# KP0502 service-selects-nothing

def test_service_selecting_nothing_is_reported_at_its_selector() -> None:
    assert hits(fx("service_selects_fail.yaml"), "KP0502") == [
        ("KP0502", 28),  # tier: fe, the template says frontend
        ("KP0502", 40),  # a key no template has
        ("KP0502", 50),  # namespace not described but holding a Job
    ]


def test_service_selects_nothing_message_names_the_missing_labels() -> None:
    f = findings(fx("service_selects_fail.yaml"), "KP0502")[0]
    assert f.message == ('Service "web-typo" selects app=web, tier=fe but no pod template in '
                         'namespace "shop" matches: no template there has tier=fe')
    assert f.path == "spec.selector"


def test_service_selects_nothing_passes_matches_controller_labels_and_unshown_namespaces() -> None:
    assert hits(fx("service_selects_pass.yaml"), "KP0502") == []


def test_service_and_workload_in_different_files_of_a_folder(tmp_path: Path) -> None:
    service = ("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
               "spec:\n  selector: {app: %s}\n")
    (tmp_path / "a.yaml").write_text(NS + "---\n" + service % "web")
    (tmp_path / "b.yaml").write_text(DEPLOY)
    assert hits(tmp_path, "KP0502") == []
    (tmp_path / "a.yaml").write_text(NS + "---\n" + service % "wbe")
    assert [(Path(f.file).name, f.line) for f in findings(tmp_path, "KP0502")] == [("a.yaml", 9)]


def test_service_in_an_unshown_namespace_is_not_judged(tmp_path: Path) -> None:
    # without the Namespace and without workloads in "shop" the pods may live elsewhere
    (tmp_path / "a.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
        "spec:\n  selector: {app: wbe}\n")
    assert hits(tmp_path, "KP0502") == []


# KP0503 pdb-selects-nothing

def test_pdb_selecting_nothing_is_reported_at_its_selector() -> None:
    assert hits(fx("pdb_selects_fail.yaml"), "KP0503") == [
        ("KP0503", 24),  # matchLabels typo
        ("KP0503", 32),  # matchExpressions exclude the only template
        ("KP0503", 41),  # no selector at all: spec line, even in an unshown namespace
        ("KP0503", 50),  # policy/v1beta1 {}
    ]


def test_pdb_selects_nothing_messages() -> None:
    fs = findings(fx("pdb_selects_fail.yaml"), "KP0503")
    assert fs[0].message == 'PodDisruptionBudget "typo" selects no pod template in namespace "shop"'
    assert fs[2].message == ('PodDisruptionBudget "no-selector" has no selector, which selects '
                             'no pods')


def test_pdb_selects_nothing_passes_valid_empty_invalid_and_unshown() -> None:
    assert hits(fx("pdb_selects_pass.yaml"), "KP0503") == []


def test_pdb_and_workload_in_different_files(tmp_path: Path) -> None:
    (tmp_path / "ns.yaml").write_text(NS)
    (tmp_path / "web.yaml").write_text(DEPLOY)
    (tmp_path / "pdb.yaml").write_text(
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web, namespace: shop}\n"
        "spec:\n  maxUnavailable: 1\n  selector:\n    matchLabels: {app: web}\n")
    assert hits(tmp_path, "KP0503") == []


# KP0504 ingress-backend-missing

def test_ingress_backend_missing_service_or_port() -> None:
    assert hits(fx("ingress_backend_fail.yaml"), "KP0504") == [
        ("KP0504", 36),  # port number 8080 is the targetPort, not a Service port
        ("KP0504", 39),  # Service "api" is not in the set: the backend
        ("KP0504", 48),  # port name grpc
        ("KP0504", 61),  # extensions/v1beta1 serviceName
        ("KP0504", 67),  # extensions/v1beta1 servicePort name
    ]


def test_ingress_backend_messages_and_paths() -> None:
    fs = findings(fx("ingress_backend_fail.yaml"), "KP0504")
    assert fs[0].message == ('Ingress "web" routes to port 8080 of Service "web", which does not '
                             'expose it')
    assert fs[0].path == "spec.rules[0].http.paths[1].backend.service.port"
    assert fs[1].message == ('Ingress "web" routes to Service "api", which is not in namespace '
                             '"shop"')
    assert fs[1].path == "spec.rules[0].http.paths[2].backend"


def test_ingress_backend_passes_matching_resource_and_unshown() -> None:
    assert hits(fx("ingress_backend_pass.yaml"), "KP0504") == []


def test_ingress_and_service_in_different_files(tmp_path: Path) -> None:
    (tmp_path / "ingress.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: shop}\n"
        "spec:\n  defaultBackend:\n    service: {name: web, port: {number: 80}}\n")
    (tmp_path / "service.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
        "spec:\n  ports: [{port: 80}]\n")
    assert hits(tmp_path, "KP0504") == []
    (tmp_path / "service.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
        "spec:\n  ports: [{port: 8080}]\n")
    assert [(Path(f.file).name, f.line) for f in findings(tmp_path, "KP0504")] == [
        ("ingress.yaml", 6)]


# KP0505 hpa-target-missing

def test_hpa_target_missing() -> None:
    assert hits(fx("hpa_target_fail.yaml"), "KP0505") == [
        ("KP0505", 22),  # Deployment "api" is not in the set
        ("KP0505", 34),  # a Deployment "web" is, a StatefulSet is not
        ("KP0505", 42),  # namespace shown by its workloads
    ]
    f = findings(fx("hpa_target_fail.yaml"), "KP0505")[0]
    assert f.message == ('HorizontalPodAutoscaler "api" scales Deployment "api", which is not in '
                         'namespace "shop"')
    assert f.path == "spec.scaleTargetRef"


def test_hpa_target_passes_present_equivalent_groups_unknown_kinds_and_unshown() -> None:
    assert hits(fx("hpa_target_pass.yaml"), "KP0505") == []


def test_hpa_and_target_in_different_files(tmp_path: Path) -> None:
    (tmp_path / "ns.yaml").write_text(NS)
    (tmp_path / "hpa.yaml").write_text(
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\n"
        "metadata: {name: web, namespace: shop}\nspec:\n"
        "  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n"
        "  maxReplicas: 3\n")
    assert hits(tmp_path, "KP0505") == [("KP0505", 5)]
    (tmp_path / "web.yaml").write_text(DEPLOY)
    assert hits(tmp_path, "KP0505") == []


def test_label_set_rules_survive_malformed_objects(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        NS + "---\napiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: shop}\n"
        "spec: [1, 2]\n---\napiVersion: networking.k8s.io/v1\nkind: Ingress\n"
        "metadata: {name: i, namespace: shop}\nspec:\n  rules: [{http: {paths: [null, 3]}}]\n"
        "---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\n"
        "metadata: {name: h, namespace: shop}\nspec: null\n---\n"
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: p, namespace: shop}\n"
        "spec:\n  selector: {matchLabels: [a]}\n---\n" + DEPLOY.replace("{app: web}\n    spec",
                                                                   "[app]\n    spec"))
    for code in ("KP0502", "KP0503", "KP0504", "KP0505"):
        assert hits(tmp_path, code) == []
