from pathlib import Path

from kubeproof.api import scan
from tests.helpers import findings, hits


def rule_fixture(code: str, name: str) -> str:
    """A fixture of the rule's folder, tests/rules/CODE/ (its marked lines are tested there)."""
    return str(Path(__file__).parent / code / name)


# KP1301 no-readiness-probe


def test_readiness_names_the_container_and_kind_of_container() -> None:
    fs = findings(rule_fixture("KP1301", "fail-sidecars.yaml"), "KP1301")
    assert [f.container for f in fs] == ["proxy", "app", "empty-probe"]
    assert fs[0].message == 'sidecar "proxy" has no readinessProbe'
    assert fs[1].path == "spec.template.spec.containers[0].readinessProbe"


# KP1302 unsafe-rollout-strategy


def test_unsafe_strategy_message_names_the_numbers() -> None:
    fs = findings(rule_fixture("KP1302", "fail-strategies.yaml"), "KP1302")
    assert "maxUnavailable: 3 of 3 replicas" in fs[1].message
    assert fs[1].path == "spec.strategy.rollingUpdate.maxUnavailable"


# KP1303 single-replica


def test_single_replica_is_withdrawn_for_workloads_an_hpa_of_the_set_scales(
        tmp_path: Path) -> None:
    path = rule_fixture("KP1303", "fail-autoscaled.yaml")
    # the HPA in another file of the set counts too, also when worker processes
    # check the files (16 inputs or more)
    docs = Path(path).read_text().split("---\n")
    (tmp_path / "hpa.yaml").write_text("---\n".join(docs[3:]))
    for i in range(16):
        (tmp_path / f"workloads-{i}.yaml").write_text("---\n".join(docs[:3]))
    result = scan([str(tmp_path)], select=("KP1303",), jobs=2)
    assert sorted({f.name for f in result.findings}) == ["jobs", "worker"]
    assert len(result.findings) == 32


# KP1307 no-rollback-history


# ---------------------------------------------------------------- set rules

def deployment(name: str, ns: str | None, *, replicas: int = 2, labels: str = "{app: web}",
               image: str = "ghcr.io/acme/web:1.0", extra: str = "") -> str:
    meta = f"{{name: {name}, namespace: {ns}}}" if ns else f"{{name: {name}}}"
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {meta}\nspec:\n"
            f"  replicas: {replicas}\n  selector:\n    matchLabels: {labels}\n"
            f"  template:\n    metadata:\n      labels: {labels}\n    spec:\n"
            f"      containers:\n        - name: web\n          image: {image}\n{extra}")


PDB_MIN2 = ("apiVersion: policy/v1\nkind: PodDisruptionBudget\n"
            "metadata: {name: web, namespace: shop}\n"
            "spec:\n  minAvailable: 2\n  selector:\n    matchLabels: {app: web}\n")


# KP1304 no-disruption-budget

def test_no_disruption_budget_flags_replicated_workloads_without_a_budget() -> None:
    f = findings(rule_fixture("KP1304", "fail-budgets.yaml"), "KP1304")[0]
    assert f.message == ('Deployment "web" runs 3 replicas but no PodDisruptionBudget in '
                         'namespace "shop" selects its pods')
    assert f.path == "spec.replicas"


def test_budget_in_another_file_covers_the_workload(tmp_path: Path) -> None:
    (tmp_path / "web.yaml").write_text(deployment("web", "shop", replicas=3))
    (tmp_path / "other-pdb.yaml").write_text(PDB_MIN2.replace("{app: web}", "{app: api}"))
    assert hits(tmp_path, "KP1304") == [("KP1304", 5)]
    (tmp_path / "pdb.yaml").write_text(PDB_MIN2.replace("name: web", "name: web2"))
    assert hits(tmp_path, "KP1304") == []


def test_invalid_budget_selector_leaves_its_namespace_unjudged(tmp_path: Path) -> None:
    (tmp_path / "web.yaml").write_text(deployment("web", "shop", replicas=3))
    (tmp_path / "pdb.yaml").write_text(
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web, namespace: shop}"
        "\nspec:\n  selector:\n    matchExpressions: [{key: app, operator: Is}]\n")
    assert hits(tmp_path, "KP1304") == []


# KP1305 pdb-blocks-eviction


def test_pdb_blocks_eviction_messages() -> None:
    fs = findings(rule_fixture("KP1305", "fail-budgets.yaml"), "KP1305")
    assert fs[0].message == ('PodDisruptionBudget "zero" sets maxUnavailable: 0, so no pod can '
                             'ever be evicted')
    assert fs[4].message == ('PodDisruptionBudget "db" requires minAvailable: 60% of the 2 pods '
                             'it selects (StatefulSet "db": 2 replicas), so no pod can ever be '
                             'evicted')
    assert fs[4].path == "spec.minAvailable"


