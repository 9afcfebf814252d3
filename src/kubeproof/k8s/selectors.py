"""Label selectors exactly as the Kubernetes API evaluates them.

Two shapes exist:

- a **LabelSelector** (``matchLabels`` + ``matchExpressions``; Deployments,
  PodDisruptionBudgets, NetworkPolicies): the requirements are ANDed; an
  empty selector ``{}`` selects everything; a missing (null) selector selects
  nothing where the API says so (PodDisruptionBudget, NetworkPolicy peers).
- a **map selector** (Services, ReplicationControllers): every key/value must
  match; an empty or missing map means "no selector" (a Service then manages
  its endpoints by hand) and selects nothing.

Operators: ``In`` and ``NotIn`` take a non-empty ``values`` list; ``Exists``
and ``DoesNotExist`` take none. ``NotIn`` and ``DoesNotExist`` match objects
that lack the key. Anything else is a :class:`SelectorError`.
"""

from __future__ import annotations

from typing import Any

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


class SelectorError(ValueError):
    """A selector the API server would reject (the message says why)."""


def label_selector_matches(selector: Any, labels: dict[str, Any]) -> bool:
    """Whether a LabelSelector selects an object with ``labels``.

    ``selector`` must be a mapping (callers decide what null means for their
    field); raises :class:`SelectorError` for an invalid selector.
    """
    if not isinstance(selector, dict):
        raise SelectorError("a label selector must be a mapping")
    match_labels = selector.get("matchLabels") or {}
    if not isinstance(match_labels, dict):
        raise SelectorError("matchLabels must be a mapping")
    for key, value in match_labels.items():
        if labels.get(key) != value:
            return False
    expressions = selector.get("matchExpressions") or []
    if not isinstance(expressions, list):
        raise SelectorError("matchExpressions must be a list")
    return all(_requirement(expr, labels) for expr in expressions)


def validate_label_selector(selector: Any) -> None:
    """Raise :class:`SelectorError` unless every part of ``selector`` is valid.

    Evaluation stops at the first failed requirement; validation must not.
    """
    if not isinstance(selector, dict):
        raise SelectorError("a label selector must be a mapping")
    label_selector_matches({"matchLabels": selector.get("matchLabels")}, {})
    expressions = selector.get("matchExpressions") or []
    if not isinstance(expressions, list):
        raise SelectorError("matchExpressions must be a list")
    for expr in expressions:
        _requirement(expr, {})


def _requirement(expr: Any, labels: dict[str, Any]) -> bool:
    if not isinstance(expr, dict) or not isinstance(expr.get("key"), str):
        raise SelectorError("a matchExpressions entry needs a 'key'")
    key, op, values = expr["key"], expr.get("operator"), expr.get("values")
    if op in ("In", "NotIn"):
        if not isinstance(values, list) or not values:
            raise SelectorError(f"operator {op} needs a non-empty 'values' list (key {key!r})")
        present = key in labels and labels[key] in values
        return present if op == "In" else not present
    if op in ("Exists", "DoesNotExist"):
        if values:
            raise SelectorError(f"operator {op} takes no 'values' (key {key!r})")
        return (key in labels) == (op == "Exists")
    raise SelectorError(f"invalid operator {op!r} (expected one of {', '.join(OPERATORS)})")


def map_selector_matches(selector: Any, labels: dict[str, Any]) -> bool:
    """Whether a map selector (Service, ReplicationController) selects ``labels``.

    An empty or missing map selects nothing.
    """
    if not isinstance(selector, dict) or not selector:
        return False
    return all(labels.get(k) == v for k, v in selector.items())


def is_empty_selector(selector: Any) -> bool:
    """``{}``: a LabelSelector with no requirements, which selects everything."""
    return isinstance(selector, dict) and not selector.get("matchLabels") \
        and not selector.get("matchExpressions")
