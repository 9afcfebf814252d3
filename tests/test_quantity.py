"""The one quantity parser: upstream's grammar, exact values, bounded work; and
``kubeproof fix`` on hostile quantities (real subprocesses, real files)."""

from __future__ import annotations

import copy
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproof.core.config import Config
from kubeproof.core.context import Context
from kubeproof.core.engine import ObjectChecker
from kubeproof.core.fixing import FixSettings
from kubeproof.core.run import select_rules
from kubeproof.fix.apply import fix_object
from kubeproof.fix.files import _dump, _yaml
from kubeproof.k8s.quantity import (
    MAX_VALUE,
    Quantity,
    QuantityError,
    decimal_int,
    parse_quantity,
    quantity_or_none,
)
from kubeproof.k8s.versions import DEFAULT_KUBE_VERSION
from kubeproof.sources.yamlparse import parse_yaml
from tests.support.cli import kp
from tests.support.scanning import hits

NANO = 10**9

UNSAFE = FixSettings(unsafe_fixes=True)  # KP1403 and KP1404 are unsafe fixes


@pytest.mark.parametrize(("text", "nano"), [
    ("128Mi", 128 * 2**20 * NANO),
    ("1.5Gi", 3 * 2**29 * NANO),
    ("1G", 10**18),
    ("500m", 500_000_000),
    ("0.5", 500_000_000),
    ("1e3", 1000 * NANO),
    ("1E", 10**18 * NANO),        # E alone is exa, not an exponent
    ("1E3", 1000 * NANO),
    ("1e+03", 1000 * NANO),
    ("1.", NANO),
    (".5", 500_000_000),
    ("+2", 2 * NANO),
    ("-2", -2 * NANO),
    (" 2Gi ", 2 * 2**30 * NANO),  # the API server trims spaces
    ("1n", 1),
    ("0.1n", 1),                   # rounded up to a nano-unit, as upstream does
    ("1e-999999999", 1),
    ("0e2147483647", 0),
    ("000000001k", 1000 * NANO),
    ("9223372036854775807", MAX_VALUE * NANO),
    ("7Ei", 7 * 2**60 * NANO),
    ("1" * 19 + "0" * 4000 + "e-4000", int("1" * 19) * NANO),  # trailing zeros are free
    (2, 2 * NANO),
    (0.25, 250_000_000),
    (1e-5, 10_000),
])
def test_valid_quantities_are_exact(text: object, nano: int) -> None:
    assert parse_quantity(text) == Quantity(nano)


@pytest.mark.parametrize(("value", "why"), [
    ("1e9999999999", "exponent outside the 32-bit range"),
    ("1e2147483648", "exponent outside the 32-bit range"),
    ("1e" + "9" * 5000, "exponent outside the 32-bit range"),
    ("1e400", "larger than 2^63-1"),
    ("1e2147483647", "larger than 2^63-1"),
    ("8Ei", "larger than 2^63-1"),
    ("9223372036854775808", "larger than 2^63-1"),
    ("9" * 100_000, "larger than 2^63-1"),
    ("0." + "1" * 1001, "more than 1000 significant digits"),
    pytest.param(10**5000, "larger than 2^63-1", id="huge-int"),
    (float("inf"), "finite"),
    (float("-inf"), "finite"),
    (float("nan"), "finite"),
    (1e300, "larger than 2^63-1"),
    (True, "not a boolean"),
    (None, "not null"),
    ([1], "not a list"),
    ({"a": 1}, "not a mapping"),
    ("", "empty"),
    (".", "not a quantity"),
    ("m", "not a quantity"),
    ("1e", "not a quantity"),
    ("1e1.5", "not a quantity"),
    ("1K", "not a quantity"),
    ("1ki", "not a quantity"),
    ("1 Gi", "not a quantity"),
    ("0x10", "not a quantity"),
    ("1_000", "not a quantity"),
    ("١", "not a quantity"),          # a non-ASCII digit
    ("12Mi\x00", "not a quantity"),
])
def test_invalid_quantities_say_why(value: object, why: str) -> None:
    with pytest.raises(QuantityError, match=why.replace("^", r"\^")):
        parse_quantity(value)
    assert quantity_or_none(value) is None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789.eE+-KMGTPEinumk ", max_size=40)
       | st.from_regex(r"[+-]?[0-9]{0,30}(\.[0-9]{0,30})?([eE][+-]?[0-9]{1,12}|[KMGTPE]i"
                       r"|[numkMGTPE])?", fullmatch=True))
