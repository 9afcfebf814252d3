"""``kubeproof fix --pin-digests`` against the real registry: images get the
digest their tag resolves to, a rescan passes KP0101 and KP0102, and a second
run changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproof.api import scan
from tests.support.cli import kp
from tests.support.images import render
from tests.support.registries import PASSWORD, USER, Seeded
from tests.support.registry_server import Pusher


@pytest.fixture(scope="module")
def latest(plain_registry: Seeded) -> dict[str, str]:
    """``latest`` tags for the KP0101 cases."""
    pusher = Pusher(plain_registry.reg)
    try:
        return {name: pusher.image(f"team/{name}", "latest", plain_registry.images[name])
                for name in ("single", "plain")}
    finally:
        pusher.close()


def _findings(path: Path) -> list[tuple[str, int, str | None]]:
    result = scan([str(path)], select=("KP0101", "KP0102"))
    assert not result.errors
    return sorted((f.rule.code, f.line, f.container) for f in result.findings)


def _workloads(tmp_path: Path, plain: Seeded) -> Path:
    return render("pin/workloads.yaml", tmp_path, {
        "PLAIN": plain.reg.host, "DIGEST_APP": plain.digests["team/app:1.0"]})


def test_pin_digests_then_rescan_passes(tmp_path: Path, plain_registry: Seeded,
                                        latest: dict[str, str]) -> None:
    host = plain_registry.reg.host
    path = _workloads(tmp_path, plain_registry)
    before = path.read_text()
    assert _findings(path) == [("KP0101", 17, "init"), ("KP0101", 22, "side"),
                               ("KP0102", 17, "init"), ("KP0102", 20, "web"),
                               ("KP0102", 22, "side"), ("KP0102", 26, "gone")]
    cmd = ("fix", str(path), "--no-config", "--pin-digests", "--insecure-registry", host,
           "--select", "KP0101,KP0102")
    proc = kp(*cmd, env={"DOCKER_CONFIG": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert "fixed 1 of 1 file" in proc.stdout
    # the image that is gone is left alone, with one line saying why
    [warning] = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert f"{host}/team/gone:2.0: not pinned" in warning and "not-found" in warning

    after = path.read_text()
    app = plain_registry.digests["team/app:1.0"]
    expected = before.replace(
        f'"{host}/team/single:latest"   # quoted',
        f'"{host}/team/single:latest@{latest["single"]}" # quoted').replace(
        f"image: {host}/team/app:1.0\n", f"image: {host}/team/app:1.0@{app}\n").replace(
        f"image: {host}/team/plain\n", f"image: {host}/team/plain:latest@{latest['plain']}\n")
    assert after == expected
    assert "# the web tier" in after
    # KP0101 and KP0102 pass, except for the image that does not exist
    assert _findings(path) == [("KP0102", 26, "gone")]

    again = kp(*cmd, env={"DOCKER_CONFIG": str(tmp_path)})
    assert again.returncode == 0 and "fixed 0 of 1 file" in again.stdout
    assert path.read_text() == after, "a second run must change nothing"


def test_the_index_digest_is_pinned_for_any_platform(tmp_path: Path,
                                                     plain_registry: Seeded) -> None:
    host = plain_registry.reg.host
    path = tmp_path / "pod.yaml"
    path.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec:\n"
                    f"  containers:\n    - name: a\n      image: {host}/team/app:1.0\n")
    proc = kp("fix", str(path), "--no-config", "--pin-digests", "--insecure-registry",
                   host, "--platform", "linux/arm64", "--select", "KP0102",
                   env={"DOCKER_CONFIG": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert f"image: {host}/team/app:1.0@{plain_registry.digests['team/app:1.0']}\n" \
        in path.read_text()


def test_without_pin_digests_images_are_left_alone(tmp_path: Path,
                                                   plain_registry: Seeded) -> None:
    path = _workloads(tmp_path, plain_registry)
    before = path.read_text()
    proc = kp("fix", str(path), "--no-config", "--select", "KP0101,KP0102",
                   "--platform", "linux/arm64")
    assert proc.returncode == 0, proc.stderr
    assert path.read_text() == before
    assert "kubeproof: warning: --platform does nothing without --pin-digests" in proc.stderr


def test_unreachable_registry_pins_nothing_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    text = ("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec:\n"
            "  containers:\n    - name: a\n      image: 127.0.0.1:1/team/app:1.0\n")
    path.write_text(text)
    proc = kp("fix", str(path), "--no-config", "--pin-digests", "--insecure-registry",
                   "127.0.0.1:1", "--select", "KP0102", env={"DOCKER_CONFIG": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert "connection refused" in proc.stderr and "Traceback" not in proc.stderr
    assert path.read_text() == text


def test_private_registry_with_registry_auth(tmp_path: Path, basic_registry: Seeded) -> None:
    reg = basic_registry.reg
    path = tmp_path / "pod.yaml"
    path.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec:\n"
                    f"  containers:\n    - name: a\n      image: {reg.host}/team/single:v1\n")
    base = ("fix", str(path), "--no-config", "--pin-digests", "--registry-ca", str(reg.ca_file),
            "--select", "KP0102")
    env = {"DOCKER_CONFIG": str(tmp_path), "KP_PIN_PW": PASSWORD}
    refused = kp(*base, env=env)
    assert refused.returncode == 0 and "unauthorized" in refused.stderr
    proc = kp(*base, "--registry-auth", f"{reg.host}={USER}:KP_PIN_PW", env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"@{basic_registry.digests['team/single:v1']}" in path.read_text()
    assert PASSWORD not in proc.stdout + proc.stderr + refused.stdout + refused.stderr
