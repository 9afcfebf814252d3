from pathlib import Path

from tests.helpers import findings, fixture, hits


def test_secret_in_env_flags_secret_key_ref_and_env_from() -> None:
    path = fixture("secrets", "env_secret_fail.yaml")
    assert hits(path, "KP1001") == [("KP1001", 21), ("KP1001", 31)]
    env_from, key_ref = findings(path, "KP1001")
    assert env_from.container == "migrate"
    assert env_from.path.endswith("initContainers[0].envFrom[1].secretRef")
    assert key_ref.message == ('container "api" reads key "password" of Secret '
                               '"db-credentials" into env var "DB_PASSWORD"')


def test_secret_in_env_passes_volumes_other_sources_and_malformed() -> None:
    assert hits(fixture("secrets", "env_secret_pass.yaml"), "KP1001") == []


def test_secret_volume_writable_flags_secret_projected_and_csi_mounts() -> None:
    path = fixture("secrets", "volume_writable_fail.yaml")
    assert hits(path, "KP1002") == [("KP1002", 22), ("KP1002", 27), ("KP1002", 29),
                                    ("KP1002", 31)]
    found = findings(path, "KP1002")
    assert [f.container for f in found] == ["init-tls", "db", "db", "db"]
    assert '(projected Secret "db-client")' in found[2].message
    assert "(Secrets Store CSI)" in found[3].message


def test_secret_volume_writable_passes_read_only_and_non_secret_volumes() -> None:
    assert hits(fixture("secrets", "volume_readonly_pass.yaml"), "KP1002") == []


def test_hardcoded_secret_in_containers() -> None:
    path = fixture("secrets", "hardcoded_env_fail.yaml")
    assert hits(path, "KP1003") == [("KP1003", n) for n in (20, 27, 28, 31, 33, 35, 37, 39, 45)]
    found = findings(path, "KP1003")
    messages = [f.message for f in found]
    assert messages == [
        'container "seed" args[0] contains a URL with an embedded password',
        'container "api" passes a literal credential to --api-token in args',
        'container "api" args[3] contains a literal credential for "db-password"',
        'container "api" env var "DB_PASSWORD" holds a literal credential',
        'container "api" env var "clientSecret" holds a literal credential',
        'container "api" env var "DEPLOY_NOTE" holds an AWS access key ID',
        'container "api" env var "JAVA_OPTS" holds a literal credential for'
        ' "spring.datasource.password"',
        'container "api" env var "COOKIE_SALT" holds a high-entropy value',
        'container "debug" env var "GITHUB_TOKEN" holds a GitHub token',
    ]
    assert found[-1].container == "debug"


def test_hardcoded_secret_never_reports_the_value() -> None:
    secrets = ("Hunter2Hunter2", "9f8e7d6c", "Sup3rS3cret", "correct horse", "Zx8-vQ2",
               "AKIAIOSFODNN7EXAMPLE", "tiger123", "8Jd92kLq", "ghp_", "xoxb-", "3c4f1e9a",
               "MIIEowIBAAKCAQEA", "tok-7Hq2", "hooks.slack.com", "hunter2x")
    for name in ("hardcoded_env_fail.yaml", "hardcoded_configmap_fail.yaml",
                 "hardcoded_annotations_fail.yaml"):
        for f in findings(fixture("secrets", name), "KP1003"):
            assert not any(s in f.message or s in f.path for s in secrets), f.message


def test_hardcoded_secret_passes_references_placeholders_and_settings() -> None:
    assert hits(fixture("secrets", "hardcoded_env_pass.yaml"), "KP1003") == []


def test_hardcoded_secret_in_configmap_data() -> None:
    path = fixture("secrets", "hardcoded_configmap_fail.yaml")
    # binaryData is not scanned
    # inside a block scalar: the line of the credential, not of the key
    assert hits(path, "KP1003") == [("KP1003", 7), ("KP1003", 12), ("KP1003", 14), ("KP1003", 17)]
    messages = [f.message for f in findings(path, "KP1003")]
    assert messages[0] == 'ConfigMap "app-config" key "api_key" holds a literal credential'
    assert messages[1].endswith('holds a literal credential for "spring.datasource.password"')
    assert messages[2].endswith("holds a PEM private key")
    assert "a Slack token" in messages[3]


def test_hardcoded_secret_passes_config_files_without_credentials_and_secrets() -> None:
    # comments, references, nsswitch, code, certificates, binaryData; Secret data is KP1004's
    assert hits(fixture("secrets", "hardcoded_configmap_pass.yaml"), "KP1003") == []


def test_hardcoded_secret_in_annotations_of_any_object_and_pod_templates() -> None:
    path = fixture("secrets", "hardcoded_annotations_fail.yaml")
    assert hits(path, "KP1003") == [("KP1003", 7), ("KP1003", 9), ("KP1003", 28)]
    service, password, template = findings(path, "KP1003")
    assert password.message == ('annotation "example.com/db-password" on Service "alerts"'
                                " holds a literal credential")
    assert service.message == ('annotation "alerts.example.com/webhook" on Service "alerts"'
                               " holds a Slack webhook URL")
    assert template.path == "spec.template.metadata.annotations['exporter.example.com/api-token']"


