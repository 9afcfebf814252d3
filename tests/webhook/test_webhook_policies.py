"""``webhook serve --policy``: admission policies judged by the webhook, for
clusters without ValidatingAdmissionPolicy and for Kyverno policies without
Kyverno; on UPDATE the request's oldObject is bound, as the API server binds it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.paths import ROOT
from tests.support.tls import Pki
from tests.support.webhook import Webhook, review, start_webhook

VAP_EXAMPLE = ROOT / "examples" / "policies" / "vap-replica-limit"

ENFORCE = """\
webhook:
  ruleModes:
    vap/replica-limit: enforce
    vap/no-scale-down: enforce
"""

NO_SCALE_DOWN = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: no-scale-down
spec:
  matchConstraints:
    resourceRules:
      - apiGroups: ["apps"]
        apiVersions: ["v1"]
        operations: ["UPDATE"]
        resources: ["deployments"]
  validations:
    - expression: "object.spec.replicas >= oldObject.spec.replicas"
      message: "scaling down is done by the platform team"
      fieldPath: spec.replicas
"""


def _deployment(name: str) -> dict:
    docs = yaml.safe_load_all((VAP_EXAMPLE / "resources.yaml").read_text(encoding="utf-8"))
    return next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == name)


@pytest.fixture(scope="module")
def policy_hook(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webhook]:
    work = tmp_path_factory.mktemp("policies")
    extra = work / "no-scale-down.yaml"
    extra.write_text(NO_SCALE_DOWN)
    server = start_webhook(pki, work, ENFORCE, "--policy", str(VAP_EXAMPLE),
                           "--policy", str(extra))
    try:
        yield server
    finally:
        server.stop()


def test_a_vap_with_binding_and_params_denies(policy_hook: Webhook) -> None:
    answer = policy_hook.post("/validate", review(_deployment("batch")))
    assert answer["allowed"] is False
    assert "vap/replica-limit" in answer["status"]["message"]
    assert "over the limit of 5" in answer["status"]["message"]


def test_an_object_the_binding_does_not_select_is_allowed(policy_hook: Webhook) -> None:
    for name in ("web", "load-test"):  # under the limit; a namespace the binding leaves out
        answer = policy_hook.post("/validate", review(_deployment(name)))
        # (a built-in rule may still deny them: the policy does not)
        assert "vap/" not in str(answer), answer


def test_update_binds_old_object(policy_hook: Webhook) -> None:
    old = _deployment("web")
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 1
    answer = policy_hook.post("/validate", review(new, "UPDATE", old=old))
    assert answer["allowed"] is False
    assert "vap/no-scale-down" in answer["status"]["message"]
    grown = copy.deepcopy(old)
    grown["spec"]["replicas"] = 4
    answer = policy_hook.post("/validate", review(grown, "UPDATE", old=old))
    assert "vap/" not in str(answer), answer


def test_a_policy_that_does_not_compile_stops_serve(pki: Pki, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(NO_SCALE_DOWN.replace("oldObject.spec.replicas", "oldObject.spec.replicas +"))
    # one line, at the line of the expression
    with pytest.raises(AssertionError, match=r"bad\.yaml:13: .*validations\[0\]\.expression"):
        start_webhook(pki, tmp_path, None, "--policy", str(bad))
