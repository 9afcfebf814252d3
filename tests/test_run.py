"""Per-run settings stay with their run: two runs in one process (the webhook
beside a scan, tests) do not see each other's custom pod-template kinds, and
the kinds reach every reader of the run (rules, fixers, masking)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from kubeproof.api import scan
from kubeproof.cli.main import cli
from kubeproof.core.config import Config
from kubeproof.core.engine import ObjectChecker
from kubeproof.core.run import RunSettings, build_run
from kubeproof.model import Finding
from kubeproof.reports.redact import masked

ROLLOUT = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
           "metadata": {"name": "r", "namespace": "shop"},
           "spec": {"template": {"spec": {"containers": [{"name": "r", "image": "x:1"}]}}}}
ROLLOUT_YAML = ("apiVersion: argoproj.io/v1alpha1\nkind: Rollout\n"
                "metadata: {name: r, namespace: shop}\nspec:\n  template:\n    spec:\n"
                "      containers:\n      - name: r\n        image: x:1\n")


def _codes(findings: list[Finding]) -> set[str]:
    return {f.rule.code for f in findings}


def test_a_runs_custom_kinds_are_its_own(tmp_path: Path) -> None:
    config = Config(pod_template_paths={"Rollout": "spec.template"})
    run = build_run(RunSettings(config, select=["KP0821"]))
    assert dict(run.ctx.pod_templates) == {"Rollout": ("spec", "template")}
    checker = ObjectChecker(run.ctx, run.rules)
    target = tmp_path / "rollout.yaml"
    target.write_text(ROLLOUT_YAML)
    # another run in the same process, without the config: not a workload there
    assert "KP0821" not in _codes(scan([str(target)], select=["KP0821"]).findings)
    # ... and the first run still sees its custom kind
    assert _codes(checker.check(ROLLOUT, "r").findings) == {"KP0821"}
    with_config = scan([str(target)], config=config, select=["KP0821"])
    assert [(f.rule.code, f.line) for f in with_config.findings] == [("KP0821", 8)]
    plain = build_run(RunSettings(Config(), select=["KP0821"]))
    assert ObjectChecker(plain.ctx, plain.rules).check(ROLLOUT, "r").findings == []


def test_a_runs_custom_kinds_reach_the_fix_diff_masking(tmp_path: Path) -> None:
    """``fix --diff`` masks a custom kind's hard-coded credential as scan flags it."""
    text = ROLLOUT_YAML + ("        env:\n        - name: DB_PASSWORD\n"
                           "          value: Sup3rS3cretV4lue\n")
    assert "Sup3rS3cretV4lue" not in masked(text, {"Rollout": ("spec", "template")})[0]
    assert masked(text) == (text, False)  # not a workload without the config
    (tmp_path / "kp.yaml").write_text("workloads:\n  podTemplatePaths: {Rollout: spec.template}\n")
    target = tmp_path / "rollout.yaml"
    target.write_text(text)
    result = CliRunner().invoke(cli, ["fix", "--diff", "--unsafe-fixes", "--config",
                                      str(tmp_path / "kp.yaml"), "--select", "KP0821",
                                      str(target)])
    assert "readOnlyRootFilesystem" in result.stdout
    assert "Sup3rS3cretV4lue" not in result.output and "********" in result.stdout
