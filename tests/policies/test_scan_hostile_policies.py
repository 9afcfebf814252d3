"""Property: any admission policy of the right shape, with any expression
(deep, wrong-typed, failing, over its cost budget, not CEL at all) and any
values in the judged objects, gives a scan that ends with findings, warnings
and one-line input errors: never an exception, never a hang."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeproof.api import scan
from kubeproof.core.config import Config

_ATOMS = st.sampled_from([
    "object.metadata.name", "object.spec.replicas", "object.?spec.?replicas.orValue(1)",
    "object.spec.containers", "object.data", "variables.v", "params.data.limit",
    "request.operation", "namespaceObject.metadata.labels", "oldObject", "'a'", "1", "[]",
    "{'k': 2}", "null", "object.spec.containers[0].image", "authorizer",
    "lists.range(100000)", "'(a+)+$'",
])
_FORMS = [
    "{} == {}", "{} + {}", "{}.all(x, x == {})", "size({}) > 0", "{}.exists(y, {}.all(z, z == y))",
    "string({}).matches('^(a+)+$')", "{}[0]", "int({})", "!({})", "{} in {}",
    "{}.map(x, {}.filter(y, y == x))", "quantity({}).isGreaterThan(quantity('1'))",
]


def _expression(depth: int = 3) -> st.SearchStrategy[str]:
    if depth == 0:
        return _ATOMS
    inner = _expression(depth - 1)
    formed = st.builds(lambda form, a, b: form.format(a, b) if form.count("{}") == 2
                       else form.format(a), st.sampled_from(_FORMS), inner, inner)
    return st.one_of(inner, formed, st.text(max_size=30))


_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20)
                       | st.floats(allow_nan=False),
                       lambda inner: st.lists(inner, max_size=5)
                       | st.dictionaries(st.text(max_size=8), inner, max_size=5),
                       max_leaves=25)


def _policy(expressions: list[str], variable: str, kind: str) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "fuzzed"},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": ["", "apps"], "apiVersions": ["v1"],
                "operations": ["CREATE"], "resources": [kind]}]},
            "variables": [{"name": "v", "expression": variable}],
            "validations": [{"expression": e, "messageExpression": e} for e in expressions],
        },
    }


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(expressions=st.lists(_expression(), min_size=1, max_size=3), variable=_expression(2),
       kind=st.sampled_from(["deployments", "configmaps", "*"]), spec=_values, data=_values)
def test_any_policy_and_any_object_give_a_scan_that_ends(
        expressions: list[str], variable: str, kind: str, spec: Any, data: Any) -> None:
    objects = [
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "d", "namespace": "ns"}, "spec": spec},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"},
         "data": data},
    ]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "policy.yaml").write_text(
            yaml.safe_dump(_policy(expressions, variable, kind)), encoding="utf-8")
        (folder / "objects.yaml").write_text(yaml.safe_dump_all(objects), encoding="utf-8")
        result = scan([str(folder)], config=Config())
    for problem in [*result.errors, *result.warnings]:
        assert "\n" not in problem.message and "Traceback" not in problem.message
    assert all(f.rule.code == "vap/fuzzed" or f.rule.code.startswith("KP")
               for f in result.findings)
