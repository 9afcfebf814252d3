"""Worker processes give exactly the serial result."""

from __future__ import annotations

from pathlib import Path

from kubeproof.api import scan
from kubeproof.config import Config, Exemption
from kubeproof.engine import PARALLEL_MIN_INPUTS

ROOT = Path(__file__).resolve().parents[1]


def test_parallel_scan_equals_serial_scan(tmp_path: Path) -> None:
    sources = sorted((ROOT / "examples").rglob("*.yaml")) + sorted(
        (ROOT / "tests" / "rules" / "fixtures").rglob("*.yaml"))
    for i, src in enumerate(sources):
        (tmp_path / f"{i:03d}-{src.name}").write_bytes(src.read_bytes())
    (tmp_path / "zz-broken.yaml").write_text("kind: [\n")
    assert len(sources) >= PARALLEL_MIN_INPUTS
    config = Config(exemptions=[Exemption(rules=frozenset({"KP0401"}), name="web",
                                          reason="test")])
    serial = scan([str(tmp_path)], config=config, jobs=1)
    parallel = scan([str(tmp_path)], config=config, jobs=2)
    assert serial.findings and serial.errors
    assert [f.to_dict() for f in parallel.findings] == [f.to_dict() for f in serial.findings]
    assert [str(e) for e in parallel.errors] == [str(e) for e in serial.errors]
    assert (parallel.objects, parallel.files, parallel.suppressed, parallel.kinds) == (
        serial.objects, serial.files, serial.suppressed, serial.kinds)
    assert parallel.checked == serial.checked
