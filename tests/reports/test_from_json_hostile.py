"""``report`` of a JSON report whose fields were replaced by values of any type:
every format renders, or the file is one input error naming the field; never
an exception (issue #9)."""

from __future__ import annotations

import copy
import io
import json
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeproof.api import scan
from kubeproof.reports import json_report, render
from kubeproof.reports.from_json import load_reports
from tests.support.paths import ROOT

HOSTILE_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12),
    st.sampled_from(["[/x]", "[bold]", "\x1b]0;t\x07", "high", "KP0401"]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                         max_size=2))


def _saved_report() -> dict[str, Any]:
    result = scan([str(ROOT / "examples" / "bad")])
    buf = io.BytesIO()
    json_report.write(result, buf, tool_version="1")
    doc: dict[str, Any] = orjson.loads(buf.getvalue())
    doc["registries"] = [{"host": "r.example", "reachable": True, "status": 200,
                          "latencyMs": 3.5, "auth": "none", "error": None}]
    return doc


SAVED = _saved_report()


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for key, value in obj.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj[:2]):
            out += _paths(value, (*prefix, i))
    return out


PATHS = _paths(SAVED)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), HOSTILE_VALUES), min_size=1, max_size=3))
def test_any_field_of_any_type_is_rendered_or_one_input_error(
        tmp_path_factory: Any, changes: list[tuple[tuple[Any, ...], Any]]) -> None:
    doc = copy.deepcopy(SAVED)
    for path, value in changes:
        parent: Any = doc
        try:
            for seg in path[:-1]:
                parent = parent[seg]
            parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    path = tmp_path_factory.mktemp("r") / "report.json"
    path.write_text(json.dumps(doc))  # the standard library writes any integer
    result = load_reports([str(path)])
    errors = [e for e in result.errors if e.file == str(path) and e.line is None]
    if errors:
        assert len(errors) == 1 and result.findings == [] and result.checked == []
        assert "\n" not in errors[0].message
    for fmt in ("text", "json", "sarif", "junit", "scorecard", "html"):
        render(fmt, result, tool_version="1")
