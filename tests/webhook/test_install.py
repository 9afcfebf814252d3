"""``kubeproof webhook install``: its output deploys a webhook that kubeproof
itself finds nothing wrong with, that real kubectl decodes, and whose TLS
material a real TLS client accepts."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import ssl
import stat
import subprocess
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.support.cli import environment, kp, kp_command
from tests.support.webhook import ROOT, free_port, review

KUBECTL = "kubectl"
SERVICE_DNS = "kubeproof-webhook.kubeproof.svc"


# an image the user built and pushed (no kubeproof image is published yet)
IMAGE = "registry.example.com/platform/kubeproof:0.9.0@sha256:" + "5e" * 32


def install(*args: str, image: str | None = IMAGE) -> subprocess.CompletedProcess[str]:
    """``webhook install``; ``--image IMAGE`` unless ``args`` name one or ``image`` is None."""
    given = ["--image", image] if image is not None and "--image" not in args else []
    return kp("webhook", "install", *given, *args, timeout=60)


scan = partial(kp, "scan")


def docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, kind
    return found[0]


@pytest.fixture(scope="module")
def default_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("install") / "webhook.yaml"
    proc = install("--output", str(path))
    assert proc.returncode == 0, proc.stderr
    return path


@pytest.fixture(scope="module")
def cert_manager_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("install") / "webhook-cm.yaml"
    proc = install("--cert-manager", "--output", str(path))
    assert proc.returncode == 0, proc.stderr
    return path


def findings(path: Path, *extra: str) -> list[dict[str, Any]]:
    proc = scan(str(path), "--format", "json", "--fail-on", "info", *extra)
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    assert (proc.returncode == 0) == (report["findings"] == [])  # --fail-on info
    return list(report["findings"])


def test_default_output_scans_clean_at_every_severity(default_out: Path) -> None:
    assert findings(default_out, "--no-config") == []


def test_cert_manager_output_scans_clean(cert_manager_out: Path) -> None:
    assert findings(cert_manager_out, "--no-config") == []


def test_the_two_exemptions_are_the_only_suppressed_findings(default_out: Path,
                                                            tmp_path: Path) -> None:
    """Without annotation exemptions exactly KP1004 (the key, on the Secret) and
    KP1602 (mutation fails open; in the default audit mode validation too, as
    it denies nothing) fire, and neither prints a secret value."""
    config = tmp_path / "no-annotations.yaml"
    config.write_text("exemptions:\n  allowAnnotations: false\n")
    got = findings(default_out, "--config", str(config))
    assert sorted((f["code"], f["object"]["kind"]) for f in got) == [
        ("KP1004", "Secret"), ("KP1602", "MutatingWebhookConfiguration"),
        ("KP1602", "ValidatingWebhookConfiguration"),
        ("KP1602", "ValidatingWebhookConfiguration")]
    secret = one(docs(default_out.read_text()), "Secret")
    key_pem = base64.b64decode(secret["data"]["tls.key"]).decode()
    key_body = "".join(key_pem.splitlines()[1:-1])
    formats = ("text", "json", "sarif", "junit")
    reports = [tmp_path / f"report.{fmt}" for fmt in formats]
    proc = scan(str(default_out), "--config", str(config), "--fail-on", "none",
                *[a for fmt, path in zip(formats, reports, strict=True)
                  for a in ("--format", fmt, "--output", str(path))])
    assert proc.returncode == 0, proc.stderr
    for text in [proc.stdout + proc.stderr, *(p.read_text() for p in reports)]:
        assert secret["data"]["tls.key"] not in text and key_body[:40] not in text
    assert all("KP1004" in p.read_text() for p in reports)


def test_ca_bundle_verifies_the_serving_cert_over_real_tls(default_out: Path,
                                                          tmp_path: Path) -> None:
    objects = docs(default_out.read_text())
    secret = one(objects, "Secret")
    assert secret["type"] == "kubernetes.io/tls"
    cert_pem = base64.b64decode(secret["data"]["tls.crt"])
    key_pem = base64.b64decode(secret["data"]["tls.key"])
    for config in (one(objects, "ValidatingWebhookConfiguration"),
                   one(objects, "MutatingWebhookConfiguration")):
        for wh in config["webhooks"]:
            ca_pem = base64.b64decode(wh["clientConfig"]["caBundle"])
            assert ca_pem == base64.b64decode(secret["data"]["ca.crt"])
    ca = x509.load_pem_x509_certificate(ca_pem)
    cert = x509.load_pem_x509_certificate(cert_pem)
    cert.verify_directly_issued_by(ca)
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert key.public_key() == cert.public_key()
    # the CA's own key is not in the output
    assert b"PRIVATE KEY" not in base64.b64decode(secret["data"]["ca.crt"])
    (tmp_path / "tls.crt").write_bytes(cert_pem)
    (tmp_path / "tls.key").write_bytes(key_pem)
    assert _handshake(tmp_path, ca_pem, SERVICE_DNS) == b"ok"


def _handshake(tls_dir: Path, ca_pem: bytes, server_name: str) -> bytes:
    """Serve the Secret's certificate on loopback and connect as the API server
    does: trusting only caBundle and checking the Service's DNS name."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tls_dir / "tls.crt", tls_dir / "tls.key")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"ok")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client_ctx = ssl.create_default_context(cadata=ca_pem.decode())
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                client_ctx.wrap_socket(raw, server_hostname=server_name) as tls:
            data = tls.recv(2)
    finally:
        thread.join(timeout=10)
        listener.close()
    return data


