"""``kubeproof audit --events``: one event per finding to the webhook's audit sink
(``webhook.audit``): a file, a real HEC receiver, stdout only beside ``-o``, and a
sink that is down costs a warning, not the exit code."""

from __future__ import annotations

import json
from pathlib import Path

from tests.audit.test_secrets import VALUES, add_pull_cases
from tests.support.audit import Api
from tests.support.webhook import HEC_TOKEN, HecReceiver, free_port

EVENT_KEYS = {"time", "source", "kind", "namespace", "name", "code", "severity", "message"}
SELECT = ("--select", "KP0401,KP0709")
EXPECTED = [("KP0401", "Deployment", "default", "hello"),
            ("KP0709", "Pod", "kube-system", "kube-apiserver-node-1"),
            ("KP0709", "Pod", "kube-system", "kube-apiserver-node-1")]


def config(tmp_path: Path, audit: str) -> Path:
    path = tmp_path / "kubeproof.yaml"
    path.write_text(f"webhook:\n  audit:\n{audit}", encoding="utf-8")
    return path


def identity(events: list[dict[str, str]]) -> list[tuple[str, str, str, str]]:
    return sorted((e["code"], e["kind"], e["namespace"], e["name"]) for e in events)


def test_file_sink_gets_one_json_line_per_finding(api: Api, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    conf = config(tmp_path, f"    sink: file\n    file: {events}\n")
    proc = api.cli(*SELECT, "--events", "-f", "json", config=conf)
    assert proc.returncode == 1, proc.stderr  # as without --events
    report = json.loads(proc.stdout)
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert len(lines) == len(report["findings"]) == 3
    assert all(set(e) == EVENT_KEYS and e["source"] == "audit" for e in lines)
    assert identity(lines) == EXPECTED
    hello = next(e for e in lines if e["code"] == "KP0401")
    assert hello["severity"] == "high" and hello["time"].endswith("+00:00")
    assert hello["message"] == next(f["message"] for f in report["findings"]
                                    if f["code"] == "KP0401")
    assert proc.stderr == ""


def test_events_hold_no_secret_value(api: Api, tmp_path: Path) -> None:
    add_pull_cases(api)
    events = tmp_path / "events.jsonl"
    conf = config(tmp_path, f"    sink: file\n    file: {events}\n")
    proc = api.cli("--read-secrets", "--events", "-f", "json", config=conf)
    assert proc.returncode == 1, proc.stderr
    text = events.read_text()
    assert '"KP0303"' in text  # the pull-secret findings about the live Secrets are there
    for value in VALUES:
        assert value not in text


def test_hec_sink_receives_the_batch_with_the_token(api: Api, tmp_path: Path) -> None:
    receiver = HecReceiver()
    try:
        conf = config(tmp_path, f"    sink: hec\n    url: {receiver.url}\n"
                                "    sourcetype: kubeproof:audit\n")
        proc = api.cli(*SELECT, "--events", "-q", config=conf,
                       env={"KUBEPROOF_HEC_TOKEN": HEC_TOKEN})
    finally:
        receiver.close()
    assert proc.returncode == 1, proc.stderr
    assert len(receiver.posts) == 1  # one batch, sent before the command ended
    assert receiver.posts[0][0]["Authorization"] == f"Splunk {HEC_TOKEN}"
    envelopes = receiver.events()
    assert {e["sourcetype"] for e in envelopes} == {"kubeproof:audit"}
    assert identity([e["event"] for e in envelopes]) == EXPECTED
    assert HEC_TOKEN not in proc.stdout + proc.stderr


def test_stdout_sink_needs_the_report_in_a_file(api: Api, tmp_path: Path) -> None:
    proc = api.cli(*SELECT, "--events")  # no config: the default sink, stdout
    assert proc.returncode == 2 and proc.stdout == ""
    assert "--events with the stdout sink" in proc.stderr and "-o FILE" in proc.stderr
    report = tmp_path / "report.json"
    proc = api.cli(*SELECT, "--events", "-f", "json", "-o", str(report))
    assert proc.returncode == 1, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert identity(lines) == EXPECTED
    assert len(json.loads(report.read_text())["findings"]) == 3


def test_unreachable_sink_is_one_warning_and_the_same_exit_code(api: Api,
                                                                 tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/services/collector"
    conf = config(tmp_path, f"    sink: hec\n    url: {url}\n")
    proc = api.cli(*SELECT, "--events", "-q", config=conf,
                   env={"KUBEPROOF_HEC_TOKEN": HEC_TOKEN})
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "kubeproof: warning: audit sink hec: 3 of 3 events not delivered (ConnectError)"]
    assert "Traceback" not in proc.stderr and HEC_TOKEN not in proc.stderr
    proc = api.cli(*SELECT, "--events", "-q", "--fail-on", "none", config=conf,
                   env={"KUBEPROOF_HEC_TOKEN": HEC_TOKEN})
    assert proc.returncode == 0 and "3 of 3 events not delivered" in proc.stderr


def test_unwritable_file_sink_is_a_warning(api: Api, tmp_path: Path) -> None:
    conf = config(tmp_path, f"    sink: file\n    file: {tmp_path / 'missing' / 'e.jsonl'}\n")
    proc = api.cli(*SELECT, "--events", "-q", config=conf)
    assert proc.returncode == 1
    [line] = proc.stderr.splitlines()
    assert line.startswith("kubeproof: warning: audit sink file: 3 of 3 events not delivered")


def test_the_charts_cronjob_sends_its_findings_to_the_hec_sink(api: Api,
                                                               tmp_path: Path) -> None:
    from kubeproof.sources.helmsdk import merge
    from tests.helm.chart import render_objects
    from tests.helm.test_chart_scans_clean import AUDIT, IMAGE

    receiver = HecReceiver()
    try:
        values = merge(IMAGE, {**AUDIT, "config": {"webhook": {"audit": {
            "sink": "hec", "url": receiver.url}}}})
        objects = render_objects(tmp_path, values)
        [cron] = [o for o in objects if o["kind"] == "CronJob"]
        [config_map] = [o for o in objects if o["kind"] == "ConfigMap"]
        conf = tmp_path / "kubeproof.yaml"
        conf.write_text(config_map["data"]["kubeproof.yaml"], encoding="utf-8")
        args = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args[0] == "audit" and "--events" in args
        at = args.index("--config")  # the mounted ConfigMap: here, its rendered text
        proc = api.cli(*SELECT, *args[1:at], *args[at + 2:], config=conf,
                       env={"KUBEPROOF_HEC_TOKEN": HEC_TOKEN})
    finally:
        receiver.close()
    assert proc.returncode == 0, proc.stderr  # --fail-on none
    assert len(json.loads(proc.stdout)["findings"]) == 3  # the report, alone in the log
    assert identity([e["event"] for e in receiver.events()]) == EXPECTED


def test_a_refusing_collector_and_no_token_are_warnings(api: Api, tmp_path: Path) -> None:
    receiver = HecReceiver(status=403)
    try:
        conf = config(tmp_path, f"    sink: hec\n    url: {receiver.url}\n")
        proc = api.cli(*SELECT, "--events", "-q", config=conf,
                       env={"KUBEPROOF_HEC_TOKEN": ""})
    finally:
        receiver.close()
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "kubeproof: warning: audit sink hec: $KUBEPROOF_HEC_TOKEN is empty; the collector "
        "will likely refuse the events",
        "kubeproof: warning: audit sink hec: 3 of 3 events not delivered "
        "(HEC answered HTTP 403)"]


def test_a_sink_that_cannot_start_is_a_warning(api: Api, tmp_path: Path) -> None:
    conf = config(tmp_path, "    sink: hec\n    url: https://127.0.0.1:9/x\n"
                            f"    caFile: {tmp_path / 'no-such-ca.pem'}\n")
    proc = api.cli(*SELECT, "--events", "-q", config=conf,
                   env={"KUBEPROOF_HEC_TOKEN": HEC_TOKEN})
    assert proc.returncode == 1
    [line] = proc.stderr.splitlines()
    assert line.startswith("kubeproof: warning: audit sink hec: 3 of 3 events not delivered (")
