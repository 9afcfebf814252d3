"""Webhook test support: AdmissionReview samples, a real webhook server process, a
Splunk HEC receiver (the certificates are :mod:`tests.support.tls`).

AdmissionReview samples follow the request shown in the Kubernetes reference
(kube-apiserver Admission v1): uid, kind, resource, requestKind,
requestResource, name, namespace, operation, userInfo, object, oldObject,
dryRun, options.
"""

from __future__ import annotations

import contextlib
import copy
import json
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.support.cli import environment, kp_command
from tests.support.paths import ROOT
from tests.support.tls import Pki
from tests.webhook.spin_server import DEADLINE_MS

GOOD_CONTAINER: dict[str, Any] = {
    "name": "app",
    "image": "registry.example.com/shop/web:1.4.2@sha256:" + "a" * 64,
    "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                        "seccompProfile": {"type": "RuntimeDefault"}},
    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                  "limits": {"memory": "256Mi"}},
    "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
    "livenessProbe": {"httpGet": {"path": "/live", "port": 8080}},
}


def good_deployment(name: str = "web", namespace: str = "shop") -> dict[str, Any]:
    """A Deployment with no findings under the default rules."""
    labels = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {"serviceAccountName": name,
                         "automountServiceAccountToken": False,
                         "containers": [copy.deepcopy(GOOD_CONTAINER)]},
            },
        },
    }


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj["spec"]["template"]["spec"] if "template" in obj.get("spec", {}) else obj["spec"]
    return spec["containers"]  # type: ignore[no-any-return]


GVK = {"Deployment": ("apps", "v1", "deployments"), "Pod": ("", "v1", "pods"),
       "StatefulSet": ("apps", "v1", "statefulsets"), "Job": ("batch", "v1", "jobs"),
       "CronJob": ("batch", "v1", "cronjobs"), "Service": ("", "v1", "services"),
       "Ingress": ("networking.k8s.io", "v1", "ingresses"),
       "ReplicaSet": ("apps", "v1", "replicasets"), "Secret": ("", "v1", "secrets"),
       "ConfigMap": ("", "v1", "configmaps"), "PodExecOptions": ("", "v1", "pods"),
       "ClusterRole": ("rbac.authorization.k8s.io", "v1", "clusterroles")}
OPTIONS = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions",
           "CONNECT": None}


def review(obj: dict[str, Any] | None, operation: str = "CREATE", *,
           old: dict[str, Any] | None = None, dry_run: bool = False,
           namespace: str | None = None, kind: str | None = None,
           uid: str | None = None, user: str = "jane@example.com") -> dict[str, Any]:
    """An AdmissionReview request as the API server sends it."""
    source = obj if obj is not None else old
    assert source is not None or kind is not None
    kind = kind or source["kind"]  # type: ignore[index]
    group, version, resource = GVK[kind]
    meta = (source or {}).get("metadata", {})
    ns = namespace if namespace is not None else meta.get("namespace", "")
    gvk = {"group": group, "version": version, "kind": kind}
    gvr = {"group": group, "version": version, "resource": resource}
    options = OPTIONS[operation]
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid or str(uuid.uuid4()),
            "kind": gvk, "resource": gvr,
            "requestKind": gvk, "requestResource": gvr,
            "name": meta.get("name", ""),
            "namespace": ns,
            "operation": operation,
            "userInfo": {"username": user, "uid": "014fbff9a07c",
                         "groups": ["system:authenticated", "shop-devs"],
                         "extra": {"some-key": ["some-value1", "some-value2"]}},
            "object": obj,
            "oldObject": old,
            "dryRun": dry_run,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": options} if options else None,
        },
    }


# ---------------------------------------------------------------- ports

