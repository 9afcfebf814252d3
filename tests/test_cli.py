"""The command line as a user meets it: real subprocesses, exit codes, stderr."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import kp, no_traceback

BAD_NS = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: default\n"
          "data:\n  a: b\n")
GOOD = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: shop\n"
        "data:\n  a: b\n")


def test_version() -> None:
    proc = kp("--version")
    assert proc.returncode == 0 and "0.1.0" in proc.stdout


def test_exit_codes_follow_fail_on(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(BAD_NS)
    (tmp_path / "good.yaml").write_text(GOOD)
    args = ("--no-config", "--select", "KP0401")
    assert kp("scan", str(tmp_path / "good.yaml"), *args).returncode == 0
    assert kp("scan", str(tmp_path / "bad.yaml"), *args).returncode == 1
    assert kp("scan", str(tmp_path / "bad.yaml"), *args, "--fail-on", "critical"
              ).returncode == 0
    assert kp("scan", str(tmp_path / "bad.yaml"), *args, "--fail-on", "none").returncode == 0


def test_input_error_gives_exit_2_one_line_and_the_rest_is_scanned(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(BAD_NS)
    (tmp_path / "broken.yaml").write_text("apiVersion: v1\nkind: [\n")
    (tmp_path / "blob.yaml").write_bytes(b"\x00\x01binary")
    proc = kp("scan", str(tmp_path), "--no-config", "--select", "KP0401", "--format", "json")
    no_traceback(proc)
    assert proc.returncode == 2
    report = json.loads(proc.stdout)
    assert [f["code"] for f in report["findings"]] == ["KP0401"]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2
    assert any(ln.startswith(f"{tmp_path / 'broken.yaml'}:3: invalid YAML") for ln in lines)
    assert any(ln.startswith(f"{tmp_path / 'blob.yaml'}: refused: binary") for ln in lines)


def test_stdin_json_and_yaml() -> None:
    proc = kp("scan", "-", "--no-config", "--select", "KP0401", "--format", "json",
              stdin=BAD_NS)
    report = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert [(f["file"], f["line"]) for f in report["findings"]] == [("<stdin>", 5)]
    as_json = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": "j", "namespace": "default"}})
    proc = kp("scan", "-", "--no-config", "--select", "KP0401", "--format", "json",
              stdin=as_json)
    assert [f["object"]["name"] for f in json.loads(proc.stdout)["findings"]] == ["j"]


def test_unknown_rule_suggests_the_nearest(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    proc = kp("scan", str(tmp_path / "a.yaml"), "--no-config", "--select", "pss-privileg")
    no_traceback(proc)
    assert proc.returncode == 2
    assert "unknown rule 'pss-privileg' (did you mean 'pss-privileged'?)" in proc.stderr


def test_config_typo_names_line_and_suggestion(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / ".kubeproof.yaml").write_text("rules:\n  disable: []\nlables:\n  required: []\n")
    proc = kp("scan", "a.yaml", cwd=tmp_path)
    no_traceback(proc)
    assert proc.returncode == 2
    assert ".kubeproof.yaml:3: unknown key 'lables' (did you mean 'labels'?)" in proc.stderr


def test_config_found_upward_applies(tmp_path: Path) -> None:
    (tmp_path / ".kubeproof.yaml").write_text("rules:\n  disable: [default-namespace]\n")
    sub = tmp_path / "deploy"
    sub.mkdir()
    (sub / "a.yaml").write_text(BAD_NS)
    proc = kp("scan", "a.yaml", "--select", "KP04", "--format", "json", cwd=sub)
    codes = [f["code"] for f in json.loads(proc.stdout)["findings"]]
    assert "KP0401" not in codes and proc.returncode == 0


def test_several_formats_to_several_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(BAD_NS)
    out_json, out_sarif = tmp_path / "r.json", tmp_path / "r.sarif"
    proc = kp("scan", str(tmp_path / "a.yaml"), "--no-config", "--select", "KP0401",
              "-f", "json", "-o", str(out_json), "-f", "sarif", "-o", str(out_sarif),
              "-f", "text", "--no-color")
    assert proc.returncode == 1
    assert json.loads(out_json.read_text())["findings"][0]["code"] == "KP0401"
    assert json.loads(out_sarif.read_text())["version"] == "2.1.0"
    assert "KP0401" in proc.stdout and "\x1b[" not in proc.stdout


def test_write_baseline_then_fail_only_on_new(tmp_path: Path) -> None:
    manifest = tmp_path / "a.yaml"
    manifest.write_text(BAD_NS)
    base = tmp_path / "base.json"
    args = ("--no-config", "--select", "KP0401")
    assert kp("scan", str(manifest), *args, "--write-baseline", str(base)).returncode == 0
    assert kp("scan", str(manifest), *args, "--baseline", str(base)).returncode == 0
    manifest.write_text(BAD_NS + "---\n" + BAD_NS.replace("name: cm", "name: cm2"))
    proc = kp("scan", str(manifest), *args, "--baseline", str(base), "-f", "json")
    assert proc.returncode == 1
    assert [f["object"]["name"] for f in json.loads(proc.stdout)["findings"]] == ["cm2"]


def test_rules_listing_and_explain() -> None:
    proc = kp("rules", "--format", "json")
    rules = json.loads(proc.stdout)
    by_code = {r["code"]: r for r in rules}
    assert by_code["KP0401"]["name"] == "default-namespace"
    assert {"code", "name", "practice", "severity", "scope"} <= set(by_code["KP0401"])
    proc = kp("rules", "default-namespace")
    assert proc.returncode == 0 and "Why:" in proc.stdout and "KP0401" in proc.stdout


def test_config_init_writes_a_valid_config(tmp_path: Path) -> None:
    assert kp("config", "init", cwd=tmp_path).returncode == 0
    assert kp("config", "init", cwd=tmp_path).returncode == 2  # exists
    (tmp_path / "a.yaml").write_text(GOOD)
    proc = kp("scan", "a.yaml", "--select", "KP0401", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_nonexistent_path_is_exit_2(tmp_path: Path) -> None:
    proc = kp("scan", str(tmp_path / "nope"), "--no-config")
    no_traceback(proc)
    assert proc.returncode == 2 and "no such file or directory" in proc.stderr


def test_several_formats_on_stdout_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(BAD_NS)
    for command in (("scan", str(tmp_path / "a.yaml"), "--no-config"),
                    ("report", str(tmp_path / "r.json"))):
        proc = kp(*command, "-f", "json", "-f", "sarif")
        no_traceback(proc)
        assert proc.returncode == 2 and proc.stdout == ""
        assert "several --format options would write to stdout" in proc.stderr
    # one of them to a file is fine
    proc = kp("scan", str(tmp_path / "a.yaml"), "--no-config", "--select", "KP0401",
              "-f", "json", "-o", str(tmp_path / "r.json"), "-f", "sarif")
    assert proc.returncode == 1 and json.loads(proc.stdout)["version"] == "2.1.0"


def test_missing_path_prints_the_error_once_and_no_report(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(BAD_NS)
    missing = str(tmp_path / "nope.yaml")
    proc = kp("scan", str(tmp_path / "a.yaml"), missing, "--no-config")
    no_traceback(proc)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"kubeproof: error: {missing}: no such file or directory\n"


def test_unreadable_report_prints_the_error_once_and_no_report(tmp_path: Path) -> None:
    (tmp_path / "junk.json").write_text("{not json")
    for path in (str(tmp_path / "nope.json"), str(tmp_path / "junk.json")):
        proc = kp("report", path, "--no-color")
        no_traceback(proc)
        assert proc.returncode == 2 and proc.stdout == ""
        assert len(proc.stderr.splitlines()) == 1 and path in proc.stderr
    # several, none readable: each error once, no report
    proc = kp("report", str(tmp_path / "nope.json"), str(tmp_path / "junk.json"))
    assert proc.returncode == 2 and proc.stdout == "" and len(proc.stderr.splitlines()) == 2


def test_unreachable_cluster_prints_the_error_once_and_no_report(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "t"}}]}))
    proc = kp("audit", "--kubeconfig", str(kubeconfig), "--no-config",
              "--request-timeout", "5")
    no_traceback(proc)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and "127.0.0.1:1" in proc.stderr


def test_empty_stdin_is_exit_2() -> None:
    for stdin in ("", "\n  \n"):
        proc = kp("scan", "-", "--no-config", "-q", stdin=stdin)
        no_traceback(proc)
        assert proc.returncode == 2
        assert "<stdin>: empty input on stdin, nothing to scan" in proc.stderr


def test_who_can_on_a_missing_path_gives_no_answer(tmp_path: Path) -> None:
    for command in (("rbac", "who-can", "get", "secrets"), ("rbac", "risky"),
                    ("netpol", "reach"), ("images",)):
        proc = kp(*command, str(tmp_path / "nope"))
        no_traceback(proc)
        assert proc.returncode == 2 and proc.stdout == "", command
        assert "no such file or directory" in proc.stderr


def test_rules_text_marks_fixable_rules_safe_or_unsafe() -> None:
    lines = kp("rules").stdout.splitlines()
    assert lines[0].split() == ["CODE", "NAME", "P", "SEVERITY", "SCOPE", "FIX", "SUMMARY"]
    rows = {ln.split()[0]: ln.split() for ln in lines[1:]}
    assert rows["KP0402"][5] == "safe"
    assert rows["KP0813"][5] == "unsafe"
    assert rows["KP0401"][5] == "-"
    assert "Fix: none" in kp("rules", "KP0401").stdout
    assert "Fix: unsafe" in kp("rules", "KP0813").stdout


def test_group_by_file_and_all_from_flags_and_config(tmp_path: Path) -> None:
    docs = "---\n".join(BAD_NS.replace("name: cm", f"name: cm{i}") for i in range(14))
    (tmp_path / "a.yaml").write_text(docs)
    args = ("scan", "a.yaml", "--select", "KP0401", "--no-color")
    out = kp(*args, "--no-config", cwd=tmp_path).stdout
    assert "Findings by rule" in out and "… and 4 more (use --all)" in out
    out = kp(*args, "--no-config", "--all", cwd=tmp_path).stdout
    assert "more (use --all)" not in out and out.count("is in the \"default\" namespace") == 14
    out = kp(*args, "--no-config", "--group-by", "file", cwd=tmp_path).stdout
    assert "Findings by file" in out
    (tmp_path / ".kubeproof.yaml").write_text("scan:\n  groupBy: file\n")
    assert "Findings by file" in kp(*args, cwd=tmp_path).stdout
    (tmp_path / ".kubeproof.yaml").write_text("scan:\n  groupBy: kind\n")
    proc = kp(*args, cwd=tmp_path)
    assert proc.returncode == 2 and "scan.groupBy must be rule or file" in proc.stderr
