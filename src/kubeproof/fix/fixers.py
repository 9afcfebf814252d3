"""One fixer per fixable rule: the smallest edit that makes that rule pass.

``kubeproof fix`` applies them to manifests (ruamel round-trip trees, so
comments and layout survive) and the webhook's ``/mutate`` to admitted objects
(plain dicts from JSON); :func:`fix_object` serves both.

Each fixer mirrors its rule's code: it changes an object only where the rule
would fire, in the place that makes it pass (a pod-level setting when the rule
honours inheritance, the container otherwise), and leaves alone what the API
server would then reject (``allowPrivilegeEscalation: false`` next to
``privileged: true``, Linux-only settings on Windows pods). A second run
changes nothing.

Each fixer declares its *safety*, as ruff separates safe and unsafe fixes: a
safe fix cannot stop a correct workload from running (labels, namespace,
digest pinning, no token for a ServiceAccount bound to nothing); an unsafe one
may (a read-only root, ``runAsNonRoot``, dropped capabilities, seccomp,
resources). :func:`fix_object` runs unsafe fixers only with
``FixSettings.unsafe_fixes`` (``kubeproof fix --unsafe-fixes``; the webhook
sets it when ``webhook.fixers`` names them). A value the manifest states
(``readOnlyRootFilesystem: false``, ``runAsNonRoot: false``,
``allowPrivilegeEscalation: true``, capabilities it adds) is the owner's
decision: fixers leave it unless ``FixSettings.override_explicit``
(``--unsafe-fixes`` only; never in the webhook).

With image facts (``FixSettings.image_info``, from ``kubeproof fix
--check-images``) the unsafe fixers read each image's config: ``runAsNonRoot``
only for containers whose image runs as a numeric non-root user (or that set
a non-zero ``runAsUser``; a named user cannot be verified by the kubelet and
its UID is unknown, so it is left), ``NET_BIND_SERVICE`` kept (added) for
containers whose image exposes a port below 1024 (as for a ``containerPort``
below 1024, with or without image facts), and an ``emptyDir`` mounted at
``/tmp`` next to a read-only root filesystem. Without them the fixers act on
the manifest alone.

Fixers of set rules (KP0708) need the set's verdict, and KP0707's needs an
object created next to the one it fixes: they run only when the caller names
their code in ``codes`` (``kubeproof fix`` names the codes its scan found on
each object), never by default.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from kubeproof.core.config import FIX_LIMITS, FIX_REQUESTS
from kubeproof.k8s.imageref import DEFAULT_MUTABLE_TAGS, DEFAULT_TAG, parse_image
from kubeproof.k8s.kinds import is_namespaced_builtin
from kubeproof.k8s.quantity import quantity_or_none
from kubeproof.k8s.workloads import ContainerView, PodView, template_paths
from kubeproof.model import Origin, Path, Resource, no_templates
from kubeproof.rules.common import as_dict, as_list, is_dns_subdomain
from kubeproof.rules.p07_rbac import is_static_pod
from kubeproof.rules.p08_pod_security import (
    CAPABILITIES_BASELINE,
    CAPABILITY_ALL,
    CAPABILITY_NET_BIND_SERVICE,
)
from kubeproof.rules.p10_secrets import secret_volumes
from kubeproof.util.yamledit import append, new_map, new_seq, put, set_in

if TYPE_CHECKING:
    from kubeproof.core.config import Config
    from kubeproof.images.oci import ImageInfo

FixFn = Callable[[Resource, "FixSettings"], bool]

NAME_LABEL = "app.kubernetes.io/name"

SAFE, UNSAFE = "safe", "unsafe"
SAFETIES = (SAFE, UNSAFE)


@dataclass
class FixSettings:
    """What fixers may not guess: values chosen by the user or the config."""

    namespace: str | None = None  # KP0402: --namespace; None = fixer off
    # KP0101/KP0102: image reference -> "sha256:..." digest, None when unknown (it
    # must not raise); None = fixers off (``fix --pin-digests`` sets it)
    resolve_digest: Callable[[str], str | None] | None = None
    # KP0101: tags that move besides "latest" (``images.mutableTags``)
    mutable_tags: tuple[str, ...] = DEFAULT_MUTABLE_TAGS
    requests: dict[str, str] = field(default_factory=lambda: dict(FIX_REQUESTS))  # KP1403
    limits: dict[str, str] = field(default_factory=lambda: dict(FIX_LIMITS))  # KP1404
    required_labels: list[str] = field(default_factory=lambda: [NAME_LABEL])  # KP0501
    labels: dict[str, str] = field(default_factory=dict)  # KP0501 values
    # code -> names of the only containers its fixer may change (None: all).
    # ``kubeproof fix`` passes, per object, the containers the scan flagged, so
    # a container-level inline ignore or exemption keeps its container untouched.
    containers: dict[str, frozenset[str]] | None = None
    # unsafe fixers may run (``fix --unsafe-fixes``; the webhook when its config names them)
    unsafe_fixes: bool = False
    # fixers may flip values the manifest states (``fix --unsafe-fixes`` only)
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


@dataclass(frozen=True, slots=True)
class Fixer:
    code: str
    fn: FixFn
    summary: str
    safety: str  # SAFE or UNSAFE
    why: str  # one line: why the fix is (un)safe, shown by `kubeproof rules` and docs
    set_scoped: bool = False  # runs only when the caller names the code

    @property
    def safe(self) -> bool:
        return self.safety == SAFE

    def __call__(self, res: Resource, settings: FixSettings) -> bool:
        return self.fn(res, settings)


FIXERS: dict[str, Fixer] = {}


def fixer(code: str, *, safety: str, why: str, set_scoped: bool = False
          ) -> Callable[[FixFn], FixFn]:
    """Register the fixer of rule ``code``; its docstring's first paragraph is the
    summary. ``safety`` (SAFE or UNSAFE) and ``why`` are required: every fixer
    decides whether it can stop a correct workload from running."""
    if safety not in SAFETIES:
        raise ValueError(f"fixer {code}: safety must be one of {SAFETIES}, not {safety!r}")

    def register(fn: FixFn) -> FixFn:
        summary = " ".join((fn.__doc__ or "").strip().split("\n\n")[0].split())
        FIXERS[code] = Fixer(code, fn, summary, safety, why, set_scoped)
        return fn

    return register


def runs(fx: Fixer, settings: FixSettings) -> bool:
    """Whether ``fx`` may run with ``settings``: safe fixers always, unsafe ones
    only when the settings accept unsafe fixes."""
    return fx.safe or settings.unsafe_fixes


def fix_object(obj: MutableMapping[str, Any], settings: FixSettings,
               codes: Collection[str] | None = None) -> list[str]:
    """Fix obj in place (plain dicts OR ruamel CommentedMap); return the codes that
    changed something. ``codes`` limits the fixers (None: every fixer of an
    object rule); unsafe fixers run only with ``settings.unsafe_fixes``."""
    changed: list[str] = []
    for code in sorted(FIXERS):
        fx = FIXERS[code]
        if (fx.set_scoped if codes is None else code not in codes) or not runs(fx, settings):
            continue
        # a fresh view per fixer: the one before may have created pod spec parents
        res = Resource(obj, Origin("<fix>", 0, 0),  # type: ignore[arg-type]
                       templates=settings.pod_templates)
        if fx(res, settings):
            changed.append(code)
    return changed


# ---------------------------------------------------------------- helpers

def _linux_pod(res: Resource) -> PodView | None:
    """The pod view, unless it is a Windows pod (Linux-only fields are rejected there)."""
    pod = res.pod
    return None if pod is None or pod.is_windows else pod


def _targets(pod: PodView, settings: FixSettings, code: str) -> Iterator[ContainerView]:
    """The containers fixer ``code`` may change."""
    only = settings.containers.get(code) if settings.containers is not None else None
    return (c for c in pod.containers if only is None or c.name in only)


# Where a container's resources and securityContext go when it has none: after
# the last of these keys it has (else at its end).
_RESOURCES_AFTER = ("name", "image", "imagePullPolicy", "command", "args", "workingDir",
                    "ports", "env", "envFrom")
_SC_AFTER = (*_RESOURCES_AFTER, "resources")
# Where a pod's securityContext and automount setting go: after these pod spec keys.
_POD_SC_AFTER = ("serviceAccountName", "serviceAccount", "automountServiceAccountToken",
                 "hostUsers")
_POD_AUTOMOUNT_AFTER = ("serviceAccountName", "serviceAccount")


def _set_container(c: ContainerView, key: str, value: Any) -> bool:
    return set_in(c.data, ("securityContext", key), value, _SC_AFTER)


# ---------------------------------------------------------------- fixers

@fixer("KP0101", safety=SAFE,
        why="the digest is the one the tag resolves to now: the same image is pulled")
def pin_digest(res: Resource, settings: FixSettings) -> bool:
    """Pin images on `latest` (written or implied) or a branch-like tag to their
    digest, keeping the tag (`nginx` becomes `nginx:latest@sha256:...`)."""
    return _pin(res, settings, "KP0101", mutable_only=True)


@fixer("KP0102", safety=SAFE,
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
    for c in _targets(pod, settings, code):
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


@fixer("KP0402", safety=SAFE,
        why="only where no namespace is written, with the one --namespace names")
def set_namespace(res: Resource, settings: FixSettings) -> bool:
    """Set `metadata.namespace` to `--namespace` on namespaced objects without one."""
    if not settings.namespace or not is_namespaced_builtin(res.kind):
        return False
    meta = res.obj.get("metadata")
    if not isinstance(meta, MutableMapping) or meta.get("namespace") is not None:
        return False
    return put(meta, "namespace", settings.namespace, ("name", "generateName"))


# a valid label value (names may be longer or end in "-" for generateName)
_LABEL_VALUE = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")


@fixer("KP0501", safety=SAFE,
        why="labels are added, never changed, and never to selectors")
def add_required_labels(res: Resource, settings: FixSettings) -> bool:
    """Add the required labels (values from `fix.labels`; `app.kubernetes.io/name`
    defaults to the object's name) to the object and its pod template."""
    pod = res.pod
    if res.kind != "Service" and pod is None:
        return False
    meta = res.obj.get("metadata")
    if not isinstance(meta, MutableMapping):
        return False
    labels = meta.get("labels")
    if labels is not None and not isinstance(labels, MutableMapping):
        return False
    changed = False
    for key in settings.required_labels:
        if isinstance(labels, MutableMapping) and labels.get(key) is not None:
            continue
        value = settings.labels.get(key)
        if value is None and key == NAME_LABEL and _LABEL_VALUE.fullmatch(res.name):
            value = res.name
        if value is None:
            continue
        changed |= set_in(meta, ("labels", key), value, ("namespace", "name", "generateName"))
        labels = meta.get("labels")
        if pod is not None and pod.metadata_path != ("metadata",):
            changed |= _label_template(res, pod, key, value)
    return changed


def _label_template(res: Resource, pod: PodView, key: str, value: str) -> bool:
    """The label on the pod template too (never on selectors), unless it has one."""
    template: Any = res.obj
    for seg in pod.metadata_path[:-1]:
        template = template.get(seg) if isinstance(template, MutableMapping) else None
    if not isinstance(template, MutableMapping):
        return False
    tmeta = template.get("metadata")
    if isinstance(tmeta, MutableMapping) and as_dict(tmeta.get("labels")).get(key) is not None:
        return False
    return set_in(template, ("metadata", "labels", key), value)


@fixer("KP0708", safety=SAFE, set_scoped=True,
        why="only for ServiceAccounts bound to nothing, whose token grants nothing")
def disable_token_automount(res: Resource, settings: FixSettings) -> bool:
    """Set `automountServiceAccountToken: false` on the pod spec when it sets nothing
    (an explicit `true` is left: e.g. Vault's Kubernetes auth uses the token without RBAC)."""
    pod = res.pod
    if pod is None or "automountServiceAccountToken" in pod.spec:
        return False
    return put(pod.spec, "automountServiceAccountToken", False, _POD_AUTOMOUNT_AFTER)


# Where a new serviceAccountName goes in a pod spec: after the deprecated
# field, else before the first of these keys (else at its end).
_POD_SA_BEFORE = ("automountServiceAccountToken", "securityContext", "initContainers",
                  "containers")


@fixer("KP0707", safety=UNSAFE, set_scoped=True,
        why="the pod loses the RBAC bindings and pull secrets of the account it used")
def own_service_account(res: Resource, settings: FixSettings) -> bool:
    """Set `serviceAccountName` to the workload's name (`kubeproof fix` also adds that
    ServiceAccount to the file, with `automountServiceAccountToken: false`, unless the
    files it fixes hold it already).

    File-only: it runs only when the caller names KP0707 in ``codes``, never by
    default, since it points the pod at an object that may not exist yet. The
    webhook's ``/mutate`` sees one object and cannot create the ServiceAccount, so
    naming KP0707 among its fixers is right only where each workload's
    ServiceAccount already exists (otherwise its pods are refused). Static pods
    are left alone (they cannot use ServiceAccounts), as are workloads whose name
    is not a valid ServiceAccount name (templated, ``generateName`` only).
    """
    pod = res.pod
    name = res.metadata.get("name")
    if pod is None or is_static_pod(res) or not is_dns_subdomain(name):
        return False
    changed = put(pod.spec, "serviceAccountName", name, ("serviceAccount",), _POD_SA_BEFORE)
    if pod.spec.get("serviceAccount") is not None:  # deprecated alias: keep it in step
        changed |= put(pod.spec, "serviceAccount", name)
    return changed


def service_account_for(obj: MutableMapping[str, Any], settings: FixSettings
                        ) -> MutableMapping[str, Any] | None:
    """The ServiceAccount :func:`own_service_account` points ``obj`` at: in its
    namespace, labelled like it (its value of `app.kubernetes.io/name` and of the
    required labels, else `fix.labels`, else its name for the name label), with
    no token automounted. None when ``obj`` has no pod spec or no usable name."""
    res = Resource(obj, Origin("<fix>", 0, 0),  # type: ignore[arg-type]
                   templates=settings.pod_templates)
    spec = res.pod.spec if res.pod is not None else {}
    name = spec.get("serviceAccountName")
    if not is_dns_subdomain(name):
        return None
    own = as_dict(res.metadata.get("labels"))
    labels = new_map(obj)
    for key in dict.fromkeys([NAME_LABEL, *settings.required_labels]):
        value = own.get(key)
        if not isinstance(value, str) or not _LABEL_VALUE.fullmatch(value):
            value = settings.labels.get(key)
        if value is None and key == NAME_LABEL:
            value = name
        if value is not None:
            labels[key] = str(value)
    meta = _map_like(obj, name=name)
    if res.namespace:
        meta["namespace"] = res.namespace
    if labels:
        meta["labels"] = labels
    return _map_like(obj, apiVersion="v1", kind="ServiceAccount", metadata=meta,
                     automountServiceAccountToken=False)


@fixer("KP0813", safety=UNSAFE,
        why="setuid binaries and file capabilities, such as sudo and ping, stop working")
def no_privilege_escalation(res: Resource, settings: FixSettings) -> bool:
    """Set `allowPrivilegeEscalation: false` on every container (not on privileged
    ones or those adding CAP_SYS_ADMIN, which the API server would then reject;
    an explicit `true` only with `--unsafe-fixes`)."""
    pod = _linux_pod(res)
    if pod is None:
        return False
    changed = False
    for c in _targets(pod, settings, "KP0813"):
        sc = c.security_context
        value = sc.get("allowPrivilegeEscalation")
        if value is False or sc.get("privileged") is True or not _may_replace(value, settings):
            continue
        adds = as_list(as_dict(sc.get("capabilities")).get("add"))
        if "SYS_ADMIN" in adds or "CAP_SYS_ADMIN" in adds:
            continue
        changed |= _set_container(c, "allowPrivilegeEscalation", False)
    return changed


@fixer("KP0814", safety=UNSAFE,
        why="an image that runs as root or as a named user no longer starts")
def run_as_non_root(res: Resource, settings: FixSettings) -> bool:
    """Set `runAsNonRoot: true` at pod level (inherited) and on containers that say `false`
    (not in pods with `hostUsers: false`, whose root is unprivileged on the node; an
    explicit `false` only with `--unsafe-fixes`; with image facts, only where the
    image's user or `runAsUser` is a numeric non-root UID)."""
    pod = res.pod
    if pod is None or pod.spec.get("hostUsers") is False:
        return False
    pod_value = pod.security_context.get("runAsNonRoot")
    values = [c.security_context.get("runAsNonRoot") for c in pod.containers]
    runnable = [_runs_as_non_root(pod, c, settings) for c in pod.containers]
    pod_fails = pod_value is not None and pod_value is not True
    inherit_fails = pod_value is None and any(v is None for v in values)
    changed = False
    at_pod = (pod_fails or inherit_fails) and _may_replace(pod_value, settings)
    if at_pod and all(ok for ok, v in zip(runnable, values, strict=True) if v is None):
        changed |= set_in(pod.spec, ("securityContext", "runAsNonRoot"), True, _POD_SC_AFTER)
        pod_value = True
    targets = {id(c.data) for c in _targets(pod, settings, "KP0814")}
    for c, value, ok in zip(pod.containers, values, runnable, strict=True):
        inherits = value is None and pod_value is not True and _may_replace(pod_value, settings)
        wrong = value is not None and value is not True and _may_replace(value, settings)
        if ok and (inherits or wrong) and id(c.data) in targets:
            changed |= _set_container(c, "runAsNonRoot", True)
    return changed


def _may_replace(value: Any, settings: FixSettings) -> bool:
    """Whether a fixer may replace ``value``: unset (None) always, a value the
    manifest states (the owner's decision) only with ``override_explicit``."""
    return value is None or settings.override_explicit


def _runs_as_non_root(pod: PodView, c: ContainerView, settings: FixSettings) -> bool:
    """Whether ``runAsNonRoot: true`` lets container ``c`` start, as far as is known:
    a non-zero ``runAsUser`` (its own, else the pod's) says yes, zero says no;
    else the image's user (``--check-images``): only a numeric non-zero UID
    passes (the kubelet refuses a named user it cannot verify, and root).
    Without image facts (or when the image could not be read): yes, as the
    manifest alone cannot tell."""
    uid = c.security_context.get("runAsUser", pod.security_context.get("runAsUser"))
    if isinstance(uid, int) and not isinstance(uid, bool):
        return uid > 0
    info = _image_info(c, settings)
    if info is None:
        return True
    user = (info.user or "").split(":", 1)[0].strip()
    return user.isascii() and user.isdigit() and len(user) <= 10 and int(user) > 0


def _image_info(c: ContainerView, settings: FixSettings) -> ImageInfo | None:
    """The registry facts of the container's image (None: unknown or not asked)."""
    image = c.data.get("image")
    if settings.image_info is None or not isinstance(image, str):
        return None
    info = settings.image_info(image)
    return info if info is not None and info.ok else None


@fixer("KP0816", safety=UNSAFE,
        why="the runtime's default profile blocks syscalls some programs need")
def seccomp_runtime_default(res: Resource, settings: FixSettings) -> bool:
    """Set the pod's `seccompProfile.type: RuntimeDefault` when neither the pod nor
    every container sets a profile."""
    pod = _linux_pod(res)
    if pod is None or pod.security_context.get("seccompProfile") is not None:
        return False
    if all(c.security_context.get("seccompProfile") is not None for c in pod.containers):
        return False
    return set_in(pod.spec, ("securityContext", "seccompProfile"),
                  _map_like(pod.spec, type="RuntimeDefault"), _POD_SC_AFTER)


def _map_like(like: Any, **items: Any) -> MutableMapping[str, Any]:
    out = new_map(like)
    out.update(items)
    return out


@fixer("KP0817", safety=UNSAFE,
        why="a program that needs a capability, to bind a port below 1024 or chown, fails")
def drop_all_capabilities(res: Resource, settings: FixSettings) -> bool:
    """Drop `ALL` capabilities and remove added ones other than `NET_BIND_SERVICE`
    (capabilities outside the default set are KP0804's and stay; added ones stay
    without `--unsafe-fixes`; `NET_BIND_SERVICE` is added for containers that listen
    below 1024: a `containerPort`, or with image facts an exposed port)."""
    pod = _linux_pod(res)
    if pod is None:
        return False
    changed = False
    for c in _targets(pod, settings, "KP0817"):
        caps = as_dict(c.security_context.get("capabilities"))
        drop = caps.get("drop")
        if CAPABILITY_ALL not in as_list(drop):
            if isinstance(drop, list):
                append(drop, CAPABILITY_ALL)
                changed = True
            elif drop is None:
                changed |= set_in(c.data, ("securityContext", "capabilities", "drop"),
                                  new_seq(c.data, [CAPABILITY_ALL]), _SC_AFTER)
        add = caps.get("add")
        if isinstance(add, list) and settings.override_explicit:
            bad = [i for i, cap in enumerate(add) if isinstance(cap, str)
                   and cap in CAPABILITIES_BASELINE and cap != CAPABILITY_NET_BIND_SERVICE]
            for i in reversed(bad):
                del add[i]
            changed |= bool(bad)
        if _listens_below_1024(c, settings):
            changed |= _keep_net_bind(c)
    return changed


_PRIVILEGED_PORTS = 1024  # binding below this needs CAP_NET_BIND_SERVICE
_PORT = re.compile(r"([0-9]{1,5})(?:/[a-z]+)?")


def _listens_below_1024(c: ContainerView, settings: FixSettings) -> bool:
    """Whether the container listens on a privileged port, by its ``containerPort``s
    (the manifest says so: dropping the capability would stop it binding) or,
    with image facts, its image's ``ExposedPorts`` ("80/tcp")."""
    info = _image_info(c, settings)
    ports: list[Any] = [as_dict(p).get("containerPort") for p in as_list(c.data.get("ports"))]
    for exposed in info.exposed_ports if info is not None else ():
        m = _PORT.fullmatch(str(exposed)[:16])
        ports.append(int(m.group(1)) if m else None)
    return any(isinstance(p, int) and not isinstance(p, bool) and 0 < p < _PRIVILEGED_PORTS
               for p in ports)


def _keep_net_bind(c: ContainerView) -> bool:
    """Add ``NET_BIND_SERVICE`` to the container's added capabilities unless there."""
    add = as_dict(c.security_context.get("capabilities")).get("add")
    if isinstance(add, list):
        if CAPABILITY_NET_BIND_SERVICE in add:
            return False
        append(add, CAPABILITY_NET_BIND_SERVICE)
        return True
    if add is not None:
        return False  # not a list: the owner's odd value, left for the API server to judge
    return set_in(c.data, ("securityContext", "capabilities", "add"),
                  new_seq(c.data, [CAPABILITY_NET_BIND_SERVICE]), _SC_AFTER)


@fixer("KP0821", safety=UNSAFE,
        why="a program that writes outside its volumes, to /tmp or a cache, fails")
def read_only_root(res: Resource, settings: FixSettings) -> bool:
    """Set `readOnlyRootFilesystem: true` on every container (an explicit `false`
    only with `--unsafe-fixes`; with image facts, with an `emptyDir` at `/tmp`)."""
    pod = _linux_pod(res)
    if pod is None:
        return False
    changed = False
    for c in _targets(pod, settings, "KP0821"):
        value = c.security_context.get("readOnlyRootFilesystem")
        if value is True or not _may_replace(value, settings):
            continue
        changed |= _set_container(c, "readOnlyRootFilesystem", True)
        if _image_info(c, settings) is not None and c.list_name != "ephemeralContainers":
            changed |= _writable_tmp(pod, c)
    return changed


TMP_VOLUME = "tmp"


def _writable_tmp(pod: PodView, c: ContainerView) -> bool:
    """Mount an ``emptyDir`` at ``/tmp`` in ``c`` unless something is mounted there:
    the pod's volume ``tmp`` when it is an emptyDir already, else a new one
    (``tmp``, or ``tmp-2``... when that name is taken)."""
    mounts = c.data.get("volumeMounts")
    if mounts is not None and not isinstance(mounts, list):
        return False
    if any(as_dict(m).get("mountPath") in ("/tmp", "/tmp/") for m in mounts or ()):
        return False
    volumes = pod.spec.get("volumes")
    if volumes is not None and not isinstance(volumes, list):
        return False
    taken = {v["name"]: v for v in volumes or () if isinstance(v, MutableMapping)
             and isinstance(v.get("name"), str)}
    name = TMP_VOLUME
    for n in range(2, len(taken) + 3):
        if name not in taken or (set(taken[name]) == {"name", "emptyDir"}):
            break
        name = f"{TMP_VOLUME}-{n}"
    if name not in taken:
        volume = _map_like(pod.spec, name=name, emptyDir=new_map(pod.spec))
        if volumes is None:
            put(pod.spec, "volumes", new_seq(pod.spec, [volume]))
        else:
            append(volumes, volume)
    mount = _map_like(c.data, name=name, mountPath="/tmp")
    if mounts is None:
        put(c.data, "volumeMounts", new_seq(c.data, [mount]), _SC_AFTER)
    else:
        append(mounts, mount)
    return True


@fixer("KP1002", safety=SAFE,
        why="the kubelet mounts secret and projected volumes read-only anyway")
def read_only_secret_mounts(res: Resource, settings: FixSettings) -> bool:
    """Set `readOnly: true` on every mount of a volume that carries secrets."""
    pod = res.pod
    if pod is None:
        return False
    volumes = secret_volumes(pod)
    changed = False
    for c in _targets(pod, settings, "KP1002"):
        for mount in as_list(c.data.get("volumeMounts")):
            if not isinstance(mount, MutableMapping) or mount.get("readOnly") is True:
                continue
            name = mount.get("name")  # a list or map here names no volume
            entry = volumes.get(name) if isinstance(name, str) else None
            if entry is None or as_dict(entry[2].get("csi")).get("readOnly") is True:
                continue
            if not _may_replace(mount.get("readOnly"), settings):
                continue  # a `readOnly: false` written out is the owner's decision
            changed |= put(mount, "readOnly", True, ("name", "mountPath", "subPath"))
    return changed


def _sized(pod: PodView, settings: FixSettings, code: str) -> Iterator[ContainerView]:
    """Containers that can carry resources: all but ephemeral ones."""
    return (c for c in _targets(pod, settings, code) if c.list_name != "ephemeralContainers")


def _has(mapping: Any, key: str) -> bool:
    value = as_dict(mapping).get(key)
    return value is not None and value != ""


def _invalid_default(value: Any) -> bool:
    """A configured default that is unset, or not a valid non-negative quantity."""
    parsed = quantity_or_none(value)
    return parsed is None or parsed.negative


@fixer("KP1403", safety=UNSAFE,
        why="requests larger than a node's free capacity leave pods Pending")
def default_requests(res: Resource, settings: FixSettings) -> bool:
    """Request the configured CPU and memory (`fix.resources.requests`) where a
    container requests neither it nor limits it."""
    pod = res.pod
    if pod is None:
        return False
    pod_res = as_dict(pod.spec.get("resources"))
    changed = False
    for c in _sized(pod, settings, "KP1403"):
        cres = as_dict(c.data.get("resources"))
        for name in ("cpu", "memory"):
            value = settings.requests.get(name)
            if _invalid_default(value) or any(_has(m.get(kind), name) for m in (cres, pod_res)
                                    for kind in ("requests", "limits")):
                continue
            changed |= set_in(c.data, ("resources", "requests", name), value,
                              _RESOURCES_AFTER)
    return changed


@fixer("KP1404", safety=UNSAFE,
        why="a process that needs more memory than the limit is OOM-killed")
def default_memory_limit(res: Resource, settings: FixSettings) -> bool:
    """Limit memory to `fix.resources.limits.memory`, or to the container's memory
    request when that is larger (a limit below the request is invalid)."""
    pod = res.pod
    default = settings.limits.get("memory")
    if pod is None or default is None:
        return False
    if _has(as_dict(pod.spec.get("resources")).get("limits"), "memory"):
        return False
    changed = False
    for c in _sized(pod, settings, "KP1404"):
        cres = as_dict(c.data.get("resources"))
        if _has(cres.get("limits"), "memory"):
            continue
        limit = _memory_limit(as_dict(cres.get("requests")).get("memory"), default)
        if limit is not None:
            changed |= set_in(c.data, ("resources", "limits", "memory"), limit,
                              _RESOURCES_AFTER)
    return changed


def _memory_limit(request: Any, default: Any) -> Any:
    """The limit KP1404 writes: ``default``, or ``request`` when that is larger.
    None when either is not a valid, non-negative quantity: nothing derived from
    an invalid value is written (KP0002 reports it)."""
    default_q = quantity_or_none(default)
    if default_q is None or default_q.negative:
        return None
    if request is None or request == "":
        return default
    request_q = quantity_or_none(request)
    if request_q is None or request_q.negative:
        return None
    return request if request_q > default_q else default
