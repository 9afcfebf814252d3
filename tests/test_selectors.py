"""Label selector semantics, case by case as the API reference defines them."""

from __future__ import annotations

import pytest

from kubeproof.k8s.selectors import (
    SelectorError,
    is_empty_selector,
    label_selector_matches,
    map_selector_matches,
)

WEB = {"app": "web", "tier": "front"}


@pytest.mark.parametrize(("selector", "labels", "expected"), [
    ({}, WEB, True),                                        # empty selects everything
    ({}, {}, True),
    ({"matchLabels": {"app": "web"}}, WEB, True),
    ({"matchLabels": {"app": "api"}}, WEB, False),
    ({"matchLabels": {"app": "web", "tier": "back"}}, WEB, False),  # AND
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]},
     WEB, True),
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["api"]}]}, WEB, False),
    ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["api"]}]},
     WEB, True),
    ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]},
     WEB, True),                                            # NotIn matches a missing key
    ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, WEB, True),
    ({"matchExpressions": [{"key": "env", "operator": "Exists"}]}, WEB, False),
    ({"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}, WEB, True),
    ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, WEB, False),
    ({"matchLabels": {"app": "web"},
      "matchExpressions": [{"key": "tier", "operator": "In", "values": ["back"]}]},
     WEB, False),                                           # labels AND expressions
])
def test_label_selector(selector: dict[str, object], labels: dict[str, str],
                        expected: bool) -> None:
    assert label_selector_matches(selector, labels) is expected


@pytest.mark.parametrize("selector", [
    {"matchExpressions": [{"key": "app", "operator": "Equals", "values": ["web"]}]},
    {"matchExpressions": [{"key": "app", "operator": "In", "values": []}]},
    {"matchExpressions": [{"key": "app", "operator": "In"}]},
    {"matchExpressions": [{"key": "app", "operator": "Exists", "values": ["x"]}]},
    {"matchExpressions": [{"operator": "Exists"}]},
    {"matchLabels": ["app"]},
    "app=web",
])
def test_invalid_selectors_are_errors(selector: object) -> None:
    with pytest.raises(SelectorError):
        label_selector_matches(selector, WEB)


def test_map_selector_empty_or_missing_selects_nothing() -> None:
    assert map_selector_matches({"app": "web"}, WEB)
    assert not map_selector_matches({"app": "web", "x": "y"}, WEB)
    assert not map_selector_matches({}, WEB)
    assert not map_selector_matches(None, WEB)


def test_empty_selector() -> None:
    assert is_empty_selector({}) and is_empty_selector({"matchLabels": {}})
    assert not is_empty_selector(None)
    assert not is_empty_selector({"matchLabels": {"a": "b"}})


def test_validation_checks_every_requirement_not_just_until_a_mismatch() -> None:
    from kubeproof.k8s.selectors import validate_label_selector

    selector = {"matchLabels": {"app": "nope"},
                "matchExpressions": [{"key": "x", "operator": "Bogus"}]}
    assert label_selector_matches(selector, WEB) is False  # stops at the mismatch
    with pytest.raises(SelectorError, match="invalid operator 'Bogus'"):
        validate_label_selector(selector)
    validate_label_selector({"matchExpressions": [{"key": "x", "operator": "Exists"}]})
