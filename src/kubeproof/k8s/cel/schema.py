"""JSON values typed the way Kubernetes types them for CEL from their OpenAPI
schema (CRD validation rules): ``type: number`` is a double even when the JSON
holds an integer; ``format: duration`` strings are durations and ``format:
date``/``date-time`` strings timestamps (carried as protobuf messages, see
times.py for why and how they are parsed).

:data:`CURRENT` holds the schemas of the running evaluation, for what depends
on a static type the dyn environment lacks: ``sum()`` of an empty list is the
zero of its element type (``duration(0)`` for a list of durations).
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from typing import Any

from kubeproof.k8s.cel import times

CURRENT: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "kubeproof_cel_schemas", default=None)
MAX_PATH = 64


def schema_at(path: str) -> Any:
    """The schema of ``variable.field.field`` in the running evaluation; None
    when there is none or the path leaves the schema."""
    schemas = CURRENT.get()
    parts = path.split(".")
    if not schemas or len(parts) > MAX_PATH:
        return None
    schema = schemas.get(parts[0])
    for part in parts[1:]:
        if not isinstance(schema, dict):
            return None
        props = schema.get("properties")
        schema = props.get(part) if isinstance(props, dict) and part in props \
            else schema.get("additionalProperties")
    return schema if isinstance(schema, dict) else None


def zero_of_items(path: str) -> Any:
    """The zero ``sum()`` gives for the list at ``path``, by its item schema."""
    schema = schema_at(path)
    items = schema.get("items") if schema else None
    if not isinstance(items, dict):
        return 0
    if items.get("type") == "string" and items.get("format") == "duration":
        return times.duration_value(0)
    return 0.0 if items.get("type") == "number" else 0


def type_by_schema(value: Any, schema: Any) -> Any:
    if not isinstance(schema, dict):
        return value
    kind = schema.get("type")
    if kind == "number" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and kind == "string":
        return _formatted(value, schema.get("format"))
    if isinstance(value, list):
        items = schema.get("items")
        return [type_by_schema(v, items) for v in value] if items else value
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        return {k: type_by_schema(v, props.get(k, extra)) for k, v in value.items()}
    return value


def _formatted(value: str, fmt: Any) -> Any:
    if fmt == "duration":
        nanos = times.parse_duration(value)
        return value if nanos is None else times.duration_value(nanos)
    if fmt in ("date", "date-time"):
        parsed = (times.parse_date if fmt == "date" else times.parse_date_time)(value)
        stamp = None if parsed is None else times.timestamp_value(*parsed)
        return value if stamp is None else stamp
    return value
