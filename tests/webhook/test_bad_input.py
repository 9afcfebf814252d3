"""Bodies that are not AdmissionReviews: a clear 4xx or a well-formed answer, never a 500.

Driven with the real curl (trusting only the test CA) and with httpx.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import orjson
import pytest

from kubeproof.webhook.admission import MAX_BODY_BYTES
from tests.support.webhook import Webhook, good_deployment, review

UID = "705ab4f5-6393-11e8-b7cc-42010a800002"


def with_request(**changes: object) -> bytes:
    body = review(good_deployment(), uid=UID)
    body["request"].update(changes)
    return orjson.dumps(body)


HTTP_400 = [
    (b'{"apiVersion": "admission.k8s.io/v1", "kind": ', "request body is not valid JSON"),
    (b"\xff\xfe not utf-8", "request body is not valid JSON"),
    (b"", "request body is not valid JSON"),
    (b"[1, 2]", "request body must be a JSON object (an AdmissionReview)"),
    (orjson.dumps({**review(good_deployment()), "apiVersion": "admission.k8s.io/v1beta1"}),
     "expected apiVersion admission.k8s.io/v1 and kind AdmissionReview"),
    (orjson.dumps({**review(good_deployment()), "kind": "Pod"}),
     "expected apiVersion admission.k8s.io/v1 and kind AdmissionReview"),
    (b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}',
     "AdmissionReview has no 'request' object"),
    (b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": []}',
     "AdmissionReview has no 'request' object"),
    (with_request(uid=None), "AdmissionReview request has no 'uid'"),
    (with_request(uid=""), "AdmissionReview request has no 'uid'"),
    (with_request(uid={}), "AdmissionReview request has no 'uid'"),
    (with_request(uid=["a"]), "AdmissionReview request has no 'uid'"),
    (with_request(uid="a\x1b[31mb"), "AdmissionReview request.uid must be printable text"),
    (with_request(uid="u" * 300), "AdmissionReview request.uid must be printable text"),
]


@pytest.mark.parametrize(("body", "error"), HTTP_400)
def test_not_an_admission_review_is_a_400_with_a_message(hook: Webhook, body: bytes,
                                                         error: str) -> None:
    for path in ("/validate", "/mutate"):
        status, text = hook.curl(path, body)
        assert status == 400
        assert json.loads(text)["error"].startswith(error)


ANSWERED = [
    (with_request(object=[1, 2]), "request.object must be an object or null"),
    (with_request(object="text"), "request.object must be an object or null"),
    (with_request(oldObject=7, operation="UPDATE"), "request.oldObject must be an object or null"),
    (with_request(object=None), "request.object is required for CREATE"),
    (with_request(operation="PATCH"),
     "request.operation must be one of CONNECT, CREATE, DELETE, UPDATE"),
    # unhashable or odd-typed fields: once a 500 with a traceback
    (with_request(operation={"a": 1}),
     "request.operation must be one of CONNECT, CREATE, DELETE, UPDATE"),
    (with_request(operation=["CREATE"]),
     "request.operation must be one of CONNECT, CREATE, DELETE, UPDATE"),
    (with_request(operation=None),
     "request.operation must be one of CONNECT, CREATE, DELETE, UPDATE"),
    (with_request(namespace={"a": 1}), "request.namespace must be a string"),
    (with_request(name=["web"]), "request.name must be a string"),
    (with_request(subResource=7), "request.subResource must be a string"),
    (with_request(kind=["Deployment"]), "request.kind must be an object of strings"),
    (with_request(kind={"kind": {"x": 1}}), "request.kind must be an object of strings"),
    (with_request(resource={"resource": None}), "request.resource must be an object of strings"),
    (with_request(dryRun="yes"), "request.dryRun must be true or false"),
    (with_request(dryRun={"a": 1}), "request.dryRun must be true or false"),
    (with_request(options=[1]), "request.options must be an object or null"),
    (with_request(userInfo="jane"), "request.userInfo must be an object"),
    (with_request(userInfo={"username": 1}), "request.userInfo.username must be a string"),
    (with_request(userInfo={"groups": "admins"}),
     "request.userInfo.groups must be a list of strings"),
    (with_request(userInfo={"groups": [{"a": 1}]}),
     "request.userInfo.groups must be a list of strings"),
    (with_request(userInfo={"extra": {"k": "v"}}),
     "request.userInfo.extra must map keys to lists of strings"),
]


@pytest.mark.parametrize(("body", "problem"), ANSWERED)
def test_bad_request_fields_get_a_well_formed_review(hook: Webhook, body: bytes,
                                                     problem: str) -> None:
    for path in ("/validate", "/mutate"):
        status, text = hook.curl(path, body)
        assert status == 200
        assert json.loads(text) == {
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": {"uid": UID, "allowed": False,
                         "status": {"code": 400, "message": problem}}}


def test_body_over_3_mib_is_refused(hook: Webhook) -> None:
    dep = good_deployment()
    dep["metadata"]["annotations"] = {"blob": "x" * MAX_BODY_BYTES}
    big = orjson.dumps(review(dep))
    status, text = hook.curl("/validate", big)
    assert status == 413
    assert json.loads(text) == {"error": f"request body is over {MAX_BODY_BYTES} bytes"}
    # without a Content-Length (chunked upload) the limit holds while reading
    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 65536):
            yield big[i:i + 65536]

    resp = hook.client().post("/validate", content=chunks())
    assert resp.status_code == 413
    assert resp.json()["error"].startswith("request body is over")


def test_wrong_method_and_path(hook: Webhook) -> None:
    assert hook.curl("/validate")[0] == 405
    assert hook.curl("/nope")[0] == 404


def test_server_survives_bad_input(hook: Webhook) -> None:
    before = hook.stderr.read_text().count("\n")
    client = hook.client()
    for body, _ in HTTP_400 + ANSWERED:
        client.post("/validate", content=body)
    status, text = hook.curl("/healthz")
    assert (status, text) == (200, "ok")
    assert hook.post("/validate", review(good_deployment()))["allowed"] is True
    log = hook.stderr.read_text()
    assert "Traceback" not in log
    assert hook.proc.poll() is None
    # one line per refused request, and no value of the body in it
    refused = [line for line in log.splitlines()[before:] if "refused" in line]
    assert len(refused) == len(HTTP_400 + ANSWERED)
    assert not any("\x1b" in line or "uuu" in line or "jane" in line for line in refused)
