"""Scan benchmark over ../shared/corpus, replicated to 20,000+ objects.

Everything is timed in this one run, side by side, because these machines are
noisy: read the ratios, not the seconds.

  1. kubeproof scan end to end (JSON report to /dev/null), as a subprocess,
     with its default worker count (one per core) and with ``--jobs 1``;
  2. the parse floor: PyYAML ``CSafeLoader`` loading the same files and
     nothing else, as a subprocess (so both pay interpreter start-up);
  3. Checkov (``checkov -d DIR --framework kubernetes``) when it is installed,
     on one copy of the corpus (it is too slow for the full set), against
     kubeproof on the same copy;
  4. ``kubeproof scan`` of one small file, wall time (median of 9) next to a
     bare ``python -c pass``;
  5. peak memory (max RSS) of a scan of 50,000+ objects in one process.

Usage: python bench/scan_bench.py [--corpus ../shared/corpus] [--copies 6]
       [--checkov PATH] [--skip-memory]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS_OBJECTS = 3364  # per ../shared/corpus/README.md
SUFFIXES = (".yaml", ".yml", ".golden")

PARSE_FLOOR = r"""
import os, sys, yaml
class L(yaml.CSafeLoader): pass
L.add_constructor('tag:yaml.org,2002:value', yaml.SafeLoader.construct_yaml_str)
n = 0
for d, _, fs in os.walk(sys.argv[1]):
    for f in fs:
        if f.endswith(('.yaml', '.yml', '.json')):
            with open(os.path.join(d, f), 'rb') as fh:
                for doc in yaml.load_all(fh.read(), Loader=L):
                    n += 1
print(n)
"""


def replicate(corpus: Path, dest: Path, copies: int) -> int:
    files = [p for p in corpus.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES)]
    for i in range(copies):
        for p in files:
            rel = p.relative_to(corpus)
            name = rel.name + (".yaml" if rel.name.endswith(".golden") else "")
            target = dest / f"copy{i}" / rel.parent / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, target)
    return copies * CORPUS_OBJECTS


# Children write bytecode caches, as an installed package has them: a machine
# with PYTHONDONTWRITEBYTECODE set would otherwise recompile on every start.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(cmd: list[str]) -> tuple[float, int, int]:
    """Wall seconds, exit code and max RSS (KiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    return elapsed, os.waitstatus_to_exitcode(status), usage.ru_maxrss


def kubeproof_cmd(path: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "kubeproof", "scan", str(path), "--no-config",
            "--format", "json", "--output", os.devnull, "--fail-on", "none", *extra]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--copies", type=int, default=6)
    ap.add_argument("--checkov", default=shutil.which("checkov") or "/opt/checkov/bin/checkov")
    ap.add_argument("--skip-memory", action="store_true")
    args = ap.parse_args()
    corpus = Path(args.corpus)
    with tempfile.TemporaryDirectory(prefix="kp-bench-") as tmp:
        big = Path(tmp) / "big"
        objects = replicate(corpus, big, args.copies)
        print(f"workload: {args.copies} copies of the corpus, {objects:,} objects")

        timed(kubeproof_cmd(ROOT / "examples"))  # warm-up: bytecode caches
        kp, rc, rss = timed(kubeproof_cmd(big))
        kp1, _, _ = timed(kubeproof_cmd(big, "--jobs", "1"))
        floor, _, _ = timed([sys.executable, "-c", PARSE_FLOOR, str(big)])
        print(f"kubeproof scan : {kp:7.2f} s  {objects / kp:8,.0f} objects/s  (exit {rc}, "
              f"max RSS {rss / 1024:.0f} MiB, {os.cpu_count()} workers)")
        print(f"  ... --jobs 1 : {kp1:7.2f} s  {objects / kp1:8,.0f} objects/s")
        print(f"parse floor    : {floor:7.2f} s  {objects / floor:8,.0f} objects/s  (one process)")
        print(f"ratio kubeproof / parse floor: {kp / floor:.2f}x, with --jobs 1 "
              f"{kp1 / floor:.2f}x  (target <= 2.0x)")

        if args.checkov and Path(args.checkov).exists():
            one = Path(tmp) / "one"
            replicate(corpus, one, 1)
            one_kp, _, _ = timed(kubeproof_cmd(one))
            one_kp1, _, _ = timed(kubeproof_cmd(one, "--jobs", "1"))
            ck, ck_rc, _ = timed([args.checkov, "-d", str(one), "--framework", "kubernetes",
                                  "--quiet", "--compact", "-o", "json"])
            print(f"one copy ({CORPUS_OBJECTS:,} objects): kubeproof {one_kp:.2f} s "
                  f"(--jobs 1: {one_kp1:.2f} s), checkov {ck:.2f} s (exit {ck_rc})")
            print(f"ratio checkov / kubeproof: {ck / one_kp:.1f}x, with --jobs 1 "
                  f"{ck / one_kp1:.1f}x  (target >= 25x)")
        else:
            print("checkov not installed: comparison skipped")

        small = ROOT / "examples" / "good" / "deployment.yaml"
        starts = [timed(kubeproof_cmd(small))[0] for _ in range(9)]
        bare = [timed([sys.executable, "-c", "pass"])[0] for _ in range(9)]
        print(f"one small file : {statistics.median(starts) * 1000:6.0f} ms median "
              f"(bare python start {statistics.median(bare) * 1000:.0f} ms; target < 300 ms)")

        if not args.skip_memory:
            shutil.rmtree(big)
            copies = -(-50_000 // CORPUS_OBJECTS)
            n = replicate(corpus, big, copies)
            t, _, rss = timed(kubeproof_cmd(big, "--jobs", "1"))
            print(f"memory         : {n:,} objects in {t:.1f} s, max RSS {rss / 1024:.0f} MiB "
                  f"in one process (--jobs 1; target < 400 MiB)")


if __name__ == "__main__":
    main()
