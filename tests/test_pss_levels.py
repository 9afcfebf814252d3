"""A Namespace's pod-security.kubernetes.io/enforce label sets the level for its pods."""

from __future__ import annotations

from pathlib import Path

from kubeproof.api import scan

POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {ns}
spec:
  containers:
  - name: c
    image: registry.example.com/app:1.0
    securityContext:
      privileged: true
"""
NS = """apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
  labels:
    pod-security.kubernetes.io/enforce: {level}
"""


def pss(result: object) -> set[tuple[str, str]]:
    return {(f.namespace, f.rule.code) for f in result.findings  # type: ignore[attr-defined]
            if f.rule.code < "KP0820"}


def test_namespace_labels_override_the_run_level_across_files(tmp_path: Path) -> None:
    (tmp_path / "namespaces.yaml").write_text(
        NS.format(ns="legacy", level="baseline") + "---\n" + NS.format(ns="infra",
                                                                      level="privileged"))
    (tmp_path / "pods.yaml").write_text("---\n".join(
        POD.format(name=f"p-{ns}", ns=ns) for ns in ("legacy", "infra", "shop")))
    found = pss(scan([str(tmp_path)], select=["KP08"]))
    # baseline namespace: the baseline check only; privileged: nothing; unlabelled: restricted
    assert ("legacy", "KP0803") in found and ("legacy", "KP0813") not in found
    assert not {code for ns, code in found if ns == "infra"}
    assert {("shop", "KP0803"), ("shop", "KP0813"), ("shop", "KP0814")} <= found


def test_run_level_baseline_drops_restricted_codes(tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text(POD.format(name="p", ns="shop"))
    found = pss(scan([str(tmp_path)], select=["KP08"], pss_level="baseline"))
    assert found == {("shop", "KP0803")}
