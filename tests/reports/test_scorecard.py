from pathlib import Path

import pytest

from kubeproof.model import Rule
from kubeproof.reports import render
from kubeproof.reports.scorecard import grade, scorecard
from tests.reports.helpers import (
    fixture_scan,
    make_finding,
    make_objects,
    make_result,
    make_rule,
)


@pytest.mark.parametrize(("score", "expected"), [
    (100, "A"), (90, "A"), (89, "B"), (80, "B"), (79, "C"), (70, "C"), (69, "D"), (60, "D"),
    (59, "F"), (0, "F"), (None, "n/a"),
])
def test_grade_thresholds(score: int | None, expected: str) -> None:
    assert grade(score) == expected


def test_fixture_scan_scores_namespaces_from_checked_objects() -> None:
    card = scorecard(fixture_scan())
    ns = card["practices"]["4"]
    # 4 namespaced objects checked (the Namespace is not); penalties: two high (5 + 5)
    # and one low (1) on three objects -> 11 / 40 -> 72.5 -> 72
    assert ns == {"name": "Namespaces", "score": 72, "grade": "C", "findings": 3,
                  "accepted": 0, "rules": 2, "objects": 4}
    assert card["score"] == 72
    assert card["grade"] == "C"
    assert set(card["practices"]) == {str(p) for p in range(17)}


def test_practices_without_rules_are_not_applicable() -> None:
    card = scorecard(fixture_scan())
    cicd = card["practices"]["12"]
    assert cicd["score"] is None
    assert cicd["grade"] == "n/a"
    assert "served by the tool" in cicd["note"]
    assert card["practices"]["8"]["grade"] == "n/a"


def test_formula_counts_checked_objects_and_caps_each_object() -> None:
    pss = make_rule("KP0803", "pss-privileged", 8, "high", "pod_security", pods=True)
    ns = make_rule("KP0401", "default-namespace", 4, "high", "namespaces",
                   kinds={"ConfigMap", "Deployment"})
    labels = make_rule("KP0501", "labels-missing", 5, "info", "labels")
    objects = (make_objects("Deployment", ["a", "b", "c", "d"], [pss, ns, labels])
               + make_objects("ConfigMap", 6, [ns, labels]))
    findings = [
        # one Deployment: critical + high + high = 20, capped at 10
        make_finding(pss, severity="critical", name="a"),
        make_finding(pss, name="a"),
        make_finding(pss, name="a"),
        make_finding(pss, severity="low", name="b"),  # 1
        make_finding(labels, kind="ConfigMap", name="configmap-0"),  # info weighs 0
    ]
    card = scorecard(make_result([pss, ns, labels], findings, objects))
    p = card["practices"]
    assert (p["8"]["objects"], p["8"]["score"], p["8"]["grade"]) == (4, 72, "C")  # 11/40
    assert (p["4"]["objects"], p["4"]["score"], p["4"]["findings"]) == (10, 100, 0)
    assert (p["5"]["objects"], p["5"]["score"], p["5"]["findings"]) == (10, 100, 1)
    # mean of 72.5, 100, 100 = 90.83 -> 90
    assert (card["score"], card["grade"]) == (90, "A")


def test_findings_on_more_objects_than_checked_still_count() -> None:
    deprecated = make_rule("KP0001", "deprecated-api", 0, "high", "api_hygiene")
    unparseable = make_rule("KP0003", "unparseable-input", 0, "high", "api_hygiene", kinds=set())
    # documents that do not parse are no checked object: N = 1, but two have findings
    findings = [make_finding(unparseable, file="bad.yaml", line=n, kind="", namespace=None,
                             name="") for n in (3, 9)]
    objects = make_objects("ConfigMap", ["clean"], [deprecated])
    card = scorecard(make_result([deprecated, unparseable], findings, objects))
    assert card["practices"]["0"]["objects"] == 2
    assert card["practices"]["0"]["score"] == 50  # 1 - (5 + 5) / 20


