"""Audit benchmark: ``kubeproof audit`` of 20,000+ objects served by the fake API server.

The fake API server of the tests (tests/support/fakeapi.py) serves the corpus
(../shared/corpus) replicated into as many namespaces as it takes to reach the
target number of objects of the kinds the audit lists; every Deployment also
gets the ReplicaSet and two Pods a real cluster would have (listed, then left
to their owner). The audit runs as a subprocess (``kubeproof audit --format
json -o /dev/null``), so the server and the auditor do not share an
interpreter; its wall time includes start-up. A second run with ``--select``
of one cheap rule separates listing from judging.

For reference, ``kubeproof scan --jobs 1`` then checks the same objects the
audit judges (owned ones left out, as the audit leaves them), written out as
YAML files: audit time minus scan time is roughly what listing costs over
parsing.

The fake server is Python's http.server, so read the listing numbers as an
upper bound for a real API server.

Usage: python bench/audit_bench.py [--objects 20000] [--max-requests 4] [--page-size 500]
       [--skip-scan] [-- extra audit/scan options, e.g. --ignore KP0905]
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kubeproof.sources.cluster import AUDIT_KINDS, prepare  # noqa: E402
from tests.support.fakeapi import (  # noqa: E402
    _BY_KIND,
    FakeApiServer,
    FakeCluster,
    load_manifests,
    make_tls,
    write_kubeconfig,
)

AUDITED = {k.kind for k in AUDIT_KINDS}


def corpus_objects(corpus: Path) -> list[dict[str, Any]]:
    return [o for o in load_manifests([corpus])
            if isinstance(o, dict) and o.get("kind") in AUDITED
            and isinstance(o.get("metadata"), dict)]


def owned(deploy: dict[str, Any], ns: str) -> list[dict[str, Any]]:
    """The ReplicaSet and two Pods a Deployment has in a live cluster."""
    name = str(deploy["metadata"].get("name"))
    spec = deploy.get("spec") if isinstance(deploy.get("spec"), dict) else {}
    template = spec.get("template") if isinstance(spec.get("template"), dict) else {}
    pod_spec = template.get("spec") if isinstance(template.get("spec"), dict) else {}
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {
        "name": f"{name}-7d9f8", "namespace": ns, "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": "d",
             "controller": True}]}, "spec": {**spec, "replicas": 2}}
    pods = [{"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": f"{name}-7d9f8-{i}", "namespace": ns, "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{name}-7d9f8",
             "uid": "r", "controller": True}]}, "spec": pod_spec} for i in range(2)]
    return [rs, *pods]


def build(cluster: FakeCluster, base: list[dict[str, Any]], target: int) -> int:
    copies = 0
    while sum(len(m) for rt, m in cluster.objects.items() if rt.kind in AUDITED) < target:
        ns = f"bench-{copies}"
        for obj in base:
            o = copy.deepcopy(obj)
            meta = o["metadata"]
            if not _BY_KIND[o["kind"]].namespaced:
                meta["name"] = f"{meta.get('name')}-{copies}"
            meta["namespace"] = ns
            cluster.add(o)
            if o["kind"] == "Deployment":
                for extra in owned(o, ns):
                    cluster.add(extra)
        copies += 1
    return sum(len(m) for rt, m in cluster.objects.items() if rt.kind in AUDITED)


def judged_as_files(cluster: FakeCluster, folder: Path) -> int:
    """The objects the audit judges, as YAML files of 500 objects each."""
    import yaml

    objs = []
    for rt, stored in cluster.objects.items():
        if rt.kind in AUDITED:
            for obj in stored.values():
                kept = prepare(json.loads(json.dumps(obj)), rt.group_version, rt.kind)
                if kept is not None:
                    objs.append(kept)
    for i in range(0, len(objs), 500):
        (folder / f"objects-{i:06d}.yaml").write_text(yaml.safe_dump_all(objs[i:i + 500]))
    return len(objs)


def kubeproof(*args: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "kubeproof", *args, "--no-config",
                           "--format", "json", "--output", "/dev/null", "--fail-on", "none"],
                          capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"kubeproof {args[0]} failed ({proc.returncode}): {proc.stderr}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--objects", type=int, default=20000)
    ap.add_argument("--max-requests", default="4")
    ap.add_argument("--page-size", default="500")
    ap.add_argument("--skip-scan", action="store_true")
    ap.add_argument("extra", nargs="*", help="more options for audit and scan")
    args = ap.parse_args()
    base = corpus_objects(Path(args.corpus))
    cluster = FakeCluster()
    served = build(cluster, base, args.objects)
    with tempfile.TemporaryDirectory() as tmp:
        tls = make_tls(Path(tmp))
        with FakeApiServer(cluster, tls) as server:
            kubeconfig = write_kubeconfig(Path(tmp) / "kubeconfig", server.url, tls.ca_pem,
                                          cluster.token)
            audit = ("audit", "--kubeconfig", str(kubeconfig), "--max-requests",
                     args.max_requests, "--page-size", args.page_size, *args.extra)
            kubeproof(*audit, "--select", "KP0401")  # warm up
            listing = kubeproof(*audit, "--select", "KP0401")
            full = kubeproof(*audit)
        if not args.skip_scan:
            folder = Path(tmp) / "objects"
            folder.mkdir()
            judged = judged_as_files(cluster, folder)
            scanned = kubeproof("scan", str(folder), "--jobs", "1", *args.extra)
    print(f"objects served (audited kinds): {served} "
          f"(corpus base {len(base)}, owned ReplicaSets/Pods included)")
    print(f"audit, one rule (listing + start-up): {listing:.2f} s, {served / listing:,.0f} "
          "objects/s")
    print(f"audit, all rules:                     {full:.2f} s, {served / full:,.0f} "
          "objects/s")
    if not args.skip_scan:
        print(f"scan --jobs 1 of the {judged} objects the audit judges, as files: "
              f"{scanned:.2f} s")


if __name__ == "__main__":
    main()
