"""Positions inside multi-line scalars (sources/scalarlines.py): exact or none."""

from __future__ import annotations

import pytest
import yaml

from kubeproof.sources.scalarlines import scalar_position
from kubeproof.sources.yamlparse import locate


def _where(text: str, needle: str, key: str = "v") -> tuple[int, int] | None:
    """Position of ``needle`` inside the value of ``key``, as the locator finds it."""
    root = yaml.compose(text)
    value = yaml.safe_load(text)[key]
    return locate(root, (key,), 0, value.index(needle), text.split("\n"))


def _at(text: str, needle: str) -> tuple[int, int]:
    """Where ``needle`` is in ``text`` (1-based line and column)."""
    before = text[:text.index(needle)]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


@pytest.mark.parametrize("text", [
    "v: |\n  a\n  SECRET b\n",
    "v: |-\n  a\n\n  SECRET b\n",
    "v: |+\n  a\n  SECRET b\n\n\n",
    "v: |2\n    indented\n  SECRET b\n",
    "v: |2-  # comment\n    indented\n  SECRET b\n",
    "v: >\n  a\n  b\n\n  c SECRET\n",
    "v: >-\n  a\n    more\n  SECRET\n",
    "v: >+\n  one two\n  three SECRET\n",
    "x: 1\nv: |\n      deep\n      SECRET\ny: 2\n",
    "v: plain\n  continued\n  and SECRET here\n",
    "v: 'single ''quoted''\n  SECRET'\n",
    "v: \"double\n\n  SECRET\"\n",
    "list:\n- 1\nv: |\n  \u00e9\u00e9 \u4e2d\n  \u4e2d SECRET\n",
])
def test_exact_positions(text: str) -> None:
    assert _where(text, "SECRET") == _at(text, "SECRET")


@pytest.mark.parametrize("text", [
    "v: \"escaped\\n\n  SECRET\"\n",  # double-quoted escapes: not rebuilt
    "v: SECRET on one line\n",  # one line: the key's position
    "v: 'one line SECRET'\n",
])
def test_key_position_when_not_exact(text: str) -> None:
    assert _where(text, "SECRET") == (1, 1)


def test_crlf_source() -> None:
    text = "v: |\r\n  a\r\n  b SECRET\r\n"
    assert _where(text, "SECRET") == (3, 5)


def test_offsets_outside_the_value_and_mismatched_sources() -> None:
    text = "v: |\n  a\n  b\n"
    node = yaml.compose(text).value[0][1]
    lines = text.split("\n")
    assert scalar_position(node, lines, 0, -1) is None
    assert scalar_position(node, lines, 0, 99) is None
    assert scalar_position(node, ["v: |", "  x", "  y"], 0, 2) is None  # another text
    assert scalar_position(node, lines, 50, 2) is None  # beyond the text
    assert scalar_position(node, [], 0, 2) is None


def test_large_block_is_linear_enough() -> None:
    body = "".join(f"  line {i}\n" for i in range(5_000))
    text = "v: |\n" + body + "  SECRET\n"
    assert _where(text, "SECRET") == (5_002, 3)
