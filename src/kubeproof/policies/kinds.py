"""The policy documents kubeproof reads, told apart without compiling anything
(so that a scan without policies never loads the CEL runtime)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeproof.policies.resources import split_api_version

VAP_GROUP = "admissionregistration.k8s.io"
VAP_VERSIONS = frozenset({"v1", "v1beta1", "v1alpha1"})
KYVERNO_GROUP = "policies.kyverno.io"  # ValidatingPolicy
KYVERNO_VERSIONS = frozenset({"v1alpha1", "v1beta1", "v1"})
KYVERNO_RULES_GROUP = "kyverno.io"  # ClusterPolicy, Policy

POLICY_KINDS: frozenset[tuple[str, str]] = frozenset({
    (VAP_GROUP, "ValidatingAdmissionPolicy"),
    (VAP_GROUP, "ValidatingAdmissionPolicyBinding"),
    (KYVERNO_GROUP, "ValidatingPolicy"),
    (KYVERNO_GROUP, "NamespacedValidatingPolicy"),
    (KYVERNO_RULES_GROUP, "ClusterPolicy"),
    (KYVERNO_RULES_GROUP, "Policy"),
})


def group_kind(obj: Any) -> tuple[str, str, str] | None:
    """(group, version, kind) of a document, None when it is not a mapping
    with string apiVersion and kind."""
    if not isinstance(obj, Mapping):
        return None
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return None
    group, version = split_api_version(api_version)
    return group, version, kind


def is_policy_document(obj: Any) -> bool:
    """Whether ``obj`` is a document the policies read (any version)."""
    gvk = group_kind(obj)
    return gvk is not None and (gvk[0], gvk[2]) in POLICY_KINDS
