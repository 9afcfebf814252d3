import pytest

from kubeproof.imageref import ImageRef, parse_image, split_registry_prefix

D = "sha256:" + "0123456789abcdef" * 4

# original -> (registry, repository, tag, digest, explicit_registry, explicit_tag)
VALID = [
    ("nginx", ("docker.io", "library/nginx", "latest", None, False, False)),
    ("nginx:1.27", ("docker.io", "library/nginx", "1.27", None, False, True)),
    ("nginx:latest", ("docker.io", "library/nginx", "latest", None, False, True)),
    ("bitnami/redis:7.2", ("docker.io", "bitnami/redis", "7.2", None, False, True)),
    ("docker.io/nginx", ("docker.io", "library/nginx", "latest", None, True, False)),
    ("docker.io/library/nginx:1", ("docker.io", "library/nginx", "1", None, True, True)),
    ("index.docker.io/nginx", ("docker.io", "library/nginx", "latest", None, True, False)),
    ("index.docker.io/bitnami/redis", ("docker.io", "bitnami/redis", "latest", None, True,
                                       False)),
    ("registry-1.docker.io/nginx", ("registry-1.docker.io", "nginx", "latest", None, True,
                                    False)),
    ("ghcr.io/acme/web:1.0", ("ghcr.io", "acme/web", "1.0", None, True, True)),
    ("ghcr.io/acme/team/web", ("ghcr.io", "acme/team/web", "latest", None, True, False)),
    ("localhost/app", ("localhost", "app", "latest", None, True, False)),
    ("localhost:5000/a:b", ("localhost:5000", "a", "b", None, True, True)),
    ("registry:5000/a", ("registry:5000", "a", "latest", None, True, False)),
    ("10.0.0.1:5000/a/b:c", ("10.0.0.1:5000", "a/b", "c", None, True, True)),
    ("[::1]:5000/app:1", ("[::1]:5000", "app", "1", None, True, True)),
    # no '/': always Docker Hub, so this is repository "localhost" with tag "5000"
    ("localhost:5000", ("docker.io", "library/localhost", "5000", None, False, True)),
    # an uppercase first component is a host, as in distribution/reference
    ("Registry/app", ("Registry", "app", "latest", None, True, False)),
    ("REGISTRY.example.com/app:V1", ("REGISTRY.example.com", "app", "V1", None, True, True)),
    (f"nginx@{D}", ("docker.io", "library/nginx", None, D, False, False)),
    (f"nginx:1.27@{D}", ("docker.io", "library/nginx", "1.27", D, False, True)),
    (f"nginx:latest@{D}", ("docker.io", "library/nginx", "latest", D, False, True)),
    (f"ghcr.io:443/a/b:c@{D}", ("ghcr.io:443", "a/b", "c", D, True, True)),
    ("a.b/c__d/e-f--g/h.i_j:T_1.2-3", ("a.b", "c__d/e-f--g/h.i_j", "T_1.2-3", None, True, True)),
    ("ghcr.io", ("docker.io", "library/ghcr.io", "latest", None, False, False)),
    ("example:tag", ("docker.io", "library/example", "tag", None, False, True)),
]


@pytest.mark.parametrize(("text", "want"), VALID, ids=[v[0] for v in VALID])
def test_valid_references(text: str, want: tuple[object, ...]) -> None:
    ref = parse_image(text)
    assert ref.error is None, ref.error
    assert not ref.invalid and not ref.placeholder
    got = (ref.registry, ref.repository, ref.tag, ref.digest, ref.explicit_registry,
           ref.explicit_tag)
    assert got == want
    assert ref.original == text


# original -> substring of the error, placeholder flag
INVALID = [
    ("", "empty", False),
    ("CONTAINER_IMAGE", "lowercase", False),
    ("acme/Web:1", "lowercase", False),
    ("REGION-docker.pkg.dev/PROJECT_ID/repo/app:v1", "lowercase", False),
    ("nginx:", "invalid tag", False),
    ("nginx:-bad", "invalid tag", False),
    ("nginx:" + "t" * 129, "invalid tag", False),
    ("x:y:z", "invalid repository", False),
    ("ghcr.io/", "invalid repository", False),
    ("/nginx", "invalid repository", False),
    ("ghcr.io//a", "invalid repository", False),
    ("a/-b", "invalid repository", False),
    ("a/b_", "invalid repository", False),
    ("a/b...c", "invalid repository", False),
    ("-host.io/a", "invalid registry host", False),
    ("host.io:port/a", "invalid registry host", False),
    ("nginx@sha256:abc", "invalid digest", False),
    ("nginx@sha256:" + "A" * 64, "lowercase hex", False),
    ("nginx@sha256:" + "a" * 63, "64 lowercase hex", False),
    ("nginx@md5:" + "a" * 32, "unsupported digest", False),
    (f"@{D}", "invalid repository", False),
    ("a" * 64, "image ID", False),
    ("a/" + "b" * 260, "longer than 255", False),
    (" nginx", "whitespace", False),
    ("nginx\n", "whitespace", False),
    ("${IMAGE_URI}", "placeholder", True),
    ("$IMAGE", "placeholder", True),
    ("$(REPORT_IMAGE)", "placeholder", True),
    ("$LOCATION-docker.pkg.dev/$PROJECT/app:latest", "placeholder", True),
    ("${EXT:-ghcr.io/a/b:main}", "placeholder", True),
    ("{{ .Values.image }}", "placeholder", True),
    ("<image_url>", "placeholder", True),
    ("<DOCKER_REPO>/chatbot:1.0", "placeholder", True),
    ("gcr.io/<<PROJECT>>/jax/hello:latest", "placeholder", True),
    ("%{IMAGE}", "placeholder", True),
]


