import json

from kubeproof.api import scan
from kubeproof.reports import render
from kubeproof.reports.json_report import report
from tests.reports.helpers import (
    BAD,
    FIXTURES,
    SELECT,
    TRICKY_NAME,
    WEB,
    fixture_scan,
    make_finding,
    make_objects,
    make_result,
    make_rule,
)


def test_json_contract() -> None:
    result = fixture_scan()
    doc = json.loads(render("json", result, tool_version="1.2.3"))
    assert list(doc) == ["tool", "findings", "errors", "warnings", "summary", "run"]
    assert doc["tool"] == {"name": "kubeproof", "version": "1.2.3"}
    assert doc["findings"] == [f.to_dict() for f in result.findings]
    assert [(f["code"], f["file"], f["line"], f["column"]) for f in doc["findings"]][1:] == [
        ("KP0401", WEB, 5, 3), ("KP0402", WEB, 11, 1)]
    assert doc["errors"] == [{"file": BAD, "line": 6, "message": result.errors[0].message}]
    assert doc["warnings"] == []
    s = doc["summary"]
    for key in ("objects", "files", "skippedDocuments", "findings", "bySeverity", "byRule",
                "suppressed", "baselined", "score", "grade", "practices"):
        assert key in s
    assert (s["objects"], s["files"], s["skippedDocuments"], s["findings"]) == (5, 3, 0, 3)
    assert s["bySeverity"] == {"critical": 0, "high": 2, "medium": 0, "low": 1, "info": 0}
    assert s["byRule"] == {"KP0401": 2, "KP0402": 1}
    assert s["suppressed"] == {"annotation": 0, "comment": 0, "exemption": 0}
    assert s["baselined"] == 0
    assert (s["score"], s["grade"]) == (72, "C")
    assert s["practices"]["4"]["name"] == "Namespaces"
    assert (s["practices"]["4"]["score"], s["practices"]["4"]["grade"]) == (72, "C")
    assert s["practices"]["4"]["findings"] == 3
    assert s["practices"]["12"]["score"] is None
    assert s["practices"]["12"]["grade"] == "n/a"


def test_json_is_indented_and_keeps_unicode() -> None:
    result = fixture_scan()
    out = render("json", result, tool_version="1.2.3")
    assert json.loads(out) == report(result, tool_version="1.2.3")
    assert out.endswith("}\n")
    assert TRICKY_NAME.replace('"', '\\"') in out
    assert '\n  "findings": [\n    {\n      "code": "KP0401",' in out


def test_json_counts_suppressed_and_baselined_findings() -> None:
    path = str(FIXTURES / "suppressed")
    first = scan([path], select=SELECT)
    assert [f.name for f in first.findings] == ["current"]
    baseline = {first.findings[0].fingerprint()}
    doc = json.loads(render("json", scan([path], select=SELECT, baseline=baseline),
                            tool_version="1"))
    assert doc["findings"] == []
    assert doc["summary"]["suppressed"]["comment"] == 1
    assert doc["summary"]["baselined"] == 1
    assert doc["summary"]["findings"] == 0
    assert doc["summary"]["bySeverity"]["high"] == 0


def test_json_handles_severity_overrides_and_no_findings() -> None:
    rule = make_rule("KP0001", "deprecated-api", 0, "high", "api_hygiene")
    result = make_result([rule], [make_finding(rule, severity="medium")],
                         make_objects("Deployment", ["web"], [rule]))
    doc = json.loads(render("json", result, tool_version="1"))
    assert doc["findings"][0]["severity"] == "medium"
    assert doc["summary"]["bySeverity"]["medium"] == 1
    empty = json.loads(render("json", make_result([rule], []), tool_version="1"))
    assert empty["findings"] == []
    assert empty["summary"]["score"] is None


def test_json_streams_many_findings_in_chunks_as_one_valid_document() -> None:
    from kubeproof.reports import json_report

    result = fixture_scan()
    one = result.findings[0]
    result.findings = [one] * (json_report._CHUNK * 2 + 3)
    out = render("json", result, tool_version="1")
    doc = json.loads(out)
    assert len(doc["findings"]) == json_report._CHUNK * 2 + 3
    assert doc["findings"][-1] == one.to_dict()
    assert '\n  ],\n  "errors": [' in out and '\n    {\n      "code": ' in out
