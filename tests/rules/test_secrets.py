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
    assert hits(path, "KP1003") == [("KP1003", 7), ("KP1003", 9), ("KP1003", 13), ("KP1003", 17)]
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
