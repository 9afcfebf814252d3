"""Namespace rules across files and inputs; the per-file cases are fixtures in
tests/rules/KP040x/."""

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import hits

NO_QUOTA = Path(__file__).parent / "KP0403" / "fail-no-quota.yaml"


def test_quota_and_limits_in_another_file_of_the_set_count(tmp_path: Path) -> None:
    # the Namespace and the workload in one file, quota and limits in another
    (tmp_path / "a.yaml").write_text(NO_QUOTA.read_text())
    (tmp_path / "b.yaml").write_text(
        "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: q, namespace: shop}\n---\n"
        "apiVersion: v1\nkind: LimitRange\nmetadata: {name: l, namespace: shop}\n")
    assert hits(tmp_path, "KP0403") == [] and hits(tmp_path, "KP0404") == []


def test_set_rules_locate_objects_read_from_stdin() -> None:
    text = NO_QUOTA.read_text()
    proc = subprocess.run([sys.executable, "-m", "kubeproof", "scan", "-", "--no-config",
                           "--select", "KP0403", "-f", "json"], input=text,
                          capture_output=True, text=True, timeout=60)
    found = [(f["file"], f["line"]) for f in json.loads(proc.stdout)["findings"]]
    assert found == [("<stdin>", 4)]
