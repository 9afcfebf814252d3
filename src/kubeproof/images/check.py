"""``--check-images``: ask the registries about every image of the set, once.

The rules of scope ``registry`` (``rules/p02_registry_checks.py``) and the
registry halves of KP0103 and KP0301 read what this module gathers
(``ctx.facts.images``). It runs once over the finished index, before the
index-phase rules (the run's prepare step, ``core.run``):

1. Every container's image is paired with the credentials the kubelet would
   send: those of the first pull secret of the pod (or, when the pod lists
   none, of its ServiceAccount) that holds an entry for the image's registry;
   else none, which is an anonymous pull. Pull secrets' credentials are in the
   index only under ``--check-images`` (``Index.keep_credentials``).
2. The distinct (image, credentials) pairs are resolved once each with
   ``RegistryClient.resolve_many``, however many workloads share them; each
   registry is pinged once for its status and latency.
3. An image whose anonymous pull the registry refused is private (the KP0301
   half). When the user gave credentials for its registry (``--registry-auth``,
   ``~/.docker/config.json``), it is resolved again with those, so that KP0204
   can still tell whether it exists; the cluster never sees them, so they never
   stand in for a pull secret.

Credentials live in memory only: facts keep the pull secret's name, never
its username or password, and no message quotes one.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kubeproof.images.credentials import Credentials, api_host
from kubeproof.images.indexview import ContainerLike, IndexLike, WorkloadLike
from kubeproof.k8s.imageref import ImageRef, parse_image
from kubeproof.k8s.pullsecrets import account_pull_secrets

if TYPE_CHECKING:
    from kubeproof.images.oci import ImageInfo, RegistryOptions, RegistryStatus


# ImageInfo.outcome values the rules act on
OK = "ok"
NOT_FOUND = "not-found"
UNAUTHORIZED = "unauthorized"
ERROR = "error"

# Which credentials a lookup used: (username, keyed hash of the password), or
# None for anonymous. The hash (HMAC with a key made for this process) tells
# equal passwords apart from different ones without holding any of them.
CredKey = tuple[str, str] | None
_KEY = os.urandom(16)


def credentials_key(creds: Credentials | None) -> CredKey:
    if creds is None:
        return None
    digest = hmac.new(_KEY, creds.password.encode(), hashlib.sha256).hexdigest()
    return creds.username, digest


@dataclass(frozen=True, slots=True)
class PullAuth:
    """What a container's pull sends: the credentials (none: anonymous) and
    the pull secret that holds them (``None`` for the user's own)."""

    credentials: Credentials | None = field(default=None, repr=False)
    secret: str | None = None

    @property
    def key(self) -> CredKey:
        return credentials_key(self.credentials)


@dataclass(slots=True)
class ImageFacts:
    """Everything the registry rules read, keyed so each lookup is shared."""

    # by registry name (``docker.io``, ``localhost:5000``), the /v2/ answer
    registries: dict[str, RegistryStatus] = field(default_factory=dict)
    lookups: dict[tuple[str, CredKey], ImageInfo] = field(default_factory=dict)
    # images an anonymous pull was refused for, resolved again with the
    # user's own credentials (to tell whether they exist)
    retried: dict[str, ImageInfo] = field(default_factory=dict)
    max_latency_ms: int = 2000

    def lookup(self, ref: ImageRef, auth: PullAuth) -> ImageInfo | None:
        return self.lookups.get((ref.canonical(), auth.key))


@dataclass(slots=True)
class CheckSettings:
    """How to reach the registries: client options and the user's credentials
    (``--registry-auth`` over ``~/.docker/config.json``)."""

    options: RegistryOptions
    user_credentials: dict[str, list[Credentials]] = field(default_factory=dict)


# ---------------------------------------------------------------- pull credentials


def pull_secret_names(index: IndexLike, w: WorkloadLike) -> list[str]:
    """The pull secrets a workload's pods get: its own, else its ServiceAccount's."""
    if w.pull_secrets:
        return w.pull_secrets
    sa = index.service_accounts.get((w.ref.namespace or "", w.service_account or "default"))
    return [name for _, name in account_pull_secrets(sa.data)] if sa is not None else []


def pull_auth(index: IndexLike, w: WorkloadLike, ref: ImageRef) -> PullAuth:
    """The credentials the kubelet would send for ``ref`` in this workload."""
    ns = w.ref.namespace or ""
    for name in pull_secret_names(index, w):
        secret = index.secrets.get((ns, name))
        if secret is None or not secret.credentials:
            continue
        found = secret.credentials.get(ref.registry)
        if found:
            return PullAuth(found[0], name)
    return PullAuth()


def judged_containers(index: IndexLike) -> Iterator[tuple[WorkloadLike, ContainerLike, ImageRef]]:
    """Every container whose image reference can be resolved."""
    for w in index.workloads:
        for c in w.containers:
            if not c.image:
                continue
            ref = parse_image(c.image)
            if not ref.invalid:
                yield w, c, ref


# ---------------------------------------------------------------- the prepare step


class ImageCheck:
    """What ``--check-images`` gathers over the finished index (see the module
    docstring): the run's prepare step (``core.run``) keeps it as a fact."""

    def __init__(self, settings: CheckSettings) -> None:
        self.settings = settings

    def gather(self, index: IndexLike, max_latency_ms: int) -> ImageFacts:
        facts = ImageFacts(max_latency_ms=max_latency_ms)
        pairs: dict[tuple[str, CredKey], Credentials | None] = {}
        for w, _c, ref in judged_containers(index):
            auth = pull_auth(index, w, ref)
            pairs.setdefault((ref.canonical(), auth.key), auth.credentials)
        if not pairs:
            return facts
        # start-up: the registry client loads httpx (~100 ms of imports) and thread pools
        # (~4 ms), which a scan without images to look up never needs; every scan loads
        # this module (the KP02 rules)
        from concurrent.futures import ThreadPoolExecutor

        from kubeproof.images.oci import RegistryClient

        # no credentials of its own: an empty tuple is an anonymous pull
        with RegistryClient(self.settings.options) as client:
            hosts = sorted({parse_image(image).registry for image, _ in pairs})
            with ThreadPoolExecutor(max_workers=min(8, len(hosts))) as pool:
                statuses = pool.map(lambda host: client.ping(api_host(host)), hosts)
                facts.registries = dict(zip(hosts, statuses, strict=True))
            answers = client.resolve_many(
                (image, (creds,) if creds else ()) for (image, _), creds in pairs.items())
            facts.lookups = {key: answers[(key[0], (creds,) if creds else ())]
                             for key, creds in pairs.items()}
            retry: dict[str, Credentials] = {}
            for (image, key), info in facts.lookups.items():
                user = self.settings.user_credentials.get(info.registry)
                if key is None and info.outcome == UNAUTHORIZED and user:
                    retry[image] = user[0]
            if retry:
                again = client.resolve_many((image, (c,)) for image, c in retry.items())
                facts.retried = {image: again[(image, (c,))] for image, c in retry.items()}
        return facts


@dataclass(frozen=True, slots=True)
class Judged:
    """One container of the set with what the registry said about its image."""

    workload: WorkloadLike
    container: ContainerLike
    ref: ImageRef
    auth: PullAuth
    info: ImageInfo

    @property
    def path(self) -> tuple[str | int, ...]:
        return (*self.container.path, "image")


def judged(index: IndexLike, facts: ImageFacts) -> Iterator[Judged]:
    """Every container whose image was looked up, with its lookup."""
    for w, c, ref in judged_containers(index):
        auth = pull_auth(index, w, ref)
        info = facts.lookup(ref, auth)
        if info is not None:
            yield Judged(w, c, ref, auth, info)
