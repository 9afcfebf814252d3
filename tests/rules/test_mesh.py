from pathlib import Path

from kubeproof.core.config import Config
from tests.helpers import findings, hits


def rule_fixture(code: str, name: str) -> str:
    """A fixture of the rule's folder, tests/rules/CODE/ (its marked lines are tested there)."""
    return str(Path(__file__).parent / code / name)


def test_mesh_injection_disabled_flags_istio_label_and_annotation() -> None:
    path = rule_fixture("KP1502", "fail-istio.yaml")
    label, annotation = findings(path, "KP1502")
    assert label.path == "spec.template.metadata.labels['sidecar.istio.io/inject']"
    assert label.message == ('Deployment "batch-worker" sets label '
                             'sidecar.istio.io/inject: "false"')
    assert "annotation sidecar.istio.io/inject" in annotation.message


def test_mesh_injection_disabled_flags_linkerd_cronjob_and_bare_pod() -> None:
    path = rule_fixture("KP1502", "fail-linkerd.yaml")
    messages = [f.message for f in findings(path, "KP1502")]
    assert messages[0] == 'CronJob "nightly" sets annotation linkerd.io/inject: disabled'
    assert messages[1] == 'Pod "legacy" sets label istio.io/dataplane-mode: none'


# ---------------------------------------------------------------- KP1501

def test_namespace_not_meshed_flags_namespaces_with_unenrolled_workloads() -> None:
    path = rule_fixture("KP1501", "fail-namespaces.yaml")
    shop, legacy, mixed = findings(path, "KP1501")
    assert shop.message == ('namespace "shop" runs 1 workload outside the mesh and has no '
                            "injection label (istio-injection, istio.io/rev or linkerd.io/inject)")
    assert legacy.path == "metadata.labels.istio-injection"
    assert legacy.message.endswith("sets istio-injection: disabled")
    assert mixed.kind == "Namespace" and mixed.name == "mixed"


def test_namespace_not_meshed_only_when_the_set_shows_a_mesh(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\n"
        "spec: {containers: [{name: web, image: a:1}]}\n")
    assert hits(tmp_path, "KP1501") == []
    assert hits(tmp_path, "KP1501", config=Config(mesh_required=True)) == [("KP1501", 3)]
    # an Istio resource in another file shows the mesh
    (tmp_path / "istio.yaml").write_text(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
        "metadata: {name: web, namespace: shop}\nspec: {host: web}\n")
    assert hits(tmp_path, "KP1501") == [("KP1501", 3)]


# ---------------------------------------------------------------- KP1503

def test_mtls_not_strict_flags_permissive_disable_and_port_level() -> None:
    path = rule_fixture("KP1503", "fail-not-strict.yaml")
    mesh_wide, legacy, port = findings(path, "KP1503")
    assert mesh_wide.message == ('mesh-wide PeerAuthentication "default" sets mtls.mode '
                                 "PERMISSIVE")
    assert legacy.message == 'PeerAuthentication "legacy" sets mtls.mode DISABLE'
    assert port.path == "spec.portLevelMtls.8080.mode"
    assert port.message == 'PeerAuthentication "web" sets mtls.mode PERMISSIVE for port 8080'


def test_mtls_not_strict_reports_a_missing_mesh_wide_policy_on_the_root_namespace() -> None:
    found = findings(rule_fixture("KP1503", "fail-missing.yaml"), "KP1503")
    assert [(f.kind, f.line) for f in found] == [("Namespace", 4)]
    assert found[0].message == ('the mesh root namespace "istio-system" has no mesh-wide '
                                "PeerAuthentication (mtls.mode STRICT), so the mesh runs "
                                "PERMISSIVE")


def test_mtls_mesh_wide_policy_in_another_file_and_custom_root(tmp_path: Path) -> None:
    (tmp_path / "ns.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system}\n---\n"
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: mesh-root}\n")
    (tmp_path / "vs.yaml").write_text(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
        "metadata: {name: web, namespace: shop}\nspec: {hosts: [web]}\n")
    assert hits(tmp_path, "KP1503") == [("KP1503", 3)]
    (tmp_path / "pa.yaml").write_text(
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
        "metadata: {name: default, namespace: istio-system}\nspec:\n  mtls: {mode: STRICT}\n")
    assert hits(tmp_path, "KP1503") == []
    # with another root namespace, that policy is a namespace policy, and the
    # mesh-wide one without a mode is PERMISSIVE
    (tmp_path / "iop.yaml").write_text(
        "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\n"
        "metadata: {name: mesh, namespace: istio-system}\n"
        "spec:\n  meshConfig: {rootNamespace: mesh-root}\n---\n"
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
        "metadata: {name: default, namespace: mesh-root}\nspec: {}\n")
    found = findings(tmp_path, "KP1503")
    assert [(f.file.rsplit("/", 1)[-1], f.line) for f in found] == [("iop.yaml", 10)]
    assert "leaves mtls.mode unset, which Istio treats as PERMISSIVE" in found[0].message


def test_mtls_root_namespace_not_in_the_set_is_not_judged(tmp_path: Path) -> None:
    (tmp_path / "vs.yaml").write_text(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
        "metadata: {name: web, namespace: shop}\nspec: {hosts: [web]}\n")
    assert hits(tmp_path, "KP1503") == []


def test_a_loose_mesh_resource_without_namespace_does_not_switch_mesh_rules_on(
        tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n"
        "spec:\n  template:\n    metadata: {labels: {app: web}}\n"
        "    spec: {containers: [{name: web, image: ghcr.io/acme/web:1.0}]}\n")
    sample = tmp_path / "other-sample"
    sample.mkdir()
    (sample / "pa.yaml").write_text(
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
        "metadata: {name: default}\nspec: {mtls: {mode: STRICT}}\n")
    assert hits(tmp_path, "KP1501") == []
    (sample / "pa.yaml").write_text(
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
        "metadata: {name: default, namespace: shop}\nspec: {mtls: {mode: STRICT}}\n")
    assert hits(tmp_path, "KP1501") == [("KP1501", 3)]
