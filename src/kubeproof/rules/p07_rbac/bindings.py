"""Whom a RoleBinding or ClusterRoleBinding names: cluster-admin or system:masters for
someone other than a control-plane component (KP0702), a namespace's default
ServiceAccount (KP0706)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeproof.analysis.rbac_grants import role_text
from kubeproof.core.catalogue import rule
from kubeproof.core.context import Context
from kubeproof.k8s.rbac_names import BINDING_KINDS, MASTERS
from kubeproof.model import Resource, Severity, Violation
from kubeproof.rules.common import as_dict, quote
from kubeproof.rules.p07_rbac.grants import (
    BOOTSTRAP_LABEL,
    is_system_component,
    subject_text,
    subjects_of,
)

# ------------------------------------------------------------------ KP0702

@rule("KP0702", "rbac-cluster-admin-binding", practice=7, severity="critical",
      kinds=BINDING_KINDS)
def rbac_cluster_admin_binding(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Binding of `cluster-admin`, or of group `system:masters`, to a non-system subject.

    What:
        A RoleBinding or ClusterRoleBinding whose `roleRef` is the ClusterRole
        `cluster-admin`, for each subject that is not a control-plane
        component (high, not critical, for a RoleBinding: the grant stops at
        its namespace). System components are `system:*` users and groups,
        except the catch-all groups `system:authenticated`,
        `system:unauthenticated`, `system:serviceaccounts[:<ns>]` and the user
        `system:anonymous`, and service accounts in `kube-system`. Also any
        binding naming the group `system:masters` as a subject, except the API
        server's own bootstrap binding (label
        `kubernetes.io/bootstrapping: rbac-defaults`).

    Why:
        `cluster-admin` is every permission on every resource, secrets
        included; a leaked token of such a subject is the whole cluster.
        Members of `system:masters` bypass authorization altogether and cannot
        be limited or revoked through RBAC: a binding that names the group
        signals that people or tools are being placed in it.

    How:
        Bind a purpose-built role (or the built-in `admin`/`edit`/`view`,
        with a RoleBinding per namespace) instead; keep `cluster-admin` for
        break-glass access. Never issue credentials in `system:masters`.

    Example:
        ```yaml
        kind: RoleBinding
        metadata:
          name: team-a-admins
          namespace: team-a
        roleRef:
          apiGroup: rbac.authorization.k8s.io
          kind: ClusterRole
          name: admin
        subjects:
        - kind: Group
          name: team-a
          apiGroup: rbac.authorization.k8s.io
        ```
    """
    ref = as_dict(res.obj.get("roleRef"))
    cluster_admin = ref.get("kind") == "ClusterRole" and ref.get("name") == "cluster-admin"
    labels = as_dict(res.metadata.get("labels"))
    bootstrap = labels.get(BOOTSTRAP_LABEL) == "rbac-defaults"
    sev = Severity.HIGH if res.kind == "RoleBinding" else None
    scope = f"in namespace {quote(res.namespace)}" if res.kind == "RoleBinding" else "cluster-wide"
    for j, s in subjects_of(res):
        if s.get("kind") == "Group" and s.get("name") == MASTERS and not bootstrap:
            yield Violation(("subjects", j),
                            f"{role_text(res)} names group system:masters, whose members "
                            "bypass RBAC", severity=sev)
        elif cluster_admin and not is_system_component(s, res.namespace):
            yield Violation(("subjects", j),
                            f"{role_text(res)} grants cluster-admin {scope} to "
                            f"{subject_text(s)}", severity=sev)

# ------------------------------------------------------------------ KP0706

def _default_sa(s: dict[str, Any]) -> bool:
    name = s.get("name")
    if not isinstance(name, str):
        return False
    if s.get("kind") == "ServiceAccount":
        return name == "default"
    if s.get("kind") == "User" and name.startswith("system:serviceaccount:"):
        return name.rsplit(":", 1)[-1] == "default"
    return False


@rule("KP0706", "rbac-default-sa-bound", practice=7, severity="medium", kinds=BINDING_KINDS)
def rbac_default_sa_bound(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Binding that grants a role to a namespace's `default` ServiceAccount.

    What:
        A RoleBinding or ClusterRoleBinding with a subject of kind
        `ServiceAccount` named `default` (or the user
        `system:serviceaccount:<ns>:default`).

    Why:
        Every pod that does not name a service account runs as `default`, so
        the role goes to every such pod in the namespace, present and future,
        including ones that never needed it.

    How:
        Create a dedicated ServiceAccount for the workload that needs the
        role, bind the role to it, and set `serviceAccountName` in its pods.

    Example:
        ```yaml
        kind: RoleBinding
        subjects:
        - kind: ServiceAccount
          name: billing-worker
          namespace: billing
        ```
    """
    for j, s in subjects_of(res):
        if _default_sa(s):
            ns = s.get("namespace") or res.namespace
            where = f" in namespace {quote(ns)}" if isinstance(ns, str) else ""
            yield Violation(("subjects", j),
                            f"{role_text(res)} binds the default ServiceAccount{where}")

