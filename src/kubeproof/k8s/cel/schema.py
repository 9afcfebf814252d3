"""JSON values typed the way Kubernetes types them for CEL from their OpenAPI
schema (CRD validation rules): ``type: number`` is a double even when the JSON
holds an integer; ``format: duration`` strings are durations and ``format:
date``/``date-time`` strings timestamps (carried as protobuf messages, see
times.py for why and how they are parsed).
"""

from __future__ import annotations

from typing import Any

from kubeproof.k8s.cel import times


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
