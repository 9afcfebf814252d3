"""Rules for practice 15: keep workloads inside the service mesh.

The set rules (KP1501, KP1503) speak only when the set shows a mesh: Istio or
Linkerd resources, or a namespace or workload enrolled in one (or when
`mesh.required` is set); a set without any sign of a mesh is not judged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeproof.core.catalogue import practice_applies, rule
from kubeproof.core.context import Context
from kubeproof.core.index import Index, Record
from kubeproof.k8s.selectors import is_empty_selector
from kubeproof.model import Resource, Scope, SetViolation, Violation
from kubeproof.rules.common import as_dict, quote

ISTIO_INJECT = "sidecar.istio.io/inject"
LINKERD_INJECT = "linkerd.io/inject"
ISTIO_DATAPLANE = "istio.io/dataplane-mode"


def _is(value: Any, word: str) -> bool:
    """``value`` spells ``word`` (YAML booleans count as their spelling)."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return isinstance(value, str) and value.strip().lower() == word


@rule("KP1502", "mesh-injection-disabled", practice=15, severity="medium", pods=True)
def mesh_injection_disabled(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Pod template that opts out of service mesh sidecar injection.

    What:
        A pod or pod template whose label or annotation
        `sidecar.istio.io/inject` is `"false"`, whose annotation
        `linkerd.io/inject` is `disabled`, or whose label
        `istio.io/dataplane-mode` is `none` (the Istio ambient opt-out).

    Why:
        A workload outside the mesh gets no mutual TLS, no workload identity and
        no mesh authorization policy: its traffic is plain text, and a `STRICT`
        peer authentication makes it either unreachable or the reason the policy
        gets relaxed. Opt-outs tend to be copied from one manifest to the next
        long after the reason is gone.

    How:
        Remove the opt-out so the namespace's injection setting applies. If the
        workload really cannot join the mesh (host network, a CNI or mesh
        component itself), keep the opt-out and record why with a
        `kubeproof.dev/ignore: KP1502` and `kubeproof.dev/ignore-reason`
        annotation.

    Example:
        ```yaml
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: checkout, namespace: shop}
        spec:
          selector:
            matchLabels: {app: checkout}
          template:
            metadata:
              labels:
                app: checkout
                sidecar.istio.io/inject: "true"
            spec:
              containers:
                - name: checkout
                  image: ghcr.io/acme/checkout:2.0.1
        ```
    """
    pod = res.pod
    assert pod is not None
    meta = pod.metadata_path
    labels = pod.labels
    annotations = pod.annotations
    if _is(labels.get(ISTIO_INJECT), "false"):
        yield Violation((*meta, "labels", ISTIO_INJECT),
                        f'{res.kind} {quote(res.name)} sets label {ISTIO_INJECT}: "false"')
    if _is(annotations.get(ISTIO_INJECT), "false"):
        yield Violation((*meta, "annotations", ISTIO_INJECT),
                        f'{res.kind} {quote(res.name)} sets annotation {ISTIO_INJECT}: "false"')
    if _is(annotations.get(LINKERD_INJECT), "disabled"):
        yield Violation((*meta, "annotations", LINKERD_INJECT),
                        f"{res.kind} {quote(res.name)} sets annotation {LINKERD_INJECT}: disabled")
    if _is(labels.get(ISTIO_DATAPLANE), "none"):
        yield Violation((*meta, "labels", ISTIO_DATAPLANE),
                        f"{res.kind} {quote(res.name)} sets label {ISTIO_DATAPLANE}: none")


# ---------------------------------------------------------------- KP1501

ISTIO_INJECTION = "istio-injection"
ISTIO_REV = "istio.io/rev"
# Namespaces that host the mesh itself, the identity provider it gets its
# certificates from (SPIRE), or Kubernetes' own components: their pods are not
# meant to be injected.
UNMESHED_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease",
                                 "istio-system", "istio-operator", "linkerd", "linkerd-cni",
                                 "spire", "spire-server", "spire-system"})
LINKERD_CONTROL_PLANE = ("linkerd.io/is-control-plane", "linkerd.io/extension")


def _get(labels: dict[str, Any], annotations: dict[str, Any], key: str) -> Any:
    return labels[key] if key in labels else annotations.get(key)


def _enrolled(labels: dict[str, Any], annotations: dict[str, Any]) -> bool:
    """Whether a namespace's (or pod's) labels and annotations put it in a mesh:
    ``istio-injection: enabled`` (which, when present, decides over
    ``istio.io/rev``), ``istio.io/rev: <revision>``, ``linkerd.io/inject:
    enabled|ingress``, or ``istio.io/dataplane-mode: ambient``."""
    injection = _get(labels, annotations, ISTIO_INJECTION)
    if injection is not None:
        if _is(injection, "enabled"):
            return True
    else:
        rev = _get(labels, annotations, ISTIO_REV)
        if isinstance(rev, str) and rev.strip():
            return True
    linkerd = _get(labels, annotations, LINKERD_INJECT)
    if _is(linkerd, "enabled") or _is(linkerd, "ingress"):
        return True
    return _is(_get(labels, annotations, ISTIO_DATAPLANE), "ambient")


def _pod_enrolled(labels: dict[str, Any], annotations: dict[str, Any]) -> bool:
    """A pod template enrolled on its own (``sidecar.istio.io/inject: "true"``
    or any namespace-level setting)."""
    return _is(_get(labels, annotations, ISTIO_INJECT), "true") or _enrolled(labels, annotations)


@practice_applies(15)
def mesh_shown(index: Index, ctx: Context) -> bool:
    """Whether the set shows a service mesh (or config ``mesh.required``): only
    then do the mesh rules have anything to check."""
    # a mesh resource with no namespace (a loose sample file) says nothing about
    # where the set is deployed, so it does not switch the mesh rules on
    if ctx.config.mesh_required or any(r.ref.namespace for r in index.mesh):
        return True
    if any(_enrolled(as_dict(r.data.get("labels")), as_dict(r.data.get("annotations")))
           for r in index.namespaces.values()):
        return True
    return any(_pod_enrolled(w.labels, w.annotations) for w in index.workloads)


def _mesh_infrastructure(name: str, record: Record) -> bool:
    labels = as_dict(record.data.get("labels"))
    return name in UNMESHED_NAMESPACES or any(k in labels for k in LINKERD_CONTROL_PLANE)


@rule("KP1501", "namespace-not-meshed", practice=15, severity="medium", scope=Scope.SET)
def namespace_not_meshed(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Namespace with workloads that is not enrolled in the service mesh.

    What:
        When the set shows a mesh (Istio or Linkerd resources, or a namespace
        or pod template enrolled in one) or `mesh.required` is set: a
        Namespace of the set that runs workloads but has none of the labels
        (or annotations) `istio-injection: enabled`, `istio.io/rev:
        <revision>`, `linkerd.io/inject: enabled` or
        `istio.io/dataplane-mode: ambient`. `istio-injection`, when present,
        decides over `istio.io/rev`, so `istio-injection: disabled` is
        reported. A namespace whose every workload enrolls itself
        (`sidecar.istio.io/inject: "true"` and the like) is meshed.

        Not judged: namespaces the set does not describe, `kube-system`,
        `kube-public`, `kube-node-lease`, and the mesh's own namespaces
        (`istio-system`, `istio-operator`, `linkerd`, `linkerd-cni`, those
        labelled `linkerd.io/is-control-plane` or `linkerd.io/extension`, and
        SPIRE's `spire`, `spire-server` and `spire-system`, which issue the
        mesh's identities).

    Why:
        Pods outside the mesh talk plain text, carry no workload identity and
        escape the mesh's authorization policies; under `STRICT` mutual TLS
        they are cut off, which is how `PERMISSIVE` policies come back.

    How:
        Label the namespace for injection (`istio-injection: enabled`, or
        `istio.io/rev: <revision>` for revisioned Istio, or annotate
        `linkerd.io/inject: enabled`) and restart its workloads so the
        sidecars are added.

    Example:
        ```yaml
        apiVersion: v1
        kind: Namespace
        metadata:
          name: shop
          labels:
            istio-injection: enabled
        ```
    """
    if not index.workloads or not index.namespaces or not mesh_shown(index, ctx):
        return
    for ns, workloads in index.workloads_by_namespace().items():
        record = index.namespaces.get(ns) if ns else None
        if ns is None or record is None or _mesh_infrastructure(ns, record):
            continue
        labels = as_dict(record.data.get("labels"))
        annotations = as_dict(record.data.get("annotations"))
        if _enrolled(labels, annotations):
            continue
        outside = [w for w in workloads if not _pod_enrolled(w.labels, w.annotations)]
        if not outside:
            continue
        count = f"{len(outside)} workload{'s' if len(outside) != 1 else ''}"
        injection = _get(labels, annotations, ISTIO_INJECTION)
        if injection is not None:
            where = "labels" if ISTIO_INJECTION in labels else "annotations"
            yield SetViolation(record.ref, ("metadata", where, ISTIO_INJECTION),
                               f"namespace {quote(ns)} runs {count} outside the mesh and sets "
                               f"{ISTIO_INJECTION}: {injection}")
        else:
            yield SetViolation(record.ref, ("metadata", "labels"),
                               f"namespace {quote(ns)} runs {count} outside the mesh and has "
                               f"no injection label ({ISTIO_INJECTION}, {ISTIO_REV} or "
                               f"{LINKERD_INJECT})")


