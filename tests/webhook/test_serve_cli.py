"""``kubeproof webhook serve`` refuses bad settings before it starts: exit 2, one line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kubeproof.core.config import ConfigError, load_config
from kubeproof.webhook.policy import load_policy
from tests.support.cli import kp
from tests.support.paths import ROOT
from tests.support.tls import Pki


def serve(pki: Pki, *args: str, cert: str | None = None, key: str | None = None
          ) -> subprocess.CompletedProcess[str]:
    """``webhook serve`` with the test certificate (or ``cert``/``key``), without
    the HEC token this environment may hold."""
    return kp("webhook", "serve", "--tls-cert", cert or pki.cert_file, "--tls-key",
              key or pki.key_file, "--port", "0", *args, timeout=60,
              env={"KUBEPROOF_HEC_TOKEN": None})


def test_webhook_group_lists_serve() -> None:
    proc = kp("webhook", "--help", timeout=60)
    assert proc.returncode == 0 and "serve" in proc.stdout


BAD_CONFIGS = [
    ("webhook:\n  modes: {high: block}\n",
     "webhook.modes.high must be one of enforce, warn, audit, not 'block'"),
    ("webhook:\n  failurePolicy: maybe\n", "webhook.failurePolicy must be allow or deny"),
    ("webhook:\n  ruleModes: {no-such-rule: warn}\n", "webhook.ruleModes: unknown rule"),
    ("webhook:\n  namespaceModes: [{mode: warn}]\n",
     "webhook.namespaceModes[0] must be a mapping with a 'namespace' glob"),
    ("webhook:\n  audit: {sink: hec}\n", "webhook.audit.sink hec needs webhook.audit.url"),
    ("webhook:\n  deadline: 5\n", "unknown key 'webhook.deadline'"),
]


@pytest.mark.parametrize(("config", "error"), BAD_CONFIGS)
def test_bad_webhook_config_is_one_clear_error(tmp_path: Path, config: str,
                                               error: str) -> None:
    path = tmp_path / "kubeproof.yaml"
    path.write_text(config)
    with pytest.raises(ConfigError) as exc:
        load_policy(load_config(path))
    assert error in str(exc.value) and str(path) in str(exc.value)


@pytest.mark.parametrize(("config", "error"), [
    BAD_CONFIGS[0],
    ("webhook:\n  audit: {sink: hec, url: 'http://127.0.0.1:1/'}\n",
     "webhook.audit.sink is hec but $KUBEPROOF_HEC_TOKEN is not set"),
])
def test_serve_exits_2_with_one_line(pki: Pki, tmp_path: Path, config: str,
                                     error: str) -> None:
    path = tmp_path / "kubeproof.yaml"
    path.write_text(config)
    proc = serve(pki, "--config", str(path))
    assert proc.returncode == 2
    assert error in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_unloadable_certificate_exits_2(pki: Pki, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    proc = serve(pki, "--no-config", cert=str(junk))
    assert proc.returncode == 2
    assert "cannot load the certificate and key" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "PRIVATE KEY" not in proc.stderr


def test_documented_config_parses(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "webhook.md").read_text()
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert block.startswith("webhook:")
    path = tmp_path / "kubeproof.yaml"
    path.write_text(block)
    policy = load_policy(load_config(path))
    assert policy.deadline_ms == 8000 and policy.exclude == ("kube-system",)
