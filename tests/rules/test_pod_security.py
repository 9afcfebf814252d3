"""Pod Security Standards rules KP0801–KP0819: what the fixtures cannot state.

The lines each rule finds, per version and level, are fixtures in
``tests/rules/KP08xx/`` (run by test_rule_fixtures.py). Here: whole pods that
pass all nineteen checks at once, robustness against wrong types, the level
filter over the whole set, and the finding fields besides the line (container,
kind, path, severity, message).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproof.core.catalogue import load_rules
from kubeproof.model import Severity
from tests.helpers import findings, fixture, run

PSS = tuple(f"KP08{n:02d}" for n in range(1, 20))
RESTRICTED_ONLY = {"KP0812", "KP0813", "KP0814", "KP0815", "KP0816", "KP0817", "KP0819"}
RULES = Path(__file__).parent


def rule_fixture(code: str, name: str) -> str:
    """A fixture of a rule's folder: its lines are stated by its ``# expect:`` marks."""
    path = RULES / code / name
    assert path.is_file(), f"missing fixture {path}"
    return str(path)


def pss_codes(path: str, **kw: object) -> list[tuple[str, int]]:
    result = run(path, select=PSS, **kw)  # type: ignore[arg-type]
    assert not result.errors, result.errors
    return sorted((f.rule.code, f.line) for f in result.findings)


# ------------------------------------------------------------------ the whole set


RESTRICTED_POD = fixture("pod_security", "restricted_pass.yaml")
WINDOWS_POD = rule_fixture("KP0801", "pass-windows.yaml")
WRONG_TYPES = fixture("pod_security", "wrong_types.yaml")


@pytest.mark.parametrize(("path", "version"), [
    # pod-level runAsNonRoot and seccompProfile are inherited by every container
    (RESTRICTED_POD, (1, 18)), (RESTRICTED_POD, (1, 25)), (RESTRICTED_POD, (1, 31)),
    (RESTRICTED_POD, (1, 37)),
    # from 1.25 a Windows pod is exempt from the Linux-only checks (before: KP0813,
    # KP0816, KP0817/fail-windows-before-1-25.yaml)
    (WINDOWS_POD, (1, 25)), (WINDOWS_POD, (1, 37)),
])
def test_restricted_pods_pass_every_check(path: str, version: tuple[int, int]) -> None:
    assert pss_codes(path, kube_version=version) == []


@pytest.mark.parametrize("version", [(1, 0), (1, 18), (1, 37)])
def test_wrong_typed_fields_never_raise(version: tuple[int, int]) -> None:
    result = run(WRONG_TYPES, select=PSS, kube_version=version)
    assert not result.errors, result.errors


# ------------------------------------------------------------------ finding fields


def test_privileged_init_container_in_cronjob() -> None:
    found = findings(rule_fixture("KP0803", "fail-cronjob-init-container.yaml"), "KP0803")
    assert [(f.container, f.kind) for f in found] == [("sysctl", "CronJob")]
    assert found[0].severity is Severity.HIGH
    assert found[0].message == 'container "sysctl" must not set securityContext.privileged=true'


def test_capabilities_baseline_names_only_non_default_capabilities() -> None:
    found = findings(rule_fixture("KP0804", "fail-non-default.yaml"), "KP0804")
    assert '"NET_RAW", "NET_ADMIN"' in found[0].message
    assert "CHOWN" not in found[0].message


def test_apparmor_findings_name_their_container() -> None:
    found = findings(rule_fixture("KP0807", "fail-annotation-and-fields.yaml"), "KP0807")
    # the annotation of "app", the pod-level field, the field of "side"
    assert [f.container for f in found] == ["app", None, "side"]


def test_seccomp_annotations_name_their_container() -> None:
    found = findings(rule_fixture("KP0810", "fail-annotations-before-1-19.yaml"), "KP0810",
                     kube_version=(1, 18))
    # the pod annotation, the annotation of "side"
    assert [f.container for f in found] == [None, "side"]


def test_restricted_volume_types_point_at_the_volume_source() -> None:
    found = findings(rule_fixture("KP0812", "fail-inline-volumes.yaml"), "KP0812")
    assert [f.path for f in found] == ["spec.volumes[1].nfs", "spec.volumes[4].gitRepo"]
    assert found[0].severity is Severity.MEDIUM


def test_allow_privilege_escalation_names_the_container() -> None:
    found = findings(rule_fixture("KP0813", "fail-init-and-unset.yaml"), "KP0813")
    assert [f.container for f in found] == ["init", "app"]
    assert found[1].message == (
        'container "app" must set securityContext.allowPrivilegeEscalation=false')


def test_capabilities_restricted_drop_all_and_default_set_adds() -> None:
    found = findings(rule_fixture("KP0817", "fail-drop-all-and-default-adds.yaml"), "KP0817")
    assert [(f.container, f.path.rsplit(".", 1)[-1]) for f in found] == [
        ("net", "drop"), ("net", "add"), ("lower", "drop")]  # "all" is not "ALL"
    assert "CHOWN" in found[1].message and "NET_RAW" not in found[1].message


# ------------------------------------------------------------------ levels


def test_baseline_level_keeps_only_baseline_codes() -> None:
    result = run(rule_fixture("KP0804", "fail-non-default.yaml"), select=PSS,
                 pss_level="baseline")
    assert [(f.rule.code, f.line) for f in result.findings] == [("KP0804", 12)]


def test_rules_evaluate_the_restricted_set_whatever_the_level() -> None:
    path = rule_fixture("KP0812", "fail-inline-volumes.yaml")
    restricted = {c for c, _ in pss_codes(path)}
    baseline = {c for c, _ in pss_codes(path, pss_level="baseline")}
    assert baseline == {"KP0805"}
    assert restricted - baseline <= RESTRICTED_ONLY
    assert {"KP0812", "KP0813", "KP0814", "KP0816", "KP0817"} <= restricted


def test_severities_follow_the_level() -> None:
    rules = load_rules()
    for code in PSS:
        expected = Severity.MEDIUM if code in RESTRICTED_ONLY else Severity.HIGH
        assert rules[code].severity is expected, code
