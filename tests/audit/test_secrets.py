"""Secrets: read only with --read-secrets, values dropped on arrival, never printed."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from kubeproof.core.index import _pull_secret_problem
from kubeproof.model import Origin, Resource
from kubeproof.sources.cluster import (
    AUDIT_KINDS,
    SECRETS,
    ClusterReader,
    Page,
    connect,
    prepare,
)
from tests.support.audit import Api

PASSWORD = "Hunter2-S3cr3t-Value"
REGISTRY_AUTH = "dXNlcjpTM2NyM3RQQHNzdzByZA=="  # user:S3cr3tP@ssw0rd
VALUES = (PASSWORD, base64.b64encode(PASSWORD.encode()).decode(), REGISTRY_AUTH,
          "S3cr3tP@ssw0rd", "eyJhdXRocyI6eyJyZWdpc3RyeS5leGFtcGxlLmNvbSI6")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def add_pull_cases(api: Api) -> None:
    """Pods that reference a broken pull secret, an Opaque one and a missing one."""
    api.cluster.add({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockercfg",
                     "metadata": {"name": "broken", "namespace": "shop"},
                     "data": {".dockercfg": b64('{"registry.example.com": ')}})
    for name, secret in (("p-broken", "broken"), ("p-opaque", "db"), ("p-gone", "gone"),
                         ("p-good", "regcred")):
        api.cluster.add({"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": name, "namespace": "shop"}, "spec": {
            "imagePullSecrets": [{"name": secret}],
            "containers": [{"name": "c", "image": "registry.example.com/app:1.0"}]}})


def test_without_read_secrets_no_secret_is_requested(api: Api) -> None:
    add_pull_cases(api)
    result = api.audit(select=("KP0302", "KP0303"))
    assert not any(p.endswith("/secrets") for p, _ in api.cluster.requests)
    assert result.findings == [] and result.errors == []
    assert [w.message for w in result.warnings] == [
        "Secrets not read, so KP0302/KP0303 (pull secrets) were not checked: use "
        "--read-secrets with list access to secrets"]
    # no warning when those rules are not run anyway
    assert api.audit(select=("KP0401",)).warnings == []


def test_pull_secret_rules_judge_live_secrets(api: Api) -> None:
    add_pull_cases(api)
    result = api.audit(select=("KP0302", "KP0303"), read_secrets=True)
    assert not result.errors and not result.warnings
    got = sorted((f.rule.code, f.file, f.message) for f in result.findings)
    assert got == [
        ("KP0302", "fake/shop/Pod/p-gone",
         'Pod "p-gone" references pull secret "gone", which is not in namespace "shop"'),
        ("KP0303", "fake/shop/Pod/p-broken",
         'Pod "p-broken" references pull secret "broken", which cannot be used: '
         "'.dockercfg' is not valid JSON"),
        ("KP0303", "fake/shop/Pod/p-opaque",
         'Pod "p-opaque" references pull secret "db", which has type "Opaque", not '
         "kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg, so the kubelet "
         "ignores it"),
    ]


def test_kept_objects_hold_no_secret_value(api: Api) -> None:
    add_pull_cases(api)
    conn = connect(str(api.kubeconfig), timeout=5)
    pages = [e for e in ClusterReader(conn).read((*AUDIT_KINDS, SECRETS)) if isinstance(e, Page)]
    secrets = [located.resource.obj for p in pages for located in p.loaded.objects
               if located.resource.kind == "Secret"]
    assert sorted(s["metadata"]["name"] for s in secrets) == ["broken", "db", "regcred"]
    dump = json.dumps([located.resource.obj for p in pages for located in p.loaded.objects])
    for value in VALUES:
        assert value not in dump
    db = next(s for s in secrets if s["metadata"]["name"] == "db")
    assert set(db) == {"apiVersion", "kind", "metadata", "type"}
    assert db["type"] == "Opaque" and db["metadata"]["annotations"] == {}  # no last-applied
    regcred = next(s for s in secrets if s["metadata"]["name"] == "regcred")
    assert regcred["data"] == {".dockerconfigjson": b64('{"auths":{}}')}  # the stand-in


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "junit", "html"])
def test_no_report_shows_a_secret_value(api: Api, tmp_path: Path, fmt: str) -> None:
    add_pull_cases(api)
    out = tmp_path / f"report.{fmt}"
    proc = api.cli("--read-secrets", "--format", fmt, "--output", str(out))
    assert proc.returncode == 1, proc.stderr
    text = out.read_text() + proc.stdout + proc.stderr
    assert "p-opaque" in text  # the KP0303 finding about Secret db is there
    for value in VALUES:
        assert value not in text


def _secret(type_: str, data: dict[str, Any] | None, **meta: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"type": type_, "metadata": {"name": "s", "namespace": "n", **meta}}
    if data is not None:
        obj["data"] = data
    return obj


@pytest.mark.parametrize(("type_", "data"), [
    ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": b64('{"auths":{"r":{}}}')}),
    ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": b64('{"credsStore":"x"}')}),
    ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": b64("[1]")}),
    ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": b64("{nope")}),
    ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": "%%%"}),
    ("kubernetes.io/dockerconfigjson", {"other": b64("{}")}),
    ("kubernetes.io/dockerconfigjson", None),
    ("kubernetes.io/dockercfg", {".dockercfg": b64('{"r":{"auth":"x"}}')}),
    ("kubernetes.io/dockercfg", {".dockercfg": b64('"text"')}),
    ("kubernetes.io/dockercfg", {".dockercfg": b64("{nope")}),
    ("kubernetes.io/dockercfg", {}),
])
def test_stand_in_payload_keeps_the_verdict_not_the_value(type_: str,
                                                          data: dict[str, Any] | None) -> None:
    origin = Origin("", 0, 1)
    raw = _secret(type_, data)
    want = _pull_secret_problem(Resource(json.loads(json.dumps(raw)), origin), type_)
    kept = prepare(raw, "v1", "Secret")
    assert kept is not None
    assert _pull_secret_problem(Resource(kept, origin), type_) == want
    if data:
        for value in data.values():
            if len(value) > 4:
                assert value not in json.dumps(kept)


def test_secret_keeps_metadata_and_type_only() -> None:
    raw = _secret("Opaque", {"password": b64(PASSWORD)},
                  labels={"app": "db"},
                  annotations={"kubectl.kubernetes.io/last-applied-configuration":
                               json.dumps({"data": {"password": b64(PASSWORD)}}),
                               "team": "payments"},
                  managedFields=[{"manager": "kubectl"}])
    raw["stringData"] = {"x": PASSWORD}
    assert prepare(raw, "v1", "Secret") == {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "s", "namespace": "n", "labels": {"app": "db"},
                     "annotations": {"team": "payments"}}}
