"""The cross-object index that set rules read, built once per run.

Objects stream through the engine one file at a time and their node trees are
dropped as soon as their object rules ran; what set rules need from them is
kept here as small records (never a Secret's data). Every record carries an
:class:`~kubeproof.model.ObjectRef`, which is how a set rule names the object
a finding is about; the engine finds its line again afterwards.

Lookups are dictionaries keyed by namespace (and name), so every set rule
runs in time linear in the set: for each subject it consults the records of
its own namespace, never every pair of objects.

The index is plain data: worker processes build partial indexes and the
parent merges them (:meth:`Index.merge`).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from kubeproof.core.applications import discover_applications, is_namespaced
from kubeproof.images.credentials import Credentials, CredentialsError, parse_docker_config
from kubeproof.k8s.pullsecrets import SECRET_KINDS as SECRET_KINDS
from kubeproof.k8s.pullsecrets import account_pull_secrets, pull_secret_payload, pull_secret_problem
from kubeproof.model import NO_TEMPLATES, InputError, ObjectRef, Path, Resource
from kubeproof.sources.files import LoadOptions, Located, load_path

T = TypeVar("T")


@dataclass(slots=True)
class ContainerRec:
    name: str
    image: str | None
    path: Path
    ports: list[dict[str, Any]]
    readiness: Any
    liveness: Any


@dataclass(slots=True)
class WorkloadRec:
    """A pod-carrying object: its pod template's labels, identity and settings."""

    ref: ObjectRef
    labels: dict[str, Any]
    annotations: dict[str, Any]
    replicas: int | None
    service_account: str | None
    automount: bool | None
    pull_secrets: list[str]
    containers: list[ContainerRec]
    spec_path: Path
    metadata_path: Path
    selector: Any  # the controller's own selector (Deployment etc.), as written


@dataclass(slots=True)
class SecretRec:
    ref: ObjectRef
    type: str
    # for pull-secret types: None when the payload parses, else why it does not
    payload_problem: str | None
    # a usable pull secret's credentials per registry name, kept only when
    # registry checks run (Index.keep_credentials); in memory only, never shown
    credentials: dict[str, list[Credentials]] | None = field(default=None, repr=False)


@dataclass(slots=True)
class Record:
    """Any other indexed object: its ref and the parts of it set rules read."""

    ref: ObjectRef
    data: dict[str, Any]


@dataclass(slots=True)
class Index:
    objects: int = 0
    namespaces: dict[str, Record] = field(default_factory=dict)
    workloads: list[WorkloadRec] = field(default_factory=list)
    services: list[Record] = field(default_factory=list)
    service_accounts: dict[tuple[str, str], Record] = field(default_factory=dict)
    secrets: dict[tuple[str, str], SecretRec] = field(default_factory=dict)
    bindings: list[Record] = field(default_factory=list)
    network_policies: list[Record] = field(default_factory=list)
    pdbs: list[Record] = field(default_factory=list)
    hpas: list[Record] = field(default_factory=list)
    ingresses: list[Record] = field(default_factory=list)
    quotas: set[str] = field(default_factory=set)
    limit_ranges: set[str] = field(default_factory=set)
    mesh: list[Record] = field(default_factory=list)  # Istio / Linkerd resources
    monitors: list[Record] = field(default_factory=list)  # ServiceMonitor, PodMonitor
    # namespaces some object in the set lives in (described or not)
    seen_namespaces: set[str] = field(default_factory=set)
    # namespaces holding a custom resource (a kind outside the built-in API
    # groups): operators may create pods, Services and workloads there that no
    # manifest of the set shows
    custom_namespaces: set[str] = field(default_factory=set)
    # keep pull secrets' parsed credentials (``--check-images``): off otherwise,
    # so that a plain scan never decodes them
    keep_credentials: bool = False
    # views of the finished set that several rules read (the pod templates by
    # namespace...): built once, on first use (:meth:`derived`), and dropped
    # whenever the set grows
    _derived: dict[Callable[[Index], Any], Any] = field(default_factory=dict, repr=False,
                                                        compare=False)

    def derived(self, build: Callable[[Index], T]) -> T:
        """``build(self)``, built once for every rule that asks: a per-run view
        kept with the set it was built from, typed by its builder."""
        if build not in self._derived:
            self._derived[build] = build(self)
        return cast(T, self._derived[build])

    # ------------------------------------------------------------ building

    def add(self, res: Resource, ref: ObjectRef) -> None:
        if self._derived:
            self._derived.clear()
        self.objects += 1
        ns = res.namespace
        if ns:
            self.seen_namespaces.add(ns)
            if not _builtin_group(res.group) and res.kind not in _NEVER_CREATE_PODS:
                self.custom_namespaces.add(ns)
        kind = res.kind
        pod = res.pod
        if pod is not None:
            self.workloads.append(_workload(res, ref))
            return
        adder = _ADDERS.get(kind)
        if adder is not None:
            adder(self, res, ref)
        elif res.group.endswith(("istio.io", "linkerd.io")):
            self.mesh.append(Record(ref, _small(res)))

    def merge(self, other: Index) -> None:
        self._derived.clear()
        self.objects += other.objects
        self.namespaces.update(other.namespaces)
        self.workloads.extend(other.workloads)
        self.services.extend(other.services)
        self.service_accounts.update(other.service_accounts)
        self.secrets.update(other.secrets)
        self.bindings.extend(other.bindings)
        self.network_policies.extend(other.network_policies)
        self.pdbs.extend(other.pdbs)
        self.hpas.extend(other.hpas)
        self.ingresses.extend(other.ingresses)
        self.quotas |= other.quotas
        self.limit_ranges |= other.limit_ranges
        self.mesh.extend(other.mesh)
        self.monitors.extend(other.monitors)
        self.seen_namespaces |= other.seen_namespaces
        self.custom_namespaces |= other.custom_namespaces

    # ------------------------------------------------------------ lookups

    def workloads_by_namespace(self) -> dict[str | None, list[WorkloadRec]]:
        out: dict[str | None, list[WorkloadRec]] = defaultdict(list)
        for w in self.workloads:
            out[w.ref.namespace].append(w)
        return out

    def by_namespace(self, records: list[Record]) -> dict[str | None, list[Record]]:
        out: dict[str | None, list[Record]] = defaultdict(list)
        for r in records:
            out[r.ref.namespace].append(r)
        return out

    def described(self, namespace: str | None) -> bool:
        """Whether the set shows this namespace (its Namespace object is in it):
        only then may a set rule report something missing from it."""
        return namespace is not None and namespace in self.namespaces


