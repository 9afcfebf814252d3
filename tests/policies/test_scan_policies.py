"""``kubeproof scan`` with policies: bad policies are one line each at the
line of what is wrong, the rest of the scan goes on (exit 2); ``--policy``
names what cannot be read; policies found in the scanned files judge them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from kubeproof.api import scan
from kubeproof.core.config import Config
from kubeproof.sources import render
from tests.support.cli import kp

POLICIES = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: orphan-binding
spec:
  policyName: does-not-exist
  validationActions: [Deny]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: config-maps
spec:
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE"]
        resources: ["configmaps"]
  validations:
    - expression: "has(object.data)"
      message: a ConfigMap holds data
    - expression: "object.data.size() =="
"""

CONFIG_MAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: empty
  namespace: shop
"""


def test_bad_policies_are_one_line_each_at_their_line_and_the_scan_goes_on(
        tmp_path: Path) -> None:
    (tmp_path / "policies.yaml").write_text(POLICIES)
    (tmp_path / "cm.yaml").write_text(CONFIG_MAP)
    proc = kp("scan", str(tmp_path), "--no-config", "-f", "json", "--fail-on", "none")
    assert proc.returncode == 2
    report = json.loads(proc.stdout)
    errors = sorted((e["line"], e["message"].split(":")[0]) for e in report["errors"])
    assert errors == [
        (1, "ValidatingAdmissionPolicyBinding orphan-binding binds policy 'does-not-exist'"
            ", which is not in the set"),
        (23, "ValidatingAdmissionPolicy config-maps"),  # the line of the bad expression
    ]
    assert all("\n" not in e["message"] for e in report["errors"])
    # the policy's other validation still judges, as the built-in rules do
    codes = {(f["code"], f["object"]["name"]) for f in report["findings"]}
    assert ("vap/config-maps", "empty") in codes


def test_policy_paths_that_cannot_be_read(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text(CONFIG_MAP)
    proc = kp("scan", str(tmp_path), "--no-config", "-f", "json", "--fail-on", "none",
              "--policy", str(tmp_path / "missing"))
    assert proc.returncode == 2
    assert [e["message"] for e in json.loads(proc.stdout)["errors"]] == [
        "no such file or directory"]


def test_a_scan_without_policies_never_loads_cel(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text(CONFIG_MAP)
    probe = ("import sys, runpy; sys.argv = ['kubeproof', 'scan', sys.argv[1], '--no-config',"
             " '-q', '--fail-on', 'none']\n"
             "try:\n    runpy.run_module('kubeproof', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             "print('CEL LOADED' if 'cel_expr_python' in sys.modules else 'NO CEL')")
    out = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True,
                         text=True, check=False)
    assert out.stdout.strip().endswith("NO CEL"), out.stdout + out.stderr


def test_policies_in_a_kustomize_folder_judge_it_rendered_once(tmp_path: Path,
                                                                monkeypatch: Any) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "kustomization.yaml").write_text(
        "resources: [policies.yaml, cm.yaml]\nnamespace: shop\n")
    (folder / "policies.yaml").write_text(POLICIES.split("---\n", 1)[1].replace(
        '    - expression: "object.data.size() =="\n', ""))
    (folder / "cm.yaml").write_text(CONFIG_MAP)
    calls: list[str] = []
    real = render.load_rendered

    def counted(kind: str, path: str, opts: Any) -> Any:
        calls.append(path)
        return real(kind, path, opts)

    monkeypatch.setattr(render, "load_rendered", counted)
    result = scan([str(folder)], config=Config())
    assert not result.errors
    assert [(f.rule.code, f.name) for f in result.findings if "/" in f.rule.code] == [
        ("vap/config-maps", "empty")]
    assert calls == [str(folder)]  # the policies' pass and the scan share one rendering


NAMESPACED = """\
apiVersion: policies.kyverno.io/v1
kind: NamespacedValidatingPolicy
metadata:
  name: config-maps-have-data
  namespace: shop
spec:
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["configmaps"]
  validations:
    - expression: "has(object.data)"
      message: a ConfigMap holds data
"""


def test_a_namespaced_validating_policy_judges_only_its_namespace(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(NAMESPACED)
    (tmp_path / "cms.yaml").write_text(CONFIG_MAP + "---\n" + CONFIG_MAP.replace(
        "namespace: shop", "namespace: other"))
    proc = kp("scan", str(tmp_path), "--no-config", "-f", "json", "--fail-on", "none")
    assert proc.returncode == 0, proc.stderr
    found = [(f["code"], f["object"]["namespace"]) for f in json.loads(proc.stdout)["findings"]
             if "/" in f["code"]]
    assert found == [("vpol/shop/config-maps-have-data", "shop")]
