"""Rules for practice 7: RBAC least privilege (KP0701–KP0708).

The Role/ClusterRole rules evaluate each policy rule the way the RBAC
authorizer matches requests: a verb, API group or resource matches when the
rule lists it or lists ``*``; ``*/sub`` matches subresource ``sub`` of every
resource. A rule with no ``apiGroups`` grants nothing (the API server rejects
it), and ``nonResourceURLs`` rules never grant access to resources.

Object scope: a ClusterRole is judged by what it grants, not by who it is
bound to (the bindings may live in other files or only in the cluster). A
binding whose roleRef is a built-in ClusterRole (``admin``, ``edit``,
``view``, the ``system:*`` bootstrap roles of ``--kube-version``,
:mod:`kubeproof.k8s.rbac_roles`) is judged by KP0703–KP0705 on what that role
grants, aggregation resolved among the built-in roles: the role itself is in
no manifest, so the binding is where the grant shows. Likewise an aggregated
ClusterRole is judged on the built-in roles its selectors match. Being object scope, this
cannot see a ClusterRole of the same name elsewhere in the set (which would
replace the built-in one); ``kubeproof rbac risky`` resolves the set.
Controllers' roles legitimately need some of these permissions; they are still
reported, so that each one is a reviewed, exempted decision.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

from kubeproof.core.catalogue import fix, rule
from kubeproof.core.context import CheckFn, Context
from kubeproof.core.fixing import LABEL_VALUE, NAME_LABEL, FixSettings, map_like, new_map, put
from kubeproof.core.index import Index, WorkloadRec
from kubeproof.k8s.rbac_roles import (
    aggregated_builtins,
    as_cluster_role,
    builtin_role,
    cluster_role,
    version_text,
)
from kubeproof.model import (
    SAFE,
    UNSAFE,
    Origin,
    Path,
    Resource,
    Scope,
    SetViolation,
    Severity,
    Violation,
)
from kubeproof.rules.common import as_dict, as_list, is_dns_subdomain, quote

ROLE_KINDS = frozenset({"Role", "ClusterRole"})
BINDING_KINDS = frozenset({"RoleBinding", "ClusterRoleBinding"})
RBAC_KINDS = ROLE_KINDS | BINDING_KINDS

RBAC_GROUP = "rbac.authorization.k8s.io"
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

# system:* names that are not control-plane components: every (unauthenticated)
# caller, every service account.
NOT_SYSTEM = frozenset({"system:anonymous", "system:authenticated", "system:unauthenticated",
                        "system:serviceaccounts"})
MASTERS = "system:masters"
CLUSTER_ADMIN = "cluster-admin"
MAX_SUBJECTS_SHOWN = 3
BOOTSTRAP_LABEL = "kubernetes.io/bootstrapping"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


# ------------------------------------------------------------------ helpers

def _strings(value: Any) -> list[tuple[int, str]]:
    return [(i, v) for i, v in enumerate(as_list(value)) if isinstance(v, str)]


def _policy_rules(res: Resource) -> Iterator[tuple[int, dict[str, Any]]]:
    for i, r in enumerate(as_list(res.obj.get("rules"))):
        if isinstance(r, dict):
            yield i, r


def _resource_matches(granted: str, wanted: str) -> bool:
    if granted in ("*", wanted):
        return True
    if wanted.endswith("/*"):
        return granted.startswith(wanted[:-1])
    if granted.startswith("*/"):
        _, sep, sub = wanted.partition("/")
        return bool(sep) and sub == granted[2:]
    return False


def _group_ok(r: dict[str, Any], groups: frozenset[str]) -> bool:
    return any(g == "*" or g in groups for _, g in _strings(r.get("apiGroups")))


def _matching_resources(r: dict[str, Any], groups: frozenset[str],
                        wanted: tuple[str, ...]) -> list[tuple[int, str]]:
    """Resource items of policy rule ``r`` that cover one of ``wanted`` (in ``groups``)."""
    if not _group_ok(r, groups):
        return []
    return [(k, g) for k, g in _strings(r.get("resources"))
            if any(_resource_matches(g, w) for w in wanted)]


def _verb_item(r: dict[str, Any], verbs: frozenset[str]) -> int | None:
    for j, v in _strings(r.get("verbs")):
        if v == "*" or v in verbs:
            return j
    return None


def _what(res: Resource) -> str:
    return f"{res.kind} {quote(res.name)}"


def _subjects(res: Resource) -> Iterator[tuple[int, dict[str, Any]]]:
    for j, s in enumerate(as_list(res.obj.get("subjects"))):
        if isinstance(s, dict):
            yield j, s


def _subject_text(s: dict[str, Any]) -> str:
    kind = s.get("kind")
    name = s.get("name")
    ns = s.get("namespace")
    where = f"{ns}/" if isinstance(ns, str) and ns and kind == "ServiceAccount" else ""
    kind = kind if isinstance(kind, str) and kind else "subject"
    name = name if isinstance(name, str) and name else "(no name)"
    return f"{kind} {where}{name}"


def _is_system_component(s: dict[str, Any], binding_ns: str | None) -> bool:
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


def granted_text(message: str, res: Resource, index: int) -> str:
    """What a KP0703–KP0705 message on rule ``index`` of role ``res`` says it grants."""
    prefix = f"{_what(res)} rule {index} grants "
    return message[len(prefix):] if message.startswith(prefix) else message


def _bootstrap(res: Resource) -> bool:
    return as_dict(res.metadata.get("labels")).get(BOOTSTRAP_LABEL) == "rbac-defaults"


def _grants(role: Resource, ctx: Context, check: CheckFn) -> list[str]:
    """What ``check`` finds ``role`` grants, each once."""
    grants: list[str] = []
    for v in check(role, ctx):
        i = v.path[1] if len(v.path) > 1 and isinstance(v.path[1], int) else -1
        text = granted_text(v.message, role, i)
        if text not in grants:
            grants.append(text)
    return grants


def _builtin_aggregation(res: Resource, ctx: Context, check: CheckFn,
                         severity: Severity | None = None) -> Iterator[Violation]:
    """Judge what an aggregated ClusterRole gets from the built-in roles its
    selectors match (the set's roles it matches are judged themselves): one
    finding at ``aggregationRule``. A role whose rules are filled in, as the
    aggregation controller does in a cluster (and the bootstrap roles), is
    judged on those rules alone."""
    rule = res.obj.get("aggregationRule")
    selectors = as_list(rule.get("clusterRoleSelectors")) if isinstance(rule, dict) else []
    if res.kind != "ClusterRole" or not selectors or as_list(res.obj.get("rules")) \
            or _bootstrap(res):
        return
    names, rules = aggregated_builtins(res.name, selectors, ctx.kube_version)
    grants = _grants(Resource(cluster_role(res.name, rules), res.origin), ctx, check)
    if not grants:
        return
    roles = ", ".join(quote(n) for n in names[:MAX_SUBJECTS_SHOWN])
    more = len(names) - MAX_SUBJECTS_SHOWN
    roles += f" and {more} more" if more > 0 else ""
    yield Violation(("aggregationRule",),
                    f"{_what(res)} aggregates built-in ClusterRole{'s' if len(names) > 1 else ''} "
                    f"{roles} (Kubernetes {version_text(ctx.kube_version)}): it grants "
                    f"{'; '.join(grants)}", severity=severity)


def _builtin_binding(res: Resource, ctx: Context, check: CheckFn,
                     severity: Severity | None = None) -> Iterator[Violation]:
    """Judge a binding of a built-in ClusterRole on what the role grants: one
    finding at ``roleRef.name`` naming the role, the grants and the subjects
    that are not control-plane components. ``cluster-admin`` is KP0702's."""
    ref = as_dict(res.obj.get("roleRef"))
    name = ref.get("name")
    if ref.get("kind") != "ClusterRole" or name == CLUSTER_ADMIN or _bootstrap(res):
        return
    role = builtin_role(name, ctx.kube_version)
    if role is None:
        return
    subjects = [_subject_text(s) for _, s in _subjects(res)
                if not _is_system_component(s, res.namespace)]
    if not subjects:
        return
    grants = _grants(Resource(as_cluster_role(role.name, ctx.kube_version), res.origin), ctx,
                     check)
    if not grants:
        return
    shown = ", ".join(subjects[:MAX_SUBJECTS_SHOWN])
    more = len(subjects) - MAX_SUBJECTS_SHOWN
    shown += f" and {more} more" if more > 0 else ""
    scope = f"in namespace {quote(res.namespace)}" if res.kind == "RoleBinding" else "cluster-wide"
    yield Violation(("roleRef", "name"),
                    f"{_what(res)} binds built-in ClusterRole {quote(role.name)} (Kubernetes "
                    f"{version_text(ctx.kube_version)}) {scope} to {shown}: it grants "
                    f"{'; '.join(grants)}", severity=severity)


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
    for i, r in _policy_rules(res):
        for key in WILDCARD_FIELDS:
            for j, v in _strings(r.get(key)):
                if v == "*" or (key == "resources" and v.startswith("*/")):
                    yield Violation(("rules", i, key, j),
                                    f"{_what(res)} rule {i} grants {quote(v)} in {key}")
                    break


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
    for j, s in _subjects(res):
        if s.get("kind") == "Group" and s.get("name") == MASTERS and not bootstrap:
            yield Violation(("subjects", j),
                            f"{_what(res)} names group system:masters, whose members "
                            "bypass RBAC", severity=sev)
        elif cluster_admin and not _is_system_component(s, res.namespace):
            yield Violation(("subjects", j),
                            f"{_what(res)} grants cluster-admin {scope} to "
                            f"{_subject_text(s)}", severity=sev)


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
        yield from _builtin_binding(res, ctx, rbac_secrets_read, sev)
        return
    sev = Severity.CRITICAL if res.kind == "ClusterRole" else None
    for i, r in _policy_rules(res):
        if _strings(r.get("resourceNames")):
            continue
        found = _matching_resources(r, frozenset({""}), ("secrets",))
        if not found or _verb_item(r, READ_VERBS) is None:
            continue
        verbs = sorted({v for _, v in _strings(r.get("verbs")) if v == "*" or v in READ_VERBS})
        k, granted = found[0]
        on = "secrets" if granted == "secrets" else f"{quote(granted)} (includes secrets)"
        yield Violation(("rules", i, "resources", k),
                        f"{_what(res)} rule {i} grants {', '.join(verbs)} on {on}",
                        severity=sev)
    yield from _builtin_aggregation(res, ctx, rbac_secrets_read, sev)


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
        yield from _builtin_binding(res, ctx, rbac_escalation_verbs)
        return
    exec_get = _websocket_get(ctx)
    for i, r in _policy_rules(res):
        labels: list[str] = []
        first: int | None = None
        for label, groups, wanted, verbs in ESCALATIONS:
            if not _matching_resources(r, groups, wanted):
                continue
            j = _verb_item(r, verbs)
            if j is None:
                continue
            if label not in labels:
                labels.append(label)
            first = j if first is None else min(first, j)
        if exec_get:
            for group, sub in EXEC_GET:
                j = _verb_item(r, frozenset({"get"}))
                label = f"get on {sub}"
                if (j is not None and _matching_resources(r, frozenset({group}), (sub,))
                        and f"create on {sub}" not in labels):
                    labels.append(label)
                    first = j if first is None else min(first, j)
        if first is not None:
            yield Violation(("rules", i, "verbs", first),
                            f"{_what(res)} rule {i} grants {', '.join(labels)}")
    yield from _builtin_aggregation(res, ctx, rbac_escalation_verbs)


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
        yield from _builtin_binding(res, ctx, rbac_workload_create)
        return
    for i, r in _policy_rules(res):
        j = _verb_item(r, WRITE_VERBS)
        if j is None:
            continue
        covered: list[str] = []
        for groups, wanted in WORKLOAD_RESOURCES:
            granted = [g for _, g in _matching_resources(r, groups, wanted)]
            covered.extend(w for w in wanted if w not in covered
                           and any(_resource_matches(g, w) for g in granted))
        if covered:
            verbs = sorted({v for _, v in _strings(r.get("verbs"))
                            if v == "*" or v in WRITE_VERBS})
            yield Violation(("rules", i, "verbs", j),
                            f"{_what(res)} rule {i} grants {', '.join(verbs)} on "
                            f"{', '.join(covered)}")
    yield from _builtin_aggregation(res, ctx, rbac_workload_create)


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
    for j, s in _subjects(res):
        if _default_sa(s):
            ns = s.get("namespace") or res.namespace
            where = f" in namespace {quote(ns)}" if isinstance(ns, str) else ""
            yield Violation(("subjects", j),
                            f"{_what(res)} binds the default ServiceAccount{where}")


# ------------------------------------------------------------------ KP0707

def is_static_pod(res: Resource) -> bool:
    """A mirror pod (as audit sees it) or a kubeadm control-plane static pod manifest."""
    if res.kind != "Pod":
        return False
    if MIRROR_ANNOTATION in as_dict(res.metadata.get("annotations")):
        return True
    labels = as_dict(res.metadata.get("labels"))
    return res.namespace == "kube-system" and labels.get("tier") == "control-plane"


@rule("KP0707", "default-service-account", practice=7, severity="medium", pods=True)
def default_service_account(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Workload running as the `default` ServiceAccount.

    What:
        A pod or pod template whose `serviceAccountName` (or the deprecated
        `serviceAccount`) is unset, empty or `default`. Static pods are
        skipped, as they cannot use service accounts: mirror pods (annotation
        `kubernetes.io/config.mirror`) and control-plane manifests (Pods in
        `kube-system` labelled `tier: control-plane`).

    Why:
        Workloads sharing `default` share its identity: any role bound to it
        goes to all of them, audit logs cannot tell them apart, and workload
        identity federation cannot give each one its own cloud permissions.

    How:
        Create a ServiceAccount per workload (with
        `automountServiceAccountToken: false` if it never calls the API) and
        set `serviceAccountName`.

    Example:
        ```yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: billing-worker
        spec:
          serviceAccountName: billing-worker
          containers:
            - name: worker
              image: ghcr.io/acme/billing:2.0.1
        ```
    """
    pod = res.pod
    if pod is None or is_static_pod(res):
        return
    spec = pod.spec
    path: Path = (*pod.spec_path, "serviceAccountName")
    name = spec.get("serviceAccountName")
    if name is None or name == "":
        legacy = spec.get("serviceAccount")
        if isinstance(legacy, str) and legacy:
            name = legacy
            path = (*pod.spec_path, "serviceAccount")
    if name is None or name == "":
        yield Violation(path, f"{_what(res)} sets no serviceAccountName and runs as 'default'")
    elif name == "default":
        yield Violation(path, f"{_what(res)} runs as the 'default' ServiceAccount")


# Where a new serviceAccountName goes in a pod spec: after the deprecated
# field, else before the first of these keys (else at its end).
_POD_SA_BEFORE = ("automountServiceAccountToken", "securityContext", "initContainers",
                  "containers")


def service_account_for(obj: MutableMapping[str, Any], settings: FixSettings
                        ) -> MutableMapping[str, Any] | None:
    """The ServiceAccount :func:`own_service_account` points ``obj`` at: in its
    namespace, labelled like it (its value of `app.kubernetes.io/name` and of the
    required labels, else `fix.labels`, else its name for the name label), with
    no token automounted. None when ``obj`` has no pod spec or no usable name."""
    res = Resource(obj, Origin("<fix>", 0, 0),  # type: ignore[arg-type]
                   templates=settings.pod_templates)
    spec = res.pod.spec if res.pod is not None else {}
    name = spec.get("serviceAccountName")
    if not is_dns_subdomain(name):
        return None
    own = as_dict(res.metadata.get("labels"))
    labels = new_map(obj)
    for key in dict.fromkeys([NAME_LABEL, *settings.required_labels]):
        value = own.get(key)
        if not isinstance(value, str) or not LABEL_VALUE.fullmatch(value):
            value = settings.labels.get(key)
        if value is None and key == NAME_LABEL:
            value = name
        if value is not None:
            labels[key] = str(value)
    meta = map_like(obj, name=name)
    if res.namespace:
        meta["namespace"] = res.namespace
    if labels:
        meta["labels"] = labels
    return map_like(obj, apiVersion="v1", kind="ServiceAccount", metadata=meta,
                    automountServiceAccountToken=False)


@fix("KP0707", safety=UNSAFE, needs_verdict=True, creates=service_account_for,
     why="the pod loses the RBAC bindings and pull secrets of the account it used")
def own_service_account(res: Resource, settings: FixSettings) -> bool:
    """Set `serviceAccountName` to the workload's name (`kubeproof fix` also adds that
    ServiceAccount to the file, with `automountServiceAccountToken: false`, unless the
    files it fixes hold it already).

    File-only: it runs only when the caller names KP0707 in ``codes``, never by
    default, since it points the pod at an object that may not exist yet. The
    webhook's ``/mutate`` sees one object and cannot create the ServiceAccount, so
    naming KP0707 among its fixers is right only where each workload's
    ServiceAccount already exists (otherwise its pods are refused). Static pods
    are left alone (they cannot use ServiceAccounts), as are workloads whose name
    is not a valid ServiceAccount name (templated, ``generateName`` only).
    """
    pod = res.pod
    name = res.metadata.get("name")
    if pod is None or is_static_pod(res) or not is_dns_subdomain(name):
        return False
    changed = put(pod.spec, "serviceAccountName", name, ("serviceAccount",), _POD_SA_BEFORE)
    if pod.spec.get("serviceAccount") is not None:  # deprecated alias: keep it in step
        changed |= put(pod.spec, "serviceAccount", name)
    return changed


# ------------------------------------------------------------------ KP0708

SA_USER_PREFIX = "system:serviceaccount:"
SA_GROUP = "system:serviceaccounts"


def _bound_service_accounts(index: Index) -> tuple[set[tuple[str, str]], set[str], bool]:
    """Who the set's bindings grant something: (namespace, name) of service
    accounts, namespaces whose every service account is bound (group
    ``system:serviceaccounts:<ns>``), and whether all of them are
    (group ``system:serviceaccounts``)."""
    accounts: set[tuple[str, str]] = set()
    namespaces: set[str] = set()
    everyone = False
    for b in index.bindings:
        # a RoleBinding's ServiceAccount subject defaults to the binding's namespace
        binding_ns = b.ref.namespace if b.ref.kind == "RoleBinding" else None
        for s in as_list(b.data.get("subjects")):
            if not isinstance(s, dict) or not isinstance(s.get("name"), str):
                continue
            kind, name = s.get("kind"), s["name"]
            if kind == "ServiceAccount":
                ns = s.get("namespace") or binding_ns
                if isinstance(ns, str) and ns:
                    accounts.add((ns, name))
            elif kind == "User" and name.startswith(SA_USER_PREFIX):
                parts = name.split(":")
                if len(parts) == 4:
                    accounts.add((parts[2], parts[3]))
            elif kind == "Group" and name == SA_GROUP:
                everyone = True
            elif kind == "Group" and name.startswith(SA_GROUP + ":"):
                namespaces.add(name[len(SA_GROUP) + 1:])
    return accounts, namespaces, everyone


def _static_workload(w: WorkloadRec) -> bool:
    """A mirror pod or a control-plane static pod manifest (they get no token)."""
    if w.ref.kind != "Pod":
        return False
    return MIRROR_ANNOTATION in w.annotations or (
        w.ref.namespace == "kube-system" and w.labels.get("tier") == "control-plane")


@rule("KP0708", "sa-token-automount", practice=7, severity="medium", scope=Scope.SET)
def sa_token_automount(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Service account token mounted into pods whose ServiceAccount is granted nothing.

    What:
        A workload whose API token is automounted (neither the pod nor its
        ServiceAccount sets `automountServiceAccountToken: false`; the pod's
        setting wins when both are set) while no RoleBinding or
        ClusterRoleBinding of the set names its ServiceAccount (`default` when
        unset) as a subject, directly, as the user
        `system:serviceaccount:<ns>:<name>`, or through the groups
        `system:serviceaccounts[:<ns>]`.

        Judged only when the set contains the ServiceAccount or describes the
        workload's namespace; workloads without `metadata.namespace` and static
        pods are not judged.

    Why:
        A token the workload never uses is a credential for whoever gets code
        execution in the pod: it still authenticates to the API server (and to
        anything that trusts Kubernetes tokens), and any role later bound to
        the ServiceAccount silently reaches every pod that mounts it.

    How:
        Set `automountServiceAccountToken: false` on the ServiceAccount (or on
        the pod spec). A workload that does call the API should have a
        dedicated ServiceAccount with a RoleBinding for exactly what it needs.

    Example:
        ```yaml
        apiVersion: v1
        kind: ServiceAccount
        metadata:
          name: web
          namespace: shop
        automountServiceAccountToken: false
        ```
    """
    if not index.workloads:
        return
    accounts, whole_namespaces, everyone = _bound_service_accounts(index)
    if everyone:
        return
    for w in index.workloads:
        ns = w.ref.namespace
        if not ns or w.automount is False or ns in whole_namespaces or _static_workload(w):
            continue
        sa_name = w.service_account or "default"
        sa = index.service_accounts.get((ns, sa_name))
        if sa is None and not index.described(ns):
            continue
        if w.automount is None and sa is not None \
                and sa.data.get("automountServiceAccountToken") is False:
            continue
        if (ns, sa_name) in accounts:
            continue
        how = "sets automountServiceAccountToken: true for" if w.automount \
            else "mounts the API token of"
        yield SetViolation(
            w.ref, (*w.spec_path, "automountServiceAccountToken"),
            f"{w.ref.kind} {quote(w.ref.name)} {how} ServiceAccount {quote(sa_name)}, "
            f"which no RoleBinding or ClusterRoleBinding in the set binds")


_POD_AUTOMOUNT_AFTER = ("serviceAccountName", "serviceAccount")


@fix("KP0708", safety=SAFE, needs_verdict=True,
     why="only for ServiceAccounts bound to nothing, whose token grants nothing")
def disable_token_automount(res: Resource, settings: FixSettings) -> bool:
    """Set `automountServiceAccountToken: false` on the pod spec when it sets nothing
    (an explicit `true` is left: e.g. Vault's Kubernetes auth uses the token without RBAC)."""
    pod = res.pod
    if pod is None or "automountServiceAccountToken" in pod.spec:
        return False
    return put(pod.spec, "automountServiceAccountToken", False, _POD_AUTOMOUNT_AFTER)
