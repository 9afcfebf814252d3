"""Prepare steps (Context.prepare) gather facts for the index rules once per run."""

from __future__ import annotations

from typing import Any

from kubeproof.api import scan
from kubeproof.core.context import Context
from kubeproof.core.engine import INDEX_SCOPES
from kubeproof.core.run import SCAN_SCOPES
from tests.support.paths import ROOT

BAD = str(ROOT / "examples" / "bad")


def test_a_step_sees_the_finished_index_once_before_the_index_rules() -> None:
    seen: list[int] = []

    def count(index: Any, ctx: Context) -> None:
        seen.append(index.objects)

    result = scan([BAD], prepare=[count])
    assert seen == [result.objects] and result.objects >= 5
    assert any(r.scope in INDEX_SCOPES for r in result.rules)


def test_a_failing_step_is_one_input_error_and_the_scan_goes_on() -> None:
    def broken(index: Any, ctx: Context) -> None:
        raise KeyError("a secret value must not show")

    result = scan([BAD], prepare=[broken], scopes=SCAN_SCOPES)
    assert [str(e) for e in result.errors] == [
        "<set>: internal error gathering facts for the index rules: KeyError (please report it)"]
    assert len(result.findings) == len(scan([BAD]).findings)
