"""kubeproof's own image (deploy/image/build.py): built twice, pushed, resolved, run.

The build downloads Debian packages (apt) and wheels (PyPI) into a temporary
cache; the image is pushed to Debian's docker-registry on loopback and run
from its unpacked root filesystem with ``unshare --mount`` + ``chroot``: root
mounted read-only, a tmpfs on /tmp and the inputs bind-mounted read-only, as
a pod with ``readOnlyRootFilesystem`` and an emptyDir would run it. Needs
root (CI runs as root), apt lists (.ci/run updates them) and docker-registry.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shlex
import shutil
import ssl
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from kubeproof.webhook.certs import make_ca, make_serving_cert
from tests.support.cli import kp
from tests.support.paths import ROOT
from tests.support.registry_server import (
    RunningRegistry,
    free_port,
    start_registry,
    stop_registry,
)
from tests.support.scanning import hits

BUILD = ROOT / "deploy" / "image" / "build.py"
REPOSITORY = "tools/kubeproof"
MIB = 1 << 20


def host_tool(name: str) -> str:
    """A host program's absolute path (the image's PATH is in the environment)."""
    path = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    assert path, f"{name} is not installed on this host: the image tests run it"
    return path


@dataclass
class Built:
    summary: dict[str, Any]
    config: dict[str, Any]
    layer: bytes
    registry: RunningRegistry

    @property
    def rootfs(self) -> Path:
        return Path(self.summary["rootfs"])

    @property
    def reference(self) -> str:
        return str(self.summary["pushed"]["reference"])


def build(out: Path, cache: Path, *extra: str) -> dict[str, Any]:
    env = os.environ | {"PYTHONPATH": str(ROOT / "src"), "SOURCE_DATE_EPOCH": "0"}
    proc = subprocess.run([sys.executable, str(BUILD), "--out", str(out), "--cache", str(cache),
                           *extra], capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, f"the image build failed:\n{proc.stdout}\n{proc.stderr}"
    summary: dict[str, Any] = json.loads(proc.stdout)
    return summary


def _blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("image-cache")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, cache: Path) -> Iterator[Built]:
    assert os.geteuid() == 0, ("running the image's root filesystem (chroot, mounts) needs "
                               "root: run these tests as root, as CI does")
    reg = start_registry(tmp_path_factory.mktemp("image-registry"))
    try:
        summary = build(tmp_path_factory.mktemp("image"), cache,
                        "--push", f"{reg.host}/{REPOSITORY}:0.1.0", "--insecure-registry")
        layout = Path(summary["layout"])
        manifest = json.loads(_blob(layout, summary["digest"]))
        config = json.loads(_blob(layout, manifest["config"]["digest"]))
        yield Built(summary, config, _blob(layout, manifest["layers"][0]["digest"]), reg)
    finally:
        stop_registry(reg)


def in_image(image: Built, argv: list[str], mounts: dict[str, Path] | None = None,
             ) -> list[str]:
    """The command line running the image's entrypoint with ``argv`` in its root
    filesystem: read-only root, tmpfs /tmp, ``mounts`` (image path: host dir)
    bound read-only, the image's user."""
    root = shlex.quote(str(image.rootfs))
    mount = host_tool("mount")
    steps = [f"{mount} --bind {root} {root}", f"{mount} -o remount,bind,ro {root}",
             f"{mount} -t tmpfs -o size=16m tmpfs {root}/tmp"]
    for inside, host in (mounts or {}).items():
        target = shlex.quote(f"{image.rootfs}{inside}")
        steps += [f"{mount} --bind {shlex.quote(str(host))} {target}",
                  f"{mount} -o remount,bind,ro {target}"]
    command = [*image.config["config"]["Entrypoint"], *argv]
    steps.append(f"exec {host_tool('chroot')} --userspec={image.config['config']['User']} {root} "
                 + shlex.join(command))
    return [host_tool("unshare"), "--mount", "--",
            host_tool("sh"), "-c",
            " && ".join(steps)]


def image_env(image: Built) -> dict[str, str]:
    return dict(e.split("=", 1) for e in image.config["config"]["Env"])


def test_two_builds_of_one_commit_give_the_same_digest(built: Built, cache: Path,
                                                       tmp_path: Path) -> None:
    again = build(tmp_path / "again", cache)
    assert again["digest"] == built.summary["digest"]
    assert again["compressedSize"] == built.summary["compressedSize"]


def test_the_image_is_small_and_runs_as_a_numeric_non_root_user(built: Built) -> None:
    assert built.summary["compressedSize"] < 80 * MIB
    config = built.config["config"]
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"] == ["/usr/bin/python3.11", "-m", "kubeproof"]
    assert built.config["rootfs"]["diff_ids"]


