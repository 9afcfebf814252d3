"""Render kubeproof's own chart (deploy/helm/kubeproof) through Helm's SDK."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kubeproof.sources import helmsdk
from kubeproof.webhook.manifests import InstallOptions

CHART = Path(__file__).parents[2] / "deploy" / "helm" / "kubeproof"
DIGEST = "sha256:" + "5f" * 32
IMAGE = f"registry.example/kubeproof:0.1.0@{DIGEST}"


def values_of(o: InstallOptions) -> dict[str, Any]:
    """The chart values that choose what ``o`` chooses for ``webhook install``."""
    name, digest = o.image.split("@", 1)
    repository, tag = name.rsplit(":", 1)
    return {"image": {"repository": repository, "tag": tag, "digest": digest},
            "mode": o.mode, "failurePolicy": o.failure_policy,
            "mutateFailurePolicy": o.mutate_failure_policy, "replicas": o.replicas,
            "workers": o.workers, "certManager": {"enabled": o.cert_manager},
            "namespace": {"create": True}}


def render_text(tmp: Path, values: dict[str, Any], namespace: str = "kubeproof") -> str:
    path = tmp / "values.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return helmsdk.render(str(CHART), [str(path)], [], namespace=namespace)


def render_objects(tmp: Path, values: dict[str, Any],
                   namespace: str = "kubeproof") -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(render_text(tmp, values, namespace)) if d]
