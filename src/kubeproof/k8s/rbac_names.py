"""The names of the RBAC API: its group, its kinds and the well-known subjects.

The RBAC rules (KP07) and the RBAC analysis (``kubeproof rbac``) both match
objects and subjects by these names, so they are defined once, below both.
"""

from __future__ import annotations

RBAC_GROUP = "rbac.authorization.k8s.io"
ROLE_KINDS = frozenset({"Role", "ClusterRole"})
BINDING_KINDS = frozenset({"RoleBinding", "ClusterRoleBinding"})
RBAC_KINDS = ROLE_KINDS | BINDING_KINDS

# a ServiceAccount as a User subject: system:serviceaccount:<namespace>:<name>
SA_USER_PREFIX = "system:serviceaccount:"
# every ServiceAccount (and, with ":<namespace>", those of one namespace) as a Group
SA_GROUP = "system:serviceaccounts"
# the group whose members bypass RBAC altogether
MASTERS = "system:masters"
CLUSTER_ADMIN = "cluster-admin"
