from kubeproof.reports import render
from tests.reports.helpers import (
    BAD,
    TRICKY,
    WEB,
    fixture_scan,
    make_finding,
    make_objects,
    make_result,
    make_rule,
)


def test_text_lists_findings_by_file_with_locations_and_fixes() -> None:
    out = render("text", fixture_scan(), tool_version="1.2.3")
    assert "\x1b" not in out
    lines = out.splitlines()
    assert lines.count(WEB) == 1
    assert lines.count(TRICKY) == 1
    assert lines.index(TRICKY) < lines.index(WEB)
    assert f'{WEB}:5:3  ConfigMap "settings" is in the "default" namespace' in out
    assert f'{WEB}:11:1  Service "web" has no metadata.namespace' in out
    assert "fix: Create a namespace per team or application and set `metadata.namespace`." in out
    head = lines[lines.index(WEB) + 1].split()
    assert head == ["high", "KP0401", "default-namespace", "ConfigMap/default/settings"]
    assert lines[lines.index(WEB) + 4].split()[:4] == [
        "low", "KP0402", "namespace-unset", "Service/web"]
    assert f"error: {BAD}:6: invalid YAML" in out


def test_text_summary_and_scorecard() -> None:
    out = render("text", fixture_scan(), tool_version="1.2.3")
    rows = {ln.split()[0]: ln.split()[1:] for ln in out.splitlines() if ln.strip()}
    assert rows["high"] == ["2"]
    assert rows["low"] == ["1"]
    assert rows["total"] == ["3"]
    ns = next(ln for ln in out.splitlines() if "Namespaces" in ln)
    assert ns.split() == ["4", "Namespaces", "72", "C", "3"]
    cicd = next(ln for ln in out.splitlines() if "CI/CD" in ln)
    assert cicd.split()[-3:] == ["n/a", "n/a", "0"]
    assert "overall" in out
    assert "kubeproof 1.2.3: 5 objects in 3 files, 2 rules, 3 findings" in out


def test_text_quiet_prints_only_the_summary_and_errors() -> None:
    out = render("text", fixture_scan(), tool_version="1", quiet=True)
    assert "fix:" not in out
    assert f"{WEB}:5:3" not in out
    assert "Summary" in out and "Scorecard" in out
    assert f"error: {BAD}:6" in out


def test_text_colour_uses_ansi_and_plain_does_not() -> None:
    result = fixture_scan()
    coloured = render("text", result, tool_version="1", color=True)
    assert "\x1b[1;31mhigh" in coloured
    assert "\x1b[2mfix: " in coloured
    plain = render("text", result, tool_version="1", color=False)
    assert "\x1b" not in plain


def test_text_shows_container_and_neutralises_control_characters() -> None:
    rule = make_rule("KP0803", "pss-privileged", 8, "high", "pod_security", pods=True)
    findings = [make_finding(rule, container="app", file="d.yaml", line=4, column=9,
                             message='container "app" sets privileged: true \x1b[2J')]
    out = render("text", make_result([rule], findings,
                                       make_objects("Deployment", ["web"], [rule], file="d.yaml")),
                 tool_version="1", color=False)
    assert "\x1b" not in out
    assert "Deployment/shop/web  container: app" in out
    assert 'd.yaml:4:9  container "app" sets privileged: true \\x1b[2J' in out
    assert "fix: Fix pss-privileged like this." in out


def test_plain_text_has_no_trailing_padding() -> None:
    out = render("text", fixture_scan(), tool_version="1", width=120)
    assert all(line == line.rstrip() for line in out.splitlines())
    assert out.endswith("findings; 1 input error\n")
