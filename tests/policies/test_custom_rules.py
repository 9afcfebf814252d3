"""Custom rules of ``.kubeproof.yaml``: compiled once at load (a bad expression
is one error line with its line and column in the config), and rules like the
built-in ones everywhere: selection, severity overrides, exemptions, inline
and annotation ignores, baselines, SARIF, JUnit, the scorecard, ``kubeproof
rules``, exit codes, worker processes, audit and the webhook.

Most runs go through the real command (in process, ``invoke``; a few as a
user runs it, ``kp``); the evaluator itself is tested on hostile objects."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproof.api import scan
from kubeproof.core.config import Config, ConfigError, load_config
from kubeproof.core.context import Context
from kubeproof.core.engine import Engine
from kubeproof.core.parallel import PARALLEL_MIN_INPUTS
from kubeproof.core.run import RunSettings, build_run
from kubeproof.k8s.versions import DEFAULT_KUBE_VERSION
from kubeproof.model import Origin, Resource, Severity
from kubeproof.policies.as_rules import (
    MAX_ERROR_WARNINGS,
    FieldPathError,
    parse_field_path,
    policy_rules,
)
from kubeproof.policies.compile import compile_policies
from kubeproof.policies.custom import compile_custom_rules, custom_rules
from kubeproof.policies.model import ERROR, FAIL, PASS, SKIP, NoLookup, Source, Subject
from kubeproof.sources.files import ORIGIN_LOCATOR, LoadedFile, Located
from kubeproof.webhook.admission import decode
from kubeproof.webhook.judge import Judge
from kubeproof.webhook.policy import load_policy
from tests.support.audit import Api
from tests.support.cli import invoke, kp
from tests.support.paths import ROOT
from tests.support.webhook import review

EXAMPLE = ROOT / "examples" / "policies" / "custom-rules"

CONFIG = """\
customRules:
  - code: ACME001
    name: team-label
    practice: 5
    severity: high
    summary: Every workload names its team.
    description: The team label routes alerts to the owners.
    how: Add metadata.labels.team.
    match:
      kinds: [Deployment]
    expression: "has(object.metadata.labels) && 'team' in object.metadata.labels"
    messageExpression: "'Deployment ' + object.metadata.name + ' names no team'"
    fieldPath: metadata.labels
  - code: ACME-2
    name: second-image-pinned
    expression: >-
      size(object.spec.template.spec.containers) < 2 ||
      object.spec.template.spec.containers[1].image.contains("@sha256:")
    match: {kinds: [Deployment]}
    message: the sidecar image is not pinned
    fieldPath: spec.template.spec.containers[1].image
  - code: ACME003
    name: max-replicas
    severity: low
    match: {kinds: [Deployment], namespaces: ["shop*"], excludeNamespaces: [shop-test]}
    expression: "!has(object.spec.replicas) || object.spec.replicas <= params.max"
    messageExpression: "'replicas over ' + string(params.max)"
    fieldPath: spec.replicas
    params: {max: 10}
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 50
  template:
    spec:
      containers:
        - name: web
          image: nginx:1.25
        - name: proxy
          image: envoy:1.30
