"""/mutate: the rules' fixes as a JSONPatch that applies to the original object
and makes the rules it claims to fix pass; only the safe ones unless ``webhook.fixers``
says ``all`` or lists rules, and never over a value the object states.

The server tests go through the real webhook over TLS (default config: safe
fixes); the ``webhook.fixers`` variants run the real Judge in this process,
fed real AdmissionReview bodies, to spare a server start per config."""

from __future__ import annotations

import base64
import copy
import json
import time
from typing import Any

import jsonpatch
import pytest

from kubeproof.core.catalogue import fixes
from kubeproof.core.config import Config, ConfigError, load_config
from kubeproof.core.context import Context
from kubeproof.core.engine import ObjectChecker
from kubeproof.core.run import select_rules
from kubeproof.k8s.versions import DEFAULT_KUBE_VERSION
from kubeproof.webhook.admission import decode
from kubeproof.webhook.judge import Judge
from kubeproof.webhook.policy import load_policy
from tests.support.webhook import Webhook, containers, good_deployment, review


def bare(obj: dict[str, Any]) -> dict[str, Any]:
    """The object with no security context and no resources on its container."""
    obj = copy.deepcopy(obj)
    for key in ("securityContext", "resources"):
        del containers(obj)[0][key]
    return obj


def codes_found(obj: dict[str, Any]) -> set[str]:
    checker = ObjectChecker(Context(Config(), DEFAULT_KUBE_VERSION), select_rules(Config()))
    return {f.rule.code for f in checker.check(obj, "test").findings}


def patch_of(resp: dict[str, Any]) -> list[dict[str, Any]]:
    assert resp["patchType"] == "JSONPatch"
    return json.loads(base64.b64decode(resp["patch"]))  # type: ignore[no-any-return]


def judge_with(fixers: Any) -> Judge:
    """The real Judge of a config whose ``webhook.fixers`` is ``fixers``."""
    config = Config()
    config.webhook = {"fixers": fixers}
    return Judge(config, load_policy(config))


def mutate(judge: Judge, obj: dict[str, Any]) -> dict[str, Any]:
    """The AdmissionReview response the judge gives ``obj``, as the server sends it."""
    decision = judge.mutate(decode(json.dumps(review(obj)).encode()))
    return decision.response.review()["response"]  # type: ignore[no-any-return]


