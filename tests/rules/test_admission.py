from pathlib import Path

from tests.helpers import findings

HERE = Path(__file__).parent


def test_covers_system_without_exclusion() -> None:
    found = findings(HERE / "KP1601" / "fail-webhooks.yaml", "KP1601")
    assert [(f.line, f.path) for f in found] == [
        (6, "webhooks[0].namespaceSelector"),  # no selector: the webhook entry
        (28, "webhooks[1].namespaceSelector"),  # opt-out label + objectSelector only
        (44, "webhooks[2].namespaceSelector"),  # selects kube-system itself
        (54, "webhooks[3].namespaceSelector"),  # NotIn without kube-system
    ]
    assert "no namespaceSelector" in found[0].message


def test_side_effects_some_and_missing() -> None:
    found = findings(HERE / "KP1604" / "fail-webhooks.yaml", "KP1604")
    assert "Some" in found[0].message
    assert "required" in found[1].message


def test_v1beta1_defaults() -> None:
    found = findings(HERE / "KP1604" / "fail-v1beta1-defaults.yaml", "KP1604")
    assert "Unknown" in found[0].message


