"""/mutate: the fixers of fixes.py as a JSONPatch that applies to the original object
and makes the rules it claims to fix pass."""

from __future__ import annotations

import base64
import copy
import json
import time
from typing import Any

import jsonpatch

from kubeproof.config import Config
from kubeproof.engine import ObjectChecker, select_rules
from kubeproof.kubeversions import DEFAULT_KUBE_VERSION
from kubeproof.model import Context
from tests.webhook.support import Webhook, containers, good_deployment, review


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


def test_patch_applies_and_fixes_what_it_claims(hook: Webhook) -> None:
    original = bare(good_deployment())
    before = codes_found(original)
    resp = hook.post("/mutate", review(original))
    assert resp["allowed"] is True
    fixed = resp["auditAnnotations"]["fixed"].split(",")
    assert fixed == ["KP0813", "KP0814", "KP0816", "KP0817", "KP0821", "KP1403", "KP1404"]
    assert set(fixed) <= before
    patched = jsonpatch.JsonPatch(patch_of(resp)).apply(copy.deepcopy(original))
    assert not set(fixed) & codes_found(patched)
    assert [w.split()[6] for w in resp["warnings"]] == fixed
    # the API server next sends the patched object to /validate: it passes
    verdict = hook.post("/validate", review(patched, uid="after-mutate"))
    assert verdict == {"uid": "after-mutate", "allowed": True}


def test_nothing_to_fix_means_no_patch(hook: Webhook) -> None:
    body = review(good_deployment())
    assert hook.post("/mutate", body) == {"uid": body["request"]["uid"], "allowed": True}


def test_exempted_rules_are_not_fixed(hook: Webhook) -> None:
    original = bare(good_deployment())
    original["metadata"]["annotations"] = {"kubeproof.dev/ignore": "KP0821,KP1403"}
    resp = hook.post("/mutate", review(original))
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
    patched = jsonpatch.JsonPatch(patch_of(resp)).apply(copy.deepcopy(original))
    for container in containers(patched):  # no limit derived from an invalid request
        assert "limits" not in container["resources"]
    assert client.get("/healthz").status_code == 200
    verdict = hook.post("/validate", review(original))
    assert verdict["allowed"] is False and "KP0002" in verdict["status"]["message"]