def test_hardcoded_secret_passes_secret_references_in_annotations() -> None:
    assert hits(fixture("secrets", "hardcoded_annotations_pass.yaml"), "KP1003") == []


def test_secret_in_manifest_names_keys_not_values() -> None:
    path = fixture("secrets", "manifest_fail.yaml")
    assert hits(path, "KP1004") == [("KP1004", 7), ("KP1004", 10)]
    data, string_data = (f.message for f in findings(path, "KP1004"))
    assert data == ('Secret "db-credentials" commits data keys "username", "password"'
                    " in the manifest")
    assert string_data == ('Secret "db-credentials" commits stringData key "api-key"'
                           " in the manifest")


def test_secret_in_manifest_passes_empty_token_and_malformed_secrets() -> None:
    assert hits(fixture("secrets", "manifest_pass.yaml"), "KP1004") == []


def test_secret_file_mode_flags_loose_and_executable_modes() -> None:
    path = fixture("secrets", "mode_fail.yaml")
    assert hits(path, "KP1005") == [("KP1005", n) for n in (22, 29, 32, 39, 43)]
    messages = [f.message for f in findings(path, "KP1005")]
    assert messages[0] == ('secret volume "tls" defaultMode is 0755 (executable);'
                           " use 0644 or stricter")
    assert 'item "hook.sh" mode is 0777' in messages[1]
    assert 'projected volume "bundle" defaultMode is 0666' in messages[2]
    assert 'secret item "key" mode is 0744' in messages[3]
    assert "0660 (group-writable)" in messages[4]


def test_secret_file_mode_reads_json_decimal_modes() -> None:
    path = fixture("secrets", "mode_fail.json")
    assert hits(path, "KP1005") == [("KP1005", 12)]
    assert "defaultMode is 0755" in findings(path, "KP1005")[0].message


def test_secret_file_mode_passes_strict_modes_and_non_secret_volumes() -> None:
    assert hits(fixture("secrets", "mode_pass.yaml"), "KP1005") == []


# ----------------------------------------------------------------- KP1003 lines

def _marked_lines(path: str) -> list[int]:
    """Lines the fixture marks: '# KP1003 line N' or '# KP1003 at the key, line N'."""
    import re

    text = Path(path).read_text()
    return [int(m) for m in re.findall(r"# KP1003 (?:at the key, )?line (\d+)", text)]


def test_hardcoded_secret_in_a_multi_line_value_is_on_its_line() -> None:
    path = fixture("secrets", "block_scalar_lines_fail.yaml")
    got = hits(path, "KP1003")
    assert [line for _, line in got] == _marked_lines(path)
    for f in findings(path, "KP1003"):
        assert "tiger123" not in f.message and "s3cr3t" not in f.message
        assert "abcdef" not in f.message and "9f8e7d" not in f.message


def test_hardcoded_secret_columns_inside_block_scalars() -> None:
    got = {f.line: f.column for f in findings(fixture("secrets", "block_scalar_lines_fail.yaml"),
                                               "KP1003")}
    assert got[15] == 5 and got[24] == 5 and got[59] == 13 and got[39] == 9
    assert got[44] == 3  # one line: the key's position as before


def test_hardcoded_secret_lines_with_crlf_line_ends(tmp_path: Path) -> None:
    src = Path(fixture("secrets", "block_scalar_lines_fail.yaml")).read_text()
    crlf = tmp_path / "crlf.yaml"
    crlf.write_bytes(src.replace("\n", "\r\n").encode())
    assert [line for _, line in hits(str(crlf), "KP1003")] == _marked_lines(str(crlf))


def test_inline_ignore_on_the_key_line_still_applies(tmp_path: Path) -> None:
    path = tmp_path / "ignored.yaml"
    path.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\ndata:\n"
        "  app.ini: |  # kubeproof:ignore KP1003 test credentials\n"
        "    a = 1\n    password = tiger123\n"
        "  other.ini: |\n"
        "    # kubeproof:ignore KP1003 on the line before\n"
        "    password = tiger123\n"
        "  third.ini: |\n    password = tiger123\n")
    assert hits(str(path), "KP1003") == [("KP1003", 12)]


def test_json_and_sarif_reports_carry_the_line_inside_the_value() -> None:
    import json

    from click.testing import CliRunner

    from kubeproof.cli.main import cli

    path = fixture("secrets", "block_scalar_lines_fail.yaml")
    want = _marked_lines(path)
    out = CliRunner().invoke(cli, ["scan", "--no-config", "--select", "KP1003", "-f", "json",
                                   path])
    lines = [f["line"] for f in json.loads(out.output)["findings"]]
    assert lines == want
    out = CliRunner().invoke(cli, ["scan", "--no-config", "--select", "KP1003", "-f", "sarif",
                                   path])
    sarif = json.loads(out.output)
    got = [r["locations"][0]["physicalLocation"]["region"]["startLine"]
           for r in sarif["runs"][0]["results"]]
    assert got == want
    assert "tiger123" not in out.output
