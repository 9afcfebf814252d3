"""``kubeproof report``: JSON reports of scan and audit rendered again later."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import kp
from tests.support.paths import EXAMPLES


@pytest.mark.parametrize("fmt", ["json", "sarif", "junit", "text"])
def test_every_format_from_a_saved_scan_is_what_the_scan_wrote(tmp_path: Path, fmt: str
                                                                 ) -> None:
    saved, direct, again = tmp_path / "scan.json", tmp_path / "direct", tmp_path / "again"
    scan = kp("scan", str(EXAMPLES / "bad"), "--no-config", "--no-color", "-f", "json", "-o",
              str(saved), "-f", fmt, "-o", str(direct))
    assert scan.returncode == 1, scan.stderr
    proc = kp("report", str(saved), "--no-color", "-f", fmt, "-o", str(again))
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    assert again.read_bytes() == direct.read_bytes()


def test_junit_of_a_saved_clean_scan_keeps_its_passing_cases(tmp_path: Path) -> None:
    saved = tmp_path / "good.json"
    assert kp("scan", str(EXAMPLES / "good"), "--no-config", "-f", "json", "-o",
              str(saved)).returncode == 0
    checked = json.loads(saved.read_text())["run"]["checked"]
    assert len(checked) >= 5 and all(len(row) == 8 for row in checked)
    proc = kp("report", str(saved), "-f", "junit")
    assert proc.returncode == 0
    assert proc.stdout.count("<testcase ") >= len(checked)
    assert "<failure" not in proc.stdout


def test_reports_are_merged_and_fail_on_applies(tmp_path: Path) -> None:
    bad, good = tmp_path / "bad.json", tmp_path / "good.json"
    kp("scan", str(EXAMPLES / "bad"), "--no-config", "-f", "json", "-o", str(bad))
    kp("scan", str(EXAMPLES / "good"), "--no-config", "-f", "json", "-o", str(good))
    proc = kp("report", str(bad), str(good), "-f", "json")
    merged = json.loads(proc.stdout)
    one = json.loads(bad.read_text())
    assert merged["findings"] == one["findings"]
    assert merged["summary"]["objects"] == (one["summary"]["objects"]
                                            + json.loads(good.read_text())["summary"]["objects"])
    assert proc.returncode == 1
    assert kp("report", str(bad), "--fail-on", "none").returncode == 0


def test_files_that_are_not_reports_are_one_line_each_and_exit_2(tmp_path: Path) -> None:
    saved = tmp_path / "bad.json"
    kp("scan", str(EXAMPLES / "bad"), "--no-config", "-f", "json", "-o", str(saved))
    (tmp_path / "broken.json").write_text('{"tool": ')
    (tmp_path / "other.json").write_text('{"version": "2.1.0", "runs": []}')
    (tmp_path / "binary.json").write_bytes(b"\x00\xff\xfe")
    proc = kp("report", str(tmp_path / "broken.json"), str(tmp_path / "other.json"),
              str(tmp_path / "binary.json"), str(tmp_path / "missing.json"), str(saved),
              "-f", "json")
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 4 and "Traceback" not in proc.stderr
    assert lines[0].startswith(f"{tmp_path / 'broken.json'}: not JSON")
    assert "not a kubeproof JSON report" in lines[1]
    assert "No such file" in lines[3]
    assert json.loads(proc.stdout)["findings"]  # the good report is still rendered


def test_unknown_rules_and_old_reports_are_warnings(tmp_path: Path) -> None:
    saved = tmp_path / "scan.json"
    kp("scan", str(EXAMPLES / "bad"), "--no-config", "-f", "json", "-o", str(saved))
    doc = json.loads(saved.read_text())
    doc["findings"][0]["code"] = "KP9999"
    del doc["run"]
    saved.write_text(json.dumps(doc))
    proc = kp("report", str(saved), "-f", "json")
    assert proc.returncode == 1
    assert "1 finding(s) of rule KP9999, unknown to this kubeproof, left out" in proc.stderr
    assert "report without 'run'" in proc.stderr
    assert len(json.loads(proc.stdout)["findings"]) == len(doc["findings"]) - 1


def test_report_from_stdin(tmp_path: Path) -> None:
    scan = kp("scan", str(EXAMPLES / "bad"), "--no-config", "-f", "json")
    proc = kp("report", "-", "-f", "json", stdin=scan.stdout)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["findings"] == json.loads(scan.stdout)["findings"]
