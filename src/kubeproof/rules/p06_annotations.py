"""Rules for practice 6: annotations that track changes, and annotations that are obsolete."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeproof.core.catalogue import rule
from kubeproof.core.context import Context
from kubeproof.model import Path, Resource, Violation
from kubeproof.rules.common import as_dict, as_list, quote

# The API server rejects objects whose annotation keys and values together
# exceed this many bytes (apimachinery TotalAnnotationSizeLimitB).
ANNOTATIONS_LIMIT = 256 * 1024

_SECCOMP_FIELD = "securityContext.seccompProfile (a field since v1.19; the annotation " \
                 "is ignored since v1.27)"

# (exact key, replacement) -- annotations the API replaced with fields. Kinds:
# None = any object metadata or pod template; otherwise only those kinds.
_EXACT: dict[str, tuple[str, frozenset[str] | None]] = {
    "seccomp.security.alpha.kubernetes.io/pod": ("spec." + _SECCOMP_FIELD, None),
    "scheduler.alpha.kubernetes.io/critical-pod": (
        "spec.priorityClassName: system-cluster-critical or system-node-critical (the "
        "annotation is ignored since v1.16)", None),
    "security.alpha.kubernetes.io/sysctls": (
        "spec.securityContext.sysctls (a field since v1.11, when the annotation stopped "
        "working)", None),
    "security.alpha.kubernetes.io/unsafe-sysctls": (
        "spec.securityContext.sysctls (a field since v1.11, when the annotation stopped "
        "working)", None),
    "pod.beta.kubernetes.io/init-containers": (
        "spec.initContainers (a field since v1.6; the annotation is ignored since v1.8)", None),
    "pod.alpha.kubernetes.io/init-containers": (
        "spec.initContainers (a field since v1.6; the annotation is ignored since v1.8)", None),
    "kubernetes.io/ingress.class": (
        "spec.ingressClassName and an IngressClass (a field since v1.18)",
        frozenset({"Ingress"})),
    "volume.beta.kubernetes.io/storage-class": (
        "spec.storageClassName (a field since v1.6)",
        frozenset({"PersistentVolumeClaim", "PersistentVolume"})),
    "volume.beta.kubernetes.io/mount-options": (
        "spec.mountOptions (a field since v1.8)", frozenset({"PersistentVolume"})),
    "service.alpha.kubernetes.io/tolerate-unready-endpoints": (
        "spec.publishNotReadyAddresses (a field since v1.9)", frozenset({"Service"})),
}
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("container.seccomp.security.alpha.kubernetes.io/",
     "the container's " + _SECCOMP_FIELD),
    ("container.apparmor.security.beta.kubernetes.io/",
     "the container's securityContext.appArmorProfile (a field since v1.30, when the "
     "annotation was deprecated)"),
)



def _annotation_sources(res: Resource) -> Iterator[tuple[Path, dict[str, Any], str]]:
    """(path to an annotations map, the map, kind of metadata) for the object, its pod
    template and a StatefulSet's volumeClaimTemplates. The kind is the object's own,
    ``Pod`` for pod metadata, ``PersistentVolumeClaim`` for claim templates."""
    meta = res.obj.get("metadata")
    pod = res.pod
    own_is_pod = pod is not None and pod.metadata_path == ("metadata",)
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
        yield ("metadata", "annotations"), meta["annotations"], res.kind
    if pod is not None and not own_is_pod:
        ann = pod.metadata.get("annotations")
        if isinstance(ann, dict):
            yield (*pod.metadata_path, "annotations"), ann, "Pod"
    if res.kind == "StatefulSet":
        spec = as_dict(res.obj.get("spec"))
        for i, tmpl in enumerate(as_list(spec.get("volumeClaimTemplates"))):
            ann = as_dict(as_dict(tmpl).get("metadata")).get("annotations")
            if isinstance(ann, dict):
                yield (("spec", "volumeClaimTemplates", i, "metadata", "annotations"), ann,
                       "PersistentVolumeClaim")


@rule("KP0601", "missing-required-annotations", practice=6, severity="low", pods=True)
def missing_required_annotations(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Workload missing a required annotation.

    What:
        A workload (any object with a pod template) whose
        `metadata.annotations` lacks a key listed in `annotations.required`.
        The list is empty by default, so the rule is silent until configured;
        a typical set is an owner/team annotation and
        `kubernetes.io/change-cause`. One finding per missing annotation.

    Why:
        Annotations carry the context that labels cannot: who owns the
        workload, which change or ticket produced this revision, where its
        runbook lives. `kubectl rollout history` shows `change-cause`, and
        incident responders look for the owner first.

    How:
        Add the required annotations to `metadata.annotations`, ideally set by
        the CI pipeline that deploys the change.

    Example:
        ```yaml
        # .kubeproof.yaml: annotations: {required: [acme.io/owner, kubernetes.io/change-cause]}
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
          annotations:
            acme.io/owner: team-checkout
            kubernetes.io/change-cause: "release 1.4.2 (PR #381)"
        spec:
          containers:
            - name: web
              image: ghcr.io/acme/web:1.4.2
        ```
    """
    required = ctx.config.required_annotations
    if not required:
        return
    ann = res.metadata.get("annotations")
    if not isinstance(ann, dict):
        ann = {}
    for key in required:
        if ann.get(key) is None:
            yield Violation(("metadata", "annotations", key),
                            f"{res.kind} {quote(res.name)} has no annotation {key}")


