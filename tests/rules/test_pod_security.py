"""Pod Security Standards rules KP0801–KP0819: exact lines, versions and levels."""

from __future__ import annotations

import pytest

from kubeproof.model import Severity
from tests.helpers import findings, fixture, hits, run

PSS = tuple(f"KP08{n:02d}" for n in range(1, 20))
RESTRICTED_ONLY = {"KP0812", "KP0813", "KP0814", "KP0815", "KP0816", "KP0817", "KP0819"}


def fx(name: str) -> str:
    return fixture("pod_security", name)


def pss_codes(name: str, **kw: object) -> list[tuple[str, int]]:
    result = run(fx(name), select=PSS, **kw)  # type: ignore[arg-type]
    assert not result.errors, result.errors
    return sorted((f.rule.code, f.line) for f in result.findings)


# ------------------------------------------------------------------ passing manifests


@pytest.mark.parametrize("version", [(1, 18), (1, 25), (1, 31), (1, 37)])
def test_restricted_pod_deployment_and_cronjob_pass_every_check(version: tuple[int, int]) -> None:
    # pod-level runAsNonRoot and seccompProfile are inherited by every container
    assert pss_codes("restricted_pass.yaml", kube_version=version) == []


def test_windows_pod_is_exempt_from_linux_only_checks_from_1_25() -> None:
    assert pss_codes("windows_pass.yaml", kube_version=(1, 37)) == []
    assert pss_codes("windows_pass.yaml", kube_version=(1, 25)) == []
    assert pss_codes("windows_pass.yaml", kube_version=(1, 24)) == [
        ("KP0813", 12), ("KP0816", 12), ("KP0817", 12)]


@pytest.mark.parametrize("version", [(1, 0), (1, 18), (1, 37)])
def test_wrong_typed_fields_never_raise(version: tuple[int, int]) -> None:
    result = run(fx("wrong_types.yaml"), select=PSS, kube_version=version)
    assert not result.errors, result.errors


def test_wrong_typed_fields_are_reported_where_upstream_cannot_allow_them() -> None:
    odd = [(f.rule.code, f.line) for f in run(fx("wrong_types.yaml"), select=PSS).findings
           if f.name == "odd-values" and f.rule.code not in ("KP0813", "KP0817")]
    assert odd == [("KP0807", 49), ("KP0810", 55), ("KP0807", 56), ("KP0811", 58),
                   ("KP0808", 60), ("KP0809", 70)]


# ------------------------------------------------------------------ baseline checks


def test_host_process_pod_level_and_init_container() -> None:
    assert hits(fx("host_process_fail.yaml"), "KP0801") == [("KP0801", 12), ("KP0801", 18)]
    assert hits(fx("windows_pass.yaml"), "KP0801") == []


def test_host_namespaces_in_deployment_template() -> None:
    assert hits(fx("host_namespaces_fail.yaml"), "KP0802") == [("KP0802", 13), ("KP0802", 14)]
    assert hits(fx("restricted_pass.yaml"), "KP0802") == []


def test_privileged_init_container_in_cronjob() -> None:
    found = findings(fx("privileged_fail.yaml"), "KP0803")
    assert [(f.line, f.container, f.kind) for f in found] == [(17, "sysctl", "CronJob")]
    assert found[0].severity is Severity.HIGH
    assert found[0].message == 'container "sysctl" must not set securityContext.privileged=true'
    assert hits(fx("restricted_pass.yaml"), "KP0803") == []


def test_capabilities_baseline_flags_only_non_default_capabilities() -> None:
    found = findings(fx("capabilities_fail.yaml"), "KP0804")
    assert [(f.code, f.line) for f in found] == [("KP0804", 12)]
    assert '"NET_RAW", "NET_ADMIN"' in found[0].message
    assert "CHOWN" not in found[0].message
    assert hits(fx("capabilities_fail.yaml"), "KP0804", kube_version=(1, 0)) == [("KP0804", 12)]
    assert hits(fx("restricted_pass.yaml"), "KP0804") == []


def test_host_path_volume() -> None:
    assert hits(fx("volumes_fail.yaml"), "KP0805") == [("KP0805", 12)]
    assert hits(fx("restricted_pass.yaml"), "KP0805") == []


