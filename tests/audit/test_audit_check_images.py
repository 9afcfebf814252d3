"""``kubeproof audit --check-images``: the images a live cluster runs, asked of
their (real, Debian docker-registry) registries."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.audit import Api
from tests.support.registries import Seeded


def _deployment(name: str, image: str) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "imgcheck"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": name, "image": image}]}}}}


def test_audit_checks_the_images_the_cluster_runs(
        api: Api, plain_registry: Seeded, tmp_path: Path) -> None:
    host = plain_registry.reg.host
    api.cluster.add(_deployment("good", f"{host}/team/single:v1"))
    api.cluster.add(_deployment("gone", f"{host}/team/single:9.9"))
    out = tmp_path / "audit.json"
    proc = api.cli("--check-images", "--insecure-registry", host, "--select",
                   "KP0203,KP0204", "-f", "json", "-o", str(out))
    assert proc.returncode == 1, proc.stderr  # KP0204 is critical
    report = json.loads(out.read_text())
    ours = [f for f in report["findings"] if f["object"]["namespace"] == "imgcheck"]
    assert [(f["code"], f["object"]["name"], f["file"]) for f in ours] == [
        ("KP0204", "gone", "fake/imgcheck/Deployment/gone")]
    assert "9.9 not found" in ours[0]["message"]
    registries = {r["host"]: r for r in report["registries"]}
    assert registries[host]["reachable"] is True
    # the fixture cluster's other images come from registries this sandbox cannot
    # reach: each is one registry row and KP0203 on its users, never a crash
    unreachable = {h for h, r in registries.items() if not r["reachable"]}
    assert unreachable and {f["code"] for f in report["findings"]
                            if f["object"]["namespace"] != "imgcheck"} == {"KP0203"}


def test_registry_rules_need_check_images_and_flags_alone_warn(
        api: Api, plain_registry: Seeded) -> None:
    host = plain_registry.reg.host
    api.cluster.add(_deployment("gone", f"{host}/team/single:9.9"))
    proc = api.cli("--insecure-registry", host, "--select", "KP0204", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["findings"] == []
    assert "--insecure-registry does nothing without --check-images" in proc.stderr
