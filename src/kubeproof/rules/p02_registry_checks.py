"""Rules that ask the image registry (``--check-images``). The registry halves
of KP0103 and KP0301 live with their rules, in p01_images and p03_pull_secrets.

They run in the index phase, after :class:`kubeproof.images.check.ImageCheck`
resolved every distinct (image, credentials) pair of the set once, and read
its :class:`~kubeproof.images.check.ImageFacts` from ``Context.facts``.
Findings are per container, at the container's ``image`` field, so each one
has a file and a line; the report also lists each registry once with its
status and latency (``ScanResult.registries``).

Without ``--check-images`` the rules of scope ``registry`` are not selected.
"""

from __future__ import annotations

from collections.abc import Iterator

from kubeproof.core.catalogue import rule
from kubeproof.core.context import Context
from kubeproof.core.index import Index
from kubeproof.images.check import (
    ERROR,
    NOT_FOUND,
    UNAUTHORIZED,
    ImageFacts,
    judged,
)
from kubeproof.model import Needs, Scope, SetViolation
from kubeproof.rules.common import quote
from kubeproof.rules.p01_images import registry_violation


def registry_problem(facts: ImageFacts, registry: str) -> str | None:
    """Why a registry counts as unavailable, or ``None`` when it is fine."""
    status = facts.registries.get(registry)
    if status is None:
        return None
    took = f" in {status.latency_ms:.0f} ms" if status.latency_ms is not None else ""
    if not status.reachable:
        return f"registry {registry} is unavailable: {status.error or 'no answer'}{took}"
    if status.latency_ms is not None and status.latency_ms > facts.max_latency_ms:
        return (f"registry {registry} answered{took}, over images.maxLatencyMs "
                f"({facts.max_latency_ms} ms)")
    return None


@rule("KP0203", "registry-unavailable", practice=2, severity="high", scope=Scope.REGISTRY,
      needs=(Needs.IMAGES,))
def registry_unavailable(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Image registry unreachable, erroring, or slow.

    What:
        With `--check-images`: a container whose image's registry did not
        answer its `/v2/` endpoint (connection refused, DNS failure, TLS
        error, timeout), answered with a server error or not as a registry,
        answered slower than `images.maxLatencyMs` (default 2000), or failed
        to serve that image's manifest or config (a server error, a broken
        answer). One finding per container using that registry, at its
        `image`, naming the status and the latency; the report lists every
        registry once with its status and latency.

    Why:
        Every pod start, reschedule and scale-up pulls from the registry (at
        least on a new node). A registry that is down or slow turns a node
        failure into an outage: pods sit in `ImagePullBackOff` exactly when
        they are needed elsewhere.

    How:
        Pull from a registry with an availability promise close to your own,
        or put a pull-through mirror or cache in your own network and
        reference images through it.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
            - name: web
              image: registry.example.com/shop/web:2.3.0  # a mirror you operate
        ```
    """
    facts = ctx.facts.images
    if facts is None:
        return
    for j in judged(index, facts):
        problem = registry_problem(facts, j.ref.registry)
        if problem is None and j.info.outcome == ERROR:
            problem = f"registry {j.ref.registry} failed to serve it: {j.info.error}"
        if problem is not None:
            yield registry_violation(j, problem)


@rule("KP0204", "image-not-found", practice=2, severity="critical", scope=Scope.REGISTRY,
      needs=(Needs.IMAGES,))
def image_not_found(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Image tag or digest that does not exist in its registry.

    What:
        With `--check-images`: a container whose image's repository, tag or
        digest the registry does not have (its manifest request answered
        404, or the registry's error said `MANIFEST_UNKNOWN`,
        `NAME_UNKNOWN` or `BLOB_UNKNOWN`). For an index (multi-platform
        image) the `--platform` must be in it too. Images the registry
        refused to show (401/403) are not judged here but by KP0304 and
        KP0301, unless your own credentials (`--registry-auth`,
        `~/.docker/config.json`) could look.

    Why:
        The pod can never start: the kubelet retries the pull forever and the
        pod sits in `ErrImagePull` / `ImagePullBackOff`, which a rollout
        notices only after its progress deadline.

    How:
        Fix the tag or digest (a typo, a tag that was never pushed, a pruned
        tag), or push the image before deploying the manifest.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
            - name: web
              image: registry.example.com/shop/web:2.3.0  # pushed by CI first
        ```
    """
    facts = ctx.facts.images
    if facts is None:
        return
    for j in judged(index, facts):
        info = j.info
        if info.outcome == UNAUTHORIZED and j.auth.credentials is None:
            info = facts.retried.get(j.ref.canonical(), info)
        if info.outcome == NOT_FOUND:
            yield registry_violation(j, f"not found at registry {j.ref.registry}: {info.error}")


@rule("KP0304", "pull-secret-rejected", practice=3, severity="critical", scope=Scope.REGISTRY,
      needs=(Needs.IMAGES,))
def pull_secret_rejected(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Pull secret whose credentials the registry rejects.

    What:
        With `--check-images`: a container whose pull secret (the pod's
        `imagePullSecrets`, else its ServiceAccount's) holds credentials for
        the image's registry, and the registry refused them for that image
        (401 or 403: wrong password, expired token, no read access to the
        repository). The finding names the pull secret, never the
        credentials.

    Why:
        The kubelet sends exactly those credentials; the pull fails and the
        pod sits in `ImagePullBackOff`. Rotated passwords and expired tokens
        in pull secrets are a classic cause of outages on the next
        reschedule, long after the deploy that worked.

    How:
        Recreate the pull secret with valid credentials (`kubectl create
        secret docker-registry NAME --docker-server=... --docker-username=...
        --docker-password=...`), or grant the account read access to the
        repository. Prefer tokens that are rotated automatically.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
          namespace: shop
        spec:
          imagePullSecrets:
            - name: registry-example-com   # credentials with pull access
          containers:
            - name: web
              image: registry.example.com/shop/web:2.3.0
        ```
    """
    facts = ctx.facts.images
    if facts is None:
        return
    for j in judged(index, facts):
        if j.info.outcome == UNAUTHORIZED and j.auth.secret is not None:
            yield registry_violation(j, f"registry {j.ref.registry} rejected the credentials "
                                        f"of pull secret {quote(j.auth.secret)}: {j.info.error}")
