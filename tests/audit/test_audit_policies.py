"""``audit`` judges the objects already running against the cluster's own
admission policies (ValidatingAdmissionPolicy + binding + params, Kyverno
ValidatingPolicy), read from the (fake) API server: what the API server never
reports, since it judges objects only as they are admitted."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.support.audit import Api
from tests.support.paths import ROOT

VAP_EXAMPLE = ROOT / "examples" / "policies" / "vap-replica-limit"
VPOL_EXAMPLE = ROOT / "examples" / "policies" / "kyverno-require-team-label"


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def _policy_findings(proc_stdout: str) -> list[tuple[str, str, str]]:
    report = json.loads(proc_stdout)
    return sorted((f["code"], f["object"]["kind"], f["object"]["name"]) for f in report["findings"]
                  if "/" in f["code"])


def test_cluster_vap_with_binding_and_params_judges_running_objects(api: Api) -> None:
    for name in ("policy.yaml", "params.yaml", "resources.yaml"):
        api.cluster.add_all(_docs(VAP_EXAMPLE / name))
    proc = api.cli("-f", "json", "--fail-on", "none")
    assert proc.returncode == 0, proc.stderr
    # batch (12 replicas in a production namespace) breaks the limit of 5; web (3)
    # does not; load-test (40) runs where the binding's namespaceSelector does not reach
    assert _policy_findings(proc.stdout) == [("vap/replica-limit", "Deployment", "batch")]
    finding = next(f for f in json.loads(proc.stdout)["findings"]
                   if f["code"] == "vap/replica-limit")
    assert finding["severity"] == "high"  # kubeproof.dev/severity on the policy
    assert finding["path"] == "spec.replicas"
    assert "replica-limit-production" in finding["message"]  # the binding
    assert "over the limit of 5" in finding["message"]  # its messageExpression


def test_missing_param_under_deny_is_a_finding(api: Api) -> None:
    for name in ("policy.yaml", "resources.yaml"):  # no ConfigMap: the param is missing
        api.cluster.add_all(_docs(VAP_EXAMPLE / name))
    proc = api.cli("-f", "json", "--fail-on", "none")
    found = _policy_findings(proc.stdout)
    # parameterNotFoundAction: Deny rejects every object the binding selects
    assert ("vap/replica-limit", "Deployment", "web") in found
    assert ("vap/replica-limit", "Deployment", "load-test") not in found


def test_kyverno_validating_policy_with_autogen(api: Api) -> None:
    for name in ("policy.yaml", "resources.yaml"):
        api.cluster.add_all(_docs(VPOL_EXAMPLE / name))
    proc = api.cli("-f", "json", "--fail-on", "none", "--select", "vpol")
    assert proc.returncode == 0, proc.stderr
    example = {"owned", "orphan", "checkout", "nightly-report"}  # the fixture's others fail too
    assert [f for f in _policy_findings(proc.stdout) if f[2] in example] == [
        ("vpol/require-team-label", "CronJob", "nightly-report"),
        ("vpol/require-team-label", "Pod", "orphan"),
    ]


def test_no_policy_kinds_served_is_no_error(api: Api) -> None:
    api.cluster.missing |= {"validatingadmissionpolicies.admissionregistration.k8s.io",
                            "validatingadmissionpolicybindings.admissionregistration.k8s.io",
                            "validatingpolicies.policies.kyverno.io",
                            "clusterpolicies.kyverno.io", "policies.kyverno.io"}
    proc = api.cli("-f", "json", "--fail-on", "none")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["errors"] == []


def test_a_policy_that_does_not_compile_is_one_error_and_the_audit_goes_on(api: Api) -> None:
    docs = _docs(VAP_EXAMPLE / "policy.yaml")
    docs[0]["spec"]["validations"][0]["expression"] = "object.spec.replicas <="
    for doc in docs:
        api.cluster.add(doc)
    api.cluster.add_all(_docs(VAP_EXAMPLE / "params.yaml") + _docs(VAP_EXAMPLE / "resources.yaml"))
    proc = api.cli("-f", "json", "--fail-on", "none")
    assert proc.returncode == 2
    errors = json.loads(proc.stdout)["errors"]
    assert len(errors) == 1 and "expression" in errors[0]["message"]
    assert json.loads(proc.stdout)["findings"]  # the built-in rules still ran


def test_select_a_cluster_policy_by_code(api: Api) -> None:
    for name in ("policy.yaml", "params.yaml", "resources.yaml"):
        api.cluster.add_all(_docs(VAP_EXAMPLE / name))
    proc = api.cli("-f", "json", "--fail-on", "none", "--select", "vap/replica-limit")
    assert proc.returncode == 0, proc.stderr
    codes = {f["code"] for f in json.loads(proc.stdout)["findings"]}
    assert codes == {"vap/replica-limit"}