# ---------------------------------------------------------------- KP1503

ISTIO_ROOT_NAMESPACE = "istio-system"
WEAK_MODES = ("PERMISSIVE", "DISABLE")


def _mode(value: Any) -> str | None:
    return value.strip().upper() if isinstance(value, str) and value.strip() else None


def _istio_root_namespace(index: Index) -> str:
    """The mesh's root namespace: an IstioOperator's ``meshConfig.rootNamespace``
    when the set has one, else Istio's default."""
    for r in index.mesh:
        if r.ref.kind == "IstioOperator":
            root = as_dict(as_dict(as_dict(r.data.get("spec")).get("meshConfig"))).get(
                "rootNamespace")
            if isinstance(root, str) and root:
                return root
    return ISTIO_ROOT_NAMESPACE


def _is_peer_authentication(r: Record) -> bool:
    return r.ref.kind == "PeerAuthentication" and r.ref.api_version.startswith(
        "security.istio.io/")


@rule("KP1503", "mesh-mtls-not-strict", practice=15, severity="high", scope=Scope.SET)
def mesh_mtls_not_strict(index: Index, ctx: Context) -> Iterator[SetViolation]:
    """Istio mutual TLS that is not STRICT.

    What:
        An Istio `PeerAuthentication` whose `mtls.mode` (or a `portLevelMtls`
        entry's `mode`) is `PERMISSIVE` or `DISABLE`, or the mesh-wide one (in
        the root namespace, with no or an empty `selector`) leaving the mode
        unset, which Istio reads as `PERMISSIVE`. Each such setting is
        reported where it is written.

        When the set holds Istio resources and describes the root namespace
        (`istio-system`, or an IstioOperator's `meshConfig.rootNamespace`) but
        has no mesh-wide PeerAuthentication at all, that is reported once, on
        the root Namespace. The root namespace being absent from the set means
        the mesh is installed elsewhere: nothing is reported then.

    Why:
        Under `PERMISSIVE`, sidecars still accept plain text, so any pod
        outside the mesh (or an attacker on the pod network) can call the
        services without an identity, and authorization policies keyed on
        mTLS identities do not hold. `DISABLE` turns mutual TLS off altogether.

    How:
        Add a mesh-wide `PeerAuthentication` with `mtls.mode: STRICT` in the
        root namespace once every client has a sidecar, and remove the
        `PERMISSIVE` / `DISABLE` exceptions (keep a narrow, workload-level
        `portLevelMtls` one only where a port must take plain text, and
        document it).

    Example:
        ```yaml
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata:
          name: default
          namespace: istio-system
        spec:
          mtls:
            mode: STRICT
        ```
    """
    istio = [r for r in index.mesh if r.ref.api_version.split("/", 1)[0].endswith("istio.io")]
    if not istio:
        return
    root = _istio_root_namespace(index)
    mesh_wide_seen = False
    for r in istio:
        if not _is_peer_authentication(r):
            continue
        spec = as_dict(r.data.get("spec"))
        selector = spec.get("selector")
        mesh_wide = r.ref.namespace == root and (selector is None or is_empty_selector(selector))
        mode = _mode(as_dict(spec.get("mtls")).get("mode"))
        mesh_wide_seen = mesh_wide_seen or mesh_wide
        what = f"PeerAuthentication {quote(r.ref.name)}"
        if mode in WEAK_MODES:
            scope = "mesh-wide " if mesh_wide else ""
            yield SetViolation(r.ref, ("spec", "mtls", "mode"),
                               f"{scope}{what} sets mtls.mode {mode}")
        elif mesh_wide and mode in (None, "UNSET"):
            yield SetViolation(r.ref, ("spec", "mtls", "mode"),
                               f"mesh-wide {what} leaves mtls.mode unset, which Istio treats "
                               f"as PERMISSIVE")
        for port, setting in as_dict(spec.get("portLevelMtls")).items():
            port_mode = _mode(as_dict(setting).get("mode"))
            if port_mode in WEAK_MODES:
                yield SetViolation(r.ref, ("spec", "portLevelMtls", str(port), "mode"),
                                   f"{what} sets mtls.mode {port_mode} for port {port}")
    record = index.namespaces.get(root)
    if not mesh_wide_seen and record is not None:
        yield SetViolation(record.ref, ("metadata", "name"),
                           f"the mesh root namespace {quote(root)} has no mesh-wide "
                           f"PeerAuthentication (mtls.mode STRICT), so the mesh runs "
                           f"PERMISSIVE")
