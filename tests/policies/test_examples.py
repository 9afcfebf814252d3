"""The policy examples (examples/policies) do what their README says: their
tests pass with ``kubeproof test``, and a scan finds what the README names."""

from __future__ import annotations

import json

from tests.support.cli import kp
from tests.support.paths import ROOT

EXAMPLES = ROOT / "examples" / "policies"


def _policy_findings(stdout: str) -> list[tuple[str, str, int]]:
    return sorted((f["code"], f["object"]["name"], f["line"])
                  for f in json.loads(stdout)["findings"] if "/" in f["code"]
                  or f["code"].startswith("ACME"))


def test_every_example_test_passes() -> None:
    proc = kp("test", str(EXAMPLES), "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads(proc.stdout)["summary"]
    assert summary == {"tests": 3, "results": 14, "passed": 14, "failed": 0, "errors": 0}


def test_scan_with_the_vap_example() -> None:
    proc = kp("scan", str(EXAMPLES / "vap-replica-limit"), "--no-config", "-f", "json",
              "--fail-on", "none")
    assert proc.returncode == 0, proc.stderr
    assert _policy_findings(proc.stdout) == [("vap/replica-limit", "batch", 38)]


def test_scan_with_the_kyverno_example_follows_autogen() -> None:
    proc = kp("scan", str(EXAMPLES / "kyverno-require-team-label"), "--no-config", "-f",
              "json", "--fail-on", "none")
    assert proc.returncode == 0, proc.stderr
    # the Pod without the label, and the CronJob's pod template (autogen) at its labels
    assert _policy_findings(proc.stdout) == [("vpol/require-team-label", "nightly-report", 50),
                                             ("vpol/require-team-label", "orphan", 15)]


def test_scan_with_the_custom_rules_example() -> None:
    folder = EXAMPLES / "custom-rules"
    proc = kp("scan", str(folder / "deployment.yaml"), "--config",
              str(folder / ".kubeproof.yaml"), "-f", "json", "--fail-on", "none")
    assert proc.returncode == 0, proc.stderr
    assert _policy_findings(proc.stdout) == [("ACME001", "landing-page", 7)]


def test_the_shop_examples_are_not_judged_by_the_policy_examples() -> None:
    proc = kp("scan", str(ROOT / "examples"), "--no-config", "-f", "json", "--fail-on", "none")
    files = {f["file"] for f in json.loads(proc.stdout)["findings"]}
    assert files and not any("policies" in f for f in files)


def test_policy_test_files_are_not_scanned_as_manifests() -> None:
    folder = EXAMPLES / "vap-replica-limit"
    proc = kp("scan", str(folder / "kyverno-test.yaml"), str(folder / "values.yaml"),
              str(EXAMPLES / "custom-rules" / "kubeproof-test.yaml"), "--no-config", "-f",
              "json", "--fail-on", "none")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["findings"] == []
