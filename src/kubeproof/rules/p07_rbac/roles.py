"""What a Role or ClusterRole grants: wildcards (KP0701), reading Secrets (KP0703),
escalating privilege (KP0704), creating workloads (KP0705). A binding of a built-in
ClusterRole is judged on what that role grants (:func:`.grants.builtin_binding`)."""

from __future__ import annotations

from collections.abc import Iterator

from kubeproof.analysis.rbac_grants import role_text
from kubeproof.core.catalogue import rule
from kubeproof.core.context import Context
from kubeproof.k8s.rbac_names import BINDING_KINDS, RBAC_GROUP, RBAC_KINDS, ROLE_KINDS
from kubeproof.model import Resource, Severity, Violation
from kubeproof.rules.common import quote
from kubeproof.rules.p07_rbac.grants import (
    builtin_aggregation,
    builtin_binding,
    matching_resources,
    policy_rules,
    resource_matches,
    strings,
    verb_item,
)

WILDCARD_FIELDS = ("apiGroups", "resources", "verbs")
READ_VERBS = frozenset({"get", "list", "watch"})
WRITE_VERBS = frozenset({"create", "update", "patch"})

# (label, API groups, resources, verbs): permissions that let the holder gain
# more privilege than the role grants. ``userextras/*`` stands for every
# ``userextras/<key>`` resource.
ESCALATIONS: tuple[tuple[str, frozenset[str], tuple[str, ...], frozenset[str]], ...] = (
    ("escalate on roles", frozenset({RBAC_GROUP}), ("roles", "clusterroles"),
     frozenset({"escalate"})),
    ("bind on roles", frozenset({RBAC_GROUP}), ("roles", "clusterroles"), frozenset({"bind"})),
    ("impersonate", frozenset({""}), ("users", "groups", "serviceaccounts"),
     frozenset({"impersonate"})),
    ("impersonate", frozenset({"authentication.k8s.io"}), ("uids", "userextras/*"),
     frozenset({"impersonate"})),
    ("create on pods/exec", frozenset({""}), ("pods/exec",), frozenset({"create"})),
    ("create on pods/attach", frozenset({""}), ("pods/attach",), frozenset({"create"})),
    # A websocket upgrade is a GET: `get` on these reaches a shell too (the API
    # server only demands `create` for pods/exec and pods/attach from 1.35, see
    # _websocket_get; the kubelet maps GET on its /exec endpoint to `get`).
    ("get/create on nodes/proxy", frozenset({""}), ("nodes/proxy",),
     frozenset({"get", "create"})),
    ("create on serviceaccounts/token", frozenset({""}), ("serviceaccounts/token",),
     frozenset({"create"})),
    ("approve on certificate signers", frozenset({"certificates.k8s.io"}), ("signers",),
     frozenset({"approve"})),
    ("approve on certificate signers", frozenset({"certificates.k8s.io"}),
     ("certificatesigningrequests/approval",), frozenset({"approve"})),
    ("write on admission webhook configurations", frozenset({"admissionregistration.k8s.io"}),
     ("validatingwebhookconfigurations", "mutatingwebhookconfigurations"),
     frozenset({"create", "update", "patch", "delete", "deletecollection"})),
    # CVE-2020-8554: setting status.loadBalancer.ingress[].ip of a Service makes
    # kube-proxy send the cluster's traffic for that IP to the Service.
    ("update/patch on services/status", frozenset({""}), ("services/status",),
     frozenset({"update", "patch"})),
)
EXEC_GET = (("", "pods/exec"), ("", "pods/attach"))
WEBSOCKET_CREATE_CHECK = (1, 35)

WORKLOAD_RESOURCES: tuple[tuple[frozenset[str], tuple[str, ...]], ...] = (
    (frozenset({""}), ("pods", "replicationcontrollers")),
    (frozenset({"apps", "extensions"}), ("deployments", "statefulsets", "daemonsets",
                                         "replicasets")),
    (frozenset({"batch"}), ("jobs", "cronjobs")),
)


# ------------------------------------------------------------------ KP0701

