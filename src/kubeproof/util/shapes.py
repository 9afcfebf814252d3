"""Small type guards over parsed manifests, shared by every layer.

Manifests are hostile: a field that should be a map may be a list, a string or
null. These helpers give the shape the reader expects (empty when the value has
another shape) and the form a value takes in a message. They live here, below
``k8s`` and ``model``, so that Kubernetes semantics and rules use the same ones.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeGuard

from kubeproof.util.terminal import safe

# A JSON path into an object: ``("spec", "containers", 0, "image")``.
Path = tuple[str | int, ...]


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def one_of(value: Any, choices: Collection[str]) -> TypeGuard[str]:
    """Whether ``value`` is one of the string ``choices``. A wrong-typed value
    (a list or map where a string belongs) is none of them, not a TypeError
    from hashing it."""
    return isinstance(value, str) and value in choices


QUOTE_LIMIT = 512  # characters of a value a message shows (image references run to ~460)


def quote(value: Any) -> str:
    """A value as messages show it: strings in double quotes, others as Python
    shows them. Hostile values stay one short line: control and bidi characters
    (U+202E would reorder the terminal line) are escaped, and a long value is
    cut to its start and its length."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > QUOTE_LIMIT:
        text = f"{text[:QUOTE_LIMIT - 20]}… ({len(text)} characters)"
    text = safe(text)
    return f'"{text}"' if isinstance(value, str) else text
