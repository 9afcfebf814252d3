"""kubeproof.placeholders: template placeholders are no value."""

from __future__ import annotations

import pytest

from kubeproof.placeholders import is_placeholder


@pytest.mark.parametrize("value", [
    "${NAMESPACE:-default}", "${NS}", "$NS", "$(NS)", "{{ .Release.Namespace }}",
    "{{.Values.ns}}", "<namespace>", "%{ns}", "team-${ENV}", "prefix-{{ x }}"])
def test_placeholders(value: str) -> None:
    assert is_placeholder(value)


@pytest.mark.parametrize("value", [
    "default", "kube-system", "a$", "price-5$", "{}", "", None, 7, ["${X}"]])
def test_values(value: object) -> None:
    assert not is_placeholder(value)
