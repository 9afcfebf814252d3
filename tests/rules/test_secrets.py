from pathlib import Path

from tests.helpers import findings, fixture, hits


def rule_fixture(code: str, name: str) -> str:
    """A fixture of the rule's folder, tests/rules/CODE/ (its marked lines are tested there)."""
    return str(Path(__file__).parent / code / name)


def test_secret_in_env_flags_secret_key_ref_and_env_from() -> None:
    path = rule_fixture("KP1001", "fail-env.yaml")
    env_from, key_ref = findings(path, "KP1001")
    assert env_from.container == "migrate"
    assert env_from.path.endswith("initContainers[0].envFrom[1].secretRef")
    assert key_ref.message == ('container "api" reads key "password" of Secret '
                               '"db-credentials" into env var "DB_PASSWORD"')

def test_secret_volume_writable_flags_secret_projected_and_csi_mounts() -> None:
    path = rule_fixture("KP1002", "fail-mounts.yaml")
    found = findings(path, "KP1002")
    assert [f.container for f in found] == ["init-tls", "db", "db", "db"]
    assert '(projected Secret "db-client")' in found[2].message
    assert "(Secrets Store CSI)" in found[3].message

def test_hardcoded_secret_in_containers() -> None:
    path = rule_fixture("KP1003", "fail-containers.yaml")
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
    for name in ("fail-containers.yaml", "fail-configmap.yaml", "fail-annotations.yaml"):
        for f in findings(rule_fixture("KP1003", name), "KP1003"):
            assert not any(s in f.message or s in f.path for s in secrets), f.message

def test_hardcoded_secret_in_configmap_data() -> None:
    path = rule_fixture("KP1003", "fail-configmap.yaml")
    messages = [f.message for f in findings(path, "KP1003")]
    assert messages[0] == 'ConfigMap "app-config" key "api_key" holds a literal credential'
    assert messages[1].endswith('holds a literal credential for "spring.datasource.password"')
    assert messages[2].endswith("holds a PEM private key")
    assert "a Slack token" in messages[3]

def test_hardcoded_secret_in_annotations_of_any_object_and_pod_templates() -> None:
    path = rule_fixture("KP1003", "fail-annotations.yaml")
    service, password, template = findings(path, "KP1003")
    assert password.message == ('annotation "example.com/db-password" on Service "alerts"'
                                " holds a literal credential")
    assert service.message == ('annotation "alerts.example.com/webhook" on Service "alerts"'
                               " holds a Slack webhook URL")
    assert template.path == "spec.template.metadata.annotations['exporter.example.com/api-token']"

def test_secret_in_manifest_names_keys_not_values() -> None:
    path = rule_fixture("KP1004", "fail-secrets.yaml")
    data, string_data = (f.message for f in findings(path, "KP1004"))
    assert data == ('Secret "db-credentials" commits data keys "username", "password"'
                    " in the manifest")
    assert string_data == ('Secret "db-credentials" commits stringData key "api-key"'
                           " in the manifest")

def test_secret_file_mode_flags_loose_and_executable_modes() -> None:
    path = rule_fixture("KP1005", "fail-modes.yaml")
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
