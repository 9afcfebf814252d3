"""Real registries for the tests: Debian's docker-registry (distribution 2.8) on loopback.

Three flavours (:func:`start_registry`): plain HTTP without auth; TLS (a CA
from :mod:`kubeproof.webhook.certs`) with htpasswd Basic auth (bcrypt); and
Bearer token auth trusting :class:`TokenService`, a real HTTP server issuing
ES256 JWTs. distribution 2.8 finds a token's signing key by the JWT header's
``kid``, the libtrust key ID of a public key in ``rootcertbundle`` (an
``x5c`` chain to a root in the bundle works too); :func:`libtrust_key_id`
computes it.

Images are built here (small gzip layers, config JSON, OCI or Docker
manifests, two-platform indexes) and pushed through the registry HTTP API
(:class:`Pusher`). :class:`SlowRelay` is a TCP relay that holds every chunk
of the answer for a delay, and :class:`FakeRegistry` a small HTTP server that
answers like a broken registry (500s, HTML, unknown media types) and counts
requests in flight.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import gzip
import hashlib
import io
import json
import socket
import ssl
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from kubeproof.webhook.certs import KeyPair, make_ca, make_serving_cert

REGISTRY_BIN = "/usr/bin/docker-registry"
REGISTRY_MISSING = (f"{REGISTRY_BIN} is not installed: `apt-get install docker-registry` "
                    "(Debian/Ubuntu) runs these tests; .ci/run installs it")
SERVICE = "kubeproof-test-registry"
ISSUER = "kubeproof-test-issuer"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# -- token service -------------------------------------------------------------

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def libtrust_key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """docker/libtrust's key ID: base32 of the first 240 bits of SHA-256(PKIX DER),
    in colon-separated groups of four."""
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    text = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(text[i:i + 4] for i in range(0, len(text), 4))


def sign_jwt(claims: dict[str, Any], key: ec.EllipticCurvePrivateKey,
             header_extra: dict[str, Any]) -> str:
    """An ES256 JWS (compact form) of ``claims``."""
    header = {"typ": "JWT", "alg": "ES256", **header_extra}
    signing_input = (_b64url(json.dumps(header).encode()) + "."
                     + _b64url(json.dumps(claims).encode()))
    der = key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _reply(handler: BaseHTTPRequestHandler, status: int,
           headers: Iterable[tuple[str, str]], body: bytes) -> None:
    """Send a whole answer (no body for HEAD, as HTTP says)."""
    handler.send_response(status)
    for name, value in headers:
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[_Server, str]:
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    return server, f"127.0.0.1:{server.server_address[1]}"


class TokenService:
    """A Docker token service on loopback: ``GET /token?service=&scope=``.

    ``users`` maps username to password; a known user gets the actions it
    asked for, anyone else presenting credentials gets 401, anonymous gets a
    token with no access. ``mode`` ``kid`` names the key by its libtrust ID,
    ``x5c`` sends the certificate instead. ``requests`` counts token requests.
    """

    def __init__(self, users: dict[str, str], mode: str = "kid") -> None:
        self.users = users
        self.mode = mode
        self.requests = 0
        self.issued: list[str] = []
        key = ec.generate_private_key(ec.SECP256R1())
        self._key = key
        now = time.time()
        name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "token-signer")])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(dt.datetime.fromtimestamp(now - 300, dt.UTC))
                .not_valid_after(dt.datetime.fromtimestamp(now + 86400, dt.UTC))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))
        self.cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        self._cert_der = cert.public_bytes(serialization.Encoding.DER)
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                service.requests += 1
                status, body = service.answer(self.path, self.headers.get("Authorization"))
                _reply(self, status, [("Content-Type", "application/json")],
                       json.dumps(body).encode())

        self._server, self.host = _serve(Handler)
        self.realm = f"http://{self.host}/token"

    def answer(self, path: str, authorization: str | None) -> tuple[int, dict[str, Any]]:
        query = httpx.URL(path).params
        user = ""
        if authorization:
            scheme, _, value = authorization.partition(" ")
            name, _, password = base64.b64decode(value).decode().partition(":")
            if scheme != "Basic" or self.users.get(name) != password:
                return 401, {"details": "incorrect username or password"}
            user = name
        access = []
        for scope in query.get_list("scope"):
            kind, _, rest = scope.partition(":")
            repo, _, actions = rest.rpartition(":")
            if user and kind == "repository":
                access.append({"type": kind, "name": repo, "actions": actions.split(",")})
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": user, "aud": query.get("service", ""),
                  "exp": now + 300, "nbf": now - 10, "iat": now,
                  "jti": hashlib.sha256(f"{now}{path}{time.perf_counter()}".encode()).hexdigest(),
                  "access": access}
        header: dict[str, Any] = (
            {"x5c": [base64.b64encode(self._cert_der).decode()]} if self.mode == "x5c"
            else {"kid": libtrust_key_id(self._key.public_key())})
        token = sign_jwt(claims, self._key, header)
        self.issued.append(token)
        return 200, {"token": token, "expires_in": 300}

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- the registry process ------------------------------------------------------

@dataclass
class RunningRegistry:
    """A started docker-registry: ``host`` is ``127.0.0.1:PORT``."""

    host: str
    scheme: str
    ca_file: str | None
    workdir: Path
    process: subprocess.Popen[bytes]
    users: dict[str, str] = field(default_factory=dict)
    token: TokenService | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        return ssl.create_default_context(cafile=self.ca_file) if self.ca_file else True


def _config(workdir: Path, port: int, tls: KeyPair | None, htpasswd: Path | None,
            token: TokenService | None) -> str:
    lines = ["version: 0.1", "log:", "  level: error", "  accesslog:", "    disabled: true",
             "storage:", "  filesystem:", f"    rootdirectory: {workdir / 'data'}",
             "  cache:", "    blobdescriptor: inmemory", "  delete:", "    enabled: true",
             "http:", f"  addr: 127.0.0.1:{port}", "  secret: kubeproof-test-secret"]
    if tls is not None:
        (workdir / "server.pem").write_bytes(tls.cert_pem)
        (workdir / "server.key").write_bytes(tls.key_pem)
        lines += ["  tls:", f"    certificate: {workdir / 'server.pem'}",
                  f"    key: {workdir / 'server.key'}"]
    if htpasswd is not None:
        lines += ["auth:", "  htpasswd:", "    realm: kubeproof-test", f"    path: {htpasswd}"]
    if token is not None:
        (workdir / "token-ca.pem").write_bytes(token.cert_pem)
        lines += ["auth:", "  token:", f"    realm: {token.realm}", f"    service: {SERVICE}",
                  f"    issuer: {ISSUER}", f"    rootcertbundle: {workdir / 'token-ca.pem'}"]
    return "\n".join(lines) + "\n"


def start_registry(workdir: Path, *, tls: bool = False, users: dict[str, str] | None = None,
                   token: TokenService | None = None, port: int | None = None
                   ) -> RunningRegistry:
    """Start ``docker-registry serve`` in ``workdir`` and wait until ``/v2/`` answers.

    ``users`` with ``tls`` gives htpasswd Basic auth; ``token`` gives Bearer
    auth against that service (whose ``users`` then decide).
    """
    if not Path(REGISTRY_BIN).is_file():
        # the real registry or no test: a skip would prove nothing (.ci/run installs it)
        pytest.fail(REGISTRY_MISSING, pytrace=False)
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    keypair = ca_file = None
    if tls:
        ca = make_ca("kubeproof-test-registry-ca")
        keypair = make_serving_cert(ca, ["localhost"], ["127.0.0.1"])
        ca_file = str(workdir / "ca.pem")
        Path(ca_file).write_bytes(ca.cert_pem)
    htpasswd = None
    if users and token is None:
        htpasswd = workdir / "htpasswd"
        htpasswd.write_text("".join(
            f"{name}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)).decode()}\n"
            for name, pw in users.items()))
    config = workdir / "config.yml"
    config.write_text(_config(workdir, port, keypair, htpasswd, token))
    log = (workdir / "registry.log").open("wb")
    process = subprocess.Popen([REGISTRY_BIN, "serve", str(config)], stdout=log,
                               stderr=subprocess.STDOUT)
    reg = RunningRegistry(f"127.0.0.1:{port}", "https" if tls else "http", ca_file, workdir,
                          process, dict(users or (token.users if token else {})), token)
    deadline = time.monotonic() + 15
    with httpx.Client(verify=reg.verify, timeout=1) as http:
        while True:
            if process.poll() is not None:
                raise RuntimeError("docker-registry exited: "
                                   + (workdir / "registry.log").read_text()[-2000:])
            try:
                if http.get(f"{reg.url}/v2/").status_code in (200, 401):
                    return reg
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                stop_registry(reg)
                raise RuntimeError("docker-registry did not answer /v2/ within 15 s")
            time.sleep(0.05)


def stop_registry(reg: RunningRegistry) -> None:
    if reg.process.poll() is None:
        reg.process.terminate()
        try:
            reg.process.wait(10)
        except subprocess.TimeoutExpired:
            reg.process.kill()
            reg.process.wait()


# -- building and pushing images -----------------------------------------------

@dataclass
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return sha256(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data),
                **extra}


def layer(files: dict[str, bytes], media_type: str = OCI_LAYER) -> tuple[Blob, str]:
    """A gzip layer holding ``files``, and the diff ID (digest of the plain tar)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(content), 1_700_000_000, 0o644
            tar.addfile(info, io.BytesIO(content))
    plain = raw.getvalue()
    if media_type.endswith("tar"):
        return Blob(media_type, plain), sha256(plain)
    return Blob(media_type, gzip.compress(plain, mtime=0)), sha256(plain)


