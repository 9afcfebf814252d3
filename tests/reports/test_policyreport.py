"""PolicyReports: one per namespace plus the cluster's, the fields of the
``wgpolicyk8s.io/v1alpha2`` CRD and nothing else, names the API accepts, the
same findings as the JSON report, sorted, escaped, bounded, no secret value.

The schema below is written by hand from the ``v1alpha2`` API types as Kyverno
ships them (``kyverno/kyverno`` ``api/policyreport/v1alpha2``: ``common.go``,
``policyreport_types.go``) and the CRD of ``kubernetes-sigs/wg-policy-prototypes``
(``policy-report/crd/v1alpha2``): field names, types, enums and the required
``policy``. Upstream's CRD YAML is not vendored. Unlike the CRD it refuses
unknown fields (``additionalProperties: false``): the API server would prune
them silently, so a misspelt field would vanish instead of failing.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from kubeproof.model import InputError
from kubeproof.reports import render
from kubeproof.reports.policyreport import MAX_RESULTS, MAX_TEXT, reports
from tests.reports.helpers import make_finding, make_result, make_rule
from tests.support.cli import kp
from tests.support.paths import EXAMPLES

_STRING = {"type": "string"}
_STRINGS = {"type": "object", "additionalProperties": _STRING}
_REF = {"type": "object", "additionalProperties": False,
        "properties": {k: _STRING for k in ("apiVersion", "kind", "namespace", "name", "uid",
                                           "resourceVersion", "fieldPath")}}
_COUNT = {"type": "integer", "minimum": 0}
RESULT_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["policy"],
    "properties": {
        "source": _STRING, "policy": _STRING, "rule": _STRING, "category": _STRING,
        "message": _STRING, "scored": {"type": "boolean"}, "properties": _STRINGS,
        "result": {"enum": ["pass", "fail", "warn", "error", "skip"]},
        "severity": {"enum": ["critical", "high", "low", "medium", "info"]},
        "resources": {"type": "array", "items": _REF},
        "timestamp": {"type": "object", "additionalProperties": False,
                      "required": ["seconds", "nanos"],
                      "properties": {"seconds": {"type": "integer"},
                                     "nanos": {"type": "integer", "minimum": 0,
                                               "maximum": 999_999_999}}},
    },
}
REPORT_SCHEMA = {
    "type": "object", "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata"],
    "properties": {
        "apiVersion": {"const": "wgpolicyk8s.io/v1alpha2"},
        "kind": {"enum": ["PolicyReport", "ClusterPolicyReport"]},
        "metadata": {"type": "object", "required": ["name"],
                     "properties": {"name": _STRING, "namespace": _STRING,
                                    "labels": _STRINGS}},
        "scope": _REF,
        "summary": {"type": "object", "additionalProperties": False,
                    "properties": {k: _COUNT for k in ("pass", "fail", "warn", "error",
                                                        "skip")}},
        "results": {"type": "array", "items": RESULT_SCHEMA},
    },
}
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
BAD = str(EXAMPLES / "bad")


def check_report(obj: dict[str, Any]) -> None:
    """Fail unless ``obj`` is a report the CRD accepts, named as the API requires."""
    errors = [f"{list(e.path)}: {e.message}"
              for e in jsonschema.Draft7Validator(REPORT_SCHEMA).iter_errors(obj)]
    assert errors == []
    meta = obj["metadata"]
    assert len(meta["name"]) <= 253 and DNS_SUBDOMAIN.match(meta["name"]), meta["name"]
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "kubeproof"
    if obj["kind"] == "PolicyReport":
        assert len(meta["namespace"]) <= 63 and DNS_LABEL.match(meta["namespace"])
    else:
        assert "namespace" not in meta
    counts = Counter(r["result"] for r in obj["results"])
    assert obj["summary"] == {k: counts[k] for k in ("pass", "fail", "warn", "error", "skip")}


def scan_bad(fmt: str) -> str:
    return kp("scan", BAD, "--no-config", "-f", fmt, "--fail-on", "none", expect=0).stdout


def test_policyreports_of_examples_bad_match_the_json_report() -> None:
    docs = list(yaml.safe_load_all(scan_bad("policyreport")))
    findings = json.loads(scan_bad("json"))["findings"]
    for doc in docs:
        check_report(doc)
    assert [d["kind"] for d in docs][-1] == "ClusterPolicyReport"
    assert sum(d["kind"] == "ClusterPolicyReport" for d in docs) == 1
    got = Counter((d["metadata"].get("namespace"), r["rule"]) for d in docs for r in d["results"])
    want = Counter((f["object"]["namespace"], f["code"]) for f in findings)
    assert got == want and sum(want.values()) > 10
    names = [d["metadata"].get("namespace") for d in docs if d["kind"] == "PolicyReport"]
    assert names == sorted(names) and len(names) == len(set(names)) >= 1
    for doc in docs:
        if doc["kind"] == "PolicyReport":
            assert doc["metadata"]["name"] == "kubeproof-" + doc["metadata"]["namespace"]
        for r in doc["results"]:
            assert (r["source"], r["result"]) == ("kubeproof", "fail")
            assert r["policy"] and r["rule"].startswith("KP") and r["category"]
            props = r["properties"]
            assert set(props) >= {"file", "line", "column", "path", "fingerprint"}
            assert props["file"].endswith("app.yaml") and int(props["line"]) >= 1
    # one finding as the JSON report has it
    f = findings[0]
    (r,) = [r for d in docs for r in d["results"]
            if r["properties"]["fingerprint"] == f["fingerprint"]
            and r["properties"]["line"] == str(f["line"])]
    assert (r["policy"], r["rule"], r["severity"], r["message"]) == (
        f["name"], f["code"], f["severity"], f["message"])
    assert r["resources"] == [{k: v for k, v in f["object"].items() if v is not None}]


def test_kubectl_reads_every_report_as_an_object() -> None:
    text = scan_bad("policyreport")
    proc = subprocess.run(["kubectl", "label", "--local", "-f", "-", "check=1", "-o", "name"],
                          input=text, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    docs = list(yaml.safe_load_all(text))
    assert proc.stdout.split() == [
        f"{d['kind'].lower()}.wgpolicyk8s.io/{d['metadata']['name']}" for d in docs]


def test_sorted_and_reproducible_with_the_run_time_injected(
        monkeypatch: pytest.MonkeyPatch) -> None:
    rule_a = make_rule("KP0401", "default-namespace", 4)
    rule_b = make_rule("KP0802", "pss-privileged", 8, severity="critical")
    findings = [make_finding(rule, namespace=ns, name=name, line=line)
                for rule in (rule_a, rule_b) for ns in ("shop", "pay", None)
                for line, name in ((3, "web"), (9, "api"))]
    one = render("policyreport", make_result([rule_a, rule_b], findings), tool_version="1",
                 timestamp=1_700_000_000.5)
    random.Random(7).shuffle(findings)
    two = render("policyreport", make_result([rule_a, rule_b], findings), tool_version="1",
                 timestamp=1_700_000_000.5)
    assert one == two
    docs = list(yaml.safe_load_all(one))
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("PolicyReport", "kubeproof-pay"), ("PolicyReport", "kubeproof-shop"),
        ("ClusterPolicyReport", "kubeproof-cluster")]
    assert {json.dumps(r["timestamp"]) for d in docs for r in d["results"]} == {
        '{"seconds": 1700000000, "nanos": 500000000}'}
    assert [(r["policy"], r["resources"][0]["name"]) for r in docs[0]["results"]] == [
        ("default-namespace", "api"), ("default-namespace", "web"),
        ("pss-privileged", "api"), ("pss-privileged", "web")]
    assert docs[1]["results"][2]["severity"] == "critical"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1234")
    (cluster,) = reports(make_result([rule_a], [make_finding(rule_a, namespace=None)]))
    assert cluster["results"][0]["timestamp"] == {"seconds": 1234, "nanos": 0}


def test_cluster_report_takes_namespaceless_cluster_scoped_bad_namespaces_and_errors() -> None:
    rule = make_rule("KP0701", "cluster-admin-binding", 7)
    findings = [make_finding(rule, kind="ClusterRoleBinding", namespace=None, name="crb"),
                make_finding(rule, namespace="{{ .Release.Namespace }}", name="tpl"),
                make_finding(rule, namespace="x" * 64, name="long"),
                make_finding(rule, kind="", name="", namespace=None, line=7)]
    errors = [InputError("broken.yaml", 6, "mapping values are not allowed here")]
    objs = reports(make_result([rule], findings, errors=errors), timestamp=0)
    (cluster,) = objs
    check_report(cluster)
    assert cluster["summary"]["fail"] == 4 and cluster["summary"]["error"] == 1
    error = cluster["results"][-1]
    assert (error["policy"], error["result"], error["properties"]) == (
        "input-error", "error", {"file": "broken.yaml", "line": "6"})
    assert {r["resources"][0]["namespace"] for r in cluster["results"]
            if r.get("resources") and "namespace" in r["resources"][0]} == {
        "{{ .Release.Namespace }}", "x" * 64}
    assert "resources" not in cluster["results"][0]  # a document that is no object
    # nothing at all: the cluster report alone, empty, so applying it clears the last run's
    (empty,) = reports(make_result([], []), timestamp=0)
    check_report(empty)
    assert empty["results"] == [] and empty["summary"]["fail"] == 0


def test_hostile_messages_and_names_are_escaped_and_bounded() -> None:
    rule = make_rule("KP0401", "default-namespace", 4)
    nasty = "a\x1b]8;;http://x\x07b\nline\u202eevil\x00"
    findings = [make_finding(rule, message=nasty * 10, name=nasty, file=nasty + ".yaml",
                             container=nasty),
                make_finding(rule, message="m" * 1_000_000, line=2)]
    text = render("policyreport", make_result([rule], findings), tool_version="1", timestamp=0)
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202e]", text)
    assert len(text) < 20_000
    (doc,) = [d for d in yaml.safe_load_all(text) if d["kind"] == "PolicyReport"]
    check_report(doc)
    first, second = doc["results"]
    assert first["message"].startswith("a\\x1b]8;;http://x\\x07b\\x0aline\\u202eevil\\x00")
    assert first["resources"][0]["name"] == "a\\x1b]8;;http://x\\x07b\\x0aline\\u202eevil\\x00"
    assert first["properties"]["container"].startswith("a\\x1b")
    assert len(second["message"]) == MAX_TEXT and second["message"].endswith("…")


def test_many_findings_continue_in_numbered_reports() -> None:
    rule = make_rule("KP0401", "default-namespace", 4)
    findings = [make_finding(rule, name=f"w{i:05d}", line=i + 1)
                for i in range(2 * MAX_RESULTS + 5)]
    objs = reports(make_result([rule], findings), timestamp=0)
    assert [(o["metadata"]["name"], len(o["results"])) for o in objs] == [
        ("kubeproof-shop", MAX_RESULTS), ("kubeproof-shop-2", MAX_RESULTS),
        ("kubeproof-shop-3", 5), ("kubeproof-cluster", 0)]
    for o in objs:
        check_report(o)


def test_no_secret_value_in_policyreports() -> None:
    from tests.test_no_secret_leaks import SECRETS, VALUES

    text = kp("scan", *map(str, SECRETS), BAD, "--no-config", "-f", "policyreport",
              "--fail-on", "none", expect=0).stdout
    docs = list(yaml.safe_load_all(text))
    for doc in docs:
        check_report(doc)
    assert {r["rule"] for d in docs for r in d["results"]} >= {"KP1003", "KP1004"}
    assert [v for v in VALUES if v in text] == []


def test_report_of_a_saved_json_report_gives_the_same_policyreports(tmp_path: Path) -> None:
    saved = tmp_path / "run.json"
    saved.write_text(scan_bad("json"))
    env = {"SOURCE_DATE_EPOCH": "5"}
    again = kp("report", str(saved), "-f", "policyreport", "--fail-on", "none",
               env=env, expect=0).stdout
    direct = kp("scan", BAD, "--no-config", "-f", "policyreport", "--fail-on", "none",
                env=env, expect=0).stdout
    assert again == direct and "seconds: 5\n" in direct
