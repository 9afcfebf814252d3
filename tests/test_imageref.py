import pytest

from kubeproof.k8s.imageref import ImageRef, parse_image, split_registry_prefix

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
    ("Nginx:latest", "'Nginx' must be lowercase", False),
    ("acme/Web:1", "lowercase", False),
    ("${REGISTRY}/App:1", "'App' must be lowercase", False),
    ("${REGISTRY}/a:-bad", "invalid tag", False),
    ("${REGISTRY}/a@sha256:abc", "invalid digest", False),
    ("ghcr.io/${ORG}/a//b", "invalid repository name '…/a//b'", False),
    ("-${X}.io/a", "invalid registry host", False),
    ("a\x00b", "control character", False),
    ("a\x1b[31mb", "control character", False),
    ("a" * 5000, "longer than 4096", False),
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
    ("CONTAINER_IMAGE", "placeholder", True),
    ("REGION-docker.pkg.dev/PROJECT_ID/repo/app:v1", "placeholder", True),
    ("${A:-${B:-${C}}}", "placeholder", True),
    ("${UNCLOSED/app:1", "placeholder", True),
    ("__IMAGE__", "placeholder", True),
    ("#{IMAGE}#", "placeholder", True),
]


@pytest.mark.parametrize(("text", "error", "placeholder"), INVALID,
                         ids=[v[0][:40] or "empty" for v in INVALID])
def test_invalid_references_are_marked_not_raised(text: str, error: str,
                                                  placeholder: bool) -> None:
    ref = parse_image(text)
    assert ref.invalid
    assert ref.error is not None and error in ref.error
    assert ref.placeholder is placeholder
    assert ref.repository == "" and ref.name == "" and ref.canonical() == text
    assert not ref.in_registry("docker.io")
    if not placeholder:
        assert ref.registry == "" and not ref.mutable_tag and not ref.pinned
        assert not (ref.registry_known or ref.tag_known)


# original -> (registry or None when unknown, tag and digest or None when
# unknown, explicit tag, literal path prefix, whole path known)
PARTIAL = [
    ("${REGISTRY}/app:latest", (None, ("latest", None), True, "", False)),
    ("$REGISTRY/app:1.0", (None, ("1.0", None), True, "", False)),
    ("{{ .Values.registry }}/app", (None, ("latest", None), False, "", False)),
    ("<registry>/team/app:main", (None, ("main", None), True, "", False)),
    ("us-central1-docker.pkg.dev/PROJECT_ID/repo/app:latest",
     ("us-central1-docker.pkg.dev", ("latest", None), True, "", False)),
    ("REGION-docker.pkg.dev/PROJECT_ID/REPOSITORY_NAME/app:v1",
     (None, ("v1", None), True, "", False)),
    ("us-central1-docker.pkg.dev/PROJECT_ID/gke/exporter",
     ("us-central1-docker.pkg.dev", ("latest", None), False, "", False)),
    ("gcr.io/acme/${APP}:2", ("gcr.io", ("2", None), True, "acme", False)),
    (f"gcr.io/${{PROJECT}}/app@{D}", ("gcr.io", (None, D), False, "", False)),
    (f"${{IMAGE}}@{D}", (None, (None, D), False, "", False)),
    ("acme/${APP}:1", ("docker.io", ("1", None), True, "acme", False)),
    ("nginx:${TAG}", ("docker.io", None, False, "library/nginx", True)),
    ("ghcr.io/acme/app:${TAG}", ("ghcr.io", None, False, "acme/app", True)),
    ("ghcr.io/acme/app:1@${DIGEST}", ("ghcr.io", None, False, "acme/app", True)),
    # a placeholder ending the name may carry tag and digest
    ("gcr.io/acme/${IMAGE}", ("gcr.io", None, False, "acme", False)),
    ("${IMAGE}:1.2", (None, ("1.2", None), True, "", False)),
    ("NGINX:latest", (None, ("latest", None), True, "", False)),
    ("__REGISTRY__/app:dev", (None, ("dev", None), True, "", False)),
    ("localhost:5000/${X}/a", ("localhost:5000", ("latest", None), False, "", False)),
]


