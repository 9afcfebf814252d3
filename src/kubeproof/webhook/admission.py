"""The ``admission.k8s.io/v1`` AdmissionReview codec: request in, response out.

Decoding is strict about what the answer needs (a JSON object of the right
apiVersion and kind, a ``request`` with a ``uid``) and raises :class:`BadReview`
with a one-line message for anything else; the app turns that into an HTTP 400.
Once the uid is known, every later problem is answered as a well-formed
AdmissionReview instead (:func:`response`), so the API server can log it
against the request.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import orjson

API_VERSION = "admission.k8s.io/v1"
KIND = "AdmissionReview"
OPERATIONS = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})
JUDGED_OPERATIONS = frozenset({"CREATE", "UPDATE"})
MAX_BODY_BYTES = 3 * 1024 * 1024  # the API server's own limit for a request body


class BadReview(ValueError):
    """A request body that is not an AdmissionReview this webhook can answer."""


@dataclass(slots=True)
class AdmissionRequest:
    uid: str
    operation: str
    kind: str  # request.kind.kind (the object's kind when the request has none)
    namespace: str | None
    name: str
    username: str
    object: dict[str, Any] | None
    old_object: dict[str, Any] | None
    dry_run: bool = False
    sub_resource: str = ""
    api_version: str = ""  # request.kind's group/version
    # a problem found after the uid was read: answered as an AdmissionReview
    problem: str | None = None


def decode(body: bytes) -> AdmissionRequest:
    """Parse and check an AdmissionReview body; raises BadReview."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadReview(f"request body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise BadReview("request body must be a JSON object (an AdmissionReview)")
    if doc.get("apiVersion") != API_VERSION or doc.get("kind") != KIND:
        raise BadReview(f"expected apiVersion {API_VERSION} and kind {KIND}, got "
                        f"{_short(doc.get('apiVersion'))} and {_short(doc.get('kind'))}")
    req = doc.get("request")
    if not isinstance(req, dict):
        raise BadReview("AdmissionReview has no 'request' object")
    uid = req.get("uid")
    if not isinstance(uid, str) or not uid:
        raise BadReview("AdmissionReview request has no 'uid'")
    out = AdmissionRequest(uid=uid, operation="", kind="", namespace=None, name="",
                           username="", object=None, old_object=None)
    out.problem = _fill(out, req)
    return out


def _fill(out: AdmissionRequest, req: dict[str, Any]) -> str | None:
    """Copy the fields the webhook uses; the first problem found, if any."""
    operation = req.get("operation")
    if operation not in OPERATIONS:
        return f"request.operation must be one of {', '.join(sorted(OPERATIONS))}, " \
               f"not {_short(operation)}"
    out.operation = operation
    for key in ("object", "oldObject"):
        value = req.get(key)
        if value is not None and not isinstance(value, dict):
            return f"request.{key} must be an object or null"
    out.object = req.get("object")
    out.old_object = req.get("oldObject")
    if operation in JUDGED_OPERATIONS and out.object is None:
        return f"request.object is required for {operation}"
    namespace = req.get("namespace")
    out.namespace = namespace if isinstance(namespace, str) and namespace else None
    name = req.get("name")
    out.name = name if isinstance(name, str) else ""
    kind = req.get("kind")
    kind_name = kind.get("kind") if isinstance(kind, dict) else None
    if not isinstance(kind_name, str) and out.object is not None:
        kind_name = out.object.get("kind")
    out.kind = kind_name if isinstance(kind_name, str) else ""
    if isinstance(kind, dict) and isinstance(kind.get("version"), str):
        group = kind.get("group")
        out.api_version = f"{group}/{kind['version']}" if isinstance(group, str) and group \
            else kind["version"]
    user = req.get("userInfo")
    username = user.get("username") if isinstance(user, dict) else None
    out.username = username if isinstance(username, str) else ""
    out.dry_run = req.get("dryRun") is True
    sub = req.get("subResource")
    out.sub_resource = sub if isinstance(sub, str) else ""
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(slots=True)
class AdmissionResponse:
    uid: str
    allowed: bool = True
    code: int | None = None
    message: str | None = None
    warnings: list[str] = field(default_factory=list)
    audit_annotations: dict[str, str] = field(default_factory=dict)
    patch: list[dict[str, Any]] | None = None

    def review(self) -> dict[str, Any]:
        """The AdmissionReview the API server expects back."""
        resp: dict[str, Any] = {"uid": self.uid, "allowed": self.allowed}
        if self.code is not None or self.message:
            status: dict[str, Any] = {"code": self.code or (200 if self.allowed else 403)}
            if self.message:
                status["message"] = self.message
            resp["status"] = status
        if self.warnings:
            resp["warnings"] = self.warnings
        if self.audit_annotations:
            resp["auditAnnotations"] = self.audit_annotations
        if self.patch:
            resp["patchType"] = "JSONPatch"
            resp["patch"] = base64.b64encode(orjson.dumps(self.patch)).decode()
        return {"apiVersion": API_VERSION, "kind": KIND, "response": resp}

    def encode(self) -> bytes:
        return orjson.dumps(self.review())