def test_pdb_blocks_eviction_compares_files_of_one_directory_only(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "pdb.yaml").write_text(PDB_MIN2)
    (tmp_path / "app" / "web.yaml").write_text(deployment("web", "shop", replicas=2))
    assert [(Path(f.file).name, f.line) for f in findings(tmp_path, "KP1305")] == [("pdb.yaml", 5)]
    # a variant in another directory is not deployed with this budget
    (tmp_path / "app" / "web.yaml").unlink()
    (tmp_path / "variant").mkdir()
    (tmp_path / "variant" / "web.yaml").write_text(deployment("web", "shop", replicas=2))
    assert hits(tmp_path, "KP1305") == []


def test_pdb_blocks_eviction_counts_unnamespaced_objects_within_their_file(tmp_path: Path) -> None:
    pdb = PDB_MIN2.replace(", namespace: shop", "")
    (tmp_path / "pdb.yaml").write_text(pdb)
    (tmp_path / "web.yaml").write_text(deployment("web", None, replicas=2))
    assert hits(tmp_path, "KP1305") == []
    (tmp_path / "web.yaml").write_text(pdb + "---\n" + deployment("web", None, replicas=2))
    assert hits(tmp_path, "KP1305") == [("KP1305", 5)]


# KP1306 canary-mismatch


def test_canary_mismatch_reports_on_the_canary_naming_the_stable() -> None:
    fs = findings(rule_fixture("KP1306", "fail-canaries.yaml"), "KP1306")
    assert [f.name for f in fs] == ["web-canary", "web-canary", "api-b", "api-b", "api-b"]
    assert fs[1].message == ('canary Deployment "web-canary" differs from "web" behind Service '
                             '"web": targetPort "http" is 8080 in "web" but 9090 in "web-canary"')
    assert fs[1].path == "spec.template.spec.containers[0].ports"


def test_canary_and_stable_in_different_files_of_one_directory(tmp_path: Path) -> None:
    service = ("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
               "spec:\n  selector: {app: web}\n  ports: [{port: 80, targetPort: 8080}]\n")
    ports = "          ports: [{containerPort: %d}]\n"
    (tmp_path / "service.yaml").write_text(service)
    (tmp_path / "stable.yaml").write_text(
        deployment("web", "shop", replicas=3, extra=ports % 8080))
    (tmp_path / "canary.yaml").write_text(
        deployment("web-canary", "shop", replicas=1, image="ghcr.io/acme/web:2.0",
                   extra=ports % 9090))
    assert [(Path(f.file).name, f.line) for f in findings(tmp_path, "KP1306")] == [
        ("canary.yaml", 6), ("canary.yaml", 15)]  # selector overlap, port 8080


def test_canary_mismatch_ignores_variants_in_other_directories_or_unnamespaced_files(
        tmp_path: Path) -> None:
    service = ("apiVersion: v1\nkind: Service\nmetadata: {name: web%s}\n"
               "spec:\n  selector: {app: web}\n")
    probe = "          readinessProbe: {tcpSocket: {port: 1}}\n"
    for d, ns in (("a", ", namespace: shop"), ("b", ", namespace: shop"), ("c", ""), ("d", "")):
        (tmp_path / d).mkdir()
        (tmp_path / d / "service.yaml").write_text(service % ns)
        (tmp_path / d / "web.yaml").write_text(
            deployment(f"web-{d}", "shop" if ns else None, image=f"ghcr.io/acme/web:{d}",
                       extra="" if d in "ac" else probe))
    assert hits(tmp_path, "KP1306") == []


def test_canary_mismatch_never_shows_exec_probe_commands(tmp_path: Path) -> None:
    probe = "          readinessProbe:\n            exec: {command: [check, --token=%s]}\n"
    service = ("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
               "spec:\n  selector: {app: web}\n")
    (tmp_path / "all.yaml").write_text(
        service + "---\n"
        + deployment("web", "shop", labels="{app: web, track: stable}", extra=probe % "s3cr3t")
        + "---\n"
        + deployment("web-b", "shop", labels="{app: web, track: canary}", extra=probe % "hunter2"))
    fs = findings(tmp_path, "KP1306")
    assert [f.line for f in fs] == [38]
    assert "s3cr3t" not in fs[0].message and "hunter2" not in fs[0].message
    assert "an exec command" in fs[0].message
