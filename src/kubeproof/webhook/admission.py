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
    # request.userInfo (username, uid, groups, extra): what policies read as request.userInfo
    user_info: dict[str, Any] = field(default_factory=dict)
    api_version: str = ""  # request.kind's group/version
    # a problem found after the uid was read: answered as an AdmissionReview
    problem: str | None = None


def decode(body: bytes) -> AdmissionRequest:
    """Parse and check an AdmissionReview body; raises BadReview.

    No message quotes a value of the body (it may hold a secret or control
    characters): each names the field and what it must be.
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadReview("request body is not valid JSON") from None
    if not isinstance(doc, dict):
        raise BadReview("request body must be a JSON object (an AdmissionReview)")
    if doc.get("apiVersion") != API_VERSION or doc.get("kind") != KIND:
        raise BadReview(f"expected apiVersion {API_VERSION} and kind {KIND}")
    req = doc.get("request")
    if not isinstance(req, dict):
        raise BadReview("AdmissionReview has no 'request' object")
    uid = req.get("uid")
    if not isinstance(uid, str) or not uid:
        raise BadReview("AdmissionReview request has no 'uid'")
    if len(uid) > MAX_UID or not uid.isprintable():
        raise BadReview(f"AdmissionReview request.uid must be printable text of at most "
                        f"{MAX_UID} characters")
    out = AdmissionRequest(uid=uid, operation="", kind="", namespace=None, name="",
                           username="", object=None, old_object=None)
    out.problem = _shape_problem(req) or _fill(out, req)
    return out


MAX_UID = 256  # the API server sends a UUID (36 characters)
TEXT_FIELDS = ("namespace", "name", "subResource", "requestSubResource")
GVK_FIELDS = ("kind", "resource", "requestKind", "requestResource")
MAP_FIELDS = ("object", "oldObject", "options")


def _shape_problem(req: dict[str, Any]) -> str | None:
    """The first field of ``request`` whose type is not what the API server sends.

    Checked before any field is used, so no later step meets an unhashable
    operation, a list for a name or a map for ``dryRun``.
    """
    operation = req.get("operation")
    if not isinstance(operation, str) or operation not in OPERATIONS:
        return f"request.operation must be one of {', '.join(sorted(OPERATIONS))}"
    for key in TEXT_FIELDS:
        if not isinstance(req.get(key), str | None):
            return f"request.{key} must be a string"
    for key in GVK_FIELDS:
        value = req.get(key)
        if value is not None and not _map_of(value, str):
            return f"request.{key} must be an object of strings"
    for key in MAP_FIELDS:
        if not isinstance(req.get(key), dict | None):
            return f"request.{key} must be an object or null"
    if not isinstance(req.get("dryRun"), bool | None):
        return "request.dryRun must be true or false"
    return _user_problem(req.get("userInfo"))


def _user_problem(user: Any) -> str | None:
    if user is None:
        return None
    if not isinstance(user, dict):
        return "request.userInfo must be an object"
    for key in ("username", "uid"):
        if not isinstance(user.get(key), str | None):
            return f"request.userInfo.{key} must be a string"
    groups = user.get("groups")
    if groups is not None and not _list_of_text(groups):
        return "request.userInfo.groups must be a list of strings"
    extra = user.get("extra")
    if extra is not None and not (isinstance(extra, dict) and
                                  all(_list_of_text(v) for v in extra.values())):
        return "request.userInfo.extra must map keys to lists of strings"
    return None


def _map_of(value: Any, kind: type) -> bool:
    return isinstance(value, dict) and all(isinstance(v, kind) for v in value.values())


def _list_of_text(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _fill(out: AdmissionRequest, req: dict[str, Any]) -> str | None:
    """Copy the fields the webhook uses (their types checked already); the
    first problem found, if any."""
    operation = req["operation"]
    out.operation = operation
    out.object = req.get("object")
    out.old_object = req.get("oldObject")
    if operation in JUDGED_OPERATIONS and out.object is None:
        return f"request.object is required for {operation}"
    out.namespace = req.get("namespace") or None
    out.name = req.get("name") or ""
    kind = req.get("kind") or {}
    kind_name = kind.get("kind")
    if kind_name is None and out.object is not None:
        kind_name = out.object.get("kind")
    out.kind = kind_name if isinstance(kind_name, str) else ""
    if isinstance(kind.get("version"), str):
        group = kind.get("group")
        out.api_version = f"{group}/{kind['version']}" if group else kind["version"]
    user = req.get("userInfo") or {}
    out.username = user.get("username") or ""
    out.user_info = user if isinstance(user, dict) else {}
    out.dry_run = req.get("dryRun") is True
    out.sub_resource = req.get("subResource") or ""
    return None


def log_safe(text: str, limit: int = 200) -> str:
    """``text`` for one log line: control characters escaped, capped in length."""
    escaped = text.encode("unicode_escape", "backslashreplace").decode("ascii")
    return escaped if len(escaped) <= limit else escaped[:limit - 3] + "..."


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