def test_cert_manager_output_has_no_key_and_injects_the_ca(cert_manager_out: Path) -> None:
    text = cert_manager_out.read_text()
    objects = docs(text)
    assert not [o for o in objects if o["kind"] == "Secret"]
    assert "PRIVATE KEY" not in text and "caBundle" not in text
    cert = one(objects, "Certificate")
    issuer = one(objects, "Issuer")
    assert cert["spec"]["issuerRef"]["name"] == issuer["metadata"]["name"]
    assert "kubeproof-webhook.kubeproof.svc" in cert["spec"]["dnsNames"]
    volume = one(objects, "Deployment")["spec"]["template"]["spec"]["volumes"][0]
    assert volume["secret"]["secretName"] == cert["spec"]["secretName"]
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        annotations = one(objects, kind)["metadata"]["annotations"]
        assert annotations["cert-manager.io/inject-ca-from"] == "kubeproof/kubeproof-webhook"
    assert os.stat(cert_manager_out).st_mode & 0o077 == 0o044  # no key: world-readable


def test_webhook_configurations(default_out: Path) -> None:
    objects = docs(default_out.read_text())
    validating = one(objects, "ValidatingWebhookConfiguration")["webhooks"]
    mutating = one(objects, "MutatingWebhookConfiguration")["webhooks"]
    for wh in validating + mutating:
        assert wh["admissionReviewVersions"] == ["v1"]
        assert wh["sideEffects"] == "None" and wh["matchPolicy"] == "Equivalent"
        assert wh["timeoutSeconds"] == 10
        service = wh["clientConfig"]["service"]
        assert (service["name"], service["namespace"], service["port"]) == (
            "kubeproof-webhook", "kubeproof", 443)
    assert [wh["failurePolicy"] for wh in validating] == ["Ignore", "Ignore"]  # audit mode
    assert [wh["failurePolicy"] for wh in mutating] == ["Ignore"]
    assert {wh["clientConfig"]["service"]["path"] for wh in validating} == {"/validate"}
    assert mutating[0]["clientConfig"]["service"]["path"] == "/mutate"
    for wh in (validating[0], mutating[0]):
        assert wh["namespaceSelector"]["matchExpressions"] == [{
            "key": "kubernetes.io/metadata.name", "operator": "NotIn",
            "values": ["kube-system", "kubeproof"]}]
    resources = {r for rule in validating[0]["rules"] for r in rule["resources"]}
    assert {"pods", "deployments", "statefulsets", "daemonsets", "jobs", "cronjobs",
            "services", "networkpolicies", "roles", "rolebindings"} <= resources
    assert "secrets" not in resources
    from kubeproof.k8s.workloads import WORKLOAD_KINDS

    mutated = {r for rule in mutating[0]["rules"] for r in rule["resources"]}
    assert {f"{kind.lower()}s" for kind in WORKLOAD_KINDS} == mutated < resources
    assert {r for rule in validating[1]["rules"] for r in rule["resources"]} == {
        "clusterroles", "clusterrolebindings"}
    assert all(rule["scope"] == "Cluster" for rule in validating[1]["rules"])


