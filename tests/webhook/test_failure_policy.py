"""Deadline and internal errors: the failure policy answers, and /metrics counts it.

The server is the real app under uvicorn over real TLS, in a thread of the test
process, with two extra real rules: one that takes longer than the deadline and
one that raises (each only on objects annotated for it).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import httpx
import pytest
import uvicorn
from prometheus_client import REGISTRY

from kubeproof.core.config import Config
from kubeproof.core.context import Context
from kubeproof.model import Resource, Rule, Scope, Severity, Violation
from kubeproof.webhook.app import create_app
from kubeproof.webhook.events import AuditSink
from kubeproof.webhook.judge import Judge
from kubeproof.webhook.policy import AuditSettings, load_policy
from tests.support.webhook import Pki, free_port, good_deployment, review

DEADLINE_MS = 300


def _slow(res: Resource, ctx: Context) -> Iterator[Violation]:
    if "test/slow" in res.metadata.get("annotations", {}):
        time.sleep(DEADLINE_MS / 1000 * 4)
    yield from ()


def _raises(res: Resource, ctx: Context) -> Iterator[Violation]:
    if "test/raise" in res.metadata.get("annotations", {}):
        raise KeyError("a value from the object")
    yield from ()


def _rule(code: str, fn: Any) -> Rule:
    return Rule(code=code, name=f"test-{code.lower()}", practice=0, severity=Severity.HIGH,
                scope=Scope.OBJECT, kinds=None, check=fn, summary="test rule",
                what="test", why="test", how="test", example="", family="test")


class ThreadServer:
    def __init__(self, pki: Pki, failure_policy: str) -> None:
        config = Config()
        config.webhook = {"failurePolicy": failure_policy, "deadlineMs": DEADLINE_MS}
        policy = load_policy(config)
        judge = Judge(config, policy, extra_rules=(_rule("KP9901", _slow),
                                                   _rule("KP9902", _raises)))
        app = create_app(judge, AuditSink(replace(AuditSettings(), sink="none")))
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(
            app, host="127.0.0.1", port=self.port, ssl_certfile=pki.cert_file,
            ssl_keyfile=pki.key_file, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started
        self.client = httpx.Client(base_url=f"https://localhost:{self.port}",
                                   verify=pki.context(), timeout=10)

    def validate(self, annotations: Sequence[str]) -> tuple[dict[str, Any], float]:
        dep = good_deployment()
        dep["metadata"]["annotations"] = dict.fromkeys(annotations, "yes")
        started = time.perf_counter()
        resp = self.client.post("/validate", json=review(dep))
        assert resp.status_code == 200
        return resp.json()["response"], time.perf_counter() - started

    def stop(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(params=["allow", "deny"])
def server(request: pytest.FixtureRequest, pki: Pki) -> Iterator[ThreadServer]:
    srv = ThreadServer(pki, request.param)
    try:
        yield srv
    finally:
        srv.stop()


def errors(reason: str) -> float:
    return REGISTRY.get_sample_value("kubeproof_webhook_internal_errors_total",
                                     {"endpoint": "validate", "reason": reason}) or 0.0



@pytest.mark.parametrize(("annotation", "reason", "text"), [
    ("test/slow", "deadline", "took longer than its deadline"),
    ("test/raise", "rule_error", "hit an internal error in a rule"),
])
def test_failure_policy_answers(server: ThreadServer, request: pytest.FixtureRequest,
                                annotation: str, reason: str, text: str) -> None:
    allow = request.node.callspec.params["server"] == "allow"
    before = errors(reason)
    resp, took = server.validate([annotation])
    assert took < DEADLINE_MS / 1000 * 3  # answered at the deadline, not after the rule
    note = f"kubeproof could not judge this request: it {text}"
    if allow:
        assert resp["allowed"] is True
        assert resp["warnings"] == [f"{note}; allowed by failurePolicy allow"]
    else:
        assert resp["allowed"] is False
        assert resp["status"] == {"code": 500, "message": f"{note}; denied by failurePolicy deny"}
    assert "a value from the object" not in str(resp)
    assert errors(reason) - before == 1
    metrics = server.client.get("/metrics").text
    assert f'kubeproof_webhook_internal_errors_total{{endpoint="validate",reason="{reason}"}}' \
        in metrics
    # the server goes on judging
    assert server.validate([])[0]["allowed"] is True


def test_a_failed_mutation_never_denies(pki: Pki) -> None:
    """/mutate answers "allowed, unchanged" whatever failurePolicy says: the
    validating webhook still judges the object and applies the policy."""
    from kubeproof.webhook.admission import decode
    from kubeproof.webhook.app import _failed

    config = Config()
    config.webhook = {"failurePolicy": "deny"}
    judge = Judge(config, load_policy(config))
    req = decode(json.dumps(review(good_deployment())).encode())
    mutated = _failed(judge, req, "mutate", "deadline").response
    assert mutated.allowed is True and mutated.patch is None
    assert mutated.warnings == ["kubeproof could not fix this request: it took longer than "
                                "its deadline; allowed without changes"]
    validated = _failed(judge, req, "validate", "deadline").response
    assert validated.allowed is False and validated.code == 500
