"""Shared pieces of the vulnerability tests: fixtures, a pinned clock, scans
with reports, and a stand-in ``trivy`` executable for ``--scan-images``."""

from __future__ import annotations

import datetime as dt
import stat
import sys
from pathlib import Path

from kubeproof.api import scan
from kubeproof.core.config import Config, load_config
from kubeproof.core.result import ScanResult
from kubeproof.images.vulnfacts import VulnInputs
from tests.support.paths import TESTS

FIXTURES = TESTS / "vulns" / "fixtures"
SHOP = FIXTURES / "shop.yaml"
# the fixture reports were written on 2026-11-25 (the stale one on 2026-01-02)
NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)

# lines of the image fields in shop.yaml
INIT, WEB, PROXY, API, WORKER, TEMPLATED, BATCH, CRON, REPORT = 16, 19, 21, 23, 25, 27, 43, 45, 47


def fx(name: str) -> str:
    path = FIXTURES / name
    assert path.is_file(), path
    return str(path)


def config(tmp_path: Path, text: str) -> Config:
    path = tmp_path / ".kubeproof.yaml"
    path.write_text(text)
    return load_config(path)


def run(reports: list[str], *, paths: tuple[str, ...] = (str(SHOP),),
        cfg: Config | None = None, now: dt.datetime = NOW, scan_images: bool = False,
        timeout: float = 60.0, select: tuple[str, ...] = ("KP11",)) -> ScanResult:
    """Scan with the reports, as the CLI does, with the clock pinned."""
    vin = VulnInputs(reports, scan_images, timeout, now=now)
    result = scan(list(paths), config=cfg, select=select, vulns=vin)
    return result


def hits(result: ScanResult, code: str) -> list[tuple[str | None, int]]:
    """(container, line) of each finding of ``code``."""
    return sorted((f.container, f.line) for f in result.findings if f.code == code)


FAKE_TRIVY = '''\
"""A stand-in for trivy: answers `trivy image -f json --quiet REF` from a fixture."""
import datetime, json, os, sys, time

args = sys.argv[1:]
with open(os.environ["FAKE_TRIVY_LOG"], "a") as log:
    log.write(" ".join(args) + "\\n")
ref = args[-1]
if args[:4] != ["image", "-f", "json", "--quiet"]:
    sys.exit("unexpected arguments")
if "slow" in ref:
    time.sleep(30)
if "nap" in ref:  # how many run at once: one file per running process
    running = os.environ["FAKE_TRIVY_LOG"] + ".running"
    os.makedirs(running, exist_ok=True)
    mine = os.path.join(running, str(os.getpid()))
    open(mine, "w").close()
    with open(os.environ["FAKE_TRIVY_LOG"] + ".overlap", "a") as out:
        out.write(f"{len(os.listdir(running))}\\n")
    time.sleep(1.0)
    os.remove(mine)
if "denied" in ref:
    sys.stderr.write("2026-11-27T10:00:00Z\\tINFO\\tNeed to update DB\\n"
                     "2026-11-27T10:00:01Z\\tFATAL\\tFatal error\\timage scan error: GET "
                     "https://ci-bot:s3cr3t-t0ken@registry.example.com/v2/: UNAUTHORIZED\\n")
    sys.exit(1)
if "garbage" in ref:
    print("this is not json")
    sys.exit(0)
if "locked" in ref:
    marker = os.environ["FAKE_TRIVY_LOG"] + ".locked"
    if not os.path.exists(marker):
        open(marker, "w").close()
        sys.stderr.write("FATAL\\tunable to initialize fs cache: cache may be in use by "
                         "another process: timeout\\n")
        sys.exit(1)
with open(os.environ["FAKE_TRIVY_FIXTURE"]) as fh:
    report = json.load(fh)
report["ArtifactName"] = ref
report["Metadata"]["RepoTags"] = [ref]
report["Metadata"]["RepoDigests"] = []
report["CreatedAt"] = datetime.datetime.now(datetime.timezone.utc).isoformat()
if "clean" in ref:
    report["Results"] = [{"Target": ref, "Class": "os-pkgs", "Type": "alpine"}]
json.dump(report, sys.stdout)
'''


def install_fake_trivy(bin_dir: Path, log: Path) -> dict[str, str]:
    """Put an executable named ``trivy`` in ``bin_dir``; the environment that uses it."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "trivy"
    script.write_text(f"#!{sys.executable}\n{FAKE_TRIVY}")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return {"PATH": str(bin_dir), "FAKE_TRIVY_LOG": str(log),
            "FAKE_TRIVY_FIXTURE": fx("trivy-nginx.json")}
