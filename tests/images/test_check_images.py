"""``scan --check-images`` against real docker-registry processes: the registry
rules KP0203, KP0204, KP0304 and the registry halves of KP0103 and KP0301.

Each case is a container of a fixture under fixtures/check/, rendered with the
test registries' addresses; findings are asserted with their line.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeproof.core.config import Config
from kubeproof.images.credentials import Credentials
from tests.support.cli import kp
from tests.support.images import (
    check,
    hits,
    logged_replica,
    push_extra,
    render,
    settings,
)
from tests.support.registries import PASSWORD, USER, Seeded
from tests.support.registry_server import FakeRegistry, SlowRelay


@pytest.fixture(scope="module")
def extra(plain_registry: Seeded) -> dict[str, str]:
    return push_extra(plain_registry.reg)


def _plain(tmp_path: Path, plain: Seeded, name: str) -> Path:
    return render(f"check/{name}", tmp_path, {
        "PLAIN": plain.reg.host, "DIGEST_SINGLE": plain.digests["team/single:v1"]})


# ---------------------------------------------------------------- KP0204


def test_tags_and_digests_that_exist_pass_and_missing_ones_are_found(
        tmp_path: Path, plain_registry: Seeded) -> None:
    path = _plain(tmp_path, plain_registry, "resolve.yaml")
    result = check([path], settings(insecure=(plain_registry.reg.host,)))
    assert hits(result, "KP0204") == [("KP0204", 19, "missing-tag"),
                                      ("KP0204", 21, "missing-repo")]
    messages = {f.container: f.message for f in result.findings if f.rule.code == "KP0204"}
    assert "9.9 not found" in messages["missing-tag"]
    assert "not found" in messages["missing-repo"]
    assert not hits(result, "KP0203") and not hits(result, "KP0304")
    [status] = result.registries
    assert status.reachable and status.status == 200 and status.latency_ms is not None


def test_registry_rules_run_only_with_check_images(tmp_path: Path,
                                                   plain_registry: Seeded) -> None:
    from kubeproof.api import scan

    path = _plain(tmp_path, plain_registry, "resolve.yaml")
    result = scan([str(path)])
    assert not {f.rule.code for f in result.findings} & {"KP0203", "KP0204", "KP0304"}
    assert not any(r.scope == "registry" for r in result.rules)
    assert result.registries == []


# ---------------------------------------------------------------- platforms


def test_platform_is_chosen_from_the_index(tmp_path: Path, plain_registry: Seeded) -> None:
    path = _plain(tmp_path, plain_registry, "platform.yaml")
    host = plain_registry.reg.host
    assert hits(check([path], settings(insecure=(host,), platform="linux/arm64")),
                "KP0204") == []
    result = check([path], settings(insecure=(host,), platform="linux/s390x"))
    assert hits(result, "KP0204") == [("KP0204", 10, "app")]
    message = next(f.message for f in result.findings if f.rule.code == "KP0204")
    assert "linux/s390x" in message and "linux/arm64" in message


# ---------------------------------------------------------------- pull secrets


@pytest.fixture(params=["basic", "token"])
def private(request: pytest.FixtureRequest, basic_registry: Seeded,
            token_registry: Seeded) -> Seeded:
    return basic_registry if request.param == "basic" else token_registry


def _private(tmp_path: Path, seeded: Seeded) -> tuple[list[Path], dict[str, object]]:
    subs = {"PRIVATE": seeded.reg.host, "USER": USER, "PASSWORD": PASSWORD}
    paths = [render("check/pull-secrets.yaml", tmp_path, subs),
             render("check/private.yaml", tmp_path, subs)]
    reg = seeded.reg
    opts: dict[str, object] = {"ca": reg.ca_file} if reg.ca_file else {"insecure": (reg.host,)}
    return paths, opts


def test_pull_secrets_against_a_private_registry(tmp_path: Path, private: Seeded) -> None:
    paths, opts = _private(tmp_path, private)
    result = check(paths, settings(**opts))  # type: ignore[arg-type]
    # the wrong password is rejected, the pod's own or its ServiceAccount's;
    # the right one passes
    assert hits(result, "KP0304") == [("KP0304", 24, "app"), ("KP0304", 69, "app")]
    rejected = {f.name: f.message for f in result.findings if f.rule.code == "KP0304"}
    assert set(rejected) == {"wrong-secret", "sa-secret"}
    assert all('pull secret "wrong"' in m for m in rejected.values())
    # no pull secret at all: the registry refused the anonymous pull (KP0301's half)
    assert hits(result, "KP0301") == [("KP0301", 34, "app")]
    assert "refused an anonymous pull" in next(
        f.message for f in result.findings if f.rule.code == "KP0301")
    # a pull secret of the wrong type, and a corrupted one: KP0303, no crash
    assert [(c, n) for c, n, _ in hits(result, "KP0303")] == [("KP0303", 43), ("KP0303", 55)]
    # nothing is missing: the refused pulls are not reported as absent images
    assert hits(result, "KP0204") == []
    assert all(PASSWORD not in f.message for f in result.findings)


def test_user_credentials_tell_whether_a_refused_image_exists(
        tmp_path: Path, basic_registry: Seeded) -> None:
    reg = basic_registry.reg
    paths, _ = _private(tmp_path, basic_registry)
    paths[1].write_text(paths[1].read_text().replace("team/app:1.0", "team/app:7.7"))
    mine = {reg.host: [Credentials(USER, PASSWORD, "--registry-auth")]}
    result = check(paths, settings(ca=reg.ca_file, user=mine), select=("KP0204",))
    # the right pull secret sees the tag is missing; the pods without a usable
    # pull secret were refused anonymously, and the user's credentials tell;
    # the wrong pull secret is KP0304's
    assert [line for _, line, _ in hits(result, "KP0204")] == [12, 34, 46, 58]
    # anonymous only: the refused images are not judged
    assert [line for _, line, _ in hits(check(paths, settings(ca=reg.ca_file),
                                              select=("KP0204",)), "KP0204")] == [12]


def test_private_registry_in_config_is_left_to_the_set_half(
        tmp_path: Path, basic_registry: Seeded) -> None:
    paths, opts = _private(tmp_path, basic_registry)
    config = Config(private_registries=[basic_registry.reg.host])
    result = check(paths, settings(**opts), config=config)  # type: ignore[arg-type]
    [finding] = [f for f in result.findings if f.rule.code == "KP0301"]
    assert finding.line == 34 and "refused" not in finding.message


# ---------------------------------------------------------------- KP0103, registry half


def test_image_size_and_base_from_the_registry(tmp_path: Path, plain_registry: Seeded,
                                               extra: dict[str, str]) -> None:
    path = _plain(tmp_path, plain_registry, "size.yaml")
    checks = settings(insecure=(plain_registry.reg.host,))
    result = check([path], checks, config=Config(max_image_size_mib=2), select=("KP0103",))
    assert hits(result, "KP0103") == [("KP0103", 10, "big"), ("KP0103", 14, "compressed"),
                                      ("KP0103", 16, "distro")]
    messages = {f.container: f.message for f in result.findings}
    assert "3 MiB (uncompressed)" in messages["big"]
    assert "MiB (compressed)" in messages["compressed"]
    assert "debian" in messages["distro"] and "Debian" in messages["distro"]
    # under the default limit only the distribution is left
    assert hits(check([path], checks, select=("KP0103",)), "KP0103") == [
        ("KP0103", 16, "distro")]
    # without --check-images KP0103 knows none of these images
    from kubeproof.api import scan

    assert not scan([str(path)], select=("KP0103",)).findings


# ---------------------------------------------------------------- KP0203


def test_slow_registry(tmp_path: Path, plain_registry: Seeded) -> None:
    relay = SlowRelay(plain_registry.reg.host, delay_ms=150)
    try:
        path = render("check/slow.yaml", tmp_path, {"SLOW": relay.host})
        checks = settings(insecure=(relay.host,))
        result = check([path], checks, config=Config(max_registry_latency_ms=100))
        assert hits(result, "KP0203") == [("KP0203", 10, "app")]
        message = next(f.message for f in result.findings if f.rule.code == "KP0203")
        assert "over images.maxLatencyMs (100 ms)" in message
        [status] = result.registries
        assert status.latency_ms is not None and status.latency_ms >= 150
        # under the default 2000 ms it passes
        assert hits(check([path], checks), "KP0203") == []
    finally:
        relay.stop()


def test_unreachable_registry_does_not_stop_the_scan(tmp_path: Path,
                                                     plain_registry: Seeded) -> None:
    path = _plain(tmp_path, plain_registry, "unreachable.yaml")
    result = check([path], settings(insecure=(plain_registry.reg.host, "127.0.0.1:1")))
    assert hits(result, "KP0203") == [("KP0203", 10, "down")]
    assert "connection refused" in next(f.message for f in result.findings
                                        if f.rule.code == "KP0203")
    assert hits(result, "KP0204") == [("KP0204", 13, "missing")]
    by_host = {r.host: r for r in result.registries}
    assert not by_host["127.0.0.1:1"].reachable and by_host[plain_registry.reg.host].reachable


def test_registry_that_fails_to_serve_an_image(tmp_path: Path) -> None:
    def respond(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        if path == "/v2/":
            return 200, {"Content-Type": "application/json"}, b"{}"
        return 500, {"Content-Type": "application/json"}, b'{"errors": []}'

    fake = FakeRegistry(respond)
    try:
        path = render("check/slow.yaml", tmp_path, {"SLOW": fake.host})
        result = check([path], settings(insecure=(fake.host,)))
        assert hits(result, "KP0203") == [("KP0203", 10, "app")]
        message = next(f.message for f in result.findings if f.rule.code == "KP0203")
        assert "failed to serve it: HTTP 500" in message
        assert hits(result, "KP0204") == []
    finally:
        fake.stop()


# ---------------------------------------------------------------- once per image


@pytest.fixture
def replica(plain_registry: Seeded, tmp_path: Path) -> Iterator[object]:
    rep = logged_replica(plain_registry.reg, tmp_path)
    try:
        yield rep
    finally:
        rep.stop()


def test_each_image_is_resolved_once(tmp_path: Path, replica: object) -> None:
    host = replica.host  # type: ignore[attr-defined]
    docs = []
    for i in range(12):
        docs.append(f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: web-{i}, namespace: ns-{i % 3}}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
        - {{name: app, image: "{host}/team/app:1.0"}}
        - {{name: gone, image: "{host}/team/app:9.9"}}
""")
    for i in range(20):  # many files: the scan runs in worker processes
        (tmp_path / f"web-{i}.yaml").write_text("---\n".join(docs) if i == 0 else docs[0]
                                                .replace("web-0", f"other-{i}"))
    from kubeproof.api import scan

    count = replica.requests  # type: ignore[attr-defined]
    pings = count("GET /v2/ ")  # the replica's start-up probe
    result = scan([str(tmp_path)], check_images=settings(insecure=(host,)), jobs=2,
                  select=("KP0204",))
    assert len(hits(result, "KP0204")) == 12 + 19
    assert count("GET /v2/team/app/manifests/1.0 ") == 1
    assert count("GET /v2/team/app/manifests/9.9 ") == 1
    assert count("GET /v2/ ") == pings + 1