"""


def write(folder: Path, config: str = CONFIG, manifest: str = DEPLOYMENT) -> tuple[Path, Path]:
    (folder / "kp.yaml").write_text(config)
    (folder / "deploy.yaml").write_text(manifest)
    return folder / "kp.yaml", folder / "deploy.yaml"


def findings(*args: str, expect: int | tuple[int, ...] = (0, 1)) -> list[dict[str, Any]]:
    ran = invoke("scan", *args, "-f", "json", expect=expect)
    return json.loads(ran.stdout)["findings"]  # type: ignore[no-any-return]


CUSTOM = "ACME001,ACME-2,ACME003"


# ---------------------------------------------------------------- findings


def test_custom_rules_find_at_their_field_path_with_their_message_and_params(
        tmp_path: Path) -> None:
    config, manifest = write(tmp_path)
    found = {f["code"]: f for f in findings(str(manifest), "--config", str(config),
                                            "--select", CUSTOM)}
    assert set(found) == {"ACME001", "ACME-2", "ACME003"}
    team = found["ACME001"]
    # metadata.labels is missing: the closest parent, metadata (line 3)
    assert (team["line"], team["severity"], team["practice"], team["name"]) == (
        3, "high", 5, "team-label")
    assert team["message"] == "Deployment web names no team"
    assert team["remediation"] == "Add metadata.labels.team."
    sidecar = found["ACME-2"]  # a fieldPath into a list: the second container's image
    assert (sidecar["line"], sidecar["column"], sidecar["path"]) == (
        14, 11, "spec.template.spec.containers[1].image")
    assert (sidecar["severity"], sidecar["practice"]) == ("medium", 16)  # the defaults
    replicas = found["ACME003"]
    assert (replicas["line"], replicas["message"]) == (7, "replicas over 10")


def test_match_namespaces_globs_exclusions_and_labels(tmp_path: Path) -> None:
    config, manifest = write(tmp_path, manifest=DEPLOYMENT.replace("namespace: shop",
                                                                   "namespace: shop-test"))
    assert not [f for f in findings(str(manifest), "--config", str(config), "--select",
                                    "ACME003")]
    config, manifest = write(tmp_path, manifest=DEPLOYMENT.replace("namespace: shop",
                                                                   "namespace: other"))
    assert not findings(str(manifest), "--config", str(config), "--select", "ACME003")
    selected = CONFIG.replace("match: {kinds: [Deployment]}\n    message",
                              "match: {kinds: [Deployment], labelSelector: "
                              "{matchLabels: {tier: edge}}}\n    message")
    config, manifest = write(tmp_path, selected)
    assert not findings(str(manifest), "--config", str(config), "--select", "ACME-2")
    config, manifest = write(tmp_path, selected, DEPLOYMENT.replace(
        "  namespace: shop\n", "  namespace: shop\n  labels: {tier: edge}\n"))
    assert [f["code"] for f in findings(str(manifest), "--config", str(config),
                                        "--select", "ACME-2")] == ["ACME-2"]


# ---------------------------------------------------------------- load-time errors


def test_a_bad_expression_is_one_error_with_its_line_and_column(tmp_path: Path) -> None:
    (tmp_path / ".kubeproof.yaml").write_text(
        "customRules:\n"
        "  - code: ACME001\n"
        "    name: a\n"
        "    expression: object.spec.replicas >=\n"
        "  - code: ACME002\n"
        "    name: b\n"
        "    expression: |\n"
        "      object.spec.replicas > 1 &&\n"
        "        object.metadata.name.foo(\n"
        "  - code: ACME003\n"
        "    name: c\n"
        "    expression: 1 + 'a' == 2\n"
        "    fieldPath: spec..replicas\n")
    (tmp_path / "deploy.yaml").write_text(DEPLOYMENT)
    proc = kp("scan", "deploy.yaml", cwd=tmp_path, expect=2, traceback_free=True)
    # the config found upward is named by its path, as every config error names it
    lines = [line.replace(f"{tmp_path}/", "") for line in proc.stderr.splitlines()]
    assert proc.stdout == "" and len(lines) == 4, proc.stderr
    # the last character of the expression: where the parser wanted more
    assert lines[0].startswith("kubeproof: error: .kubeproof.yaml:4:39: "
                               "customRules[0].expression: Syntax error: ")
    # in a block: the line and column of the character the parser stopped at
    assert lines[1].startswith("kubeproof: error: .kubeproof.yaml:9:33: "
                               "customRules[1].expression: Syntax error")
    assert lines[2] == ("kubeproof: error: .kubeproof.yaml:12:19: customRules[2].expression: "
                        "found no matching overload for '_+_' applied to '(int, string)'")
    assert lines[3].startswith("kubeproof: error: .kubeproof.yaml:13:5: "
                               "customRules[2].fieldPath: fieldPath 'spec..replicas'")
    # the API says the same in one exception
    with pytest.raises(ConfigError, match=r"\.kubeproof\.yaml:4:39: customRules\[0\]"):
        scan([str(tmp_path / "deploy.yaml")], config=load_config(tmp_path / ".kubeproof.yaml"))


def test_a_config_read_from_a_fifo_gives_its_errors_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "kp.fifo"
    os.mkfifo(fifo)
    text = "customRules:\n  - {code: ACME1, name: a, expression: 'object.'}\n"
    writer = threading.Thread(target=fifo.write_text, args=(text,), daemon=True)
    writer.start()
    (tmp_path / "deploy.yaml").write_text(DEPLOYMENT)
    proc = kp("scan", "deploy.yaml", "--config", str(fifo), cwd=tmp_path, timeout=30,
              expect=2, traceback_free=True)
    # its line, not read twice: no column
    assert proc.stderr.startswith(f"kubeproof: error: {fifo}:2: customRules[0].expression: ")


@pytest.mark.parametrize(("entries", "error"), [
    ("  - {code: ACME001, name: a, expression: 'true'}\n"
     "  - {code: ACME001, name: b, expression: 'true'}\n",
     ":3: customRules[1].code: 'ACME001' is also the code or name of customRules[0]"),
    ("  - {code: ACME001, name: a, expression: 'true'}\n"
     "  - {code: ACME002, name: a, expression: 'true'}\n",
     ":3: customRules[1].name: 'a' is also the code or name of customRules[0]"),
    ("  - {code: KP9001, name: a, expression: 'true'}\n", ":2: customRules[0].code 'KP9001'"),
    ("  - {code: acme1, name: a, expression: 'true'}\n", ":2: customRules[0].code 'acme1'"),
    ("  - {code: ACME1, name: default-namespace, expression: 'true'}\n",
     ":2: customRules[0].name: 'default-namespace' is a built-in rule's"),
    ("  - {code: ACME1, name: Not_Kebab, expression: 'true'}\n",
     ":2: customRules[0].name: a custom rule needs a name in kebab-case"),
    ("  - {code: ACME1, name: a}\n", ":2: customRules[0].expression: a custom rule needs"),
    ("  - {code: ACME1, name: a, expression: 'true', practice: 0}\n",
     ":2: customRules[0].practice must be a practice from 1 to 16"),
    ("  - {code: ACME1, name: a, expression: 'true', severity: urgent}\n",
     ":2: customRules[0].severity: unknown severity 'urgent'"),
    ("  - {code: ACME1, name: a, expression: 'true', matc: {}}\n",
     ":2: unknown key 'customRules[0].matc' (did you mean 'match'?)"),
    ("  - {code: ACME1, name: a, expression: 'true', match: {kinds: Deployment}}\n",
     ":2: customRules[0].match.kinds must be a list of strings"),
    ("  - {code: ACME1, name: a, expression: 'true', params: [1]}\n",
     ":2: customRules[0].params must be a mapping"),
    ("  - [code, ACME1]\n", ":2: customRules[0] must be a mapping"),
])
def test_bad_entries_are_one_config_error(tmp_path: Path, entries: str, error: str) -> None:
    config = tmp_path / "kp.yaml"
    config.write_text("customRules:\n" + entries)
    ran = invoke("scan", str(tmp_path), "--config", str(config), expect=2)
    assert f"kubeproof: error: {config}{error}" in ran.stderr, ran.stderr
    assert len(ran.stderr.splitlines()) == 1


def test_the_config_knows_its_custom_rules_by_code_and_name(tmp_path: Path) -> None:
    config = tmp_path / "kp.yaml"
    config.write_text(CONFIG + "rules:\n  disable: [ACME9]\n")
    ran = invoke("scan", str(tmp_path), "--config", str(config), expect=2)
    assert f"{config}:31: unknown rule 'ACME9'" in ran.stderr
    config.write_text(CONFIG + "rules:\n  disable: [team-label, ACME-2]\n"
                      "  severity: {max-replicas: critical}\n")
    manifest = write(tmp_path, config.read_text())[1]
    found = findings(str(manifest), "--config", str(tmp_path / "kp.yaml"), "--select",
                     f"{CUSTOM},KP0501")
    assert {(f["code"], f["severity"]) for f in found if f["code"] != "KP0501"} == {
        ("ACME003", "critical")}


# ---------------------------------------------------------------- like built-in rules


def test_select_and_ignore_by_code_and_name(tmp_path: Path) -> None:
    config, manifest = write(tmp_path)
    args = (str(manifest), "--config", str(config))
    assert {f["code"] for f in findings(*args, "--select", "team-label,ACME003")} == {
        "ACME001", "ACME003"}
    assert {f["code"] for f in findings(*args, "--select", CUSTOM, "--ignore",
                                        "second-image-pinned")} == {"ACME001", "ACME003"}
    everything = {f["code"] for f in findings(*args)}
    assert {"ACME001", "ACME-2", "ACME003", "KP0501"} <= everything  # default: all rules
    ran = invoke("scan", *args, "--select", "ACME00", expect=2)
    assert "unknown rule 'ACME00'" in ran.stderr


def test_exemptions_inline_and_annotation_ignores(tmp_path: Path) -> None:
    exempt = CONFIG + ("exemptions:\n  entries:\n"
                       "    - {rules: [team-label], kind: Deployment, name: web, reason: test}\n")
    config, manifest = write(tmp_path, exempt)
    args = (str(manifest), "--config", str(config), "--select", CUSTOM)
    assert {f["code"] for f in findings(*args)} == {"ACME-2", "ACME003"}
    inline = DEPLOYMENT.replace("image: envoy:1.30", "image: envoy:1.30  # kubeproof:ignore "
                                "ACME-2 pinned by the mesh").replace(
        "  replicas: 50", "  replicas: 50  # kubeproof:ignore=max-replicas")
    config, manifest = write(tmp_path, CONFIG, inline)
    ran = invoke("scan", *args, "-f", "json", expect=1)
    doc = json.loads(ran.stdout)
    assert {f["code"] for f in doc["findings"]} == {"ACME001"}
    assert doc["summary"]["suppressed"]["comment"] == 2
    # a custom code another config defines still narrows the comment to it
    other = DEPLOYMENT.replace("  replicas: 50", "  replicas: 50  # kubeproof:ignore OTHER7")
    write(tmp_path, CONFIG, other)
    assert "ACME003" in {f["code"] for f in findings(*args)}
    annotated = DEPLOYMENT.replace("  namespace: shop\n", "  namespace: shop\n  annotations:\n"
                                   "    kubeproof.dev/ignore: ACME001, second-image-pinned\n")
    write(tmp_path, CONFIG, annotated)
    assert {f["code"] for f in findings(*args)} == {"ACME003"}


def test_baseline_fail_on_and_exit_codes(tmp_path: Path) -> None:
    config, manifest = write(tmp_path)
    base = tmp_path / "base.json"
    args = (str(manifest), "--config", str(config), "--select", CUSTOM)
    invoke("scan", *args, "--write-baseline", str(base), expect=0)
    invoke("scan", *args, "--baseline", str(base), expect=0)
    invoke("scan", *args, "--fail-on", "critical", expect=0)  # high at most
    invoke("scan", *args, "--fail-on", "high", expect=1)
    invoke("scan", str(manifest), "--config", str(config), "--select", "ACME003",
           "--fail-on", "medium", expect=0)  # low


def test_sarif_junit_and_the_scorecard(tmp_path: Path) -> None:
    config, manifest = write(tmp_path)
    args = (str(manifest), "--config", str(config), "--select", CUSTOM)
    sarif = json.loads(invoke("scan", *args, "-f", "sarif", expect=1).stdout)
    run = sarif["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    team = rules["ACME001"]
    assert "helpUri" not in team  # no page of docs/rules.md
    assert team["shortDescription"]["text"] == "Every workload names its team."
    assert "The team label routes alerts to the owners." in team["help"]["text"]
    assert f"Defined in: {config}:2" in team["help"]["text"]
    assert team["defaultConfiguration"]["level"] == "error"
    assert {r["ruleId"] for r in run["results"]} == {"ACME001", "ACME-2", "ACME003"}
    junit = invoke("scan", *args, "-f", "junit", expect=1).stdout
    assert "ACME001 high" in junit and "ACME-2 medium" in junit
    doc = json.loads(invoke("scan", *args, "-f", "json", expect=1).stdout)
    practices = doc["summary"]["practices"]
    assert practices["16"]["findings"] == 2 and practices["5"]["findings"] == 1
    # a saved report renders again with its custom rules
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(doc))
    again = json.loads(invoke("report", str(saved), "-f", "json", expect=(0, 1)).stdout)
    assert [f["code"] for f in again["findings"]] == [f["code"] for f in doc["findings"]]


def test_fix_leaves_custom_rules_alone(tmp_path: Path) -> None:
    config, manifest = write(tmp_path, CONFIG + "scan:\n  select: [ACME001, KP0501]\n")
    before = manifest.read_text()
    invoke("fix", str(manifest), "--config", str(config), expect=0)
    assert manifest.read_text() != before  # KP0501's labels, nothing of ACME001
    assert "team" not in manifest.read_text()
    ran = invoke("fix", str(manifest), "--config", str(config), "--select", "team-label",
                 expect=2)
    assert "no fixer for team-label" in ran.stderr


def test_kubeproof_rules_lists_and_explains_custom_rules(tmp_path: Path) -> None:
    config = write(tmp_path)[0]
    table = invoke("rules", "--config", str(config), expect=0).stdout
    assert "ACME-2   second-image-pinned" in table and "KP0401" in table
    listed = json.loads(invoke("rules", "--config", str(config), "-f", "json",
                               expect=0).stdout)
    mine = [r for r in listed if r["source"]]
    assert [r["code"] for r in mine] == ["ACME001", "ACME-2", "ACME003"]
    assert mine[0]["what"] == "The team label routes alerts to the owners."
    explained = invoke("rules", "team-label", "--config", str(config), expect=0).stdout
    assert explained.startswith("ACME001 team-label (high, practice 5: Labels, scope object)")
    assert f"Defined in: {config}:2" in explained and "Example:" not in explained
    assert invoke("rules", "--no-config", "-f", "json", expect=0).stdout.count('"ACME') == 0


def test_the_example_finds_what_it_says(tmp_path: Path) -> None:
    proc = kp("scan", ".", "--select", "ACME001,ACME002", "-f", "json", cwd=EXAMPLE,
              expect=1, traceback_free=True)
    doc = json.loads(proc.stdout)
    assert [(f["code"], f["file"], f["line"]) for f in doc["findings"]] == [
        ("ACME001", "deployment.yaml", 7),  # team "marketing" is not a known team
        ("ACME001", "resources.yaml", 22),  # scraper has no team label: at its metadata
        ("ACME002", "resources.yaml", 34),  # and pulls from Docker Hub
    ]
    assert doc["findings"][0]["message"] == (
        "label team is 'marketing', not one of payments, search, platform")
    assert not doc["warnings"]


def test_two_runs_in_one_process_never_see_each_others_rules(tmp_path: Path) -> None:
    first = config_of(tmp_path, "customRules:\n  - {code: ACME1, name: a, severity: high,"
                                " message: from the first, expression: 'false'}\n")
    folder = tmp_path / "in"
    folder.mkdir()
    manifest = write(folder)[1]
    (tmp_path / "second.yaml").write_text(
        "customRules:\n  - {code: ACME1, name: b, severity: low, message: from the second,"
        " match: {kinds: [Deployment]}, expression: 'false'}\n")
    second = load_config(tmp_path / "second.yaml")
    one = scan([str(manifest)], config=first, select=["ACME1"])
    two = scan([str(manifest)], config=second, select=["ACME1"])
    assert [(f.rule.name, f.severity, f.message) for f in one.findings] == [
        ("a", Severity.HIGH, "from the first")]
    assert [(f.rule.name, f.severity, f.message) for f in two.findings] == [
        ("b", Severity.LOW, "from the second")]
    assert [f.code for f in scan([str(manifest)], config=Config()).findings
            if not f.code.startswith("KP")] == []


# ---------------------------------------------------------------- workers, audit, webhook


def test_workers_find_what_one_process_finds(tmp_path: Path) -> None:
    config = load_config(write(tmp_path)[0])
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(PARALLEL_MIN_INPUTS + 4):
        (folder / f"{i:02d}.yaml").write_text(DEPLOYMENT.replace("name: web", f"name: web{i}")
                                              .replace("replicas: 50", f"replicas: {i}"))
    (folder / "zz.yaml").write_text(DEPLOYMENT.replace("replicas: 50", "replicas: {a: 1}"))
    one = scan([str(folder)], config=config, jobs=1)
    two = scan([str(folder)], config=config, jobs=2)
    assert {f.code for f in one.findings} >= {"ACME001", "ACME-2", "ACME003"}
    assert [f.to_dict() for f in two.findings] == [f.to_dict() for f in one.findings]
    # the object whose replicas is a mapping: a warning, from the worker too
    assert [str(w) for w in two.warnings] == [str(w) for w in one.warnings]
    assert any("ACME003" in str(w) and "zz.yaml" in str(w) for w in one.warnings)


def test_audit_runs_the_custom_rules(api: Api, tmp_path: Path) -> None:
    config = tmp_path / "kp.yaml"
    config.write_text("customRules:\n  - code: ACME001\n    name: team-label\n"
                      "    severity: high\n    match: {kinds: [Deployment]}\n"
                      "    expression: \"'team' in object.metadata.?labels.orValue({})\"\n"
                      "    message: no team label\n    fieldPath: metadata.labels\n")
    proc = api.cli("-f", "json", "--select", "ACME001", config=config)
    assert proc.returncode == 1, proc.stderr
    found = json.loads(proc.stdout)["findings"]
    assert found and {(f["code"], f["object"]["kind"], f["message"]) for f in found} == {
        ("ACME001", "Deployment", "no team label")}
    config.write_text("customRules:\n  - {code: ACME001, name: a, expression: 'object.'}\n")
    proc = api.cli("-f", "json", config=config)
    assert proc.returncode == 2 and "customRules[0].expression" in proc.stderr


def test_the_webhook_judges_with_the_custom_rules(tmp_path: Path) -> None:
    config = load_config(write(tmp_path)[0])
    judge = Judge(config, load_policy(config))
    obj = yaml.safe_load(DEPLOYMENT)
    decision = judge.validate(decode(json.dumps(review(obj)).encode()))
    response = decision.response.review()["response"]
    assert response["allowed"] is False
    assert "ACME001" in response["status"]["message"]
    assert any("ACME-2" in w for w in response.get("warnings", []))
    modes = {f.rule.code: mode for f, mode in decision.findings if f.rule.source}
    # by severity, as any rule: high is enforced, medium warned, low audited
    assert modes == {"ACME001": "enforce", "ACME-2": "warn", "ACME003": "audit"}
    config.webhook = {"ruleModes": {"team-label": "warn"}}  # named like a built-in rule
    judge = Judge(config, load_policy(config))
    decision = judge.validate(decode(json.dumps(review(obj)).encode()))
    assert {f.rule.code: m for f, m in decision.findings}["ACME001"] == "warn"


def test_the_webhook_does_not_start_with_a_custom_rule_that_does_not_compile(
        tmp_path: Path) -> None:
    config = tmp_path / "kp.yaml"
    config.write_text("customRules:\n  - {code: ACME1, name: a, expression: 'object.'}\n")
    cert = tmp_path / "cert.pem"
    cert.write_text("not read: the config is checked first\n")
    ran = invoke("webhook", "serve", "--tls-cert", str(cert), "--tls-key", str(cert),
                 "--config", str(config), expect=2)
    assert ran.stderr.startswith(f"kubeproof: error: {config}:2:")
    assert "customRules[0].expression: Syntax error" in ran.stderr


# ---------------------------------------------------------------- the evaluator


class Namespaces:
    """A lookup that knows some namespaces (what a scan gives from its set)."""

    def __init__(self, namespaces: Mapping[str, Mapping[str, Any]]) -> None:
        self.known = namespaces

    def namespace(self, name: str) -> Mapping[str, Any] | None:
        return self.known.get(name)

    def objects(self, api_version: str, kind: str,
                namespace: str | None) -> Iterable[Mapping[str, Any]]:
        return ()


NS_RULE = """\
customRules:
  - code: ACME010
    name: namespace-owned
    match: {kinds: [ConfigMap]}
    expression: >-
      namespaceObject == null ||
      namespaceObject.metadata.?labels.?owner.orValue('') != ''
    message: its namespace has no owner
