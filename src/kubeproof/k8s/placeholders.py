"""Template and environment placeholders standing where a value should be.

A manifest meant to be rendered first (envsubst, Helm, kustomize vars,
Makefiles) holds ``${NAMESPACE:-default}``, ``$NS``, ``$(NS)``,
``{{ .Release.Namespace }}``, ``<namespace>`` or ``%{ns}`` in place of a
value: nobody can tell which value it becomes, so it is never taken for one.
"""

from __future__ import annotations

import re

# ${VAR}, $VAR, $(VAR), {{ ... }}, <placeholder>, %{...}; ``<[^<>]*>`` stops at
# the next ``<``, so a value of many ``<`` and no ``>`` is read in linear time
_PLACEHOLDER = re.compile(r"\$[{(A-Za-z_]|\{\{|\}\}|<[^<>]*>|%\{")


def is_placeholder(value: object) -> bool:
    """Whether ``value`` is a string holding a placeholder anywhere in it."""
    return isinstance(value, str) and _PLACEHOLDER.search(value) is not None
