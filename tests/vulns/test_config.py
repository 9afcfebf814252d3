"""The `vulnerabilities:` section of .kubeproof.yaml: parsed values and line-numbered errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kubeproof.core.config import Config, ConfigError, load_config
from kubeproof.model import Severity


def load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / ".kubeproof.yaml"
    path.write_text(text)
    return load_config(path)


def test_defaults_and_values(tmp_path: Path) -> None:
    cfg = load(tmp_path, "rules: {}\n")
    assert (cfg.vuln_fail_on, cfg.vuln_max_age_days, cfg.vuln_ignore) == (Severity.HIGH, 7, [])
    cfg = load(tmp_path, """\
vulnerabilities:
  failOn: medium
  maxAgeDays: 30
  ignore:
    - id: CVE-2024-1234
      reason: parser not reachable
      expires: 2027-01-31
    - id: GHSA-aaaa-bbbb-cccc
      reason: dev dependency only
""")
    assert cfg.vuln_fail_on is Severity.MEDIUM and cfg.vuln_max_age_days == 30
    first, second = cfg.vuln_ignore
    assert (first.id, first.reason, first.expires, first.line) == (
        "CVE-2024-1234", "parser not reachable", dt.date(2027, 1, 31), 5)
    assert (second.id, second.expires, second.line) == ("GHSA-aaaa-bbbb-cccc", None, 8)


@pytest.mark.parametrize(("text", "expected"), [
    ("vulnerabilities:\n  ignore:\n    - id: CVE-1\n      expires: 2027-01-01\n",
     ":3: vulnerabilities.ignore[0] (CVE-1) needs a 'reason'"),
    ("vulnerabilities:\n  ignore:\n    - id: CVE-1\n      reason: ''\n",
     ":3: vulnerabilities.ignore[0] (CVE-1) needs a 'reason'"),
    ("vulnerabilities:\n  ignore:\n    - reason: because\n",
     ":3: vulnerabilities.ignore[0] needs an 'id'"),
    ("vulnerabilities:\n  ignore:\n    - CVE-2024-1\n",
     ":3: vulnerabilities.ignore[0] must be a mapping"),
    ("vulnerabilities:\n  ignore:\n    - id: CVE-1\n      reason: x\n      expire: 2027-01-01\n",
     ":5: unknown key 'vulnerabilities.ignore[0].expire' (did you mean 'expires'?)"),
    ("vulnerabilities:\n  ignore:\n    - id: CVE-1\n      reason: x\n      expires: soon\n",
     ":5: expires must be a date like 2026-12-31"),
    ("vulnerabilities:\n  failOn: severe\n", ":2: unknown severity 'severe'"),
    ("vulnerabilities:\n  maxAgeDays: -1\n", ":2: vulnerabilities.maxAgeDays must be a "
                                             "non-negative integer"),
    ("vulnerabilities:\n  ignore: CVE-1\n", ":2: vulnerabilities.ignore must be a list"),
    ("vulnerabilities:\n  failon: high\n", ":2: unknown key 'vulnerabilities.failon' "
                                           "(did you mean 'vulnerabilities.failOn'?)"),
])
def test_errors_name_the_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    message = str(info.value)
    assert message.startswith(str(tmp_path / ".kubeproof.yaml")) and expected in message


def test_exemption_errors_still_name_their_entry(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r":3: exemptions.entries\[0\] must be a mapping"):
        load(tmp_path, "exemptions:\n  entries:\n    - KP0101\n")
    with pytest.raises(ConfigError, match=r":5: unknown key 'exemptions.entries\[0\].resaon' "
                                          r"\(did you mean 'reason'\?\)"):
        load(tmp_path, "exemptions:\n  entries:\n    - rules: [KP0101]\n      reason: x\n"
                       "      resaon: y\n")
