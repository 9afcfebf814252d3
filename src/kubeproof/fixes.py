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

Fixers of set rules (KP0708) need the set's verdict, and KP0707's needs an
object created next to the one it fixes: they run only when the caller names
their code in ``codes`` (``kubeproof fix`` names the codes its scan found on
each object), never by default.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, MutableMapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from kubeproof.config import FIX_LIMITS, FIX_REQUESTS
from kubeproof.imageref import parse_image
from kubeproof.kinds import is_namespaced_builtin
from kubeproof.model import Origin, Resource
from kubeproof.rules.common import as_dict, as_list, is_dns_subdomain
from kubeproof.rules.pod_security import (
    CAPABILITIES_BASELINE,
    CAPABILITY_ALL,
    CAPABILITY_NET_BIND_SERVICE,
)
from kubeproof.rules.rbac import is_static_pod
from kubeproof.rules.secrets import secret_volumes
from kubeproof.workloads import ContainerView, PodView
from kubeproof.yamledit import append, new_map, new_seq, put, set_in

if TYPE_CHECKING:
    from kubeproof.config import Config

FixFn = Callable[[Resource, "FixSettings"], bool]

NAME_LABEL = "app.kubernetes.io/name"


@dataclass
class FixSettings:
    """What fixers may not guess: values chosen by the user or the config."""

    namespace: str | None = None  # KP0402: --namespace; None = fixer off
    # KP0101/KP0102: image reference -> "sha256:..." digest, None when unknown (it
    # must not raise); None = fixers off (``fix --pin-digests`` sets it)
    resolve_digest: Callable[[str], str | None] | None = None
    requests: dict[str, str] = field(default_factory=lambda: dict(FIX_REQUESTS))  # KP1403
    limits: dict[str, str] = field(default_factory=lambda: dict(FIX_LIMITS))  # KP1404
    required_labels: list[str] = field(default_factory=lambda: [NAME_LABEL])  # KP0501
    labels: dict[str, str] = field(default_factory=dict)  # KP0501 values
    # code -> names of the only containers its fixer may change (None: all).
    # ``kubeproof fix`` passes, per object, the containers the scan flagged, so
    # a container-level inline ignore or exemption keeps its container untouched.
    containers: dict[str, frozenset[str]] | None = None

    @classmethod
    def from_config(cls, config: Config, **overrides: Any) -> FixSettings:
        """Settings from ``.kubeproof.yaml`` (``fix:`` and ``labels.required``)."""
        base = cls(requests=dict(config.fix_requests), limits=dict(config.fix_limits),
                   required_labels=list(config.required_labels), labels=dict(config.fix_labels))
        return replace(base, **overrides)


@dataclass(frozen=True, slots=True)
class Fixer:
    code: str
    fn: FixFn
    summary: str
    set_scoped: bool = False  # runs only when the caller names the code

    def __call__(self, res: Resource, settings: FixSettings) -> bool:
        return self.fn(res, settings)


FIXERS: dict[str, Fixer] = {}


def fixer(code: str, *, set_scoped: bool = False) -> Callable[[FixFn], FixFn]:
    """Register the fixer of rule ``code``; its docstring's first paragraph is the summary."""

    def register(fn: FixFn) -> FixFn:
        summary = " ".join((fn.__doc__ or "").strip().split("\n\n")[0].split())
        FIXERS[code] = Fixer(code, fn, summary, set_scoped)
        return fn

    return register


def fix_object(obj: MutableMapping[str, Any], settings: FixSettings,
               codes: Collection[str] | None = None) -> list[str]:
    """Fix obj in place (plain dicts OR ruamel CommentedMap); return the codes that
    changed something. ``codes`` limits the fixers (None: every fixer of an
    object rule)."""
    changed: list[str] = []
    for code in sorted(FIXERS):
        fx = FIXERS[code]
        if fx.set_scoped if codes is None else code not in codes:
            continue
        # a fresh view per fixer: the one before may have created pod spec parents
        res = Resource(obj, Origin("<fix>", 0, 0))  # type: ignore[arg-type]
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

@fixer("KP0101")
def pin_digest(res: Resource, settings: FixSettings) -> bool:
    """Pin images on `latest` (written or implied) to their digest, keeping the tag
    (`nginx` becomes `nginx:latest@sha256:...`)."""
    return _pin(res, settings, "KP0101", mutable_only=True)


@fixer("KP0102")
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
        if ref.invalid or ref.pinned or (mutable_only and not ref.mutable_tag):
            continue
        digest = resolve(image)
        if digest and re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
            tagged = image if ref.explicit_tag else f"{image}:latest"
            changed |= put(c.data, "image", f"{tagged}@{digest}")
    return changed


@fixer("KP0402")
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


@fixer("KP0501")
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


@fixer("KP0708", set_scoped=True)
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


