"""``--format html`` without a browser: structure, escaping, masking, excerpts, size.

The page in a real browser (filters, screenshots, load time) is in
``test_html_browser.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from kubeproof.core.catalogue import rule_by_code
from kubeproof.model import InputError
from kubeproof.reports import render
from kubeproof.reports.html import CONTEXT, MAX_LINE
from kubeproof.reports.redact import MASK
from kubeproof.reports.sarif import RULES_DOC_URI
from tests.reports.helpers import (
    HTML_FIXTURES,
    SECRET_VALUE,
    TOKEN,
    html_fixture_scan,
    make_finding,
    make_objects,
    make_result,
    make_rule,
)
from tests.support.cli import kp


class Page(HTMLParser):
    """Every start tag with its attributes, and the text of each <script>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)


def parse(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    return parser


def data_of(page: str) -> dict[str, Any]:
    blocks = [text for attrs, text in parse(page).scripts
              if attrs.get("type") == "application/json"]
    assert len(blocks) == 1
    doc: dict[str, Any] = json.loads(blocks[0])
    return doc


def test_one_self_contained_page_with_a_strict_policy() -> None:
    page = render("html", html_fixture_scan(), tool_version="9.9.9")
    parsed = parse(page)
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>\n")
    # nothing is loaded from anywhere: no src, no stylesheet link, no external URL
    for tag, attrs in parsed.tags:
        assert "src" not in attrs, tag
        assert tag != "link"
        assert not (attrs.get("href") or "").startswith(("http:", "https:", "//")), tag
    [csp] = [a["content"] for t, a in parsed.tags
             if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp is not None and csp.startswith("default-src 'none'; style-src 'unsafe-inline'; ")
    # the one script runs because its hash is in the policy, and nothing else can
    [script] = [text for attrs, text in parsed.scripts if not attrs]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert csp.endswith(f"script-src 'sha256-{digest}'")
    # the only URLs anywhere are the rules' documentation links
    urls = set(re.findall(r"https?://[^\s\"'<>]+", page))
    doc = data_of(page)
    assert urls == {r["doc"] for r in doc["rules"].values()}
    assert all(u.startswith(RULES_DOC_URI + "#kp") for u in urls)
    assert doc["rules"]["KP0401"]["doc"] == f"{RULES_DOC_URI}#kp0401-default-namespace"
    assert "kubeproof 9.9.9" in page


def test_header_scorecard_and_fix_first_table() -> None:
    page = render("html", html_fixture_scan(), tool_version="1")
    assert '<div class="stat"><b>10</b><span>findings</span></div>' in page
    assert '<span class="sev critical">1 critical</span>' in page
    assert '<span class="sev high">6 high</span>' in page
    assert "<summary>2 input file(s)</summary>" in page
    assert f"<li>{HTML_FIXTURES / 'payments.yaml'}</li><li>{HTML_FIXTURES / 'shop.yaml'}</li>" \
        in page
    assert re.search(r"generated \d{4}-\d\d-\d\d \d\d:\d\d UTC", page)
    # scorecard: every practice, with its grade class
    assert page.count('class="card ') == 17
    assert re.search(r'class="card g-F" data-practice="8"', page)
    # a practice without findings is no button: there would be nothing to show
    assert re.search(r'<div class="card g-na"><div class="grade">n/a</div><div class="body">'
                     r'<div class="pname">9 · Network policies</div>', page)
    assert "not scored · 0 finding(s)" in page
    # fix first: by severity, then count: KP1003 (critical) first, then KP1301 (2 high)
    first = re.findall(r'<tr data-rule="(KP\d{4})"', page)
    assert first[:2] == ["KP1003", "KP1301"]
    assert sorted(first) == sorted({"KP0101", "KP0401", "KP0501", "KP0802", "KP0803",
                                    "KP1003", "KP1004", "KP1301"})


def test_findings_data_sorted_by_severity_with_rules_and_remediation() -> None:
    doc = data_of(render("html", html_fixture_scan(), tool_version="1"))
    rows = doc["f"]
    assert len(rows) == 10
    assert [r[1] for r in rows] == sorted(r[1] for r in rows)  # critical (0) first
    assert rows[0][0] == "KP1003"
    assert sorted(doc["ns"]) == ["default", "payments", "shop"]
    rule = rule_by_code("KP0401")
    assert rule is not None
    entry = doc["rules"]["KP0401"]
    assert entry["how"] == rule.how and entry["p"] == 4 and "```" not in entry["ex"]
    assert entry["ex"].strip()


def test_excerpts_hold_the_lines_around_each_finding_with_secrets_masked() -> None:
    page = render("html", html_fixture_scan(), tool_version="1")
    assert SECRET_VALUE not in page
    assert TOKEN not in page
    assert "c3VwZXJzZWNyZXRwdw" not in page and "ghp_" not in page
    doc = data_of(page)
    shop = doc["files"].index(str(HTML_FIXTURES / "shop.yaml"))
    lines = doc["src"][str(shop)]
    assert lines["27"] == "  namespace: default"
    assert lines["30"] == f"  password: {MASK}"  # within 3 lines of KP0401 (27) and KP1004 (29)
    assert lines["21"] == f"          value: {MASK}"  # KP1003's own line
    # only lines some finding shows: 3 -> 1..6, 17/18/21 -> 14..24, 27/29 -> 24..30 (EOF)
    assert sorted(map(int, lines)) == [*range(1, 7), *range(14, 31)]
    assert CONTEXT == 3


def test_excerpt_lines_are_shared_cut_and_escaped(tmp_path: Path) -> None:
    manifest = tmp_path / "m.yaml"
    long_value = "x" * (MAX_LINE + 50)
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"a\\e[31mb\"\n"
                        f"data:\n  long: {long_value}\n  tab: \"a\tb\u202ec\"\n")
    rule = make_rule("KP9001", "demo", 4)
    findings = [make_finding(rule, file=str(manifest), line=4, name=f"n{i}")
                for i in range(1000)]
    doc = data_of(render("html", make_result([rule], findings), tool_version="1"))
    assert len(doc["f"]) == 1000
    # 1000 findings on one line: the file's lines are stored once
    assert doc["src"] == {"0": {
        "1": "apiVersion: v1", "2": "kind: ConfigMap", "3": "metadata:",
        "4": '  name: "a\\e[31mb"', "5": "data:", "6": f"  long: {'x' * (MAX_LINE - 8)}…",
        "7": '  tab: "a\\x09b\\u202ec"'}}


def test_files_not_readable_parsed_or_maskable_give_no_excerpt(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    # the second document does not parse: its secret could not be masked
    broken.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n"
                      "kind: Secret\nstringData:\n  token: [hunter2-but-longer\n")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"kind: ConfigMap\n\x00\x01")
    # a kubeconfig: its token is in a field no rule names, so nothing masks it
    kubeconfig = tmp_path / "kubeconfig.yaml"
    kubeconfig.write_text("apiVersion: v1\nkind: Config  # admin\nusers:\n- name: a\n"
                          "  user:\n    token: kubeconfig-token-value\n")
    # files that are not manifests: a saved report may name any file
    other = tmp_path / "notes.txt"
    other.write_text("kind: ConfigMap\npassword: plain-text-value\n")
    dockerfile = tmp_path / "Dockerfile.yaml"
    dockerfile.write_text("FROM alpine\nENV TOKEN=dockerfile-token-value\n")
    rule = make_rule("KP9001", "demo", 4)
    findings = [make_finding(rule, file=str(broken), line=4),
                make_finding(rule, file=str(binary), line=1),
                make_finding(rule, file=str(kubeconfig), line=6),
                make_finding(rule, file=str(other), line=2),
                make_finding(rule, file=str(dockerfile), line=2, kind="Dockerfile"),
                make_finding(rule, file=str(tmp_path / "gone.yaml"), line=1),
                make_finding(rule, file=str(tmp_path), line=1),
                make_finding(rule, file="<stdin>", line=1)]
    page = render("html", make_result([rule], findings), tool_version="1")
    assert data_of(page)["src"] == {}
    for value in ("hunter2", "kubeconfig-token", "plain-text", "dockerfile-token"):
        assert value not in page


