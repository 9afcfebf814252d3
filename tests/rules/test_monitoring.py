from tests.helpers import findings, fixture, hits


def fx(name: str) -> str:
    return fixture("monitoring", name)


# KP1401 no-liveness-probe

def test_liveness_flags_containers_and_sidecars_not_one_shot_init() -> None:
    assert hits(fx("liveness_fail.yaml"), "KP1401") == [
        ("KP1401", 18),  # native sidecar "log-shipper"
        ("KP1401", 22),  # "db" has only a readiness probe
    ]
    assert [f.container for f in findings(fx("liveness_fail.yaml"), "KP1401")] == [
        "log-shipper", "db"]


def test_liveness_passes_probed_containers_and_cronjobs() -> None:
    assert hits(fx("liveness_pass.yaml"), "KP1401") == []


# KP1402 identical-probes

def test_identical_probes_points_at_liveness_probe() -> None:
    assert hits(fx("identical_fail.yaml"), "KP1402") == [("KP1402", 16)]
    (f,) = findings(fx("identical_fail.yaml"), "KP1402")
    assert f.container == "web"
    assert f.path == "spec.template.spec.containers[0].livenessProbe"


def test_probes_differing_in_any_field_or_missing_or_empty_pass() -> None:
    assert hits(fx("identical_pass.yaml"), "KP1402") == []


# KP1403 no-resource-requests

def test_requests_one_finding_per_container_naming_what_is_missing() -> None:
    assert hits(fx("resources_fail.yaml"), "KP1403") == [
        ("KP1403", 11),  # init container, nothing set
        ("KP1403", 14),  # nothing set
        ("KP1403", 19),  # cpu only: points at requests
        ("KP1403", 29),  # resources is a string
    ]
    messages = [f.message for f in findings(fx("resources_fail.yaml"), "KP1403")]
    assert messages[0] == 'container "migrate" requests neither cpu nor memory'
    assert messages[2] == 'container "cpu-only" has no memory request'


def test_requests_defaulted_from_limits_count() -> None:
    # "limits-only" (line 21) sets cpu and memory limits: not reported
    assert ("KP1403", 21) not in hits(fx("resources_fail.yaml"), "KP1403")
    # the init container of the CronJob has only a memory limit: cpu is missing
    assert hits(fx("memory_limit_fail.yaml"), "KP1403") == [("KP1403", 15)]


def test_pod_level_resources_and_ephemeral_containers_pass() -> None:
    assert hits(fx("resources_pod_pass.yaml"), "KP1403") == []
    assert hits(fx("resources_pod_pass.yaml"), "KP1404") == []


# KP1404 no-memory-limit

def test_memory_limit_flags_containers_without_one() -> None:
    assert hits(fx("memory_limit_fail.yaml"), "KP1404") == [("KP1404", 25)]
    assert hits(fx("resources_fail.yaml"), "KP1404") == [
        ("KP1404", 11), ("KP1404", 14), ("KP1404", 18), ("KP1404", 29)]


def test_memory_limit_passes_bounded_containers_and_skips_ephemeral() -> None:
    assert hits(fx("memory_limit_pass.yaml"), "KP1404") == []
