"""The Kubernetes authz CEL library (``authorizer.group(g).resource(r)....check(verb)``,
``authorizer.path(p).check(verb)``, ``authorizer.serviceAccount(ns, name)``,
``authorizer.requestResource``; decisions ``allowed()``, ``reason()``,
``errored()``, ``error()``), over an :class:`Authorizer`.

A check builds the authorization attributes exactly as k8s.io/apiserver's
``library/authz.go`` builds its ``AttributesRecord`` (field selectors and label
selectors parsed by selector_strings.py; a parse failure is not a CEL error but
reaches the authorizer as ``fieldSelectorParsingErr``/``labelSelectorParsingErr``)
and asks the authorizer of the running evaluation. Offline (scan, audit
without SubjectAccessReview, the webhook) there is none: the check fails and
the evaluation is marked, and env.py then reports the whole expression as
not evaluated (``CelNotEvaluated``), whatever the rest of it computed, because
any value would be a guess.

The values travel as opaque maps (values.py). A check map names its user by
an index into the running evaluation's user list and carries the evaluation's
nonce, so data under evaluation (an object holding ``{"@k": "pathcheck", ...}``)
cannot ask the authorizer in the name of a user the expression never chose.
"""

from __future__ import annotations

import contextvars
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubeproof.k8s.cel.selector_strings import (
    SelectorParseError,
    parse_field_selector,
    parse_label_selector,
)
from kubeproof.k8s.cel.values import KIND, kind_of

ALLOW, DENY, NO_OPINION = "Allow", "Deny", "NoOpinion"
MAX_CHECKS = 1000  # authorizer calls per evaluation (each may be a network round trip)


class Authorizer(Protocol):
    """Decides one authorization request. ``attributes`` holds every field of
    apiserver's ``AttributesRecord`` (``user``, ``verb``, ``namespace``,
    ``apiGroup``, ``apiVersion``, ``resource``, ``subresource``, ``name``,
    ``resourceRequest``, ``path``, ``fieldSelectorRequirements``,
    ``labelSelectorRequirements``, ``fieldSelectorParsingErr``,
    ``labelSelectorParsingErr``); ``user`` is ``None`` for the requesting user
    when the request names none. Returns ``(decision, reason, error)``:
    decision ``Allow``, ``Deny`` or ``NoOpinion``, error ``None`` or its text.
    An exception is taken as ``NoOpinion`` with that error."""

    def decide(self, attributes: dict[str, Any]) -> tuple[str, str, str | None]: ...


class NotEvaluatedOffline(RuntimeError):
    """A check was reached with no authorizer (env.py turns it into CelNotEvaluated)."""


@dataclass
class Run:
    """The authz state of one evaluation."""

    authorizer: Authorizer | None
    users: list[Any] = field(default_factory=list)
    nonce: str = field(default_factory=lambda: secrets.token_hex(8))
    reached: bool = False  # a check ran (or would have) in this evaluation
    checks: int = 0


CURRENT: contextvars.ContextVar[Run | None] = contextvars.ContextVar("kubeproof_cel_authz",
                                                                       default=None)


def authorizer_value(run: Run, request: Any) -> dict[str, Any]:
    """The value of the ``authorizer`` variable for a request (its user is the
    requesting user; ``requestResource`` is the request's resource)."""
    request = request if isinstance(request, Mapping) else {}
    info = request.get("userInfo")
    user = None if not isinstance(info, Mapping) else {
        "name": info.get("username", ""), "uid": info.get("uid", ""),
        "groups": list(info.get("groups") or []), "extra": dict(info.get("extra") or {})}
    run.users = [user]
    resource = request.get("resource")
    resource = resource if isinstance(resource, Mapping) else {}
    base = {KIND: "authorizer", "u": 0, "n": run.nonce}
    check = _resource_check(base, _text(resource.get("group")))
    check.update(resource=_text(resource.get("resource")),
                 subresource=_text(request.get("subResource")),
                 namespace=_text(request.get("namespace")), name=_text(request.get("name")))
    return {**base, "requestResource": check}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _want(value: Any, *kinds: str) -> dict[str, Any]:
    if kind_of(value) not in kinds:
        raise TypeError("no such overload")
    assert isinstance(value, dict)
    return value


