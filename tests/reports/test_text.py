import pytest

from kubeproof.reports import render
from kubeproof.reports.text import FILES_SHOWN, FOLD_MAX, fold_limit, short_fix
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

NS_FIX = "Create a namespace per team or application and set `metadata.namespace`."


def test_text_starts_with_what_to_fix_first_each_fix_once() -> None:
    out = render("text", fixture_scan(), tool_version="1.2.3")
    assert "\x1b" not in out
    lines = out.splitlines()
    assert lines[0] == "Fix these first  3 findings: 2 high, 1 low"
    # most severe rule first, with its findings, objects and fix (printed once)
    assert lines[1].split() == ["high", "KP0401", "default-namespace", "2", "on", "2", "objects"]
    assert lines[2].strip() == NS_FIX
    assert lines[3].split() == ["low", "KP0402", "namespace-unset", "1", "on", "1", "object"]
    assert out.count(NS_FIX) == 1
    assert "fix:" not in out


def test_text_groups_findings_by_rule_ordered_by_file_and_line() -> None:
    lines = render("text", fixture_scan(), tool_version="1.2.3").splitlines()
    start = lines.index("Findings by rule")
    assert lines[start + 1] == "KP0401 default-namespace  high, 2 findings"
    assert lines[start + 2].startswith(f"  {TRICKY}:5:3  Secret/default/")
    assert lines[start + 3] == (f'  {WEB}:5:3  ConfigMap/default/settings  '
                                'ConfigMap "settings" is in the "default" namespace')
    assert lines[start + 4] == "KP0402 namespace-unset  low, 1 finding"
    assert lines[start + 5] == f'  {WEB}:11:1  Service/web  Service "web" has no metadata.namespace'
    assert f"error: {BAD}:6: invalid YAML" in "\n".join(lines)


def test_text_groups_by_file() -> None:
    lines = render("text", fixture_scan(), tool_version="1", group_by="file").splitlines()
    start = lines.index("Findings by file")
    assert lines[start + 1] == TRICKY
    assert lines[start + 3] == WEB
    assert lines[start + 4].split()[:5] == ["5:3", "high", "KP0401", "default-namespace",
                                             "ConfigMap/default/settings"]
    assert lines[start + 5].split()[:4] == ["11:1", "low", "KP0402", "namespace-unset"]
    with pytest.raises(ValueError, match="group_by"):
        render("text", fixture_scan(), tool_version="1", group_by="kind")


def _many(n_rules: int, per_rule: int) -> str:
    rules = [make_rule(f"KP08{i:02d}", f"rule-{i}", 8, "medium") for i in range(n_rules)]
    findings = [make_finding(r, name=f"w{j}", line=j + 1, message=f"{r.name} #{j}")
                for r in rules for j in range(per_rule)]
    return render("text", make_result(rules, findings), tool_version="1")


def test_long_groups_fold_and_all_shows_everything() -> None:
    out = _many(2, 700)
    assert out.count("rule-0 #") == FOLD_MAX
    assert f"  … and {700 - FOLD_MAX} more (use --all)" in out
    rules = [make_rule("KP0801", "r", 8, "medium")]
    findings = [make_finding(rules[0], name=f"w{j}", line=j + 1) for j in range(700)]
    full = render("text", make_result(rules, findings), tool_version="1", show_all=True)
    assert full.count("something is off") == 700
    assert "more (use --all)" not in full
    # one over the limit is shown, not folded into "1 more"
    assert _many(1, FOLD_MAX + 1).count("rule-0 #") == FOLD_MAX + 1


def test_many_groups_fold_tighter_so_the_report_stays_short() -> None:
    assert fold_limit(3, False) == FOLD_MAX
    assert fold_limit(60, False) == 1
    assert fold_limit(60, True) is None
    out = _many(60, 50)
    assert sum(1 for ln in out.splitlines() if "rule-" in ln and " #" in ln) == 60  # 1 each
    assert len(out.splitlines()) < 60 * 5 + 40