@rule("KP0701", "rbac-wildcard", practice=7, severity="high", kinds=ROLE_KINDS)
def rbac_wildcard(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Role or ClusterRole rule granting `*` verbs, resources or API groups.

    What:
        A rule of a Role or ClusterRole whose `verbs`, `resources` or
        `apiGroups` contain `*` (for resources also `*/<subresource>`). One
        finding per offending field, at the wildcard item.

    Why:
        A wildcard grants everything that exists now and everything added
        later: new verbs, new resources, every CRD any operator installs.
        Nobody reviewed those grants, and `*` verbs include `escalate`,
        `bind` and `impersonate`.

    How:
        List the API groups, resources and verbs the subject actually uses
        (`kubectl auth can-i --list` or the audit log shows them).

    Example:
        ```yaml
        kind: Role
        rules:
        - apiGroups: ["apps"]
          resources: ["deployments"]
          verbs: ["get", "list", "watch"]
        ```
    """
    for i, r in policy_rules(res):
        for key in WILDCARD_FIELDS:
            for j, v in strings(r.get(key)):
                if v == "*" or (key == "resources" and v.startswith("*/")):
                    yield Violation(("rules", i, key, j),
                                    f"{role_text(res)} rule {i} grants {quote(v)} in {key}")
                    break

# ------------------------------------------------------------------ KP0703

@rule("KP0703", "rbac-secrets-read", practice=7, severity="high", kinds=RBAC_KINDS)
def rbac_secrets_read(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Role or ClusterRole that can read Secrets.

    What:
        A rule granting `get`, `list`, `watch` or `*` on `secrets` (or on `*`
        resources) in the core API group, without `resourceNames`. Critical
        in a ClusterRole, high in a Role. kubeproof treats every ClusterRole
        as potentially bound cluster-wide: whether it is depends on bindings
        that may not be in the scanned files, and one ClusterRoleBinding is
        enough. A rule limited by `resourceNames` to named secrets passes.

    Why:
        Secrets hold credentials: database passwords, TLS keys, cloud keys,
        service account tokens. `list` and `watch` return every secret's
        contents, not just names; across all namespaces that includes the
        tokens of the most privileged controllers.

    How:
        Mount the secrets the workload needs instead of reading them through
        the API, or restrict the rule with `resourceNames` to the named
        secrets and to a Role in one namespace.

        A RoleBinding or ClusterRoleBinding of a built-in ClusterRole that
        reads secrets (`admin`, `edit`, the `system:*` roles of the target
        Kubernetes version, aggregation resolved) is reported at its
        `roleRef`: critical for a ClusterRoleBinding, high for a RoleBinding.
        Subjects that are control-plane components do not count. An
        aggregated ClusterRole (without rules of its own) whose selectors
        match built-in roles that read secrets is reported at its
        `aggregationRule`.

    Example:
        ```yaml
        kind: Role
        rules:
        - apiGroups: [""]
          resources: ["secrets"]
          resourceNames: ["app-tls"]
          verbs: ["get"]
        ```
    """
    if res.kind in BINDING_KINDS:
        sev = Severity.CRITICAL if res.kind == "ClusterRoleBinding" else None
        yield from builtin_binding(res, ctx, rbac_secrets_read, sev)
        return
    sev = Severity.CRITICAL if res.kind == "ClusterRole" else None
    for i, r in policy_rules(res):
        if strings(r.get("resourceNames")):
            continue
        found = matching_resources(r, frozenset({""}), ("secrets",))
        if not found or verb_item(r, READ_VERBS) is None:
            continue
        verbs = sorted({v for _, v in strings(r.get("verbs")) if v == "*" or v in READ_VERBS})
        k, granted = found[0]
        on = "secrets" if granted == "secrets" else f"{quote(granted)} (includes secrets)"
        yield Violation(("rules", i, "resources", k),
                        f"{role_text(res)} rule {i} grants {', '.join(verbs)} on {on}",
                        severity=sev)
    yield from builtin_aggregation(res, ctx, rbac_secrets_read, sev)

# ------------------------------------------------------------------ KP0704

def _websocket_get(ctx: Context) -> bool:
    return ctx.kube_version < WEBSOCKET_CREATE_CHECK


@rule("KP0704", "rbac-escalation-verbs", practice=7, severity="critical", kinds=RBAC_KINDS)
def rbac_escalation_verbs(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Role or ClusterRole granting a permission that escalates privilege.

    What:
        A rule granting (directly or through `*`): `escalate` or `bind` on
        roles/clusterroles; `impersonate` on users, groups, service accounts,
        uids or userextras; `create` on `pods/exec`, `pods/attach` or
        `serviceaccounts/token` (also `get` on the pod subresources below
        Kubernetes 1.35, where a websocket GET opens the stream); `get` or
        `create` on `nodes/proxy` (the kubelet API, exec included); `approve`
        on certificate `signers`; create/update/patch/delete on validating or
        mutating webhook configurations; `update` or `patch` on
        `services/status`. One finding per rule, at the verb that grants it.
        A RoleBinding or ClusterRoleBinding of a built-in ClusterRole that
        grants one of these (`admin` and `edit` grant `create` on
        `pods/exec` and impersonation of service accounts) is reported at its
        `roleRef`, unless every subject is a control-plane component; an
        aggregated ClusterRole that gets one from built-in roles (selecting
        `rbac.authorization.k8s.io/aggregate-to-edit`, say), at its
        `aggregationRule`. The built-in roles are one upstream snapshot of the
        bootstrap policy (kubernetes/kubernetes commit 025f283), applied to
        every `--kube-version` until other versions' data is added.

    Why:
        Each one turns a limited role into more: writing RBAC beyond one's own
        rights, acting as another identity, running commands in other
        workloads' containers, minting tokens, issuing client certificates,
        switching off the admission policy that guards everything else, or
        (CVE-2020-8554) setting a Service's load-balancer IP to intercept the
        cluster's traffic to that IP.

    How:
        Remove the permission; where a controller really needs it, limit it
        with `resourceNames` and keep it in a dedicated role that is reviewed.

    Example:
        ```yaml
        kind: Role
        rules:
        - apiGroups: [""]
          resources: ["pods", "pods/log"]
          verbs: ["get", "list"]
        ```
    """
    if res.kind in BINDING_KINDS:
        yield from builtin_binding(res, ctx, rbac_escalation_verbs)
        return
    exec_get = _websocket_get(ctx)
    for i, r in policy_rules(res):
        labels: list[str] = []
        first: int | None = None
        for label, groups, wanted, verbs in ESCALATIONS:
            if not matching_resources(r, groups, wanted):
                continue
            j = verb_item(r, verbs)
            if j is None:
                continue
            if label not in labels:
                labels.append(label)
            first = j if first is None else min(first, j)
        if exec_get:
            for group, sub in EXEC_GET:
                j = verb_item(r, frozenset({"get"}))
                label = f"get on {sub}"
                if (j is not None and matching_resources(r, frozenset({group}), (sub,))
                        and f"create on {sub}" not in labels):
                    labels.append(label)
                    first = j if first is None else min(first, j)
        if first is not None:
            yield Violation(("rules", i, "verbs", first),
                            f"{role_text(res)} rule {i} grants {', '.join(labels)}")
    yield from builtin_aggregation(res, ctx, rbac_escalation_verbs)

# ------------------------------------------------------------------ KP0705

@rule("KP0705", "rbac-workload-create", practice=7, severity="medium", kinds=RBAC_KINDS)
def rbac_workload_create(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Role or ClusterRole that can create or change pods or workloads.

    What:
        A rule granting `create`, `update`, `patch` or `*` on `pods`,
        `replicationcontrollers`, `deployments`, `statefulsets`,
        `daemonsets`, `replicasets`, `jobs` or `cronjobs` (or on `*`
        resources) in their API groups. Subresources such as
        `deployments/scale` do not count. A RoleBinding or ClusterRoleBinding
        of a built-in ClusterRole that grants this (`admin`, `edit`) is
        reported at its `roleRef`, unless every subject is a control-plane
        component; an aggregated ClusterRole that gets it from built-in
        roles, at its `aggregationRule`.

    Why:
        Whoever can define a pod chooses its service account, volumes and
        security context: they can run as any service account of the
        namespace (and read its token), mount its secrets, and, unless Pod
        Security admission stops them, reach the node.

    How:
        Leave workload writes to the deploy pipeline or GitOps controller;
        give people and apps read access, or `deployments/scale` if they only
        scale.

    Example:
        ```yaml
        kind: Role
        rules:
        - apiGroups: ["apps"]
          resources: ["deployments", "deployments/scale"]
          verbs: ["get", "list", "watch"]
        ```
    """
    if res.kind in BINDING_KINDS:
        yield from builtin_binding(res, ctx, rbac_workload_create)
        return
    for i, r in policy_rules(res):
        j = verb_item(r, WRITE_VERBS)
        if j is None:
            continue
        covered: list[str] = []
        for groups, wanted in WORKLOAD_RESOURCES:
            granted = [g for _, g in matching_resources(r, groups, wanted)]
            covered.extend(w for w in wanted if w not in covered
                           and any(resource_matches(g, w) for g in granted))
        if covered:
            verbs = sorted({v for _, v in strings(r.get("verbs"))
                            if v == "*" or v in WRITE_VERBS})
            yield Violation(("rules", i, "verbs", j),
                            f"{role_text(res)} rule {i} grants {', '.join(verbs)} on "
                            f"{', '.join(covered)}")
    yield from builtin_aggregation(res, ctx, rbac_workload_create)

