"""Worker processes give exactly the serial result."""

from __future__ import annotations

from pathlib import Path

from kubeproof.api import scan
from kubeproof.core.config import Config, Exemption
from kubeproof.core.parallel import PARALLEL_MIN_INPUTS
from tests.support.paths import ROOT


def test_parallel_scan_equals_serial_scan(tmp_path: Path) -> None:
    sources = sorted((ROOT / "examples").rglob("*.yaml")) + sorted(
        (ROOT / "tests" / "rules").rglob("*.yaml"))  # fixtures/ and KPxxxx/
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


def test_auto_jobs_starts_workers_only_for_large_files(tmp_path: Path) -> None:
    from kubeproof.core.parallel import PARALLEL_MIN_MEAN_BYTES, auto_jobs

    def files(n: int, size: int) -> list[tuple[str, str]]:
        out = []
        for i in range(n):
            p = tmp_path / f"{n}-{size}-{i}.yaml"
            with open(p, "wb") as fh:
                fh.truncate(size)  # sparse: the size is what counts
            out.append(("file", str(p)))
        return out

    big = files(PARALLEL_MIN_INPUTS, 2 * PARALLEL_MIN_MEAN_BYTES)
    assert auto_jobs(big, cores=4, load=0.5) == 4
    assert auto_jobs(big, cores=4, load=3.5) == 1  # a busy machine has no idle core
    assert auto_jobs(big, cores=2, load=1.0) == 2
    assert auto_jobs(big, cores=1, load=0.0) == 1
    assert auto_jobs(big[:-1], cores=4, load=0.0) == 1  # too few inputs
    # many small files: a typical repository is faster in one process
    assert auto_jobs(files(400, 20_000), cores=4, load=0.0) == 1
    # a missing file or a chart folder weighs nothing
    assert auto_jobs([*big[:-1], ("missing", str(tmp_path / "nope"))], cores=4, load=0.0) == 1
    assert auto_jobs([("helm", str(tmp_path))] * 40, cores=4, load=0.0) == 1


def test_jobs_0_scans_like_jobs_1(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n")
    auto, one = scan([str(tmp_path)], jobs=0), scan([str(tmp_path)], jobs=1)
    assert [f.to_dict() for f in auto.findings] == [f.to_dict() for f in one.findings]
