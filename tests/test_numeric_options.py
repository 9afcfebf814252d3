"""Numeric command-line options and config settings are bounded: a huge,
negative, ``nan`` or infinite value is one usage error (exit 2), never an
internal error, an overflow or a run that waits for ever."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproof.core.config import INT_RANGES, SCHEMA, ConfigError, load_config
from tests.support.cli import invoke, kp

HOSTILE = ("99999999999999999999", "-1", "nan", "inf", "1e400")

# command words -> its numeric options (with the arguments the command needs)
NUMERIC_OPTIONS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("scan", "{manifest}"): ("--max-file-size", "--jobs", "--scan-timeout"),
    ("audit",): ("--max-requests", "--request-timeout", "--page-size", "--scan-timeout"),
    ("webhook", "serve", "--tls-cert", "{manifest}", "--tls-key", "{manifest}"):
        ("--port", "--workers"),
    ("webhook", "install"): ("--replicas", "--workers"),
}
CASES = [(words, option) for words, options in NUMERIC_OPTIONS.items() for option in options]


@pytest.fixture
def manifest(tmp_path: Path) -> str:
    path = tmp_path / "cm.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: a}\n")
    return str(path)


@pytest.mark.parametrize(("words", "option"), CASES, ids=[f"{w[0]}{o}" for w, o in CASES])
def test_out_of_range_numbers_are_usage_errors(words: tuple[str, ...], option: str,
                                               manifest: str) -> None:
    args = [w.format(manifest=manifest) for w in words]
    for value in HOSTILE:
        config = ["--no-config"] if words[0] == "scan" else []
        result = invoke(*args, *config, option, value)
        assert result.returncode == 2, (option, value, result.output)
        assert not isinstance(result.exception, Exception) or isinstance(
            result.exception, SystemExit), (option, value, result.exception)
        errors = [ln for ln in result.stderr.splitlines() if ln.startswith("Error:")]
        assert len(errors) == 1 and option in errors[0], result.stderr


def test_huge_max_file_size_is_a_usage_error_not_an_internal_one(manifest: str) -> None:
    proc = kp("scan", "--no-config", "--max-file-size", "99999999999999999999", manifest,
              timeout=60)
    assert proc.returncode == 2
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert "Error: Invalid value for '--max-file-size'" in proc.stderr


def _int_keys(schema: dict[str, object], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for key, kind in schema.items():
        if isinstance(kind, dict):
            keys += _int_keys(kind, f"{prefix}{key}.")
        elif kind == "int":
            keys.append(prefix + key)
    return keys


def _config(tmp_path: Path, dotted: str, value: str) -> Path:
    parts = dotted.split(".")
    text = "".join(f"{'  ' * i}{p}:\n" for i, p in enumerate(parts[:-1]))
    path = tmp_path / "kp.yaml"
    path.write_text(text + f"{'  ' * (len(parts) - 1)}{parts[-1]}: {value}\n")
    return path


def test_every_int_setting_has_a_range() -> None:
    assert sorted(_int_keys(SCHEMA)) == sorted(INT_RANGES)


@pytest.mark.parametrize("dotted", sorted(INT_RANGES))
def test_int_settings_out_of_range_are_refused(tmp_path: Path, dotted: str) -> None:
    lowest, highest = INT_RANGES[dotted]
    for value in (str(highest + 1), "99999999999999999999", "-1", ".nan", ".inf", "1e400"):
        if value == "-1" and lowest < 0:
            continue
        # past 64 bits, and .nan/.inf, the YAML reader refuses the number itself (its line)
        expected = (dotted.replace(".", r"\.")
                    + "|:[23]: an integer is out of range|:[23]: a number is infinite")
        with pytest.raises(ConfigError, match=expected) as info:
            load_config(_config(tmp_path, dotted, value))
        assert "\n" not in str(info.value)
    load_config(_config(tmp_path, dotted, str(highest)))
    load_config(_config(tmp_path, dotted, str(lowest)))


@pytest.mark.parametrize("value", ['"1e9999999999"', '"1e400"', '"-1Gi"', '"lots"', '""'])
def test_fix_defaults_must_be_quantities(tmp_path: Path, value: str) -> None:
    path = tmp_path / "kp.yaml"
    path.write_text(f"fix:\n  resources:\n    limits:\n      memory: {value}\n")
    with pytest.raises(ConfigError, match=r"kp\.yaml:4: fix\.resources\.limits\.memory"):
        load_config(path)
    path.write_text("fix:\n  resources:\n    requests: {cpu: 250m, memory: 1.5Gi}\n")
    assert load_config(path).fix_requests == {"cpu": "250m", "memory": "1.5Gi"}
