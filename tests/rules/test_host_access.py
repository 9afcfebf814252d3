from pathlib import Path

from tests.helpers import findings, fixture, hits


def test_writable_host_path_flags_each_writable_mount() -> None:
    path = fixture("host_access", "hostpath_writable_fail.yaml")
    assert hits(path, "KP0820") == [("KP0820", 21), ("KP0820", 26), ("KP0820", 35)]
    found = findings(path, "KP0820")
    assert [f.container for f in found] == ["prepare", "agent", "agent"]
    assert 'hostPath /var/log (volume "varlog") at /var/log' in found[1].message
    assert found[1].path.endswith("volumeMounts[0].readOnly")


def test_writable_host_path_flags_runtime_sockets_even_read_only() -> None:
    path = fixture("host_access", "hostpath_socket_fail.yaml")
    # one finding per container and socket (the docker container mounts it twice),
    # the socket reached through subPath points at the subPath
    assert hits(path, "KP0820") == [("KP0820", 25), ("KP0820", 30), ("KP0820", 30)]
    found = findings(path, "KP0820")
    assert {f.container for f in found if f.line == 30} == {"docker", "scanner"}
    assert "container runtime socket /run/containerd/containerd.sock" in found[0].message
    assert found[1].path == "spec.volumes[0].hostPath.path"


def test_writable_host_path_passes_read_only_unmounted_and_malformed() -> None:
    assert hits(fixture("host_access", "hostpath_readonly_pass.yaml"), "KP0820") == []


def test_writable_root_filesystem_flags_every_container_kind() -> None:
    path = fixture("host_access", "rootfs_fail.yaml")
    # the pod-level readOnlyRootFilesystem is not a real field and is not inherited
    assert hits(path, "KP0821") == [("KP0821", 19), ("KP0821", 25), ("KP0821", 28),
                                    ("KP0821", 37), ("KP0821", 41)]
    messages = [f.message for f in findings(path, "KP0821")]
    assert messages[0] == 'container "migrate" does not set readOnlyRootFilesystem: true'
    assert messages[1] == 'container "app" sets readOnlyRootFilesystem: false'
    assert messages[3] == 'container "typo" sets readOnlyRootFilesystem: "true"'


def test_writable_root_filesystem_passes_read_only_windows_and_non_workloads() -> None:
    assert hits(fixture("host_access", "rootfs_pass.yaml"), "KP0821") == []


def test_pod_security_policy_suggests_privileged_level() -> None:
    path = fixture("host_access", "psp_privileged_fail.yaml")
    assert hits(path, "KP0822") == [("KP0822", 2)]
    msg = findings(path, "KP0822")[0].message
    assert "removed in Kubernetes 1.25" in msg
    assert "pod-security.kubernetes.io/enforce" in msg
    assert '"privileged" (it allows hostNetwork, hostPath volumes, capabilities NET_ADMIN)' in msg


def test_pod_security_policy_suggests_restricted_or_baseline() -> None:
    path = fixture("host_access", "psp_restricted_fail.yaml")
    assert hits(path, "KP0822") == [("KP0822", 2), ("KP0822", 35), ("KP0822", 47)]
    restricted, default, malformed = (f.message for f in findings(path, "KP0822"))
    assert restricted.endswith('set to "restricted"')
    assert 'set to "baseline" (restricted would also forbid privilege escalation' in default
    assert '"baseline"' in malformed


def test_pod_security_policy_before_removal_says_deprecated() -> None:
    path = fixture("host_access", "psp_privileged_fail.yaml")
    msg = findings(path, "KP0822", kube_version=(1, 24))[0].message
    assert "is deprecated and removed in Kubernetes 1.25" in msg


def test_pod_security_policy_ignores_other_kinds() -> None:
    assert hits(fixture("host_access", "rootfs_pass.yaml"), "KP0822") == []


# KP0823 namespace-no-pss-label

def test_namespace_without_enforce_label_or_enforcing_privileged() -> None:
    path = fixture("host_access", "pss_label_fail.yaml")
    assert hits(path, "KP0823") == [
        ("KP0823", 3),   # no labels at all: metadata
        ("KP0823", 10),  # labels, but no enforce
        ("KP0823", 19),  # enforce: privileged
    ]
    messages = [f.message for f in findings(path, "KP0823")]
    assert messages[0] == 'namespace "shop" has no pod-security.kubernetes.io/enforce label'
    assert messages[2] == ('namespace "monitoring" enforces the privileged Pod Security level '
                           "(pod-security.kubernetes.io/enforce: privileged)")


def test_namespace_pss_label_passes_levels_and_system_namespaces() -> None:
    assert hits(fixture("host_access", "pss_label_pass.yaml"), "KP0823") == []


def test_namespace_pss_label_can_be_ignored_by_annotation(tmp_path: Path) -> None:
    (tmp_path / "ns.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: rook-ceph\n  labels:\n"
        "    pod-security.kubernetes.io/enforce: privileged\n  annotations:\n"
        "    kubeproof.dev/ignore: KP0823\n"
        "    kubeproof.dev/ignore-reason: Ceph OSDs need privileged pods\n")
    assert hits(tmp_path, "KP0823") == []
    (tmp_path / "ns.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: rook-ceph\n  labels:\n"
        "    pod-security.kubernetes.io/enforce: privileged\n")
    assert hits(tmp_path, "KP0823") == [("KP0823", 6)]
