"""Revision benchmark: this checkout against a base git revision, in the same run.

Issue #11 asks that a behaviour-preserving redesign leave the benchmarks no
slower, in same-run ratios. This script checks out ``--base`` (default
``377d1b3``, the commit before the redesign) into a temporary
``git worktree add --detach`` (removed at the end, also on error or Ctrl-C)
and times both revisions through the public CLI only: every run is a
subprocess ``python -m kubeproof ...`` with ``PYTHONPATH=<checkout>/src`` and
this repository's root as its working directory. kubeproof itself is never
imported here, since its module paths differ between the revisions.

For each workload the runs alternate base, current, base, current ...
(``--rounds`` pairs, after one untimed warm-up each, which also writes the
bytecode caches); the table gives the median and the minimum wall time of
each and the ratio current / base of the medians (below 1 is faster). The
corpus is the workload: ``tests/data/corpus`` (the vendored subset), or
``--corpus DIR`` (e.g. ../shared/corpus).

  version        ``--version`` (start-up)
  scan-examples  ``scan examples/ -f json --no-config --fail-on none``
  scan-corpus-j1 ``scan CORPUS -f json --no-config --fail-on none -j 1``
  scan-corpus-j2 the same with ``-j 2``
  rules          ``rules -f json``
  fix            ``fix --diff --no-config`` over a fresh copy of examples/bad per run
  netpol-reach   ``netpol reach CORPUS -f json --no-config``
  rbac-risky     ``rbac risky CORPUS -f json --no-config``
  webhook        ``webhook serve --workers 1 --no-config`` of each revision (TLS
                 from a throw-away self-signed certificate made with openssl),
                 both servers up at once; each round sends ``--requests``
                 AdmissionReview v1 CREATE requests built from corpus objects,
                 one after the other on one keep-alive connection, to /validate
                 and then /mutate of base, then of current (the order flips each
                 round). Reported: requests/s (median over rounds) and p99
                 latency (over all rounds); the ratio in the main table is
                 time per request, current / base.

A workload whose options the base revision's ``--help`` does not list is
skipped, and the script says so. The script reports, it does not judge: it
always exits 0, but prints ``slower: NAME (ratio)`` for each ratio over 1.10.
Both revisions share this machine's cores with whatever else runs: read the
ratios, not the seconds.

Usage: python bench/revision_bench.py [--base REV] [--rounds 7] [--corpus DIR]
       [--only NAME[,NAME]] [--requests 400]
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SLOWER = 1.10  # a ratio above this gets a "slower:" line
SUFFIXES = (".yaml", ".yml", ".golden")
# Children write bytecode caches, as an installed package has them.
BASE_ENV = {k: v for k, v in os.environ.items()
            if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}


@dataclass
class Revision:
    name: str  # "base" or "current"
    src: Path

    def env(self) -> dict[str, str]:
        return {**BASE_ENV, "PYTHONPATH": str(self.src)}

    def cmd(self, args: list[str]) -> list[str]:
        return [sys.executable, "-m", "kubeproof", *args]


@dataclass
class Workload:
    name: str
    command: list[str]  # the (sub)command whose --help must list every option used
    args: list[str]  # its arguments; "{tmp}" is replaced by a fresh per-run folder
    setup: Callable[[Path], None] | None = None  # fills the per-run folder
    ok_codes: tuple[int, ...] = (0,)


@dataclass
class Result:
    times: dict[str, list[float]] = field(default_factory=lambda: {"base": [], "current": []})
    codes: dict[str, set[int]] = field(default_factory=lambda: {"base": set(), "current": set()})


# ---------------------------------------------------------------- the base checkout

@contextmanager
def base_checkout(rev: str) -> Iterator[Path]:
    """A detached worktree of ``rev`` in a temporary folder, removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="kp-revbench-"))
    path = tmp / "base"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet",
                    str(path), rev], check=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], check=False)


def _sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so the finally blocks remove the worktree and stop the servers


# ---------------------------------------------------------------- CLI workloads

def copy_examples_bad(dest: Path) -> None:
    shutil.copytree(ROOT / "examples" / "bad", dest / "bad")