def test_any_text_parses_or_is_refused_quickly(text: str) -> None:
    start = time.perf_counter()
    try:
        parsed = parse_quantity(text)
    except QuantityError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert abs(parsed.nano) <= MAX_VALUE * NANO
    assert time.perf_counter() - start < 0.5  # microseconds in fact; generous for loaded CI


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 9), st.integers(-12, 12),
       st.sampled_from(["", "k", "M", "G", "m", "u", "n", "Ki", "Mi", "Gi"]))
def test_values_match_exact_arithmetic(whole: int, frac: int, exp: int, suffix: str) -> None:
    """The nano count is the exact value rounded up, whatever spelling reaches it."""
    factor = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "m": Fraction(1, 10**3),
              "u": Fraction(1, 10**6), "n": Fraction(1, 10**9), "Ki": 2**10, "Mi": 2**20,
              "Gi": 2**30}[suffix]
    text = f"{whole}.{frac}{suffix}" if suffix else f"{whole}.{frac}e{exp}"
    exact = (whole + Fraction(frac, 10)) * (factor if suffix else Fraction(10) ** exp)
    nano = exact * NANO
    expected = -(-nano.numerator // nano.denominator)
    assert parse_quantity(text).nano == expected


def test_order_compares_values_not_spellings() -> None:
    assert parse_quantity("1Gi") > parse_quantity("1000Mi") > parse_quantity("1G")
    assert parse_quantity("1000m") == parse_quantity(1) == parse_quantity("1e0")
    assert parse_quantity("-1").negative and not parse_quantity("0").negative


# ---------------------------------------------------------------- fixers

def _pod(memory: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.0",
                                     "resources": {"requests": {"memory": memory}}}]}}


@pytest.mark.parametrize("memory", ["1e9999999999", "1e400", float("inf"), float("nan"),
                                    "-1Gi", True, ["1Gi"], "lots"])
def test_memory_limit_fixer_leaves_invalid_requests_alone(memory: object) -> None:
    obj = _pod(memory)
    assert fix_object(obj, UNSAFE, codes={"KP1404"}) == []
    assert obj == _pod(memory) or memory != memory  # nan is not equal to itself


def test_memory_limit_fixer_compares_exactly() -> None:
    obj = _pod("268435457")  # one byte over the 256Mi default
    assert fix_object(obj, UNSAFE, codes={"KP1404"}) == ["KP1404"]
    assert obj["spec"]["containers"][0]["resources"]["limits"] == {"memory": "268435457"}
    obj = _pod("0.25Gi")  # 256Mi spelt otherwise: the default stays
    fix_object(obj, UNSAFE, codes={"KP1404"})
    assert obj["spec"]["containers"][0]["resources"]["limits"] == {"memory": "256Mi"}


@pytest.mark.parametrize("default", ["1e400", "-1", "lots", ""])
def test_invalid_defaults_are_never_written(default: str) -> None:
    obj = _pod("64Mi")
    settings = FixSettings(unsafe_fixes=True, limits={"memory": default}, requests={"cpu": default})
    assert fix_object(obj, settings, codes={"KP1403", "KP1404"}) == []


def test_non_finite_literals_keep_their_text_through_ruamel() -> None:
    text = "a: 1e400\nb: -1.5E+999\nc: .Inf\nd: .NaN\ne: 1e3\n"
    yaml = _yaml(text)
    assert _dump(yaml, list(yaml.load_all(text))) == text


HOSTILE = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
    - name: huge
      image: nginx:1.0
      resources:
        requests:
          memory: "1e9999999999"
    - name: float
      image: nginx:1.0
      resources:
        requests:
          memory: 1.0e+400
    - name: unquoted
      image: nginx:1.0
      resources:
        requests:
          memory: 1e400
    - name: fine
      image: nginx:1.0
      resources:
        requests:
          memory: 1Gi
