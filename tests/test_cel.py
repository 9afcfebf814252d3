"""kubeproof.k8s.cel beyond the conformance cases: the cost budget and the API."""

from __future__ import annotations

import time

import pytest

from kubeproof.k8s.cel import (
    CelCompileError,
    CelCostError,
    CelEvalError,
    Environment,
    Optional,
)


@pytest.fixture(scope="module")
def env() -> Environment:
    return Environment(("object",))


def test_compile_once_evaluate_many(env: Environment) -> None:
    program = env.compile("object.metadata.?labels[?'app'].orValue('none')")
    assert program.evaluate({"object": {"metadata": {"labels": {"app": "web"}}}}) == "web"
    assert program.evaluate({"object": {"metadata": {}}}) == "none"


def test_an_optional_result_comes_back_as_optional(env: Environment) -> None:
    assert env.compile("object[?'a']").evaluate({"object": {}}) == Optional(False)
    assert env.compile("object[?'a']").evaluate({"object": {"a": 1}}) == Optional(True, 1)


def test_errors_are_compile_or_evaluation_errors(env: Environment) -> None:
    with pytest.raises(CelCompileError, match="undeclared reference"):
        env.compile("nope == 1")
    with pytest.raises(CelEvalError):
        env.compile("object.missing").evaluate({"object": {}})


def test_nested_comprehensions_over_a_big_input_are_refused_before_they_run(
        env: Environment) -> None:
    program = env.compile("object.l.all(x, object.l.all(y, x == y || x != y))")
    assert program.evaluate({"object": {"l": list(range(50))}}) is True
    with pytest.raises(CelCostError, match="budget"):  # the runtime's 10,000 iterations
        program.evaluate({"object": {"l": list(range(200))}})
    with pytest.raises(CelCostError):
        program.evaluate({"object": {"l": list(range(5000))}})
    with pytest.raises(CelCostError):
        env.compile("lists.range(100000).all(a, lists.range(100000).all(b, true))").evaluate({})


def test_comprehensions_nested_too_deep_do_not_compile(env: Environment) -> None:
    with pytest.raises(CelCompileError, match="cost budget"):
        env.compile("[1].all(a, [1].all(b, [1].all(c, [1].all(d, [1].all(e, true)))))")


def test_a_backtracking_pattern_costs_linear_time(env: Environment) -> None:
    start = time.perf_counter()
    program = env.compile("object.s.find('(a+)+$') == '' && !object.s.matches('^(a+)+$')")
    assert program.evaluate({"object": {"s": "a" * 50_000 + "b"}}) is True
    assert time.perf_counter() - start < 1


def test_a_function_exists_only_from_its_kubernetes_version() -> None:
    assert Environment((), (1, 28)).compile("isQuantity('1Gi')").evaluate() is True
    with pytest.raises(CelCompileError):
        Environment((), (1, 27)).compile("isQuantity('1Gi')")
    with pytest.raises(CelCompileError):
        Environment((), (1, 30)).compile("format.dns1123Label().validate('a')")
