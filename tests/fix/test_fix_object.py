"""fix_object on plain dicts, as the webhook's /mutate uses it (JSON in, JSONPatch
out), and the cases where a fixer must hold back."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch
import pytest

from kubeproof.core.catalogue import load_rules
from kubeproof.core.config import Config, ConfigError, load_config
from kubeproof.core.context import Context
from kubeproof.core.fixing import FixSettings
from kubeproof.fix.apply import fix_object
from kubeproof.model import Origin, Resource
from tests.fix.test_fixers import unsafe

DEPLOYMENT = """{
  "apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "web"},
  "spec": {
    "selector": {"matchLabels": {"app": "web"}},
    "template": {
      "metadata": {"labels": {"app": "web"}},
      "spec": {
        "containers": [{"name": "web", "image": "nginx",
                        "volumeMounts": [{"name": "tls", "mountPath": "/tls"}]}],
        "volumes": [{"name": "tls", "secret": {"secretName": "web-tls"}}]
      }
    }
  }
}"""


def violations(obj: dict[str, Any], code: str, config: Config | None = None) -> list[Any]:
    rule = load_rules()[code]
    res = Resource(obj, Origin("<test>", 0, 1))
    return list(rule.check(res, Context(config=config or Config(), kube_version=(1, 33))))


def test_plain_json_dict_gives_a_json_patch_that_fixes_every_object_rule() -> None:
    original = json.loads(DEPLOYMENT)
    fixed = copy.deepcopy(original)
    settings = unsafe(namespace="shop", resolve_digest=lambda ref: "sha256:" + "0" * 64)
    applied = fix_object(fixed, settings)
    assert applied == ["KP0101", "KP0402", "KP0501", "KP0813", "KP0814", "KP0816", "KP0817",
                       "KP0821", "KP1002", "KP1403", "KP1404"]
    json.dumps(fixed)  # still plain JSON: no ruamel types leaked in
    for code in applied:
        assert violations(fixed, code) == [], code
    patch = jsonpatch.make_patch(original, fixed)
    ops = {(op["op"], op["path"]) for op in patch.patch}
    assert ("add", "/metadata/namespace") in ops
    assert ("replace", "/spec/template/spec/containers/0/image") in ops
    assert ("add", "/spec/template/spec/containers/0/volumeMounts/0/readOnly") in ops
    assert not any(path.startswith("/spec/selector") for _, path in ops)
    assert patch.apply(original) == fixed
    assert fix_object(fixed, settings) == []  # idempotent


def test_set_rule_fixer_runs_only_when_named() -> None:
    obj = json.loads(DEPLOYMENT)
    assert "KP0708" not in fix_object(obj, unsafe())
    assert "automountServiceAccountToken" not in obj["spec"]["template"]["spec"]
    assert fix_object(obj, unsafe(), codes=["KP0708"]) == ["KP0708"]
    assert obj["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_explicit_automount_true_is_left_alone() -> None:
    obj = json.loads(DEPLOYMENT)
    obj["spec"]["template"]["spec"]["automountServiceAccountToken"] = True
    assert fix_object(obj, unsafe(), codes=["KP0708"]) == []


def test_codes_limit_the_fixers() -> None:
    obj = json.loads(DEPLOYMENT)
    assert fix_object(obj, unsafe(), codes={"KP0821"}) == ["KP0821"]
    container = obj["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"] == {"readOnlyRootFilesystem": True}


def test_privileged_and_sys_admin_containers_keep_privilege_escalation() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
        "containers": [
            {"name": "priv", "image": "x:1", "securityContext": {"privileged": True}},
            {"name": "admin", "image": "x:1",
             "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}},
            {"name": "plain", "image": "x:1"}]}}
    assert fix_object(pod, unsafe(), codes={"KP0813"}) == ["KP0813"]
    c = pod["spec"]["containers"]
    assert "allowPrivilegeEscalation" not in c[0]["securityContext"]
    assert "allowPrivilegeEscalation" not in c[1]["securityContext"]
    assert c[2]["securityContext"] == {"allowPrivilegeEscalation": False}


def test_windows_pods_get_no_linux_only_fields() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "w"}, "spec": {
        "os": {"name": "windows"}, "containers": [{"name": "c", "image": "x:1"}]}}
    applied = fix_object(pod, unsafe(), codes={"KP0813", "KP0816", "KP0817", "KP0821"})
    assert applied == []
    assert pod["spec"]["containers"][0] == {"name": "c", "image": "x:1"}


def test_what_passes_is_not_touched() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ok"}, "spec": {
        "containers": [{"name": "c", "image": "x:1",
                        "securityContext": {"runAsNonRoot": True,
                                            "seccompProfile": {"type": "Localhost",
                                                               "localhostProfile": "p.json"}}}]}}
    before = copy.deepcopy(pod)
    assert fix_object(pod, unsafe(), codes={"KP0814", "KP0816"}) == []
    assert pod == before


def test_label_without_a_value_is_not_invented() -> None:
    obj = json.loads(DEPLOYMENT)
    settings = unsafe(required_labels=["app.kubernetes.io/name", "team"])
    assert fix_object(obj, settings, codes={"KP0501"}) == ["KP0501"]
    assert obj["metadata"]["labels"] == {"app.kubernetes.io/name": "web"}
    config = Config(required_labels=["app.kubernetes.io/name", "team"])
    assert [v.path for v in violations(obj, "KP0501", config)] == [
        ("metadata", "labels", "team")]


def test_memory_limit_is_never_below_the_request() -> None:
    obj = json.loads(DEPLOYMENT)
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["resources"] = {"requests": {"memory": "2Gi"}}
    assert fix_object(obj, unsafe(), codes={"KP1404"}) == ["KP1404"]
    assert container["resources"]["limits"] == {"memory": "2Gi"}



def test_fix_settings_from_config(tmp_path: Any) -> None:
    path = tmp_path / "kp.yaml"
    path.write_text("labels:\n  required: [team]\nfix:\n  resources:\n"
                    "    requests: {cpu: 250m, memory: 64Mi}\n    limits: {memory: 1Gi}\n"
                    "  labels: {team: core}\n")
    settings = FixSettings.from_config(load_config(path), namespace="shop")
    assert settings.namespace == "shop" and settings.resolve_digest is None
    assert settings.requests == {"cpu": "250m", "memory": "64Mi"}
    assert settings.limits == {"memory": "1Gi"}
    assert settings.required_labels == ["team"] and settings.labels == {"team": "core"}
    defaults = FixSettings.from_config(Config())
    assert defaults.requests == {"cpu": "100m", "memory": "128Mi"}
    assert defaults.limits == {"memory": "256Mi"}


def test_fix_config_section_is_validated(tmp_path: Any) -> None:
    path = tmp_path / "kp.yaml"
    path.write_text("fix:\n  resources:\n    request: {cpu: 1}\n")
    with pytest.raises(ConfigError, match=r"kp.yaml:3: unknown key 'fix.resources.request' "
                       r"\(did you mean 'fix.resources.requests'\?\)"):
        load_config(path)


def test_generated_or_long_names_are_not_label_values() -> None:
    for meta in ({"generateName": "web-"}, {"name": "a" * 64}):
        obj = json.loads(DEPLOYMENT)
        obj["metadata"] = dict(meta)
        assert fix_object(obj, unsafe(), codes={"KP0501"}) == []
        assert "labels" not in obj["metadata"]


def test_user_namespaced_pods_keep_their_root() -> None:
    obj = json.loads(DEPLOYMENT)
    obj["spec"]["template"]["spec"]["hostUsers"] = False
    assert fix_object(obj, unsafe(), codes={"KP0814"}) == []
