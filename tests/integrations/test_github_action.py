"""The composite GitHub Action (action.yml), run step by step as the Actions runner
would: `${{ }}` expressions resolved from inputs, `github.action_path` and earlier
steps' outputs (GITHUB_OUTPUT), each `run:` in `bash --noprofile --norc -eo
pipefail`. The `uses:` steps (setup-python, upload-sarif) are GitHub's own: they
are checked for a pinned commit, a true `if:` and their `with:`, and the SARIF file
given to upload-sarif validates against the SARIF 2.1.0 schema."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integrations.helpers import bash, venv_env
from tests.reports.helpers import SARIF_SCHEMA, sarif_schema_errors
from tests.support.paths import EXAMPLES, ROOT

ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


@dataclass
class Run:
    """What the steps did: the exit code of the first failing `run:` step (0 when
    none failed), the outputs of each step and the `uses:` steps that would run."""
    rc: int = 0
    log: str = ""
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    uses: list[tuple[str, dict[str, str]]] = field(default_factory=list)


class Context:
    def __init__(self, inputs: dict[str, str], action_path: Path, run: Run) -> None:
        defaults = {k: str(v.get("default", "")) for k, v in ACTION["inputs"].items()}
        unknown = set(inputs) - set(defaults)
        assert not unknown, unknown
        self.inputs = {**defaults, **inputs}
        self.action_path = action_path
        self.run = run

    def value(self, ref: str) -> str:
        if m := re.fullmatch(r"'([^']*)'", ref):
            return m[1]
        if m := re.fullmatch(r"inputs\.([\w-]+)", ref):
            return self.inputs[m[1]]
        if ref == "github.action_path":
            return str(self.action_path)
        if m := re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", ref):
            return self.run.outputs.get(m[1], {}).get(m[2], "")
        raise AssertionError(f"expression this test does not know: {ref}")

    def evaluate(self, expr: str) -> str | bool:
        """References, string literals, `==`, `!=` and `&&`: what action.yml uses."""
        if "&&" in expr:
            return all(self.evaluate(part.strip()) for part in expr.split("&&"))
        if m := re.fullmatch(r"(.+?)\s*(==|!=)\s*(.+)", expr):
            equal = self.value(m[1].strip()) == self.value(m[3].strip())
            return equal if m[2] == "==" else not equal
        return self.value(expr)

    def interpolate(self, text: str) -> str:
        return EXPR.sub(lambda m: str(self.evaluate(m[1])), text)

    def condition(self, text: str | None) -> bool:
        if text is None:
            return True
        m = EXPR.fullmatch(text.strip())
        return bool(self.evaluate(m[1] if m else text))


def run_action(inputs: dict[str, str], *, workspace: Path, action_path: Path,
               venv: Path) -> Run:
    run = Run()
    ctx = Context(inputs, action_path, run)
    assert ACTION["runs"]["using"] == "composite"
    for i, step in enumerate(ACTION["runs"]["steps"]):
        if not ctx.condition(step.get("if")):
            continue
        if "uses" in step:
            run.uses.append((step["uses"], {k: ctx.interpolate(str(v))
                                            for k, v in step.get("with", {}).items()}))
            continue
        assert step["shell"] == "bash"
        assert "${{" not in step["run"], "inputs reach scripts through env only"
        output = workspace.parent / f"github_output_{i}"
        output.write_text("")
        env = {**venv_env(venv), "GITHUB_OUTPUT": str(output), "GITHUB_WORKSPACE": str(workspace)}
        env.update({k: ctx.interpolate(str(v)) for k, v in step.get("env", {}).items()})
        proc = bash(step["run"], cwd=workspace, env=env)
        run.log += proc.stdout + proc.stderr
        if "id" in step:
            run.outputs[step["id"]] = dict(line.split("=", 1)
                                           for line in output.read_text().splitlines())
        if proc.returncode != 0:
            run.rc = proc.returncode
            break
    return run


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A checked-out repository: the examples under deploy/."""
    shutil.copytree(EXAMPLES, tmp_path / "workspace" / "deploy")
    return tmp_path / "workspace"


def _valid_sarif(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text())
    assert sarif_schema_errors(doc, json.loads(SARIF_SCHEMA.read_text())) == []
    return doc


def test_action_steps_pin_their_actions_and_read_inputs_from_env() -> None:
    steps = ACTION["runs"]["steps"]
    uses = [s["uses"] for s in steps if "uses" in s]
    assert [u.split("@")[0] for u in uses] == ["actions/setup-python",
                                               "github/codeql-action/upload-sarif"]
    assert all(PINNED.match(u) for u in uses), uses
    assert all("${{" not in s.get("run", "") for s in steps)


def test_action_scans_uploads_then_fails_on_findings(workspace: Path, package: Path,
                                                     venv: Path) -> None:
    run = run_action({"paths": "deploy/bad deploy/good"}, workspace=workspace,
                     action_path=package, venv=venv)
    assert run.rc == 1, run.log  # the last step: findings at or above high
    assert run.outputs["scan"] == {"exit-code": "1", "sarif-file": "kubeproof.sarif"}
    assert "KP0803" in run.log and "pss-privileged" in run.log  # text report in the log
    (setup, setup_with), (upload, upload_with) = run.uses
    assert setup.startswith("actions/setup-python@") and setup_with == {"python-version": "3.12"}
    assert upload.startswith("github/codeql-action/upload-sarif@")
    assert upload_with == {"sarif_file": "kubeproof.sarif", "category": "kubeproof"}
    doc = _valid_sarif(workspace / "kubeproof.sarif")
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in doc["runs"][0]["results"]}
    assert uris == {"deploy/bad/app.yaml"}  # relative to the workspace, as GitHub needs


def test_action_passes_clean_manifests_and_honours_inputs(workspace: Path, package: Path,
                                                          venv: Path) -> None:
    run = run_action({"paths": "deploy/good", "sarif-file": "out/k.sarif",
                      "args": "--pss-level baseline --select KP08", "upload-sarif": "false",
                      "fail-on": "low"},
                     workspace=workspace, action_path=package, venv=venv)
    assert run.rc == 0, run.log
    assert run.outputs["scan"] == {"exit-code": "0", "sarif-file": "out/k.sarif"}
    assert [u for u, _ in run.uses] == [ACTION["runs"]["steps"][0]["uses"]]  # no upload
    doc = _valid_sarif(workspace / "out" / "k.sarif")
    rules = {r["id"] for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    assert rules and all(code.startswith("KP08") for code in rules)
