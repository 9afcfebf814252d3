"""Shared helpers for report tests: a scan of the fixtures and hand-built results."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import jsonschema

from kubeproof.api import scan
from kubeproof.core.context import Context
from kubeproof.core.result import CheckedObject, ScanResult
from kubeproof.model import Finding, InputError, Resource, Rule, Scope, Severity, Violation
from tests.support.paths import DATA

FIXTURES = Path(__file__).parent / "fixtures"
SARIF_SCHEMA = DATA / "schemas" / "sarif-2.1.0.json"
SELECT = ("KP0401", "KP0402")
WEB = str(FIXTURES / "app" / "web.yaml")
TRICKY = str(FIXTURES / "app" / "tricky.yaml")
BAD = str(FIXTURES / "broken" / "bad.yaml")
TRICKY_NAME = 'quote"s<&>ünï'
HTML_FIXTURES = FIXTURES / "html"
HTML_SELECT = ("KP0101", "KP0401", "KP0501", "KP0802", "KP0803", "KP1003", "KP1004", "KP1301")
SECRET_VALUE = "c3VwZXJzZWNyZXRwdw=="  # html/shop.yaml: the Secret's data.password
TOKEN = "ghp_Zq8vR2mK5tW9xY3bN7cF1hJ4lP6sD0gA2eUi"  # html/shop.yaml: a hard-coded env value


def sarif_schema_errors(doc: Any, schema: dict[str, Any]) -> list[str]:
    """Where ``doc`` breaks the SARIF 2.1.0 ``schema`` (:data:`SARIF_SCHEMA`, the
    schema GitHub code scanning validates uploads against); the first five."""
    validator = jsonschema.Draft4Validator(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    return [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def fixture_scan() -> ScanResult:
    """app/web.yaml (KP0401 at 5:3 on ConfigMap/default/settings, KP0402 at 11:1 on
    Service/web, a clean ConfigMap/shop/clean and a Namespace), app/tricky.yaml
    (KP0401 at 5:3 on a Secret with XML/JSON special characters in its name) and
    broken/bad.yaml (an input error at line 6)."""
    return scan([str(FIXTURES / "app"), BAD], select=SELECT)


def html_fixture_scan() -> ScanResult:
    """html/shop.yaml and html/payments.yaml, :data:`HTML_SELECT` rules: 10 findings,
    4 in namespace shop (KP0501 3:1, KP1301 17:9, KP0101 18:9, KP1003 21:11 on the
    :data:`TOKEN` line), 2 in default (KP0401 27:3 and KP1004 29:1 on the Secret
    whose value is :data:`SECRET_VALUE`, on line 30), 4 in payments (KP0501 3:1,
    KP0802 16:7, KP1301 18:9, KP0803 21:11)."""
    return scan([str(HTML_FIXTURES)], select=HTML_SELECT)


def _no_check(res: Resource, ctx: Context) -> Iterator[Violation]:
    return iter(())


def make_rule(code: str, name: str, practice: int, severity: str = "high",
              family: str = "family", kinds: set[str] | None = None,
              pods: bool = False, scope: str = "object") -> Rule:
    return Rule(code=code, name=name, practice=practice, severity=Severity.parse(severity),
                scope=scope, kinds=frozenset(kinds) if kinds is not None else None,
                check=_no_check, summary=f"Summary of {name}.", what=f"What {name} flags.",
                why="Why it matters.", how=f"Fix {name} like this.\n\nMore detail.",
                example="```yaml\nkind: Example\n```", family=family, pods=pods)


def make_finding(rule: Rule, *, severity: str | None = None, file: str = "m.yaml",
                 line: int = 1, column: int = 1, kind: str = "Deployment",
                 namespace: str | None = "shop", name: str = "web",
                 container: str | None = None, message: str = "something is off") -> Finding:
    return Finding(rule=rule,
                   severity=Severity.parse(severity) if severity else rule.severity,
                   file=file, line=line, column=column,
                   api_version="apps/v1" if kind else "", kind=kind, namespace=namespace,
                   name=name, container=container, path="spec", message=message)


def make_objects(kind: str, names: int | Sequence[str], rules: Sequence[Rule], *,
                 namespace: str | None = "shop", file: str = "m.yaml",
                 line: int = 1) -> list[CheckedObject]:
    """Checked objects of one kind, as the engine records them when ``rules`` ran on
    them: their families, and their practices leaving out cluster-scope rules.
    ``names`` is a list of names or a count (names ``<kind>-0``, ``<kind>-1``, ...)."""
    if isinstance(names, int):
        names = [f"{kind.lower()}-{i}" for i in range(names)]
    families = frozenset(r.family for r in rules)
    practices = frozenset(r.practice for r in rules if r.scope != Scope.CLUSTER)
    return [CheckedObject(file, line + i, "v1", kind, namespace, name, families, practices)
            for i, name in enumerate(names)]


def make_result(rules: list[Rule], findings: list[Finding],
                objects: list[CheckedObject] | None = None,
                errors: list[InputError] | None = None) -> ScanResult:
    """A result as the engine would give it, having checked ``objects``."""
    objects = objects or []
    return ScanResult(findings=findings, rules=rules, kinds=Counter(o.kind for o in objects),
                      objects=len(objects), files=len({o.file for o in objects}
                                                      | {f.file for f in findings}),
                      errors=errors or [], checked=objects)
