"""The GitLab CI template (ci/gitlab/kubeproof.gitlab-ci.yml): its job's script run
as the GitLab runner's shell executor runs it (one bash with `-eo pipefail`, the
job's variables in the environment, a user's overrides on top), and the reports
its `artifacts:reports` name: JUnit XML that parses, Code Quality JSON with the
fields GitLab reads, SARIF valid against the 2.1.0 schema."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integrations.helpers import bash, venv_env
from tests.reports.helpers import SARIF_SCHEMA, sarif_schema_errors
from tests.reports.test_codequality import check_issue
from tests.support.paths import EXAMPLES, ROOT

TEMPLATE = ROOT / "ci" / "gitlab" / "kubeproof.gitlab-ci.yml"
JOB: dict[str, Any] = yaml.safe_load(TEMPLATE.read_text())["kubeproof"]


def run_job(variables: dict[str, str], *, project: Path, venv: Path) -> tuple[int, str]:
    env = {**venv_env(venv), "CI": "true", "CI_PROJECT_DIR": str(project)}
    env.update({k: str(v) for k, v in JOB["variables"].items()})
    env.update(variables)
    proc = bash("\n".join(JOB["script"]), cwd=project, env=env)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES, tmp_path / "project" / "deploy")
    return tmp_path / "project"


def test_template_declares_the_reports_it_writes() -> None:
    artifacts = JOB["artifacts"]
    assert artifacts["when"] == "always"  # reports of a failing job are the useful ones
    assert artifacts["reports"] == {"junit": "kubeproof-junit.xml",
                                    "codequality": "gl-code-quality-report.json"}
    assert "kubeproof.sarif" in artifacts["paths"]
    install = JOB["variables"]["KUBEPROOF_INSTALL"]
    assert install.startswith("https://") and "pip install kubeproof" not in str(JOB["script"])


def test_job_fails_on_findings_and_writes_every_report(project: Path, package: Path,
                                                       venv: Path) -> None:
    rc, log = run_job({"KUBEPROOF_INSTALL": str(package), "KUBEPROOF_PATHS": "deploy/"},
                      project=project, venv=venv)
    assert rc == 1, log
    assert "KP0803" in log  # the text report in the job log
    junit = ET.parse(project / "kubeproof-junit.xml").getroot()
    assert junit.tag == "testsuites" and int(junit.get("failures", "0")) > 0
    issues = json.loads((project / "gl-code-quality-report.json").read_text())
    assert issues
    for issue in issues:
        check_issue(issue)
    assert {i["location"]["path"] for i in issues} == {"deploy/bad/app.yaml"}
    assert len({i["fingerprint"] for i in issues}) == len(issues)
    sarif = json.loads((project / "kubeproof.sarif").read_text())
    assert sarif_schema_errors(sarif, json.loads(SARIF_SCHEMA.read_text())) == []


def test_job_passes_clean_manifests_with_extra_args(project: Path, package: Path,
                                                    venv: Path) -> None:
    rc, log = run_job({"KUBEPROOF_INSTALL": str(package), "KUBEPROOF_PATHS": "deploy/good",
                       "KUBEPROOF_FAIL_ON": "info", "KUBEPROOF_ARGS": "--pss-level baseline"},
                      project=project, venv=venv)
    assert rc == 0, log
    assert json.loads((project / "gl-code-quality-report.json").read_text()) == []
    junit = ET.parse(project / "kubeproof-junit.xml").getroot()
    assert junit.get("failures") == "0" and int(junit.get("tests", "0")) > 0