"""


def test_fix_on_hostile_quantities_is_fast_and_keeps_them(tmp_path: Path) -> None:
    target = tmp_path / "pod.yaml"
    target.write_text(HOSTILE)
    start = time.monotonic()
    proc = kp("fix", "--no-config", "--unsafe-fixes", "--select", "KP1404", str(target),
              timeout=60)
    assert time.monotonic() - start < 5  # the fix itself: well under a second
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    fixed = target.read_text()
    assert ".inf" not in fixed and "nan" not in fixed
    for line in ('memory: "1e9999999999"', "memory: 1.0e+400", "memory: 1e400"):
        assert fixed.count(line) == 1
    # only the valid container got a limit, equal to its larger request
    assert fixed.count("limits:") == 1 and fixed.count("memory: 1Gi") == 2
    assert all(not isinstance(d, Exception) for d in parse_yaml(fixed))


# ---------------------------------------------------------------- other numbers

@pytest.mark.parametrize(("text", "expected"), [
    ("80", 80), ("0080", 80), ("0", 0), ("9" * 5000, MAX_VALUE), ("²", None), ("١", None),
    ("", None), ("-1", None), ("8080 ", None), ("http", None)])
def test_decimal_int_is_ascii_and_clamped(text: str, expected: int | None) -> None:
    assert decimal_int(text) == expected
    assert decimal_int("250", ceiling=100) == 100


NUMERIC_STRINGS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: shop}}
spec:
  strategy: {{rollingUpdate: {{maxUnavailable: "{big}%"}}}}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: app, image: nginx:1.0, ports: [{{containerPort: 80}}]}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: shop}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: "²"}}, {{port: 81, targetPort: "{big}"}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: web, namespace: shop}}
spec:
  rules:
    - http:
        paths:
          - {{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{name: "²"}}}}}}}}
          - {{path: /b, pathType: Prefix,
             backend: {{service: {{name: web, port: {{name: "{big}"}}}}}}}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: web, namespace: shop}}
spec:
  minAvailable: "{big}%"
  selector: {{matchLabels: {{app: web}}}}
"""


@pytest.mark.parametrize(("code", "lines"), [
    ("KP0504", [26, 28]),  # routes to ports the Service does not expose
    ("KP1302", [5]),       # maxUnavailable of more than 100%
    ("KP1305", [34]),      # minAvailable of more than 100%
])
def test_rules_read_digit_strings_without_crashing(tmp_path: Path, code: str,
                                                  lines: list[int]) -> None:
    """``"²"`` passes ``str.isdigit`` but not ``int``; 5000 digits pass neither
    ``int`` (its digit limit) nor any sane bound: the rules judge both."""
    path = tmp_path / "numbers.yaml"
    path.write_text(NUMERIC_STRINGS.format(big="9" * 5000))
    assert [line for _, line in hits(path, code)] == lines  # hits: no internal errors


ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30),
    st.from_regex(r"[+-]?[0-9]{0,25}(\.[0-9]{0,5})?([eE][+-]?[0-9]{1,11}|[KMGTPE]i|[numkMGTPE])?",
                  fullmatch=True),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                         max_size=2))


@settings(max_examples=150, deadline=None)
@given(ANY_VALUE, ANY_VALUE, ANY_VALUE)
def test_any_resource_values_are_judged_and_never_derived_from(
        request_memory: object, limit_cpu: object, size: object) -> None:
    """KP0002 judges any value without an internal error; KP1403/KP1404 write only
    valid quantities, and never a memory limit below the request."""
    obj = _pod(request_memory)
    spec: Any = obj["spec"]
    spec["containers"][0]["resources"]["limits"] = {"cpu": limit_cpu}
    spec["volumes"] = [{"name": "tmp", "emptyDir": {"sizeLimit": size}}]
    checker = ObjectChecker(Context(Config(), DEFAULT_KUBE_VERSION), select_rules(Config()))
    result = checker.check(copy.deepcopy(obj), "test")
    assert not result.errors
    fix_object(obj, UNSAFE, codes={"KP1403", "KP1404"})
    resources = spec["containers"][0]["resources"]
    limit = resources["limits"].get("memory")
    if limit is not None:
        written = parse_quantity(limit)
        assert not written.negative
        assert written >= parse_quantity(resources["requests"]["memory"])
    else:
        assert quantity_or_none(request_memory) is None or \
            parse_quantity(request_memory).negative