def test_pull_secret_credentials_survive_worker_processes(tmp_path: Path,
                                                          basic_registry: Seeded) -> None:
    from kubeproof.api import scan

    _, opts = _private(tmp_path, basic_registry)
    for i in range(16):  # enough inputs for the parallel path
        (tmp_path / f"cm-{i}.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}, namespace: shop}}\n")
    result = scan([str(tmp_path)], check_images=settings(**opts),  # type: ignore[arg-type]
                  jobs=2, select=("KP0304", "KP0204"))
    assert not result.errors
    assert hits(result, "KP0304") == [("KP0304", 24, "app"), ("KP0304", 69, "app")]
    assert not hits(result, "KP0204")


def test_image_cache_spares_the_registry_on_the_next_run(tmp_path: Path,
                                                         replica: object) -> None:
    host = replica.host  # type: ignore[attr-defined]
    count = replica.requests  # type: ignore[attr-defined]
    path = tmp_path / "pod.yaml"
    path.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\n"
                    f"spec:\n  containers:\n    - name: a\n      image: {host}/team/app:1.0\n")
    cache = tmp_path / "cache"
    args = ("scan", str(path), "--check-images", "--insecure-registry", host, "--no-config",
            "--image-cache", str(cache), "--select", "KP0204,KP0103", "-f", "json")
    env = {"DOCKER_CONFIG": str(tmp_path)}
    for _ in range(2):
        proc = kp(*args, env=env)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["findings"] == []
    # the first run fetched the index, the platform manifest and the config;
    # the second found all three in the cache
    assert count("/manifests/") == 2 and count("/blobs/") == 1