def test_options_reach_every_object(tmp_path: Path) -> None:
    image = "registry.example.com/kubeproof:1.2.3@sha256:" + "ab" * 32
    proc = install("--namespace", "policy", "--image", image, "--replicas", "3",
                   "--failure-policy", "Ignore", "--mutate-failure-policy", "Fail",
                   "--workers", "4")
    assert proc.returncode == 0, proc.stderr
    objects = docs(proc.stdout)
    assert proc.stdout.startswith("# kubeproof admission webhook")
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] not in (
        "Namespace", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")} == {
        "policy"}
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == image
    assert container["args"][container["args"].index("--workers") + 1] == "4"
    validating = one(objects, "ValidatingWebhookConfiguration")
    assert {wh["failurePolicy"] for wh in validating["webhooks"]} == {"Ignore"}
    assert one(objects, "MutatingWebhookConfiguration")["webhooks"][0]["failurePolicy"] == "Fail"
    assert "policy" in validating["webhooks"][0]["namespaceSelector"]["matchExpressions"][0][
        "values"]
    cert = x509.load_pem_x509_certificate(
        base64.b64decode(one(objects, "Secret")["data"]["tls.crt"]))
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "kubeproof-webhook.policy.svc" in names.get_values_for_type(x509.DNSName)
    # the choice to fail open is the user's, and scan says so
    out = tmp_path / "ignore.yaml"
    out.write_text(proc.stdout)
    assert [(f["code"], f["object"]["kind"]) for f in findings(out, "--no-config")] == [
        ("KP1602", "ValidatingWebhookConfiguration")] * 2


def test_output_directory_gets_one_file_per_object(tmp_path: Path) -> None:
    proc = install("--output", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    files = sorted(tmp_path.iterdir())
    assert [docs(f.read_text())[0]["kind"] for f in files][:2] == ["Namespace",
                                                                   "ServiceAccount"]
    assert files[-1].name == "12-mutatingwebhookconfiguration-kubeproof-webhook.yaml"
    modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}
    assert modes.pop("05-secret-kubeproof-webhook-tls.yaml") == 0o600
    assert set(modes.values()) == {0o644}
    assert findings(tmp_path, "--no-config") == []


def test_bad_options_give_one_line_and_exit_2(tmp_path: Path) -> None:
    for args, text in ((("--namespace", "Bad_NS"), "--namespace"),
                       (("--image", "Nope:::"), "--image"),
                       (("--output", str(tmp_path / "missing" / "x.yaml")), "cannot write")):
        proc = install(*args)
        assert proc.returncode == 2
        assert "Traceback" not in proc.stderr
        assert proc.stderr.count("\n") == 1 and text in proc.stderr
    proc = install("--image", "ghcr.io/example/kubeproof:1.0")
    assert proc.returncode == 0 and "not pinned by digest" in proc.stderr


def test_without_image_it_is_a_usage_error_naming_what_to_do(tmp_path: Path) -> None:
    out = tmp_path / "webhook.yaml"
    proc = install("--output", str(out), image=None)
    assert proc.returncode == 2
    assert proc.stdout == "" and not out.exists()
    assert proc.stderr == ("kubeproof: error: --image is required: no kubeproof image is "
                           "published yet; build and push your own (docs/webhook-install.md) "
                           "and pass --image REGISTRY/kubeproof:TAG@sha256:DIGEST\n")


