import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import fixture, hits


def test_default_namespace_flags_the_namespace_line() -> None:
    assert hits(fixture("namespaces", "default_ns_fail.yaml"), "KP0401") == [("KP0401", 5)]


def test_default_namespace_passes_other_namespaces_and_cluster_kinds() -> None:
    assert hits(fixture("namespaces", "namespaced_pass.yaml"), "KP0401") == []


def test_namespace_unset_points_at_metadata() -> None:
    assert hits(fixture("namespaces", "ns_unset_fail.yaml"), "KP0402") == [("KP0402", 3)]


def test_namespace_unset_ignores_cluster_scoped_kinds() -> None:
    assert hits(fixture("namespaces", "namespaced_pass.yaml"), "KP0402") == []


def test_namespace_without_quota_or_limits_is_reported_at_its_name() -> None:
    path = fixture("namespaces", "quota_fail.yaml")
    assert hits(path, "KP0403") == [("KP0403", 4)]
    assert hits(path, "KP0404") == [("KP0404", 4)]


def test_quota_and_limits_in_another_file_of_the_set_count(tmp_path: Path) -> None:
    # the Namespace and the workload in one file, quota and limits in another
    (tmp_path / "a.yaml").write_text(Path(fixture("namespaces", "quota_fail.yaml")).read_text())
    (tmp_path / "b.yaml").write_text(
        "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: q, namespace: shop}\n---\n"
        "apiVersion: v1\nkind: LimitRange\nmetadata: {name: l, namespace: shop}\n")
    assert hits(tmp_path, "KP0403") == [] and hits(tmp_path, "KP0404") == []


def test_quota_pass_fixture() -> None:
    path = fixture("namespaces", "quota_pass.yaml")
    assert hits(path, "KP0403") == [] and hits(path, "KP0404") == []


def test_set_rules_locate_objects_read_from_stdin() -> None:
    text = Path(fixture("namespaces", "quota_fail.yaml")).read_text()
    proc = subprocess.run([sys.executable, "-m", "kubeproof", "scan", "-", "--no-config",
                           "--select", "KP0403", "-f", "json"], input=text,
                          capture_output=True, text=True, timeout=60)
    found = [(f["file"], f["line"]) for f in json.loads(proc.stdout)["findings"]]
    assert found == [("<stdin>", 4)]