# ---------------------------------------------------------------- the CLI


def test_cli_reports_registries_and_never_a_credential(tmp_path: Path,
                                                       basic_registry: Seeded) -> None:
    paths, _ = _private(tmp_path, basic_registry)
    reg = basic_registry.reg
    docker = tmp_path / "docker"
    docker.mkdir()
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (docker / "config.json").write_text(json.dumps({"auths": {reg.host: {"auth": auth}}}))
    report = tmp_path / "report.json"
    proc = kp("scan", *map(str, paths), "--check-images", "--registry-ca", str(reg.ca_file),
                   "--no-config", "-f", "text", "-f", "json", "-o", "-", "-o", str(report),
                   env={"DOCKER_CONFIG": str(docker)})
    assert proc.returncode == 1, proc.stderr
    assert "Registries" in proc.stdout and reg.host in proc.stdout
    assert "KP0304" in proc.stdout
    doc = json.loads(report.read_text())
    [row] = doc["registries"]
    assert row["host"] == reg.host and row["reachable"] is True and row["auth"] == "basic"
    assert isinstance(row["latencyMs"], float)
    everything = proc.stdout + proc.stderr + report.read_text()
    for secret in (PASSWORD, auth, base64.b64encode(PASSWORD.encode()).decode()):
        assert secret not in everything
    # kubeproof report renders the run again, registries included
    again = kp("report", str(report), "-f", "json")
    assert again.stdout == report.read_text()
    text = kp("report", str(report), "-f", "text", "--no-color")
    assert "Registries" in text.stdout and reg.host in text.stdout


