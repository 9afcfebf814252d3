"""Admission webhook benchmark: latency at fixed rates and the highest sustained rate.

The server is the real one, ``kubeproof webhook serve --workers 2`` over TLS
(certificates from :mod:`kubeproof.webhook.certs` in a temporary folder), on
127.0.0.1. The load comes from a SEPARATE process, so the client's work is not
charged to the server's event loop (both share this machine's cores, which is
why every figure has a baseline next to it). The requests are realistic:
AdmissionReview v1 CREATE requests built from every Deployment in
../shared/corpus, cycled.

Everything is measured in this one run, side by side, because these machines
are noisy: read the ratios, not the milliseconds.

  1. Open-loop latency at 200 and 1,000 req/s (``--rates``). Requests are sent
     on a fixed schedule whatever the server does, and each latency is
     measured from the request's SCHEDULED time, so a server that falls behind
     cannot hide it (no coordinated omission): the queueing shows up as
     latency. The generator is our own asyncio client over raw keep-alive TLS
     connections (``drive`` below), because Debian's wrk is closed-loop (each
     connection waits for its answer before sending again) and so cannot hold
     a rate. p50, p99 and max of ``/validate`` (and of ``/mutate`` at the
     first rate), then of ``GET /healthz`` at the same rate: the baseline
     (same server, TLS, HTTP stack, client and machine; everything but
     judging the object). Each row also gives the server's CPU time per
     request (its whole process tree, from /proc) and the client's: CPU time
     is much less disturbed by a busy machine than latency is. Each rate
     runs ``--repeat`` times, /validate and /healthz interleaved; the summary
     gives medians and the best p99 (the run the machine disturbed least).
  2. The highest sustained rate, two ways. Open loop: steps of rising rate;
     a step is sustained when no request failed, the server kept up (answers
     within 5% of the schedule) and p99 stayed under 1 s (a tenth of the API
     server's 10 s timeout; beyond it the queue is growing); baseline: the
     same steps against ``/healthz``. Closed loop with wrk (``wrk -t2 -c50
     -d10s``, a Lua script POSTing the same bodies): the throughput without
     errors, against ``/validate`` and ``/healthz``. Closed loop hides
     latency but shows the ceiling, and wrk (C) takes far less of the shared
     cores than a Python client does: on 2 cores the open-loop client's own
     CPU time lowers the rate the server can reach.

Targets (issue #4): p99 under 10 ms at 200 req/s; at least 1,000 req/s sustained.

Usage: python bench/webhook_bench.py [--corpus ../shared/corpus] [--duration 10]
       [--rates 200,1000] [--repeat 3] [--steps 400,600,...] [--no-wrk]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
if ENV.get("PYTHONPATH"):  # PYTHONPATH=src must hold in children started elsewhere
    ENV["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p)
                                        for p in ENV["PYTHONPATH"].split(os.pathsep))
REQUEST_TIMEOUT = 10.0  # the API server's default webhook timeout
MAX_CONNECTIONS = 256  # a generous pool: the API server too opens many
SUSTAINED_P99 = 1.0  # seconds; a step whose p99 is over this is not sustained
HEADER = ("    rate  endpoint    sent errors  achieved      p50      p99      max "
          "  srvCPU   cliCPU   (ms; CPU: ms per request)")

WRK_SCRIPT = r"""
local requests = {}
local i = 0
function init(args)
  for line in io.lines(args[1]) do
    requests[#requests + 1] = wrk.format("POST", args[2],
      {["Content-Type"] = "application/json"}, line)
  end
end
function request()
  i = i % #requests + 1
  return requests[i]