def test_the_root_filesystem_has_no_shell_no_package_manager_and_owns_nothing(
        built: Built) -> None:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(built.layer))) as tar:
        members = tar.getmembers()
    names = {m.name for m in members}
    assert "usr/bin/python3.11" in names
    programs = {n for n in names if n.startswith(("bin/", "usr/bin/", "sbin/", "usr/sbin/"))}
    assert programs == {"usr/bin/python3.11"}
    for tool in ("sh", "bash", "dash", "busybox", "dpkg", "apt", "apt-get", "pip", "pip3"):
        assert not [m.name for m in members
                    if m.name.rsplit("/", 1)[-1] == tool and not m.isdir()], tool
    assert all((m.uid, m.gid) == (0, 0) for m in members)
    assert all(m.mtime == 0 for m in members)
    writable = [m.name for m in members if m.mode & 0o022 and not m.issym()]
    assert writable == ["tmp"]
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert "var/lib/dpkg/status.d/python3.11-minimal" in names  # what scanners read


def test_kubeproof_images_resolves_it_and_kp0103_finds_it_minimal(
        built: Built, tmp_path: Path) -> None:
    manifest = tmp_path / "webhook.yaml"
    manifest.write_text(f"""apiVersion: v1
kind: Pod
metadata:
  name: kubeproof
spec:
  containers:
    - name: webhook
      image: {built.reference}
""")
    host = built.registry.host
    flags = ("--check-images", "--insecure-registry", host)
    proc = kp("images", str(manifest), "-f", "json", *flags)
    assert proc.returncode == 0, proc.stderr
    resolved = json.loads(proc.stdout)["images"][0]["resolved"]
    assert resolved["outcome"] == "ok"
    assert resolved["digest"] == built.summary["digest"]
    assert (resolved["os"], resolved["architecture"], resolved["user"]) == \
        ("linux", "amd64", "65532:65532")
    assert resolved["size"] == built.summary["compressedSize"]
    assert not any("debian" in hint for hint in resolved["baseHints"])
    proc = kp("scan", str(manifest), "--select", "KP0103", "-f", "json", *flags)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["findings"] == []
    # judged by its size: a limit under it is reported
    config = tmp_path / "small.yaml"
    config.write_text("images:\n  maxSizeMiB: 10\n")
    proc = kp("scan", str(manifest), "--select", "KP0103", "-f", "json",
                   "--config", str(config), *flags)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # medium: under the fail level
    [finding] = json.loads(proc.stdout)["findings"]
    assert "over images.maxSizeMiB (10 MiB)" in finding["message"]


def test_webhook_install_output_is_pinned_to_the_pushed_digest(built: Built,
                                                                tmp_path: Path) -> None:
    """The documented steps: install --image TAG, then fix --pin-digests."""
    host = built.registry.host
    tagged = f"{host}/{REPOSITORY}:0.1.0"
    out = tmp_path / "webhook.yaml"
    proc = kp("webhook", "install", "--image", tagged, "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    proc = kp("fix", "--pin-digests", "--select", "KP0102", "--insecure-registry", host,
                   "--no-config", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"image: {tagged}@{built.summary['digest']}" in out.read_text()


def test_version_and_a_scan_run_in_the_read_only_root_filesystem(built: Built) -> None:
    started = time.monotonic()
    proc = subprocess.run(in_image(built, ["--version"]), capture_output=True, text=True,
                          env=image_env(built), timeout=60)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"kubeproof, version {built.summary['version']}"
    assert elapsed < 5, f"kubeproof --version took {elapsed:.1f} s in the image"
    proc = subprocess.run(
        in_image(built, ["scan", "/home/nonroot/bad", "-f", "json", "--no-config"],
                 {"/home/nonroot": ROOT / "examples"}),
        capture_output=True, text=True, env=image_env(built), timeout=120)
    assert proc.returncode == 1, proc.stderr
    codes = {f["code"] for f in json.loads(proc.stdout)["findings"]}
    assert {"KP0101", "KP0201"} <= codes


def test_webhook_serve_answers_healthz_over_tls_in_the_image(built: Built,
                                                             tmp_path: Path) -> None:
    ca = make_ca()
    serving = make_serving_cert(ca, ["localhost"], ["127.0.0.1"])
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "tls.crt").write_bytes(serving.cert_pem)
    (certs / "tls.key").write_bytes(serving.key_pem)
    for path in (certs, *certs.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    port = free_port()
    argv = ["webhook", "serve", "--tls-cert", "/home/nonroot/tls.crt", "--tls-key",
            "/home/nonroot/tls.key", "--host", "127.0.0.1", "--port", str(port), "--no-config"]
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(in_image(built, argv, {"/home/nonroot": certs}),
                               stdout=log, stderr=subprocess.STDOUT, env=image_env(built))
    context = ssl.create_default_context(cadata=ca.cert_pem.decode())
    try:
        deadline = time.monotonic() + 30
        with httpx.Client(verify=context, timeout=2) as http:
            while True:
                assert process.poll() is None, (tmp_path / "serve.log").read_text()
                try:
                    resp = http.get(f"https://127.0.0.1:{port}/healthz")
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                    time.sleep(0.2)
        assert resp.status_code == 200
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def test_the_dockerfile_passes_kp0104_and_mirrors_the_build() -> None:
    dockerfile = ROOT / "Dockerfile"
    for code in ("KP0101", "KP0102", "KP0103", "KP0104"):
        assert hits(dockerfile, code) == [], code
    text = dockerfile.read_text()
    assert "USER 65532:65532" in text
    assert 'ENTRYPOINT ["/usr/bin/python3", "-m", "kubeproof"]' in text
    assert "deploy/image/requirements.txt" in text