def test_cli_registry_auth_reads_the_password_from_the_environment(
        tmp_path: Path, basic_registry: Seeded) -> None:
    reg = basic_registry.reg
    paths, _ = _private(tmp_path, basic_registry)
    paths[1].write_text(paths[1].read_text().replace("team/app:1.0", "team/app:7.7"))
    empty = tmp_path / "nodocker"
    empty.mkdir()
    base = ("scan", *map(str, paths), "--check-images", "--registry-ca", str(reg.ca_file),
            "--no-config", "--select", "KP0204", "-f", "json")
    env = {"DOCKER_CONFIG": str(empty), "KP_TEST_PW": PASSWORD}
    proc = kp(*base, "--registry-auth", f"{reg.host}={USER}:KP_TEST_PW", env=env)
    assert proc.returncode == 1, proc.stderr
    assert [f["line"] for f in json.loads(proc.stdout)["findings"]] == [12, 34, 46, 58]
    assert PASSWORD not in proc.stdout + proc.stderr
    unset = kp(*base, "--registry-auth", f"{reg.host}={USER}:KP_UNSET_VAR", env=env)
    assert unset.returncode == 2
    assert unset.stderr.strip() == (f"kubeproof: error: --registry-auth {reg.host}: "
                                    "environment variable KP_UNSET_VAR is not set")
    bad = kp(*base, "--registry-auth", f"{reg.host}={USER}", env=env)
    assert bad.returncode == 2 and "expected HOST=USER:VAR" in bad.stderr
    assert "Traceback" not in unset.stderr + bad.stderr


def test_cli_bad_registry_flags_are_one_line_errors(tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
                    "  containers: [{name: a, image: nginx}]\n")
    for flags, text in ((("--platform", "linux"), "platform 'linux'"),
                        (("--registry-ca", str(tmp_path / "none.pem")), "no such file")):
        proc = kp("scan", str(path), "--check-images", "--no-config", *flags)
        assert proc.returncode == 2 and text in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    alone = kp("scan", str(path), "--no-config", "--insecure-registry", "x:5000",
                    "--select", "KP0101")
    assert alone.returncode == 1
    assert alone.stderr == ("kubeproof: warning: --insecure-registry does nothing without "
                            "--check-images\n")


# ---------------------------------------------------------------- plumbing


def test_index_halves_are_attached_to_their_rules_once() -> None:
    from kubeproof.core.catalogue import index_half, load_rules

    rules = load_rules()
    assert {c for c, r in rules.items() if r.index_check is not None} == {"KP0103", "KP0301"}
    with pytest.raises(ValueError, match="has an index half already"):
        index_half("KP0103")(lambda index, ctx: iter(()))
    with pytest.raises(ValueError, match="unknown rule"):
        index_half("KP9999")(lambda index, ctx: iter(()))


def test_credentials_are_kept_only_under_check_images(tmp_path: Path,
                                                      basic_registry: Seeded) -> None:
    from kubeproof.api import scan

    paths, opts = _private(tmp_path, basic_registry)
    plain = scan([str(p) for p in paths])
    assert plain.index is not None and not plain.index.keep_credentials
    assert all(s.credentials is None for s in plain.index.secrets.values())
    checked = check(paths, settings(**opts))  # type: ignore[arg-type]
    assert checked.index is not None
    right = checked.index.secrets[("shop", "right")]
    assert right.credentials is not None
    [creds] = right.credentials[basic_registry.reg.host]
    assert creds.username == USER and PASSWORD not in repr(right)
    assert checked.index.secrets[("shop", "corrupt")].credentials is None


def test_placeholders_never_reach_a_registry(tmp_path: Path, replica: object) -> None:
    host = replica.host  # type: ignore[attr-defined]
    (tmp_path / "templated.yaml").write_text(f"""apiVersion: v1
kind: Pod
metadata: {{name: p, namespace: shop}}
spec:
  containers:
    - {{name: org, image: "{host}/${{ORG}}/app:1.0"}}
    - {{name: tag, image: "{host}/team/app:${{TAG}}"}}
    - {{name: docs, image: "{host}/PROJECT_ID/app:latest"}}
""")
    from kubeproof.api import scan

    count = replica.requests  # type: ignore[attr-defined]
    pings = count("GET /v2/ ")
    result = scan([str(tmp_path)], check_images=settings(insecure=(host,)),
                  select=("KP0203", "KP0204", "KP0304", "KP0101"))
    assert {f.rule.code for f in result.findings} == {"KP0101"}  # the literal tag, offline
    assert count("GET /v2/ ") == pings and count("/manifests/") == 0