end
"""


# ---------------------------------------------------------------- workload

def admission_reviews(corpus: Path, limit: int) -> list[bytes]:
    """AdmissionReview v1 CREATE requests for the Deployments in ``corpus``."""
    import yaml

    bodies: list[bytes] = []
    for path in sorted(corpus.rglob("*")):
        if not path.is_file() or not path.name.endswith((".yaml", ".yml", ".golden")):
            continue
        try:
            documents = list(yaml.load_all(path.read_text(errors="replace"),
                                           Loader=yaml.CSafeLoader))
        except yaml.YAMLError:
            continue
        for obj in documents:
            if (isinstance(obj, dict) and obj.get("kind") == "Deployment"
                    and isinstance(obj.get("metadata"), dict)
                    and isinstance(obj.get("spec"), dict)):
                bodies.append(_review(obj))
                if len(bodies) >= limit:
                    return bodies
    return bodies


def _review(obj: dict[str, Any]) -> bytes:
    meta = obj["metadata"]
    namespace = meta.get("namespace") if isinstance(meta.get("namespace"), str) else "bench"
    name = str(meta.get("name", "bench"))
    obj = {**obj, "metadata": {**meta, "namespace": namespace}}
    gvk = {"group": "apps", "version": "v1", "kind": "Deployment"}
    gvr = {"group": "apps", "version": "v1", "resource": "deployments"}
    review = {
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()), "kind": gvk, "resource": gvr,
            "requestKind": gvk, "requestResource": gvr, "name": name,
            "namespace": namespace, "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:ci:deployer",
                         "groups": ["system:serviceaccounts", "system:authenticated"]},
            "object": obj, "oldObject": None, "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }
    return json.dumps(review, separators=(",", ":"), default=str).encode()


# ---------------------------------------------------------------- server

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_certs(tmp: Path) -> tuple[Path, Path, Path]:
    from kubeproof.webhook.certs import make_ca, make_serving_cert

    ca = make_ca()
    serving = make_serving_cert(ca, ["localhost"], ["127.0.0.1"])
    paths = tmp / "ca.crt", tmp / "tls.crt", tmp / "tls.key"
    for path, data in zip(paths, (ca.cert_pem, serving.cert_pem, serving.key_pem), strict=True):
        path.write_bytes(data)
    return paths


def start_server(tmp: Path, cert: Path, key: Path, ca: Path, port: int,
                 workers: int, extra: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
    log_path = tmp / f"server-{port}.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubeproof", "webhook", "serve", "--tls-cert", str(cert),
         "--tls-key", str(key), "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--no-config", *extra],
        stdout=log, stderr=subprocess.STDOUT, env=ENV, cwd=tmp)
    ctx = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}: "
                     f"{log_path.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as raw, \
                    ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            b"Connection: close\r\n\r\n")
                if tls.recv(64).startswith(b"HTTP/1.1 200"):
                    return proc
        except OSError:
            pass
        time.sleep(0.2)
    proc.terminate()
    sys.exit("server did not become ready in 60 s")


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's supervisor spawns the workers)."""
    out = [pid]
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            children = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
        except OSError:
            continue
        for child in children:
            out += _tree(int(child))
    return out


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of the server's whole process tree, so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------- open-loop driver

