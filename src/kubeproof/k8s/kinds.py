"""Facts about built-in Kubernetes kinds: which are namespaced, which cluster-scoped."""

from __future__ import annotations

CLUSTER_SCOPED = frozenset({
    "Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding",
    "CustomResourceDefinition", "StorageClass", "PriorityClass", "CSIDriver", "CSINode",
    "VolumeAttachment", "RuntimeClass", "IngressClass", "PodSecurityPolicy",
    "CertificateSigningRequest", "ComponentStatus", "FlowSchema",
    "PriorityLevelConfiguration", "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding", "APIService", "StorageVersion",
    "StorageVersionMigration", "ClusterTrustBundle", "DeviceClass", "ResourceSlice",
    "VolumeAttributesClass", "IPAddress", "ServiceCIDR", "SelfSubjectReview",
    "TokenReview", "SubjectAccessReview", "SelfSubjectAccessReview",
    "SelfSubjectRulesReview",
})

NAMESPACED = frozenset({
    "Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController",
    "Job", "CronJob", "PodTemplate", "Service", "Endpoints", "EndpointSlice", "ConfigMap",
    "Secret", "ServiceAccount", "Role", "RoleBinding", "Ingress", "NetworkPolicy",
    "PersistentVolumeClaim", "PodDisruptionBudget", "HorizontalPodAutoscaler",
    "ResourceQuota", "LimitRange", "Lease", "Event", "ControllerRevision",
    "CSIStorageCapacity", "ResourceClaim", "ResourceClaimTemplate", "PodScheduling",
    "LocalSubjectAccessReview", "Binding",
})


def is_namespaced_builtin(kind: str) -> bool:
    return kind in NAMESPACED
