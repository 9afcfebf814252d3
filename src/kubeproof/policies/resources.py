"""Kind -> resource, as the API server's RESTMapper answers it, for the
``request.kind``/``request.resource`` of a simulated admission request and the
``resources`` of a policy's ``resourceRules``.

Built-in kinds carry their real plural (``Endpoints`` stays ``endpoints``,
``NetworkPolicy`` is ``networkpolicies``); any other kind gets the plural the
RESTMapper guesses for it (``UnsafeGuessKindToResource``: lowercase, then
``s``/``es``/``ies``, ``Relay`` -> ``relaies`` included), which is what a
kind without discovery data gets; well-known CRDs whose plural differs from
the guess (Gateway API's ``gateways``) are in the table.
Scope: the built-in tables of :mod:`kubeproof.k8s.kinds`; an unknown kind is
namespaced when its object names a namespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubeproof.k8s.kinds import CLUSTER_SCOPED

# kinds whose plural the guess gets wrong, or which the guess would spell
# differently from the API (every other built-in plural is the guessed one)
_PLURALS = {
    "Endpoints": "endpoints",
    "PodSecurityPolicy": "podsecuritypolicies",
    "NetworkPolicy": "networkpolicies",
    "PriorityClass": "priorityclasses",
    "StorageClass": "storageclasses",
    "IngressClass": "ingressclasses",
    "RuntimeClass": "runtimeclasses",
    "DeviceClass": "deviceclasses",
    "VolumeAttributesClass": "volumeattributesclasses",
    "ComponentStatus": "componentstatuses",
    "CSIStorageCapacity": "csistoragecapacities",
    "ValidatingAdmissionPolicy": "validatingadmissionpolicies",
    "MutatingAdmissionPolicy": "mutatingadmissionpolicies",
    "ResourceQuota": "resourcequotas",
    "PodDisruptionBudget": "poddisruptionbudgets",
    # Gateway API's CRD says gateways; the guess would say gatewaies
    "Gateway": "gateways",
}

# the group of each built-in kind (for a kind named without a group)
GROUPS = {
    **{k: "" for k in (
        "Pod", "Service", "Endpoints", "ConfigMap", "Secret", "ServiceAccount", "Namespace",
        "Node", "PersistentVolume", "PersistentVolumeClaim", "ReplicationController",
        "PodTemplate", "ResourceQuota", "LimitRange", "Event", "ComponentStatus", "Binding")},
    **{k: "apps" for k in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
                           "ControllerRevision")},
    **{k: "batch" for k in ("Job", "CronJob")},
    **{k: "networking.k8s.io" for k in ("Ingress", "IngressClass", "NetworkPolicy",
                                        "IPAddress", "ServiceCIDR")},
    **{k: "rbac.authorization.k8s.io" for k in ("Role", "RoleBinding", "ClusterRole",
                                                "ClusterRoleBinding")},
    **{k: "policy" for k in ("PodDisruptionBudget", "PodSecurityPolicy")},
    "HorizontalPodAutoscaler": "autoscaling",
    **{k: "admissionregistration.k8s.io" for k in (
        "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding")},
    **{k: "storage.k8s.io" for k in ("StorageClass", "CSIDriver", "CSINode",
                                     "VolumeAttachment", "CSIStorageCapacity",
                                     "VolumeAttributesClass")},
    **{k: "scheduling.k8s.io" for k in ("PriorityClass",)},
    **{k: "node.k8s.io" for k in ("RuntimeClass",)},
    **{k: "coordination.k8s.io" for k in ("Lease",)},
    **{k: "discovery.k8s.io" for k in ("EndpointSlice",)},
    **{k: "certificates.k8s.io" for k in ("CertificateSigningRequest", "ClusterTrustBundle")},
    **{k: "flowcontrol.apiserver.k8s.io" for k in ("FlowSchema",
                                                   "PriorityLevelConfiguration")},
    **{k: "apiextensions.k8s.io" for k in ("CustomResourceDefinition",)},
    **{k: "apiregistration.k8s.io" for k in ("APIService",)},
    **{k: "resource.k8s.io" for k in ("ResourceClaim", "ResourceClaimTemplate",
                                      "ResourceSlice", "DeviceClass")},
    **{k: "authentication.k8s.io" for k in ("TokenReview", "SelfSubjectReview")},
    **{k: "authorization.k8s.io" for k in ("SubjectAccessReview", "SelfSubjectAccessReview",
                                           "SelfSubjectRulesReview",
                                           "LocalSubjectAccessReview")},
    "StorageVersion": "internal.apiserver.k8s.io",
    "StorageVersionMigration": "storagemigration.k8s.io",
}

# the served version of a built-in kind, where it is not v1
_VERSIONS = {
    "HorizontalPodAutoscaler": "v2", "PodSecurityPolicy": "v1beta1",
    "StorageVersion": "v1alpha1", "StorageVersionMigration": "v1alpha1",
    "ClusterTrustBundle": "v1beta1", "MutatingAdmissionPolicy": "v1beta1",
    "MutatingAdmissionPolicyBinding": "v1beta1", "VolumeAttributesClass": "v1",
    "IPAddress": "v1", "ServiceCIDR": "v1",
}


def guess_plural(kind: str) -> str:
    """The RESTMapper's guess (k8s.io/apimachinery meta.UnsafeGuessKindToResource)."""
    if kind in _PLURALS:
        return _PLURALS[kind]
    lower = kind.lower()
    if not lower:
        return ""
    if lower.endswith("s"):
        return lower + "es"
    if lower.endswith("y"):
        return lower[:-1] + "ies"
    return lower + "s"