@pytest.mark.parametrize(("text", "want"), PARTIAL, ids=[v[0] for v in PARTIAL])
def test_placeholders_keep_their_literal_parts(text: str, want: tuple[object, ...]) -> None:
    ref = parse_image(text)
    assert ref.invalid and ref.placeholder, ref.error
    registry, tag_digest, explicit_tag, prefix, path_known = want
    assert (ref.registry if ref.registry_known else None) == registry
    assert ((ref.tag, ref.digest) if ref.tag_known else None) == tag_digest
    assert (ref.explicit_tag, ref.path_prefix, ref.path_known) == (explicit_tag, prefix,
                                                                    path_known)
    assert ref.name == "" and ref.canonical() == text


@pytest.mark.parametrize("text", ["$IMAGE", "${IMAGE}", "{{ .Values.image }}", "<image>",
                                  "${EXT:-ghcr.io/a/b:main}", "CONTAINER_IMAGE", "${A}${B}",
                                  "$(IMAGE)"])
def test_whole_placeholders_know_nothing(text: str) -> None:
    ref = parse_image(text)
    assert ref.placeholder and not (ref.registry_known or ref.tag_known)
    assert not ref.mutable_tag and not ref.pinned


@pytest.mark.parametrize("text", ["REGISTRY.example.com/app:V1", "Registry/app"])
def test_uppercase_hosts_the_kubelet_accepts_are_not_placeholders(text: str) -> None:
    ref = parse_image(text)
    assert not ref.invalid and not ref.placeholder


@pytest.mark.parametrize("text", [
    "<" * 4000, "{{" * 2000, "${" * 2000, "$((" * 1300, "-__a" * 1000, "A_" * 2000,
    "<a" * 2000, "#{" * 2000, "${a}/" * 800, "a/" * 2000 + "b", "\u202e" * 100,
    "é" * 3000, "a@" * 2000, ":" * 4000, "x" * 10**6,
])
def test_hostile_references_are_bounded(text: str) -> None:
    ref = parse_image(text)
    assert ref.invalid and ref.error is not None
    assert len(ref.error) < 400


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
    ("nginx:Latest", True, False),
    ("nginx:main", True, False),
    ("nginx:MASTER", True, False),
    ("nginx:stable-latest", True, False),
    ("nginx:latest-1", False, False),
    ("nginx:main-1a2b3c", False, False),
    (f"nginx:main@{D}", False, True),
    ("${REGISTRY}/nginx:nightly", True, False),
    ("ghcr.io/a/b:${TAG}", False, False),
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


@pytest.mark.parametrize(("image", "prefix", "answer"), [
    ("ghcr.io/acme/web", "ghcr.io/acme", True),
    ("ghcr.io/${ORG}/web", "ghcr.io", True),
    ("ghcr.io/${ORG}/web", "ghcr.io/acme", None),
    ("ghcr.io/${ORG}/web", "quay.io", False),
    ("ghcr.io/acme/${APP}", "ghcr.io/acme", True),
    ("ghcr.io/acme/${APP}", "ghcr.io/other", False),
    ("ghcr.io/acme/${APP}", "ghcr.io/acme/web/x", None),
    ("ghcr.io/acme/web:${TAG}", "ghcr.io/acme/web/x", False),
    ("${REGISTRY}/web", "ghcr.io", None),
    ("Nginx", "docker.io", False),
])
def test_registry_match_answers_from_literal_parts(image: str, prefix: str,
                                                   answer: bool | None) -> None:
    assert parse_image(image).registry_match(prefix) is answer


def test_split_registry_prefix() -> None:
    assert split_registry_prefix(" https://Index.Docker.IO/library/ ") == \
        ("docker.io", "library")
    assert split_registry_prefix("ghcr.io") == ("ghcr.io", "")


def test_results_are_frozen_and_shared() -> None:
    a, b = parse_image("nginx:1"), parse_image("nginx:1")
    assert isinstance(a, ImageRef) and a == b
    with pytest.raises(AttributeError):
        a.tag = "2"  # type: ignore[misc]
