"""kubeproof.k8s.cel typing the way Kubernetes types: schema formats as
durations and timestamps, type() of the Kubernetes values, the compile-time
checks of a typed environment, and the binding kept from crashing the process."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kubeproof.k8s.cel import CelCompileError, CelError, CelEvalError, Environment, Optional
from kubeproof.k8s.cel.times import parse_date_time, parse_duration

SCHEMA = {"self": {"type": "object", "properties": {
    "timeout": {"type": "string", "format": "duration"},
    "waits": {"type": "array", "items": {"type": "string", "format": "duration"}},
    "since": {"type": "string", "format": "date-time"},
    "day": {"type": "string", "format": "date"},
    "bad": {"type": "string", "format": "duration"},
    "none": {"type": "array", "items": {"type": "string", "format": "duration"}},
    "noNumbers": {"type": "array", "items": {"type": "number"}},
    "ratio": {"type": "number"}}}}
SELF = {"timeout": "1m30s", "waits": ["2s", "1s"], "since": "2024-02-29T12:00:00+01:00",
        "day": "2024-03-01", "bad": "soon", "ratio": 1, "none": [], "noNumbers": []}


@pytest.fixture(scope="module")
def env() -> Environment:
    return Environment(("self",))


def _eval(env: Environment, expression: str, data: Any = None) -> Any:
    return env.compile(expression).evaluate({"self": SELF if data is None else data}, SCHEMA)


@pytest.mark.parametrize("expression", [
    "self.timeout == duration('90s')",
    "self.timeout + duration('30s') == duration('2m')",
    "self.waits.sum() == duration('3s') && self.waits.min() == duration('1s')",
    "self.waits.sort() == [duration('1s'), duration('2s')]",
    "self.since == timestamp('2024-02-29T11:00:00Z')",
    "self.since < self.day && self.day.getDayOfMonth() == 0",
    "type(self.bad) == string && type(self.ratio) == double",
    "self.none.sum() == duration('0') && type(self.noNumbers.sum()) == double",
    "[].sum() == 0 && type(self.waits.map(w, w).sum()) == google.protobuf.Duration",
])
def test_schema_formats_are_typed(env: Environment, expression: str) -> None:
    assert _eval(env, expression) is True


def test_a_typed_value_comes_back_as_python(env: Environment) -> None:
    assert _eval(env, "self.timeout") == timedelta(seconds=90)
    assert _eval(env, "self.since") == datetime(2024, 2, 29, 11, tzinfo=UTC)


@pytest.mark.parametrize(("text", "nanos"), [
    ("1h2m3s", 3723 * 10**9), ("1.5s", 1_500_000_000), ("-1m", -60 * 10**9), ("0", 0),
    ("300ms", 300 * 10**6), ("2 days", 2 * 86400 * 10**9), ("1w", 7 * 86400 * 10**9),
    ("soon", None), ("", None), ("9999999999h", None), ("1" * 300 + "s", None),
])
def test_durations_parse_as_go_openapi(text: str, nanos: int | None) -> None:
    assert parse_duration(text) == nanos


def test_date_times_parse_with_or_without_zone() -> None:
    assert parse_date_time("2024-01-02T03:04:05.123456789Z") == (
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), 123456789)
    assert parse_date_time("2024-01-02 03:04") == (datetime(2024, 1, 2, 3, 4, tzinfo=UTC), 0)
    assert parse_date_time("2024-13-02T03:04:05Z") is None


@pytest.mark.parametrize("expression", [
    "type(ip('10.0.0.1')) == net.IP", "type(cidr('10.0.0.0/8')) == net.CIDR",
    "type(quantity('1Gi')) == kubernetes.Quantity", "type(1) == int", "type(self) == map",
    "type(optional.of(1)) == optional_type", "type({1: 2}) == map", "'type(x)' == 'type(x)'",
    "type(type(1)) == type",
])
def test_type_shows_the_kubernetes_type(env: Environment, expression: str) -> None:
    assert env.compile(expression).evaluate({"self": {}}) is True


@pytest.mark.parametrize(("expression", "message"), [
    ("[1, 'a']", "<input>:1:5: expected type 'int' but found 'string'"),
    ("{'a': 1, 'b': true}", "<input>:1:15: expected type 'int' but found 'bool'"),
    ("[[1], ['a']]", "expected type 'list(int)' but found 'list(string)'"),
    ("['a', 'b'].sum() == 'ab'", "found no matching overload for 'sum' applied to "
                                 "'list(string).()'"),
    ("[[1]].max() == [1]", "found no matching overload for 'max'"),
])
def test_what_a_typed_checker_refuses_does_not_compile(env: Environment, expression: str,
                                                       message: str) -> None:
    with pytest.raises(CelCompileError) as caught:
        env.compile(expression)
    assert message in str(caught.value)


@pytest.mark.parametrize("expression", [
    "[self.a, 1].size() == 2", "'%s %d'.format(['a', 1]) == 'a 1'", "['b', 'a'].min() == 'a'",
    "self.l.sum() == 3", "[1, ?optional.of(2)] == [1, 2]", "[true ? 1 : 2, 3].size() == 2",
    "self.l.map(x, [x, 'x']).size() == 2",
])
def test_what_it_cannot_type_is_accepted(env: Environment, expression: str) -> None:
    assert env.compile(expression).evaluate({"self": {"a": "s", "l": [1, 2]}}) is True


def test_literal_mixes_compile_before_1_29() -> None:
    assert Environment((), (1, 28)).compile("[1, 'a'].size()").evaluate() == 2


@pytest.mark.parametrize("expression", [
    "[1].indexOf(self[?'a'])", "[1].includes(self[?'a'])", "[1].lastIndexOf(self[?'a'])",
    "kp_type(self)",
])
def test_an_optional_never_reaches_python(env: Environment, expression: str) -> None:
    # the binding segfaults converting an optional passed as a dyn parameter: no
    # function takes one, so this is an evaluation error and the process lives
    with pytest.raises(CelEvalError):
        env.compile(expression).evaluate({"self": {"a": 1}})


def test_of_non_zero_value_takes_go_s_zero_time(env: Environment) -> None:
    assert env.compile("optional.ofNonZeroValue(timestamp('0001-01-01T00:00:00Z'))").evaluate(
        {"self": {}}) == Optional(False)
    assert env.compile("optional.ofNonZeroValue(timestamp(0)).hasValue()").evaluate(
        {"self": {}}) is True
    assert env.compile("optional.ofNonZeroValue(optional.of(1)).hasValue()").evaluate(
        {"self": {}}) is True
    assert env.compile("optional.ofNonZeroValue(1u).value() == 1u").evaluate(
        {"self": {}}) is True


def test_big_quantities_keep_their_precision() -> None:
    env = Environment(())
    assert env.compile("quantity('99999999999999999999').add(1)"
                       ".compareTo(quantity('99999999999999999999')) == 1").evaluate() is True
    assert env.compile("quantity('1e30').isInteger()").evaluate() is False
    with pytest.raises(CelEvalError):
        env.compile("quantity('1e9999')").evaluate()


@pytest.mark.parametrize(("expression", "expected"), [
    ("'%e'.format([3.14])", "3.140000×10⁰⁰"),
    ("'%.2e'.format([-0.00123])", "-1.230000×10⁻⁰³"),
    ("'%e and %s: %d'.format([1.0, [1, 'a', 2.5], 7])",
     "1.000000×10⁰⁰ and [1, \"a\", 2.500000]: 7"),
    ("'%%e %s'.format(['x'])", "%e x"),
])
def test_scientific_format_as_cel_go(expression: str, expected: str) -> None:
    assert Environment(()).compile(expression).evaluate() == expected


def test_scientific_format_of_a_wrong_type_fails() -> None:
    with pytest.raises(CelEvalError):
        Environment(()).compile("'%e'.format(['x'])").evaluate()


def test_hostile_expressions_compile_or_fail_fast(env: Environment) -> None:
    size = 16 * 1024 - 64
    hostile = ["a" * (size - 20) + " (x).sum()", ".".join(["self"] + ["a"] * (size // 2)),
               "+".join(["[1, 'a']"] * (size // 9)), "self" + "[0]" * (size // 3) + ".sum()",
               "[" + ",".join(["{'a': 1, 'b': 2}"] * (size // 18)) + "]",
               "type(" * 12 + "1" + ")" * 12, "'%e'.format([1.0]) + " * (size // 22) + "''"]
    start = time.perf_counter()
    for expression in hostile:
        with contextlib.suppress(CelError):
            env.compile(expression[:16 * 1024]).evaluate({"self": {"a": [1]}})
    assert time.perf_counter() - start < 3
