from pathlib import Path

from kubeproof.core.config import Config
from tests.helpers import findings, fixture, hits


def fx(name: str) -> str:
    return fixture("annotations", name)


REQUIRED = Config(required_annotations=["acme.io/owner", "kubernetes.io/change-cause"])


# KP0601 missing-required-annotations

def test_required_annotations_default_to_none() -> None:
    assert hits(fx("required_fail.yaml"), "KP0601") == []


def test_required_annotation_missing_on_workload_metadata() -> None:
    # the template's change-cause does not count; the ConfigMap is not a workload
    assert hits(fx("required_fail.yaml"), "KP0601", config=REQUIRED) == [("KP0601", 6)]
    (f,) = findings(fx("required_fail.yaml"), "KP0601", config=REQUIRED)
    assert f.message == 'Deployment "web" has no annotation kubernetes.io/change-cause'


# KP0602 deprecated-annotation

def test_deprecated_annotations_on_pod_templates_and_kind_specific_objects() -> None:
    assert hits(fx("deprecated_fail.yaml"), "KP0602") == [
        ("KP0602", 13),  # seccomp pod annotation on the template
        ("KP0602", 14),  # AppArmor container annotation
        ("KP0602", 15),  # seccomp container annotation
        ("KP0602", 16),  # critical-pod
        ("KP0602", 29),  # Ingress kubernetes.io/ingress.class
        ("KP0602", 39),  # PVC volume.beta.kubernetes.io/storage-class
        ("KP0602", 54),  # StatefulSet volumeClaimTemplates
        ("KP0602", 62),  # bare Pod sysctls annotation
    ]


def test_deprecated_annotation_message_names_field_and_version() -> None:
    fs = findings(fx("deprecated_fail.yaml"), "KP0602")
    assert fs[1].container == "web"
    assert "securityContext.appArmorProfile" in fs[1].message and "v1.30" in fs[1].message
    assert "spec.ingressClassName" in fs[4].message and "v1.18" in fs[4].message


def test_deprecated_annotation_ignores_other_kinds_and_provider_annotations() -> None:
    assert hits(fx("deprecated_pass.yaml"), "KP0602") == []


# KP0603 annotations-too-large

LIMIT = 256 * 1024


def _configmap(tmp_path: Path, value_len: int, where: str = "object") -> str:
    key = "acme.io/blob"
    value = "x" * (value_len - len(key))
    if where == "object":
        text = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n  namespace: shop\n"
                f"  annotations:\n    {key}: {value}\ndata: {{}}\n")
    else:
        text = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: big\n"
                "  namespace: shop\nspec:\n  template:\n    metadata:\n      annotations:\n"
                f"        {key}: {value}\n    spec:\n      containers: []\n")
    path = tmp_path / "big.yaml"
    path.write_text(text)
    return str(path)


def test_annotations_over_256_kib_are_rejected(tmp_path: Path) -> None:
    assert hits(_configmap(tmp_path, LIMIT + 1), "KP0603") == [("KP0603", 6)]
    (f,) = findings(_configmap(tmp_path, LIMIT + 1), "KP0603")
    assert "262,145 bytes" in f.message


def test_annotations_at_the_limit_pass(tmp_path: Path) -> None:
    assert hits(_configmap(tmp_path, LIMIT), "KP0603") == []


def test_pod_template_annotations_are_measured_too(tmp_path: Path) -> None:
    assert hits(_configmap(tmp_path, LIMIT + 10, "template"), "KP0603") == [("KP0603", 9)]


def test_annotation_size_counts_utf8_bytes(tmp_path: Path) -> None:
    path = tmp_path / "utf8.yaml"
    value = "é" * (LIMIT // 2)  # 2 bytes each: over the limit with the key
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: u\n  namespace: s\n"
                    f"  annotations:\n    k: {value}\n", encoding="utf-8")
    assert hits(str(path), "KP0603") == [("KP0603", 6)]


def test_small_annotations_pass() -> None:
    assert hits(fx("deprecated_fail.yaml"), "KP0603") == []
