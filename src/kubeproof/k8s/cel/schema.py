"""JSON values typed the way Kubernetes types them for CEL from their OpenAPI
schema (CRD validation rules): ``type: number`` is a double even when the JSON
holds an integer.

Not yet: ``format: duration``/``date``/``date-time`` strings as durations and
timestamps. cel-expr-python converts ``timedelta``/``datetime`` only into a
variable declared with that exact type, never inside a ``dyn`` map or list, so
they stay strings here.
"""

from __future__ import annotations

from typing import Any


def type_by_schema(value: Any, schema: Any) -> Any:
    if not isinstance(schema, dict):
        return value
    kind = schema.get("type")
    if kind == "number" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, list):
        items = schema.get("items")
        return [type_by_schema(v, items) for v in value] if items else value
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        return {k: type_by_schema(v, props.get(k, extra)) for k, v in value.items()}
    return value
