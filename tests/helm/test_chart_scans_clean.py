"""The chart's own output passes ``kubeproof scan`` with no finding at any
severity, for the default values and a matrix of value sets, and its values
schema accepts exactly what the chart is meant to take."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import helm_python
import jsonschema
import pytest
import yaml

from kubeproof.api import scan
from kubeproof.sources.files import LoadOptions
from kubeproof.sources.helmsdk import merge
from tests.helm.chart import CHART, DIGEST, render_text

IMAGE = {"image": {"repository": "registry.example/kubeproof", "tag": "0.1.0",
                   "digest": DIGEST}}
AUDIT = {"audit": {"enabled": True, "apiServer": {"cidrs": ["10.96.0.1/32"]}}}
MATRIX: list[dict[str, Any]] = [
    {},
    {"mode": "warn"},
    {"mode": "enforce", "replicas": 3},
    {"mode": "enforce", "workers": 8},
    {"mode": "audit", "failurePolicy": "Fail", "mutateFailurePolicy": "Fail"},
    {"certManager": {"enabled": True}},
    {"certManager": {"enabled": True}, "mode": "enforce", "namespace": {"create": True}},
    {"namespace": {"create": True}, **AUDIT},
    {"config": {"webhook": {"audit": {"sink": "hec", "url": "https://10.1.2.3:8088/x"}}},
     "egress": [{"to": [{"ipBlock": {"cidr": "10.1.2.3/32"}}],
                 "ports": [{"protocol": "TCP", "port": 8088}]}]},
    {"mode": "warn", "replicas": 3, "certManager": {"enabled": True}, **AUDIT},
    # the audit's events to HEC: the CronJob gets --events and the sink's egress
    {"config": {"webhook": {"audit": {"sink": "hec", "url": "https://10.1.2.3:8088/x"}}},
     "egress": [{"to": [{"ipBlock": {"cidr": "10.1.2.3/32"}}],
                 "ports": [{"protocol": "TCP", "port": 8088}]}], **AUDIT},
    # ... with the HEC token from a Secret, mounted (never an env var: KP1001)
    {"config": {"webhook": {"audit": {"sink": "hec", "url": "https://10.1.2.3:8088/x"}}},
     "hecTokenSecret": "splunk-hec",
     "egress": [{"to": [{"ipBlock": {"cidr": "10.1.2.3/32"}}],
                 "ports": [{"protocol": "TCP", "port": 8088}]}], **AUDIT},
    {"resources": {"cpuRequestMilli": 250, "memoryRequestMi": 200, "memoryLimitMi": 400},
     "audit": {**AUDIT["audit"], "resources": {"memoryLimitMi": 2048}, "schedule": "0 * * * *",
               "apiServer": {"cidrs": ["10.0.0.10/32", "10.0.0.11/32"], "ports": [443]}}},
]


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
    return schema


def _defaults() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return values


@pytest.mark.parametrize("values", MATRIX, ids=lambda v: json.dumps(v, sort_keys=True))
def test_rendered_chart_has_no_finding_at_any_severity(tmp_path: Path,
                                                       values: dict[str, Any]) -> None:
    values = merge(IMAGE, values)
    jsonschema.validate(merge(_defaults(), values), _schema())
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    # through the scanner's own chart rendering (the SDK: helm is not on PATH)
    result = scan([str(CHART)], options=LoadOptions(helm_values=(str(path),),
                                                    namespace="kubeproof"))
    assert result.errors == []
    assert result.objects >= 12
    assert [(f.rule.code, f.name, f.message) for f in result.findings] == []


@pytest.mark.parametrize(("values", "expected"), [
    # a lab cluster's single replica is allowed, and reported as webhook install's is
    ({"replicas": 1}, [("KP1303", "Deployment")]),
    # failing open by choice (not by the mode) carries no exemption, as with install
    ({"mode": "enforce", "failurePolicy": "Ignore"},
     [("KP1602", "ValidatingWebhookConfiguration")] * 2),
])
def test_chosen_weaker_settings_are_reported(tmp_path: Path, values: dict[str, Any],
                                             expected: list[tuple[str, str]]) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(merge(IMAGE, values)), encoding="utf-8")
    result = scan([str(CHART)], options=LoadOptions(helm_values=(str(path),),
                                                    namespace="kubeproof"))
    assert [(f.rule.code, f.kind) for f in result.findings] == expected


def test_default_values_follow_the_schema() -> None:
    jsonschema.validate(_defaults(), _schema())


@pytest.mark.parametrize(("values", "message"), [
    ({"replicas": 0}, "/replicas"),
    ({"mode": "loud"}, "/mode"),
    ({"failurePolicy": "Maybe"}, "/failurePolicy"),
    ({"image": {"digest": "latest"}}, "/image/digest"),
    ({"unknown": 1}, "unknown"),
    ({"audit": {"apiServer": {"ports": [0]}}}, "/audit/apiServer/ports/0"),
    ({"hecTokenSecret": "x\n  injected: true"}, "/hecTokenSecret"),
])
def test_schema_refuses_bad_values_and_so_does_rendering(tmp_path: Path, values: dict[str, Any],
                                                        message: str) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(merge(_defaults(), merge(IMAGE, values)), _schema())
    with pytest.raises(helm_python.HelmValuesError, match=message):
        render_text(tmp_path, merge(IMAGE, values))


@pytest.mark.parametrize(("values", "message"), [
    ({}, "image.repository is required"),
    ({"image": {"repository": "registry.example/kubeproof"}}, "image.digest is required"),
    ({**IMAGE, "audit": {"enabled": True}}, "audit.apiServer.cidrs is required"),
])
def test_missing_required_values_fail_rendering_clearly(tmp_path: Path, values: dict[str, Any],
                                                       message: str) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    result = scan([str(CHART)], options=LoadOptions(helm_values=(str(path),),
                                                    namespace="kubeproof"))
    [error] = result.errors
    assert message in error.message and error.file.endswith("kubeproof/Chart.yaml")


def test_chart_version_is_kubeproofs() -> None:
    from kubeproof import __version__

    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == __version__


def test_config_is_merged_into_the_servers_own_config(tmp_path: Path) -> None:
    from kubeproof.core.config import load_config
    from kubeproof.model import Severity
    from kubeproof.webhook.policy import load_policy
    from tests.helm.chart import render_objects

    sink = {"sink": "hec", "url": "https://splunk.example:8088/services/collector"}
    objects = render_objects(tmp_path, merge(IMAGE, {
        "mode": "enforce", "config": {"webhook": {"audit": sink, "deadlineMs": 5000}},
        "egress": [{"to": [{"ipBlock": {"cidr": "10.1.2.3/32"}}],
                    "ports": [{"protocol": "TCP", "port": 8088}]}]}))
    [config_map] = [o for o in objects if o["kind"] == "ConfigMap"]
    path = tmp_path / "kubeproof.yaml"
    path.write_text(config_map["data"]["kubeproof.yaml"], encoding="utf-8")
    policy = load_policy(load_config(path))  # the server's own loader accepts it
    assert (policy.audit.sink, policy.audit.url) == ("hec", sink["url"])
    assert policy.deadline_ms == 5000 and policy.failure_policy == "deny"
    assert policy.modes[Severity.CRITICAL] == "enforce"
    [egress] = [o for o in objects if o["metadata"]["name"] == "kubeproof-webhook-egress"]
    assert egress["spec"]["egress"][0]["ports"] == [{"protocol": "TCP", "port": 8088}]


@pytest.mark.parametrize("values", MATRIX[:4] + MATRIX[-2:], ids=lambda v: json.dumps(v)[:60])
def test_helm_lint_strict_passes(values: dict[str, Any]) -> None:
    # helm's own lint, through the SDK: only its "icon is recommended" info
    report = helm_python.lint(CHART, merge(IMAGE, values), strict=True, namespace="kubeproof")
    assert report["errors"] == []
    assert [(m["severity"], m["error"]) for m in report["messages"]] == [
        (1, "icon is recommended")]


@pytest.mark.parametrize(("sink", "events"), [
    (None, False), ({"sink": "stdout"}, False), ({"sink": "none"}, False),
    ({"sink": "file", "file": "/tmp/events.jsonl"}, False),
    ({"sink": "hec", "url": "https://10.1.2.3:8088/x"}, True)])
def test_audit_cronjob_sends_events_to_an_hec_sink_only(tmp_path: Path,
                                                        sink: dict[str, str] | None,
                                                        events: bool) -> None:
    # stdout would share the pod's log with the JSON report, a file would die with the pod
    from tests.helm.chart import render_objects

    egress = [{"to": [{"ipBlock": {"cidr": "10.1.2.3/32"}}],
               "ports": [{"protocol": "TCP", "port": 8088}]}]
    values = merge(IMAGE, {**AUDIT, "egress": egress,
                           "config": {"webhook": {"audit": sink}} if sink else {}})
    objects = render_objects(tmp_path, values)
    [cron] = [o for o in objects if o["kind"] == "CronJob"]
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    assert ("--events" in args) is events
    assert args[args.index("--config") + 1] == "/etc/kubeproof/config/kubeproof.yaml"
    assert {"name": "config", "configMap": {"name": "kubeproof-webhook-config"}} \
        in pod["volumes"]
    [policy] = [o for o in objects if o["metadata"]["name"] == "kubeproof-audit-apiserver"]
    assert (egress[0] in policy["spec"]["egress"]) is events


def test_hec_token_secret_is_mounted_and_read_through_token_file(tmp_path: Path) -> None:
    from kubeproof.core.config import load_config
    from kubeproof.webhook.policy import load_policy
    from tests.helm.chart import render_objects

    sink = {"sink": "hec", "url": "https://10.1.2.3:8088/x"}
    objects = render_objects(tmp_path, merge(IMAGE, {
        **AUDIT, "hecTokenSecret": "splunk-hec", "config": {"webhook": {"audit": sink}}}))
    [config_map] = [o for o in objects if o["kind"] == "ConfigMap"]
    path = tmp_path / "kubeproof.yaml"
    path.write_text(config_map["data"]["kubeproof.yaml"], encoding="utf-8")
    audit = load_policy(load_config(path)).audit
    assert (audit.sink, audit.url, audit.token_file) == ("hec", sink["url"],
                                                         "/etc/kubeproof/hec/token")
    [deployment] = [o for o in objects if o["kind"] == "Deployment"]
    [cron] = [o for o in objects if o["kind"] == "CronJob"]
    for pod in (deployment["spec"]["template"]["spec"],
                cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]):
        assert {"name": "hec-token", "secret": {"secretName": "splunk-hec",
                                                "defaultMode": 288}} in pod["volumes"]
        assert {"name": "hec-token", "mountPath": "/etc/kubeproof/hec", "readOnly": True} \
            in pod["containers"][0]["volumeMounts"]
        assert "env" not in pod["containers"][0] or all(
            "secretKeyRef" not in str(e) for e in pod["containers"][0]["env"])
