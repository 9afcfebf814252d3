from tests.helpers import fixture, hits


def test_default_namespace_flags_the_namespace_line() -> None:
    assert hits(fixture("namespaces", "default_ns_fail.yaml"), "KP0401") == [("KP0401", 5)]


def test_default_namespace_passes_other_namespaces_and_cluster_kinds() -> None:
    assert hits(fixture("namespaces", "namespaced_pass.yaml"), "KP0401") == []


def test_namespace_unset_points_at_metadata() -> None:
    assert hits(fixture("namespaces", "ns_unset_fail.yaml"), "KP0402") == [("KP0402", 3)]


def test_namespace_unset_ignores_cluster_scoped_kinds() -> None:
    assert hits(fixture("namespaces", "namespaced_pass.yaml"), "KP0402") == []
