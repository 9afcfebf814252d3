"""Hostile names cannot forge lines, links, colours or the terminal title
(issue #9): every field printed for people goes through kubeproof.util.terminal.safe,
rich never reads markup from data, and ``report`` of a hostile JSON file is one
input error for that file."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproof.util.terminal import safe
from tests.support.cli import kp, kp_bytes

UNSAFE = ["\x1b", "\x07", "\x9b", "\r", "\u202e", "\u2066", "\u200b", "\u2028", "\x00"]
# an OSC 8 link, an OSC 0 title, a colour, a bidi override and a forged report line
HOSTILE = ("evil\x1b]8;;https://attacker.example\x07click\x1b]8;;\x07"
           "\x1b]0;pwned\x07\x1b[31m\u202egnp.exe\ncritical KP0000 forged")


def assert_terminal_safe(text: str, *, folded: bool = False) -> None:
    """No raw control or bidi character, no forged line (``folded``: rich wraps
    long cells, so a fragment may start a wrapped line inside its column)."""
    assert [c for c in UNSAFE if c in text] == []
    if not folded:
        assert not any(line.lstrip().startswith("critical KP0000")
                       for line in text.splitlines())
    assert "Traceback" not in text and "internal error" not in text


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_safe_leaves_no_control_or_bidi_character(text: str) -> None:
    out = safe(text)
    assert [c for c in out if c in "\n\r\t\x1b\x7f" or 0x80 <= ord(c) <= 0x9f
            or 0x202a <= ord(c) <= 0x202e or 0x2066 <= ord(c) <= 0x2069] == []
    assert safe(out) == out  # escaping twice changes nothing


def test_safe_escapes_visibly_and_keeps_ordinary_text() -> None:
    assert safe("a\x1b[2Jb\u202ec\nd") == "a\\x1b[2Jb\\u202ec\\x0ad"
    assert safe("deploy/web.yaml: ünïcode [bold]x[/bold]") == \
        "deploy/web.yaml: ünïcode [bold]x[/bold]"


def _hostile_manifest(path: Path) -> None:
    name = json.dumps(HOSTILE)  # a YAML double-quoted string holds every character
    path.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"
                    f"  namespace: default\ndata:\n  k: v\n", encoding="utf-8")


def test_scan_text_report_escapes_hostile_object_and_file_names(tmp_path: Path) -> None:
    folder = tmp_path / "in\x1b[2Jdir"
    folder.mkdir()
    _hostile_manifest(folder / "cm.yaml")
    (folder / "broken\u202e.yaml").write_text("kind: [\n")
    proc = kp("scan", str(folder), "--no-config", "--no-color", "--fail-on", "none")
    assert proc.returncode == 2, proc.stderr  # the broken file
    assert "KP0401" in proc.stdout  # the ConfigMap in 'default' is reported
    assert "\\x1b]0;pwned\\x07" in proc.stdout and "\\u202egnp.exe\\x0acritical" in proc.stdout
    assert "broken\\u202e.yaml" in proc.stderr and "in\\x1b[2Jdir" in proc.stderr
    assert_terminal_safe(proc.stdout + proc.stderr)


def _report(tmp_path: Path, name: str, **changes: object) -> Path:
    doc: dict[str, object] = {
        "tool": {"name": "kubeproof", "version": "1"},
        "findings": [{"code": "KP0401", "severity": "medium", "file": "cm.yaml", "line": 4,
                      "column": 3, "object": {"apiVersion": "v1", "kind": "ConfigMap",
                                              "namespace": "default", "name": HOSTILE},
                      "container": None, "path": "metadata.namespace",
                      "message": HOSTILE, "source": "file"}],
        "errors": [], "warnings": [{"file": HOSTILE, "line": 1, "message": HOSTILE}],
        "summary": {"objects": 1, "files": 1, "suppressed": {HOSTILE: 1}},
        "registries": [{"host": "[/x][bold]reg" + HOSTILE, "reachable": False,
                        "status": None, "latencyMs": None, "auth": "none",
                        "error": "[/red]" + HOSTILE}],
        "run": {"rules": ["KP0401"], "checked": []},
    }
    doc.update(changes)
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_report_of_hostile_json_renders_escaped_text_without_markup(tmp_path: Path) -> None:
    proc = kp("report", str(_report(tmp_path, "r.json")), "--no-color", "--fail-on", "none")
    assert proc.returncode == 0, proc.stderr
    assert "[/x][bold]reg" in proc.stdout  # printed literally, not read as rich markup
    assert "ConfigMap/default/evil" in proc.stdout
    assert_terminal_safe(proc.stdout + proc.stderr)


def test_report_with_wrong_types_is_one_input_error_and_others_still_render(
        tmp_path: Path) -> None:
    good = _report(tmp_path, "good.json")
    wrong = {
        "file-list.json": {"findings": [{"code": "KP0401", "severity": "high", "file": [1]}]},
        "line-str.json": {"errors": [{"file": "a", "line": "7", "message": "m"}]},
        "summary-list.json": {"summary": [1, 2]},
        "host-dict.json": {"registries": [{"host": {"a": 1}}]},
        "checked-bad.json": {"run": {"rules": [], "checked": [[1, 2, 3]]}},
        "object-str.json": {"findings": [{"code": "KP0401", "severity": "high",
                                          "object": "ConfigMap"}]},
        "severity-bad.json": {"findings": [{"code": "KP0401", "severity": HOSTILE}]},
    }
    paths = [str(_report(tmp_path, name, **change)) for name, change in wrong.items()]
    proc = kp("report", *paths, str(good), "--no-color", "-f", "text", "--fail-on", "none")
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line]
    assert len(errors) == len(wrong) + 1  # one per bad file, plus the good file's warning
    for name in wrong:
        assert sum(name in line for line in errors) == 1, (name, errors)
    assert "findings[0].file: expected a string, got a list" in proc.stderr
    assert "ConfigMap/default/evil" in proc.stdout  # the good report is rendered
    assert "Fix these first  1 finding:" in proc.stdout  # nothing from the bad ones
    assert_terminal_safe(proc.stdout + proc.stderr)


def test_rbac_and_netpol_tables_escape_names(tmp_path: Path) -> None:
    name = json.dumps(HOSTILE)
    (tmp_path / "rbac.yaml").write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n"
        f"  name: {name}\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n"
        "  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n"
        f"  - kind: ServiceAccount\n    name: {name}\n    namespace: default\n")
    who = kp("rbac", "who-can", "get", "secrets", str(tmp_path / "rbac.yaml"))
    risky = kp("rbac", "risky", str(tmp_path / "rbac.yaml"))
    for proc in (who, risky):
        assert proc.returncode == 0, proc.stderr
        assert "\\x1b]0;pwned" in proc.stdout
        assert_terminal_safe(proc.stdout + proc.stderr)
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "deploy.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
        f"  name: {name}\n  namespace: default\nspec:\n  selector:\n"
        "    matchLabels: {app: a}\n  template:\n    metadata:\n      labels: {app: a}\n"
        "    spec:\n      containers:\n        - name: c\n          image: nginx:1.27\n")
    reach = kp("netpol", "reach", str(tmp_path / "net"))
    assert reach.returncode == 0, reach.stderr
    assert "\\x1b]0;pwned" in reach.stdout
    assert_terminal_safe(reach.stdout + reach.stderr)


def test_images_table_escapes_names(tmp_path: Path) -> None:
    name = json.dumps(HOSTILE)
    (tmp_path / "pod.yaml").write_text(
        f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n"
        "    - name: c\n      image: '[bold]nginx:1.27'\n")
    proc = kp("images", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "[bold]nginx" in proc.stdout  # literal, not rich markup
    assert_terminal_safe(proc.stdout + proc.stderr, folded=True)


def test_a_file_name_that_is_not_utf8_shows_its_bytes_in_every_format(tmp_path: Path) -> None:
    """Python reads such a name with surrogates, which JSON, SARIF, HTML and a
    terminal cannot carry: every report shows the odd byte as ``\\xff``."""
    import os

    from kubeproof.cli.main import FORMATS

    folder = os.fsencode(tmp_path)
    with open(os.path.join(folder, b"bad\xff.yaml"), "wb") as fh:
        fh.write(b"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
                 b"spec: {containers: [{name: c, image: nginx}]}\n")
    for fmt in FORMATS:
        proc = kp_bytes("scan", "--no-config", "--fail-on", "none", "-f", fmt, str(tmp_path))
        assert proc.returncode == 0, (fmt, proc.stderr)
        assert b"xff.yaml" in proc.stdout, fmt  # \\xff escaped (SARIF: %5Cxff in a URI)
