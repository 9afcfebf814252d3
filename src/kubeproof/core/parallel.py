"""Loading and checking files on several cores.

Parsing dominates a scan and every file is independent until the filters
(exemptions, Pod Security levels per namespace, baselines), so worker
processes load and check files and send back partial results, which the
parent merges and filters. Workers are forked: they inherit the loaded rules,
the configuration and the context without pickling them, and findings refer
to their rule by code (see ``Rule.__reduce__``).

Workers cost something too: starting them, and sending every partial result
(findings, checked objects) back through a pipe. They win only when parsing
dominates, i.e. when the files are large; :func:`auto_jobs` decides
``--jobs 0`` from the input size (``bench/jobs_bench.py`` measures it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from kubeproof.core.engine import Engine
from kubeproof.core.result import ScanResult
from kubeproof.sources.files import LoadOptions, load_path

# each worker process's engine, set in the worker by _start_worker (the parent
# passes it to the pool, never stores it: forked, it is not pickled)
_WORKER: tuple[Engine, LoadOptions] | None = None

PARALLEL_MIN_INPUTS = 16  # below this, starting workers costs more than it saves

# --jobs 0 (auto) starts workers only for inputs like those where they won in
# bench/jobs_bench.py on a 2-core machine: 16+ files of 256 KiB or more on
# average (large CRD bundles, rendered charts), 8 MiB in all, and only when the
# machine has an idle core for them (1-minute load average at most the usable
# cores minus one: at load 2 on 2 cores they lost or tied even there, and cost
# 15-45% more CPU). A typical
# repository (the whole corpus: 1,423 files, 12 KiB each on average) is faster
# in one process.
PARALLEL_MIN_BYTES = 8 << 20
PARALLEL_MIN_MEAN_BYTES = 256 << 10
FILE_KINDS = frozenset({"file", "dockerfile"})


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def load_average() -> float:
    """The 1-minute load average (0 where the OS does not give one)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def auto_jobs(inputs: list[tuple[str, str]], cores: int | None = None,
              load: float | None = None) -> int:
    """Worker processes for ``--jobs 0``: one per usable core when the input is
    large enough for them to win and the cores are idle (see the constants
    above), else 1."""
    cores = usable_cores() if cores is None else cores
    if cores < 2 or len(inputs) < PARALLEL_MIN_INPUTS:
        return 1
    if (load_average() if load is None else load) > cores - 1:
        return 1  # no idle core: workers would only share the busy ones
    total = 0
    for kind, path in inputs:
        if kind in FILE_KINDS:
            try:
                total += os.stat(path).st_size
            except OSError:
                continue  # reported when it is loaded
    if total < PARALLEL_MIN_BYTES or total < PARALLEL_MIN_MEAN_BYTES * len(inputs):
        return 1
    return cores


def _start_worker(engine: Engine, opts: LoadOptions) -> None:
    global _WORKER
    _WORKER = (engine, opts)


def _check_one(item: tuple[str, str]) -> ScanResult:
    assert _WORKER is not None
    engine, opts = _WORKER
    engine.result = ScanResult(indexes={} if engine.needs_index else None)
    engine.add_file(load_path(item[0], item[1], opts), item)
    return engine.result


def scan_in_workers(engine: Engine, inputs: list[tuple[str, str]], opts: LoadOptions,
                    jobs: int) -> Iterator[ScanResult]:
    """Partial results, one per input, in input order."""
    worker = Engine(engine.ctx, engine.rules + engine.set_rules, opts)
    worker.applications = engine.applications  # each input's index is its application's
    # start-up: multiprocessing costs ~8 ms of imports (perf_counter, best of 3), which every
    # scan would pay; only one that starts workers needs it
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(jobs, initializer=_start_worker,
                                                  initargs=(worker, opts)) as pool:
        yield from pool.imap(_check_one, inputs, chunksize=4)
