"""RegistryClient against the real docker-registry (plain, TLS + Basic, token) and
small real HTTP servers that answer like broken registries."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest

from kubeproof.images.credentials import (
    Credentials,
    CredentialsError,
    docker_config_credentials,
    normalise_host,
    parse_docker_config,
    registry_host,
)
from kubeproof.images.oci import (
    OCI_INDEX,
    ImageInfo,
    RegistryClient,
    RegistryOptions,
    choose_platform,
    parse_challenge,
)
from tests.support.registries import LABELS, PASSWORD, USER, Seeded, seed
from tests.support.registry_server import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    FakeRegistry,
    ForwardProxy,
    SlowRelay,
    TokenService,
    build_image,
    free_port,
    start_registry,
    stop_registry,
)

GOOD = Credentials(USER, PASSWORD, "pull secret team-a/regcred")
BAD = Credentials(USER, "wrong-Pa55word-abc", "pull secret team-a/stale")


def client_for(seeded: Seeded, **options: object) -> RegistryClient:
    reg = seeded.reg
    opts = RegistryOptions(
        insecure=frozenset({reg.host}) if reg.scheme == "http" else frozenset(),
        ca_bundle=reg.ca_file, backoff=0.01, **options)  # type: ignore[arg-type]
    return RegistryClient(opts)


def ref(seeded: Seeded, name: str) -> str:
    return f"{seeded.reg.host}/{name}"


# -- resolving on the plain registry ---------------------------------------------


def test_tag_resolves_to_the_pushed_index_digest(plain_registry: Seeded) -> None:
    with client_for(plain_registry) as client:
        info = client.resolve(ref(plain_registry, "team/app:1.0"))
    assert info.outcome == "ok", info.error
    assert info.digest == plain_registry.digests["team/app:1.0"]
    assert info.media_type == OCI_INDEX
    assert info.platform_digest == plain_registry.images["app:amd64"].manifest.digest
    assert (info.os, info.architecture) == ("linux", "amd64")
    assert info.credentials_source is None


def test_digest_reference_resolves_to_that_digest(plain_registry: Seeded) -> None:
    digest = plain_registry.digests["team/single:v1"]
    with client_for(plain_registry) as client:
        info = client.resolve(ref(plain_registry, f"team/single@{digest}"))
        wrong = client.resolve(ref(plain_registry, "team/single@sha256:" + "0" * 64))
    assert (info.outcome, info.digest, info.tag) == ("ok", digest, None)
    assert info.media_type == DOCKER_MANIFEST
    assert wrong.outcome == "not-found"


def test_missing_tag_and_missing_repository_are_not_found(plain_registry: Seeded) -> None:
    with client_for(plain_registry) as client:
        tag = client.resolve(ref(plain_registry, "team/app:9.9"))
        repo = client.resolve(ref(plain_registry, "team/nothing-here:1.0"))
    assert (tag.outcome, tag.error) == (
        "not-found", "manifest team/app:9.9 not found (MANIFEST_UNKNOWN)")
    assert repo.outcome == "not-found"
    assert repo.error is not None and "team/nothing-here:1.0" in repo.error
    assert tag.digest is None and repo.digest is None


def test_platform_is_chosen_from_the_index(plain_registry: Seeded) -> None:
    with client_for(plain_registry, platform="linux/arm64") as client:
        arm = client.resolve(ref(plain_registry, "team/app:1.0"))
    with client_for(plain_registry, platform="linux/s390x") as client:
        none = client.resolve(ref(plain_registry, "team/app:1.0"))
    assert arm.outcome == "ok"
    assert arm.platform_digest == plain_registry.images["app:arm64"].manifest.digest
    assert arm.architecture == "arm64"
    assert arm.digest == plain_registry.digests["team/app:1.0"]  # the index, whatever platform
    assert (none.outcome, none.error) == (
        "not-found", "no manifest for linux/s390x in the index (it has linux/amd64, linux/arm64)")


def test_docker_manifest_list_with_a_variant(plain_registry: Seeded) -> None:
    with client_for(plain_registry, platform="linux/arm/v7") as client:
        info = client.resolve(ref(plain_registry, "team/legacy:1.0"))
    assert (info.outcome, info.media_type) == ("ok", DOCKER_LIST)
    assert info.digest == plain_registry.digests["team/legacy:1.0"]
    assert info.platform_digest == plain_registry.images["legacy:linux/arm/v7"].manifest.digest
    assert info.architecture == "arm"


def test_platform_variants_and_attestations() -> None:
    def entry(digest: str, **plat: str) -> dict[str, object]:
        return {"digest": digest, "platform": plat}
    index = {"manifests": [
        entry("att", os="unknown", architecture="unknown"),
        entry("v7", os="linux", architecture="arm", variant="v7"),
        entry("v6", os="linux", architecture="arm", variant="v6"),
        entry("a64", os="linux", architecture="arm64", variant="v8"),
        entry("amd-v3", os="linux", architecture="amd64", variant="v3"),
        entry("amd", os="linux", architecture="amd64")]}
    chosen = {p: (choose_platform(index, p) or {}).get("digest") for p in (
        "linux/amd64", "linux/amd64/v3", "linux/arm/v6", "linux/arm64", "linux/arm64/v8",
        "linux/ppc64le")}
    assert chosen == {"linux/amd64": "amd", "linux/amd64/v3": "amd-v3", "linux/arm/v6": "v6",
                      "linux/arm64": "a64", "linux/arm64/v8": "a64", "linux/ppc64le": None}
    with pytest.raises(ValueError, match="not os/arch"):
        RegistryClient(RegistryOptions(platform="amd64"))


def test_www_authenticate_challenges() -> None:
    bearer = parse_challenge('Bearer realm="https://auth.example/token",service="reg.example",'
                             'scope="repository:a/b:pull,push",error="insufficient_scope"')
    basic = parse_challenge('Basic realm="Registry Realm"')
    assert bearer is not None and basic is not None
    assert (bearer.scheme, bearer.params) == ("bearer", {
        "realm": "https://auth.example/token", "service": "reg.example",
        "scope": "repository:a/b:pull,push", "error": "insufficient_scope"})
    assert (basic.scheme, basic.params) == ("basic", {"realm": "Registry Realm"})
    assert parse_challenge("Negotiate abc") is None


def test_config_fields_and_sizes(plain_registry: Seeded) -> None:
    with client_for(plain_registry) as client:
        app = client.resolve(ref(plain_registry, "team/app:1.0"))
        single = client.resolve(ref(plain_registry, "team/single:v1"))
        plain = client.resolve(ref(plain_registry, "team/plain:v1"))
    amd = plain_registry.images["app:amd64"]
    assert app.user == "1000"
    assert app.labels == LABELS
    assert app.created == "2024-05-01T12:00:00Z"
    assert app.history == ["/bin/sh -c #(nop) ADD file:abc in / alpine-minirootfs",
                           "RUN adduser -D app"]
    assert app.compressed_size == amd.compressed_size
    assert app.uncompressed_size is None  # gzip layers: not known without pulling
    assert app.base_hints == ["docker.io/library/alpine:3.19", "alpine"]
    assert single.user == "" and single.labels == {} and single.base_hints == []
    assert plain.uncompressed_size == plain.compressed_size == \
        plain_registry.images["plain"].compressed_size


def test_invalid_reference_is_an_error_not_an_exception(plain_registry: Seeded) -> None:
    with client_for(plain_registry) as client:
        info = client.resolve("${IMAGE}")
    assert (info.outcome, info.error) == ("error", "image is an unresolved placeholder")


def test_resolve_many_asks_once_per_distinct_request(plain_registry: Seeded) -> None:
    refs = [ref(plain_registry, n) for n in ("team/app:1.0", "team/single:v1", "team/app:1.0")]
    with client_for(plain_registry) as client:
        results = client.resolve_many((r, ()) for r in refs)
        sent = client.requests
        again = client.resolve(refs[0])
        assert client.requests == sent  # the per-run cache answered
    assert len(results) == 2 and all(i.outcome == "ok" for i in results.values())
    assert sent == 3 + 2  # index + platform manifest + config, manifest + config
    assert again is results[(refs[0], ())]


# -- Basic auth over TLS -----------------------------------------------------------


def secret_payload(host_key: str, form: str) -> str:
    entry = ({"auth": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
             if form == "auth" else {"username": USER, "password": PASSWORD})
    return json.dumps({"auths": {host_key: entry}})


@pytest.mark.parametrize(("key_form", "form"), [
    ("https://{host}/v2/", "auth"), ("{host}", "username"), ("http://{host}", "auth")])
def test_basic_auth_with_pull_secret_credentials(basic_registry: Seeded, key_form: str,
                                                 form: str) -> None:
    host = basic_registry.reg.host
    creds = parse_docker_config(secret_payload(key_form.format(host=host), form),
                                "pull secret team-a/regcred")
    assert list(creds) == [host]
    with client_for(basic_registry) as client:
        info = client.resolve(ref(basic_registry, "team/app:1.0"), creds[host])
        assert client.check_credentials(ref(basic_registry, "team/app:1.0"), creds[host][0])
    assert info.outcome == "ok", info.error
    assert info.credentials_source == "pull secret team-a/regcred"
    assert info.digest == basic_registry.digests["team/app:1.0"]


def test_basic_auth_wrong_password_and_no_credentials(basic_registry: Seeded) -> None:
    image = ref(basic_registry, "team/app:1.0")
    with client_for(basic_registry) as client:
        wrong = client.resolve(image, (BAD,))
        anonymous = client.resolve(image)
        assert client.check_credentials(image, BAD) is False
        assert client.check_credentials(image, GOOD) is True
        second = client.resolve(image, (BAD, GOOD))
    assert (wrong.outcome, wrong.error) == (
        "unauthorized", "the registry rejected the credentials from pull secret team-a/stale "
                        "(HTTP 401)")
    assert anonymous.outcome == "unauthorized"
    assert (second.outcome, second.credentials_source) == ("ok", GOOD.source)


def test_configured_credentials_are_used_by_registry_name(basic_registry: Seeded) -> None:
    host = basic_registry.reg.host
    opts = RegistryOptions(ca_bundle=basic_registry.reg.ca_file)
    with RegistryClient(opts, {f"https://{host}/": [GOOD]}) as client:
        info = client.resolve(ref(basic_registry, "team/single:v1"))
        status = client.ping(host)
    assert (info.outcome, info.credentials_source) == ("ok", GOOD.source)
    assert (status.reachable, status.status, status.auth, status.error) == (
        True, 401, "basic", None)


def test_http2_is_spoken_when_the_registry_offers_it(basic_registry: Seeded,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    with client_for(basic_registry) as client:
        assert client.resolve(ref(basic_registry, "team/single:v1"), (GOOD,)).ok
    answers = [r.getMessage() for r in caplog.records if "/v2/team/single/" in r.getMessage()]
    assert answers and all('"HTTP/2 ' in line for line in answers)


def test_many_concurrent_requests_over_http2(basic_registry: Seeded) -> None:
    # httpx's sync HTTP/2 connection is not thread-safe: shared by the pool's
    # threads it broke streams (KeyError, ProtocolError) under this load
    refs = [ref(basic_registry, f"team/{name}:{tag}") for name in ("app", "single", "plain")
            for tag in (*(f"missing{i}" for i in range(30)), "1.0", "v1")]
    with client_for(basic_registry, concurrency=16) as client:
        results = client.resolve_many((r, (GOOD,)) for r in refs)
    outcomes = {r: i.outcome for r, i in results.items() if i.outcome != "not-found"}
    assert sorted(outcomes.values()) == ["ok"] * 3, {i.error for i in results.values()}


def test_tls_without_the_registry_ca_is_a_clear_error(basic_registry: Seeded) -> None:
    with RegistryClient(RegistryOptions(retries=0)) as client:
        info = client.resolve(ref(basic_registry, "team/app:1.0"), (GOOD,))
        status = client.ping(basic_registry.reg.host)
        assert client.check_credentials(ref(basic_registry, "team/app:1.0"), GOOD) is None
    assert info.outcome == "error"
    assert info.error is not None and info.error.startswith("TLS: certificate verify failed")
    assert status.error == info.error and not status.reachable


def test_https_to_a_plain_http_registry_says_so(plain_registry: Seeded) -> None:
    with RegistryClient(RegistryOptions(retries=0)) as client:
        info = client.resolve(ref(plain_registry, "team/app:1.0"))
    assert info.outcome == "error"
    assert info.error is not None and info.error.startswith("TLS: handshake failed")


# -- Bearer token auth -------------------------------------------------------------


def test_bearer_token_flow(token_registry: Seeded) -> None:
    service = token_registry.reg.token
    assert service is not None
    image = ref(token_registry, "team/app:1.0")
    with client_for(token_registry) as client:
        status = client.ping(token_registry.reg.host)
        before = service.requests
        info = client.resolve(image, (GOOD,))
        client.resolve(ref(token_registry, "team/app:missing"), (GOOD,))
        used = service.requests - before
        anonymous = client.resolve(image)
        wrong = client.resolve(image, (BAD,))
        assert client.check_credentials(image, BAD) is False
        assert client.check_credentials(image, GOOD) is True
    assert status.auth == "bearer" and status.reachable
    assert info.outcome == "ok", info.error
    assert info.digest == token_registry.digests["team/app:1.0"]
    assert info.credentials_source == GOOD.source
    assert used == 1  # one token per repository scope and credentials, then reused
    assert (anonymous.outcome, anonymous.error) == (
        "unauthorized", "the registry refused anonymous access (HTTP 401)")
    assert (wrong.outcome, wrong.error) == (
        "unauthorized", "the token service rejected the credentials from pull secret "
                        "team-a/stale (HTTP 401)")


def test_concurrent_requests_share_one_token_per_repository(token_registry: Seeded) -> None:
    service = token_registry.reg.token
    assert service is not None
    refs = [ref(token_registry, f"team/many:t{i}") for i in range(12)]
    with client_for(token_registry, concurrency=8) as client:
        before = service.requests
        results = client.resolve_many([(r, (GOOD,)) for r in refs])
        assert client.requests == 1 + 1 + 12  # the challenge, the token, the manifests
    assert service.requests - before == 1
    assert {i.outcome for i in results.values()} == {"not-found"}


def test_token_signed_with_an_x5c_chain_is_accepted(tmp_path: Path) -> None:
    service = TokenService({USER: PASSWORD}, mode="x5c")
    reg = start_registry(tmp_path / "x5c", token=service)
    try:
        seeded = seed(reg)
        with client_for(seeded) as client:
            info = client.resolve(ref(seeded, "team/single:v1"), (GOOD,))
        assert (info.outcome, info.digest) == ("ok", seeded.digests["team/single:v1"])
    finally:
        stop_registry(reg)
        service.stop()


# -- unreachable, broken and slow registries ---------------------------------------


def test_unreachable_registry() -> None:
    host = f"127.0.0.1:{free_port()}"
    opts = RegistryOptions(insecure=frozenset({host}), retries=1, backoff=0.01)
    with RegistryClient(opts) as client:
        status = client.ping(host)
        info = client.resolve(f"{host}/team/app:1.0")
        assert client.check_credentials(f"{host}/team/app:1.0", GOOD) is None
    assert (status.reachable, status.status, status.error) == (False, None, "connection refused")
    assert (info.outcome, info.error) == ("error", "connection refused")


def fake_client(fake: FakeRegistry, **options: object) -> RegistryClient:
    return RegistryClient(RegistryOptions(insecure=frozenset({fake.host}), backoff=0.01,
                                          **options))  # type: ignore[arg-type]


def test_server_errors_are_retried_then_reported() -> None:
    fake = FakeRegistry(lambda method, path: (500, {"Content-Type": "text/plain"}, b"oops"))
    try:
        with fake_client(fake, retries=2) as client:
            status = client.ping(fake.host)
            assert fake.requests == 3
            info = client.resolve(f"{fake.host}/team/app:1.0")
    finally:
        fake.stop()
    assert (status.reachable, status.status, status.error) == (False, 500, "HTTP 500")
    assert (info.outcome, info.error) == ("error", "HTTP 500 for the manifest")


def test_html_answers_are_not_a_registry() -> None:
    page = b"<!DOCTYPE html><html><body>Sign in</body></html>"
    fake = FakeRegistry(lambda method, path: (200, {"Content-Type": "text/html"}, page))
    try:
        with fake_client(fake) as client:
            status = client.ping(fake.host)
            info = client.resolve(f"{fake.host}/team/app:1.0")
    finally:
        fake.stop()
    assert (status.reachable, status.error) == (False, "not a registry (HTML answer)")
    assert (info.outcome, info.error) == ("error", "not a registry (HTML answer)")


def test_unknown_media_type_is_reported() -> None:
    kind = "application/vnd.example.thing.v1+json"
    body = json.dumps({"schemaVersion": 2, "mediaType": kind}).encode()
    fake = FakeRegistry(lambda method, path: (200, {"Content-Type": kind}, body))
    try:
        with fake_client(fake) as client:
            info = client.resolve(f"{fake.host}/team/app:1.0")
    finally:
        fake.stop()
    assert (info.outcome, info.error) == ("error", f"unsupported manifest media type {kind!r}")


def test_slow_registry_latency_is_measured(plain_registry: Seeded) -> None:
    relay = SlowRelay(plain_registry.reg.host, delay_ms=150)
    try:
        # insecure hosts may be written as URLs too
        opts = RegistryOptions(insecure=frozenset({f"http://{relay.host}/",
                                                   plain_registry.reg.host}))
        with RegistryClient(opts) as client:
            slow = client.ping(relay.host)
            fast = client.ping(plain_registry.reg.host)
            info = client.resolve(f"{relay.host}/team/single:v1")
    finally:
        relay.stop()
    assert slow.reachable and slow.latency_ms is not None and slow.latency_ms >= 150
    assert fast.latency_ms is not None and fast.latency_ms < slow.latency_ms
    assert info.outcome == "ok"


def test_timeout_is_a_clear_error(plain_registry: Seeded) -> None:
    relay = SlowRelay(plain_registry.reg.host, delay_ms=400)
    try:
        opts = RegistryOptions(insecure=frozenset({relay.host}), timeout=0.1)
        with RegistryClient(opts) as client:
            info = client.resolve(f"{relay.host}/team/single:v1")
    finally:
        relay.stop()
    assert (info.outcome, info.error) == ("error", "timed out after 0.1s")


def test_config_blob_redirect_is_followed() -> None:
    image = build_image("redirected", user="nobody")
    storage = FakeRegistry(lambda method, path: (200, {"Content-Type": "application/json"},
                                                 image.config.data))

    def front(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        if "/manifests/" in path:
            return 200, {"Content-Type": image.manifest.media_type}, image.manifest.data
        return 307, {"Location": f"http://{storage.host}/storage/config"}, b""

    registry = FakeRegistry(front)
    try:
        with fake_client(registry) as client:
            info = client.resolve(f"{registry.host}/team/app:1.0")
    finally:
        registry.stop()
        storage.stop()
    assert (info.outcome, info.user, info.digest) == ("ok", "nobody", image.manifest.digest)
    assert storage.requests == 1


def test_proxy_from_the_environment_is_used(plain_registry: Seeded,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = ForwardProxy()
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://{proxy.host}")
    try:
        with client_for(plain_registry) as client:
            info = client.resolve(ref(plain_registry, "team/single:v1"))
    finally:
        proxy.stop()
    assert info.outcome == "ok", info.error
    assert [p.partition("/v2/")[2].split("/")[2] for p in proxy.requests] == [
        "manifests", "blobs"]


def test_concurrency_is_bounded() -> None:
    fake = FakeRegistry(lambda method, path: (404, {"Content-Type": "application/json"},
                                              b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}'),
                        hold=0.05)
    refs = [f"{fake.host}/team/app{i}:1.0" for i in range(24)]
    try:
        with fake_client(fake, concurrency=4) as client:
            results = client.resolve_many([(r, ()) for r in refs + refs[:5]])
    finally:
        fake.stop()
    assert fake.requests == 24
    assert 2 <= fake.max_in_flight <= 4
    assert {i.outcome for i in results.values()} == {"not-found"}


# -- the on-disk cache -------------------------------------------------------------


def test_disk_cache_answers_when_the_registry_is_gone(tmp_path: Path) -> None:
    reg = start_registry(tmp_path / "reg")
    seeded = seed(reg)
    image = ref(seeded, "team/app:1.0")
    cache = str(tmp_path / "cache")
    try:
        with client_for(seeded, cache_dir=cache) as client:
            first = client.resolve(image)
            pinned = ref(seeded, f"team/single@{seeded.digests['team/single:v1']}")
            digest_ref = client.resolve(pinned)
    finally:
        stop_registry(reg)
    with client_for(seeded, cache_dir=cache, retries=0) as client:
        second = client.resolve(image)
        by_digest = client.resolve(digest_ref.reference)
        assert client.requests == 0
    with client_for(seeded, cache_dir=cache, cache_ttl=0, retries=0) as client:
        expired = client.resolve(image)
    assert first.outcome == second.outcome == by_digest.outcome == "ok"
    assert _facts(second) == _facts(first)
    assert (expired.outcome, expired.error) == ("error", "connection refused")
    files = [p.read_bytes() for p in Path(cache).rglob("*") if p.is_file()]
    assert files and not any(PASSWORD.encode() in f for f in files)


def test_disk_cache_is_per_account(basic_registry: Seeded, tmp_path: Path) -> None:
    # a rotated or wrong password must meet the registry, not an answer cached for another
    cache = str(tmp_path / "cache")
    tag = ref(basic_registry, "team/app:1.0")
    pinned = ref(basic_registry, f"team/single@{basic_registry.digests['team/single:v1']}")
    with client_for(basic_registry, cache_dir=cache) as client:
        assert client.resolve(tag, (GOOD,)).ok and client.resolve(pinned, (GOOD,)).ok
    with client_for(basic_registry, cache_dir=cache) as client:
        assert client.resolve(tag, (GOOD,)).ok and client.resolve(pinned, (GOOD,)).ok
        assert client.requests == 0
        assert client.resolve(tag, (BAD,)).outcome == "unauthorized"
        assert client.resolve(pinned, (BAD,)).outcome == "unauthorized"
        assert client.resolve(pinned).outcome == "unauthorized"


def _facts(info: ImageInfo) -> tuple[object, ...]:
    return (info.digest, info.platform_digest, info.media_type, info.user, info.labels,
            info.history, info.compressed_size, info.base_hints)


# -- credentials payloads and secrecy ----------------------------------------------


def test_docker_config_forms_normalise_to_registry_names() -> None:
    auth = base64.b64encode(b"u:p").decode()
    creds = parse_docker_config(json.dumps({"auths": {
        "https://index.docker.io/v1/": {"auth": auth},
        "registry.example.com:5000": {"username": "u", "password": "p"},
        "http://ghcr.io/v2/": {"auth": auth},
        "quay.io": {"email": "only@example.com"}}}), "s")
    assert sorted(creds) == ["docker.io", "ghcr.io", "registry.example.com:5000"]
    legacy = parse_docker_config(json.dumps({"https://r.example/": {"auth": auth}}), "legacy")
    assert legacy == {"r.example": [Credentials("u", "p", "legacy")]}
    assert registry_host("nginx") == "registry-1.docker.io"
    assert registry_host("localhost:5000/a:1") == "localhost:5000"
    assert normalise_host("https://registry-1.docker.io/v2/") == "docker.io"


@pytest.mark.parametrize(("payload", "message"), [
    ('{"auths": {"r.example": {"auth": "not base64 s3cr3t-Pa55word-xyz!"}}',
     "pull secret ns/regcred: the payload is not valid JSON"),
    ('{"auths": {"r.example": {"auth": "@@s3cr3t-Pa55word-xyz"}}}',
     "pull secret ns/regcred: the 'auth' field for 'r.example' is not base64 of UTF-8 text"),
    (json.dumps({"auths": {"r.example": {"auth": base64.b64encode(PASSWORD.encode()).decode()}}}),
     "pull secret ns/regcred: the 'auth' field for 'r.example' is not of the form user:password"),
    ('{"auths": ["s3cr3t-Pa55word-xyz"]}', "pull secret ns/regcred: 'auths' is not a JSON object"),
    ('"s3cr3t-Pa55word-xyz"', "pull secret ns/regcred: the payload is not a JSON object"),
])
def test_corrupted_pull_secret_payload(payload: str, message: str) -> None:
    with pytest.raises(CredentialsError) as err:
        parse_docker_config(payload, "pull secret ns/regcred")
    assert str(err.value) == message
    assert PASSWORD not in str(err.value)


def test_docker_config_file_and_credential_helpers(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert docker_config_credentials() == {}
    (tmp_path / "config.json").write_text(secret_payload("ghcr.io", "auth"))
    assert docker_config_credentials() == {
        "ghcr.io": [Credentials(USER, PASSWORD, "~/.docker/config.json")]}
    (tmp_path / "config.json").write_text('{"auths": {"ghcr.io": {}}, "credsStore": "desktop"}')
    with pytest.raises(CredentialsError, match="credsStore, which kubeproof does not run"):
        docker_config_credentials()


def test_no_credential_or_token_in_any_repr_log_or_error(
        basic_registry: Seeded, token_registry: Seeded, caplog: pytest.LogCaptureFixture,
        tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    texts = [repr(GOOD), str(GOOD), repr(BAD)]
    for seeded in (basic_registry, token_registry):
        with client_for(seeded, cache_dir=str(tmp_path / "cache")) as client:
            for creds in ((GOOD,), (BAD,), (BAD, GOOD), ()):
                for name in ("team/app:1.0", "team/missing:1"):
                    info = client.resolve(ref(seeded, name), creds)
                    texts += [repr(info), str(info.error)]
            texts.append(repr(client.ping(seeded.reg.host)))
            texts.append(repr(client))
    texts.append(caplog.text)
    texts += [p.read_text(errors="replace") for p in (tmp_path / "cache").rglob("*")
              if p.is_file()]
    blob = "\n".join(texts)
    assert token_registry.reg.token is not None and token_registry.reg.token.issued
    secrets = [PASSWORD, BAD.password, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
               *token_registry.reg.token.issued]
    assert [s[:12] for s in secrets if s in blob] == []
    assert "pull secret team-a/regcred" in blob  # the source is named, the secret is not
