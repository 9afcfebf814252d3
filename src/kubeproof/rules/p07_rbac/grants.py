"""How the RBAC rules read policy rules and subjects, shared by every KP07 module.

A policy rule matches a request the way the RBAC authorizer matches it (see the
package docstring); a binding of a built-in ClusterRole, and an aggregated
ClusterRole, are judged on what the built-in roles grant (:func:`builtin_binding`,
:func:`builtin_aggregation`), with the same check the role rule runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeproof.analysis.rbac_grants import granted_text, role_text
from kubeproof.core.context import CheckFn, Context
from kubeproof.k8s.rbac_names import CLUSTER_ADMIN
from kubeproof.k8s.rbac_roles import (
    aggregated_builtins,
    as_cluster_role,
    builtin_role,
    cluster_role,
    version_text,
)
from kubeproof.model import Resource, Severity, Violation
from kubeproof.rules.common import as_dict, as_list, quote

# system:* names that are not control-plane components: every (unauthenticated)
# caller, every service account.
NOT_SYSTEM = frozenset({"system:anonymous", "system:authenticated", "system:unauthenticated",
                        "system:serviceaccounts"})
MAX_SUBJECTS_SHOWN = 3
BOOTSTRAP_LABEL = "kubernetes.io/bootstrapping"


def strings(value: Any) -> list[tuple[int, str]]:
    return [(i, v) for i, v in enumerate(as_list(value)) if isinstance(v, str)]


def policy_rules(res: Resource) -> Iterator[tuple[int, dict[str, Any]]]:
    for i, r in enumerate(as_list(res.obj.get("rules"))):
        if isinstance(r, dict):
            yield i, r


def resource_matches(granted: str, wanted: str) -> bool:
    if granted in ("*", wanted):
        return True
    if wanted.endswith("/*"):
        return granted.startswith(wanted[:-1])
    if granted.startswith("*/"):
        _, sep, sub = wanted.partition("/")
        return bool(sep) and sub == granted[2:]
    return False


def group_ok(r: dict[str, Any], groups: frozenset[str]) -> bool:
    return any(g == "*" or g in groups for _, g in strings(r.get("apiGroups")))


def matching_resources(r: dict[str, Any], groups: frozenset[str],
                        wanted: tuple[str, ...]) -> list[tuple[int, str]]:
    """Resource items of policy rule ``r`` that cover one of ``wanted`` (in ``groups``)."""
    if not group_ok(r, groups):
        return []
    return [(k, g) for k, g in strings(r.get("resources"))
            if any(resource_matches(g, w) for w in wanted)]


def verb_item(r: dict[str, Any], verbs: frozenset[str]) -> int | None:
    for j, v in strings(r.get("verbs")):
        if v == "*" or v in verbs:
            return j
    return None


def subjects_of(res: Resource) -> Iterator[tuple[int, dict[str, Any]]]:
    for j, s in enumerate(as_list(res.obj.get("subjects"))):
        if isinstance(s, dict):
            yield j, s


def subject_text(s: dict[str, Any]) -> str:
    kind = s.get("kind")
    name = s.get("name")
    ns = s.get("namespace")
    where = f"{ns}/" if isinstance(ns, str) and ns and kind == "ServiceAccount" else ""
    kind = kind if isinstance(kind, str) and kind else "subject"
    name = name if isinstance(name, str) and name else "(no name)"
    return f"{kind} {where}{name}"


def is_system_component(s: dict[str, Any], binding_ns: str | None) -> bool:
    """Control-plane identities: ``system:*`` users and groups (but not the
    catch-all groups such as ``system:authenticated``), and service accounts in
    ``kube-system``."""
    kind = s.get("kind")
    name = s.get("name")
    if not isinstance(name, str):
        return False
    if kind == "ServiceAccount":
        ns = s.get("namespace") or binding_ns
        return ns == "kube-system"
    if kind not in ("User", "Group") or not name.startswith("system:") or name in NOT_SYSTEM:
        return False
    if name.startswith("system:serviceaccount:"):
        return name.split(":")[2] == "kube-system"
    if name.startswith("system:serviceaccounts:"):
        return name == "system:serviceaccounts:kube-system"
    return True

def bootstrap(res: Resource) -> bool:
    return as_dict(res.metadata.get("labels")).get(BOOTSTRAP_LABEL) == "rbac-defaults"


def grants_of(role: Resource, ctx: Context, check: CheckFn) -> list[str]:
    """What ``check`` finds ``role`` grants, each once."""
    grants: list[str] = []
    for v in check(role, ctx):
        i = v.path[1] if len(v.path) > 1 and isinstance(v.path[1], int) else -1
        text = granted_text(v.message, role, i)
        if text not in grants:
            grants.append(text)
    return grants


def builtin_aggregation(res: Resource, ctx: Context, check: CheckFn,
                         severity: Severity | None = None) -> Iterator[Violation]:
    """Judge what an aggregated ClusterRole gets from the built-in roles its
    selectors match (the set's roles it matches are judged themselves): one
    finding at ``aggregationRule``. A role whose rules are filled in, as the
    aggregation controller does in a cluster (and the bootstrap roles), is
    judged on those rules alone."""
    rule = res.obj.get("aggregationRule")
    selectors = as_list(rule.get("clusterRoleSelectors")) if isinstance(rule, dict) else []
    if res.kind != "ClusterRole" or not selectors or as_list(res.obj.get("rules")) \
            or bootstrap(res):
        return
    names, rules = aggregated_builtins(res.name, selectors, ctx.kube_version)
    grants = grants_of(Resource(cluster_role(res.name, rules), res.origin), ctx, check)
    if not grants:
        return
    roles = ", ".join(quote(n) for n in names[:MAX_SUBJECTS_SHOWN])
    more = len(names) - MAX_SUBJECTS_SHOWN
    roles += f" and {more} more" if more > 0 else ""
    plural = "s" if len(names) > 1 else ""
    yield Violation(("aggregationRule",),
                    f"{role_text(res)} aggregates built-in ClusterRole{plural} "
                    f"{roles} (Kubernetes {version_text(ctx.kube_version)}): it grants "
                    f"{'; '.join(grants)}", severity=severity)


def builtin_binding(res: Resource, ctx: Context, check: CheckFn,
                     severity: Severity | None = None) -> Iterator[Violation]:
    """Judge a binding of a built-in ClusterRole on what the role grants: one
    finding at ``roleRef.name`` naming the role, the grants and the subjects
    that are not control-plane components. ``cluster-admin`` is KP0702's."""
    ref = as_dict(res.obj.get("roleRef"))
    name = ref.get("name")
    if ref.get("kind") != "ClusterRole" or name == CLUSTER_ADMIN or bootstrap(res):
        return
    role = builtin_role(name, ctx.kube_version)
    if role is None:
        return
    subjects = [subject_text(s) for _, s in subjects_of(res)
                if not is_system_component(s, res.namespace)]
    if not subjects:
        return
    grants = grants_of(Resource(as_cluster_role(role.name, ctx.kube_version), res.origin), ctx,
                     check)
    if not grants:
        return
    shown = ", ".join(subjects[:MAX_SUBJECTS_SHOWN])
    more = len(subjects) - MAX_SUBJECTS_SHOWN
    shown += f" and {more} more" if more > 0 else ""
    scope = f"in namespace {quote(res.namespace)}" if res.kind == "RoleBinding" else "cluster-wide"
    yield Violation(("roleRef", "name"),
                    f"{role_text(res)} binds built-in ClusterRole {quote(role.name)} (Kubernetes "
                    f"{version_text(ctx.kube_version)}) {scope} to {shown}: it grants "
                    f"{'; '.join(grants)}", severity=severity)

