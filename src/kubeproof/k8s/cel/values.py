"""Kubernetes CEL's opaque values (Quantity, IP, CIDR, Semver, Format) as the
binding can carry them.

cel-expr-python cannot register member functions on an abstract (opaque) type
next to the optional extension (its runtime keys overloads by kind, and every
opaque overload collides with ``optional.value()``), and a Python function
cannot return an opaque value. So each such value travels through CEL as a map
``{"@k": <kind>, "v": <canonical text>}``: equality of two of them is then the
equality of their canonical forms, which is what Kubernetes' ``Equal`` does for
these types. ``type(x)`` shows ``map`` where Kubernetes shows the opaque type.
"""

from __future__ import annotations

from typing import Any

KIND = "@k"


def wrap(kind: str, canonical: str) -> dict[str, str]:
    return {KIND: kind, "v": canonical}


def kind_of(value: Any) -> str | None:
    if isinstance(value, dict):
        kind = value.get(KIND)
        return kind if isinstance(kind, str) else None
    return None


def unwrap(value: Any, kind: str) -> str:
    if kind_of(value) != kind:
        raise TypeError(f"no such overload: expected {kind}")
    text = value["v"]
    assert isinstance(text, str)
    return text