def unlabelled(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without its own labels (KP0501, a safe fix)."""
    obj = copy.deepcopy(obj)
    del obj["metadata"]["labels"]
    return obj


def test_default_applies_only_safe_fixes(hook: Webhook) -> None:
    original = unlabelled(bare(good_deployment()))
    before = codes_found(original)
    assert {"KP0501", "KP0813", "KP0821", "KP1403"} <= before
    resp = hook.post("/mutate", review(original))
    assert resp["allowed"] is True
    assert resp["auditAnnotations"] == {"fixed": "KP0501"}
    patched = jsonpatch.JsonPatch(patch_of(resp)).apply(copy.deepcopy(original))
    assert "KP0501" not in codes_found(patched)
    # the unsafe ones are left for the owner (or webhook.fixers: all)
    assert codes_found(patched) == before - {"KP0501"}
    assert containers(patched) == containers(original)


def test_all_applies_unsafe_fixes_and_the_patch_fixes_what_it_claims() -> None:
    judge = judge_with("all")
    original = bare(good_deployment())
    before = codes_found(original)
    resp = mutate(judge, original)
    assert resp["allowed"] is True
    fixed = resp["auditAnnotations"]["fixed"].split(",")
    assert fixed == ["KP0813", "KP0814", "KP0816", "KP0817", "KP0821", "KP1403", "KP1404"]
    assert set(fixed) <= before
    patched = jsonpatch.JsonPatch(patch_of(resp)).apply(copy.deepcopy(original))
    assert not set(fixed) & codes_found(patched)
    assert [w.split()[6] for w in resp["warnings"]] == fixed
    # the API server next sends the patched object to /validate: it passes
    verdict = judge.validate(decode(json.dumps(review(patched, uid="after")).encode()))
    assert verdict.response.allowed is True and not verdict.findings


@pytest.mark.parametrize("fixers", ["all", ["KP0813", "KP0814", "KP0817", "KP0821"]])
def test_values_the_object_states_are_never_flipped(fixers: Any) -> None:
    """ingress-nginx says readOnlyRootFilesystem: false and adds NET_BIND_SERVICE
    and SYS_CHROOT: a decision the webhook keeps, whatever it may fix."""
    original = bare(good_deployment())
    original["spec"]["template"]["spec"]["securityContext"] = {"runAsNonRoot": False}
    containers(original)[0]["securityContext"] = {
        "readOnlyRootFilesystem": False, "allowPrivilegeEscalation": True,
        "capabilities": {"add": ["NET_BIND_SERVICE", "SYS_CHROOT"], "drop": ["ALL"]}}
    resp = mutate(judge_with(fixers), original)
    fixed = resp.get("auditAnnotations", {}).get("fixed", "").split(",")
    assert not {"KP0813", "KP0814", "KP0817", "KP0821"} & set(fixed)
    patched = jsonpatch.JsonPatch(patch_of(resp) if "patch" in resp else []).apply(
        copy.deepcopy(original))
    assert containers(patched)[0]["securityContext"] == containers(original)[0]["securityContext"]
    assert patched["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is False


def test_nothing_to_fix_means_no_patch(hook: Webhook) -> None:
    body = review(good_deployment())
    assert hook.post("/mutate", body) == {"uid": body["request"]["uid"], "allowed": True}


def test_exempted_rules_are_not_fixed() -> None:
    original = bare(good_deployment())
    original["metadata"]["annotations"] = {"kubeproof.dev/ignore": "KP0821,KP1403"}
    resp = mutate(judge_with("all"), original)
    fixed = resp["auditAnnotations"]["fixed"].split(",")
    assert "KP0821" not in fixed and "KP1403" not in fixed and "KP0813" in fixed
    patched = jsonpatch.JsonPatch(patch_of(resp)).apply(copy.deepcopy(original))
    assert "readOnlyRootFilesystem" not in containers(patched)[0]["securityContext"]


def test_configured_fixers_only(strict: Webhook) -> None:
    original = bare(good_deployment())
    original["metadata"]["annotations"] = {"kubeproof.dev/ignore": "KP0821"}  # not honoured
    resp = strict.post("/mutate", review(original))
    assert resp["auditAnnotations"] == {"fixed": "KP0821,KP1403"}
    patched = jsonpatch.JsonPatch(patch_of(resp)).apply(copy.deepcopy(original))
    assert not {"KP0821", "KP1403"} & codes_found(patched)
    assert {"KP0813", "KP1404"} <= codes_found(patched)  # not configured: left alone


def test_delete_and_excluded_namespaces_are_not_patched(hook: Webhook) -> None:
    original = bare(good_deployment(namespace="kube-system"))
    body = review(original)
    assert hook.post("/mutate", body) == {"uid": body["request"]["uid"], "allowed": True}
    delete = review(None, "DELETE", old=bare(good_deployment()))
    assert hook.post("/mutate", delete) == {"uid": delete["request"]["uid"], "allowed": True}


def test_safe_and_all_select_the_fixers_by_their_safety() -> None:
    safe = load_policy(Config()).fix_codes()
    assert safe == {c for c, fx in fixes().items() if fx.safe and not fx.needs_verdict}
    assert {"KP0501", "KP1002"} <= safe and not {"KP0821", "KP0817", "KP1403"} & safe
    assert judge_with("all").fixers == {c for c, fx in fixes().items() if not fx.needs_verdict}
    assert judge_with(["KP0707", "writable-root-filesystem"]).fixers == {"KP0707", "KP0821"}


@pytest.mark.parametrize(("value", "message"), [
    ("unsafe", "webhook.fixers must be safe or all or a list of rules, not 'unsafe'"),
    ("[KP0821, no-such-rule]", "unknown rule 'no-such-rule'"),
    ("{safe: true}", "webhook.fixers must be safe or all or a list of rules"),
    ("7", "webhook.fixers must be safe or all or a list of rules, not '7'"),
])
def test_a_bad_fixers_value_is_an_error_naming_its_line(tmp_path: Any, value: str,
                                                        message: str) -> None:
    path = tmp_path / ".kubeproof.yaml"
    path.write_text(f"webhook:\n  failurePolicy: allow\n  fixers: {value}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}:3: ")
    assert message in str(caught.value)
    for good in ("safe", "all", "[KP0821, KP08]"):
        path.write_text(f"webhook:\n  fixers: {good}\n")
        load_policy(load_config(path))


def test_hostile_quantities_are_never_computed_or_patched(hook: Webhook) -> None:
    """``1e9999999999`` once made KP1404 compute ``10**9999999999`` while holding
    the interpreter lock: the deadline never fired and /healthz stopped answering."""
    original = bare(good_deployment())
    original["spec"]["template"]["spec"]["containers"].append(
        {**containers(bare(good_deployment()))[0], "name": "float"})
    huge, floaty = containers(original)
    huge["resources"] = {"requests": {"memory": "1e9999999999"}}
    floaty["resources"] = {"requests": {"memory": "1e400"}}
    client = hook.client()
    start = time.monotonic()
    resp = client.post("/mutate", json=review(original)).json()["response"]
    assert time.monotonic() - start < 5
    assert resp["allowed"] is True
    patched = (jsonpatch.JsonPatch(patch_of(resp)).apply(copy.deepcopy(original))
               if "patch" in resp else original)
    for container in containers(patched):  # no limit derived from an invalid request
        assert "limits" not in container["resources"]
    assert client.get("/healthz").status_code == 200
    verdict = hook.post("/validate", review(original))
    assert verdict["allowed"] is False and "KP0002" in verdict["status"]["message"]
