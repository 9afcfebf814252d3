"""Objects made safe to hand to CEL: JSON values only, as the API server
decodes a request body (its JSON decoder has no other types).

A YAML document may hold what JSON cannot (dates, non-string keys, integers
past 64 bits, sets, binary); an object from anywhere may nest without end.
Here a date or any other scalar becomes its string, a non-string key its
string, an integer outside int64 a float (what Go's JSON decoding into
``interface{}`` gives), and nesting past :data:`MAX_DEPTH` is cut (``null``)
so no input can overflow the stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 200
_INT64 = 2 ** 63


def jsonish(value: Any, depth: int = 0) -> Any:
    """``value`` as plain JSON values (dict, list, str, int, float, bool, None)."""
    if value is None or isinstance(value, (bool, str, float)):
        return value
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else float(value)
    if depth >= MAX_DEPTH:
        return None
    if isinstance(value, Mapping):
        return {k if isinstance(k, str) else str(k): jsonish(v, depth + 1)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonish(v, depth + 1) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (set, frozenset)):
        return [jsonish(v, depth + 1) for v in sorted(value, key=repr)]
    return str(value)
