"""kubeproof.k8s.placeholders: template placeholders are no value."""

from __future__ import annotations

import pytest

from kubeproof.k8s.placeholders import is_placeholder


@pytest.mark.parametrize("value", [
    "${NAMESPACE:-default}", "${NS}", "$NS", "$(NS)", "{{ .Release.Namespace }}",
    "{{.Values.ns}}", "<namespace>", "%{ns}", "team-${ENV}", "prefix-{{ x }}"])
def test_placeholders(value: str) -> None:
    assert is_placeholder(value)


@pytest.mark.parametrize("value", [
    "default", "kube-system", "a$", "price-5$", "{}", "", None, 7, ["${X}"]])
def test_values(value: object) -> None:
    assert not is_placeholder(value)


def test_a_long_value_of_unclosed_markers_is_read_in_linear_time() -> None:
    """Label values can be megabytes: ``<`` without ``>`` must not rescan to the end."""
    import time

    for text in ("<" * 400_000, "<a" * 200_000):
        start = time.process_time()
        assert not is_placeholder(text)
        assert time.process_time() - start < 1.0
