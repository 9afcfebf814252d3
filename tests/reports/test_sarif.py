import json
from pathlib import Path
from typing import Any

import pytest

from kubeproof.model import InputError
from kubeproof.reports import render
from kubeproof.reports.sarif import pascal_case
from tests.reports.helpers import (
    FIXTURES,
    SARIF_SCHEMA,
    TRICKY_NAME,
    fixture_scan,
    make_finding,
    make_objects,
    make_result,
    make_rule,
    sarif_schema_errors,
)

SCHEMA_PATH = SARIF_SCHEMA


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    assert SCHEMA_PATH.is_file(), SCHEMA_PATH
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _validate(doc: dict[str, Any], schema: dict[str, Any]) -> None:
    errors = sarif_schema_errors(doc, schema)
    assert not errors, errors


def test_sarif_is_valid_and_complete(schema: dict[str, Any]) -> None:
    result = fixture_scan()
    doc = json.loads(render("sarif", result, tool_version="1.2.3", root=str(FIXTURES)))
    _validate(doc, schema)
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("kubeproof", "1.2.3")
    assert driver["informationUri"].startswith("https://")
    rules = driver["rules"]
    assert [r["id"] for r in rules] == ["KP0401", "KP0402"]
    r0 = rules[0]
    assert r0["name"] == "DefaultNamespace"
    assert r0["shortDescription"]["text"] == result.rules[0].summary
    assert r0["fullDescription"]["text"] == result.rules[0].what
    assert r0["defaultConfiguration"]["level"] == "error"
    assert rules[1]["defaultConfiguration"]["level"] == "note"
    assert r0["properties"]["practice"] == 4
    assert r0["properties"]["security-severity"] == "8.0"
    assert rules[1]["properties"]["security-severity"] == "3.0"
    assert "security" in r0["properties"]["tags"]
    assert "```yaml" in r0["help"]["markdown"]
    assert "Why:" in r0["help"]["text"]
    assert "```" not in r0["help"]["text"]
    assert r0["helpUri"].startswith("https://")

    results = run["results"]
    assert [(r["ruleId"], r["ruleIndex"], r["level"]) for r in results] == [
        ("KP0401", 0, "error"), ("KP0401", 0, "error"), ("KP0402", 1, "note")]
    web = results[1]
    loc = web["locations"][0]
    assert loc["physicalLocation"]["artifactLocation"] == {"uri": "app/web.yaml",
                                                           "uriBaseId": "%SRCROOT%"}
    assert loc["physicalLocation"]["region"] == {"startLine": 5, "startColumn": 3}
    assert loc["logicalLocations"][0]["fullyQualifiedName"] == "ConfigMap/default/settings"
    assert results[2]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == \
        "Service/web"
    assert results[0]["message"]["text"] == f'Secret "{TRICKY_NAME}" is in the "default" namespace'
    assert web["partialFingerprints"] == {"kubeproof/v1": result.findings[1].fingerprint()}
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].startswith("file:///")

    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "error"
    assert note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "broken/bad.yaml"
    assert note["locations"][0]["physicalLocation"]["region"]["startLine"] == 6


def test_sarif_levels_lines_and_paths(schema: dict[str, Any], tmp_path: Path) -> None:
    rule = make_rule("KP0803", "pss-privileged", 8, "high", "pod_security", pods=True)
    outside = str(tmp_path / "elsewhere" / "deploy me.yaml")
    findings = [make_finding(rule, severity=sev, line=0, column=0, file=f"./dir\\x/{sev}.yaml"
                             if sev == "info" else "dir/a.yaml", container="app")
                for sev in ("critical", "high", "medium", "low", "info")]
    findings.append(make_finding(rule, file=outside, kind="Pod", namespace=None, name="p"))
    findings.append(make_finding(rule, file="<stdin>", kind="", namespace=None, name=""))
    result = make_result([rule], findings, make_objects("Deployment", ["web"], [rule],
                                                          file="dir/a.yaml"),
                         errors=[InputError("x.yaml", None, "unreadable")])
    doc = json.loads(render("sarif", result, tool_version="0", root=str(FIXTURES)))
    _validate(doc, schema)
    results = doc["runs"][0]["results"]
    assert [r["level"] for r in results[:5]] == ["error", "error", "warning", "note", "note"]
    assert [r["properties"]["severity"] for r in results[:5]] == [
        "critical", "high", "medium", "low", "info"]
    region = results[0]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 1, "startColumn": 1}
    assert results[0]["properties"]["container"] == "app"
    art = results[5]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert art == {"uri": Path(outside).as_uri()}
    assert "%20" in art["uri"]
    assert "logicalLocations" not in results[6]["locations"][0]
    assert results[6]["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": "stdin"}
    assert results[5]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "Pod/p"
    note = doc["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]
    assert note["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}


def test_sarif_clean_run_is_successful(schema: dict[str, Any]) -> None:
    rule = make_rule("KP0401", "default-namespace", 4)
    doc = json.loads(render("sarif", make_result([rule], []), tool_version="0"))
    _validate(doc, schema)
    run = doc["runs"][0]
    assert run["results"] == []
    assert run["invocations"] == [{"executionSuccessful": True}]
    assert "originalUriBaseIds" not in run


def test_pascal_case() -> None:
    assert pascal_case("pss-host-path-volumes") == "PssHostPathVolumes"
    assert pascal_case("image-tag-mutable") == "ImageTagMutable"