@fixer("KP0707", set_scoped=True)
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
    res = Resource(obj, Origin("<fix>", 0, 0))  # type: ignore[arg-type]
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


@fixer("KP0813")
def no_privilege_escalation(res: Resource, settings: FixSettings) -> bool:
    """Set `allowPrivilegeEscalation: false` on every container (not on privileged
    ones or those adding CAP_SYS_ADMIN, which the API server would then reject)."""
    pod = _linux_pod(res)
    if pod is None:
        return False
    changed = False
    for c in _targets(pod, settings, "KP0813"):
        sc = c.security_context
        if sc.get("allowPrivilegeEscalation") is False or sc.get("privileged") is True:
            continue
        adds = as_list(as_dict(sc.get("capabilities")).get("add"))
        if "SYS_ADMIN" in adds or "CAP_SYS_ADMIN" in adds:
            continue
        changed |= _set_container(c, "allowPrivilegeEscalation", False)
    return changed


@fixer("KP0814")
def run_as_non_root(res: Resource, settings: FixSettings) -> bool:
    """Set `runAsNonRoot: true` at pod level (inherited) and on containers that say `false`
    (not in pods with `hostUsers: false`, whose root is unprivileged on the node)."""
    pod = res.pod
    if pod is None or pod.spec.get("hostUsers") is False:
        return False
    pod_value = pod.security_context.get("runAsNonRoot")
    values = [c.security_context.get("runAsNonRoot") for c in pod.containers]
    pod_fails = pod_value is not None and pod_value is not True
    inherit_fails = pod_value is None and any(v is None for v in values)
    changed = False
    if pod_fails or inherit_fails:
        changed |= set_in(pod.spec, ("securityContext", "runAsNonRoot"), True, _POD_SC_AFTER)
    targets = {id(c.data) for c in _targets(pod, settings, "KP0814")}
    for c, value in zip(pod.containers, values, strict=True):
        if value is not None and value is not True and id(c.data) in targets:
            changed |= _set_container(c, "runAsNonRoot", True)
    return changed


@fixer("KP0816")
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


@fixer("KP0817")
def drop_all_capabilities(res: Resource, settings: FixSettings) -> bool:
    """Drop `ALL` capabilities and remove added ones other than `NET_BIND_SERVICE`
    (capabilities outside the default set are KP0804's and stay)."""
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
        if isinstance(add, list):
            bad = [i for i, cap in enumerate(add) if isinstance(cap, str)
                   and cap in CAPABILITIES_BASELINE and cap != CAPABILITY_NET_BIND_SERVICE]
            for i in reversed(bad):
                del add[i]
            changed |= bool(bad)
    return changed


@fixer("KP0821")
def read_only_root(res: Resource, settings: FixSettings) -> bool:
    """Set `readOnlyRootFilesystem: true` on every container."""
    pod = _linux_pod(res)
    if pod is None:
        return False
    changed = False
    for c in _targets(pod, settings, "KP0821"):
        if c.security_context.get("readOnlyRootFilesystem") is not True:
            changed |= _set_container(c, "readOnlyRootFilesystem", True)
    return changed


@fixer("KP1002")
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
            changed |= put(mount, "readOnly", True, ("name", "mountPath", "subPath"))
    return changed


def _sized(pod: PodView, settings: FixSettings, code: str) -> Iterator[ContainerView]:
    """Containers that can carry resources: all but ephemeral ones."""
    return (c for c in _targets(pod, settings, code) if c.list_name != "ephemeralContainers")


def _has(mapping: Any, key: str) -> bool:
    value = as_dict(mapping).get(key)
    return value is not None and value != ""


@fixer("KP1403")
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
            if value is None or any(_has(m.get(kind), name) for m in (cres, pod_res)
                                    for kind in ("requests", "limits")):
                continue
            changed |= set_in(c.data, ("resources", "requests", name), value,
                              _RESOURCES_AFTER)
    return changed


@fixer("KP1404")
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
        limit: Any = default
        request = as_dict(cres.get("requests")).get("memory")
        req_bytes, def_bytes = quantity(request), quantity(default)
        if req_bytes is not None and (def_bytes is None or req_bytes > def_bytes):
            limit = request
        changed |= set_in(c.data, ("resources", "limits", "memory"), limit, _RESOURCES_AFTER)
    return changed


_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([-+]?[0-9]+))?"
                       r"(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
_SUFFIX = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
           "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
           "P": 1e15, "E": 1e18, None: 1}


def quantity(value: Any) -> float | None:
    """A Kubernetes resource quantity (``128Mi``, ``1G``, ``0.5``) as a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    m = _QUANTITY.match(str(value).strip()) if value is not None else None
    if m is None:
        return None
    number = float(m.group(1)) * 10 ** int(m.group(2) or 0)
    return number * _SUFFIX[m.group(3)]
