"""Image rules: messages, containers, the base classification, Dockerfile parsing
and folders; the per-file cases are fixtures in tests/rules/KP01xx/ and KP020x/."""

import inspect
from pathlib import Path

import pytest

from kubeproof.api import scan
from kubeproof.core.config import Config, ConfigError, load_config
from kubeproof.k8s.imageref import parse_image
from kubeproof.rules import p01_images as images
from kubeproof.sources.dockerfile import instructions, load_dockerfile, parse_dockerfile
from tests.helpers import FIXTURES, findings

DOCKERFILES = FIXTURES / "images" / "dockerfiles"
HERE = Path(__file__).parent


def kp(code: str, name: str) -> Path:
    """A fixture of tests/rules/KPxxxx/, where the per-file cases of the image rules are."""
    return HERE / code / name


# ---------------------------------------------------------------- KP0101


def test_tag_mutable_messages_and_paths() -> None:
    got = findings(kp("KP0101", "fail-deployment.yaml"), "KP0101")
    assert [x.container for x in got] == ["init", "web"]
    assert got[0].message == ('container "init" image "busybox" has no tag, '
                              'so it pulls the mutable tag "latest"')
    assert got[1].message == 'container "web" image "nginx:latest" uses the mutable tag "latest"'
    assert got[0].path == "spec.template.spec.initContainers[0].image"


def test_tag_mutable_names_ephemeral_containers() -> None:
    got = findings(kp("KP0101", "fail-ephemeral-and-registry-port.yaml"), "KP0101")
    assert [x.container for x in got] == ["app", "debugger"]


def test_tag_mutable_branch_like_tag_message() -> None:
    got = findings(kp("KP0101", "fail-branch-tags.yaml"), "KP0101")
    assert [x.container for x in got] == ["main", "master", "nightly", "channel"]
    assert got[0].message == ('container "main" image "ghcr.io/acme/web:main" uses the '
                              'branch-like tag "main", which is moved to each new build '
                              "pushed under it")


