"""The ServiceAccount a pod runs as: not `default` (KP0707, fixed by pointing the
workload at its own), and no API token mounted where the account is bound to nothing
(KP0708, fixed by not mounting it)."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

from kubeproof.analysis.rbac_grants import role_text
from kubeproof.core.catalogue import fix, rule
from kubeproof.core.context import Context
from kubeproof.core.fixing import LABEL_VALUE, NAME_LABEL, FixSettings, map_like, new_map, put
from kubeproof.core.index import Index, WorkloadRec
from kubeproof.k8s.rbac_names import SA_GROUP, SA_USER_PREFIX
from kubeproof.model import SAFE, UNSAFE, Origin, Path, Resource, Scope, SetViolation, Violation
from kubeproof.rules.common import as_dict, as_list, is_dns_subdomain, quote

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


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
        yield Violation(path, f"{role_text(res)} sets no serviceAccountName and runs as 'default'")
    elif name == "default":
        yield Violation(path, f"{role_text(res)} runs as the 'default' ServiceAccount")


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

