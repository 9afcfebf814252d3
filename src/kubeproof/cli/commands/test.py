"""``kubeproof test``: run policy tests (Kyverno's ``kyverno-test.yaml`` and
kubeproof's ``kubeproof-test.yaml``); the semantics are in
:mod:`kubeproof.policies.testing`.

Text output is one line per result that does not hold (every result with
``--detailed-results``) and a summary; input errors go to stderr. Every field
printed comes from a test file, so each goes through ``safe``. JSON keeps
exact values (its own escaping applies).
"""

from __future__ import annotations

import json

import click

from kubeproof.cli.common import echo, fail, require_paths
from kubeproof.k8s.versions import parse_kube_version
from kubeproof.policies.testing import ResultRow, TestRun, run_tests
from kubeproof.util.terminal import safe


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text",
              help="Output format [default: text].")
@click.option("--kube-version", default=None,
              help="Kubernetes version X.Y whose CEL functions the policies may use "
                   "[default: the newest known].")
@click.option("--detailed-results", is_flag=True,
              help="Text output: list every result, not only those that do not hold.")
def test(paths: tuple[str, ...], fmt: str, kube_version: str | None,
         detailed_results: bool) -> None:
    """Run policy tests: kyverno-test.yaml and kubeproof-test.yaml files under PATHS.

    Each expected result (policy or custom rule, resource, pass/fail/skip/warn/
    error) is compared with what kubeproof's evaluator finds, offline.

    Exit codes: 0 every expected result holds; 1 one does not; 2 usage error or
    an input error (a test naming a missing file, policy or resource, a policy
    that does not compile), also when a result did not hold.
    """
    require_paths(paths)
    version = None
    if kube_version is not None:
        try:
            version = parse_kube_version(kube_version)
        except ValueError as exc:
            fail(str(exc))
    run = run_tests(list(paths), version)
    for err in run.errors:
        echo(err, err=True)
    if fmt == "json":
        click.echo(json.dumps(run.to_dict(), indent=2, ensure_ascii=False))
    else:
        for row in run.results:
            if detailed_results or not row.ok:
                click.echo(_line(row))
        click.echo(_summary(run))
    raise SystemExit(run.exit_code())


def _line(row: ResultRow) -> str:
    what = row.policy or row.rule
    if row.policy and row.rule:
        what = f"{row.policy}/{row.rule}"
    status = "ok" if row.ok else "FAIL"
    text = (f"{status} {row.test}: {what} {row.kind} {row.resource}: expected {row.expected}, "
            f"got {row.actual}")
    if row.message and (not row.ok or row.actual != "pass"):
        text += f" ({row.message})"
    return safe(text)


def _summary(run: TestRun) -> str:
    s = run.summary()
    return (f"{s['tests']} tests, {s['results']} results: {s['passed']} passed, "
            f"{s['failed']} failed, {s['errors']} input errors")