"""


def run_rules(config: Config, objects: list[dict[str, Any]], lookup: Any = None) -> Any:
    rules, errors = custom_rules(config)
    assert not errors
    run = build_run(RunSettings(config, select=[r.code for r in rules], extra_rules=rules))
    ctx = Context(config, DEFAULT_KUBE_VERSION, policy_lookup=lookup)
    engine = Engine(ctx, run.rules)
    loaded = LoadedFile(path="objs", source="file", locator=ORIGIN_LOCATOR)
    for obj in objects:
        loaded.objects.append(Located(Resource(obj, Origin("objs", 0, 1, 1, "file",
                                                           ORIGIN_LOCATOR)), None, 0))
    engine.add_file(loaded)
    return engine.finish("restricted")


def config_of(tmp_path: Path, text: str) -> Config:
    (tmp_path / "kp.yaml").write_text(text)
    return load_config(tmp_path / "kp.yaml")


def cm(namespace: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "c"}
    if namespace is not None:
        meta["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}


def test_namespace_object_comes_from_the_lookup_and_may_be_none(tmp_path: Path) -> None:
    config = config_of(tmp_path, NS_RULE)
    # no lookup (a scan before the lead wires the set's, the webhook): namespaceObject is null
    assert not run_rules(config, [cm("shop"), cm(None)]).findings
    lookup = Namespaces({"shop": {"metadata": {"name": "shop"}},
                         "owned": {"metadata": {"name": "owned", "labels": {"owner": "x"}}}})
    result = run_rules(config, [cm("shop"), cm("owned"), cm("elsewhere"), cm(None)], lookup)
    assert [(f.namespace, f.message) for f in result.findings] == [
        ("shop", "its namespace has no owner")]
    assert not result.warnings


def test_evaluation_errors_are_bounded_warnings_never_findings(tmp_path: Path) -> None:
    config = config_of(tmp_path, "customRules:\n  - code: ACME1\n    name: a\n"
                                 "    expression: object.spec.replicas > 1\n")
    result = run_rules(config, [cm("ns")] * (MAX_ERROR_WARNINGS + 5))
    assert not result.findings and not result.errors
    assert len(result.warnings) == MAX_ERROR_WARNINGS + 1
    assert str(result.warnings[0]) == ("objs:1: rule ACME1 could not be evaluated on "
                                       "ConfigMap/ns/c: expression failed: Key not found in "
                                       'map : "spec"')
    assert "only the first 20 are listed" in str(result.warnings[-1])


def test_a_costly_expression_stops_with_a_warning(tmp_path: Path) -> None:
    config = config_of(tmp_path, (
        "customRules:\n"
        "  - code: ACME1\n    name: cubic\n"
        "    expression: object.data.all(a, object.data.all(b, object.data.all(c, a != b)))\n"
        "  - code: ACME2\n    name: square\n"
        "    expression: object.data.all(a, object.data.all(b, a == a))\n"))
    big = {"apiVersion": "v1", "kind": "List", "metadata": {"name": "big"},
           "data": [str(i) for i in range(5000)]}
    start = time.perf_counter()
    result = run_rules(config, [big])
    assert time.perf_counter() - start < 5
    assert not result.findings
    messages = sorted(str(w) for w in result.warnings)
    assert len(messages) == 2 and all("over its cost budget" in m for m in messages)


def test_verdicts_of_the_compiled_rule(tmp_path: Path) -> None:
    config = config_of(tmp_path, CONFIG)
    compiled, errors = compile_custom_rules(config)
    assert not errors and [r.code for r in compiled] == ["ACME001", "ACME-2", "ACME003"]
    obj = yaml.safe_load(DEPLOYMENT)
    team, _, replicas = compiled
    assert team.kind == "CustomRule" and team.name == "team-label"
    [outcome] = team.evaluate(Subject(obj), NoLookup())
    assert outcome.result == FAIL and outcome.failures[0].field_path == "metadata.labels"
    [outcome] = team.evaluate(Subject(cm("x")), NoLookup())
    assert outcome.result == SKIP
    obj["spec"]["replicas"] = 3
    assert replicas.evaluate(Subject(obj), NoLookup())[0].result == PASS
    obj["spec"]["replicas"] = "three"
    assert replicas.evaluate(Subject(obj), NoLookup())[0].result == ERROR
    [rule] = policy_rules([team], config)
    assert (rule.code, rule.name, rule.practice, rule.severity, rule.fix) == (
        "ACME001", "team-label", 5, Severity.HIGH, None)
    assert rule.kinds == frozenset({"Deployment"})


@pytest.mark.parametrize(("text", "path"), [
    ("spec.replicas", ("spec", "replicas")),
    (".spec.replicas", ("spec", "replicas")),
    ("spec.template.spec.containers[0].image",
     ("spec", "template", "spec", "containers", 0, "image")),
    ("metadata.labels['app.kubernetes.io/name']",
     ("metadata", "labels", "app.kubernetes.io/name")),
    ('metadata.annotations["a\\"b"]', ("metadata", "annotations", 'a"b')),
    ("items[12]", ("items", 12)),
])
def test_field_paths(text: str, path: tuple[str | int, ...]) -> None:
    assert parse_field_path(text) == path


@pytest.mark.parametrize("text", ["", "spec..x", "spec[x]", "spec[0", "a[-1]", "spec.", "x" * 2000,
                                  "spec['x]"])
def test_bad_field_paths(text: str) -> None:
    with pytest.raises(FieldPathError):
        parse_field_path(text)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8) | st.integers(), children, max_size=4),
    max_leaves=30)


@settings(max_examples=150, deadline=None)
@given(spec=JSON, labels=JSON, name=JSON, namespace=JSON)
def test_any_object_never_raises(tmp_path_factory: pytest.TempPathFactory, spec: Any,
                                 labels: Any, name: Any, namespace: Any) -> None:
    folder = tmp_path_factory.mktemp("c")
    config = config_of(folder, CONFIG.replace("kinds: [Deployment]", "kinds: ['*']"))
    compiled, _ = compile_custom_rules(config)
    obj = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": name, "namespace": namespace, "labels": labels},
           "spec": spec}
    for rule in compiled:
        for outcome in rule.evaluate(Subject(obj, old_obj=spec if isinstance(spec, dict)
                                             else None), NoLookup()):
            assert outcome.result in (PASS, FAIL, SKIP, ERROR)
    result = run_rules(config, [obj])
    assert not result.errors  # an evaluation problem is a warning, never a crash


# ---------------------------------------------------------------- any policy as a rule

VAP = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: replicas
  annotations: {kubeproof.dev/severity: high, kubeproof.dev/practice: "13"}
spec:
  failurePolicy: Ignore
  matchConstraints:
    resourceRules:
      - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  validations:
    - expression: object.spec.replicas <= 5
      message: too many replicas
      fieldPath: spec.replicas
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: replicas-%s}
spec: {policyName: replicas, validationActions: [%s]}
"""