def test_host_ports_per_port_including_init_containers() -> None:
    assert hits(fx("host_ports_fail.yaml"), "KP0806") == [("KP0806", 12), ("KP0806", 20)]
    assert hits(fx("restricted_pass.yaml"), "KP0806") == []  # hostPort: 0 is allowed


def test_apparmor_template_annotation_and_fields() -> None:
    found = findings(fx("apparmor_fail.yaml"), "KP0807")
    assert [(f.line, f.container) for f in found] == [(13, "app"), (19, None), (31, "side")]
    assert hits(fx("restricted_pass.yaml"), "KP0807") == []  # localhost/ and RuntimeDefault


def test_selinux_type_user_role_and_1_31_engine_type() -> None:
    assert hits(fx("selinux_fail.yaml"), "KP0808") == [("KP0808", 9), ("KP0808", 16)]
    assert hits(fx("selinux_fail.yaml"), "KP0808", kube_version=(1, 30)) == [
        ("KP0808", 9), ("KP0808", 16), ("KP0808", 21)]
    assert hits(fx("restricted_pass.yaml"), "KP0808") == []


def test_proc_mount_baseline() -> None:
    assert hits(fx("proc_mount_fail.yaml"), "KP0809") == [("KP0809", 11)]
    assert hits(fx("proc_mount_fail.yaml"), "KP0819") == []
    assert hits(fx("restricted_pass.yaml"), "KP0809") == []  # procMount: Default


def test_proc_mount_user_namespace_moves_to_restricted_at_1_35() -> None:
    assert hits(fx("proc_mount_userns.yaml"), "KP0809") == []
    assert hits(fx("proc_mount_userns.yaml"), "KP0819") == [("KP0819", 12)]
    assert hits(fx("proc_mount_userns.yaml"), "KP0809", kube_version=(1, 34)) == [
        ("KP0809", 12)]
    assert hits(fx("proc_mount_userns.yaml"), "KP0819", kube_version=(1, 34)) == []


def test_seccomp_baseline_fields_from_1_19() -> None:
    assert hits(fx("seccomp_fail.yaml"), "KP0810") == [("KP0810", 9), ("KP0810", 17)]
    assert hits(fx("seccomp_fail.yaml"), "KP0810", kube_version=(1, 18)) == []
    assert hits(fx("restricted_pass.yaml"), "KP0810") == []


def test_seccomp_baseline_alpha_annotations_before_1_19() -> None:
    found = findings(fx("seccomp_annotation_fail.yaml"), "KP0810", kube_version=(1, 18))
    # docker/default is allowed; an annotation for a container that does not exist is ignored
    assert [(f.line, f.container) for f in found] == [(7, None), (9, "side")]
    assert hits(fx("seccomp_annotation_fail.yaml"), "KP0810", kube_version=(1, 19)) == []


def test_sysctls_allowed_list_grows_with_the_version() -> None:
    path = fx("sysctls_fail.yaml")
    assert hits(path, "KP0811") == [("KP0811", 11)]
    assert hits(path, "KP0811", kube_version=(1, 36)) == [("KP0811", 11), ("KP0811", 15)]
    assert hits(path, "KP0811", kube_version=(1, 31)) == [
        ("KP0811", 11), ("KP0811", 13), ("KP0811", 15)]
    assert hits(path, "KP0811", kube_version=(1, 28)) == [
        ("KP0811", 11), ("KP0811", 13), ("KP0811", 15), ("KP0811", 19)]
    assert hits(path, "KP0811", kube_version=(1, 26)) == [
        ("KP0811", 11), ("KP0811", 13), ("KP0811", 15), ("KP0811", 17), ("KP0811", 19)]
    assert hits(fx("restricted_pass.yaml"), "KP0811") == []


def test_host_probes_and_lifecycle_from_1_34() -> None:
    path = fx("host_probes_fail.yaml")
    assert hits(path, "KP0818") == [("KP0818", 14), ("KP0818", 22), ("KP0818", 33)]
    assert hits(path, "KP0818", kube_version=(1, 33)) == []
    assert hits(fx("restricted_pass.yaml"), "KP0818") == []  # host: "" is allowed


