"""Where things are: the checkout, its sources and examples, the vendored test data.

Paths are absolute, so a test may run ``kubeproof`` in any working directory.
"""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
SRC = ROOT / "src"
EXAMPLES = ROOT / "examples"
# vendored test data (corpus subset, schemas, rule catalogue): see tests/data/README.md
DATA = TESTS / "data"
CORPUS = DATA / "corpus"
SCHEMAS = DATA / "schemas"
RULE_FIXTURES = TESTS / "rules" / "fixtures"
