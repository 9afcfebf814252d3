"""Property: any AdmissionReview-shaped body (a real one from a real Deployment
with any field replaced by any JSON value, or deleted, or any JSON at all) is
answered 200 or 400, never 500, within the deadline; a 200 is a well-formed
AdmissionReview for the request's uid. Against the ASGI app (judged in its real
worker processes) and once against the real uvicorn TLS server.
"""

from __future__ import annotations

import contextlib
import copy
import json
import time
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

with warnings.catch_warnings():  # starlette suggests httpx2, not installed here
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

from kubeproof.core.config import Config
from kubeproof.webhook.app import create_app
from kubeproof.webhook.events import AuditSink
from kubeproof.webhook.judge import Judge
from kubeproof.webhook.policy import AuditSettings, load_policy
from tests.support.webhook import DEADLINE, SpinServer, good_deployment, review

APP_DEADLINE_MS = 1000
BASE = review(good_deployment(), uid="3c1f1f2e-6b7a-4b8e-9d3f-0a1b2c3d4e5f")


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key and index of the review, the object's included."""
    if isinstance(doc, dict):
        items: Any = doc.items()
    elif isinstance(doc, list):
        items = enumerate(doc)
    else:
        return
    for key, value in items:
        yield (*prefix, key)
        yield from _paths(value, (*prefix, key))


PATHS = list(_paths(BASE))
ODD_TEXT = st.sampled_from(["", "\x00", "\u202e", "\x1b[31m", "é" * 3, "CREATE\n", "😀",
                            "a" * 5000])
SCALARS = st.none() | st.booleans() | st.integers(min_value=-(2 ** 70), max_value=2 ** 70) \
    | st.floats(allow_nan=False) | st.text(max_size=20) | ODD_TEXT
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8) | ODD_TEXT, inner, max_size=4),
                    max_leaves=12)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """A real review with up to three fields replaced or deleted, or any JSON."""
    if draw(st.integers(0, 9)) == 0:
        return json.dumps(draw(JSON)).encode()
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent: Any = doc
        for key in path[:-1]:
            try:
                parent = parent[key]
            except (KeyError, IndexError, TypeError):
                break
        else:
            if isinstance(parent, dict | list):
                if draw(st.booleans()) and isinstance(parent, dict):
                    parent.pop(path[-1], None)
                else:
                    with contextlib.suppress(IndexError, TypeError):
                        parent[path[-1]] = draw(JSON)
    return json.dumps(doc).encode()


def check_answer(status: int, payload: bytes, seconds: float, deadline: float) -> None:
    assert status in (200, 400, 413), status
    assert seconds < deadline + 0.5
    answer = json.loads(payload)
    if status == 200:
        assert set(answer) == {"apiVersion", "kind", "response"}
        assert isinstance(answer["response"]["uid"], str)
        assert isinstance(answer["response"]["allowed"], bool)
    else:
        assert set(answer) == {"error"} and "\n" not in answer["error"]
        # refused by the shape check, not caught by the last-resort handler
        assert answer["error"] != "internal error reading the request"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    config = Config()
    config.webhook = {"deadlineMs": APP_DEADLINE_MS}
    app = create_app(Judge(config, load_policy(config)),
                     AuditSink(replace(AuditSettings(), sink="none")))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large])
@given(body=bodies(), path=st.sampled_from(["/validate", "/mutate"]))
def test_any_review_is_answered_without_500_within_the_deadline(
        client: TestClient, body: bytes, path: str) -> None:
    started = time.monotonic()
    resp = client.post(path, content=body, headers={"content-type": "application/json"})
    check_answer(resp.status_code, resp.content, time.monotonic() - started,
                 APP_DEADLINE_MS / 1000)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(body=bodies())
def test_any_review_over_real_tls(spinner: SpinServer, body: bytes) -> None:
    started = time.monotonic()
    try:
        resp = spinner.client.post("/validate", content=body)
    except httpx.HTTPError as exc:  # pragma: no cover - reported with the body
        raise AssertionError(f"no answer: {exc!r}") from exc
    check_answer(resp.status_code, resp.content, time.monotonic() - started, DEADLINE)


def test_no_traceback_in_the_server_log(spinner: SpinServer) -> None:
    assert "Traceback" not in Path(spinner.stderr).read_text()


def test_an_object_nested_too_deep_to_pass_is_answered_by_the_failure_policy(
        client: TestClient) -> None:
    """1000 levels (orjson reads up to 1024, pickle goes less deep): the failure
    policy answers at once, and the next request is judged as usual."""
    dep = good_deployment()
    dep["spec"]["template"]["spec"]["x"] = "DEEP"
    body = json.dumps(review(dep)).encode().replace(b'"DEEP"', b"[" * 1000 + b"]" * 1000)
    for path, verb in (("/validate", "judge"), ("/mutate", "fix")):
        started = time.monotonic()
        resp = client.post(path, content=body)
        assert time.monotonic() - started < APP_DEADLINE_MS / 1000
        assert resp.status_code == 200
        warning = resp.json()["response"]["warnings"][0]
        assert warning.startswith(f"kubeproof could not {verb} this request: it hit an "
                                  "internal error")
    assert client.post("/validate", json=review(good_deployment())).json()[
        "response"]["allowed"] is True
