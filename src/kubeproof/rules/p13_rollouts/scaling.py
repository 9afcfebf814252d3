"""What the rollout rules share about scale: integer fields, percentages, and the
workloads HorizontalPodAutoscalers target."""

from __future__ import annotations

import re
from typing import Any

from kubeproof.core.index import Index
from kubeproof.rules.common import as_dict

PERCENT = re.compile(r"^\s*([0-9]+)\s*%\s*$")


def int_or_none(value: Any) -> int | None:
    """``value`` when it is an int (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def hpa_targets(index: Index) -> set[tuple[str | None, Any, Any]]:
    """(namespace, kind, name) of every HPA target (namespace None: an HPA and
    its target without one, in their application's unknown namespace)."""
    exact: set[tuple[str | None, Any, Any]] = set()
    for hpa in index.hpas:
        ref = as_dict(as_dict(hpa.data.get("spec")).get("scaleTargetRef"))
        kind, name = ref.get("kind"), ref.get("name")
        if not isinstance(kind, str) or not isinstance(name, str):
            continue
        exact.add((hpa.ref.namespace, kind, name))
    return exact
