"""Rules for practices 1 and 2: minimal, pinned images from a trusted registry.

Image references are parsed with :mod:`kubeproof.k8s.imageref` exactly as the
kubelet does. A reference with placeholders is judged on its literal parts
only: its tag and digest when they are literal (``${REGISTRY}/app:latest``),
its registry when that is literal (``gcr.io/${PROJECT}/app``); a reference
that is only a placeholder (``$IMAGE``, ``{{ .Values.image }}``) is never
judged, and neither is a missing or empty ``image`` (controllers and config
tools may fill it in). References the kubelet cannot parse are KP0002's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from kubeproof.core.catalogue import fix, index_half, rule
from kubeproof.core.context import Context
from kubeproof.core.fixing import FixSettings, put, targets
from kubeproof.core.index import Index
from kubeproof.images.check import OK, Judged, judged
from kubeproof.k8s.imageref import DEFAULT_TAG, DOCKER_HUB, ImageRef, parse_image
from kubeproof.k8s.workloads import ContainerView
from kubeproof.model import SAFE, Resource, SetViolation, Violation
from kubeproof.rules.common import quote

# Hosts that serve Docker Hub itself, and mirrors of Docker Hub's official
# ("library") images, with the path prefix the library images have there.
_HUB_HOSTS = frozenset({DOCKER_HUB, "registry-1.docker.io", "registry.hub.docker.com"})
_LIBRARY_MIRRORS: dict[str, tuple[str, ...]] = {
    "public.ecr.aws": ("docker/library/",),
    "mirror.gcr.io": ("library/", ""),
}

# Full-distribution OS bases, by key (see _base_key): a whole distribution
# userland (package manager, shell, coreutils) under the application.
FULL_OS_IMAGES: dict[str, str] = {
    "ubuntu": "Ubuntu",
    "debian": "Debian",
    "centos": "CentOS",
    "fedora": "Fedora",
    "amazonlinux": "Amazon Linux",
    "rockylinux": "Rocky Linux",
    "rockylinux/rockylinux": "Rocky Linux",
    "almalinux": "AlmaLinux",
    "oraclelinux": "Oracle Linux",
    "archlinux": "Arch Linux",
    "opensuse/leap": "openSUSE Leap",
    "opensuse/tumbleweed": "openSUSE Tumbleweed",
    "quay.io/centos/centos": "CentOS Stream",
    "quay.io/fedora/fedora": "Fedora",
    "registry.fedoraproject.org/fedora": "Fedora",
    "quay.io/rockylinux/rockylinux": "Rocky Linux",
    "quay.io/almalinuxorg/almalinux": "AlmaLinux",
    "public.ecr.aws/amazonlinux/amazonlinux": "Amazon Linux",
    "registry.opensuse.org/opensuse/leap": "openSUSE Leap",
    "registry.opensuse.org/opensuse/tumbleweed": "openSUSE Tumbleweed",
    "registry.access.redhat.com/ubi8": "Red Hat UBI",
    "registry.access.redhat.com/ubi8/ubi": "Red Hat UBI",
    "registry.access.redhat.com/ubi9": "Red Hat UBI",
    "registry.access.redhat.com/ubi9/ubi": "Red Hat UBI",
    "registry.access.redhat.com/ubi10/ubi": "Red Hat UBI",
    "registry.redhat.io/ubi8/ubi": "Red Hat UBI",
    "registry.redhat.io/ubi9/ubi": "Red Hat UBI",
    "registry.redhat.io/ubi10/ubi": "Red Hat UBI",
    "buildpack-deps": "buildpack-deps (Debian plus build toolchains)",
}

# Language images whose default variant sits on a full Debian/Ubuntu base while
# a slim, alpine, distroless or chiseled variant exists.
FULL_LANGUAGE_IMAGES: dict[str, str] = {
    "python": "python",
    "pypy": "pypy",
    "node": "node",
    "golang": "golang",
    "openjdk": "openjdk",
    "eclipse-temurin": "eclipse-temurin",
    "amazoncorretto": "amazoncorretto",
    "ruby": "ruby",
    "php": "php",
    "perl": "perl",
    "rust": "rust",
    "elixir": "elixir",
    "erlang": "erlang",
    "haskell": "haskell",
    "swift": "swift",
    "mcr.microsoft.com/dotnet/sdk": ".NET SDK",
    "mcr.microsoft.com/dotnet/aspnet": "ASP.NET",
    "mcr.microsoft.com/dotnet/runtime": ".NET runtime",
    "mcr.microsoft.com/dotnet/runtime-deps": ".NET runtime-deps",
}

# A tag naming a minimal variant: python:3.12-slim, node:20-alpine3.19,
# almalinux:9-minimal, dotnet/aspnet:8.0-jammy-chiseled, ...
_MINIMAL_TAG = re.compile(
    r"(?:^|[-_.])(?:slim|alpine|distroless|minimal|micro|chiseled|nanoserver|busybox)"
    r"(?=$|[-_.0-9])")
_MINIMAL_KEYS = frozenset({"alpine", "busybox", "scratch"})
_MINIMAL_REGISTRIES = frozenset({"cgr.dev"})
_MINIMAL_SUFFIXES = ("-minimal", "-micro", "-distroless", "/distroless")

FULL, MINIMAL, UNKNOWN = "full", "minimal", "unknown"


def _base_key(ref: ImageRef) -> str:
    """``python`` for Docker Hub official images (and their mirrors), else
    ``registry/repository``."""
    repo = ref.repository
    if ref.registry in _HUB_HOSTS:
        if repo.startswith("library/") and "/" not in repo[8:]:
            return repo[8:]
        return repo
    for prefix in _LIBRARY_MIRRORS.get(ref.registry, ()):
        if repo.startswith(prefix) and "/" not in repo[len(prefix):]:
            return repo[len(prefix):]
    return f"{ref.registry}/{repo}"


def classify_base(ref: ImageRef) -> tuple[str, str]:
    """(``full``/``minimal``/``unknown``, description) of a valid reference."""
    key = _base_key(ref)
    tag = ref.tag
    tag_minimal = tag is not None and _MINIMAL_TAG.search(tag) is not None
    label = FULL_OS_IMAGES.get(key)
    kind = "OS"
    if label is None:
        label = FULL_LANGUAGE_IMAGES.get(key)
        kind = "language"
    if label is not None:
        if tag_minimal:
            return MINIMAL, label
        if tag is None:  # digest only: the variant is unknown
            return UNKNOWN, label
        return FULL, f"full {label} {'distribution base' if kind == 'OS' else 'image'}"
    repo = ref.repository
    if (key in _MINIMAL_KEYS or ref.registry in _MINIMAL_REGISTRIES
            or "/distroless/" in f"/{repo}/" or repo.endswith(_MINIMAL_SUFFIXES)
            or tag_minimal):
        return MINIMAL, key
    return UNKNOWN, key


def _images(res: Resource) -> Iterator[tuple[ContainerView, ImageRef]]:
    """Containers whose image is valid or has literal parts to judge (each rule
    checks ``registry_known``/``tag_known`` for the part it judges)."""
    pod = res.pod
    if pod is None:
        return
    for c in pod.containers:
        image = c.data.get("image")
        if image is None or image == "":
            continue
        ref = parse_image(image)
        if not ref.invalid or ref.registry_known or ref.tag_known:
            yield c, ref


def _about(c: ContainerView, ref: ImageRef) -> str:
    return f"container {quote(c.name)} image {quote(ref.original)}"


@rule("KP0101", "image-tag-mutable", practice=1, severity="high", pods=True)
def image_tag_mutable(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Image with no tag, the tag `latest` or a branch-like tag, and no digest.

    What:
        A container (init, regular or ephemeral) whose `image` has no tag, the
        tag `latest`, or a branch-like tag, and is not pinned by `@sha256:`
        digest. A reference without tag and digest pulls `latest`. Branch-like
        tags are those of `images.mutableTags` (default `latest`, `main`,
        `master`, `head`, `develop`, `dev`, `edge`, `nightly`, `stable`,
        `canary`) and any tag ending in `-latest`, compared ignoring case.

    Why:
        These tags move: CI pushes each new build of a branch, a nightly or a
        channel under the same tag. Two nodes pulling at different times run
        different code, a rollback re-pulls whatever is current, and nobody
        can say from the manifest what is deployed. With `imagePullPolicy`
        defaulting to `Always` for `latest`, every pod start also depends on
        the registry.

    How:
        Use an immutable version tag (`nginx:1.27.2`), ideally with its digest
        (`nginx:1.27.2@sha256:...`).

        References with placeholders are judged on their literal tag
        (`${REGISTRY}/app:latest` is flagged); a tag that is a placeholder,
        or a reference that is one (`${IMAGE}`, `{{ .Values.image }}`), is
        not judged.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
            - name: web
              image: ghcr.io/acme/web:1.4.2
        ```
    """
    tags = ctx.config.mutable_tags if isinstance(ctx.config.mutable_tags, list) else []
    for c, ref in _images(res):
        if not ref.moving_tag([DEFAULT_TAG, *tags]):
            continue
        if not ref.explicit_tag:
            how = 'has no tag, so it pulls the mutable tag "latest"'
        elif ref.tag == DEFAULT_TAG:
            how = 'uses the mutable tag "latest"'
        else:
            how = (f"uses the branch-like tag {quote(ref.tag)}, which is moved to each new "
                   "build pushed under it")
        yield Violation((*c.path, "image"), f"{_about(c, ref)} {how}", container=c.name)


