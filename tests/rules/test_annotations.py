"""Annotation rules: messages and generated sizes; the per-file cases are
fixtures in tests/rules/KP060x/."""

from pathlib import Path

from kubeproof.core.config import Config
from tests.helpers import findings, hits

HERE = Path(__file__).parent


def fx(code: str, name: str) -> Path:
    return HERE / code / name


REQUIRED = Config(required_annotations=["acme.io/owner", "kubernetes.io/change-cause"])


# KP0601 missing-required-annotations

def test_required_annotation_message() -> None:
    (f,) = findings(fx("KP0601", "fail-required.yaml"), "KP0601", config=REQUIRED)
    assert f.message == 'Deployment "web" has no annotation kubernetes.io/change-cause'


# KP0602 deprecated-annotation

def test_deprecated_annotation_message_names_field_and_version() -> None:
    fs = findings(fx("KP0602", "fail-deprecated.yaml"), "KP0602")
    assert fs[1].container == "web"
    assert "securityContext.appArmorProfile" in fs[1].message and "v1.30" in fs[1].message
    assert "spec.ingressClassName" in fs[4].message and "v1.18" in fs[4].message


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