def test_rules_that_apply_to_nothing_scanned_are_not_applicable() -> None:
    rule = make_rule("KP1601", "webhook-covers-system", 16, "high", "admission",
                     kinds={"ValidatingWebhookConfiguration"})
    # the webhook rule did not run on the ConfigMaps
    card = scorecard(make_result([rule], [], make_objects("ConfigMap", 3, [])))
    assert card["practices"]["16"]["objects"] == 0
    assert card["practices"]["16"]["score"] is None
    assert card["practices"]["16"]["note"] == "no object it applies to"
    assert (card["score"], card["grade"]) == (None, "n/a")
    webhook = make_objects("ValidatingWebhookConfiguration", ["hook"], [rule], namespace=None)
    card = scorecard(make_result([rule], [], make_objects("ConfigMap", 3, []) + webhook))
    assert (card["practices"]["16"]["objects"], card["practices"]["16"]["score"]) == (1, 100)


def test_empty_scan_has_no_score() -> None:
    card = scorecard(make_result([], []))
    assert card["score"] is None
    assert card["grade"] == "n/a"
    assert all(entry["score"] is None for entry in card["practices"].values())


def test_scorecard_format_renders_a_plain_table() -> None:
    out = render("scorecard", fixture_scan(), tool_version="9.9.9")
    assert "\x1b" not in out
    assert "Scorecard" in out
    line = next(ln for ln in out.splitlines() if "Namespaces" in ln)
    assert line.split()[-3:] == ["72", "C", "3"]
    assert "overall" in out


def test_cluster_scope_rules_count_only_the_objects_they_flag() -> None:
    plugins = make_rule("KP1605", "apiserver-admission-plugins", 16, "high", "control_plane",
                        pods=True, scope="cluster")
    webhooks = make_rule("KP1601", "webhook-covers-system", 16, "high", "admission",
                         kinds={"ValidatingWebhookConfiguration"})
    pods = make_objects("Pod", ["kube-apiserver", *(f"p{i}" for i in range(9))], [plugins],
                        namespace="kube-system")
    hook = make_objects("ValidatingWebhookConfiguration", ["hook"], [webhooks], namespace=None)
    finding = make_finding(plugins, kind="Pod", namespace="kube-system", name="kube-apiserver")
    card = scorecard(make_result([plugins, webhooks], [finding], pods + hook))
    # the webhook (N = 1) plus the flagged apiserver pod, not the 10 pods: 1 - 5 / 20
    assert (card["practices"]["16"]["objects"], card["practices"]["16"]["score"]) == (2, 75)
    clean = scorecard(make_result([plugins], [], pods))
    assert clean["practices"]["16"]["objects"] == 0
    assert clean["practices"]["16"]["score"] is None


def _netpol_rules() -> list[Rule]:
    return [make_rule("KP0903", "workload-not-isolated", 9, "medium", "network",
                      kinds={"Deployment", "NetworkPolicy"}, scope="set")]


def test_workloads_without_any_network_policy_score_zero() -> None:
    rules = _netpol_rules()
    deployments = make_objects("Deployment", 3, rules)
    card = scorecard(make_result(rules, [], deployments))
    p9 = card["practices"]["9"]
    assert (p9["score"], p9["grade"]) == (0, "F")
    assert "no NetworkPolicy" in p9["note"]
    assert card["score"] == 0  # the only scored practice
    text = render("text", make_result(rules, [], deployments), tool_version="1")
    assert "9: workloads but no NetworkPolicy" in text
    # one NetworkPolicy anywhere: the usual formula again
    policy = make_objects("NetworkPolicy", ["deny"], rules)
    assert scorecard(make_result(rules, [], deployments + policy))["practices"]["9"]["score"] \
        == 100
    # no workload: nothing to isolate, not a zero
    assert scorecard(make_result(rules, [], policy))["practices"]["9"]["score"] == 100
    # the practice's rules did not run (--select): n/a, not zero
    other = [make_rule("KP0401", "default-namespace", 4, "high", "namespaces")]
    card = scorecard(make_result(other, [], make_objects("Deployment", 3, other)))
    assert card["practices"]["9"]["score"] is None


