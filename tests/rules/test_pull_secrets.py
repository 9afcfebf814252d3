"""Pull secret rules: messages and objects in several files; the per-file cases
are fixtures in tests/rules/KP030x/."""

from pathlib import Path

from kubeproof.core.config import Config
from tests.helpers import findings, hits

PRIVATE = Config(private_registries=["registry.example.com", "https://ghcr.io/acme/"])
HERE = Path(__file__).parent


def ps(code: str, name: str) -> Path:
    return HERE / code / name


# ------------------------------------------------------------------ KP0301

def test_missing_messages_containers_and_paths() -> None:
    path = ps("KP0301", "fail-missing.yaml")
    found = findings(path, "KP0301", config=PRIVATE)
    assert [f.container for f in found] == ["migrate", "web", "report"]
    assert found[0].message == (
        'container "migrate" image "registry.example.com/shop/migrate:1.0" comes from private '
        'registry registry.example.com but neither the pod nor ServiceAccount "default" '
        "(not in the set) lists imagePullSecrets")
    assert 'ServiceAccount "worker" lists' in found[2].message
    assert found[2].path == "spec.jobTemplate.spec.template.spec.containers[0].image"


def test_missing_reads_the_service_account_from_another_file(tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: api, namespace: shop}\n"
        "spec:\n  serviceAccountName: api\n  containers:\n"
        "    - name: api\n      image: registry.example.com/shop/api:1.0\n")
    assert hits(tmp_path, "KP0301", config=PRIVATE) == []  # SA unknown, namespace undescribed
    (tmp_path / "sa.yaml").write_text(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: api, namespace: shop}\n")
    assert hits(tmp_path, "KP0301", config=PRIVATE) == [("KP0301", 8)]
    (tmp_path / "sa.yaml").write_text(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: api, namespace: shop}\n"
        "imagePullSecrets:\n  - name: regcred\n")
    assert hits(tmp_path, "KP0301", config=PRIVATE) == []


# ------------------------------------------------------------------ KP0302

def test_not_found_messages_and_paths() -> None:
    path = ps("KP0302", "fail-refs.yaml")
    pod, sa = findings(path, "KP0302")
    assert pod.path == "spec.template.spec.imagePullSecrets[0]"
    assert pod.message == ('Deployment "web" references pull secret "regcred", which is not in '
                           'namespace "shop" (a Secret of that name exists in namespace other)')
    assert (sa.kind, sa.path) == ("ServiceAccount", "imagePullSecrets[1]")


def test_not_found_sees_secrets_in_other_files(tmp_path: Path) -> None:
    text = ps("KP0302", "fail-refs.yaml").read_text()
    docs = text.split("---\n")
    (tmp_path / "secrets.yaml").write_text("---\n".join(docs[:4]))
    (tmp_path / "app.yaml").write_text("---\n".join(docs[4:]))
    assert hits(tmp_path, "KP0302") == [("KP0302", 14), ("KP0302", 28)]
    (tmp_path / "more.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: regcred, namespace: shop}\n"
        "type: kubernetes.io/dockerconfigjson\ndata: {.dockerconfigjson: eyJhdXRocyI6e319}\n"
        "---\napiVersion: v1\nkind: Secret\nmetadata: {name: typo-regcred, namespace: shop}\n"
        "type: kubernetes.io/dockerconfigjson\ndata: {.dockerconfigjson: eyJhdXRocyI6e319}\n")
    assert hits(tmp_path, "KP0302") == []


# ------------------------------------------------------------------ KP0303

def test_wrong_type_messages_show_no_values() -> None:
    path = ps("KP0303", "fail-refs.yaml")
    opaque, broken = findings(path, "KP0303")
    assert opaque.message == (
        'Deployment "web" references pull secret "app-config", which has type "Opaque", not '
        "kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg, so the kubelet ignores it")
    assert broken.message == (
        'ServiceAccount "api" references pull secret "broken", which cannot be used: '
        "data['.dockerconfigjson'] is not valid base64-encoded UTF-8")
    assert "not base64!" not in broken.message and "debug" not in opaque.message
