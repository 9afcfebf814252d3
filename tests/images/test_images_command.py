"""``kubeproof images``: the image inventory, offline and resolved against the
real registries of the harness, in text and JSON, on a fixture set and on the
examples of the main checkout."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.support.cli import kp
from tests.support.images import render
from tests.support.paths import EXAMPLES
from tests.support.registries import PASSWORD, USER, Seeded


def _shop(tmp_path: Path, plain: Seeded, private: Seeded | None = None) -> Path:
    return render("inventory/shop.yaml", tmp_path, {
        "PLAIN": plain.reg.host, "PRIVATE": private.reg.host if private else "ghcr.io/acme",
        "USER": USER, "PASSWORD": PASSWORD})


def test_offline_json_lists_each_image_once_with_its_uses(tmp_path: Path,
                                                          plain_registry: Seeded) -> None:
    path = _shop(tmp_path, plain_registry)
    proc = kp("images", str(path), "-f", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert "registries" not in doc and doc["errors"] == []
    by_image = {i["image"]: i for i in doc["images"]}
    app = by_image[f"{plain_registry.reg.host}/team/app:1.0"]
    assert app["registry"] == plain_registry.reg.host and app["repository"] == "team/app"
    assert app["tag"] == "1.0" and app["digest"] is None and app["resolved"] is None
    assert [(u["line"], u["kind"], u["namespace"], u["name"], u["container"])
            for u in app["uses"]] == [(16, "Deployment", "shop", "web", "web"),
                                      (36, "CronJob", "shop", "report", "report")]
    assert all(u["file"] == str(path) for u in app["uses"])
    debian = by_image["debian:12"]
    assert debian["registry"] == "docker.io" and debian["repository"] == "library/debian"
    assert debian["base"] == {"verdict": "full", "name": "full Debian distribution base"}
    assert by_image["ghcr.io/acme/team/single:v1"]["uses"][0]["line"] == 38
    assert PASSWORD not in proc.stdout


def test_offline_text(tmp_path: Path, plain_registry: Seeded) -> None:
    path = _shop(tmp_path, plain_registry)
    proc = kp("images", str(path))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Images (3)" in out and "Registries" not in out
    assert f"{path}:16" in out and f"{path}:36" in out and f"{path}:38" in out
    assert "CronJob/shop/report [report]" in out
    assert "full Debian distribution base" in out
    assert "resolved" not in out


def test_check_images_resolves_each_image(tmp_path: Path, plain_registry: Seeded,
                                          basic_registry: Seeded) -> None:
    path = _shop(tmp_path, plain_registry, basic_registry)
    # debian:12 would go to Docker Hub: send it to a port nobody listens on
    path.write_text(path.read_text().replace("debian:12", "127.0.0.1:1/library/debian:12"))
    flags = ("--check-images", "--insecure-registry", plain_registry.reg.host,
             "--insecure-registry", "127.0.0.1:1", "--registry-ca",
             str(basic_registry.reg.ca_file))
    env = {"DOCKER_CONFIG": str(tmp_path)}
    proc = kp("images", str(path), "-f", "json", *flags, env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    by_image = {i["image"]: i for i in doc["images"]}
    app = by_image[f"{plain_registry.reg.host}/team/app:1.0"]["resolved"]
    assert app["outcome"] == "ok"
    assert app["digest"] == plain_registry.digests["team/app:1.0"]
    assert app["platformDigest"] == plain_registry.images["app:amd64"].manifest.digest
    assert (app["os"], app["architecture"], app["user"]) == ("linux", "amd64", "1000")
    assert app["size"] == plain_registry.images["app:amd64"].compressed_size
    assert app["sizeKind"] == "compressed"
    assert "docker.io/library/alpine:3.19" in app["baseHints"]
    # the private image was resolved with the CronJob's pull secret
    private = by_image[f"{basic_registry.reg.host}/team/single:v1"]["resolved"]
    assert private["outcome"] == "ok"
    assert private["digest"] == basic_registry.digests["team/single:v1"]
    down = by_image["127.0.0.1:1/library/debian:12"]["resolved"]
    assert down["outcome"] == "error" and "connection refused" in down["error"]
    rows = {r["host"]: r for r in doc["registries"]}
    assert rows[plain_registry.reg.host]["reachable"] is True
    assert rows[basic_registry.reg.host]["auth"] == "basic"
    assert rows["127.0.0.1:1"]["reachable"] is False
    assert isinstance(rows[plain_registry.reg.host]["latencyMs"], float)

    text = kp("images", str(path), *flags, env=env)
    assert text.returncode == 0, text.stderr
    assert "Registries" in text.stdout and "connection refused" in text.stdout
    assert plain_registry.digests["team/app:1.0"][:19] in text.stdout
    assert "linux/amd64" in text.stdout
    for out in (proc, text):
        assert PASSWORD not in out.stdout + out.stderr


def _image_lines(path: Path) -> dict[str, int]:
    """The line of every ``image:`` field of a manifest, by image."""
    out: dict[str, int] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        m = re.match(r"\s*(?:-\s*)?image:\s*\"?([^\s\"#]+)", line)
        if m:
            out.setdefault(m.group(1), n)
    return out


def test_examples_of_the_main_checkout() -> None:
    proc = kp("images", str(EXAMPLES), "-f", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    expected = {}
    for file in sorted(EXAMPLES.rglob("*.yaml")):
        if "policies" in file.relative_to(EXAMPLES).parts:  # examples/.kubeproofignore
            continue
        for image, line in _image_lines(file).items():
            expected.setdefault(image, []).append((str(file), line))
    got = {i["image"]: [(u["file"], u["line"]) for u in i["uses"]] for i in doc["images"]}
    assert got == expected and got
    text = kp("images", str(EXAMPLES))
    assert text.returncode == 0, text.stderr
    for image, uses in expected.items():
        for file, line in uses:
            assert f"{file}:{line}" in text.stdout
        assert image.split("@")[0][:20] in text.stdout


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
                   "  containers:\n    - name: a\n      image: Not/Valid:Image\n"
                   "---\nkind: [unclosed\n")
    proc = kp("images", str(bad), "-f", "json")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    [entry] = doc["images"]
    assert entry["image"] == "Not/Valid:Image" and "lowercase" in entry["error"]
    assert len(doc["errors"]) == 1
    # a path that does not exist ends the command: one line, no inventory
    proc = kp("images", str(bad), str(tmp_path / "missing.yaml"), "-f", "json")
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and "no such file" in proc.stderr


def test_custom_pod_template_kinds_come_from_the_config(tmp_path: Path) -> None:
    (tmp_path / "rollout.yaml").write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: web, namespace: shop}\n"
        "spec:\n  template:\n    spec:\n      containers:\n"
        "        - name: web\n          image: ghcr.io/acme/web:1.0\n")
    (tmp_path / ".kubeproof.yaml").write_text(
        "workloads:\n  podTemplatePaths:\n    Rollout: spec.template\n")
    proc = kp("images", "rollout.yaml", "-f", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    [entry] = json.loads(proc.stdout)["images"]
    assert entry["image"] == "ghcr.io/acme/web:1.0"
    assert [(u["line"], u["kind"]) for u in entry["uses"]] == [(9, "Rollout")]
    plain = kp("images", "rollout.yaml", "-f", "json", "--no-config", cwd=tmp_path)
    assert json.loads(plain.stdout)["images"] == []
    broken = kp("images", "rollout.yaml", "--config", "nope.yaml", cwd=tmp_path)
    assert broken.returncode == 2 and broken.stderr.startswith("kubeproof: error: nope.yaml")