def _arg(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("no such overload")
    return value


def _resource_check(base: Mapping[str, Any], group: str) -> dict[str, Any]:
    return {KIND: "resourcecheck", "u": base["u"], "n": base["n"], "group": group,
            "resource": "", "subresource": "", "namespace": "", "name": "",
            "fieldSelector": "", "labelSelector": ""}


def group(auth: Any, name: Any) -> dict[str, Any]:
    base = _want(auth, "authorizer")
    return {KIND: "groupcheck", "u": base["u"], "n": base["n"], "group": _arg(name)}


def resource(group_check: Any, name: Any) -> dict[str, Any]:
    check = _resource_check(_want(group_check, "groupcheck"), group_check["group"])
    check["resource"] = _arg(name)
    return check


def setter(key: str) -> Any:
    """``subresource``/``namespace``/``name``/``fieldSelector``/``labelSelector``."""
    def apply(check: Any, value: Any) -> dict[str, Any]:
        return {**_want(check, "resourcecheck"), key: _arg(value)}
    return apply


def path(auth: Any, value: Any) -> dict[str, Any]:
    base = _want(auth, "authorizer")
    return {KIND: "pathcheck", "u": base["u"], "n": base["n"], "path": _arg(value)}


def service_account(auth: Any, namespace: Any, name: Any) -> dict[str, Any]:
    _want(auth, "authorizer")
    run = _run()
    namespace, name = _arg(namespace), _arg(name)
    run.users.append({"name": f"system:serviceaccount:{namespace}:{name}",
                      "groups": ["system:serviceaccounts",
                                 f"system:serviceaccounts:{namespace}"]})
    if len(run.users) > MAX_CHECKS:
        raise ValueError(f"more than {MAX_CHECKS} service accounts in one evaluation")
    return {KIND: "authorizer", "u": len(run.users) - 1, "n": run.nonce}


def check(target: Any, verb: Any) -> dict[str, Any]:
    target = _want(target, "resourcecheck", "pathcheck")
    verb = _arg(verb)
    run = _run()
    if target["n"] != run.nonce or not isinstance(target["u"], int) \
            or not 0 <= target["u"] < len(run.users):
        raise ValueError("not a check this evaluation built")
    run.reached = True
    if run.authorizer is None:
        raise NotEvaluatedOffline("authorizer checks cannot be decided offline")
    run.checks += 1
    if run.checks > MAX_CHECKS:
        raise ValueError(f"more than {MAX_CHECKS} authorizer checks in one evaluation")
    attributes = _attributes(target, verb, run.users[target["u"]])
    try:
        decision, reason, error = run.authorizer.decide(attributes)
    except Exception as err:  # the authorizer's failure is the decision's error, as upstream
        decision, reason, error = NO_OPINION, "", str(err) or type(err).__name__
    return {KIND: "decision", "decision": str(decision), "reason": str(reason or ""),
            "error": None if error is None else str(error)}


def _attributes(target: dict[str, Any], verb: str, user: Any) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "user": user, "verb": verb, "namespace": "", "apiGroup": "", "apiVersion": "",
        "resource": "", "subresource": "", "name": "", "resourceRequest": False, "path": "",
        "fieldSelectorRequirements": None, "labelSelectorRequirements": None,
        "fieldSelectorParsingErr": None, "labelSelectorParsingErr": None}
    if target[KIND] == "pathcheck":
        attributes["path"] = target["path"]
        return attributes
    attributes.update(namespace=target["namespace"], apiGroup=target["group"], apiVersion="*",
                      resource=target["resource"], subresource=target["subresource"],
                      name=target["name"], resourceRequest=True)
    if target["fieldSelector"]:
        try:
            attributes["fieldSelectorRequirements"] = parse_field_selector(
                target["fieldSelector"])
        except SelectorParseError as err:
            attributes["fieldSelectorParsingErr"] = str(err)
    if target["labelSelector"]:
        try:
            attributes["labelSelectorRequirements"] = parse_label_selector(
                target["labelSelector"])
        except SelectorParseError as err:
            attributes["labelSelectorParsingErr"] = str(err)
    return attributes


def _run() -> Run:
    run = CURRENT.get()
    if run is None:  # a program evaluated outside Program.evaluate
        raise NotEvaluatedOffline("authorizer checks cannot be decided offline")
    return run


def allowed(decision: Any) -> bool:
    return bool(_want(decision, "decision")["decision"] == ALLOW)


def reason(decision: Any) -> str:
    return str(_want(decision, "decision")["reason"])


def errored(decision: Any) -> bool:
    return _want(decision, "decision")["error"] is not None


def error(decision: Any) -> str:
    return str(_want(decision, "decision")["error"] or "")
