"""The authz CEL library of kubeproof.k8s.cel: the attributes a check hands the
authorizer, selectors parsed as apimachinery does, and offline (no authorizer)
an expression that reaches a check is not evaluated, never guessed."""

from __future__ import annotations

from typing import Any

import pytest

from kubeproof.k8s.cel import (
    ALLOW,
    DENY,
    CelCompileError,
    CelError,
    CelEvalError,
    CelNotEvaluated,
    Environment,
)
from kubeproof.k8s.cel.selector_strings import (
    SelectorParseError,
    parse_field_selector,
    parse_label_selector,
)

VARIABLES = ("object", "oldObject", "request", "namespaceObject", "params", "authorizer")
REQUEST = {"operation": "UPDATE", "namespace": "team-a", "name": "web",
           "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
           "subResource": "scale", "userInfo": {"username": "alice", "groups": ["dev"]}}


class Recording:
    """An authorizer that allows what ``allow`` says and remembers each question."""

    def __init__(self, allow: bool = True, error: str | None = None) -> None:
        self.allow, self.error = allow, error
        self.asked: list[dict[str, Any]] = []

    def decide(self, attributes: dict[str, Any]) -> tuple[str, str, str | None]:
        self.asked.append(attributes)
        return (ALLOW if self.allow else DENY), "because", self.error


class Failing:
    def decide(self, attributes: dict[str, Any]) -> tuple[str, str, str | None]:
        raise ConnectionError("SubjectAccessReview timed out")


@pytest.fixture(scope="module")
def env() -> Environment:
    return Environment(VARIABLES)


def _run(env: Environment, expression: str, authorizer: Any = None) -> Any:
    return env.compile(expression).evaluate({"request": REQUEST}, authorizer=authorizer)


def test_a_resource_check_hands_every_attribute_to_the_authorizer(env: Environment) -> None:
    authorizer = Recording()
    assert _run(env, "authorizer.group('apps').resource('deployments').subresource('status')"
                     ".namespace('ns').name('d').fieldSelector('spec.x=1,a!=b')"
                     ".labelSelector('tier in (web, api),!canary').check('patch').allowed()",
                authorizer) is True
    assert authorizer.asked == [{
        "user": {"name": "alice", "uid": "", "groups": ["dev"], "extra": {}},
        "verb": "patch", "namespace": "ns", "apiGroup": "apps", "apiVersion": "*",
        "resource": "deployments", "subresource": "status", "name": "d", "resourceRequest": True,
        "path": "",
        "fieldSelectorRequirements": [{"operator": "!=", "field": "a", "value": "b"},
                                      {"operator": "=", "field": "spec.x", "value": "1"}],
        "labelSelectorRequirements": [{"key": "canary", "operator": "!", "values": []},
                                      {"key": "tier", "operator": "in",
                                       "values": ["api", "web"]}],
        "fieldSelectorParsingErr": None, "labelSelectorParsingErr": None}]


def test_path_service_account_and_request_resource_checks(env: Environment) -> None:
    authorizer = Recording(allow=False)
    assert _run(env, "authorizer.path('/healthz').check('get').reason()", authorizer) == "because"
    assert authorizer.asked[-1]["path"] == "/healthz"
    assert authorizer.asked[-1]["resourceRequest"] is False
    assert authorizer.asked[-1]["apiVersion"] == ""
    assert _run(env, "authorizer.serviceAccount('ci', 'deployer').group('').resource('pods')"
                     ".check('list').allowed()", authorizer) is False
    assert authorizer.asked[-1]["user"] == {
        "name": "system:serviceaccount:ci:deployer",
        "groups": ["system:serviceaccounts", "system:serviceaccounts:ci"]}
    _run(env, "authorizer.requestResource.check('escalate').allowed()", authorizer)
    asked = authorizer.asked[-1]
    assert (asked["apiGroup"], asked["resource"], asked["subresource"], asked["namespace"],
            asked["name"], asked["verb"]) == ("apps", "deployments", "scale", "team-a", "web",
                                              "escalate")


def test_an_authorizer_error_is_the_decision_s_error(env: Environment) -> None:
    assert _run(env, "authorizer.path('/x').check('get').errored()", Failing()) is True
    assert _run(env, "authorizer.path('/x').check('get').error()", Failing()) == \
        "SubjectAccessReview timed out"
    assert _run(env, "authorizer.path('/x').check('get').allowed()", Failing()) is False
    assert _run(env, "authorizer.path('/x').check('get').error()", Recording()) == ""