def terminate(proc: subprocess.Popen[bytes], grace: float) -> None:
    """Stop a server process as Kubernetes does: SIGTERM, ``grace`` seconds, SIGKILL."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- the server

@dataclass
class Webhook:
    """``kubeproof webhook serve`` in a real subprocess, over real TLS."""

    pki: Pki
    port: int
    proc: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    def client(self) -> httpx.Client:
        """A new client (new connections); ``post`` reuses one."""
        client = httpx.Client(base_url=self.url, verify=self.pki.context(), timeout=10)
        self.clients.append(client)
        return client

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if not self.clients:
            self.client()
        resp = self.clients[0].post(path, json=body)
        assert resp.status_code == 200, resp.text
        return resp.json()["response"]  # type: ignore[no-any-return]

    def curl(self, path: str, data: bytes | None = None, *extra: str) -> tuple[int, str]:
        """(HTTP status, body) from the real curl, trusting only the test CA."""
        args = ["curl", "-sS", "--cacert", self.pki.ca_file, "-o", "-",
                "-w", "\n%{http_code}", *extra]
        if data is not None:
            args += ["-H", "Content-Type: application/json", "--data-binary", "@-"]
        proc = subprocess.run([*args, self.url + path], input=data, capture_output=True,
                              timeout=20, check=False)
        assert proc.returncode == 0, proc.stderr.decode()
        body, _, code = proc.stdout.decode().rpartition("\n")
        return int(code), body

    def stop(self) -> None:
        for c in self.clients:
            c.close()
        terminate(self.proc, 15)


def start_webhook(pki: Pki, workdir: Path, config: str | None, *args: str,
                  env: dict[str, str] | None = None) -> Webhook:
    port = free_port()
    cmd = kp_command("webhook", "serve", "--tls-cert", pki.cert_file,
                     "--tls-key", pki.key_file, "--host", "127.0.0.1", "--port", str(port), *args)
    if config is None:
        cmd.append("--no-config")
    else:
        (workdir / "kubeproof.yaml").write_text(config)
        cmd += ["--config", str(workdir / "kubeproof.yaml")]
    stdout, stderr = workdir / "stdout.log", workdir / "stderr.log"
    full_env = environment({"PROMETHEUS_MULTIPROC_DIR": None, **(env or {})})
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=ROOT, env=full_env)
    hook = Webhook(pki, port, proc, stdout, stderr)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"webhook exited {proc.returncode}: {stderr.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{hook.url}/readyz", verify=pki.context(), timeout=2
                         ).status_code == 200:
                return hook
        time.sleep(0.1)
    hook.stop()
    raise AssertionError(f"webhook did not get ready: {stderr.read_text()}")


# ---------------------------------------------------------------- a Splunk HEC receiver

class HecReceiver:
    """A small real HTTP server that takes Splunk HEC posts (``/services/collector``)."""

    def __init__(self, delay: float = 0.0, status: int = 200) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.delay = delay
        self.status = status
        self.release = threading.Event()  # clear it to hold every POST until set
        self.release.set()
        self.arrived = threading.Event()  # set when a POST has come in
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.arrived.set()
                receiver.release.wait(10)
                time.sleep(receiver.delay)
                receiver.posts.append((dict(self.headers.items()), body))
                out = b'{"text":"Success","code":0}'
                self.send_response(receiver.status)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/services/collector"

    def events(self) -> list[dict[str, Any]]:
        """Every HEC object received (bodies are concatenated JSON objects)."""
        out: list[dict[str, Any]] = []
        decoder = json.JSONDecoder()
        for _, body in self.posts:
            text = body.decode()
            pos = 0
            while pos < len(text):
                obj, pos = decoder.raw_decode(text, pos)
                out.append(obj)
                while pos < len(text) and text[pos].isspace():
                    pos += 1
        return out

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@contextlib.contextmanager
def running(hook: Webhook) -> Iterator[Webhook]:
    try:
        yield hook
    finally:
        hook.stop()


def audit_event(path: Path, uid: str, timeout: float = 10.0) -> dict[str, Any]:
    """The audit event of request ``uid`` once the sink has written it."""
    found: list[dict[str, Any]] = []

    def present() -> bool:
        if path.exists():
            found[:] = [e for e in map(json.loads, path.read_text().splitlines())
                        if e["uid"] == uid]
        return bool(found)

    wait_for(present, timeout)
    assert len(found) == 1, found
    return found[0]


# ---------------------------------------------------------------- spinning server

DEADLINE = DEADLINE_MS / 1000


class SpinServer:
    def __init__(self, pki: Pki, workdir: Path, *extra: str) -> None:
        self.pki = pki
        self.port = free_port()
        self.stderr = workdir / f"stderr-{self.port}.log"
        with open(self.stderr, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.webhook.spin_server", pki.cert_file,
                 pki.key_file, str(self.port), *extra], stdout=err, stderr=err, cwd=ROOT)
        self.client = httpx.Client(base_url=f"https://localhost:{self.port}",
                                   verify=pki.context(), timeout=10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.stderr.read_text()
            with contextlib.suppress(httpx.HTTPError):
                if self.client.get("/readyz").status_code == 200:
                    return
            time.sleep(0.1)
        raise AssertionError(f"not ready: {self.stderr.read_text()}")

    def validate(self, annotations: dict[str, str] | None = None) -> tuple[dict[str, Any], float]:
        dep = good_deployment()
        dep["metadata"]["annotations"] = annotations or {}
        started = time.monotonic()
        with httpx.Client(base_url=f"https://localhost:{self.port}",
                          verify=self.pki.context(), timeout=10) as client:
            resp = client.post("/validate", json=review(dep))
        assert resp.status_code == 200, resp.text
        return resp.json()["response"], time.monotonic() - started

    def tls_socket(self) -> ssl.SSLSocket:
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return self.pki.context().wrap_socket(raw, server_hostname="localhost")

    def children(self) -> list[int]:
        """The judge processes (reaped ones excepted)."""
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        pids = [int(p) for p in path.read_text().split()] if path.exists() else []
        return [p for p in pids if not is_zombie(p)]

    def stop(self) -> None:
        self.client.close()
        terminate(self.proc, 10)


def is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


HEC_TOKEN = "9f3c2b1a-hec-token-not-for-logs"  # the strict webhook's $KUBEPROOF_HEC_TOKEN