# ------------------------------------------------------------------ restricted checks


def test_restricted_volume_types_leave_host_path_to_kp0805() -> None:
    found = findings(fx("volumes_fail.yaml"), "KP0812")
    assert [(f.line, f.path) for f in found] == [
        (15, "spec.volumes[1].nfs"), (22, "spec.volumes[4].gitRepo")]
    assert found[0].severity is Severity.MEDIUM


def test_allow_privilege_escalation_from_1_8() -> None:
    path = fx("privilege_escalation_fail.yaml")
    found = findings(path, "KP0813")
    assert [(f.line, f.container) for f in found] == [(11, "init"), (13, "app")]
    assert found[1].message == (
        'container "app" must set securityContext.allowPrivilegeEscalation=false')
    assert hits(path, "KP0813", kube_version=(1, 7)) == []


def test_run_as_non_root_container_level() -> None:
    assert hits(fx("run_as_non_root_fail.yaml"), "KP0814") == [("KP0814", 8), ("KP0814", 17)]


def test_run_as_non_root_pod_false_is_reported_once_at_pod_level() -> None:
    assert hits(fx("run_as_non_root_pod_false.yaml"), "KP0814") == [("KP0814", 8)]


def test_run_as_user_zero_from_1_23() -> None:
    assert hits(fx("run_as_user_fail.yaml"), "KP0815") == [("KP0815", 9), ("KP0815", 14)]
    assert hits(fx("run_as_user_fail.yaml"), "KP0815", kube_version=(1, 22)) == []


def test_run_as_checks_relaxed_for_user_namespaces_from_1_35() -> None:
    path = fx("proc_mount_userns.yaml")
    assert hits(path, "KP0814") == []
    assert hits(path, "KP0815") == []
    assert hits(path, "KP0814", kube_version=(1, 34)) == [("KP0814", 11)]
    assert hits(path, "KP0815", kube_version=(1, 34)) == [("KP0815", 13)]


def test_seccomp_restricted_missing_profile_with_container_override() -> None:
    path = fx("seccomp_unset_fail.yaml")
    assert hits(path, "KP0816") == [("KP0816", 14)]
    assert hits(path, "KP0816", kube_version=(1, 18)) == []


def test_seccomp_restricted_does_not_repeat_an_explicit_bad_pod_profile() -> None:
    assert hits(fx("seccomp_fail.yaml"), "KP0816") == []


def test_capabilities_restricted_drop_all_and_default_set_adds_from_1_22() -> None:
    path = fx("capabilities_fail.yaml")
    found = findings(path, "KP0817")
    assert [(f.line, f.container, f.path.rsplit(".", 1)[-1]) for f in found] == [
        (11, "net", "drop"), (12, "net", "add"), (23, "lower", "drop")]  # "all" is not "ALL"
    assert "CHOWN" in found[1].message and "NET_RAW" not in found[1].message
    assert hits(path, "KP0817", kube_version=(1, 21)) == []


# ------------------------------------------------------------------ levels


def test_baseline_level_keeps_only_baseline_codes() -> None:
    result = run(fx("capabilities_fail.yaml"), select=PSS, pss_level="baseline")
    assert [(f.rule.code, f.line) for f in result.findings] == [("KP0804", 12)]


def test_rules_evaluate_the_restricted_set_whatever_the_level() -> None:
    restricted = {c for c, _ in pss_codes("volumes_fail.yaml")}
    baseline = {c for c, _ in pss_codes("volumes_fail.yaml", pss_level="baseline")}
    assert baseline == {"KP0805"}
    assert restricted - baseline <= RESTRICTED_ONLY
    assert {"KP0812", "KP0813", "KP0814", "KP0816", "KP0817"} <= restricted


def test_severities_follow_the_level() -> None:
    from kubeproof.core.catalogue import load_rules

    rules = load_rules()
    for code in PSS:
        expected = Severity.MEDIUM if code in RESTRICTED_ONLY else Severity.HIGH
        assert rules[code].severity is expected, code
