"""No report format, log line or error message ever prints a secret's value."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import kp
from tests.support.paths import ROOT

SECRETS = (ROOT / "tests" / "rules" / "fixtures" / "secrets",
           *sorted((ROOT / "tests" / "rules").glob("KP100[1-5]")))  # rule fixture folders
# literal values in the fixtures that KP1003 / KP1004 flag
VALUES = [
    "Sup3rS3cret!", "correct horse battery staple", "Zx8-vQ2_lmN0pRtK",
    "AKIAIOSFODNN7EXAMPLE", "tiger123", "8Jd92kLq0ZxN4vB7mR1tY6wP3sE5uA2c",
    "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "czNjcjN0LXBhc3N3b3Jk",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "hunter2-but-longer",
]


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "junit", "html", "codequality",
                                 "policyreport"])
def test_reports_name_keys_never_values(fmt: str, tmp_path: Path) -> None:
    # a broken document holding a secret: the error message must not echo it either
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: v1\nkind: Secret\nstringData:\n  token: [hunter2-but-longer\n")
    proc = kp(
        "scan", *map(str, SECRETS), str(ROOT / "examples" / "bad"),
        str(broken), "--no-config", "--format", fmt, "--fail-on", "none")
    assert proc.returncode == 2  # the broken file
    out = proc.stdout + proc.stderr
    assert "KP1003" in out and "KP1004" in out
    leaked = [v for v in VALUES if v in out]
    assert leaked == []


def test_tagged_value_errors_do_not_echo_the_value(tmp_path: Path) -> None:
    from kubeproof.api import scan

    path = tmp_path / "tagged.yaml"
    path.write_text("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"
                    "data:\n  port: !!int Sup3rS3cret!\n")
    result = scan([str(path)])
    assert [str(e) for e in result.errors] == [
        f"{path}:6: a value does not match its YAML tag !!int"]


def test_fix_diff_masks_secret_values_in_its_context_lines(tmp_path: Path) -> None:
    import shutil

    for src in (*SECRETS, ROOT / "examples" / "bad"):
        shutil.copytree(src, tmp_path / src.name)
    proc = kp(
        "fix", str(tmp_path), "--no-config", "--diff", "--namespace", "shop")
    assert proc.returncode == 1, proc.stderr  # something to fix
    out = proc.stdout + proc.stderr
    assert out.count("\n+++ ") + out.startswith("+++ ") > 3
    assert "********" in proc.stdout and "secret values are masked" in proc.stderr
    assert [v for v in VALUES if v in out] == []
