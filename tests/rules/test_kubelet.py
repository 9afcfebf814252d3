from pathlib import Path

from tests.helpers import findings, fixture, hits, marked, run


def kl(name: str) -> str:
    return fixture("kubelet", name)


def test_kubeadm_default_config_lacks_only_serving_certificates() -> None:
    path = kl("kubeadm_config_fail.yaml")
    found = findings(path, "KP0711")
    assert [f.line for f in found] == marked(path, "KP0711") == [2]  # the document
    assert "serverTLSBootstrap" in found[0].message


def test_insecure_config_each_field() -> None:
    path = kl("config_fail.yaml")
    found = findings(path, "KP0711")
    assert [f.line for f in found] == marked(path, "KP0711") == [6, 7, 11, 13, 14, 15]
    assert "10255" in found[0].message
    assert "clientCAFile" in found[1].message


def test_defaults_and_provided_serving_certificates_pass() -> None:
    # v1beta1 defaults: anonymous off, Webhook, read-only port 0; tlsCertFile and
    # tlsPrivateKeyFile stand for serverTLSBootstrap; another group's kind is not judged
    assert hits(kl("config_pass.yaml"), "KP0711") == []


def test_configmap_embedded_config() -> None:
    path = kl("configmap_fail.yaml")
    result = run(path, select=("KP0711",))
    assert not result.errors  # broken, deep and aliased embedded YAML: no error, no finding
    found = [f for f in result.findings if f.rule.code == "KP0711"]
    assert [(f.line, f.path) for f in found] == [(marked(path, "KP0711")[0], "data.kubelet")]
    message = found[0].message
    for part in ("anonymous", "AlwaysAllow", "10255", "authentication.anonymous.enabled"):
        assert part in message
    assert "clientCAFile" not in message and "serverTLSBootstrap" not in message


def test_huge_embedded_config_is_not_parsed(tmp_path: Path) -> None:
    value = "kind: KubeletConfiguration\\napiVersion: kubelet.config.k8s.io/v1beta1\\n" \
        + "readOnlyPort: 10255\\n" + "#" * (1 << 20)
    path = tmp_path / "cm.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kubelet-config}\n"
                    f'data:\n  kubelet: "{value}"\n', encoding="utf-8")
    assert hits(path, "KP0711") == []


def test_kubelet_flags() -> None:
    path = kl("flags_fail.yaml")
    found = findings(path, "KP0711")
    assert [f.line for f in found] == marked(path, "KP0711") == [13, 16, 17, 23, 24]
    assert "(the default without --authorization-mode)" in found[0].message
    assert "--client-ca-file" in found[0].message and "--rotate-certificates" in found[0].message
    # with --config only the flags given count
    assert {f.container for f in found[3:]} == {"with-config"}


def test_hardened_flags_and_lookalikes_pass() -> None:
    assert hits(kl("flags_pass.yaml"), "KP0711") == []


def test_hostile_shapes_never_raise() -> None:
    # wrong types everywhere (a string for authentication, a list for the mode, 1e400
    # for a port, a mapping for env), embedded YAML with a refused tag: no error
    result = run(kl("hostile.yaml"), select=("KP0709", "KP0710", "KP0711", "KP1006", "KP0906"))
    assert not result.errors
    codes = {f.rule.code for f in result.findings}
    assert codes == {"KP0709", "KP0710", "KP0711", "KP1006"}


def test_partial_configs_are_judged_on_what_they_set() -> None:
    path = kl("partial_fail.yaml")
    found = findings(path, "KP0711")
    assert [f.line for f in found] == marked(path, "KP0711") == [20]
    assert "read-only port 10255" in found[0].message
