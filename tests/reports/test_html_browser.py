"""The HTML report in real headless Chromium: what a person sees and clicks.

Driven over the DevTools protocol (``tests/reports/chromium.py`` says why that
and not selenium or playwright): one browser for the module, a fresh tab per
test, the network emulated offline and every request the page makes recorded.
Screenshots are checked by their pixels (size, not blank, the scorecard's
grade colours where the page puts each card), not against a stored image: fonts
and anti-aliasing differ between Chromium builds.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from kubeproof.core.catalogue import load_rules
from kubeproof.model import Finding
from kubeproof.reports import render
from kubeproof.reports.redact import MASK
from kubeproof.reports.sarif import RULES_DOC_URI
from tests.reports.chromium import Browser, Page
from tests.reports.helpers import SECRET_VALUE, TOKEN, html_fixture_scan, make_result

WIDTH, HEIGHT = 1280, 900
GRADE_RGB = {"A": (0x16, 0xA3, 0x4A), "B": (0x65, 0xA3, 0x0D), "C": (0xCA, 0x8A, 0x04),
             "D": (0xEA, 0x58, 0x0C), "F": (0xDC, 0x26, 0x26), "na": (0x9C, 0xA3, 0xAF)}
SEVERITY_RGB = {"critical": (0x7F, 0x1D, 0x1D), "high": (0xDC, 0x26, 0x26),
                "medium": (0xD9, 0x77, 0x06), "low": (0x08, 0x91, 0xB2),
                "info": (0x6B, 0x72, 0x80)}
ROWS = "Array.from(document.querySelectorAll('#kp-rows tr.f'), r => r.cells[1].firstChild" \
       ".textContent)"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    b = Browser()
    try:
        yield b
    finally:
        b.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(render("html", html_fixture_scan(), tool_version="1"))
    return path


@pytest.fixture
def page(browser: Browser, report: Path) -> Iterator[Page]:
    tab = browser.page(WIDTH, HEIGHT)
    tab.open(report)
    try:
        yield tab
    finally:
        tab.close()


def rows(page: Page) -> list[str]:
    codes: list[str] = page.js(ROWS)
    return codes


def test_the_page_fetches_nothing_and_logs_no_problem(page: Page, report: Path) -> None:
    assert page.requests == [report.resolve().as_uri()]
    assert page.js("performance.getEntriesByType('resource').length") == 0
    assert page.problems() == []  # no CSP violation, no script error
    assert len(rows(page)) == 10


def test_screenshot_shows_the_report_and_the_scorecard_colours(page: Page) -> None:
    shot = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    assert shot.size == (WIDTH, HEIGHT)
    stat = ImageStat.Stat(shot.convert("L"))
    assert stat.stddev[0] > 20  # not a blank page
    colours = shot.getcolors(WIDTH * HEIGHT)
    assert colours is not None and len(colours) > 100  # text is anti-aliased
    # every grade box on screen has its grade's colour (a corner: the letter is white)
    boxes = page.js("Array.from(document.querySelectorAll('.card'), c => {"
                    "const r = c.querySelector('.grade').getBoundingClientRect();"
                    "return [c.className.split(' ')[1].slice(2), r.x + 3, r.y + 3]; })")
    seen = set()
    for grade, x, y in boxes:
        if y + 3 >= HEIGHT:
            continue
        pixel = shot.getpixel((int(x), int(y)))
        assert isinstance(pixel, tuple)
        assert all(abs(a - b) <= 8 for a, b in zip(pixel, GRADE_RGB[grade], strict=True)), \
            (grade, pixel)
        seen.add(grade)
    assert {"A", "F", "na"} <= seen, seen
    # the header's severity chips: each severity's colour is on screen
    present = {rgb for _, rgb in colours}
    for name, rgb in SEVERITY_RGB.items():
        assert rgb in present, name


def test_each_filter_shows_only_its_findings(page: Page) -> None:
    page.choose("kp-severity", "high")
    assert sorted(rows(page)) == ["KP0101", "KP0401", "KP0802", "KP0803", "KP1301", "KP1301"]
    page.choose("kp-namespace", "shop")  # filters combine
    assert sorted(rows(page)) == ["KP0101", "KP1301"]
    page.click("#kp-reset")
    assert len(rows(page)) == 10
    page.choose("kp-practice", "8 Pod security")
    assert sorted(rows(page)) == ["KP0802", "KP0803"]
    page.choose("kp-practice", "all")
    page.choose("kp-namespace", "default")
    assert sorted(rows(page)) == ["KP0401", "KP1004"]
    page.choose("kp-namespace", "all")
    page.choose("kp-rule", "KP0501 missing-required-labels")
    assert rows(page) == ["KP0501", "KP0501"]
    page.choose("kp-rule", "all")
    page.js("document.getElementById('kp-file').options[1].text.includes('payments.yaml')"
            " || (() => { throw new Error('files not sorted'); })()")
    page.choose("kp-file", page.js("document.getElementById('kp-file').options[1].text"
                                   ".replace(/ \\(\\d+\\)$/, '')"))
    assert sorted(rows(page)) == ["KP0501", "KP0802", "KP0803", "KP1301"]
    assert page.js("document.getElementById('kp-count').textContent") == \
        "Showing 4 of 4 finding(s) matching the filters (10 in all)"
    page.click("#kp-reset")
    page.type_text("#kp-search", "GitHub token")
    page.wait_for(f"{ROWS}.length === 1")
    assert rows(page) == ["KP1003"]


def test_fix_first_rows_and_scorecard_cards_filter_when_chosen(page: Page) -> None:
    page.click('#kp-first tr[data-rule="KP1301"]')
    assert rows(page) == ["KP1301", "KP1301"]
    assert page.js("document.getElementById('kp-rule').value") == "KP1301"
    page.click('.card[data-practice="10"]')
    assert sorted(rows(page)) == ["KP1003", "KP1004"]
    assert page.js("document.getElementById('kp-rule').value") == ""
    page.press_enter('#kp-first tr[data-rule="KP0101"]')  # the keyboard works too
    assert rows(page) == ["KP0101"]


def test_an_expanded_finding_shows_its_excerpt_masked_remediation_and_docs(page: Page) -> None:
    page.choose("kp-rule", "KP0401")
    page.click("#kp-rows tr.f")
    detail = "document.querySelector('#kp-rows tr.detail')"
    assert page.js(f"{detail}.querySelector('pre.excerpt span.hl').textContent") == \
        "27  namespace: default"
    excerpt = page.js(f"Array.from({detail}.querySelectorAll('pre.excerpt span'),"
                      " s => s.textContent)")
    assert excerpt == ["24kind: Secret", "25metadata:", "26  name: db",
                       "27  namespace: default", "28type: Opaque", "29data:",
                       f"30  password: {MASK}"]
    assert page.js(f"{detail}.querySelector('a.doc').href") == \
        f"{RULES_DOC_URI}#kp0401-default-namespace"
    text = page.js(f"{detail}.innerText")
    assert "How to fix" in text and "metadata.namespace" in text
    assert "Secret/default/db" in text
    page.choose("kp-rule", "KP1003")
    page.click("#kp-rows tr.f")
    assert page.js(f"{detail}.querySelector('pre.excerpt span.hl').textContent") == \
        f"21          value: {MASK}"
    page.click("#kp-rows tr.f")  # a second click folds it
    assert page.js(detail) is None
    html = page.js("document.documentElement.outerHTML")
    assert SECRET_VALUE not in html and TOKEN not in html


def ten_thousand(tmp: Path) -> list[Finding]:
    """10,000 findings of every rule over 50 files of 400 lines (excerpts for all)."""
    rng = random.Random(7)
    rules = list(load_rules().values())
    files = []
    for i in range(50):
        path = tmp / f"app-{i}.yaml"
        path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n"
                        + "".join(f"  key{n}: value {n}\n" for n in range(395)))
        files.append(str(path))
    out = []
    for n in range(10_000):
        rule = rules[n % len(rules)]
        out.append(Finding(rule=rule, severity=rule.severity, file=files[n % 50],
                           line=rng.randrange(1, 401), column=3, api_version="apps/v1",
                           kind="Deployment", namespace=f"team-{n % 20}", name=f"app-{n}",
                           container="main", path="spec.template.spec.containers[0]",
                           message=f"finding number {n} of rule {rule.code}"))
    return out


def test_ten_thousand_findings_open_in_under_two_seconds(browser: Browser,
                                                         tmp_path: Path) -> None:
    path = tmp_path / "big.html"
    findings = ten_thousand(tmp_path)
    path.write_text(render("html", make_result(list(load_rules().values()), findings),
                           tool_version="1"))
    assert path.stat().st_size < 5_000_000
    tab = browser.page(WIDTH, HEIGHT)
    try:
        wall = tab.open(path)
        rendered = tab.js("performance.getEntriesByName('kp-rendered')[0].startTime")
        loaded = tab.js("performance.getEntriesByType('navigation')[0]"
                        ".domContentLoadedEventEnd")
        # navigation start to the first 200 rows on screen, as the page measures it
        # (the wall time also counts the DevTools round trips)
        assert rendered < 2000 and loaded < 2000, (rendered, loaded, wall)
        assert len(rows(tab)) == 200
        assert tab.js("document.getElementById('kp-count').textContent") == \
            "Showing 200 of 10000 finding(s)"
        tab.click("#kp-more")
        assert len(rows(tab)) == 400
        tab.choose("kp-namespace", "team-3")
        assert tab.js("document.getElementById('kp-count').textContent") == \
            "Showing 200 of 500 finding(s) matching the filters (10000 in all)"
        tab.click("#kp-rows tr.f")
        assert tab.js("document.querySelectorAll('#kp-rows tr.detail pre.excerpt span')"
                      ".length") >= 4
        assert tab.requests == [path.resolve().as_uri()]
        assert tab.problems() == []
    finally:
        tab.close()