class Pool:
    """Keep-alive TLS connections to the server, opened on demand up to a cap."""

    def __init__(self, port: int, ca: str) -> None:
        self.port = port
        self.ctx = ssl.create_default_context(cafile=ca)
        self.idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue())
        self.opened = 0

    async def acquire(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.idle.empty() and self.opened < MAX_CONNECTIONS:
            self.opened += 1
            try:
                return await asyncio.open_connection("127.0.0.1", self.port, ssl=self.ctx,
                                                     server_hostname="127.0.0.1")
            except OSError:
                self.opened -= 1
                raise
        return await self.idle.get()

    def release(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        self.idle.put_nowait(conn)

    def discard(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        conn[1].close()
        self.opened -= 1

    def close(self) -> None:
        while not self.idle.empty():
            self.idle.get_nowait()[1].close()


async def _exchange(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                    request: bytes) -> int:
    """Send one request on a keep-alive connection; the response's status."""
    reader, writer = conn
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    match = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    if match is None:
        raise ConnectionError("response without Content-Length")
    await reader.readexactly(int(match.group(1)))
    return status


async def _drive(port: int, ca: str, requests: list[bytes], rate: float,
                 duration: float) -> dict[str, Any]:
    pool = Pool(port, ca)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    done_at: list[float] = []

    def failed(what: str) -> None:
        errors[what] = errors.get(what, 0) + 1

    async def one(request: bytes, scheduled: float) -> None:
        try:
            conn = await pool.acquire()
        except OSError as exc:
            failed(type(exc).__name__)
            return
        try:
            status = await asyncio.wait_for(_exchange(conn, request), REQUEST_TIMEOUT)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                TimeoutError, ValueError) as exc:
            pool.discard(conn)
            failed(type(exc).__name__)
            return
        pool.release(conn)
        now = time.perf_counter()
        done_at.append(now)
        if status == 200:
            latencies.append(now - scheduled)
        else:
            failed(f"HTTP {status}")

    warm = [await pool.acquire() for _ in range(32)]  # handshakes off the clock
    for conn in warm:
        pool.release(conn)
    total = int(rate * duration)
    interval = 1.0 / rate
    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter()
    sent = 0
    while sent < total:
        now = time.perf_counter()
        while sent < total and start + sent * interval <= now:
            tasks.append(asyncio.create_task(
                one(requests[sent % len(requests)], start + sent * interval)))
            sent += 1
        await asyncio.sleep(max(0.0, start + sent * interval - time.perf_counter()))
    await asyncio.gather(*tasks)
    end = max(done_at) if done_at else time.perf_counter()
    pool.close()
    return {"sent": total, "ok": len(latencies), "errors": errors,
            "achieved": len(done_at) / (end - start) if end > start else 0.0,
            "latencies": latencies}


def drive_main(argv: list[str]) -> None:
    """``webhook_bench.py drive PORT CA BODIES PATH RATE DURATION``: runs in its
    own process and prints one JSON line of results."""
    port, ca, bodies, path, rate, duration = argv
    host = b"Host: 127.0.0.1\r\n"
    if path == "/healthz":
        requests = [b"GET /healthz HTTP/1.1\r\n" + host + b"\r\n"]
    else:
        requests = [b"POST " + path.encode() + b" HTTP/1.1\r\n" + host
                    + b"Content-Type: application/json\r\n"
                    + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                    for body in Path(bodies).read_bytes().splitlines() if body]
    before = time.process_time()
    result = asyncio.run(_drive(int(port), ca, requests, float(rate), float(duration)))
    result["client_cpu"] = time.process_time() - before
    lat = sorted(result.pop("latencies"))
    if lat:
        result.update(p50=_pct(lat, 50), p99=_pct(lat, 99), max=lat[-1])
    print(json.dumps(result))


def _pct(sorted_values: list[float], pct: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def drive(port: int, ca: Path, bodies: Path, path: str, rate: float,
          duration: float, server_pid: int) -> dict[str, Any]:
    """One open-loop run in a separate process, with the server's CPU time."""
    cpu = cpu_seconds(server_pid)
    proc = subprocess.run(
        [sys.executable, __file__, "drive", str(port), str(ca), str(bodies), path, str(rate),
         str(duration)], capture_output=True, text=True, env=ENV,
        timeout=duration + REQUEST_TIMEOUT + 60)
    if proc.returncode != 0:
        sys.exit(f"load generator failed: {proc.stderr[-2000:]}")
    result = dict(json.loads(proc.stdout))
    result["server_cpu"] = cpu_seconds(server_pid) - cpu
    return result


# ---------------------------------------------------------------- wrk

def wrk(port: int, path: str, script: Path | None, bodies: Path,
        duration: int) -> tuple[float, int]:
    """Requests per second and failed requests (socket errors, non-2xx)."""
    cmd = ["wrk", "-t2", "-c50", f"-d{duration}s", "--timeout", "10s"]
    if script is not None:
        cmd += ["-s", str(script)]
    cmd.append(f"https://127.0.0.1:{port}{path}")
    if script is not None:
        cmd += ["--", str(bodies), path]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60).stdout
    rps = re.search(r"Requests/sec:\s*([\d.]+)", out)
    failed = sum(int(n) for n in re.findall(
        r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    failed += int(non2xx.group(1)) if non2xx else 0
    return (float(rps.group(1)) if rps else 0.0), failed


# ---------------------------------------------------------------- report

def _ms(seconds: float | None) -> str:
    return f"{seconds * 1000:8.2f}" if seconds is not None else "       -"


def _row(rate: float, path: str, r: dict[str, Any]) -> str:
    errors = sum(r["errors"].values())
    done = max(r["sent"] - errors, 1)
    return (f"{rate:6.0f}/s  {path:9s} {r['sent']:6d} {errors:6d} {r['achieved']:8.0f}/s "
            f"{_ms(r.get('p50'))} {_ms(r.get('p99'))} {_ms(r.get('max'))} "
            f"{r['server_cpu'] / done * 1000:8.2f} {r['client_cpu'] / done * 1000:8.2f}")


def _per_request(r: dict[str, Any]) -> float:
    return float(r["server_cpu"]) / max(int(r["ok"]), 1)


def summarize(rate: float, runs: list[tuple[dict[str, Any], dict[str, Any]]],
              workers: int) -> None:
    """Medians over the repeats, the best p99 (the least disturbed run), ratios."""
    complete = [(v, b) for v, b in runs if "p99" in v and "p99" in b]
    if not complete:
        return
    med = {key: (statistics.median(v[key] for v, _ in complete),
                 statistics.median(b[key] for _, b in complete)) for key in ("p50", "p99")}
    best = min(v["p99"] for v, _ in complete)
    cpu = (statistics.median(_per_request(v) for v, _ in complete),
           statistics.median(_per_request(b) for _, b in complete))
    print(f"          median of {len(complete)}: /validate p50 {med['p50'][0] * 1000:.2f} ms, "
          f"p99 {med['p99'][0] * 1000:.2f} ms (best {best * 1000:.2f} ms); ratio over "
          f"/healthz p50 {med['p50'][0] / med['p50'][1]:.1f}x, p99 "
          f"{med['p99'][0] / med['p99'][1]:.1f}x")
    print(f"          server CPU per request: /validate {cpu[0] * 1000:.2f} ms, /healthz "
          f"{cpu[1] * 1000:.2f} ms ({cpu[0] / cpu[1]:.1f}x); CPU-bound ceiling of {workers} "
          f"workers on {workers} idle cores ~{workers / cpu[0]:,.0f} req/s")
    if rate == 200:
        errors = any(v["errors"] for v, _ in runs)
        verdict = "met" if med["p99"][0] < 0.010 and not errors else "MISSED"
        print(f"          target p99 < 10 ms at 200 req/s: {verdict} (median p99)")


def sustained(r: dict[str, Any], rate: float) -> bool:
    return (not r["errors"] and r["achieved"] >= 0.95 * rate
            and r.get("p99", SUSTAINED_P99) < SUSTAINED_P99)


def compare_policies(tmp: Path, tls: tuple[Path, Path, Path], bodies: Path,
                     args: argparse.Namespace, rate: float) -> None:
    """/validate at ``rate`` of two servers side by side, one judging with the
    policies of ``args.policy`` too (issue #12: p99 with 20 policies beside the
    same run without them), interleaved ``args.repeat`` times."""
    ca, cert, key = tls
    ports = free_port(), free_port()
    plain = start_server(tmp, cert, key, ca, ports[0], args.workers)
    judged = start_server(tmp, cert, key, ca, ports[1], args.workers,
                          ("--policy", args.policy))
    try:
        for port, server in zip(ports, (plain, judged), strict=True):
            drive(port, ca, bodies, "/validate", 100, 2, server.pid)  # warm-up
        print(f"\nopen loop at {rate:.0f} req/s, /validate, without and with --policy "
              f"{args.policy} (ms)")
        print(HEADER)
        p99: dict[str, list[float]] = {"without": [], "with": []}
        for _ in range(args.repeat):
            for label, port, server in (("without", ports[0], plain),
                                        ("with", ports[1], judged)):
                r = drive(port, ca, bodies, "/validate", rate, args.duration, server.pid)
                print(_row(rate, f"/validate {label}", r))
                if "p99" in r:
                    p99[label].append(r["p99"])
        for label, values in p99.items():
            if values:
                print(f"p99 {label:<8} policies: median {_ms(statistics.median(values))} ms, "
                      f"best {_ms(min(values))} ms")
    finally:
        stop_server(plain)
        stop_server(judged)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "drive":
        drive_main(sys.argv[2:])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--limit", type=int, default=500, help="Deployments to build reviews from")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per fixed-rate run")
    ap.add_argument("--rates", default="200,1000")
    ap.add_argument("--repeat", type=int, default=3, help="fixed-rate runs per rate")
    ap.add_argument("--steps", default="400,600,800,1000,1200,1500,2000,3000")
    ap.add_argument("--step-duration", type=float, default=5.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-wrk", action="store_true")
    ap.add_argument("--policy", default=None,
                    help="a folder of policies: compare /validate at the first rate of a "
                         "server with --policy DIR against one without, then stop")
    args = ap.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    steps = [float(r) for r in args.steps.split(",")]

    reviews = admission_reviews(Path(args.corpus), args.limit)
    if not reviews:
        sys.exit(f"no Deployments found in {args.corpus}")
    with tempfile.TemporaryDirectory(prefix="kp-webhook-bench-") as tmp_name:
        tmp = Path(tmp_name)
        bodies = tmp / "bodies.jsonl"
        bodies.write_bytes(b"\n".join(reviews) + b"\n")
        ca, cert, key = make_certs(tmp)
        port = free_port()
        mean_kib = statistics.mean(len(b) for b in reviews) / 1024
        print(f"workload: {len(reviews)} AdmissionReviews (CREATE Deployment) from the corpus, "
              f"mean body {mean_kib:.1f} KiB")
        print(f"machine : {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} "
              "at the start (other work on the machine shows in both columns)")
        if args.policy:
            compare_policies(tmp, (ca, cert, key), bodies, args, rates[0])
            return
        server = start_server(tmp, cert, key, ca, port, args.workers)
        try:
            print(f"server  : kubeproof webhook serve --workers {args.workers}, TLS, "
                  f"127.0.0.1:{port}, default config")
            drive(port, ca, bodies, "/validate", 100, 2, server.pid)  # warm-up: imports, caches
            drive(port, ca, bodies, "/healthz", 100, 1, server.pid)
            print("\nopen loop, separate process, latency from the scheduled send time (ms)")
            print(HEADER)
            for rate in rates:
                runs = []
                for _ in range(args.repeat):  # interleaved: both see the same noise
                    val = drive(port, ca, bodies, "/validate", rate, args.duration, server.pid)
                    base = drive(port, ca, bodies, "/healthz", rate, args.duration, server.pid)
                    print(_row(rate, "/validate", val))
                    print(_row(rate, "/healthz", base))
                    runs.append((val, base))
                if rate == rates[0]:
                    mut = drive(port, ca, bodies, "/mutate", rate, args.duration, server.pid)
                    print(_row(rate, "/mutate", mut))
                summarize(rate, runs, args.workers)

            print(f"\nhighest sustained rate, open-loop steps of {args.step_duration:.0f} s "
                  f"(no error, kept up within 5%, p99 < {SUSTAINED_P99:.0f} s)")
            best = {"/validate": 0.0, "/healthz": 0.0}
            for path in best:
                for rate in steps:
                    r = drive(port, ca, bodies, path, rate, args.step_duration, server.pid)
                    print(_row(rate, path, r))
                    if not sustained(r, rate):
                        break
                    best[path] = rate
            print(f"          sustained: /validate {best['/validate']:.0f} req/s, /healthz "
                  f"{best['/healthz']:.0f} req/s (steps {args.steps})")
            wrk_rps = 0.0

            if not args.no_wrk and shutil.which("wrk"):
                script = tmp / "post.lua"
                script.write_text(WRK_SCRIPT)
                cpu = cpu_seconds(server.pid)
                val_rps, val_err = wrk(port, "/validate", script, bodies, 10)
                val_cpu = (cpu_seconds(server.pid) - cpu) / max(val_rps * 10, 1)
                cpu = cpu_seconds(server.pid)
                base_rps, base_err = wrk(port, "/healthz", None, bodies, 10)
                base_cpu = (cpu_seconds(server.pid) - cpu) / max(base_rps * 10, 1)
                print("\nwrk closed loop (-t2 -c50 -d10s): "
                      f"/validate {val_rps:,.0f} req/s ({val_err} failed), "
                      f"/healthz {base_rps:,.0f} req/s ({base_err} failed); "
                      f"ratio healthz/validate {base_rps / max(val_rps, 1):.1f}x; server CPU per "
                      f"request {val_cpu * 1000:.2f} ms and {base_cpu * 1000:.2f} ms")
                wrk_rps = val_rps if val_err == 0 else 0.0
            rate_ok = max(best["/validate"], wrk_rps) >= 1000
            print(f"\ntarget >= 1000 req/s sustained without errors: "
                  f"{'met' if rate_ok else 'MISSED'} (wrk closed loop {wrk_rps:,.0f} req/s "
                  f"without errors; open loop within the latency bound "
                  f"{best['/validate']:.0f} req/s)")
        finally:
            stop_server(server)


if __name__ == "__main__":
    main()
