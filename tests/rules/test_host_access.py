"""Host access rules KP0820–KP0823: what the fixtures cannot state.

The lines each rule finds are fixtures in ``tests/rules/KP08xx/`` (run by
test_rule_fixtures.py); here: the finding fields besides the line (container,
path, message) and the messages that change with the Kubernetes version.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers import findings

RULES = Path(__file__).parent


def rule_fixture(code: str, name: str) -> str:
    """A fixture of a rule's folder: its lines are stated by its ``# expect:`` marks."""
    path = RULES / code / name
    assert path.is_file(), f"missing fixture {path}"
    return str(path)


def test_writable_host_path_names_each_writable_mount() -> None:
    found = findings(rule_fixture("KP0820", "fail-writable-mounts.yaml"), "KP0820")
    assert [f.container for f in found] == ["prepare", "agent", "agent"]
    assert 'hostPath /var/log (volume "varlog") at /var/log' in found[1].message
    assert found[1].path.endswith("volumeMounts[0].readOnly")


def test_writable_host_path_names_runtime_sockets() -> None:
    found = findings(rule_fixture("KP0820", "fail-runtime-sockets.yaml"), "KP0820")
    # the socket reached through subPath (scanner), then the socket volume once per
    # container (the docker container mounts it twice)
    assert "container runtime socket /run/containerd/containerd.sock" in found[0].message
    assert {f.container for f in found[1:]} == {"docker", "scanner"}
    assert found[1].path == "spec.volumes[0].hostPath.path"


def test_writable_root_filesystem_messages_show_the_value() -> None:
    messages = [f.message for f in findings(
        rule_fixture("KP0821", "fail-every-container-kind.yaml"), "KP0821")]
    assert messages[0] == 'container "migrate" does not set readOnlyRootFilesystem: true'
    assert messages[1] == 'container "app" sets readOnlyRootFilesystem: false'
    assert messages[3] == 'container "typo" sets readOnlyRootFilesystem: "true"'


def test_pod_security_policy_suggests_privileged_level() -> None:
    msg = findings(rule_fixture("KP0822", "fail-privileged.yaml"), "KP0822")[0].message
    assert "removed in Kubernetes 1.25" in msg
    assert "pod-security.kubernetes.io/enforce" in msg
    assert '"privileged" (it allows hostNetwork, hostPath volumes, capabilities NET_ADMIN)' in msg


def test_pod_security_policy_suggests_restricted_or_baseline() -> None:
    path = rule_fixture("KP0822", "fail-restricted-baseline-malformed.yaml")
    restricted, default, malformed = (f.message for f in findings(path, "KP0822"))
    assert restricted.endswith('set to "restricted"')
    assert 'set to "baseline" (restricted would also forbid privilege escalation' in default
    assert '"baseline"' in malformed


def test_pod_security_policy_before_removal_says_deprecated() -> None:
    path = rule_fixture("KP0822", "fail-privileged.yaml")
    msg = findings(path, "KP0822", kube_version=(1, 24))[0].message
    assert "is deprecated and removed in Kubernetes 1.25" in msg


def test_namespace_pss_label_messages() -> None:
    path = rule_fixture("KP0823", "fail-missing-or-privileged.yaml")
    messages = [f.message for f in findings(path, "KP0823")]
    assert messages[0] == 'namespace "shop" has no pod-security.kubernetes.io/enforce label'
    assert messages[2] == ('namespace "monitoring" enforces the privileged Pod Security level '
                           "(pod-security.kubernetes.io/enforce: privileged)")