@pytest.mark.parametrize(("text", "error", "placeholder"), INVALID,
                         ids=[v[0][:40] or "empty" for v in INVALID])
def test_invalid_references_are_marked_not_raised(text: str, error: str,
                                                  placeholder: bool) -> None:
    ref = parse_image(text)
    assert ref.invalid
    assert ref.error is not None and error in ref.error
    assert ref.placeholder is placeholder
    assert ref.registry == "" and ref.repository == "" and ref.name == ""
    assert not ref.mutable_tag and not ref.pinned


@pytest.mark.parametrize("value", [None, 42, ["nginx"], {"name": "nginx"}, 1.5, True])
def test_non_string_values_are_invalid(value: object) -> None:
    ref = parse_image(value)
    assert ref.invalid and "not a string" in (ref.error or "")


@pytest.mark.parametrize(("text", "mutable", "pinned"), [
    ("nginx", True, False),
    ("nginx:latest", True, False),
    ("nginx:1.27", False, False),
    (f"nginx:latest@{D}", False, True),
    (f"nginx@{D}", False, True),
    ("nginx:Latest", False, False),
])
def test_mutable_and_pinned(text: str, mutable: bool, pinned: bool) -> None:
    ref = parse_image(text)
    assert (ref.mutable_tag, ref.pinned) == (mutable, pinned)


@pytest.mark.parametrize(("text", "name", "familiar", "canonical"), [
    ("nginx", "docker.io/library/nginx", "nginx", "docker.io/library/nginx:latest"),
    ("bitnami/redis:7", "docker.io/bitnami/redis", "bitnami/redis",
     "docker.io/bitnami/redis:7"),
    (f"ghcr.io/a/b@{D}", "ghcr.io/a/b", "ghcr.io/a/b", f"ghcr.io/a/b@{D}"),
    (f"ghcr.io/a/b:1@{D}", "ghcr.io/a/b", "ghcr.io/a/b", f"ghcr.io/a/b:1@{D}"),
])
def test_names(text: str, name: str, familiar: str, canonical: str) -> None:
    ref = parse_image(text)
    assert (ref.name, ref.familiar_name, ref.canonical()) == (name, familiar, canonical)


@pytest.mark.parametrize(("image", "prefix", "inside"), [
    ("nginx", "docker.io", True),
    ("nginx", "docker.io/library", True),
    ("nginx", "index.docker.io", True),
    ("bitnami/redis", "docker.io/library", False),
    ("bitnami/redis", "docker.io/bitnami", True),
    ("ghcr.io/acme/web", "ghcr.io", True),
    ("ghcr.io/acme/web", "GHCR.IO/acme", True),
    ("ghcr.io/acme/web", "https://ghcr.io/acme/", True),
    ("ghcr.io/acme/web", "ghcr.io/acme/web", True),
    ("ghcr.io/acme-evil/web", "ghcr.io/acme", False),
    ("ghcr.io/acme/web", "ghcr.io/acme/web/extra", False),
    ("ghcr.io/acme/web", "quay.io", False),
    ("ghcr.io.evil.com/acme/web", "ghcr.io", False),
    ("localhost:5000/a", "localhost:5000", True),
    ("localhost:5000/a", "localhost", False),
    ("${IMAGE}", "docker.io", False),
])
def test_in_registry(image: str, prefix: str, inside: bool) -> None:
    assert parse_image(image).in_registry(prefix) is inside


def test_split_registry_prefix() -> None:
    assert split_registry_prefix(" https://Index.Docker.IO/library/ ") == \
        ("docker.io", "library")
    assert split_registry_prefix("ghcr.io") == ("ghcr.io", "")


def test_results_are_frozen_and_shared() -> None:
    a, b = parse_image("nginx:1"), parse_image("nginx:1")
    assert isinstance(a, ImageRef) and a == b
    with pytest.raises(AttributeError):
        a.tag = "2"  # type: ignore[misc]