def test_no_made_up_image_anywhere(default_out: Path) -> None:
    """Every image in the output is the one the user named."""
    images = set(re.findall(r"image: (\S+)", default_out.read_text()))
    assert images == {IMAGE}
    assert "ghcr.io/kubeproof" not in default_out.read_text()


def test_default_is_audit_mode_that_denies_nothing(default_out: Path) -> None:
    objects = docs(default_out.read_text())
    config = yaml.safe_load(one(objects, "ConfigMap")["data"]["kubeproof.yaml"])["webhook"]
    assert set(config["modes"].values()) == {"audit"}
    assert config["failurePolicy"] == "allow"
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        assert {wh["failurePolicy"] for wh in one(objects, kind)["webhooks"]} == {"Ignore"}


@pytest.mark.parametrize(("mode", "step"), [
    ("audit", "Next step: re-run with --mode warn"),
    ("warn", "Next step: re-run with --mode enforce"),
])
def test_the_next_rollout_step_is_printed_on_stderr(mode: str, step: str) -> None:
    proc = install("--mode", mode)
    assert proc.returncode == 0
    assert step in proc.stderr and "nothing is denied" in proc.stderr
    assert step not in proc.stdout


def test_enforce_is_opt_in_and_fails_closed() -> None:
    proc = install("--mode", "enforce")
    assert proc.returncode == 0 and "Next step" not in proc.stderr
    objects = docs(proc.stdout)
    config = yaml.safe_load(one(objects, "ConfigMap")["data"]["kubeproof.yaml"])["webhook"]
    assert config["modes"]["critical"] == "enforce" and config["failurePolicy"] == "deny"
    validating = one(objects, "ValidatingWebhookConfiguration")
    assert {wh["failurePolicy"] for wh in validating["webhooks"]} == {"Fail"}
    assert "kubeproof.io/ignore" not in validating["metadata"].get("annotations", {})


def test_kubectl_decodes_every_object(default_out: Path, cert_manager_out: Path,
                                      tmp_path: Path) -> None:
    """Offline, real kubectl parses every document (``annotate --local``) and
    decodes each built-in kind into its typed API struct (``set image --local``
    converts every object before it looks for a pod template, and stops at a
    field of the wrong type). cert-manager's kinds are unknown to it, so that
    second check runs on the other objects."""
    for path in (default_out, cert_manager_out):
        ours = docs(path.read_text())
        proc = kubectl("annotate", "--local", "-f", str(path), "-o", "json",
                       "kubeproof.dev/checked=yes")
        assert proc.returncode == 0, proc.stderr
        theirs = _json_stream(proc.stdout)
        assert [(o["kind"], o["metadata"]["name"]) for o in theirs] == [
            (o["kind"], o["metadata"]["name"]) for o in ours]
        builtin = tmp_path / f"builtin-{path.name}"
        builtin.write_text(yaml.safe_dump_all(
            [o for o in ours if not o["apiVersion"].startswith("cert-manager.io/")]))
        proc = kubectl("set", "image", "--local", "-f", str(builtin), "-o", "json",
                       "webhook=registry.example.com/x:1")
        assert "unable to decode" not in proc.stderr
        not_pods = proc.stderr.count("the object is not a pod or does not have a pod template")
        assert not_pods == len(ours) - 1 - (2 if path == cert_manager_out else 0)
        assert json.loads(proc.stdout)["kind"] == "Deployment"
    broken = tmp_path / "broken.yaml"
    broken.write_text(default_out.read_text().replace("timeoutSeconds: 10",
                                                      "timeoutSeconds: ten"))
    proc = kubectl("set", "image", "--local", "-f", str(broken), "-o", "json", "webhook=x:1")
    assert "unable to decode" in proc.stderr and "timeoutSeconds" in proc.stderr