@dataclass
class BuiltImage:
    """One platform's image: config, layers and manifest, ready to push."""

    config: Blob
    layers: list[Blob]
    manifest: Blob

    @property
    def compressed_size(self) -> int:
        return sum(len(b.data) for b in self.layers)


def build_image(name: str, *, platform: str = "linux/amd64", oci: bool = True,
                user: str = "1000", labels: dict[str, str] | None = None,
                history: tuple[str, ...] = ("/bin/sh -c #(nop) ADD file:x in / ",
                                            "RUN apk add --no-cache tini"),
                created: str = "2024-05-01T12:00:00Z", layer_count: int = 2,
                layer_media_type: str | None = None,
                exposed_ports: tuple[str, ...] = ()) -> BuiltImage:
    os_, arch, *variant = platform.split("/")
    layer_type = layer_media_type or (OCI_LAYER if oci else DOCKER_LAYER)
    layers, diff_ids = [], []
    for i in range(layer_count):
        blob, diff_id = layer({f"etc/layer{i}": f"{name} {platform} {i}\n".encode()}, layer_type)
        layers.append(blob)
        diff_ids.append(diff_id)
    config_doc: dict[str, Any] = {
        "architecture": arch, "os": os_, "created": created,
        "config": {"User": user, "Labels": labels or {}, "Cmd": ["/bin/app"]},
        "history": [{"created": created, "created_by": line} for line in history],
        "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    if exposed_ports:
        config_doc["config"]["ExposedPorts"] = {port: {} for port in exposed_ports}
    if variant:
        config_doc["variant"] = variant[0]
    config = Blob(OCI_CONFIG if oci else DOCKER_CONFIG,
                  json.dumps(config_doc, sort_keys=True).encode())
    manifest_type = OCI_MANIFEST if oci else DOCKER_MANIFEST
    manifest_doc = {"schemaVersion": 2, "mediaType": manifest_type,
                    "config": config.descriptor(), "layers": [b.descriptor() for b in layers]}
    return BuiltImage(config, layers, Blob(manifest_type, json.dumps(manifest_doc).encode()))


def build_index(images: dict[str, BuiltImage], oci: bool = True,
                annotations: dict[str, str] | None = None) -> Blob:
    entries = []
    for platform, image in images.items():
        os_, arch, *variant = platform.split("/")
        plat: dict[str, str] = {"os": os_, "architecture": arch}
        if variant:
            plat["variant"] = variant[0]
        entries.append(image.manifest.descriptor(platform=plat))
    media_type = OCI_INDEX if oci else DOCKER_LIST
    doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type, "manifests": entries}
    if annotations:
        doc["annotations"] = annotations
    return Blob(media_type, json.dumps(doc).encode())