def workloads(corpus: str) -> list[Workload]:
    scan = ["-f", "json", "--no-config", "--fail-on", "none"]
    return [
        Workload("version", [], ["--version"]),
        Workload("scan-examples", ["scan"], ["examples/", *scan]),
        Workload("scan-corpus-j1", ["scan"], [corpus, *scan, "-j", "1"]),
        Workload("scan-corpus-j2", ["scan"], [corpus, *scan, "-j", "2"]),
        Workload("rules", ["rules"], ["-f", "json"]),
        Workload("fix", ["fix"], ["--diff", "--no-config", "{tmp}/bad"], copy_examples_bad,
                 ok_codes=(0, 1)),
        Workload("netpol-reach", ["netpol", "reach"], [corpus, "-f", "json", "--no-config"]),
        Workload("rbac-risky", ["rbac", "risky"], [corpus, "-f", "json", "--no-config"]),
    ]


def help_text(rev: Revision, subcommand: list[str]) -> str | None:
    proc = subprocess.run(rev.cmd([*subcommand, "--help"]), capture_output=True, text=True,
                          env=rev.env(), cwd=ROOT, check=False)
    return proc.stdout if proc.returncode == 0 else None


def unsupported(rev: Revision, w: Workload) -> str | None:
    """Why ``rev`` cannot run ``w`` as written (None when it can), from its --help."""
    text = help_text(rev, w.command)
    if text is None:
        return f"{rev.name} has no `{' '.join(w.command)}`"
    for opt in w.args:
        if opt.startswith("-") and not re.search(rf"(^|[\s,]){re.escape(opt)}([\s,=]|$)",
                                                 text, re.M):
            return f"{rev.name} `{' '.join(['kubeproof', *w.command])}` has no {opt}"
    return None


def run_once(rev: Revision, w: Workload) -> tuple[float, int]:
    with tempfile.TemporaryDirectory(prefix="kp-revbench-run-") as tmp:
        if w.setup:
            w.setup(Path(tmp))
        args = [*w.command, *(a.replace("{tmp}", tmp) for a in w.args)]
        start = time.perf_counter()
        proc = subprocess.run(rev.cmd(args), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=rev.env(), cwd=ROOT, check=False)
        return time.perf_counter() - start, proc.returncode


def bench_cli(revs: list[Revision], w: Workload, rounds: int) -> Result:
    result = Result()
    for rev in revs:
        run_once(rev, w)  # warm-up
    for i in range(rounds):
        for rev in (revs if i % 2 == 0 else revs[::-1]):
            elapsed, code = run_once(rev, w)
            result.times[rev.name].append(elapsed)
            result.codes[rev.name].add(code)
    return result


# ---------------------------------------------------------------- webhook

def _plural(kind: str) -> str:
    low = kind.lower()
    if low.endswith(("s", "x", "ch", "sh")):
        return low + "es"
    if low.endswith("y") and low[-2:-1] not in "aeiou":
        return low[:-1] + "ies"
    return low + "s"


def admission_reviews(corpus: Path, limit: int) -> list[bytes]:
    """AdmissionReview v1 CREATE requests for the corpus's objects, in file order."""
    import yaml  # PyYAML, not kubeproof

    bodies: list[bytes] = []
    for path in sorted(corpus.rglob("*")):
        if not path.is_file() or not path.name.endswith(SUFFIXES):
            continue
        try:
            documents = list(yaml.load_all(path.read_text(errors="replace"),
                                           Loader=yaml.CSafeLoader))
        except yaml.YAMLError:
            continue
        for obj in documents:
            if (isinstance(obj, dict) and isinstance(obj.get("kind"), str)
                    and isinstance(obj.get("apiVersion"), str)
                    and isinstance(obj.get("metadata"), dict) and obj["kind"] != "List"):
                bodies.append(_review(obj))
                if len(bodies) >= limit:
                    return bodies
    return bodies


def _review(obj: dict[str, Any]) -> bytes:
    meta = obj["metadata"]
    namespace = meta.get("namespace") if isinstance(meta.get("namespace"), str) else "bench"
    group, _, version = obj["apiVersion"].rpartition("/")
    gvk = {"group": group, "version": version, "kind": obj["kind"]}
    gvr = {"group": group, "version": version, "resource": _plural(obj["kind"])}
    review = {
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()), "kind": gvk, "resource": gvr,
            "requestKind": gvk, "requestResource": gvr, "name": str(meta.get("name", "bench")),
            "namespace": namespace, "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:ci:deployer",
                         "groups": ["system:serviceaccounts", "system:authenticated"]},
            "object": {**obj, "metadata": {**meta, "namespace": namespace}},
            "oldObject": None, "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }
    return json.dumps(review, separators=(",", ":"), default=str).encode()


