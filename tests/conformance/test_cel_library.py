"""Conformance of ``kubeproof.k8s.cel`` with the Kubernetes CEL library tests.

``cel-library/cases.jsonl`` holds 708 upstream cases (see that folder's
README): an expression, its bindings and the value, runtime error or compile
error upstream asserts. Each is evaluated in the environment it names and
compared as the README's "How a runner should compare errors" says: a value by
CEL equality for its type; an error in the right phase (compile versus
evaluate; either for ``phase: any``), messages not compared.

The cases that do not agree are exactly :data:`DISAGREE`, each with its reason:
a regression fails, and so does a listed case that now agrees (take it out).
"""

from __future__ import annotations

import collections
import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest

from kubeproof.k8s.cel import (
    CelCompileError,
    CelEvalError,
    CelNotEvaluated,
    Environment,
    Optional,
    kind_of,
)
from kubeproof.k8s.cel.library import cel_equal
from kubeproof.k8s.quantity import parse_quantity

CASES = Path(__file__).parent / "cel-library" / "cases.jsonl"

ADMISSION_VARIABLES = ("object", "oldObject", "request", "namespaceObject", "params",
                       "authorizer")


def _load() -> list[dict[str, Any]]:
    with CASES.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _version(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


_ENVS: dict[Any, Environment] = {}


def _env(case: dict[str, Any]) -> Environment:
    variables: tuple[str, ...] = ()
    if case["env"] == "crd":
        variables = ("self",)
    elif case["env"] == "admission":
        variables = ADMISSION_VARIABLES
    # StoredExpressions holds every library whatever the version
    version = None if case.get("envType") == "StoredExpressions" else \
        _version(case.get("compatibilityVersion"))
    libs = {"semver": case["libraryVersion"]} if "libraryVersion" in case else {}
    key = (variables, version, tuple(sorted(libs.items())))
    if key not in _ENVS:
        _ENVS[key] = Environment(variables, version, libs)
    return _ENVS[key]


def _value_agrees(expect: dict[str, Any], got: Any) -> bool:
    want, kind = expect["value"], expect["type"]
    if kind == "optional":
        if not isinstance(got, Optional) or got.has_value != expect["hasValue"]:
            return False
        return not got.has_value or cel_equal(got.value, want)
    if kind == "bool":
        return got is want
    if kind == "int":
        return type(got) is int and got == want
    if kind == "double":
        return type(got) is float and got == want
    if kind == "string":
        return type(got) is str and got == want
    if kind == "kubernetes.Quantity":
        return kind_of(got) == "quantity" and int(got["v"]) == parse_quantity(want).nano
    if kind == "net.IP":
        return kind_of(got) == "ip" and ipaddress.ip_address(got["v"]) == \
            ipaddress.ip_address(want)
    if kind == "net.CIDR":
        return kind_of(got) == "cidr" and ipaddress.ip_interface(got["v"]) == \
            ipaddress.ip_interface(want)
    if kind == "kubernetes.Semver":
        return kind_of(got) == "semver" and got["v"] == want
    raise AssertionError(f"unknown expected type {kind}")


class FakeAuthorizer:
    """The fake authorizer of upstream's condition_test.go, from a case's
    ``authorizer`` data (README "Authorizer cases"): the decision of the first
    rule whose attributes equal the check's field by field, else the default."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.rules = data["rules"]
        self.default = data["default"]
        self.asked: list[dict[str, Any]] = []

    def decide(self, attributes: dict[str, Any]) -> tuple[str, str, str | None]:
        self.asked.append(attributes)
        for rule in self.rules:
            if rule["attributes"] == attributes:
                return rule["decision"], rule["reason"], rule["error"]
        return self.default["decision"], self.default["reason"], self.default["error"]


def agrees(case: dict[str, Any]) -> bool:
    """Whether kubeproof's evaluation of ``case`` agrees with upstream's."""
    expect = case["expect"]
    bindings = dict(case.get("bindings") or {})
    authorizer = FakeAuthorizer(case["authorizer"]) if "authorizer" in case else None
    if "request" in case:
        bindings["request"] = case["request"]
    try:
        program = _env(case).compile(case["expression"])
    except CelCompileError:
        return ("compileError" in expect or expect.get("phase") == "any"
                or bool(expect.get("invalid")))
    try:
        got = program.evaluate(bindings, case.get("schema"), authorizer)
    except CelEvalError:
        return ("error" in expect and expect.get("phase") in (None, "any")) or \
            bool(expect.get("invalid"))
    if expect.get("invalid"):
        return got is not True
    if "value" not in expect:
        return False
    return _value_agrees(expect, got)


# Every case agrees. One that cannot must be listed here with a precise reason
# (what in the binding prevents it, what was tried).
DISAGREE: dict[str, str] = {}


def _results() -> dict[str, tuple[str, bool]]:
    return {case["id"]: (case["library"], agrees(case)) for case in _load()}


def test_offline_an_authz_case_is_not_evaluated_never_guessed() -> None:
    authz_cases = [case for case in _load() if case["library"] == "authz"]
    assert len(authz_cases) == 14
    for case in authz_cases:
        program = _env(case).compile(case["expression"])
        with pytest.raises(CelNotEvaluated):
            program.evaluate({"request": case["request"]})


def test_every_case_agrees_except_the_listed_ones() -> None:
    results = _results()
    per_library: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for library, ok in results.values():
        per_library[library][0 if ok else 1] += 1
    print()
    for library, (good, bad) in sorted(per_library.items()):
        print(f"{library:10} {good}/{good + bad} agree, {bad} listed in DISAGREE")
    disagree = {case_id for case_id, (_, ok) in results.items() if not ok}
    unknown = set(DISAGREE) - set(results)
    assert not unknown, f"DISAGREE names cases that do not exist: {sorted(unknown)}"
    regressions = sorted(disagree - set(DISAGREE))
    stale = sorted(set(DISAGREE) - disagree)
    assert not regressions, f"cases that no longer agree: {regressions}"
    assert not stale, f"cases in DISAGREE that now agree (remove them): {stale}"