def policy_findings(actions: str, obj: dict[str, Any]) -> Any:
    docs = list(yaml.safe_load_all(VAP % (actions.lower().replace(", ", "-"), actions)))
    compiled = compile_policies([(d, Source("vap.yaml", 1)) for d in docs])
    assert not compiled.errors
    rules = policy_rules(compiled.policies, Config())
    run = build_run(RunSettings(Config(), select=[r.code for r in rules], extra_rules=rules))
    engine = Engine(run.ctx, run.rules)
    loaded = LoadedFile(path="objs", source="file", locator=ORIGIN_LOCATOR)
    loaded.objects.append(Located(Resource(obj, Origin("objs", 0, 1, 1, "file",
                                                       ORIGIN_LOCATOR)), None, 0))
    engine.add_file(loaded)
    return engine.finish("restricted")


def deployment(replicas: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"}, "spec": {"replicas": replicas}}


@pytest.mark.parametrize(("actions", "severity"), [
    ("Deny", Severity.HIGH), ("Deny, Warn", Severity.HIGH), ("Warn", Severity.LOW),
    ("Warn, Audit", Severity.LOW), ("Audit", Severity.INFO)])
def test_a_policy_finding_is_as_severe_as_its_binding_acts(actions: str,
                                                           severity: Severity) -> None:
    result = policy_findings(actions, deployment(9))
    [finding] = result.findings
    binding = f"replicas-{actions.lower().replace(', ', '-')}"
    assert (finding.rule.code, finding.rule.practice, finding.severity, finding.path) == (
        "vap/replicas", 13, severity, "spec.replicas")
    assert finding.message == f"{binding}: too many replicas"
    assert finding.rule.fix is None and finding.rule.source == "vap.yaml:1"
    assert not policy_findings(actions, deployment(2)).findings


def test_a_policy_that_cannot_judge_an_object_warns(tmp_path: Path) -> None:
    result = policy_findings("Deny", deployment("nine"))
    assert not result.findings and not result.errors
    assert [w.message.split(":")[0] for w in result.warnings] == [
        "rule vap/replicas could not be evaluated on Deployment/shop/web"]