def make_cert(tmp: Path) -> tuple[Path, Path]:
    """A throw-away self-signed EC certificate for 127.0.0.1 (openssl, not kubeproof)."""
    cert, key = tmp / "tls.crt", tmp / "tls.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # our own throw-away certificate, on 127.0.0.1
    return ctx


SERVE = Workload("webhook", ["webhook", "serve"],
                 ["--tls-cert", "--tls-key", "--host", "--port", "--workers", "--no-config",
                  "--log-level"])


def start_server(rev: Revision, tmp: Path, cert: Path,
                 key: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    log = (tmp / f"{rev.name}.log").open("wb")
    proc = subprocess.Popen(
        rev.cmd(["webhook", "serve", "--tls-cert", str(cert), "--tls-key", str(key),
                 "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-config",
                 "--log-level", "warning"]),
        stdout=log, stderr=subprocess.STDOUT, env=rev.env(), cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{rev.name} server exited with {proc.returncode}: "
                               f"{(tmp / f'{rev.name}.log').read_text()[-1000:]}")
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=2,
                                           context=client_context())
        try:
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError(f"{rev.name} server did not become ready in 60 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def post_all(port: int, path: str, bodies: list[bytes]) -> tuple[float, list[float], int]:
    """Wall seconds, per-request latencies and failures of POSTing ``bodies`` in turn."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=client_context())
    latencies: list[float] = []
    failures = 0
    headers = {"Content-Type": "application/json"}
    start = time.perf_counter()
    try:
        for body in bodies:
            t0 = time.perf_counter()
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            latencies.append(time.perf_counter() - t0)
            if response.status != 200 or b'"allowed"' not in answer:
                failures += 1
    finally:
        conn.close()
    return time.perf_counter() - start, latencies, failures


@dataclass
class WebhookResult:
    wall: dict[str, list[float]] = field(default_factory=lambda: {"base": [], "current": []})
    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {"base": [], "current": []})
    failures: dict[str, int] = field(default_factory=lambda: {"base": 0, "current": 0})


def bench_webhook(revs: list[Revision], bodies: list[bytes],
                  rounds: int) -> dict[str, WebhookResult]:
    results = {path: WebhookResult() for path in ("/validate", "/mutate")}
    servers: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="kp-revbench-webhook-") as tmp_name:
        tmp = Path(tmp_name)
        cert, key = make_cert(tmp)
        try:
            ports: dict[str, int] = {}
            for rev in revs:
                proc, ports[rev.name] = start_server(rev, tmp, cert, key)
                servers.append(proc)
            for rev in revs:  # warm-up: the first requests import the judging code
                for path in results:
                    post_all(ports[rev.name], path, bodies[:50])
            for i in range(rounds):
                for rev in (revs if i % 2 == 0 else revs[::-1]):
                    for path, r in results.items():
                        wall, latencies, failures = post_all(ports[rev.name], path, bodies)
                        r.wall[rev.name].append(wall)
                        r.latencies[rev.name] += latencies
                        r.failures[rev.name] += failures
        finally:
            for proc in servers:
                stop_server(proc)
    return results


# ---------------------------------------------------------------- report

def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--base", default="377d1b3", help="git revision to compare with")
    ap.add_argument("--rounds", type=int, default=7, help="base/current pairs per workload")
    ap.add_argument("--corpus", default="tests/data/corpus",
                    help="folder of manifests (relative to the repository root)")
    ap.add_argument("--only", action="append", default=[],
                    help="workload name(s), comma-separated or repeated")
    ap.add_argument("--requests", type=int, default=400,
                    help="AdmissionReviews per webhook endpoint per round")
    args = ap.parse_args()
    only = {n for item in args.only for n in item.split(",") if n}
    signal.signal(signal.SIGTERM, _sigterm)

    corpus = (ROOT / args.corpus).resolve()  # the runs' working directory is ROOT
    corpus_arg = str(corpus.relative_to(ROOT)) if corpus.is_relative_to(ROOT) else str(corpus)
    known = [w.name for w in workloads(corpus_arg)] + ["webhook"]
    if only - set(known):
        sys.exit(f"unknown workload(s) {sorted(only - set(known))}; known: {', '.join(known)}")

    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
                           capture_output=True, text=True, check=False).stdout.strip()
    started = time.perf_counter()
    rows: list[tuple[str, float, float, float, float, float]] = []
    notes: list[str] = []
    slower: list[tuple[str, float]] = []
    webhook: dict[str, WebhookResult] = {}
    try:
        with base_checkout(args.base) as base_root:
            revs = [Revision("base", base_root / "src"), Revision("current", ROOT / "src")]
            print(f"base {args.base} vs current {head}{' + uncommitted src/' if dirty else ''}; "
                  f"{args.rounds} rounds, interleaved; corpus {corpus_arg}; "
                  f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
            for w in workloads(corpus_arg):
                if only and w.name not in only:
                    continue
                why = unsupported(revs[0], w) or unsupported(revs[1], w)
                if why:
                    notes.append(f"skipped {w.name}: {why}")
                    continue
                r = bench_cli(revs, w, args.rounds)
                b, c = r.times["base"], r.times["current"]
                rows.append((w.name, statistics.median(b), min(b), statistics.median(c), min(c),
                             statistics.median(c) / statistics.median(b)))
                print(f"  {w.name}: done", file=sys.stderr, flush=True)
                for rev in revs:
                    bad = r.codes[rev.name] - set(w.ok_codes)
                    if bad:
                        notes.append(f"{w.name}: {rev.name} exited {sorted(bad)}")
                if r.codes["base"] != r.codes["current"]:
                    notes.append(f"{w.name}: exit codes differ, base {sorted(r.codes['base'])}"
                                 f" current {sorted(r.codes['current'])}")
            if not only or "webhook" in only:
                bodies = admission_reviews(corpus, args.requests)
                why = unsupported(revs[0], SERVE) or unsupported(revs[1], SERVE)
                if why:
                    notes.append(f"skipped webhook: {why}")
                elif not bodies:
                    notes.append("skipped webhook: no objects in the corpus")
                elif not shutil.which("openssl"):
                    notes.append("skipped webhook: no openssl to make a certificate")
                else:
                    webhook = bench_webhook(revs, bodies, args.rounds)
                    for path, wr in webhook.items():
                        b, c = wr.wall["base"], wr.wall["current"]
                        rows.append((f"webhook {path} x{len(bodies)}", statistics.median(b),
                                     min(b), statistics.median(c), min(c),
                                     statistics.median(c) / statistics.median(b)))
                        for rev in revs:
                            if wr.failures[rev.name]:
                                notes.append(f"webhook {path}: {rev.name} had "
                                             f"{wr.failures[rev.name]} failed requests")
    except KeyboardInterrupt:
        print("interrupted: the base worktree was removed", file=sys.stderr)
        return

    if rows:
        print()
        print(f"{'workload':28} {'base s':>8} {'(min)':>8} {'current s':>10} {'(min)':>8} "
              f"{'ratio':>7}")
    for name, bmed, bmin, cmed, cmin, ratio in rows:
        print(f"{name:28} {bmed:8.3f} {bmin:8.3f} {cmed:10.3f} {cmin:8.3f} {ratio:7.3f}")
        if ratio > SLOWER:
            slower.append((name, ratio))
    if webhook:
        print()
        print(f"{'webhook':12} {'base req/s':>11} {'current req/s':>14} {'ratio':>7} "
              f"{'base p99 ms':>12} {'current p99 ms':>15} {'ratio':>7}")
        for path, wr in webhook.items():
            n = len(wr.latencies["base"]) // max(1, len(wr.wall["base"]))
            brps = n / statistics.median(wr.wall["base"])
            crps = n / statistics.median(wr.wall["current"])
            bp99, cp99 = p99(wr.latencies["base"]), p99(wr.latencies["current"])
            print(f"{path:12} {brps:11.0f} {crps:14.0f} {crps / brps:7.3f} "
                  f"{bp99 * 1000:12.2f} {cp99 * 1000:15.2f} {cp99 / bp99:7.3f}")
            if cp99 / bp99 > SLOWER:
                slower.append((f"webhook {path} p99", cp99 / bp99))
        print("(req/s ratio is current / base: above 1 is faster; p99 ratio: below 1 is faster)")
    if rows:
        geo = math.exp(statistics.fmean(math.log(r[5]) for r in rows))
        print()
        print(f"geometric mean ratio (current / base time, {len(rows)} rows): {geo:.3f}")
    for line in notes:
        print(line)
    for name, ratio in slower:
        print(f"slower: {name} ({ratio:.2f})")
    print(f"runtime {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
