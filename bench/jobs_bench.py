"""Worker processes or one process: where does ``--jobs`` win?

For inputs of several sizes (the whole corpus, one repository of it, a few
dozen files, one file) this times ``kubeproof scan`` with ``--jobs 1`` and
``--jobs N`` (N = usable cores, at least 2) as subprocesses, interleaved,
each ``--repeat`` times, and prints the medians of wall time and of CPU time
(user + system of the process and its workers) and the wall ratio. Both runs
of a pair happen in the same minute on the same (shared, noisy) machine: read
the ratios, not the seconds. On a loaded machine more processes get a larger
share of the cores, which flatters workers in wall time: the CPU columns show
what they cost. ``--jobs 0`` (auto) is timed too, to check that it picks the
faster side.

Usage: python bench/jobs_bench.py [--corpus ../shared/corpus] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUFFIXES = (".yaml", ".yml", ".json")
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPATH"] = str(ROOT / "src")


def wall(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run (CPU: the child and the workers it reaped)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV,
                   check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def scan_cmd(path: Path, jobs: int) -> list[str]:
    return [sys.executable, "-m", "kubeproof", "scan", str(path), "--no-config", "--format",
            "json", "--output", os.devnull, "--fail-on", "none", "--jobs", str(jobs)]


def manifests(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES))


def subset(files: list[Path], dest: Path, count: int, skip: int = 0) -> Path:
    """The ``count`` largest files after the ``skip`` largest, copied into ``dest`` (flat)."""
    dest.mkdir(parents=True)
    ranked = sorted(files, key=lambda p: -p.stat().st_size)
    for i, p in enumerate(ranked[skip:skip + count]):
        shutil.copyfile(p, dest / f"{i:04d}-{p.name}")
    return dest


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    corpus = Path(args.corpus)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = max(2, cores or 1)
    all_files = manifests(corpus)
    biggest_repo = max((d for d in corpus.iterdir() if d.is_dir()),
                       key=lambda d: sum(p.stat().st_size for p in manifests(d)))
    with tempfile.TemporaryDirectory(prefix="kp-jobs-") as tmp:
        cases = [
            ("whole corpus", corpus),
            (f"one repo ({biggest_repo.name})", biggest_repo),
            ("200 largest files", subset(all_files, Path(tmp) / "s200", 200)),
            ("40 largest files", subset(all_files, Path(tmp) / "s40", 40)),
            ("16 largest files", subset(all_files, Path(tmp) / "s16", 16)),
            ("16 files, size ranks 9-24", subset(all_files, Path(tmp) / "r9", 16, skip=8)),
            ("20 files, size ranks 200-219", subset(all_files, Path(tmp) / "r200", 20, 199)),
        ]
        wall(scan_cmd(ROOT / "examples", 1))  # warm-up: bytecode caches
        print(f"{cores} usable cores, load {os.getloadavg()[0]:.2f}; medians of {args.repeat}")
        print(f"{'input':32} {'files':>5} {'MiB':>5} {'-j1 s':>6} {f'-j{workers} s':>6} "
              f"{'-j0 s':>6} {'j1/jN':>6} {'cpu -j1':>7} {f'cpu -j{workers}':>7}")
        for label, path in cases:
            files = manifests(path)
            mib = sum(p.stat().st_size for p in files) / 1048576
            times: dict[int, list[float]] = {1: [], workers: [], 0: []}
            cpus: dict[int, list[float]] = {1: [], workers: [], 0: []}
            for _ in range(args.repeat):
                for jobs in times:
                    elapsed, cpu = wall(scan_cmd(path, jobs))
                    times[jobs].append(elapsed)
                    cpus[jobs].append(cpu)
            one, many, auto = (statistics.median(times[j]) for j in (1, workers, 0))
            cpu1, cpun = statistics.median(cpus[1]), statistics.median(cpus[workers])
            print(f"{label[:32]:32} {len(files):5d} {mib:5.1f} {one:6.2f} {many:6.2f} "
                  f"{auto:6.2f} {one / many:6.2f} {cpu1:7.2f} {cpun:7.2f}", flush=True)


if __name__ == "__main__":
    main()
