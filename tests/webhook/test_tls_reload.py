"""Certificate rotation: new handshakes get the new certificate without a restart,
in every worker, with and without SNI; a half-written pair keeps the old one."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

from cryptography import x509

from kubeproof.webhook.certs import make_serving_cert
from tests.support.webhook import Webhook, good_deployment, review, wait_for


def served_serial(hook: Webhook, server_name: str) -> int:
    """The serial of the certificate a fresh TLS handshake presents."""
    ctx = hook.pki.context()
    with socket.create_connection(("127.0.0.1", hook.port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname=server_name) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def serial_of(pem: bytes) -> int:
    return x509.load_pem_x509_certificate(pem).serial_number


def all_serve(hook: Webhook, serial: int) -> bool:
    # ten handshakes reach both workers; "127.0.0.1" sends no SNI, "localhost" does
    return all(served_serial(hook, name) == serial
               for _ in range(5) for name in ("localhost", "127.0.0.1"))


def test_rotated_certificate_is_served_without_restart(hook: Webhook) -> None:
    pid = hook.proc.pid
    old = serial_of(Path(hook.pki.cert_file).read_bytes())
    assert all_serve(hook, old)
    new = serial_of(hook.pki.issue().cert_pem)
    assert new != old
    wait_for(lambda: all_serve(hook, new), timeout=5)
    assert hook.proc.pid == pid and hook.proc.poll() is None
    status, text = hook.curl("/healthz")
    assert (status, text) == (200, "ok")
    client = hook.client()
    assert client.post("/validate", json=review(good_deployment())).status_code == 200


def test_mismatched_pair_keeps_the_previous_certificate(hook: Webhook) -> None:
    current = serial_of(Path(hook.pki.cert_file).read_bytes())
    pair = make_serving_cert(hook.pki.ca, ["localhost"], ["127.0.0.1"])
    Path(hook.pki.cert_file).write_bytes(pair.cert_pem)  # key not yet written
    assert all_serve(hook, current)
    Path(hook.pki.key_file).write_bytes(pair.key_pem)
    wait_for(lambda: all_serve(hook, serial_of(pair.cert_pem)), timeout=5)
    assert "still serving the previous one" in hook.stderr.read_text()


def test_tls_only(hook: Webhook) -> None:
    with socket.create_connection(("127.0.0.1", hook.port), timeout=5) as raw:
        raw.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        raw.settimeout(5)
        try:
            answer = raw.recv(100)
        except (ConnectionResetError, TimeoutError):
            answer = b""
    assert not answer.startswith(b"HTTP/1.1 200")


def test_untrusted_ca_is_refused(hook: Webhook) -> None:
    ctx = ssl.create_default_context()  # system CAs only: not the test CA
    with socket.create_connection(("127.0.0.1", hook.port), timeout=5) as raw:
        try:
            ctx.wrap_socket(raw, server_hostname="localhost")
        except ssl.SSLCertVerificationError:
            return
    raise AssertionError("handshake with an untrusted CA succeeded")