def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KUBECTL, *args], capture_output=True, text=True, timeout=60)


def _json_stream(text: str) -> list[dict[str, Any]]:
    decoder = json.JSONDecoder()
    out: list[dict[str, Any]] = []
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        obj, end = decoder.raw_decode(text, pos)
        out.append(obj)
        pos = end
    return out


def test_deployment_args_are_options_of_the_real_server(default_out: Path) -> None:
    proc = kp("webhook", "serve", "--help", timeout=60)
    assert proc.returncode == 0
    options = set(re.findall(r"(--[a-z][a-z-]+)", proc.stdout))
    container = one(docs(default_out.read_text()), "Deployment")[
        "spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:2] == ["webhook", "serve"]
    used = [a for a in container["args"] if a.startswith("--")]
    assert used and set(used) <= options
    assert {"--tls-cert", "--tls-key", "--port", "--config"} <= set(used)


@pytest.mark.parametrize("mode", ["enforce", "audit"])
def test_generated_deployment_starts_the_real_server(mode: str, tmp_path: Path) -> None:
    """Run the Deployment's own command line, with the Secret and ConfigMap laid
    out as the kubelet mounts them, and call it as the API server would: over
    TLS trusting only caBundle, by the Service's DNS name."""
    proc = install("--mode", mode, "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    objects = docs(proc.stdout)
    deployment = one(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    files = {"Secret": {k: base64.b64decode(v) for k, v in one(objects, "Secret")["data"].items()},
             "ConfigMap": {k: v.encode() for k, v in one(objects, "ConfigMap")["data"].items()}}
    args = list(container["args"])
    for name, mount in mounts.items():
        if "emptyDir" in volumes[name]:
            continue
        local = tmp_path / name
        local.mkdir()
        for key, data in files["Secret" if "secret" in volumes[name] else "ConfigMap"].items():
            (local / key).write_bytes(data)
        args = [a.replace(mount, str(local)) for a in args]
    port = free_port()
    args[args.index("--port") + 1] = str(port)
    server = subprocess.Popen(kp_command(*args, "--host", "127.0.0.1"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env=environment({"POD_NAMESPACE": "kubeproof"}), cwd=ROOT)
    ca_pem = base64.b64decode(one(objects, "ValidatingWebhookConfiguration")[
        "webhooks"][0]["clientConfig"]["caBundle"])
    ctx = ssl.create_default_context(cadata=ca_pem.decode())
    try:
        assert _wait_ready(port, ctx, server), server.stderr.read() if server.stderr else ""
        bad_pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "p", "namespace": "shop"},
                   "spec": {"containers": [{"name": "c", "image": "nginx",
                                            "securityContext": {"privileged": True}}]}}
        answer = _review(port, ctx, bad_pod)
        assert answer["response"]["allowed"] is (mode == "audit")
        own = {**bad_pod, "metadata": {"name": "p", "namespace": "kubeproof"}}
        assert _review(port, ctx, own)["response"]["allowed"] is True
    finally:
        server.terminate()
        server.wait(timeout=20)


def _https(port: int, ctx: ssl.SSLContext, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as raw, \
            ctx.wrap_socket(raw, server_hostname=SERVICE_DNS) as tls:
        tls.sendall(request)
        chunks = []
        while chunk := tls.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _wait_ready(port: int, ctx: ssl.SSLContext, server: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and server.poll() is None:
        try:
            reply = _https(port, ctx, b"GET /readyz HTTP/1.1\r\nHost: x\r\n"
                                      b"Connection: close\r\n\r\n")
            if reply.startswith(b"HTTP/1.1 200"):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def _review(port: int, ctx: ssl.SSLContext, obj: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(review(obj)).encode()
    reply = _https(port, ctx, b"POST /validate HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                              b"Content-Type: application/json\r\nContent-Length: "
                   + str(len(body)).encode() + b"\r\n\r\n" + body)
    head, _, payload = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return dict(json.loads(payload))
