"""Conformance of ``kubeproof test`` (and the policy evaluator under it) with the
Kyverno policy tests of ``kyverno/`` (see its README and PROVENANCE.md).

``index.csv`` lists the 962 expected results: 956 from the 41
``kyverno-test.yaml`` files, run here as ``kubeproof test`` runs them, and 6
of three ``vap/`` cases that have no test file upstream (Kyverno asserts them
in ``command_test.go``, applying ``policy.yaml`` to one resource file at a
time): each is run here as a test built from its index row, one resource file
at a time, as upstream does.

Every row must agree. A disagreement is listed as
``test_dir policy kind resource: expected X got Y (message)``: the worklist of
the evaluator.
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path

import pytest

from kubeproof.policies.testing import ResultRow, TestRun, run_test_data, run_tests
from tests.support.cli import kp

KYVERNO = Path(__file__).parent / "kyverno"
ROWS = 962
APPLY = "command_test.go:Test_Apply"  # the source of the rows without a test file
Key = tuple[str, str, str, str, str, str]  # test_dir policy rule kind resource resource_file


def _index() -> list[dict[str, str]]:
    with (KYVERNO / "index.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _key(row: dict[str, str]) -> Key:
    file = row["resource_file"] if row["source"].endswith(APPLY) else ""
    return (row["test_dir"], row["policy"], row["rule"], row["kind"], row["resource"], file)


def _apply_case(row: dict[str, str]) -> TestRun:
    """The test ``kyverno apply`` makes of an index row of a ``vap/`` case
    without a test file: its policy file on its one resource file."""
    case = KYVERNO / row["test_dir"]
    data = {"apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Test",
            "policies": [os.path.relpath(KYVERNO / row["policy_file"], case)],
            "resources": [os.path.relpath(KYVERNO / row["resource_file"], case)],
            "results": [{"policy": row["policy"], "kind": row["kind"],
                         "resources": [row["resource"]], "result": row["expected"],
                         "isValidatingAdmissionPolicy": True}]}
    return run_test_data(data, str(case / "kyverno-test.yaml"))


@pytest.fixture(scope="module")
def actual() -> tuple[dict[Key, list[ResultRow]], list[str]]:
    """kubeproof's result for each key of the index, and the input errors."""
    found: dict[Key, list[ResultRow]] = {}
    errors: list[str] = []
    run = run_tests([str(KYVERNO)])
    errors.extend(str(e) for e in run.errors)
    for res in run.results:
        test_dir = os.path.relpath(os.path.dirname(res.test), KYVERNO)
        found.setdefault((test_dir, res.policy, res.rule, res.kind, res.resource, ""),
                         []).append(res)
    for row in _index():
        if row["source"].endswith(APPLY):
            one = _apply_case(row)
            errors.extend(str(e) for e in one.errors)
            for res in one.results:
                found.setdefault(_key(row), []).append(res)
    return found, errors


def test_the_index_lists_every_expected_result() -> None:
    rows = _index()
    assert len(rows) == ROWS
    assert sum(row["source"].endswith(APPLY) for row in rows) == 6
    assert len({_key(row) for row in rows}) == ROWS


def test_every_expected_result_agrees(actual: tuple[dict[Key, list[ResultRow]], list[str]]
                                      ) -> None:
    found, errors = actual
    wrong: list[str] = []
    agree = 0
    for row in _index():
        where = f"{row['test_dir']} {row['policy']} {row['kind']} {row['resource']}"
        if row["source"].endswith(APPLY):
            where += f" [{os.path.basename(row['resource_file'])}]"
        results = found.get(_key(row), [])
        if len(results) != 1:
            wrong.append(f"{where}: expected {row['expected']} got {len(results)} results")
            continue
        res = results[0]
        if res.expected != row["expected"]:
            wrong.append(f"{where}: the test file expects {res.expected}, the index "
                         f"{row['expected']}")
        elif res.actual != row["expected"]:
            wrong.append(f"{where}: expected {row['expected']} got {res.actual} "
                         f"({res.message})")
        else:
            agree += 1
    listed = {_key(row) for row in _index()}
    wrong += [f"{k[0]} {k[1]} {k[3]} {k[4]}: a result the index does not list"
              for k in found if k not in listed]
    report = "\n".join([f"{agree}/{ROWS} agree", *errors, *wrong])
    assert (agree, errors, wrong) == (ROWS, [], []), report


def test_kubeproof_test_runs_the_folder_in_json_and_exits_0() -> None:
    """What a user runs; the acceptance figure (< 10 s) is measured in the
    bench, this bound only catches a runaway."""
    start = time.monotonic()
    proc = kp("test", str(KYVERNO), "--format", "json", traceback_free=True, timeout=300)
    elapsed = time.monotonic() - start
    out = json.loads(proc.stdout)
    failed = [r for r in out["results"] if not r["ok"]]
    assert (proc.returncode, out["summary"]["failed"], out["errors"]) == (0, 0, []), \
        "\n".join(f"{r['test']} {r['policy']} {r['kind']} {r['resource']}: expected "
                  f"{r['expected']} got {r['actual']} ({r['message']})" for r in failed[:50])
    assert out["summary"] == {"tests": 41, "results": ROWS - 6, "passed": ROWS - 6,
                              "failed": 0, "errors": 0}
    assert elapsed < 60, f"kubeproof test took {elapsed:.1f} s"
