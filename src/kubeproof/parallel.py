"""Loading and checking files on several cores.

Parsing dominates a scan and every file is independent until the filters
(exemptions, Pod Security levels per namespace, baselines), so worker
processes load and check files and send back partial results, which the
parent merges and filters. Workers are forked: they inherit the loaded rules,
the configuration and the context without pickling them, and findings refer
to their rule by code (see ``Rule.__reduce__``).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator

from kubeproof.engine import Engine, ScanResult
from kubeproof.sources.files import LoadOptions, load_path

_WORKER: tuple[Engine, LoadOptions] | None = None


def _check_one(item: tuple[str, str]) -> ScanResult:
    assert _WORKER is not None
    engine, opts = _WORKER
    engine.result = ScanResult(indexes={} if engine.needs_index else None)
    engine.add_file(load_path(item[0], item[1], opts), item)
    return engine.result


def scan_in_workers(engine: Engine, inputs: list[tuple[str, str]], opts: LoadOptions,
                    jobs: int) -> Iterator[ScanResult]:
    """Partial results, one per input, in input order."""
    global _WORKER
    worker = Engine(engine.ctx, engine.rules + engine.set_rules, opts)
    worker.applications = engine.applications  # each input's index is its application's
    _WORKER = (worker, opts)
    try:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            yield from pool.imap(_check_one, inputs, chunksize=4)
    finally:
        _WORKER = None