def kind_of_resource(resource: str) -> str | None:
    """The built-in kind a resource (``deployments``, ``pods/status``) names;
    None for a wildcard or any other resource (a custom one: any kind)."""
    return _KIND_BY_RESOURCE.get(resource.split("/", 1)[0])


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    """What an admission request says about an object's type."""

    group: str
    version: str
    kind: str
    resource: str
    namespaced: bool

    def request_kind(self) -> dict[str, str]:
        return {"group": self.group, "version": self.version, "kind": self.kind}

    def request_resource(self) -> dict[str, str]:
        return {"group": self.group, "version": self.version, "resource": self.resource}


def split_api_version(api_version: Any) -> tuple[str, str]:
    """``apps/v1`` -> (``apps``, ``v1``); ``v1`` -> (``""``, ``v1``)."""
    if not isinstance(api_version, str):
        return "", ""
    group, _, version = api_version.rpartition("/")
    return group, version


def builtin(kind: str) -> tuple[str, str, str, bool] | None:
    """(group, version, resource, namespaced) of a built-in kind; None for
    any other kind."""
    group = GROUPS.get(kind)
    if group is None:
        return None
    return group, _VERSIONS.get(kind, "v1"), guess_plural(kind), kind not in CLUSTER_SCOPED


def resource_of(obj: Mapping[str, Any] | None) -> ResourceInfo:
    """The type of ``obj`` as its admission request would name it (empty
    strings for what the object does not say)."""
    if not isinstance(obj, Mapping):
        return ResourceInfo("", "", "", "", False)
    kind = obj.get("kind")
    kind = kind if isinstance(kind, str) else ""
    group, version = split_api_version(obj.get("apiVersion"))
    known = builtin(kind)
    if not version and known is not None:  # no apiVersion: the kind's own
        group, version = known[0], known[1]
    metadata = obj.get("metadata")
    has_namespace = isinstance(metadata, Mapping) and isinstance(
        metadata.get("namespace"), str) and bool(metadata.get("namespace"))
    namespaced = known[3] if known is not None else (
        has_namespace and kind not in CLUSTER_SCOPED)
    return ResourceInfo(group, version, kind, guess_plural(kind), namespaced)


_KIND_BY_RESOURCE = {guess_plural(kind): kind for kind in GROUPS}