def test_text_quiet_keeps_the_summary_and_counts() -> None:
    out = render("text", fixture_scan(), tool_version="1", quiet=True)
    assert f"{WEB}:5:3" not in out
    assert "Findings by rule" not in out
    assert "Fix these first" in out and NS_FIX in out and "Scorecard" in out
    assert f"error: {BAD}:6" in out


def test_text_colour_uses_ansi_and_plain_does_not() -> None:
    result = fixture_scan()
    coloured = render("text", result, tool_version="1", color=True)
    assert "\x1b[1;31mhigh" in coloured
    assert f"\x1b[2m{NS_FIX}" in coloured
    plain = render("text", result, tool_version="1", color=False)
    assert "\x1b" not in plain


def test_text_shows_container_and_neutralises_control_characters() -> None:
    rule = make_rule("KP0803", "pss-privileged", 8, "high", "pod_security", pods=True)
    findings = [make_finding(rule, container="app", file="d.yaml\x1b]0;x\x07", line=4,
                             column=9, message='container "app" sets privileged: true \x1b[2J')]
    result = make_result([rule], findings,
                         make_objects("Deployment", ["web"], [rule], file="d.yaml"))
    for group_by in ("rule", "file"):
        out = render("text", result, tool_version="1", color=False, group_by=group_by)
        assert "\x1b" not in out and "\x07" not in out
        assert "Deployment/shop/web  container: app" in out
        assert 'container "app" sets privileged: true \\x1b[2J' in out
    assert "Fix pss-privileged like this." in out


def test_summary_orders_by_worst_severity_then_count_and_marks_other_severities() -> None:
    low = make_rule("KP0501", "labels", 5, "low")
    mixed = make_rule("KP0703", "rbac-secrets-read", 7, "high")
    findings = ([make_finding(low, name=f"o{i}") for i in range(5)]
                + [make_finding(mixed, name="a"), make_finding(mixed, name="b",
                                                               severity="critical")])
    lines = render("text", make_result([low, mixed], findings), tool_version="1").splitlines()
    assert lines[1].split()[:2] == ["critical", "KP0703"]
    assert lines[3].split()[:2] == ["low", "KP0501"]
    assert any(ln.endswith("something is off  (high)") for ln in lines)


def test_short_fix_is_the_first_sentence_cut_to_the_width() -> None:
    rule = make_rule("KP0001", "x", 0)
    rule.remediation = "Set `a` (e.g. to 1). Then restart. More."
    assert short_fix(rule, 80) == "Set `a` (e.g. to 1)."
    assert short_fix(rule, 10) == "Set `a` (…"


def test_no_findings_prints_no_summary() -> None:
    out = render("text", make_result([], []), tool_version="1")
    assert "Fix these first" not in out and "Findings by" not in out
    assert "0 findings" in out


def test_plain_text_has_no_trailing_padding() -> None:
    out = render("text", fixture_scan(), tool_version="1", width=120)
    assert all(line == line.rstrip() for line in out.splitlines())
    assert out.endswith("findings; 1 input error\n")


def test_by_file_shows_the_most_urgent_files_and_findings_and_counts_the_rest() -> None:
    low = make_rule("KP0501", "labels", 5, "low")
    high = make_rule("KP0803", "pss-privileged", 8, "high")
    findings = [make_finding(low, file=f"f{i:03d}.yaml", line=n, name=f"o{n}")
                for i in range(FILES_SHOWN + 10) for n in range(1, 13)]
    findings.append(make_finding(high, file="f039.yaml", line=99, name="x"))
    result = make_result([low, high], findings)
    out = render("text", result, tool_version="1", group_by="file")
    lines = out.splitlines()
    shown = [ln for ln in lines if ln.startswith("f0")]
    assert len(shown) == FILES_SHOWN and shown == sorted(shown)
    assert "f039.yaml" in shown  # the one high finding makes it the most urgent file
    start = lines.index("f039.yaml")
    assert "KP0803" in "\n".join(lines[start + 1:start + 3])  # shown despite its line
    assert "… and 10 more files with 120 findings (use --all)" in out
    full = render("text", result, tool_version="1", group_by="file", show_all=True)
    assert sum(1 for ln in full.splitlines() if ln.startswith("f0")) == FILES_SHOWN + 10
    assert "more file" not in full