def test_images_mutable_tags_config_is_type_checked(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("images:\n  mutableTags: [main, rc]\n")
    assert load_config(good).mutable_tags == ["main", "rc"]
    assert "stable" in load_config(None).mutable_tags
    for bad in ("mutableTags: main", "mutableTags: [main, 1]", "mutableTags: {a: b}"):
        path = tmp_path / "bad.yaml"
        path.write_text(f"images:\n  {bad}\n")
        with pytest.raises(ConfigError, match="mutableTags"):
            load_config(path)


# ---------------------------------------------------------------- placeholders

def test_placeholder_messages_show_the_reference() -> None:
    got = findings(kp("KP0101", "fail-placeholders.yaml"), "KP0101")
    assert got[0].message == ('container "env-registry" image "${REGISTRY}/app:latest" '
                              'uses the mutable tag "latest"')
    assert got[2].message.endswith('has no tag, so it pulls the mutable tag "latest"')


# ---------------------------------------------------------------- KP0102


def test_not_pinned_message() -> None:
    got = findings(kp("KP0102", "fail-deployment.yaml"), "KP0102")[2]
    assert got.message == 'container "sidecar" image "ghcr.io/acme/sidecar:1.2.0" ' \
                          "is not pinned by digest"


# ---------------------------------------------------------------- KP0103


def test_base_not_minimal_messages() -> None:
    got = findings(kp("KP0103", "fail-full-bases.yaml"), "KP0103")
    assert got[0].message == ('container "migrate" image "python:3.12" is the full python '
                              "image; use a slim, alpine, minimal or distroless variant")
    assert "full Ubuntu distribution base" in got[2].message
    assert got[-1].container == "job" and got[-1].kind == "CronJob"


@pytest.mark.parametrize(("image", "verdict"), [
    ("python", "full"),
    ("python:3.12-windowsservercore", "full"),
    ("python:3.12-nanoserver", "minimal"),
    ("node:lts", "full"),
    ("node:lts-slim", "minimal"),
    ("golang:1.23-alpine", "minimal"),
    ("rust:1-slim-bookworm", "minimal"),
    ("openjdk:17-jdk-slim", "minimal"),
    ("eclipse-temurin:21-jre", "full"),
    ("eclipse-temurin:21-jre-ubi9-minimal", "minimal"),
    ("debian:12", "full"),
    ("debian:stable-slim", "minimal"),
    ("oraclelinux:9-slim", "minimal"),
    ("almalinux:9-micro", "minimal"),
    ("registry-1.docker.io/library/ubuntu:24.04", "full"),
    ("mirror.gcr.io/ubuntu:24.04", "full"),
    ("mirror.gcr.io/library/ubuntu:24.04", "full"),
    ("public.ecr.aws/docker/library/python:3.12-alpine", "minimal"),
    ("registry.fedoraproject.org/fedora-minimal:40", "minimal"),
    ("registry.access.redhat.com/ubi9/ubi-micro", "minimal"),
    ("cgr.dev/chainguard/python:latest", "minimal"),
    ("gcr.io/distroless/static", "minimal"),
    ("alpine:3.20", "minimal"),
    ("scratch", "minimal"),
    ("ubuntu@sha256:" + "0" * 64, "unknown"),
    ("nginx:1.27", "unknown"),
    ("acme/ubuntu:22.04", "unknown"),
    ("ghcr.io/library/python:3.12", "unknown"),
    ("slimtools/slim:1", "unknown"),
])
def test_classify_base(image: str, verdict: str) -> None:
    ref = parse_image(image)
    assert not ref.invalid
    assert images.classify_base(ref)[0] == verdict


def test_every_table_entry_is_documented() -> None:
    doc = inspect.getdoc(images.image_base_not_minimal) or ""
    for key in (*images.FULL_OS_IMAGES, *images.FULL_LANGUAGE_IMAGES):
        last = key.rsplit("/", 1)[-1]
        assert f"`{key}`" in doc or f"{last}`" in doc, key


# ---------------------------------------------------------------- KP0201


def test_registry_implicit_message() -> None:
    got = findings(kp("KP0201", "fail-deployment.yaml"), "KP0201")
    assert [x.container for x in got] == ["init", "web"]
    assert got[0].message == ('container "init" image "busybox" names no registry and is '
                              "pulled from Docker Hub (docker.io)")


# ---------------------------------------------------------------- KP0202

ALLOWED = Config(allowed_registries=["ghcr.io/acme", "docker.io/library",
                                     "registry.example.com:5000"])


def test_registry_not_allowed_messages() -> None:
    got = findings(kp("KP0202", "fail-paths.yaml"), "KP0202", config=ALLOWED)
    assert got[0].message == ('container "other-org" image "ghcr.io/acme-evil/web:1.0" comes '
                              "from registry ghcr.io, which is not in images.allowedRegistries")
    assert "registry docker.io (implicit)" in got[2].message


# ---------------------------------------------------------------- KP0104


def test_dockerfile_full_base_unpinned_and_root() -> None:
    path = DOCKERFILES / "full" / "Dockerfile"
    got = findings(path, "KP0104")
    assert [(x.line, x.path) for x in got] == [
        (2, "stages[0].from"), (2, "stages[0].from"), (2, "stages[0].user")]
    assert [x.message for x in got] == [
        'final stage builds on "python:3.12", the full python image; use a distroless, '
        "alpine, slim or minimal base",
        'final stage base "python:3.12" is not pinned by digest',
        "final stage never sets a non-root USER, so containers run as the base image's "
        "user (usually root)",
    ]
    assert got[0].kind == "Dockerfile" and got[0].name == str(path)
    assert got[0].container is None


def test_dockerfile_user_root_message() -> None:
    got = findings(DOCKERFILES / "app.Dockerfile", "KP0104")
    assert got[2].message == "final stage runs as USER root; switch to a non-root user"


def test_dockerfile_inherited_user_and_inline_ignore() -> None:
    result = scan([str(DOCKERFILES / "inherited" / "Dockerfile")], select=["KP0104"])
    assert not result.errors and result.findings == []
    # the full aspnet base (line 3) is reported but suppressed by the comment above it
    assert result.suppressed["comment"] == 1


def test_scanning_a_folder_picks_up_dockerfiles() -> None:
    result = scan([str(DOCKERFILES)], select=["KP0104"])
    assert not result.errors
    assert result.files == 7 and result.objects == 6
    assert result.kinds["Dockerfile"] == 6
    by_file = sorted({(x.file.rsplit("dockerfiles/", 1)[-1], x.line) for x in result.findings})
    assert by_file == [("app.Dockerfile", 4), ("app.Dockerfile", 13), ("full/Dockerfile", 2),
                       ("scratch/Containerfile", 6)]
    assert [w.message for w in result.warnings] == [
        "no FROM instruction: not a Dockerfile, skipped"]


def test_dockerfile_object_shape() -> None:
    obj, table = parse_dockerfile((DOCKERFILES / "app.Dockerfile").read_text())
    assert obj["apiVersion"] == "kubeproof.dev/v1" and obj["kind"] == "Dockerfile"
    assert obj["args"] == {"BASE": "ubuntu:22.04", "APP_USER": "root"}
    base, final = obj["stages"]
    assert base == {"from": "ubuntu:22.04", "fromRaw": "${BASE}", "as": "base",
                    "platform": "linux/amd64", "line": 4, "stageRef": None,
                    "base": "ubuntu:22.04", "baseStage": 0, "user": None,
                    "userResolved": True, "userLine": None}
    assert final["as"] == "final" and final["stageRef"] == 0 and final["baseStage"] == 0
    assert (final["user"], final["userLine"]) == ("root", 13)
    assert table == [(4, 1, None, 1), (11, 1, 13, 1)]


def test_dockerfile_locator_falls_back_to_the_stage_line() -> None:
    loaded = load_dockerfile("Dockerfile", "FROM a:1 AS x\nRUN true\nFROM x\n")
    (located,) = loaded.objects
    origin = located.resource.origin
    loc = loaded.locator
    assert loc is not None
    assert loc.locate(origin, None, 0, ("stages", 1, "user")) == (3, 1)
    assert loc.locate(origin, None, 0, ("stages", 0, "from")) == (1, 1)
    assert loc.locate(origin, None, 0, ("stages", 9, "from")) == (1, 1)
    assert loc.locate(origin, None, 0, ("metadata", "name")) == (1, 1)
    assert loc.line_text(2) == "RUN true" and loc.line_text(99) == ""


def test_empty_dockerfile_is_a_warning() -> None:
    loaded = load_dockerfile("Dockerfile", "\n\n")
    assert loaded.objects == [] and loaded.errors == []
    assert [w.message for w in loaded.warnings] == ["empty file, nothing to scan"]


@pytest.mark.parametrize(("text", "want"), [
    ("FROM a\nrun x \\\n  y\n", [("FROM", "a", 1), ("RUN", "x y", 2)]),
    ("FROM a\nRUN x \\   \n\n  # c\n  y\nUSER 1\n",
     [("FROM", "a", 1), ("RUN", "x y", 2), ("USER", "1", 6)]),
    ("# escape=`\nFROM a\nRUN x `\n  y \\\nUSER 1\n",
     [("FROM", "a", 2), ("RUN", "x y \\", 3), ("USER", "1", 5)]),
    ("# c\n# escape=`\nFROM a\nRUN x `\nUSER 1\n",
     [("FROM", "a", 3), ("RUN", "x `", 4), ("USER", "1", 5)]),
    ("FROM a\nCOPY <<A <<'B' /x\nFROM b\nA\nUSER root\nB\nUSER 1\n",
     [("FROM", "a", 1), ("COPY", "<<A <<'B' /x", 2), ("USER", "1", 7)]),
    ("FROM a\nRUN echo $((1<<2))\nUSER 1\n",
     [("FROM", "a", 1), ("RUN", "echo $((1<<2))", 2), ("USER", "1", 3)]),
    ("  FROM\ta\n", [("FROM", "a", 1)]),
])
def test_instruction_lexer(text: str, want: list[tuple[str, str, int]]) -> None:
    assert [(i.keyword, i.args, i.line) for i in instructions(text)] == want


@pytest.mark.parametrize(("text", "base", "user"), [
    ("ARG V=3.12\nARG IMG=python:${V}\nFROM $IMG\n", "python:3.12", None),
    ("ARG IMG\nFROM ${IMG:-node:20}\n", "node:20", None),
    ("ARG IMG=\nFROM ${IMG:-node:20}\n", "node:20", None),
    ("ARG IMG=\nFROM ${IMG-node:20}\n", None, None),
    ("ARG TAG=1\nFROM a:${TAG:+2}\n", "a:2", None),
    ("FROM --platform=$BUILDPLATFORM a:1 AS b\n", "a:1", None),
    ("FROM a:1\nARG UID=1000\nUSER ${UID}:0\n", "a:1", "1000:0"),
    ("ARG UID=7\nFROM a:1\nUSER $UID\n", "a:1", "$UID"),  # global ARG not redeclared
    ("ARG UID=7\nFROM a:1\nARG UID\nUSER $UID\n", "a:1", "7"),
    ("FROM a:1 AS p\nENV U=app\nFROM p\nUSER $U\n", "a:1", "app"),
    ("FROM a:1 AS p\nARG U=app\nFROM p\nUSER $U\n", "a:1", "$U"),  # ARGs are per stage
    ("FROM A:1 AS P\nFROM p\n", "A:1", None),  # stage names are case-insensitive
    ("FROM later\nFROM a:1 AS later\nFROM later\n", "a:1", None),
])
def test_dockerfile_substitution(text: str, base: str | None, user: str | None) -> None:
    obj, _ = parse_dockerfile(text)
    final = obj["stages"][-1]
    assert (final["base"], final["user"]) == (base, user)


def test_documentation_next_to_a_dockerfile_is_not_read_as_one() -> None:
    from kubeproof.sources.files import is_dockerfile

    assert [n for n in ("Dockerfile", "Dockerfile.prod", "app.Dockerfile", "Containerfile",
                        "Dockerfile.md", "dockerfile.go", "Dockerfile.yaml", "README.md")
            if is_dockerfile(n)] == ["Dockerfile", "Dockerfile.prod", "app.Dockerfile",
                                     "Containerfile"]
