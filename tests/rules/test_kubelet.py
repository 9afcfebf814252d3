"""Kubelet rule: messages, embedded configuration, size guards and hostile
shapes; the per-file cases (their lines) are fixtures in tests/rules/KP0711/."""

from pathlib import Path

from tests.helpers import FIXTURES, findings, hits, run

HERE = Path(__file__).parent


def kl(name: str) -> Path:
    return HERE / "KP0711" / name


def test_kubeadm_default_config_lacks_only_serving_certificates() -> None:
    found = findings(kl("fail-kubeadm-config.yaml"), "KP0711")
    assert "serverTLSBootstrap" in found[0].message


def test_insecure_config_each_field() -> None:
    found = findings(kl("fail-config.yaml"), "KP0711")
    assert "10255" in found[0].message
    assert "clientCAFile" in found[1].message


def test_configmap_embedded_config() -> None:
    result = run(kl("fail-configmap.yaml"), select=("KP0711",))
    assert not result.errors  # broken, deep and aliased embedded YAML: no error, no finding
    found = [f for f in result.findings if f.rule.code == "KP0711"]
    assert [f.path for f in found] == ["data.kubelet"]
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
    found = findings(kl("fail-flags.yaml"), "KP0711")
    assert "(the default without --authorization-mode)" in found[0].message
    assert "--client-ca-file" in found[0].message and "--rotate-certificates" in found[0].message
    # with --config only the flags given count
    assert {f.container for f in found[3:]} == {"with-config"}


def test_hostile_shapes_never_raise() -> None:
    # wrong types everywhere (a string for authentication, a list for the mode, 1e400
    # for a port, a mapping for env), embedded YAML with a refused tag: no error
    result = run(FIXTURES / "kubelet" / "hostile.yaml",
                 select=("KP0709", "KP0710", "KP0711", "KP1006", "KP0906"))
    assert not result.errors
    codes = {f.rule.code for f in result.findings}
    assert codes == {"KP0709", "KP0710", "KP0711", "KP1006"}


def test_partial_configs_are_judged_on_what_they_set() -> None:
    found = findings(kl("fail-partial.yaml"), "KP0711")
    assert "read-only port 10255" in found[0].message