def test_hostile_strings_are_escaped_everywhere() -> None:
    evil = '</script><script>alert(1)</script><!--<img src=x onerror=alert(2)>'
    ctl = "red\x1b[31m\u202eevil\x00\n"
    rule = make_rule("KP9001", "demo", 4)
    findings = [make_finding(rule, file=evil + ".yaml", name=evil, namespace=evil + ctl,
                             container=ctl, message=f"{evil} {ctl}")]
    objects = make_objects("Deployment", [evil], [rule], file=evil)
    errors = [InputError(evil + ctl, 3, f"bad {evil}{ctl}")]
    page = render("html", make_result([rule], findings, objects, errors),
                  tool_version=evil + ctl)
    parsed = parse(page)
    assert [t for t, _ in parsed.tags].count("script") == 2
    assert page.count("</script>") == 2
    assert "<img" not in page and "<!--" not in page
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202e]", page)
    # the values are there, visibly escaped, in the static part and the data
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in page
    assert "red\\x1b[31m\\u202eevil\\x00\\x0a" in page
    row = data_of(page)["f"][0]
    assert row[7] == f"{evil} red\\x1b[31m\\u202eevil\\x00\\x0a"
    assert row[8] == "red\\x1b[31m\\u202eevil\\x00\\x0a"


def test_no_findings_is_a_page_too() -> None:
    rule = make_rule("KP9001", "demo", 4)
    page = render("html", make_result([rule], [], make_objects("Deployment", 3, [rule])),
                  tool_version="1")
    assert "No findings: nothing to fix." in page
    assert data_of(page)["f"] == []


def test_scan_and_report_write_html_excerpts_only_while_files_are_readable(
        tmp_path: Path) -> None:
    work = tmp_path / "work"
    shutil.copytree(HTML_FIXTURES, work)
    saved, direct, again, later = (tmp_path / n for n in ("r.json", "d.html", "a.html",
                                                          "l.html"))
    scan = kp("scan", str(work), "--no-config", "--select", ",".join(
        ["KP0401", "KP1003", "KP1004"]), "-f", "json", "-o", str(saved), "-f", "html",
        "-o", str(direct))
    assert scan.returncode == 1, scan.stderr
    proc = kp("report", str(saved), "-f", "html", "-o", str(again))
    assert proc.returncode == 1 and proc.stderr == ""
    first, second = data_of(direct.read_text()), data_of(again.read_text())
    assert first == second and first["src"]
    shutil.rmtree(work)
    assert kp("report", str(saved), "-f", "html", "-o", str(later)).returncode == 1
    gone = data_of(later.read_text())
    assert gone["src"] == {} and gone["f"] == first["f"]
    for page in (direct, again, later):
        text = page.read_text()
        assert SECRET_VALUE not in text and TOKEN not in text
