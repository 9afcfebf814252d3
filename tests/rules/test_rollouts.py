from kubeproof.config import Config
from tests.helpers import findings, fixture, hits


def fx(name: str) -> str:
    return fixture("rollouts", name)


# KP1301 no-readiness-probe

def test_readiness_flags_containers_and_native_sidecars_not_init_containers() -> None:
    assert hits(fx("readiness_fail.yaml"), "KP1301") == [
        ("KP1301", 17),  # native sidecar "proxy" (restartPolicy: Always)
        ("KP1301", 21),  # "app" has only a liveness probe
        ("KP1301", 31),  # an empty probe has no handler
    ]


def test_readiness_names_the_container_and_kind_of_container() -> None:
    fs = findings(fx("readiness_fail.yaml"), "KP1301")
    assert [f.container for f in fs] == ["proxy", "app", "empty-probe"]
    assert fs[0].message == 'sidecar "proxy" has no readinessProbe'
    assert fs[1].path == "spec.template.spec.containers[0].readinessProbe"


def test_readiness_checks_bare_pods_but_not_ephemeral_containers() -> None:
    assert hits(fx("readiness_pod_fail.yaml"), "KP1301") == [("KP1301", 8)]


def test_readiness_passes_probed_workloads_and_batch_kinds() -> None:
    assert hits(fx("readiness_pass.yaml"), "KP1301") == []


def test_rollout_rules_survive_malformed_fields() -> None:
    for code in ("KP1301", "KP1302", "KP1303", "KP1307"):
        assert hits(fx("malformed_pass.yaml"), code) == [], code


# KP1302 unsafe-rollout-strategy

def test_unsafe_strategy_flags_each_unsafe_form() -> None:
    assert hits(fx("strategy_fail.yaml"), "KP1302") == [
        ("KP1302", 9),   # Deployment Recreate
        ("KP1302", 21),  # maxUnavailable == replicas
        ("KP1302", 31),  # 100% with default replicas
        ("KP1302", 41),  # StatefulSet OnDelete
        ("KP1302", 50),  # DaemonSet OnDelete
        ("KP1302", 57),  # extensions/v1beta1 DaemonSet defaults to OnDelete (spec line)
    ]


def test_unsafe_strategy_message_names_the_numbers() -> None:
    fs = findings(fx("strategy_fail.yaml"), "KP1302")
    assert "maxUnavailable: 3 of 3 replicas" in fs[1].message
    assert fs[1].path == "spec.strategy.rollingUpdate.maxUnavailable"


def test_safe_strategies_pass() -> None:
    assert hits(fx("strategy_pass.yaml"), "KP1302") == []


# KP1303 single-replica

def test_single_replica_flags_explicit_and_defaulted_replicas() -> None:
    assert hits(fx("replicas_fail.yaml"), "KP1303") == [
        ("KP1303", 7),   # replicas: 1
        ("KP1303", 14),  # no replicas: points at spec
    ]


def test_single_replica_skips_enough_zero_templated_and_other_kinds() -> None:
    assert hits(fx("replicas_pass.yaml"), "KP1303") == []


def test_single_replica_honours_min_replicas_setting() -> None:
    config = Config(min_replicas=3)
    assert hits(fx("replicas_pass.yaml"), "KP1303", config=config) == [("KP1303", 7)]
    assert hits(fx("replicas_pass.yaml"), "KP1303", config=Config(min_replicas=1)) == []


# KP1307 no-rollback-history

def test_no_rollback_history_flags_zero() -> None:
    assert hits(fx("history_fail.yaml"), "KP1307") == [("KP1307", 8)]


def test_no_rollback_history_passes_positive_missing_and_wrong_types() -> None:
    assert hits(fx("history_pass.yaml"), "KP1307") == []