def test_baseline_findings_are_accepted_risks_not_a_clean_score() -> None:
    rule = make_rule("KP0803", "pss-privileged", 8, "high", "pod_security", pods=True)
    objects = make_objects("Deployment", ["a", "b"], [rule])
    accepted = [make_finding(rule, name="a")]
    result = make_result([rule], [], objects)
    result.accepted = accepted
    result.baselined = 1
    card = scorecard(result)
    p8 = card["practices"]["8"]
    assert (p8["findings"], p8["accepted"], p8["score"], p8["grade"]) == (0, 1, 75, "C")
    assert card["accepted"] == 1
    text = render("text", result, tool_version="1")
    row = next(ln for ln in text.splitlines() if "Pod security" in ln)
    assert row.split()[-4:] == ["75", "C", "0", "1"]
    assert "accepted: in the baseline, not reported, still counted in the score" in text
    assert "1 accepted in the baseline" in text
    # without a baseline the table has no accepted column
    clean = render("text", make_result([rule], [], objects), tool_version="1")
    assert "accepted" not in clean


def test_baseline_round_trip_through_the_cli_and_the_json_report(tmp_path: Path) -> None:
    from kubeproof.api import scan
    from kubeproof.core.filters import write_baseline
    from kubeproof.reports.from_json import load_reports

    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                                      "  name: cm\n  namespace: default\n")
    first = scan([str(tmp_path / "cm.yaml")], select=["KP0401"])
    write_baseline(str(tmp_path / "b.json"), first.findings)
    from kubeproof.core.filters import read_baseline

    again = scan([str(tmp_path / "cm.yaml")], select=["KP0401"],
                 baseline=read_baseline(str(tmp_path / "b.json")))
    assert (again.findings, [f.rule.code for f in again.accepted]) == ([], ["KP0401"])
    card = scorecard(again)
    assert (card["practices"]["4"]["accepted"], card["practices"]["4"]["score"]) == (1, 50)
    (tmp_path / "r.json").write_text(render("json", again))
    loaded = load_reports([str(tmp_path / "r.json")])
    assert scorecard(loaded) == card
    assert render("text", loaded, tool_version="1") == render("text", again, tool_version="1")


_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: c, image: "nginx:1.27"}]}
"""
_MESHED_NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio-injection: enabled}}
"""


def test_service_mesh_is_not_applicable_without_a_mesh_and_scored_with_one(
        tmp_path: Path) -> None:
    """Nothing to check is n/a, not 100 (issue #10): without a mesh in the set the
    mesh rules judge nothing; a namespace enrolled in Istio makes them judge it.
    A saved JSON report keeps the answer, so `kubeproof report` says the same."""
    from kubeproof.api import scan
    from kubeproof.reports.from_json import load_reports

    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "deploy.yaml").write_text(_DEPLOYMENT)
    alone = scan([str(tmp_path / "app")], select=["KP15"])
    mesh = scorecard(alone)["practices"]["15"]
    assert (mesh["score"], mesh["grade"]) == (None, "n/a")
    assert mesh["note"] == "no service mesh in the set (and mesh.required is off)"
    (tmp_path / "r.json").write_text(render("json", alone))
    assert scorecard(load_reports([str(tmp_path / "r.json")]))["practices"]["15"] == mesh
    (tmp_path / "app" / "namespace.yaml").write_text(_MESHED_NAMESPACE)
    meshed = scorecard(scan([str(tmp_path / "app")], select=["KP15"]))["practices"]["15"]
    assert (meshed["score"], meshed["grade"]) == (100, "A")


def test_a_report_naming_no_practice_as_not_applicable_is_one_input_error(
        tmp_path: Path) -> None:
    import json

    from kubeproof.reports.from_json import load_reports

    doc = {"tool": {"name": "kubeproof", "version": "1"}, "findings": [], "errors": [],
           "warnings": [], "summary": {}, "run": {"rules": [], "checked": [],
                                                  "notApplicable": [15, "x"]}}
    (tmp_path / "r.json").write_text(json.dumps(doc))
    loaded = load_reports([str(tmp_path / "r.json")])
    assert [e.message for e in loaded.errors] == [
        "run.notApplicable[1]: expected a practice number, got a string"]
