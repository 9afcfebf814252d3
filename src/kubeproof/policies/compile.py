"""Policy documents -> compiled policies, once per run: the one entry point
``scan``, ``audit``, the webhook and ``kubeproof test`` call.

Reads ``ValidatingAdmissionPolicy`` and its bindings
(``admissionregistration.k8s.io``), Kyverno ``ValidatingPolicy``
(``policies.kyverno.io``) and hands Kyverno ``ClusterPolicy``/``Policy``
(``kyverno.io``) to :mod:`kubeproof.policies.kyverno_rules`. Bindings join
their policy by ``spec.policyName`` after every document is read, so their
order in the files does not matter. Every document, of any shape, gives a
policy or errors (file:line), never an exception.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeproof.policies.admission import AdmissionPolicy, Binding, compile_binding, compile_vap
from kubeproof.policies.kinds import (
    KYVERNO_GROUP,
    KYVERNO_VERSIONS,
    POLICY_KINDS,
    VAP_GROUP,
    VAP_VERSIONS,
    group_kind,
    is_policy_document,
)
from kubeproof.policies.kyverno_rules import KyvernoPolicy, compile_kyverno_policy
from kubeproof.policies.model import Policy, PolicyError, Source
from kubeproof.policies.validating_policy import compile_validating_policy

__all__ = ["POLICY_KINDS", "PolicySet", "compile_policies", "is_policy_document"]


@dataclass
class PolicySet:
    """The compiled policies of a run, with what could not be used."""

    policies: list[Policy] = field(default_factory=list)
    errors: list[PolicyError] = field(default_factory=list)
    # one per policy that uses what cannot be evaluated offline
    unsupported: list[PolicyError] = field(default_factory=list)

    def param_kinds(self) -> set[tuple[str, str]]:
        """(apiVersion, kind) of the params the set's policies read."""
        kinds: set[tuple[str, str]] = set()
        for p in self.policies:
            if isinstance(p, AdmissionPolicy) and p.param_kind is not None:
                kinds.add(p.param_kind)
            elif isinstance(p, KyvernoPolicy):
                kinds |= p.param_kinds
        return kinds


def compile_policies(docs: Iterable[tuple[Mapping[str, Any], Source]],
                     kube_version: tuple[int, int] | None = None) -> PolicySet:
    """Every policy document of ``docs`` compiled; other documents are ignored."""
    result = PolicySet()
    vaps: dict[str, AdmissionPolicy] = {}
    bindings: list[tuple[str, Binding, Source]] = []
    for doc, source in docs:
        gvk = group_kind(doc)
        if gvk is None or (gvk[0], gvk[2]) not in POLICY_KINDS:
            continue
        group, version, kind = gvk
        if group == VAP_GROUP and version not in VAP_VERSIONS:
            result.errors.append(PolicyError(source, f"{kind}: unknown version {version!r} "
                                                     f"of {group}"))
            continue
        if group == KYVERNO_GROUP and version not in KYVERNO_VERSIONS:
            result.errors.append(PolicyError(source, f"{kind}: unknown version {version!r} "
                                                     f"of {group}"))
            continue
        if kind == "ValidatingAdmissionPolicy":
            policy = compile_vap(doc, source, kube_version, result.errors)
            if policy is None:
                continue
            if policy.name in vaps:
                result.errors.append(PolicyError(source, f"ValidatingAdmissionPolicy "
                                                         f"{policy.name} is defined twice"))
                continue
            vaps[policy.name] = policy
            _add(result, policy)
        elif kind == "ValidatingAdmissionPolicyBinding":
            found = compile_binding(doc, source, result.errors)
            if found is not None:
                bindings.append((found[0], found[1], source))
        elif kind in ("ValidatingPolicy", "NamespacedValidatingPolicy"):
            _add(result, compile_validating_policy(doc, source, kube_version, result.errors))
        else:
            _add(result, compile_kyverno_policy(doc, source, kube_version, result.errors))
    for policy_name, binding, source in bindings:
        target = vaps.get(policy_name)
        if target is None:
            result.errors.append(PolicyError(source, (
                f"ValidatingAdmissionPolicyBinding {binding.name or '(unnamed)'} binds "
                f"policy {policy_name!r}, which is not in the set")))
            continue
        target.bindings.append(binding)
    return result


def _add(result: PolicySet, policy: Policy | None) -> None:
    if policy is None:
        return
    result.policies.append(policy)
    # admission policies name the libraries; kyverno_rules says what, as text
    what = getattr(policy, "unsupported", None)
    if isinstance(what, str):
        text = what
    elif what:
        text = f"it uses CEL libraries kubeproof cannot evaluate offline ({', '.join(what)})"
    else:
        return
    result.unsupported.append(PolicyError(policy.source,
                                          f"{policy.kind} {policy.name}: not evaluated, {text}"))
