"""KP0001 (deprecated-api): API versions deprecated or removed at the checked
Kubernetes version, with the table of them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from kubeproof.core.catalogue import rule
from kubeproof.core.context import Context
from kubeproof.model import Resource, Severity, Violation


class Deprecation(NamedTuple):
    deprecated: tuple[int, int]
    removed: tuple[int, int]
    replacement: str  # "group/version" (same kind) or free text


def _table() -> dict[tuple[str, str], Deprecation]:
    """apiVersion + kind -> when it was deprecated and removed, and what replaces it.

    Sources: the Kubernetes "Deprecated API Migration Guide" (removals 1.16 to 1.32)
    and, for newer and alpha APIs, the `prerelease-lifecycle-gen` tags of
    k8s.io/api (a beta is deprecated three minors after it was introduced and
    stops being served three minors later, unless tagged otherwise). APIs whose
    deprecation lies beyond the newest known Kubernetes version are left out.
    """
    rows: list[tuple[str, tuple[str, ...], str, str, str]] = [
        # -- removed in 1.16
        ("extensions/v1beta1", ("Deployment", "DaemonSet", "ReplicaSet"), "1.9", "1.16",
         "apps/v1"),
        ("apps/v1beta1", ("Deployment", "StatefulSet", "ReplicaSet", "ControllerRevision"),
         "1.9", "1.16", "apps/v1"),
        ("apps/v1beta2", ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
                          "ControllerRevision"), "1.9", "1.16", "apps/v1"),
        ("extensions/v1beta1", ("NetworkPolicy",), "1.9", "1.16", "networking.k8s.io/v1"),
        ("extensions/v1beta1", ("PodSecurityPolicy",), "1.10", "1.16",
         "Pod Security Admission (namespace labels pod-security.kubernetes.io/*)"),
        # -- removed in 1.17 and 1.21 (alpha)
        ("scheduling.k8s.io/v1alpha1", ("PriorityClass",), "1.14", "1.17",
         "scheduling.k8s.io/v1"),
        ("flowcontrol.apiserver.k8s.io/v1alpha1", ("FlowSchema", "PriorityLevelConfiguration"),
         "1.20", "1.21", "flowcontrol.apiserver.k8s.io/v1"),
        # -- removed in 1.22
        ("extensions/v1beta1", ("Ingress",), "1.14", "1.22", "networking.k8s.io/v1"),
        ("networking.k8s.io/v1beta1", ("Ingress", "IngressClass"), "1.19", "1.22",
         "networking.k8s.io/v1"),
        ("admissionregistration.k8s.io/v1beta1",
         ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"), "1.16", "1.22",
         "admissionregistration.k8s.io/v1"),
        ("apiextensions.k8s.io/v1beta1", ("CustomResourceDefinition",), "1.16", "1.22",
         "apiextensions.k8s.io/v1"),
        ("apiregistration.k8s.io/v1beta1", ("APIService",), "1.19", "1.22",
         "apiregistration.k8s.io/v1"),
        ("authentication.k8s.io/v1beta1", ("TokenReview",), "1.19", "1.22",
         "authentication.k8s.io/v1"),
        ("authorization.k8s.io/v1beta1", ("LocalSubjectAccessReview", "SelfSubjectAccessReview",
                                          "SubjectAccessReview", "SelfSubjectRulesReview"),
         "1.19", "1.22", "authorization.k8s.io/v1"),
        ("certificates.k8s.io/v1beta1", ("CertificateSigningRequest",), "1.19", "1.22",
         "certificates.k8s.io/v1"),
        ("coordination.k8s.io/v1beta1", ("Lease",), "1.19", "1.22", "coordination.k8s.io/v1"),
        ("rbac.authorization.k8s.io/v1alpha1",
         ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"), "1.17", "1.22",
         "rbac.authorization.k8s.io/v1"),
        ("rbac.authorization.k8s.io/v1beta1",
         ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"), "1.17", "1.22",
         "rbac.authorization.k8s.io/v1"),
        ("scheduling.k8s.io/v1beta1", ("PriorityClass",), "1.14", "1.22",
         "scheduling.k8s.io/v1"),
        ("storage.k8s.io/v1beta1", ("CSIDriver", "StorageClass", "VolumeAttachment"), "1.19",
         "1.22", "storage.k8s.io/v1"),
        ("storage.k8s.io/v1beta1", ("CSINode",), "1.17", "1.22", "storage.k8s.io/v1"),
        # -- removed in 1.25
        ("batch/v1beta1", ("CronJob",), "1.21", "1.25", "batch/v1"),
        ("discovery.k8s.io/v1beta1", ("EndpointSlice",), "1.21", "1.25", "discovery.k8s.io/v1"),
        ("events.k8s.io/v1beta1", ("Event",), "1.19", "1.25", "events.k8s.io/v1"),
        ("autoscaling/v2beta1", ("HorizontalPodAutoscaler",), "1.22", "1.25", "autoscaling/v2"),
        ("policy/v1beta1", ("PodDisruptionBudget",), "1.21", "1.25", "policy/v1"),
        ("policy/v1beta1", ("PodSecurityPolicy",), "1.21", "1.25",
         "Pod Security Admission (namespace labels pod-security.kubernetes.io/*)"),
        ("node.k8s.io/v1beta1", ("RuntimeClass",), "1.22", "1.25", "node.k8s.io/v1"),
        # -- removed in 1.26 and 1.27
        ("flowcontrol.apiserver.k8s.io/v1beta1", ("FlowSchema", "PriorityLevelConfiguration"),
         "1.23", "1.26", "flowcontrol.apiserver.k8s.io/v1"),
        ("autoscaling/v2beta2", ("HorizontalPodAutoscaler",), "1.23", "1.26", "autoscaling/v2"),
        ("storage.k8s.io/v1beta1", ("CSIStorageCapacity",), "1.24", "1.27", "storage.k8s.io/v1"),
        # -- removed in 1.29
        ("flowcontrol.apiserver.k8s.io/v1beta2", ("FlowSchema", "PriorityLevelConfiguration"),
         "1.26", "1.29", "flowcontrol.apiserver.k8s.io/v1"),
        ("networking.k8s.io/v1alpha1", ("ClusterCIDR",), "1.28", "1.29",
         "nothing (the MultiCIDRRangeAllocator was dropped; use ServiceCIDR for Services)"),
        # -- removed in 1.31 (alpha: no deprecation period)
        ("resource.k8s.io/v1alpha2",
         ("ResourceClass", "ResourceClaim", "ResourceClaimTemplate", "PodSchedulingContext",
          "ResourceClaimParameters", "ResourceClassParameters", "ResourceSlice"),
         "1.31", "1.31", "resource.k8s.io/v1 (structured parameters; DeviceClass)"),
        # -- removed in 1.32
        ("flowcontrol.apiserver.k8s.io/v1beta3", ("FlowSchema", "PriorityLevelConfiguration"),
         "1.29", "1.32", "flowcontrol.apiserver.k8s.io/v1"),
        ("admissionregistration.k8s.io/v1alpha1",
         ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"), "1.29", "1.32",
         "admissionregistration.k8s.io/v1"),
        ("authentication.k8s.io/v1alpha1", ("SelfSubjectReview",), "1.29", "1.32",
         "authentication.k8s.io/v1"),
        ("coordination.k8s.io/v1alpha1", ("LeaseCandidate",), "1.32", "1.32",
         "coordination.k8s.io/v1beta1"),
        # -- removed in 1.33 and 1.34
        ("resource.k8s.io/v1alpha3",
         ("DeviceClass", "ResourceClaim", "ResourceClaimTemplate", "ResourceSlice"),
         "1.32", "1.33", "resource.k8s.io/v1"),
        ("authentication.k8s.io/v1beta1", ("SelfSubjectReview",), "1.30", "1.33",
         "authentication.k8s.io/v1"),
        ("admissionregistration.k8s.io/v1beta1",
         ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"), "1.31", "1.34",
         "admissionregistration.k8s.io/v1"),
        # -- removed in 1.35 and later
        ("storage.k8s.io/v1alpha1", ("VolumeAttributesClass",), "1.32", "1.35",
         "storage.k8s.io/v1"),
        ("storage.k8s.io/v1beta1", ("VolumeAttributesClass",), "1.34", "1.37",
         "storage.k8s.io/v1"),
        ("networking.k8s.io/v1beta1", ("IPAddress", "ServiceCIDR"), "1.34", "1.37",
         "networking.k8s.io/v1"),
        ("certificates.k8s.io/v1alpha1", ("ClusterTrustBundle",), "1.34", "1.37",
         "certificates.k8s.io/v1beta1"),
        ("coordination.k8s.io/v1alpha2", ("LeaseCandidate",), "1.35", "1.38",
         "coordination.k8s.io/v1beta1"),
        ("admissionregistration.k8s.io/v1alpha1",
         ("MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"), "1.35", "1.38",
         "admissionregistration.k8s.io/v1beta1"),
        ("resource.k8s.io/v1beta1",
         ("DeviceClass", "ResourceClaim", "ResourceClaimTemplate", "ResourceSlice"),
         "1.35", "1.38", "resource.k8s.io/v1"),
        ("resource.k8s.io/v1beta2",
         ("DeviceClass", "ResourceClaim", "ResourceClaimTemplate", "ResourceSlice"),
         "1.36", "1.39", "resource.k8s.io/v1"),
        ("coordination.k8s.io/v1beta1", ("LeaseCandidate",), "1.36", "1.39",
         "coordination.k8s.io/v1"),
    ]

    def ver(text: str) -> tuple[int, int]:
        major, minor = text.split(".")
        return int(major), int(minor)

    table: dict[tuple[str, str], Deprecation] = {}
    for api, kinds, dep, rem, repl in rows:
        for kind in kinds:
            table[(api, kind)] = Deprecation(ver(dep), ver(rem), repl)
    return table


DEPRECATED_APIS: dict[tuple[str, str], Deprecation] = _table()


def _v(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


@rule("KP0001", "deprecated-api", practice=0, severity="high")
def deprecated_api(res: Resource, ctx: Context) -> Iterator[Violation]:
    """`apiVersion` removed (or deprecated) in the target Kubernetes version.

    What:
        An object whose `apiVersion` and `kind` the target Kubernetes version
        (`--kube-version`, default the newest known) no longer serves: high.
        Medium when the API is deprecated in that version but still served.
        Nothing is reported for versions before the deprecation. The table
        covers every built-in API removed from 1.16 on (and the alpha and beta
        APIs scheduled for removal), with the replacement to migrate to.
        PodSecurityPolicy is also reported by KP0822.

    Why:
        `kubectl apply` of a removed API fails with "no matches for kind", so
        a cluster upgrade silently breaks every pipeline, Helm chart and
        GitOps sync that still uses it. Deprecated APIs give a warning today
        and the same failure after the next upgrades.

    How:
        Change `apiVersion` to the replacement named in the finding and apply
        the field changes listed in the Kubernetes Deprecated API Migration
        Guide (`kubectl convert` can do most of it).

    Example:
        ```yaml
        apiVersion: apps/v1
        kind: Deployment
        ```
    """
    entry = DEPRECATED_APIS.get((res.api_version, res.kind))
    if entry is None:
        return
    target = ctx.kube_version
    if target < entry.deprecated:
        return
    api = f"{res.api_version} {res.kind}"
    repl = entry.replacement
    if "/" in repl and " " not in repl:
        repl = f"{repl} {res.kind}"
    if target >= entry.removed:
        yield Violation(("apiVersion",),
                        f"{api} was removed in Kubernetes {_v(entry.removed)} (deprecated "
                        f"in {_v(entry.deprecated)}; target {_v(target)}): use {repl}")
    else:
        yield Violation(("apiVersion",),
                        f"{api} is deprecated since Kubernetes {_v(entry.deprecated)} and "
                        f"removed in {_v(entry.removed)}: use {repl}",
                        severity=Severity.MEDIUM)