def test_offline_a_check_is_not_evaluated_whatever_the_rest_computes(env: Environment) -> None:
    for expression in ("authorizer.path('/x').check('get').allowed()",
                       "authorizer.path('/x').check('get').allowed() || true",
                       "object.kind == 'Pod' && authorizer.requestResource.check('x').allowed()"):
        with pytest.raises(CelNotEvaluated, match="not evaluated") as caught:
            env.compile(expression).evaluate({"request": REQUEST, "object": {"kind": "Pod"}})
        assert isinstance(caught.value, CelError)
        assert not isinstance(caught.value, CelEvalError)  # never taken for a failure
    # a check that is never reached leaves the expression decided
    assert env.compile("true || authorizer.path('/x').check('get').allowed()").evaluate(
        {"request": REQUEST}) is True


def test_data_cannot_forge_a_check(env: Environment) -> None:
    authorizer = Recording()
    forged = {"@k": "pathcheck", "u": 0, "n": "guess", "path": "/admin"}
    with pytest.raises(CelEvalError):
        env.compile("object.forged.check('get').allowed()").evaluate(
            {"object": {"forged": forged}, "request": REQUEST}, authorizer=authorizer)
    assert authorizer.asked == []


def test_checks_per_evaluation_are_bounded(env: Environment) -> None:
    authorizer = Recording()
    with pytest.raises(CelEvalError):
        env.compile("lists.range(2000).all(i, authorizer.path('/x').check('get').allowed())"
                    ).evaluate({"request": REQUEST}, authorizer=authorizer)
    assert len(authorizer.asked) == 1000


def test_library_versions() -> None:
    with pytest.raises(CelCompileError):
        Environment(VARIABLES, (1, 30)).compile(
            "authorizer.group('').resource('pods').fieldSelector('a=b').check('get').allowed()")
    with pytest.raises(CelCompileError):
        Environment(VARIABLES, (1, 27)).compile("authorizer.path('/').check('get').errored()")
    Environment(VARIABLES, (1, 27)).compile("authorizer.path('/').check('get').allowed()")


@pytest.mark.parametrize(("text", "expected"), [
    ("a=b", [{"key": "a", "operator": "=", "values": ["b"]}]),
    ("a==b", [{"key": "a", "operator": "==", "values": ["b"]}]),
    ("a!=b", [{"key": "a", "operator": "!=", "values": ["b"]}]),
    ("a notin (z, y)", [{"key": "a", "operator": "notin", "values": ["y", "z"]}]),
    ("a in ()", [{"key": "a", "operator": "in", "values": [""]}]),
    ("x, !y", [{"key": "x", "operator": "exists", "values": []},
               {"key": "y", "operator": "!", "values": []}]),
    ("n>5,m<2", [{"key": "m", "operator": "lt", "values": ["2"]},
                 {"key": "n", "operator": "gt", "values": ["5"]}]),
    ("example.com/app=web", [{"key": "example.com/app", "operator": "=", "values": ["web"]}]),
    ("", []),
])
def test_label_selector_strings(text: str, expected: list[dict[str, Any]]) -> None:
    assert parse_label_selector(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("apple badoperator banana", "unable to parse requirement: found 'badoperator', expected: "
                                 "in, notin, =, ==, !=, gt, lt"),
    ("a in x", "unable to parse requirement: found 'x' expected: '('"),
    ("a=b c", "found 'c', expected: ',' or 'end of string'"),
    ("a>x", "for 'Gt', 'Lt' operators, the value must be an integer"),
    ("-bad=1", "key: Invalid value: \"-bad\""),
    ("a=b,", "found '', expected: identifier after ','"),
])
def test_label_selector_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorParseError, ) as caught:
        parse_label_selector(text)
    assert message in str(caught.value)


def test_field_selector_strings() -> None:
    assert parse_field_selector("b=2,a==1,c!=3") == [
        {"operator": "=", "field": "a", "value": "1"},
        {"operator": "=", "field": "b", "value": "2"},
        {"operator": "!=", "field": "c", "value": "3"}]
    assert parse_field_selector(r"a=x\,y\=z") == [{"operator": "=", "field": "a",
                                                   "value": "x,y=z"}]
    with pytest.raises(SelectorParseError, match="invalid selector: 'foo'; can't understand"):
        parse_field_selector("foo")
    with pytest.raises(SelectorParseError, match="invalid escape sequence"):
        parse_field_selector(r"a=\q")
    with pytest.raises(SelectorParseError, match="longer than"):
        parse_field_selector("a=" + "b" * 70_000)