def sa_pull_secrets(sa: Record) -> list[tuple[int, str]]:
    """A ServiceAccount record's ``imagePullSecrets`` names, with their list index."""
    return account_pull_secrets(sa.data)


_BUILTIN_GROUPS = frozenset({"", "apps", "batch", "policy", "autoscaling", "extensions"})
# Well-known custom kinds that configure traffic, certificates or monitoring and
# never make an operator create pods or Services: they do not mark a namespace.
_NEVER_CREATE_PODS = frozenset({
    "ServiceMonitor", "PodMonitor", "PrometheusRule", "Probe", "ScrapeConfig",
    "Certificate", "CertificateRequest", "Issuer",
    "VirtualService", "DestinationRule", "Gateway", "ServiceEntry", "Sidecar", "EnvoyFilter",
    "PeerAuthentication", "AuthorizationPolicy", "RequestAuthentication", "Telemetry",
    "WorkloadEntry", "WorkloadGroup", "ProxyConfig", "WasmPlugin",
    "Server", "ServerAuthorization", "HTTPRoute", "MeshTLSAuthentication",
    "NetworkAuthentication", "ServiceProfile",
    "SealedSecret", "ExternalSecret", "SecretStore",
})


def _builtin_group(group: str) -> bool:
    return group in _BUILTIN_GROUPS or group.endswith(".k8s.io")


def _small(res: Resource) -> dict[str, Any]:
    """The object without status (records keep spec-sized data only)."""
    return {k: v for k, v in res.obj.items() if k != "status"}


def _meta_dict(meta: dict[str, Any], key: str) -> dict[str, Any]:
    value = meta.get(key)
    return value if isinstance(value, dict) else {}


def _workload(res: Resource, ref: ObjectRef) -> WorkloadRec:
    pod = res.pod
    assert pod is not None
    spec = pod.spec
    replicas = None
    if res.kind in ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"):
        value = (res.obj.get("spec") or {}).get("replicas", 1) \
            if isinstance(res.obj.get("spec"), dict) else 1
        replicas = value if isinstance(value, int) and not isinstance(value, bool) else None
    sa = spec.get("serviceAccountName") or spec.get("serviceAccount")
    automount = spec.get("automountServiceAccountToken")
    pull: list[str] = [p["name"] for p in spec.get("imagePullSecrets") or []
                       if isinstance(p, dict) and isinstance(p.get("name"), str)] \
        if isinstance(spec.get("imagePullSecrets"), list) else []
    containers = [
        ContainerRec(
            name=c.name,
            image=c.data.get("image") if isinstance(c.data.get("image"), str) else None,
            path=c.path,
            ports=[p for p in c.data.get("ports") or [] if isinstance(p, dict)]
            if isinstance(c.data.get("ports"), list) else [],
            readiness=c.data.get("readinessProbe"),
            liveness=c.data.get("livenessProbe"),
        )
        for c in pod.containers
    ]
    obj_spec = res.obj.get("spec")
    return WorkloadRec(
        ref=ref,
        labels=pod.labels,
        annotations=pod.annotations,
        replicas=replicas,
        service_account=sa if isinstance(sa, str) else None,
        automount=automount if isinstance(automount, bool) else None,
        pull_secrets=pull,
        containers=containers,
        spec_path=pod.spec_path,
        metadata_path=pod.metadata_path,
        selector=obj_spec.get("selector") if isinstance(obj_spec, dict) else None,
    )


