"""Label rules: messages, paths and objects in several files; the per-file
cases are fixtures in tests/rules/KP050x/."""

from pathlib import Path

from tests.helpers import findings, hits

HERE = Path(__file__).parent


def fx(code: str, name: str) -> Path:
    return HERE / code / name


def test_missing_label_message_and_path() -> None:
    f = findings(fx("KP0501", "fail-workload-and-service.yaml"), "KP0501")[1]
    assert f.message == 'Service "web" has no label app.kubernetes.io/name'
    assert f.path == "metadata.labels['app.kubernetes.io/name']"


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

def test_service_selects_nothing_message_names_the_missing_labels() -> None:
    f = findings(fx("KP0502", "fail-set.yaml"), "KP0502")[0]
    assert f.message == ('Service "web-typo" selects app=web, tier=fe but no pod template in '
                         'namespace "shop" matches: no template there has tier=fe')
    assert f.path == "spec.selector"


def test_service_and_workload_in_different_files_of_a_folder(tmp_path: Path) -> None:
    service = ("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
               "spec:\n  selector: {app: %s}\n")
    (tmp_path / "a.yaml").write_text(NS + "---\n" + service % "web")
    (tmp_path / "b.yaml").write_text(DEPLOY)
    assert hits(tmp_path, "KP0502") == []
    (tmp_path / "a.yaml").write_text(NS + "---\n" + service % "wbe")
    assert [(Path(f.file).name, f.line) for f in findings(tmp_path, "KP0502")] == [("a.yaml", 9)]


# KP0503 pdb-selects-nothing

def test_pdb_selects_nothing_messages() -> None:
    fs = findings(fx("KP0503", "fail-set.yaml"), "KP0503")
    assert fs[0].message == 'PodDisruptionBudget "typo" selects no pod template in namespace "shop"'
    assert fs[2].message == ('PodDisruptionBudget "no-selector" has no selector, which selects '
                             'no pods')


def test_pdb_and_workload_in_different_files(tmp_path: Path) -> None:
    (tmp_path / "ns.yaml").write_text(NS)
    (tmp_path / "web.yaml").write_text(DEPLOY)
    (tmp_path / "pdb.yaml").write_text(
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web, namespace: shop}\n"
        "spec:\n  maxUnavailable: 1\n  selector:\n    matchLabels: {app: web}\n")
    assert hits(tmp_path, "KP0503") == []


# KP0504 ingress-backend-missing

def test_ingress_backend_messages_and_paths() -> None:
    fs = findings(fx("KP0504", "fail-set.yaml"), "KP0504")
    assert fs[0].message == ('Ingress "web" routes to port 8080 of Service "web", which does not '
                             'expose it')
    assert fs[0].path == "spec.rules[0].http.paths[1].backend.service.port"
    assert fs[1].message == ('Ingress "web" routes to Service "api", which is not in namespace '
                             '"shop"')
    assert fs[1].path == "spec.rules[0].http.paths[2].backend"


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

def test_hpa_target_missing_message_and_path() -> None:
    f = findings(fx("KP0505", "fail-set.yaml"), "KP0505")[0]
    assert f.message == ('HorizontalPodAutoscaler "api" scales Deployment "api", which is not in '
                         'namespace "shop"')
    assert f.path == "spec.scaleTargetRef"


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
