"""Per-run settings stay with their run: two runs in one process (the webhook
beside a scan, tests) do not see each other's custom pod-template kinds."""

from __future__ import annotations

from pathlib import Path

from kubeproof.api import scan
from kubeproof.core.config import Config
from kubeproof.core.engine import ObjectChecker
from kubeproof.core.run import RunSettings, build_run
from kubeproof.model import Finding

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
