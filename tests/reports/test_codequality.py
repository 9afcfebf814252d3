"""The GitLab Code Quality report: the fields GitLab requires, severities, relative
paths, fingerprints unique and stable across line moves."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kubeproof.model import InputError
from kubeproof.reports import render
from tests.reports.helpers import (
    BAD,
    FIXTURES,
    WEB,
    fixture_scan,
    make_finding,
    make_result,
    make_rule,
)

SEVERITIES = {"info", "minor", "major", "critical", "blocker"}


def check_issue(issue: dict[str, object]) -> None:
    """Fail unless ``issue`` has every field GitLab's Code Quality widget reads."""
    assert issue["type"] == "issue"
    for key in ("description", "check_name", "fingerprint"):
        assert isinstance(issue[key], str) and issue[key], key
    assert issue["severity"] in SEVERITIES
    location = issue["location"]
    assert isinstance(location, dict)
    assert isinstance(location["path"], str) and location["path"]
    assert not location["path"].startswith(("/", "./"))
    begin = location["lines"]["begin"]
    assert isinstance(begin, int) and begin >= 1


def test_codequality_issues_of_findings_and_errors() -> None:
    issues = json.loads(render("codequality", fixture_scan(), tool_version="1",
                               root=str(FIXTURES)))
    for issue in issues:
        check_issue(issue)
    by_where = {(i["location"]["path"], i["location"]["lines"]["begin"]): i for i in issues}
    settings = by_where[("app/web.yaml", 5)]
    assert settings["check_name"] == "KP0401 default-namespace"
    assert settings["severity"] == "critical"  # high
    assert settings["description"].startswith("KP0401 default-namespace: ")
    assert by_where[("app/web.yaml", 11)]["severity"] == "minor"  # KP0402 is low
    error = by_where[("broken/bad.yaml", 6)]
    assert (error["check_name"], error["severity"]) == ("input-error", "major")
    assert len({i["fingerprint"] for i in issues}) == len(issues) == 4


def test_codequality_paths_relative_to_the_working_directory(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(WEB).parents[1])
    issues = json.loads(render("codequality", fixture_scan(), tool_version="1"))
    assert {i["location"]["path"] for i in issues} == {
        "app/web.yaml", "app/tricky.yaml", os.path.relpath(BAD)}


def test_codequality_fingerprints_stable_across_lines_and_unique() -> None:
    rule = make_rule("KP0401", "default-namespace", 4, severity="critical")
    here = make_finding(rule, line=3)
    moved = make_finding(rule, line=30)
    twin = make_finding(rule, line=40)  # same rule, object and field: a repeat
    first = json.loads(render("codequality", make_result([rule], [here]), tool_version="1"))
    second = json.loads(render("codequality", make_result([rule], [moved, twin]),
                               tool_version="1"))
    assert first[0]["fingerprint"] == second[0]["fingerprint"]
    assert second[1]["fingerprint"] == first[0]["fingerprint"] + "-2"
    assert first[0]["severity"] == "blocker"
    assert first[0]["location"] == {"path": "m.yaml", "lines": {"begin": 3}}


def test_codequality_outside_root_and_lineless_errors(tmp_path: Path) -> None:
    result = make_result([], [], errors=[InputError("/elsewhere/x.yaml", None, "cannot read")])
    (issue,) = json.loads(render("codequality", result, tool_version="1",
                                 root=str(tmp_path)))
    assert issue["location"] == {"path": "/elsewhere/x.yaml", "lines": {"begin": 1}}


def test_codequality_file_names_not_utf8(tmp_path: Path) -> None:
    name = os.fsdecode(b"bad\xff.yaml")  # a lone surrogate: not encodable as UTF-8
    rule = make_rule("KP0401", "default-namespace", 4)
    text = render("codequality", make_result([rule], [make_finding(rule, file=name)]),
                  tool_version="1")
    text.encode("utf-8")
    # the finding holds the name as model.display_path shows it
    assert json.loads(text)[0]["location"]["path"] == "bad\\xff.yaml"
