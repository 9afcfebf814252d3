"""In-process scans of fixture files, and the findings of one rule in them."""

from __future__ import annotations

from pathlib import Path

from kubeproof.api import scan
from kubeproof.core.config import Config
from kubeproof.core.result import ScanResult
from kubeproof.k8s.versions import DEFAULT_KUBE_VERSION
from kubeproof.model import Finding
from tests.support.paths import RULE_FIXTURES


def fixture(family: str, name: str) -> str:
    path = RULE_FIXTURES / family / name
    assert path.is_file(), f"missing fixture {path}"
    return str(path)


def run(path: str | Path, *, select: tuple[str, ...] = (), config: Config | None = None,
        kube_version: tuple[int, int] = DEFAULT_KUBE_VERSION,
        pss_level: str = "restricted") -> ScanResult:
    return scan([str(path)], select=select, config=config, kube_version=kube_version,
                pss_level=pss_level)


def hits(path: str | Path, code: str, **kw: object) -> list[tuple[str, int]]:
    """(code, line) of every finding of rule ``code`` in ``path``."""
    return [(f.rule.code, f.line) for f in findings(path, code, **kw)]


def findings(path: str | Path, code: str, **kw: object) -> list[Finding]:
    result = run(path, select=(code,), **kw)  # type: ignore[arg-type]
    assert not result.errors, result.errors
    return [f for f in result.findings if f.rule.code == code]


def marked(path: str | Path, code: str) -> list[int]:
    """Lines of fixture ``path`` marked with a ``# CODE`` comment (the offending lines)."""
    text = Path(path).read_text(encoding="utf-8")
    return [n for n, line in enumerate(text.splitlines(), 1) if f"# {code}" in line]
