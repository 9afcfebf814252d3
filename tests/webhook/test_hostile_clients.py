"""Hostile clients and a judgement that never ends, against real server processes
over real TLS (:mod:`tests.webhook.spin_server`): the server keeps answering,
closes what stalls, and stops promptly on SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.support.webhook import (
    DEADLINE,
    Pki,
    SpinServer,
    good_deployment,
    is_zombie,
    review,
    wait_for,
)
from tests.webhook.spin_server import HEADER_TIMEOUT


def _closed_by_server(sock: ssl.SSLSocket) -> bool:
    """True once the server closed the connection (EOF or reset)."""
    try:
        return sock.recv(1024) == b""
    except (ssl.SSLError, ConnectionError):
        return True
    except TimeoutError:
        return False


def test_a_spinning_judgement_is_killed_at_its_deadline(spinner: SpinServer) -> None:
    judges_before = spinner.children()
    answers: list[tuple[dict[str, Any], float]] = []

    def spin() -> None:
        answers.append(spinner.validate({"test/spin": "yes"}))

    # three at once: more than the judge processes, all stuck
    threads = [threading.Thread(target=spin) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    took = time.monotonic()
    assert spinner.client.get("/healthz").text == "ok"  # the event loop is free
    assert time.monotonic() - took < 1.0
    for t in threads:
        t.join(10)
    assert len(answers) == 3
    for resp, seconds in answers:
        assert seconds < DEADLINE + 1.0
        assert resp["allowed"] is False
        assert resp["status"]["message"] == ("kubeproof could not judge this request: it took "
                                             "longer than its deadline; denied by failurePolicy "
                                             "deny")
    # the stuck judges were killed and replaced: ready again, and judging
    wait_for(lambda: spinner.client.get("/readyz").status_code == 200, 5)
    wait_for(lambda: len(spinner.children()) == len(judges_before), 5)
    assert not set(judges_before) & set(spinner.children())
    assert spinner.validate()[0]["allowed"] is True
    assert "Traceback" not in spinner.stderr.read_text()


def test_sigterm_stops_the_server_while_a_judgement_spins(pki: Pki, tmp_path: Path) -> None:
    srv = SpinServer(pki, tmp_path)
    judges = srv.children()
    assert judges
    srv.client.close()  # no idle keep-alive connection: only the spinning request
    thread = threading.Thread(target=lambda: srv.validate({"test/spin": "yes"}), daemon=True)
    thread.start()
    time.sleep(0.2)
    srv.proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    srv.proc.wait(10)
    assert time.monotonic() - started < 3
    for pid in judges:  # no judge process outlives the server
        wait_for(lambda pid=pid: is_zombie(pid), 5)
    assert "Traceback" not in srv.stderr.read_text()


def test_stalled_clients_are_closed_and_others_still_served(spinner: SpinServer) -> None:
    silent = [spinner.tls_socket() for _ in range(20)]
    partial = []
    for i in range(40):
        sock = spinner.tls_socket()
        head = b"POST /validate HTTP/1.1\r\nHost: localhost\r\n" if i % 2 else b"POST /val"
        sock.sendall(head)
        partial.append(sock)
    opened = time.monotonic()
    # a normal client is answered while the stalled connections are open
    assert spinner.validate()[0]["allowed"] is True
    for sock in silent + partial:
        sock.settimeout(max(0.1, opened + HEADER_TIMEOUT + 3 - time.monotonic()))
        assert _closed_by_server(sock)
        sock.close()
    assert time.monotonic() - opened < HEADER_TIMEOUT + 3
    assert spinner.client.get("/healthz").text == "ok"


def test_past_the_connection_limit_requests_get_503(pki: Pki, tmp_path: Path) -> None:
    srv = SpinServer(pki, tmp_path, "12")
    try:
        srv.client.close()  # its keep-alive connection would count
        held = [srv.tls_socket() for _ in range(12)]
        with httpx.Client(base_url=f"https://localhost:{srv.port}", verify=pki.context(),
                          timeout=10) as client:
            assert client.get("/healthz").status_code == 503
        for sock in held:
            sock.close()
        wait_for(lambda: httpx.get(f"https://localhost:{srv.port}/healthz",
                                   verify=pki.context(), timeout=5).status_code == 200, 5)
        assert srv.validate()[0]["allowed"] is True
        assert "Traceback" not in srv.stderr.read_text()
    finally:
        srv.stop()


def test_an_oversized_request_head_is_closed(spinner: SpinServer) -> None:
    sock = spinner.tls_socket()
    sock.settimeout(5)
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        sock.sendall(b"POST /validate HTTP/1.1\r\nHost: localhost\r\n")
        for _ in range(100):
            sock.sendall(b"X-Pad: " + b"a" * 1000 + b"\r\n")
    assert _closed_by_server(sock)
    sock.close()


def test_a_stalled_body_is_answered_408_at_the_deadline(spinner: SpinServer) -> None:
    sock = spinner.tls_socket()
    sock.settimeout(5)
    started = time.monotonic()
    sock.sendall(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
                 b"application/json\r\nContent-Length: 1000\r\n\r\n{\"apiVersion\"")
    answer = sock.recv(4096)
    while b"}" not in answer:
        answer += sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"request body not received within the deadline" in answer
    assert time.monotonic() - started < DEADLINE + 1
    sock.close()


def test_a_client_that_leaves_mid_body_is_one_log_line(spinner: SpinServer) -> None:
    before = spinner.stderr.read_text()
    body = orjson.dumps(review(good_deployment()))
    sock = spinner.tls_socket()
    sock.sendall(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Length: "
                 + str(len(body)).encode() + b"\r\n\r\n" + body[:100])
    time.sleep(0.1)
    sock.close()
    wait_for(lambda: "disconnected" in spinner.stderr.read_text()[len(before):], 5)
    new = spinner.stderr.read_text()[len(before):]
    assert new.count("client disconnected from /validate before sending the whole body") == 1
    assert "Traceback" not in new
    assert spinner.validate()[0]["allowed"] is True


def test_judge_processes_hold_no_connection_of_the_server(spinner: SpinServer) -> None:
    """A judge forked while clients are connected keeps none of their sockets (nor
    the listening one): else a connection the server closes stays open."""
    with spinner.tls_socket():  # open while the replacement judges are forked
        spinner.validate({"test/spin": "yes"})
    def inherited_sockets() -> dict[int, list[int]]:
        found = {}
        for pid in spinner.children():
            fds = {int(fd): os.readlink(f"/proc/{pid}/fd/{fd}")
                   for fd in os.listdir(f"/proc/{pid}/fd")}
            found[pid] = [fd for fd, target in fds.items()
                          if fd > 2 and target.startswith("socket:")]
        return found

    # a judge just forked closes what it inherited as it starts: give it that time
    wait_for(lambda: len(inherited_sockets()) >= 2
             and all(len(s) == 1 for s in inherited_sockets().values()), 5)


@pytest.mark.parametrize("length", [b"\xb2", b"99999999999999999999999999", b"-1", b"1e3"])
def test_an_odd_content_length_is_never_a_500(spinner: SpinServer, length: bytes) -> None:
    body = orjson.dumps(review(good_deployment()))
    sock = spinner.tls_socket()
    sock.settimeout(10)
    sock.sendall(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
                 b"application/json\r\nContent-Length: " + length + b"\r\n\r\n" + body)
    answer = b""
    with contextlib.suppress(OSError):
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    sock.close()
    assert not answer.startswith(b"HTTP/1.1 500")
    assert spinner.validate()[0]["allowed"] is True
    assert "Traceback" not in spinner.stderr.read_text()
