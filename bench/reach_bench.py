"""``netpol reach`` benchmark: the exposed paths against the full matrix.

Everything is timed in this one run, side by side, because these machines are
noisy: read the ratios, not the seconds.

  1. Load: read the set into the index (the floor of any answer).
  2. Baseline: the full matrix, what ``netpol reach`` printed by default
     before (external and every workload x every workload, every port).
  3. The exposed paths (the default answer now): external -> every workload
     and every workload -> every sensitive workload, grouped.

The set is generated (``--workloads`` workloads, 50 a namespace, each
namespace with a default deny, one datastore and rules letting the front
tier reach every datastore), or given (``--path``, e.g. the corpus; the
matrix is then limited to ``--matrix-rows`` sources, and scaled up).

Usage: PYTHONPATH=src python bench/reach_bench.py [--workloads 400] [--path DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kubeproof.analysis.reach import (  # noqa: E402
    EXTERNAL,
    EXTERNAL_NETWORK,
    Endpoint,
    Network,
    without_placeholder_namespaces,
)
from kubeproof.analysis.reach_paths import paths, workload_endpoints  # noqa: E402
from kubeproof.core.index import load_index  # noqa: E402
from tests.analysis.test_netpol_reach import pod, policy  # noqa: E402

PER_NAMESPACE = 50


def generate(folder: Path, workloads: int) -> None:
    docs = []
    for n in range(max(1, workloads // PER_NAMESPACE)):
        ns = f"ns{n}"
        docs.append(policy("deny", ns, "podSelector: {}\npolicyTypes: [Ingress, Egress]"))
        docs.append(policy("db-clients", ns, "podSelector: {matchLabels: {app: db}}\n"
                           "ingress:\n- from:\n  - podSelector: {matchLabels: {tier: front}}\n"
                           "    namespaceSelector: {}\n"))
        docs.append(policy("front-out", ns, "podSelector: {matchLabels: {tier: front}}\n"
                           "policyTypes: [Egress]\negress:\n- to:\n"
                           "  - podSelector: {matchLabels: {app: db}}\n"
                           "    namespaceSelector: {}\n"))
        docs.append(pod("db", ns, "{app: db}", "postgres:16"))
        docs += [pod(f"w{i}", ns, f"{{app: w{i}, tier: {'front' if i % 7 else 'back'}}}")
                 for i in range(PER_NAMESPACE - 1)]
    (folder / "set.yaml").write_text("---\n".join(docs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workloads", type=int, default=400)
    parser.add_argument("--path", default=None)
    parser.add_argument("--matrix-rows", type=int, default=60,
                        help="sources of the baseline matrix on a given --path (scaled up)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        where = args.path
        if where is None:
            generate(Path(tmp), args.workloads)
            where = tmp
        t0 = time.perf_counter()
        index, _ = load_index([where])
        index = without_placeholder_namespaces(index)
        net = Network.from_index(index)
        endpoints = workload_endpoints(index.workloads)
        load = time.perf_counter() - t0
        print(f"{where}: {len(endpoints)} workloads, {len(index.network_policies)} policies")
        print(f"  {'load and index':<34} {load:8.3f} s")

        sources = [Endpoint.of_network(EXTERNAL_NETWORK, EXTERNAL), *endpoints]
        rows = sources if args.path is None else sources[:args.matrix_rows]
        t0 = time.perf_counter()
        for s in rows:
            for d in endpoints:
                net.reach(s, d)
        matrix = (time.perf_counter() - t0) * len(sources) / len(rows)
        scaled = "" if len(rows) == len(sources) else f" (scaled from {len(rows)} rows)"
        print(f"  {'full matrix (before)':<34} {matrix:8.3f} s  (base){scaled}")

        t0 = time.perf_counter()
        found = paths(net, index, endpoints, [])
        took = time.perf_counter() - t0
        print(f"  {'exposed paths (now)':<34} {took:8.3f} s  {matrix / took:8.1f}x faster; "
              f"{len(found.exposed)} external groups, {len(found.targets)} sensitive")


if __name__ == "__main__":
    main()
