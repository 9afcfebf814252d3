"""A rule is one unit: its fix, halves and facts are declared in its module, the
catalogue discovers the modules, and nothing depends on the order they load in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubeproof.core.catalogue import (
    codes,
    family_of,
    fix,
    fixes,
    index_half,
    input_error_rule,
    load_rules,
    rule_modules,
)
from kubeproof.model import SAFE, PssLevel, RunsIn

SRC = Path(__file__).resolve().parents[2] / "src"

# What a fresh process sees of the catalogue, after importing the rule modules
# in the order given on its command line, then loading the rest.
_SNAPSHOT = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
from kubeproof.core.catalogue import load_rules
rules = load_rules()
print(json.dumps([[c, r.family, r.fix is not None, r.fix.safety if r.fix else None,
                   r.index_check.__name__ if r.index_check else None,
                   r.withdrawn_by is not None, r.pss_level, sorted(r.runs_in), sorted(r.needs)]
                  for c, r in rules.items()]))
"""


def _snapshot(order: list[str]) -> list[list[object]]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", _SNAPSHOT, *order], capture_output=True,
                         text=True, env=env, check=True).stdout
    loaded: list[list[object]] = json.loads(out)
    return loaded


def test_registration_does_not_depend_on_the_order_modules_load_in() -> None:
    modules = rule_modules()
    assert "kubeproof.rules.p08_pod_security" in modules and modules == sorted(modules)
    forward = _snapshot(modules)
    assert forward == _snapshot(list(reversed(modules)))
    assert [row[0] for row in forward] == sorted(load_rules())


def test_fixable_and_fix_safety_come_from_the_registered_fix() -> None:
    rules = load_rules()
    assert {c for c, r in rules.items() if r.fixable} == set(fixes())
    assert list(fixes()) == sorted(fixes())  # the order fixes are applied in
    for code, fx in fixes().items():
        assert rules[code].fix is fx and rules[code].fix_safety == fx.safety


def test_facts_replace_the_lists_kept_elsewhere() -> None:
    assert codes(pss_level=PssLevel.RESTRICTED) == {
        "KP0812", "KP0813", "KP0814", "KP0815", "KP0816", "KP0817", "KP0819"}
    assert codes(pss_level=PssLevel.BASELINE) | codes(pss_level=PssLevel.RESTRICTED) == {
        f"KP08{n:02d}" for n in range(1, 20)}
    everywhere = set(load_rules())
    assert everywhere - codes(runs_in=RunsIn.ADMISSION) == {"KP0003", "KP1004"}
    assert everywhere - codes(runs_in=RunsIn.CLUSTER) == {"KP1004"}
    rule = input_error_rule()
    assert rule is not None and rule.code == "KP0003"
    fx = fixes()
    assert {c for c, f in fx.items() if f.needs_verdict} == {"KP0707", "KP0708"}
    assert {c for c, f in fx.items() if f.needs_namespace} == {"KP0402"}
    assert {c for c, f in fx.items() if f.needs_registry} == {"KP0101", "KP0102"}
    assert {c for c, f in fx.items() if f.reads_images} == {"KP0814", "KP0817", "KP0821"}
    assert {c for c, f in fx.items() if f.creates is not None} == {"KP0707"}


def test_each_half_lives_in_its_rules_module() -> None:
    rules = load_rules()
    for code, r in rules.items():
        for part in (r.index_check, r.fix.fn if r.fix else None, r.withdrawn_by):
            if part is not None:
                assert part.__module__ == r.check.__module__, code


def test_a_family_is_the_first_segment_under_rules() -> None:
    assert family_of("kubeproof.rules.p08_pod_security") == "pod_security"
    assert family_of("kubeproof.rules.p08_pod_security.capabilities") == "pod_security"
    assert family_of("kubeproof.rules.p10_secrets") == "secrets"


def test_a_fix_or_half_for_an_unknown_rule_is_refused() -> None:
    load_rules()
    with pytest.raises(ValueError, match="a fix for unknown rule KP9999"):
        fix("KP9999", safety=SAFE, why="x")(lambda res, settings: False)
    with pytest.raises(ValueError, match="has a fix already"):
        fix("KP0402", safety=SAFE, why="x")(lambda res, settings: False)
    with pytest.raises(ValueError, match="an index half for unknown rule KP9999"):
        index_half("KP9999")(lambda index, ctx: iter(()))
    with pytest.raises(ValueError, match="safety must be one of"):
        fix("KP0402", safety="maybe", why="x")
