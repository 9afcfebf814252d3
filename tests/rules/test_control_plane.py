from pathlib import Path

from kubeproof.k8s.flags import APISERVER, ETCD, KUBELET, MAX_TOKENS, read_flags
from kubeproof.k8s.workloads import ContainerView
from tests.helpers import findings, fixture, hits, marked, run

CODES = ("KP0709", "KP0710", "KP1006", "KP1406", "KP1605")


def cp(name: str) -> str:
    return fixture("control_plane", name)


def lines(path: str, code: str) -> list[int]:
    return [line for _, line in hits(path, code)]


def test_rules_are_cluster_scoped() -> None:
    from kubeproof.core.catalogue import load_rules

    rules = load_rules()
    assert {rules[c].scope for c in (*CODES, "KP0711")} == {"cluster"}


def test_hardened_kubeadm_manifests_pass() -> None:
    for name in ("kubeadm_pass.yaml", "etcd_kubeadm_pass.yaml"):
        for code in CODES:
            assert hits(cp(name), code) == [], (name, code)


def test_kubeadm_default_apiserver_lacks_the_hardening_flags() -> None:
    path = cp("kubeadm_default_fail.yaml")
    kp0709 = findings(path, "KP0709")
    assert [f.line for f in kp0709] == marked(path, "KP0709") == [14]  # the command list
    for flag in ("--anonymous-auth=false", "--profiling=false", "--kubelet-certificate-authority"):
        assert flag in kp0709[0].message
    assert "AlwaysAllow" not in kp0709[0].message and "RBAC" not in kp0709[0].message
    assert "--encryption-provider-config" in findings(path, "KP1006")[0].message
    assert hits(path, "KP0710") == []  # kubeadm gives the apiserver its etcd client certificate


def test_insecure_apiserver_flags_each_item() -> None:
    path = cp("insecure_fail.yaml")
    found = findings(path, "KP0709")
    assert [f.line for f in found] == [10, 13, 14]
    assert "AlwaysAllow" in found[1].message and "RBAC" in found[1].message
    assert found[2].container == "kube-apiserver"
    kp1605 = findings(path, "KP1605")
    assert "AlwaysAdmit" in kp1605[0].message and "NodeRestriction" in kp1605[0].message
    assert lines(path, "KP0710") == [10]


def test_space_separated_flags_and_repeated_list_flags() -> None:
    path = cp("args_form_fail.yaml")
    # modes accumulate (Node,Webhook,RBAC,AlwaysAllow): RBAC is present, AlwaysAllow too;
    # a bare --anonymous-auth means true; the missing flags are reported at the args list
    assert lines(path, "KP0709") == [11, 18, 19]


def test_image_only_apiserver_uses_defaults() -> None:
    path = cp("image_only_fail.yaml")
    kp0709 = findings(path, "KP0709")
    assert [(f.line, f.path) for f in kp0709] == [(14, "spec.containers[0].args")]
    assert "AlwaysAllow" in kp0709[0].message and "--anonymous-auth=false" in kp0709[0].message
    # the init container waits for etcd with `nc -z etcd 2379`: it is no etcd
    assert lines(path, "KP0710") == [14]


def test_hyperkube_authorization_config_and_last_values() -> None:
    path = cp("hyperkube_fail.yaml")
    # --authorization-config replaces --authorization-mode; anonymous still checked
    assert lines(path, "KP0709") == [12, 16]


def test_shell_legacy_and_authentication_config_forms_pass() -> None:
    # --authentication-config holds the anonymous setting; `--profiling false` is not a
    # value of the boolean flag, but the later --profiling=0 wins
    for code in CODES:
        assert hits(cp("shell_pass.yaml"), code) == [], code


def test_other_containers_are_not_apiservers() -> None:
    for code in CODES:
        assert hits(cp("not_apiserver_pass.yaml"), code) == [], code


def test_etcd_without_client_and_peer_tls() -> None:
    # the lines are marked in the fixture: missing cert files at the command list; the
    # flag beats ETCD_CLIENT_CERT_AUTH; `-auto-tls` (one dash) is a flag; the bare
    # --peer-client-cert-auth means true
    found = findings(Path(__file__).parent / "KP0710" / "fail-etcd.yaml", "KP0710")
    etcd = [f for f in found if f.container == "etcd"]
    assert len(etcd) == 5
    assert "--cert-file/--key-file/--peer-cert-file/--peer-key-file" in etcd[0].message
    assert "http://0.0.0.0:2379" in etcd[4].message
    api = [f for f in found if f.container == "kube-apiserver"]
    # `until nc -z etcd 2379; ...; exec kube-apiserver ...` runs the apiserver in a shell
    assert len(api) == 2
    assert "--etcd-certfile/--etcd-keyfile" in api[0].message and "cafile" not in api[0].message
    assert "plain HTTP" in api[1].message
    assert all(f.container != "wait-for-etcd" for f in found)


def test_encryption_configuration() -> None:
    found = findings(Path(__file__).parent / "KP1006" / "fail-encryption-config.yaml", "KP1006")
    assert "identity" in found[0].message
    assert found[0].path == "resources[1].providers[0]"
    assert "no entry covering secrets" in found[1].message


def test_config_files_are_not_api_objects() -> None:
    # KubeletConfiguration, EncryptionConfiguration, kubeadm and kube-proxy
    # configuration have no metadata: KP0002 and the object rules leave them alone
    result = run(cp("config_files_pass.yaml"))
    assert not result.errors
    assert result.objects == 6
    assert [(f.rule.code, f.line) for f in result.findings] == []


def _container(data: dict[str, object]) -> ContainerView:
    return ContainerView(data=data, path=("spec", "containers", 0), list_name="containers",
                         index=0)


def test_hostile_flags_never_raise() -> None:
    for data in ({"command": ["kube-apiserver", 3, None, {"a": 1}, ["--x"], "--y=\x00"]},
                 {"command": "kube-apiserver --anonymous-auth"},
                 {"command": ["etcd"], "env": [1, {"name": 2}, {"name": "ETCD_", "value": "x"},
                                               {"name": "ETCD_AUTO_TLS", "value": {"v": 1}}]},
                 {"image": ["etcd"], "args": {"--x": 1}},
                 {"command": ["sh", "-c", "exec kubelet 'unclosed"]},
                 {"command": ["sh", "-c", ";;;&& | exec"]}):
        for binary in (APISERVER, ETCD, KUBELET):
            read_flags(binary, _container(data))


def test_huge_argument_lists_are_bounded() -> None:
    args = ["kube-apiserver"] + [f"--flag-{i}=x" for i in range(3 * MAX_TOKENS)]
    found = read_flags(APISERVER, _container({"command": args}))
    assert found is not None
    assert sum(len(v) for v in found.flags.values()) == MAX_TOKENS - 1
