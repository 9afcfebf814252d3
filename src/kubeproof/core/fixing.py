"""What the fixes of the rules share: their settings and the small edits they make.

A fix lives beside its rule (``@fix`` after the rule's check, see
:mod:`kubeproof.core.catalogue`); ``kubeproof fix`` applies the fixes to
manifests (ruamel round-trip trees, so comments and layout survive) and the
webhook's ``/mutate`` to admitted objects (plain dicts from JSON), both
through :func:`kubeproof.fix.apply.fix_object`.

Each fix mirrors its rule's code: it changes an object only where the rule
would fire, in the place that makes it pass (a pod-level setting when the rule
honours inheritance, the container otherwise), and leaves alone what the API
server would then reject (``allowPrivilegeEscalation: false`` next to
``privileged: true``, Linux-only settings on Windows pods). A second run
changes nothing.

Each fix declares its *safety*, as ruff separates safe and unsafe fixes: a
safe fix cannot stop a correct workload from running (labels, namespace,
digest pinning, no token for a ServiceAccount bound to nothing); an unsafe one
may (a read-only root, ``runAsNonRoot``, dropped capabilities, seccomp,
resources). Unsafe fixes run only with ``FixSettings.unsafe_fixes``
(``kubeproof fix --unsafe-fixes``; the webhook sets it when
``webhook.fixers`` names them). A value the manifest states
(``readOnlyRootFilesystem: false``, ``runAsNonRoot: false``,
``allowPrivilegeEscalation: true``, capabilities it adds) is the owner's
decision: fixes leave it unless ``FixSettings.override_explicit``
(``--unsafe-fixes`` only; never in the webhook).

With image facts (``FixSettings.image_info``, from ``kubeproof fix
--check-images``) the unsafe fixes that declare ``reads_images`` read each
image's config: ``runAsNonRoot`` only for containers whose image runs as a
numeric non-root user, ``NET_BIND_SERVICE`` kept for containers whose image
exposes a port below 1024, and an ``emptyDir`` mounted at ``/tmp`` next to a
read-only root filesystem. Without them the fixes act on the manifest alone.

Fixes that need the set's verdict (KP0708's, a set rule; KP0707's, which needs
an object created next to the one it fixes) run only when the caller names
their code, never by default.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import TYPE_CHECKING, Any

from kubeproof.core.config import FIX_LIMITS, FIX_REQUESTS
from kubeproof.k8s.imageref import DEFAULT_MUTABLE_TAGS
from kubeproof.k8s.workloads import ContainerView, PodView, template_paths
from kubeproof.model import Fix, Path, Resource, no_templates

if TYPE_CHECKING:
    from kubeproof.core.config import Config
    from kubeproof.images.oci import ImageInfo

NAME_LABEL = "app.kubernetes.io/name"
# a valid label value (names may be longer or end in "-" for generateName)
LABEL_VALUE = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")


@dataclass
class FixSettings:
    """What fixes may not guess: values chosen by the user or the config."""

    namespace: str | None = None  # KP0402: --namespace; None = fix off
    # KP0101/KP0102: image reference -> "sha256:..." digest, None when unknown (it
    # must not raise); None = fixes off (``fix --pin-digests`` sets it)
    resolve_digest: Callable[[str], str | None] | None = None
    # KP0101: tags that move besides "latest" (``images.mutableTags``)
    mutable_tags: tuple[str, ...] = DEFAULT_MUTABLE_TAGS
    requests: dict[str, str] = field(default_factory=lambda: dict(FIX_REQUESTS))  # KP1403
    limits: dict[str, str] = field(default_factory=lambda: dict(FIX_LIMITS))  # KP1404
    required_labels: list[str] = field(default_factory=lambda: [NAME_LABEL])  # KP0501
    labels: dict[str, str] = field(default_factory=dict)  # KP0501 values
    # code -> names of the only containers its fix may change (None: all).
    # ``kubeproof fix`` passes, per object, the containers the scan flagged, so
    # a container-level inline ignore or exemption keeps its container untouched.
    containers: dict[str, frozenset[str]] | None = None
    # unsafe fixes may run (``fix --unsafe-fixes``; the webhook when its config names them)
    unsafe_fixes: bool = False
    # fixes may flip values the manifest states (``fix --unsafe-fixes`` only)
    override_explicit: bool = False
    # image reference -> its registry facts (user, exposed ports), None when
    # unknown; None = no image facts (``fix --check-images`` sets it)
    image_info: Callable[[str], ImageInfo | None] | None = None
    # custom kinds' pod templates (``workloads.podTemplatePaths``), fixed as workloads
    pod_templates: Mapping[str, Path] = field(default_factory=no_templates)

    @classmethod
    def from_config(cls, config: Config, **overrides: Any) -> FixSettings:
        """Settings from ``.kubeproof.yaml`` (``fix:`` and ``labels.required``)."""
        base = cls(requests=dict(config.fix_requests), limits=dict(config.fix_limits),
                   required_labels=list(config.required_labels), labels=dict(config.fix_labels),
                   mutable_tags=tuple(config.mutable_tags),
                   pod_templates=template_paths(config.pod_template_paths))
        return replace(base, **overrides)


def runs(fx: Fix, settings: FixSettings) -> bool:
    """Whether ``fx`` may run with ``settings``: safe fixes always, unsafe ones
    only when the settings accept unsafe fixes."""
    return fx.safe or settings.unsafe_fixes


# ---------------------------------------------------------------- edits

@functools.cache
def _yamledit() -> ModuleType:
    """:mod:`kubeproof.util.yamledit`, imported on the first edit. Lazy for start-up
    time: it imports ruamel.yaml, which a scan never needs, and the fixes live in
    the rule modules every scan imports; ruamel.yaml cost 12 ms of wall time
    (``python3 -c "import ruamel.yaml"`` 49 ms against 37 ms for bare Python,
    best of 5), that is 5% of a scan of examples/ (244 ms) and 20% of
    ``kubeproof --version`` (59 ms)."""
    return importlib.import_module("kubeproof.util.yamledit")


def put(mapping: MutableMapping[str, Any], key: str, value: Any, after: Sequence[str] = (),
        before: Sequence[str] = ()) -> bool:
    """:func:`kubeproof.util.yamledit.put`."""
    changed: bool = _yamledit().put(mapping, key, value, after, before)
    return changed


def set_in(mapping: MutableMapping[str, Any], keys: Sequence[str], value: Any,
           after: Sequence[str] = ()) -> bool:
    """:func:`kubeproof.util.yamledit.set_in`."""
    changed: bool = _yamledit().set_in(mapping, keys, value, after)
    return changed


def append(seq: list[Any], value: Any) -> None:
    """:func:`kubeproof.util.yamledit.append`."""
    _yamledit().append(seq, value)


def new_map(like: Any) -> MutableMapping[str, Any]:
    """:func:`kubeproof.util.yamledit.new_map`."""
    made: MutableMapping[str, Any] = _yamledit().new_map(like)
    return made


def new_seq(like: Any, items: Sequence[Any] = ()) -> list[Any]:
    """:func:`kubeproof.util.yamledit.new_seq`."""
    made: list[Any] = _yamledit().new_seq(like, items)
    return made


def map_like(like: Any, **items: Any) -> MutableMapping[str, Any]:
    """A mapping of the family of ``like`` (ruamel or plain) holding ``items``."""
    out = new_map(like)
    out.update(items)
    return out


# ---------------------------------------------------------------- pods

# Where a container's resources and securityContext go when it has none: after
# the last of these keys it has (else at its end).
RESOURCES_AFTER = ("name", "image", "imagePullPolicy", "command", "args", "workingDir",
                   "ports", "env", "envFrom")
SC_AFTER = (*RESOURCES_AFTER, "resources")
# Where a pod's securityContext goes: after these pod spec keys.
POD_SC_AFTER = ("serviceAccountName", "serviceAccount", "automountServiceAccountToken",
                "hostUsers")


def linux_pod(res: Resource) -> PodView | None:
    """The pod view, unless it is a Windows pod (Linux-only fields are rejected there)."""
    pod = res.pod
    return None if pod is None or pod.is_windows else pod


def targets(pod: PodView, settings: FixSettings, code: str) -> Iterator[ContainerView]:
    """The containers the fix of ``code`` may change."""
    only = settings.containers.get(code) if settings.containers is not None else None
    return (c for c in pod.containers if only is None or c.name in only)


def set_container(c: ContainerView, key: str, value: Any) -> bool:
    """Set ``securityContext.<key>`` on container ``c``."""
    return set_in(c.data, ("securityContext", key), value, SC_AFTER)


def may_replace(value: Any, settings: FixSettings) -> bool:
    """Whether a fix may replace ``value``: unset (None) always, a value the
    manifest states (the owner's decision) only with ``override_explicit``."""
    return value is None or settings.override_explicit


def image_info(c: ContainerView, settings: FixSettings) -> ImageInfo | None:
    """The registry facts of the container's image (None: unknown or not asked)."""
    image = c.data.get("image")
    if settings.image_info is None or not isinstance(image, str):
        return None
    info = settings.image_info(image)
    return info if info is not None and info.ok else None