class Pusher:
    """Pushes blobs and manifests through the registry HTTP API, answering its
    Basic or Bearer challenge with the registry's first user."""

    def __init__(self, reg: RunningRegistry) -> None:
        self.reg = reg
        self.http = httpx.Client(verify=reg.verify, timeout=10)
        self._auth: dict[str, dict[str, str]] = {}
        user = next(iter(reg.users.items()), None)
        self._basic = (httpx.BasicAuth(*user) if user else None)

    def close(self) -> None:
        self.http.close()

    def _headers(self, repository: str) -> dict[str, str]:
        if repository in self._auth:
            return self._auth[repository]
        headers: dict[str, str] = {}
        if self.reg.token is not None:
            answer = self.http.get(self.reg.token.realm, auth=self._basic, params={
                "service": SERVICE, "scope": f"repository:{repository}:pull,push"}).json()
            headers = {"Authorization": f"Bearer {answer['token']}"}
        elif self._basic is not None:
            name, password = next(iter(self.reg.users.items()))
            raw = base64.b64encode(f"{name}:{password}".encode()).decode()
            headers = {"Authorization": f"Basic {raw}"}
        self._auth[repository] = headers
        return headers

    def blob(self, repository: str, blob: Blob) -> None:
        headers = self._headers(repository)
        base = self.reg.url
        head = self.http.head(f"{base}/v2/{repository}/blobs/{blob.digest}", headers=headers)
        if head.status_code == 200:
            return
        start = self.http.post(f"{base}/v2/{repository}/blobs/uploads/", headers=headers)
        assert start.status_code == 202, (start.status_code, start.text)
        location = httpx.URL(base).join(start.headers["location"])
        done = self.http.put(location.copy_merge_params({"digest": blob.digest}),
                             content=blob.data,
                             headers=headers | {"Content-Type": "application/octet-stream"})
        assert done.status_code == 201, (done.status_code, done.text)

    def manifest(self, repository: str, reference: str, blob: Blob) -> str:
        resp = self.http.put(f"{self.reg.url}/v2/{repository}/manifests/{reference}",
                             content=blob.data,
                             headers=self._headers(repository) | {"Content-Type": blob.media_type})
        assert resp.status_code == 201, (resp.status_code, resp.text)
        return resp.headers["docker-content-digest"]

    def image(self, repository: str, tag: str, image: BuiltImage) -> str:
        for blob in (*image.layers, image.config):
            self.blob(repository, blob)
        return self.manifest(repository, tag, image.manifest)

    def index(self, repository: str, tag: str, images: dict[str, BuiltImage],
              oci: bool = True, annotations: dict[str, str] | None = None) -> str:
        for image in images.values():
            self.image(repository, image.manifest.digest, image)
        return self.manifest(repository, tag, build_index(images, oci, annotations))


