"""Set-rule findings are placed by re-reading only their documents; the result
must be what reloading the whole input gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproof.api import scan
from kubeproof.core import locate
from tests.support.paths import ROOT


def test_document_slices_place_findings_as_a_full_reload_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sources = sorted((ROOT / "tests" / "rules").rglob("*.yaml"))  # fixtures/ and KPxxxx/
    # several documents per file, with comments and blank lines between them
    for i in range(0, len(sources), 5):
        chunk = sources[i:i + 5]
        (tmp_path / f"{i:03d}.yaml").write_text(
            "\n# ---- next ----\n---\n".join(p.read_text() for p in chunk))
    sliced = scan([str(tmp_path)])
    set_findings = [f for f in sliced.findings if f.rule.scope == "set"]
    assert len(set_findings) > 50
    monkeypatch.setattr(locate, "place_by_documents", lambda path, found, opts, add: False)
    reloaded = scan([str(tmp_path)])
    assert [f.to_dict() for f in sliced.findings] == [f.to_dict() for f in reloaded.findings]
    assert sliced.suppressed == reloaded.suppressed
