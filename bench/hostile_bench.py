"""Worst-case benchmark: the slowest and largest inputs we can construct, beside typical ones.

Issue #9 asks for worst-case figures: the slowest single input for ``scan``
(time per MiB), the server time of one webhook request at 3 MiB, and the max
RSS at the documented object limit. Each hostile input is built here, at the
same size as a typical one, and run in the same process of this script one
after the other, so every figure has its baseline beside it: read the ratio
column, not the seconds (the machine is shared and noisy).

scan: ``kubeproof scan FILE -f json -o /dev/null -j 1`` as a subprocess with a
time limit; wall time, exit code and the child's max RSS (``os.wait4``). The
baseline is a file of the same size made of realistic manifests (the
``examples/`` objects under distinct names).

webhook: the real server (``kubeproof webhook serve --workers 1`` over TLS on
127.0.0.1, helpers of ``webhook_bench.py``); each body (just under the 3 MiB
limit) is POSTed once to ``/validate`` and ``/mutate``; the figure is the time to
the answer and the server's CPU time for it. The baseline is a 3 MiB review of a
benign ConfigMap (plain text data).

Usage: python bench/hostile_bench.py [--mib 1] [--timeout 120] [--only NAME,...] [--no-webhook]
       [--no-scan]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

MiB = 1024 * 1024
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def _fill(unit: Callable[[int], str], size: int) -> str:
    parts: list[str] = []
    total, i = 0, 0
    while total < size:
        part = unit(i)
        parts.append(part)
        total += len(part.encode())
        i += 1
    return "".join(parts)


def _typical_docs() -> list[str]:
    docs: list[str] = []
    for path in sorted((ROOT / "examples").rglob("*.yaml")):
        docs += [d for d in path.read_text().split("\n---\n") if d.strip()]
    return docs


def typical(size: int) -> str:
    docs = _typical_docs()

    def unit(i: int) -> str:
        doc = docs[i % len(docs)]
        return "---\n" + doc.replace("name: web", f"name: web-{i}", 1).strip() + "\n"

    return _fill(unit, size)


def tiny_documents(size: int) -> str:
    return _fill(lambda i: f"---\na: {i}\n", size)


def broken_documents(size: int) -> str:
    return _fill(lambda i: '---\ndata: {a: "\x0c"}\n', size)


def deep_flow_nesting(size: int) -> str:
    depth = size // 2
    return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: " + "[" * depth + \
        "]" * depth + "\n"


def brackets_in_strings(size: int) -> str:
    value = "[- " * (size // 3)
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\ndata:\n  a: '{value}'\n"


def repetitive_secret_text(size: int) -> str:
    value = "key=" * (size // 4)
    return ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n"
            f"  app.properties: '{value}'\n")


def env_var_flood(size: int) -> str:
    head = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x, namespace: a}\n"
            "spec:\n  selector: {matchLabels: {app: x}}\n  template:\n"
            "    metadata: {labels: {app: x}}\n    spec:\n      containers:\n"
            "      - name: c\n        image: nginx:1.25\n        env:\n")
    return head + _fill(lambda i: f"        - {{name: DB_PASSWORD_{i}, value: 'p@ss{i}w0rd'}}\n",
                        size - len(head))


def many_containers_huge_quantities(size: int) -> str:
    head = ("apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: a}\nspec:\n"
            "  containers:\n")
    return head + _fill(lambda i: f"  - name: c{i}\n    image: nginx:1.25\n    resources:\n"
                                  f"      requests: {{memory: '1e9999999999', cpu: '1e400'}}\n",
                        size - len(head))


def alias_fanout(size: int) -> str:
    # Each level doubles the expanded size: well past the loader's expansion budget.
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: x}", "data:",
             "  a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 40):
        lines.append(f"  a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]")
    text = "\n".join(lines) + "\n"
    return text + _fill(lambda i: f"# padding {i}\n", size - len(text))


def long_label_value(size: int) -> str:
    return ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels:\n"
            f"    app: '{'a' * size}'\n")


def odd_keys(size: int) -> str:
    return _fill(lambda i: f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\n"
                           f"  labels: {{~: x, 1: y, [a]: z}}\n", size)


SCAN_INPUTS: dict[str, Callable[[int], str]] = {
    "typical (baseline)": typical,
    "tiny-documents": tiny_documents,
    "broken-documents": broken_documents,
    "deep-flow-nesting": deep_flow_nesting,
    "brackets-in-strings": brackets_in_strings,
    "repetitive-secret-text": repetitive_secret_text,
    "env-var-flood": env_var_flood,
    "huge-quantities": many_containers_huge_quantities,
    "alias-fanout": alias_fanout,
    "long-label-value": long_label_value,
    "odd-mapping-keys": odd_keys,
}


def run_scan(path: Path, timeout: float) -> tuple[float, int | None, int]:
    """Wall seconds, exit code (None: killed at the time limit), max RSS in KiB."""
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubeproof", "scan", str(path), "-f", "json", "-o", os.devnull,
         "-j", "1", "--no-config", "--fail-on", "none"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    code: int | None = None
    rss = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            code = os.waitstatus_to_exitcode(status)
            rss = usage.ru_maxrss
            proc.returncode = code
            break
        if time.monotonic() - start > timeout:
            proc.send_signal(signal.SIGKILL)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = -9
            rss = usage.ru_maxrss
            break
        time.sleep(0.01)
    return time.monotonic() - start, code, rss


def bench_scan(mib: float, timeout: float, only: set[str] | None) -> None:
    size = int(mib * MiB)
    print(f"scan, one file of ~{mib:g} MiB each (limit {timeout:g} s)\n")
    print(f"{'input':26} {'MiB':>6} {'exit':>5} {'s':>8} {'s/MiB':>8} {'x base':>7} "
          f"{'RSS MiB':>8}")
    base: float | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in SCAN_INPUTS.items():
            if only and name not in only and base is not None:
                continue
            path = Path(tmp) / f"{name.split()[0]}.yaml"
            path.write_text(make(size), encoding="utf-8")
            real = path.stat().st_size / MiB
            wall, code, rss = run_scan(path, timeout)
            per = wall / real
            if base is None:
                base = per
            shown = "kill" if code is None else str(code)
            print(f"{name:26} {real:6.2f} {shown:>5} {wall:8.2f} {per:8.2f} "
                  f"{per / base:7.1f} {rss / 1024:8.0f}")


# ---------------------------------------------------------------- webhook

def _review(obj: dict[str, Any], resource: str, group: str = "") -> bytes:
    gvk = {"group": group, "version": "v1", "kind": obj["kind"]}
    gvr = {"group": group, "version": "v1", "resource": resource}
    return json.dumps({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": str(uuid.uuid4()), "kind": gvk, "resource": gvr,
                    "requestKind": gvk, "requestResource": gvr,
                    "name": obj["metadata"]["name"], "namespace": "a", "operation": "CREATE",
                    "userInfo": {"username": "bench"}, "object": obj, "oldObject": None,
                    "dryRun": False},
    }, separators=(",", ":")).encode()


def _under_limit(make: Callable[[int], bytes], limit: int) -> bytes:
    """The largest body ``make(n)`` gives under ``limit`` bytes (a few halvings)."""
    n = limit
    body = make(n)
    while len(body) > limit:
        n = int(n * limit / len(body) * 0.98)
        body = make(n)
    return body


def _configmap(text: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "x", "namespace": "a"}, "data": {"app.properties": text}}


def _deployment_from_yaml(text: str) -> dict[str, Any]:
    obj = yaml.safe_load(text)
    assert isinstance(obj, dict)
    return obj


WEBHOOK_INPUTS: dict[str, tuple[Callable[[int], bytes], str]] = {
    "benign configmap (baseline)": (lambda n: _review(_configmap(
        "\n".join(f"line {i} of a plain configuration file" for i in range(n // 36))),
        "configmaps"), ""),
    "repetitive secret text": (lambda n: _review(_configmap("key=" * (n // 4)), "configmaps"),
                               ""),
    "secret-like words": (lambda n: _review(_configmap("password=token=secret=" * (n // 22)),
                                            "configmaps"), ""),
    "env var flood": (lambda n: _review(_deployment_from_yaml(env_var_flood(n // 3)),
                                        "deployments", "apps"), "apps"),
    "huge quantities": (lambda n: _review(_deployment_from_yaml(
        many_containers_huge_quantities(n // 2)), "pods"), ""),
}


def _post(port: int, ca: Path, path: str, body: bytes | None, timeout: float
          ) -> tuple[float, str]:
    import http.client

    ctx = ssl.create_default_context(cafile=str(ca))
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=timeout)
    start = time.monotonic()
    try:
        if body is None:
            conn.request("GET", path)
        else:
            conn.request("POST", path, body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        status = str(resp.status)
        if resp.status == 200 and body is not None:
            allowed = json.loads(data).get("response", {}).get("allowed")
            status += " allowed" if allowed else " denied"
    except OSError as exc:
        status = type(exc).__name__
    finally:
        conn.close()
    return time.monotonic() - start, status


def bench_webhook(timeout: float) -> None:
    from webhook_bench import cpu_seconds, free_port, make_certs, start_server, stop_server

    from kubeproof.webhook.admission import MAX_BODY_BYTES

    print(f"\nwebhook, one request each, body just under {MAX_BODY_BYTES / MiB:g} MiB\n")
    print(f"{'input':30} {'endpoint':9} {'MiB':>5} {'answer':>12} {'s':>7} {'cpu s':>7} "
          f"{'x base':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        ca, cert, key = make_certs(Path(tmp))
        port = free_port()
        proc = start_server(Path(tmp), cert, key, ca, port, workers=1)
        try:
            base: dict[str, float] = {}
            for name, (make, _group) in WEBHOOK_INPUTS.items():
                body = _under_limit(make, MAX_BODY_BYTES - 1024)
                for endpoint in ("/validate", "/mutate"):
                    cpu0 = cpu_seconds(proc.pid)
                    wall, status = _post(port, ca, endpoint, body, timeout)
                    cpu = cpu_seconds(proc.pid) - cpu0
                    base.setdefault(endpoint, max(wall, 1e-6))
                    print(f"{name:30} {endpoint:9} {len(body) / MiB:5.2f} {status:>12} "
                          f"{wall:7.2f} {cpu:7.2f} {wall / base[endpoint]:7.1f}")
            wall, status = _post(port, ca, "/healthz", None, 10)
            print(f"\n/healthz afterwards: {status.split()[0]} in {wall * 1000:.0f} ms")
        finally:
            stop_server(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--only", default="", help="comma-separated scan input names")
    parser.add_argument("--no-webhook", action="store_true")
    parser.add_argument("--no-scan", action="store_true")
    args = parser.parse_args()
    only = {n.strip() for n in args.only.split(",") if n.strip()} or None
    if not args.no_scan:
        bench_scan(args.mib, args.timeout, only)
    if not args.no_webhook:
        bench_webhook(args.timeout)


if __name__ == "__main__":
    main()
