"""The command line as a user meets it: real subprocesses, exit codes, stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BAD_NS = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: default\n"
          "data:\n  a: b\n")
GOOD = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: shop\n"
        "data:\n  a: b\n")


def kp(*args: str, stdin: str | None = None, cwd: Path | None = None
       ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubeproof", *args], input=stdin,
                          capture_output=True, text=True, cwd=cwd or ROOT, timeout=120)


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout


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