@rule("KP0602", "deprecated-annotation", practice=6, severity="medium")
def deprecated_annotation(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Annotation that the Kubernetes API replaced with a field.

    What:
        Object or pod-template annotations superseded by API fields:
        `seccomp.security.alpha.kubernetes.io/pod` and
        `container.seccomp.security.alpha.kubernetes.io/*` (→ `seccompProfile`),
        `container.apparmor.security.beta.kubernetes.io/*`
        (→ `appArmorProfile`, v1.30), `scheduler.alpha.kubernetes.io/critical-pod`
        (→ `priorityClassName`), `security.alpha.kubernetes.io/sysctls` and
        `unsafe-sysctls` (→ `securityContext.sysctls`), the init-containers
        annotations (→ `initContainers`), `kubernetes.io/ingress.class` on an
        Ingress (→ `spec.ingressClassName`),
        `volume.beta.kubernetes.io/storage-class` on a PVC/PV/claim template
        (→ `storageClassName`), `volume.beta.kubernetes.io/mount-options` on a
        PV (→ `mountOptions`) and
        `service.alpha.kubernetes.io/tolerate-unready-endpoints` on a Service
        (→ `publishNotReadyAddresses`). Cloud-provider `service.beta.*`
        annotations have no field equivalent and are not flagged.

    Why:
        Most of these are silently ignored by current clusters, so the
        manifest claims a protection (a seccomp or AppArmor profile, a
        critical priority) that the pod does not have. The rest still work
        only for backward compatibility and will stop.

    How:
        Move the setting to the field named in the finding and delete the
        annotation.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          securityContext:
            seccompProfile:
              type: RuntimeDefault
          containers:
            - name: web
              image: ghcr.io/acme/web:1.4.2
              securityContext:
                appArmorProfile:
                  type: RuntimeDefault
        ```
    """
    for base, ann, kind in _annotation_sources(res):
        is_pod = kind == "Pod"
        for key in ann:
            if not isinstance(key, str):
                continue
            hit = _EXACT.get(key)
            if hit is not None:
                replacement, kinds = hit
                if not (is_pod if kinds is None else kind in kinds):
                    continue
                yield Violation((*base, key),
                                f"annotation {key} is deprecated: use {replacement}")
                continue
            if not is_pod:
                continue
            for prefix, replacement in _PREFIXES:
                if key.startswith(prefix):
                    container = key[len(prefix):] or None
                    yield Violation((*base, key),
                                    f"annotation {key} is deprecated: use {replacement}",
                                    container=container)
                    break


def annotation_bytes(ann: dict[str, Any]) -> int:
    """Total size of keys and values in bytes, as the API server counts it."""
    total = 0
    for k, v in ann.items():
        total += len(str(k).encode())
        if v is not None:
            total += len(v.encode() if isinstance(v, str) else str(v).encode())
    return total


@rule("KP0603", "annotations-too-large", practice=6, severity="high")
def annotations_too_large(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Annotations larger than the API server accepts.

    What:
        An object (or its pod template) whose annotation keys and values add
        up to more than 256 KiB (262,144 bytes, UTF-8), the limit the API
        server enforces on every object's metadata.

    Why:
        The API server rejects the object outright (`metadata.annotations:
        Too long: must have at most 262144 bytes`). The usual cause is
        `kubectl apply`'s `last-applied-configuration` annotation on a huge
        ConfigMap or CRD, which breaks the next apply in the middle of a
        rollout.

    How:
        Move bulky data out of annotations (into a ConfigMap, or an external
        store), and apply very large objects with `kubectl apply
        --server-side`, which does not write `last-applied-configuration`.

    Example:
        ```yaml
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: dashboards
          annotations:
            acme.io/owner: team-observability
        data: {}
        ```
    """
    for base, ann, _ in _annotation_sources(res):
        size = annotation_bytes(ann)
        if size > ANNOTATIONS_LIMIT:
            yield Violation(base,
                            f"annotations total {size:,} bytes, over the API server's "
                            f"limit of {ANNOTATIONS_LIMIT:,} bytes")
