"""Policies benchmark (issue #12): what a 20-policy set costs, in the same run.

The policy set is twenty Kyverno ``ValidatingPolicy`` documents from the
vendored conformance set (``tests/conformance/kyverno``): the sixteen of
``pod-security-vpol`` and four of ``best-practices-vpol``
(``disallow-latest-tag``, ``require-labels``, ``require-probes``,
``require-pod-requests-limits``), copied into a temporary folder. The corpus
is the workload (``tests/data/corpus``, or ``--corpus DIR``).

  1. Scan: ``scan CORPUS -f json --no-config --fail-on none -j 1`` without and
     with ``--policy SET``, alternating (ABAB, ``--rounds`` pairs after one
     warm-up each); the ratio with / without of the medians. Target: < 1.30.
  2. Compile and evaluation cost, in process: the time to compile the set
     (the first time, as a scan does, then again), and per evaluation (one
     policy on one object) over every object of the corpus: µs per
     evaluation, median of 5 passes.
  3. ``kubeproof test tests/conformance/kyverno``: wall time (best of 3).
     Target: < 10 s.

Webhook latency with the same set at 200 req/s is ``bench/webhook_bench.py
--policy``.

Usage: python bench/policies_bench.py [--corpus DIR] [--rounds 5]
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

ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE = ROOT / "tests" / "conformance" / "kyverno"
BEST_PRACTICES = ("disallow-latest-tag", "require-labels", "require-probes",
                  "require-pod-requests-limits")


def policy_files() -> list[Path]:
    files = sorted((CONFORMANCE / "pod-security-vpol").glob("*/*/*.yaml"))
    files = [f for f in files if f.parent.name == f.stem]
    files += [CONFORMANCE / "best-practices-vpol" / name / f"{name}.yaml"
              for name in BEST_PRACTICES]
    return files


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(ROOT / "src")
    return env


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "kubeproof", *args], cwd=ROOT, env=_env(),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"kubeproof {' '.join(args)} exited {proc.returncode}: "
                         f"{proc.stderr.decode(errors='replace')[-2000:]}")
    return elapsed


def scan_ratio(corpus: str, policies: Path, rounds: int) -> None:
    base = ["scan", corpus, "-f", "json", "--no-config", "--fail-on", "none", "-j", "1"]
    with_policies = [*base, "--policy", str(policies)]
    timed(base)
    timed(with_policies)
    plain: list[float] = []
    judged: list[float] = []
    for _ in range(rounds):
        plain.append(timed(base))
        judged.append(timed(with_policies))
    a, b = statistics.median(plain), statistics.median(judged)
    print(f"scan without policies   median {a:.3f} s  min {min(plain):.3f} s")
    print(f"scan with 20 policies   median {b:.3f} s  min {min(judged):.3f} s")
    print(f"ratio with / without    {b / a:.2f}  (target < 1.30)")


def in_process(corpus: str, files: list[Path]) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from kubeproof.policies.compile import compile_policies
    from kubeproof.policies.model import NoLookup, Source, Subject
    from kubeproof.sources.files import LoadOptions, discover, load_path
    from kubeproof.sources.yamlparse import parse_yaml

    docs = []
    for f in files:
        for doc in parse_yaml(f.read_text(encoding="utf-8")):
            if isinstance(doc.data, dict):
                docs.append((doc.data, Source(str(f), doc.line)))
    compile_times = []
    for _ in range(5):
        start = time.perf_counter()
        policy_set = compile_policies(docs, None)
        compile_times.append(time.perf_counter() - start)
    print(f"compile 20 policies     {compile_times[0] * 1000:.1f} ms the first time "
          f"(environments included), {min(compile_times[1:]) * 1000:.1f} ms again (each "
          f"expression's program cached); {len(policy_set.policies)} compiled, "
          f"{len(policy_set.errors)} errors")
    opts = LoadOptions()
    objects = [located.resource.obj for kind, path in discover([corpus], opts)
               for located in load_path(kind, path, opts).objects
               if isinstance(located.resource.obj, dict)]
    lookup = NoLookup()
    subjects = [Subject(obj=obj) for obj in objects]
    passes = []
    for _ in range(5):
        start = time.perf_counter()
        for subject in subjects:
            for policy in policy_set.policies:
                policy.evaluate(subject, lookup)
        passes.append(time.perf_counter() - start)
    per = statistics.median(passes) / max(1, len(subjects) * len(policy_set.policies))
    print(f"evaluation              {per * 1e6:.1f} µs per policy and object "
          f"({len(subjects)} objects x {len(policy_set.policies)} policies, median of 5)")


def test_command() -> None:
    times = [timed(["test", str(CONFORMANCE)]) for _ in range(3)]
    print(f"kubeproof test conformance  {min(times):.2f} s (best of 3; target < 10 s)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(ROOT / "tests" / "data" / "corpus"))
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    files = policy_files()
    if len(files) != 20:
        raise SystemExit(f"expected 20 policy files, found {len(files)}")
    with tempfile.TemporaryDirectory() as tmp:
        for f in files:
            shutil.copy(f, Path(tmp) / f.name)
        scan_ratio(args.corpus, Path(tmp), args.rounds)
    in_process(args.corpus, files)
    test_command()


if __name__ == "__main__":
    main()