# -- a slow relay and a broken registry ----------------------------------------

class SlowRelay:
    """A TCP relay on loopback to ``upstream`` (``host:port``) that holds each
    chunk of the answer for ``delay_ms`` before passing it on."""

    def __init__(self, upstream: str, delay_ms: float) -> None:
        self.upstream = upstream
        self.delay = delay_ms / 1000
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        host, _, port = self.upstream.rpartition(":")
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection((host, int(port)))
            threading.Thread(target=self._pump, args=(client, server, 0.0), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, self.delay),
                             daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, delay: float) -> None:
        try:
            while data := src.recv(65536):
                if delay:
                    time.sleep(delay)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self._closed = True
        self._listener.close()


Answer = tuple[int, dict[str, str], bytes]


class FakeRegistry:
    """A real HTTP server on loopback whose answers come from ``respond(method, path)``.

    It counts requests and the most it had in flight at once; ``hold`` seconds
    of sleep per request make concurrency visible.
    """

    def __init__(self, respond: Callable[[str, str], Answer], hold: float = 0.0) -> None:
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                with lock:
                    fake.requests += 1
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    if hold:
                        time.sleep(hold)
                    status, headers, body = respond(self.command, self.path)
                finally:
                    with lock:
                        fake.in_flight -= 1
                _reply(self, status, headers.items(), body)

            do_GET = do_HEAD = _handle

        self._server, self.host = _serve(Handler)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class ForwardProxy:
    """A plain-HTTP forward proxy on loopback (absolute-form requests), counting them."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                proxy.requests.append(self.path)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "proxy-connection", "connection")}
                with httpx.Client(trust_env=False) as http:
                    resp = http.request(self.command, self.path, headers=headers)
                hop = ("content-length", "transfer-encoding", "connection", "content-encoding")
                _reply(self, resp.status_code,
                       [(k, v) for k, v in resp.headers.items() if k.lower() not in hop],
                       resp.content)

            do_GET = do_HEAD = _forward

        self._server, self.host = _serve(Handler)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