@fix("KP0101", safety=SAFE, needs_registry=True,
     why="the digest is the one the tag resolves to now: the same image is pulled")
def pin_digest(res: Resource, settings: FixSettings) -> bool:
    """Pin images on `latest` (written or implied) or a branch-like tag to their
    digest, keeping the tag (`nginx` becomes `nginx:latest@sha256:...`)."""
    return _pin(res, settings, "KP0101", mutable_only=True)


@rule("KP0102", "image-not-pinned", practice=1, severity="low", pods=True)
def image_not_pinned(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Image not pinned by digest.

    What:
        A container whose `image` has no `@sha256:` (or other) digest.

    Why:
        Tags are mutable pointers: a registry, a compromised account or a
        re-push can change what `app:1.4.2` means. A digest names the exact
        bytes that were tested and scanned, and the kubelet verifies it on pull.

    How:
        Append the digest to the tag (`image: app:1.4.2@sha256:<digest>`);
        `kubeproof fix --pin-digests` asks the registries and does it, `crane
        digest app:1.4.2` or `docker buildx imagetools inspect` prints it,
        and Renovate or Dependabot keep it current.

        A reference with placeholders is judged when its tag and digest are
        literal (`${REGISTRY}/app:1.4.2` is flagged, `app:${TAG}` is not).

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
          - name: web
            image: web:1.4.2@sha256:3f9a7c2e3f9a7c2e3f9a7c2e3f9a7c2e3f9a7c2e3f9a7c2e3f9a7c2e3f9a7c2e
        ```
    """
    for c, ref in _images(res):
        if ref.tag_known and not ref.pinned:
            yield Violation((*c.path, "image"), f"{_about(c, ref)} is not pinned by digest",
                            container=c.name)


@fix("KP0102", safety=SAFE, needs_registry=True,
     why="the digest is the one the tag resolves to now: the same image is pulled")
def pin_tag_digest(res: Resource, settings: FixSettings) -> bool:
    """Pin images to the digest their tag resolves to, keeping the tag."""
    return _pin(res, settings, "KP0102", mutable_only=False)


def _pin(res: Resource, settings: FixSettings, code: str, *, mutable_only: bool) -> bool:
    """Append ``@digest`` to the unpinned images (those on ``latest`` only, for
    KP0101) whose digest ``settings.resolve_digest`` knows, writing an implied
    ``:latest`` out so the pin still says which tag it came from."""
    resolve = settings.resolve_digest
    pod = res.pod
    if resolve is None or pod is None:
        return False
    changed = False
    for c in targets(pod, settings, code):
        image = c.data.get("image")
        if not isinstance(image, str):
            continue
        ref = parse_image(image)
        if ref.invalid or ref.pinned or (
                mutable_only and not ref.moving_tag((DEFAULT_TAG, *settings.mutable_tags))):
            continue
        digest = resolve(image)
        if digest and re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
            tagged = image if ref.explicit_tag else f"{image}:latest"
            changed |= put(c.data, "image", f"{tagged}@{digest}")
    return changed


@rule("KP0103", "image-base-not-minimal", practice=1, severity="medium", pods=True)
def image_base_not_minimal(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Image that is a full OS distribution or a full-size language image.

    What:
        A container whose image is itself a full-distribution base or the
        default (full) variant of a language image that has a minimal one.
        The offline check knows these images, matched on Docker Hub official
        images (`python`, `docker.io/library/python`, and the mirrors
        `public.ecr.aws/docker/library/*`, `mirror.gcr.io/*`) and on the
        listed registries:

        - OS bases: `ubuntu`, `debian`, `centos`, `fedora`, `amazonlinux`,
          `rockylinux`, `almalinux`, `oraclelinux`, `archlinux`,
          `opensuse/leap`, `opensuse/tumbleweed`, `buildpack-deps`,
          `rockylinux/rockylinux`, `quay.io/centos/centos`,
          `quay.io/fedora/fedora`, `registry.fedoraproject.org/fedora`,
          `quay.io/rockylinux/rockylinux`, `quay.io/almalinuxorg/almalinux`,
          `public.ecr.aws/amazonlinux/amazonlinux`,
          `registry.opensuse.org/opensuse/leap`,
          `registry.opensuse.org/opensuse/tumbleweed`, Red Hat UBI standard
          images (`registry.access.redhat.com/ubi8`, `.../ubi8/ubi`,
          `.../ubi9`, `.../ubi9/ubi`, `.../ubi10/ubi`, and the same on
          `registry.redhat.io`).
        - Language images: `python`, `pypy`, `node`, `golang`, `openjdk`,
          `eclipse-temurin`, `amazoncorretto`, `ruby`, `php`, `perl`, `rust`,
          `elixir`, `erlang`, `haskell`, `swift`, and
          `mcr.microsoft.com/dotnet/` `sdk`, `aspnet`, `runtime`,
          `runtime-deps`.

        A tag naming a minimal variant passes: one containing `slim`,
        `alpine`, `distroless`, `minimal`, `micro`, `chiseled`, `nanoserver`
        or `busybox` as a dash/dot-separated word (`3.12-slim-bookworm`,
        `20-alpine3.19`, `9-minimal`, `8.0-jammy-chiseled`). Unknown images
        and digest-only references (whose variant is unknown) are not judged.

    Why:
        A full distribution ships a package manager, a shell, compilers and
        hundreds of packages the application never uses: a larger attack
        surface, more CVEs to triage, slower pulls and cold starts.

    How:
        Build on a minimal base: a distroless or Chainguard image, `alpine`,
        or the `-slim`/`-minimal` variant of the same image.

        With `--check-images` the image itself is checked too (images the
        table above does not know): a base distribution named by its
        `org.opencontainers.image.base.name` label or annotation or by its
        build history (Debian, Ubuntu, CentOS, ...), and a size over
        `images.maxSizeMiB` (default 300): the uncompressed size when the
        registry tells it, else the compressed size of the layers.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
            - name: api
              image: python:3.12-slim
        ```
    """
    for c, ref in _images(res):
        if ref.invalid:
            continue
        verdict, label = classify_base(ref)
        if verdict == FULL:
            yield Violation((*c.path, "image"), f"{_about(c, ref)} is the {label}; use a "
                            "slim, alpine, minimal or distroless variant", container=c.name)


MIB = 1024 * 1024


def registry_violation(j: Judged, message: str) -> SetViolation:
    """A finding at the image of a container the registry was asked about."""
    return SetViolation(j.workload.ref, j.path,
                        f"container {quote(j.container.name)} image {quote(j.ref.original)}: "
                        f"{message}", container=j.container.name)


@index_half("KP0103")
def image_base_from_registry(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """KP0103 from the image itself: its base is a full distribution, or it is
    larger than ``images.maxSizeMiB``. Images the offline half flags already
    are left to it."""
    facts = ctx.facts.images
    if facts is None:
        return
    limit = ctx.config.max_image_size_mib
    for j in judged(index, facts):
        info = j.info
        if info.outcome != OK or classify_base(j.ref)[0] == FULL:
            continue
        base = next((b for b in info.base_hints if _full_base(b)), None)
        if base is not None:
            yield registry_violation(j, f"is built on {quote(base)}, the {_full_base(base)}; "
                                        f"use a slim, alpine, minimal or distroless base")
            continue
        size, how = (info.uncompressed_size, "uncompressed") if info.uncompressed_size else \
            (info.compressed_size, "compressed")
        if size and size > limit * MIB:
            yield registry_violation(j, f"is {size / MIB:.0f} MiB ({how}), over "
                                        f"images.maxSizeMiB ({limit} MiB)")


def _full_base(base: str) -> str | None:
    """How KP0103 describes a base image (a name from the image's label or
    history: ``ubuntu``, ``docker.io/library/debian:12``) that is a full
    distribution; ``None`` for any other."""
    ref = parse_image(base)
    if ref.invalid:
        return None
    verdict, label = classify_base(ref)
    return label if verdict == FULL else None


@rule("KP0201", "image-registry-implicit", practice=2, severity="medium", pods=True)
def image_registry_implicit(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Image reference without a registry host.

    What:
        A container whose `image` does not start with a registry host (a first
        component containing `.` or `:`, or `localhost`), so the runtime
        silently pulls it from Docker Hub (`docker.io`).

    Why:
        Docker Hub rate-limits anonymous and free pulls and makes no uptime
        promise; a node that cannot pull cannot start pods. An implicit host
        also hides where the software comes from and defeats registry
        allow-lists and pull-through mirrors configured per host.

    How:
        Write the registry explicitly, preferably a registry or mirror you
        control (`registry.example.com/library/nginx:1.27`); at least
        `docker.io/library/nginx:1.27`.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
            - name: web
              image: docker.io/library/nginx:1.27.2
        ```
    """
    for c, ref in _images(res):
        if ref.registry_known and not ref.explicit_registry:
            yield Violation((*c.path, "image"), f"{_about(c, ref)} names no registry and is "
                            f"pulled from Docker Hub ({DOCKER_HUB})", container=c.name)


@rule("KP0202", "image-registry-not-allowed", practice=2, severity="high", pods=True)
def image_registry_not_allowed(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Image from a registry that is not in `images.allowedRegistries`.

    What:
        When `images.allowedRegistries` is configured, a container whose image
        does not come from one of its entries. An entry is a host
        (`ghcr.io`, `registry.example.com:5000`) or a host with a path prefix
        (`ghcr.io/acme`), matched on whole path components (`ghcr.io/acme`
        does not admit `ghcr.io/acme-evil`). An image without a registry host
        is on `docker.io` (official images under `docker.io/library`).
        Without the setting the rule does nothing. A registry that is a
        placeholder (`${REGISTRY}/app`) is not judged, nor a path placeholder
        an entry's path prefix depends on (`ghcr.io/${ORG}/app` against
        `ghcr.io/acme`).

    Why:
        Pulling only from registries you trust and monitor is what makes
        scanning, signing and availability guarantees mean anything; an
        image from anywhere else bypasses them.

    How:
        Mirror or rebuild the image into an allowed registry and reference it
        there, or add the registry to `images.allowedRegistries`.

    Example:
        ```yaml
        # .kubeproof.yaml: images: {allowedRegistries: [registry.example.com]}
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
            - name: web
              image: registry.example.com/web/frontend:2.3.0
        ```
    """
    allowed = [a for a in ctx.config.allowed_registries if isinstance(a, str) and a.strip()]
    if not allowed:
        return
    for c, ref in _images(res):
        answers = [ref.registry_match(a) for a in allowed]
        if ref.registry_known and not any(answers) and None not in answers:
            where = ref.registry if ref.explicit_registry else f"{ref.registry} (implicit)"
            yield Violation((*c.path, "image"), f"{_about(c, ref)} comes from registry "
                            f"{where}, which is not in images.allowedRegistries",
                            container=c.name)


# ---------------------------------------------------------------- Dockerfiles

_NONROOT_TAG = re.compile(r"(?:^|[-_.])nonroot(?=$|[-_.])")


@rule("KP0104", "dockerfile-base-not-minimal", practice=1, severity="medium",
      kinds={"Dockerfile"})
def dockerfile_base_not_minimal(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Dockerfile whose final stage is not minimal, not pinned, or runs as root.

    What:
        A Dockerfile found in the scanned paths (`Dockerfile`, `Containerfile`,
        `*.Dockerfile`, `Dockerfile.*`) whose final stage, after resolving
        `ARG` defaults and `FROM <stage>` references to the image underneath:

        - builds on a full OS or language image (the KP0103 table; `scratch`,
          distroless, Chainguard, `alpine`, `-slim` and `-minimal` bases are
          minimal, unknown images are not judged);
        - names that image without an `@sha256:` digest (`scratch` excepted);
        - never switches to a non-root `USER` (no `USER`, or `USER root`/`0`),
          unless the base is a distroless `nonroot` image.

        Each finding points at the instruction to change: the `FROM` that
        names the image, or the `USER` line (the final `FROM` when absent).

    Why:
        The final stage is what ships. Build toolchains belong in earlier
        stages; an unpinned base changes under a rebuild; an image that runs
        as root makes every container root unless each manifest overrides it.

    How:
        Use a multi-stage build whose last stage is distroless, Chainguard,
        `alpine` or a `-slim` variant pinned by digest, and end with a numeric
        non-root `USER`.

        References built from `ARG`s without defaults are not judged.

    Example:
        ```dockerfile
        FROM golang:1.23 AS build
        RUN CGO_ENABLED=0 go build -o /app ./cmd/app
        FROM gcr.io/distroless/static-debian12@sha256:0f1e...c9
        COPY --from=build /app /app
        USER 65532:65532
        ENTRYPOINT ["/app"]
        ```
    """
    stages = res.obj.get("stages")
    if not isinstance(stages, list) or not stages or not all(isinstance(s, dict) for s in stages):
        return
    final_index = len(stages) - 1
    final = stages[final_index]
    base = final.get("base")
    base_stage = final.get("baseStage")
    if not isinstance(base_stage, int) or not 0 <= base_stage < len(stages):
        base_stage = final_index
    ref: ImageRef | None = None
    if isinstance(base, str) and base.lower() != "scratch":
        parsed = parse_image(base)
        if not parsed.invalid:
            ref = parsed
            path = ("stages", base_stage, "from")
            verdict, label = classify_base(ref)
            if verdict == FULL:
                yield Violation(path, f'final stage builds on "{base}", the {label}; use a '
                                "distroless, alpine, slim or minimal base")
            if not ref.pinned:
                yield Violation(path, f'final stage base "{base}" is not pinned by digest')

    # The effective USER: the final stage's last USER, else its parent stage's.
    where: int | None = final_index
    user: object = None
    user_stage = final_index
    seen: set[int] = set()
    while where is not None and where not in seen:
        seen.add(where)
        stage = stages[where]
        if stage.get("userLine") is not None:
            user, user_stage = stage.get("user"), where
            if stage.get("userResolved") is False:
                return
            break
        parent = stage.get("stageRef")
        where = parent if isinstance(parent, int) and 0 <= parent < len(stages) else None
    if user is None:
        if ref is not None and ref.tag is not None and _NONROOT_TAG.search(ref.tag) \
                and "distroless" in ref.repository:
            return
        yield Violation(("stages", final_index, "user"),
                        "final stage never sets a non-root USER, so containers run as the "
                        "base image's user (usually root)")
        return
    name = str(user).split(":", 1)[0].strip()
    if name in ("root", "0"):
        yield Violation(("stages", user_stage, "user"),
                        f"final stage runs as USER {name}; switch to a non-root user")
