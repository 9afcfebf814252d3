"""Kept for tests/rules, which imports these names from here while its tests move
to data fixtures: new tests import :mod:`tests.support.scanning` and
:mod:`tests.support.paths` instead."""

from __future__ import annotations

from tests.support.paths import CORPUS, DATA, TESTS
from tests.support.paths import RULE_FIXTURES as FIXTURES
from tests.support.scanning import findings, fixture, hits, marked, run

__all__ = ["CORPUS", "DATA", "FIXTURES", "TESTS", "findings", "fixture", "hits", "marked", "run"]