def _pull_secret_payload(res: Resource, type_: str) -> tuple[str | None, str | None]:
    return pull_secret_payload(res.obj, type_)


def _pull_secret_problem(res: Resource, type_: str) -> str | None:
    """Why a pull secret's payload would not be usable (never quoting it)."""
    return pull_secret_problem(res.obj, type_)


def _pull_secret_credentials(res: Resource, payload: str) -> dict[str, list[Credentials]]:
    """The credentials a usable pull secret holds; none when an entry is malformed
    (the kubelet cannot use it either)."""
    source = f"pull secret {res.namespace or ''}/{res.name}"
    try:
        return parse_docker_config(payload, source)
    except CredentialsError:
        return {}


def _add_namespace(index: Index, res: Resource, ref: ObjectRef) -> None:
    meta = res.metadata
    index.namespaces[res.name] = Record(ref, {"labels": _meta_dict(meta, "labels"),
                                              "annotations": _meta_dict(meta, "annotations")})


def _add_secret(index: Index, res: Resource, ref: ObjectRef) -> None:
    type_ = res.obj.get("type")
    type_ = type_ if isinstance(type_, str) else "Opaque"
    rec = SecretRec(ref, type_, None)
    if type_ in SECRET_KINDS:
        payload, rec.payload_problem = _pull_secret_payload(res, type_)
        if payload is not None and index.keep_credentials:
            rec.credentials = _pull_secret_credentials(res, payload)
    index.secrets[(res.namespace or "", res.name)] = rec


def _add_service_account(index: Index, res: Resource, ref: ObjectRef) -> None:
    index.service_accounts[(res.namespace or "", res.name)] = Record(ref, _small(res))


def _adder(attr: str) -> Any:
    def add(index: Index, res: Resource, ref: ObjectRef) -> None:
        getattr(index, attr).append(Record(ref, _small(res)))
    return add


def _add_ns_set(attr: str) -> Any:
    def add(index: Index, res: Resource, ref: ObjectRef) -> None:
        if res.namespace:
            getattr(index, attr).add(res.namespace)
    return add


_ADDERS: dict[str, Any] = {
    "Namespace": _add_namespace,
    "Secret": _add_secret,
    "ServiceAccount": _add_service_account,
    "Service": _adder("services"),
    "RoleBinding": _adder("bindings"),
    "ClusterRoleBinding": _adder("bindings"),
    "NetworkPolicy": _adder("network_policies"),
    "PodDisruptionBudget": _adder("pdbs"),
    "HorizontalPodAutoscaler": _adder("hpas"),
    "Ingress": _adder("ingresses"),
    "ResourceQuota": _add_ns_set("quotas"),
    "LimitRange": _add_ns_set("limit_ranges"),
    "ServiceMonitor": _adder("monitors"),
    "PodMonitor": _adder("monitors"),
}


def load_index(paths: list[str], opts: LoadOptions | None = None, *,
               keep_credentials: bool = False,
               visit: Callable[[Located], None] | None = None,
               unknown_namespace_per_application: bool = False,
               patterns: Sequence[str] = (),
               templates: Mapping[str, Path] = NO_TEMPLATES,
               ) -> tuple[Index, list[InputError]]:
    """The index of every object under ``paths`` (no rule runs), and the inputs
    that could not be read; ``visit`` sees each object as it is read (the image
    inventory collects its containers so).

    ``unknown_namespace_per_application``: when the paths hold several
    applications (``applications.py``), the objects without a namespace of each
    get their own unknown namespace, named :func:`unknown_namespace` (as scan's
    set rules judge each application apart), instead of one shared by all;
    ``patterns``: config ``scan.applications``; ``templates``: the custom
    pod-template kinds (``Context.pod_templates``)."""
    opts = opts or LoadOptions()
    index = Index(keep_credentials=keep_credentials)
    errors: list[InputError] = []
    inputs = list(discover_applications(paths, opts, patterns))
    separate = unknown_namespace_per_application and len({app for _, app in inputs}) > 1
    for source_input, app in inputs:
        loaded = load_path(*source_input, opts)
        errors.extend(loaded.errors)
        for seq, located in enumerate(loaded.objects):
            res = located.resource
            res.templates = templates
            namespace = res.namespace
            if separate and namespace is None and is_namespaced(res.kind):
                namespace = unknown_namespace(app)
            index.add(res, ObjectRef(source_input, seq, res.origin.file, res.origin.line,
                                     res.api_version, res.kind, namespace, res.name))
            if visit is not None:
                visit(located)
    return index, errors


def unknown_namespace(application: str) -> str:
    """How the unknown namespace of an application's objects without one is
    named when several applications are analysed together: no real namespace
    can be so named (parentheses and spaces are not allowed in one)."""
    folder = application.split(":", 1)[-1]
    if os.path.isabs(folder):
        relative = os.path.relpath(folder)
        folder = folder if relative.startswith(os.pardir) else relative
    return f"(no namespace: {folder})"
