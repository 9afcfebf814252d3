"""RBAC over a set of manifests, evaluated the way the Kubernetes RBAC authorizer does.

Two questions are answered from the Roles, ClusterRoles and bindings of a set:

- :func:`who_can`: which subjects may make one request (verb, resource,
  subresource, API group, namespace, object name), through which binding,
  role and rule;
- :func:`risky`: which subjects hold a power that rules KP0702–KP0705 report.
  The power definitions are those rules' own check functions, run on the
  effective rules of each bound role.

Authorizer semantics (``plugin/pkg/auth/authorizer/rbac`` upstream):

- a rule grants when its verbs, apiGroups and resources match (each by the
  exact string or ``*``) and, if it lists ``resourceNames``, the request names
  one of them. A resource item ``*/sub`` matches subresource ``sub`` of every
  resource; ``pods/*`` is not a pattern (it only matches a literal ``*``
  subresource). ``nonResourceURLs`` never grant resource requests.
- ``create`` and ``deletecollection`` of a resource carry no object name, so
  rules with ``resourceNames`` never grant them.
- a ClusterRoleBinding grants everywhere; a RoleBinding only in its own
  namespace, whether it references a Role (of that namespace) or a
  ClusterRole. A ServiceAccount subject without a namespace defaults to a
  RoleBinding's namespace and matches nothing in a ClusterRoleBinding.
- an aggregated ClusterRole (``aggregationRule``) has the union of the rules of
  every other ClusterRole its selectors match; the aggregation controller
  replaces the role's own rules with them.

The default ClusterRoles exist in every cluster (``cluster-admin``, ``admin``,
``edit``, ``view`` and the ``system:*`` bootstrap roles of the target
Kubernetes version, :mod:`kubeproof.k8s.rbac_roles`): a ClusterRole the set does
not define is the built-in one, and takes part in aggregation both ways
(built-in ``admin`` aggregates the set's ``aggregate-to-admin`` roles, the
set's aggregated roles select built-in ones). A ClusterRole of the set with a
built-in's name replaces it. Answers that rely on a built-in role say so
(``via``). Any other missing role is reported as not in the scanned set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubeproof.analysis.rbac_grants import granted_text
from kubeproof.core.applications import discover_applications
from kubeproof.core.config import Config
from kubeproof.core.context import CheckFn, Context
from kubeproof.k8s.rbac_names import (
    BINDING_KINDS,
    CLUSTER_ADMIN,
    MASTERS,
    RBAC_GROUP,
    ROLE_KINDS,
    SA_GROUP,
    SA_USER_PREFIX,
)
from kubeproof.k8s.rbac_roles import LabelledRole, aggregate, builtin_roles, version_text
from kubeproof.k8s.selectors import SelectorError, validate_label_selector
from kubeproof.k8s.versions import DEFAULT_KUBE_VERSION
from kubeproof.model import InputError, Origin, Path, Resource
from kubeproof.sources.files import LoadOptions, Located, load_path
from kubeproof.util.shapes import as_dict, as_list, one_of, quote

SUBJECT_KINDS = ("User", "Group", "ServiceAccount")
NOT_IN_SET = "role not in the scanned set"
BUILTIN = "<built-in>"
NAMELESS_VERBS = frozenset({"create", "deletecollection"})
RULE_LISTS = ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs")
MAX_LISTED = 10

# Built-in resources: their API group (used when none is given) and whether
# they are namespaced. ``namespaces`` counts as namespaced: a request on
# namespace ``foo`` is authorized in namespace ``foo``.
_CORE_NS = ("pods", "services", "endpoints", "configmaps", "secrets", "serviceaccounts",
            "persistentvolumeclaims", "events", "replicationcontrollers", "limitranges",
            "resourcequotas", "podtemplates", "bindings", "namespaces")
_BY_GROUP: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    # (group, namespaced resources, cluster-scoped resources)
    ("", _CORE_NS, ("nodes", "persistentvolumes", "componentstatuses", "users", "groups")),
    ("apps", ("deployments", "statefulsets", "daemonsets", "replicasets",
              "controllerrevisions"), ()),
    ("batch", ("jobs", "cronjobs"), ()),
    ("autoscaling", ("horizontalpodautoscalers",), ()),
    ("policy", ("poddisruptionbudgets",), ()),
    ("networking.k8s.io", ("ingresses", "networkpolicies"), ("ingressclasses",)),
    (RBAC_GROUP, ("roles", "rolebindings"), ("clusterroles", "clusterrolebindings")),
    ("storage.k8s.io", (), ("storageclasses", "csidrivers", "csinodes", "volumeattachments")),
    ("apiextensions.k8s.io", (), ("customresourcedefinitions",)),
    ("apiregistration.k8s.io", (), ("apiservices",)),
    ("admissionregistration.k8s.io", (), (
        "validatingwebhookconfigurations", "mutatingwebhookconfigurations",
        "validatingadmissionpolicies", "validatingadmissionpolicybindings")),
    ("certificates.k8s.io", (), ("certificatesigningrequests", "signers")),
    ("scheduling.k8s.io", (), ("priorityclasses",)),
    ("node.k8s.io", (), ("runtimeclasses",)),
    ("coordination.k8s.io", ("leases",), ()),
    ("discovery.k8s.io", ("endpointslices",), ()),
    ("authentication.k8s.io", (), ("tokenreviews", "uids")),
    ("authorization.k8s.io", ("localsubjectaccessreviews",), (
        "subjectaccessreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews")),
)
KNOWN_RESOURCES: dict[str, tuple[str, bool]] = {
    res: (group, namespaced)
    for group, ns_res, cluster_res in _BY_GROUP
    for namespaced, names in ((True, ns_res), (False, cluster_res))
    for res in names
}


# ------------------------------------------------------------------ model

@dataclass(frozen=True, slots=True)
class RoleKey:
    kind: str  # Role or ClusterRole
    name: str
    namespace: str | None = None  # a Role's namespace (None when unset)

    def text(self, builtin: bool = False) -> str:
        return f"{self.kind}/{self.name}" + (" (built-in)" if builtin else "")


@dataclass(frozen=True, slots=True)
class Subject:
    kind: str
    name: str
    namespace: str | None = None  # ServiceAccounts only

    def text(self) -> str:
        if self.kind == "ServiceAccount":
            return f"ServiceAccount {self.namespace or '(unset)'}/{self.name}"
        return f"{self.kind} {self.name}"

    def sort_key(self) -> tuple[int, str, str]:
        return SUBJECT_KINDS.index(self.kind), self.namespace or "", self.name

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "namespace": self.namespace}


@dataclass(frozen=True, slots=True)
class EffectiveRule:
    """A policy rule as it applies to a role: where it is written and its data."""

    source: RoleKey
    index: int
    data: dict[str, Any]
    builtin: bool = False  # the source is a built-in ClusterRole


@dataclass(slots=True)
class Role:
    key: RoleKey
    rules: list[tuple[int, dict[str, Any]]]
    labels: dict[str, Any]
    selectors: list[dict[str, Any]] | None  # valid clusterRoleSelectors when aggregated
    resource: Resource | None  # None for a built-in ClusterRole

    @property
    def builtin(self) -> bool:
        return self.resource is None


@dataclass(slots=True)
class Binding:
    resource: Resource
    kind: str
    name: str
    namespace: str | None
    role: RoleKey | None
    subjects: list[tuple[int, Subject]]  # (index in .subjects, subject)
    ref_line: int = 0  # line of roleRef

    @property
    def cluster_wide(self) -> bool:
        return self.kind == "ClusterRoleBinding"

    def text(self) -> str:
        return f"{self.kind}/{self.name}"

    def scope(self) -> str:
        if self.cluster_wide:
            return "cluster-wide"
        return f"namespace {self.namespace}" if self.namespace else "namespace (unset)"

    def applies_in(self, namespace: str | None) -> bool:
        """Whether the binding grants in ``namespace`` (None: any namespace). One
        without a namespace grants in its application's unknown namespace, not
        in a namespace written down."""
        if self.cluster_wide or namespace is None:
            return True
        return self.namespace == namespace

    def to_dict(self) -> dict[str, Any]:
        o = self.resource.origin
        return {"kind": self.kind, "name": self.name, "namespace": self.namespace,
                "file": o.file, "line": o.line}


@dataclass(frozen=True, slots=True)
class Request:
    """One authorization question, as the API server would ask it."""

    verb: str
    resource: str
    subresource: str = ""
    group: str = ""
    namespace: str | None = None  # None: in any namespace (or cluster-wide)
    name: str | None = None
    cluster_scoped: bool = False

    @property
    def combined(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    def text(self) -> str:
        what = self.combined + (f" {quote(self.name)}" if self.name is not None else "")
        where = ("cluster-scoped" if self.cluster_scoped else
                 f"in namespace {self.namespace}" if self.namespace else "in any namespace")
        return f"{self.verb} {what} (apiGroup {quote(self.group)}, {where})"

    def to_dict(self) -> dict[str, Any]:
        return {"verb": self.verb, "resource": self.resource, "subresource": self.subresource,
                "apiGroup": self.group, "namespace": self.namespace, "name": self.name,
                "clusterScoped": self.cluster_scoped}


def make_request(verb: str, resource: str, *, subresource: str | None = None,
                 group: str | None = None, namespace: str | None = None,
                 name: str | None = None) -> Request:
    """Build a request from command-line words; raises ValueError with the reason.

    ``resource`` may carry its subresource (``pods/log``) and its group
    (``deployments.apps``); without a group, built-in resources get theirs.
    """
    verb, resource = verb.strip(), resource.strip()
    if not verb or not resource:
        raise ValueError("VERB and RESOURCE must not be empty")
    if "/" in resource:
        if subresource:
            raise ValueError("give the subresource either as RESOURCE/SUB or with --subresource")
        resource, _, subresource = resource.partition("/")
        if not resource or not subresource or "/" in subresource:
            raise ValueError(f"invalid resource {quote(resource + '/' + subresource)}")
    if "." in resource and group is None:
        resource, _, group = resource.partition(".")
    known = KNOWN_RESOURCES.get(resource)
    if group is None:
        group = known[0] if known else ""
    cluster = known is not None and known[0] == group and not known[1]
    if cluster and namespace:
        raise ValueError(f"{resource} is cluster-scoped: drop -n/--namespace")
    return Request(verb, resource, subresource or "", group, namespace or None, name, cluster)


# ------------------------------------------------------------------ matching

def _strs(value: Any) -> list[str]:
    return [v for v in as_list(value) if isinstance(v, str)]


def _listed(value: Any, wanted: str) -> bool:
    return any(v in ("*", wanted) for v in _strs(value))


def _resource_matches(items: Any, req: Request) -> bool:
    for item in _strs(items):
        if item in ("*", req.combined):
            return True
        if req.subresource and item == "*/" + req.subresource:
            return True
    return False


def rule_grants(rule: dict[str, Any], req: Request) -> tuple[str, ...] | None:
    """Whether a policy rule grants ``req``: None (no), ``()`` (yes), or the
    resource names it is limited to when the request names no object."""
    if not (_listed(rule.get("verbs"), req.verb) and _listed(rule.get("apiGroups"), req.group)
            and _resource_matches(rule.get("resources"), req)):
        return None
    names = _strs(rule.get("resourceNames"))
    if not names:
        return ()
    if req.verb in NAMELESS_VERBS and not req.subresource:
        return None
    if req.name is not None:
        return () if req.name in names else None
    return tuple(names)


# ------------------------------------------------------------------ the set

@dataclass(slots=True)
class RbacSet:
    roles: dict[RoleKey, Role] = field(default_factory=dict)
    bindings: list[Binding] = field(default_factory=list)
    # (namespace, name) of every ServiceAccount the set mentions
    service_accounts: set[tuple[str, str]] = field(default_factory=set)
    errors: list[InputError] = field(default_factory=list)
    warnings: list[InputError] = field(default_factory=list)
    kube_version: tuple[int, int] = DEFAULT_KUBE_VERSION  # whose built-in roles apply
    _effective: dict[RoleKey, list[EffectiveRule]] = field(default_factory=dict)
    _located: Located | None = None  # the object being added, to place warnings
    # the application (applications.py) of the object being added, and of each
    # role's definition: a role defined in two applications is not a duplicate
    _app: str = ""
    _role_apps: dict[RoleKey, str] = field(default_factory=dict)

    def warn(self, res: Resource, message: str, path: Path = (), line: int = 0) -> None:
        what = f"{res.kind} {quote(res.name)}"
        self.warnings.append(InputError(res.origin.file, line or self.line(res, path),
                                        f"{what}: {message}"))

    def line(self, res: Resource, path: Path) -> int:
        """Line of ``path`` in ``res`` while it is being added, else its first line."""
        loc, locator = self._located, res.origin.locator
        if path and loc is not None and loc.resource is res and locator is not None:
            return int(locator.locate(res.origin, loc.node, loc.line_offset, path)[0])
        return res.origin.line

    def add(self, res: Resource, located: Located | None = None, app: str = "") -> None:
        self._located = located
        self._app = app
        try:
            self._add(res)
        finally:
            self._located = None

    def _add(self, res: Resource) -> None:
        kind = res.kind
        if res.group == RBAC_GROUP and kind in ROLE_KINDS:
            self._add_role(res)
        elif res.group == RBAC_GROUP and kind in BINDING_KINDS:
            self._add_binding(res)
        elif kind == "ServiceAccount" and res.group == "" and res.namespace:
            self.service_accounts.add((res.namespace, res.name))
        elif res.pod is not None and res.namespace:
            sa = res.pod.spec.get("serviceAccountName") or res.pod.spec.get("serviceAccount")
            self.service_accounts.add((res.namespace, sa if isinstance(sa, str) else "default"))

    # ------------------------------------------------------------ roles

    def _add_role(self, res: Resource) -> None:
        ns = res.namespace if res.kind == "Role" else None
        key = RoleKey(res.kind, res.name, ns)
        if not res.name:
            self.warn(res, "has no metadata.name; ignored")
            return
        if key in self.roles and self.roles[key].resource is not None \
                and self._role_apps.get(key) == self._app:
            first = self.roles[key].resource.origin  # type: ignore[union-attr]
            self.warn(res, f"is defined twice (also at {first.file}:{first.line}); "
                           "this later definition is used")
        self._role_apps[key] = self._app
        self.roles[key] = Role(key, self._role_rules(res), as_dict(res.metadata.get("labels")),
                               self._selectors(res), res)

    def _role_rules(self, res: Resource) -> list[tuple[int, dict[str, Any]]]:
        raw = res.obj.get("rules")
        if raw is not None and not isinstance(raw, list):
            self.warn(res, "rules is not a list: the role grants nothing", ("rules",))
            return []
        out: list[tuple[int, dict[str, Any]]] = []
        for i, r in enumerate(as_list(raw)):
            if not isinstance(r, dict):
                self.warn(res, f"rule {i} is not a mapping: ignored", ("rules", i))
                continue
            for key, problem in rule_problems(r, namespaced=res.kind == "Role"):
                self.warn(res, f"rule {i}: {problem}", ("rules", i, key) if key else ("rules", i))
            out.append((i, r))
        return out

    def _selectors(self, res: Resource) -> list[dict[str, Any]] | None:
        if res.kind != "ClusterRole" or res.obj.get("aggregationRule") is None:
            return None
        rule = res.obj.get("aggregationRule")
        raw = as_dict(rule).get("clusterRoleSelectors")
        if not isinstance(rule, dict) or not isinstance(raw, list) or not raw:
            self.warn(res, "aggregationRule needs a non-empty clusterRoleSelectors list: "
                           "the role aggregates nothing", ("aggregationRule",))
            return []
        if res.obj.get("rules"):
            self.warn(res, "has an aggregationRule: the aggregation controller replaces its "
                           "own rules with the aggregated ones", ("rules",))
        valid: list[dict[str, Any]] = []
        for k, sel in enumerate(raw):
            try:
                validate_label_selector(sel)
            except SelectorError as exc:
                self.warn(res, f"aggregationRule.clusterRoleSelectors[{k}] is invalid ({exc}): "
                               "ignored", ("aggregationRule", "clusterRoleSelectors", k))
                continue
            valid.append(sel)
        return valid

    # ------------------------------------------------------------ bindings

    def _add_binding(self, res: Resource) -> None:
        ns = res.namespace if res.kind == "RoleBinding" else None
        self.bindings.append(Binding(res, res.kind, res.name, ns, self._role_ref(res),
                                     list(self._subjects(res, ns)),
                                     self.line(res, ("roleRef",))))

    def _role_ref(self, res: Resource) -> RoleKey | None:
        ref = res.obj.get("roleRef")
        if not isinstance(ref, dict):
            self.warn(res, "has no roleRef: it grants nothing", ("roleRef",))
            return None
        kind, name = ref.get("kind"), ref.get("name")
        if not one_of(kind, ROLE_KINDS) or not isinstance(name, str) or not name:
            self.warn(res, f"roleRef needs kind Role or ClusterRole and a name (got kind "
                           f"{quote(kind)}, name {quote(name)}): it grants nothing", ("roleRef",))
            return None
        if ref.get("apiGroup") != RBAC_GROUP:
            self.warn(res, f"roleRef.apiGroup should be {quote(RBAC_GROUP)} "
                           f"(got {quote(ref.get('apiGroup'))})", ("roleRef",))
        if kind == "Role" and res.kind == "ClusterRoleBinding":
            self.warn(res, "a ClusterRoleBinding can only reference a ClusterRole: "
                           "it grants nothing", ("roleRef", "kind"))
            return None
        return RoleKey(kind, name, res.namespace if kind == "Role" else None)

    def _subjects(self, res: Resource, ns: str | None) -> Iterator[tuple[int, Subject]]:
        raw = res.obj.get("subjects")
        if raw is not None and not isinstance(raw, list):
            self.warn(res, "subjects is not a list: it grants nothing", ("subjects",))
            return
        for j, s in enumerate(as_list(raw)):
            subject = self._subject(res, j, s, ns)
            if subject is not None:
                yield j, subject

    def _subject(self, res: Resource, j: int, s: Any, ns: str | None) -> Subject | None:
        where = ("subjects", j)
        if not isinstance(s, dict):
            self.warn(res, f"subject {j} is not a mapping: ignored", where)
            return None
        kind, name = s.get("kind"), s.get("name")
        if not one_of(kind, SUBJECT_KINDS) or not isinstance(name, str) or not name:
            self.warn(res, f"subject {j} needs kind User, Group or ServiceAccount and a name "
                           f"(got kind {quote(kind)}, name {quote(name)}): ignored", where)
            return None
        if kind != "ServiceAccount":
            return Subject(kind, name)
        sa_ns = s.get("namespace") or ns
        if not isinstance(sa_ns, str):
            if res.kind == "ClusterRoleBinding":
                self.warn(res, f"subject {j} (ServiceAccount {quote(name)}) has no namespace, "
                               "which a ClusterRoleBinding requires: it matches nothing", where)
                return None
            sa_ns = None
        if sa_ns:
            self.service_accounts.add((sa_ns, name))
        return Subject(kind, name, sa_ns)

    # ------------------------------------------------------------ resolution

    def finish(self) -> None:
        """Add the built-in ClusterRoles the set does not define and resolve every
        binding's role; call once all objects were added."""
        for name, builtin in builtin_roles(self.kube_version).items():
            key = RoleKey("ClusterRole", name)
            if key not in self.roles:
                selectors = None if builtin.selectors is None else list(builtin.selectors)
                self.roles[key] = Role(key, list(enumerate(builtin.rules)), builtin.labels,
                                       selectors, None)
        for b in self.bindings:
            if b.role is None or b.role in self.roles:
                continue
            where = f" in namespace {b.namespace}" if b.role.kind == "Role" and b.namespace else ""
            self.warn(b.resource, f"references {b.role.kind} {quote(b.role.name)}{where}: "
                                  f"{NOT_IN_SET}, what it grants is unknown", line=b.ref_line)

    def role(self, key: RoleKey | None) -> Role | None:
        return self.roles.get(key) if key is not None else None

    def effective_rules(self, key: RoleKey) -> list[EffectiveRule]:
        """The rules a role grants (for an aggregated ClusterRole: the aggregated ones)."""
        if key not in self._effective:
            self._effective[key] = self._compute_rules(key)
        return self._effective[key]

    def _compute_rules(self, key: RoleKey) -> list[EffectiveRule]:
        role = self.roles[key]
        if role.selectors is None:
            return [EffectiveRule(key, i, r, role.builtin) for i, r in role.rules]
        out: list[EffectiveRule] = []
        for source in self._aggregated_sources(role):
            for i, r in source.rules:
                if all(e.data != r for e in out):
                    out.append(EffectiveRule(source.key, i, r, source.builtin))
        return out

    def _aggregated_sources(self, role: Role) -> list[Role]:
        """The non-aggregated ClusterRoles (of the set or built in) reachable through
        aggregation selectors (a ClusterRole never aggregates itself; cycles end
        where they started)."""
        by_name = {r.key.name: r for r in self.roles.values() if r.key.kind == "ClusterRole"}
        found = aggregate(_labelled(role), (_labelled(r) for r in by_name.values()))
        return [by_name[r.name] for r in found]

    def builtin_via(self, role: RoleKey | None, rule: EffectiveRule | None) -> str | None:
        """How an answer depends on a built-in ClusterRole, or None if it does not."""
        found = self.roles.get(role) if role is not None else None
        name = found.key.name if found is not None and found.builtin else \
            rule.source.name if rule is not None and rule.builtin else None
        if name is None:
            return None
        return f"built-in ClusterRole {name}, Kubernetes {version_text(self.kube_version)}"


def _labelled(role: Role) -> LabelledRole:
    selectors = None if role.selectors is None else tuple(role.selectors)
    return LabelledRole(role.key.name, role.labels, (), selectors)


def rule_problems(r: dict[str, Any], *, namespaced: bool) -> list[tuple[str, str]]:
    """(field, problem) for what the API server would reject in a policy rule; the
    field is empty when the problem is the rule as a whole."""
    problems: list[tuple[str, str]] = []
    wrong: set[str] = set()
    for key in RULE_LISTS:
        value = r.get(key)
        if value is not None and not isinstance(value, list):
            problems.append((key, f"{key} is not a list (ignored)"))
            wrong.add(key)
        elif any(not isinstance(v, str) for v in as_list(value)):
            problems.append((key, f"{key} has items that are not strings (ignored)"))
    resources, urls = _strs(r.get("resources")), _strs(r.get("nonResourceURLs"))
    checks = (
        ("verbs", not _strs(r.get("verbs")) and "verbs" not in wrong,
         "no verbs: the rule grants nothing"),
        ("apiGroups", bool(resources) and not _strs(r.get("apiGroups"))
         and "apiGroups" not in wrong, "resources without apiGroups: the rule grants nothing"),
        ("", not resources and not urls and not wrong & {"resources", "nonResourceURLs"},
         "no resources or nonResourceURLs: the rule grants nothing"),
        ("nonResourceURLs", bool(urls) and namespaced,
         "nonResourceURLs in a Role (only a ClusterRole may grant them)"),
        ("nonResourceURLs", bool(urls) and bool(resources),
         "both resources and nonResourceURLs (the API server rejects this)"),
    )
    problems.extend((key, text) for key, failed, text in checks if failed)
    return problems


def build_rbac(resources: Iterable[Resource],
               kube_version: tuple[int, int] = DEFAULT_KUBE_VERSION) -> RbacSet:
    rbac = RbacSet(kube_version=kube_version)
    for res in resources:
        rbac.add(res)
    rbac.finish()
    return rbac


def load_rbac(paths: Iterable[str], opts: LoadOptions | None = None,
              patterns: Sequence[str] = (),
              kube_version: tuple[int, int] = DEFAULT_KUBE_VERSION) -> RbacSet:
    """Load ``paths`` as scan does (files, folders, Kustomize, Helm, ``-``;
    ``opts.namespace`` for objects without one), each input with its
    application (``patterns``: config ``scan.applications``)."""
    opts = opts or LoadOptions()
    rbac = RbacSet(kube_version=kube_version)
    for (kind, path), app in discover_applications(list(paths), opts, patterns):
        loaded = load_path(kind, path, opts)
        rbac.errors.extend(loaded.errors)
        rbac.warnings.extend(loaded.warnings)
        for located in loaded.objects:
            rbac.add(located.resource, located, app)
    rbac.finish()
    return rbac


# ------------------------------------------------------------------ who-can

@dataclass(slots=True)
class Grant:
    subject: Subject
    binding: Binding
    role: RoleKey
    rule: EffectiveRule
    names: tuple[str, ...]  # () = every name
    notes: tuple[str, ...]
    builtin_role: bool = False
    via: str | None = None  # the built-in ClusterRole the grant depends on

    def role_text(self) -> str:
        return self.role.text(self.builtin_role)

    def rule_text(self) -> str:
        if self.rule.source == self.role:
            return f"rule {self.rule.index}"
        return f"rule {self.rule.index} of {self.rule.source.text()}"

    def to_dict(self) -> dict[str, Any]:
        return {"subject": self.subject.to_dict(), "binding": self.binding.to_dict(),
                "role": _role_dict(self.role, self.builtin_role),
                "rule": {"role": _role_dict(self.rule.source, self.rule.builtin),
                         "index": self.rule.index},
                "scope": "cluster" if self.binding.cluster_wide else "namespace",
                "namespace": None if self.binding.cluster_wide else self.binding.namespace,
                "resourceNames": list(self.names) or None, "notes": list(self.notes),
                "via": self.via}


def _role_dict(key: RoleKey, builtin: bool = False) -> dict[str, Any]:
    return {"kind": key.kind, "name": key.name, "namespace": key.namespace, "builtin": builtin}


def who_can(rbac: RbacSet, req: Request) -> list[Grant]:
    """Every (subject, binding, rule) that grants ``req``, sorted by subject."""
    grants: list[Grant] = []
    for b in rbac.bindings:
        role = rbac.role(b.role)
        if role is None or (req.cluster_scoped and not b.cluster_wide) \
                or not b.applies_in(req.namespace):
            continue
        for rule in rbac.effective_rules(role.key):
            names = rule_grants(rule.data, req)
            if names is None:
                continue
            for _, subject in b.subjects:
                notes = subject_notes(rbac, subject) + binding_notes(b)
                grants.append(Grant(subject, b, role.key, rule, names, notes, role.builtin,
                                    rbac.builtin_via(role.key, rule)))
    grants.sort(key=_grant_order)
    return grants


def _grant_order(g: Grant) -> tuple[Any, ...]:
    return (g.subject.sort_key(), g.binding.kind, g.binding.namespace or "", g.binding.name,
            g.rule.source.name, g.rule.index)


def binding_notes(b: Binding) -> tuple[str, ...]:
    if not b.cluster_wide and b.namespace is None:
        return ("the binding has no namespace: it grants in whichever namespace it is "
                "applied to",)
    return ()


def subject_notes(rbac: RbacSet, s: Subject) -> tuple[str, ...]:
    """What a subject stands for in terms of ServiceAccounts."""
    if s.kind == "User" and s.name.startswith(SA_USER_PREFIX):
        parts = s.name.split(":")
        if len(parts) == 4 and parts[2] and parts[3]:
            return (f"the user of ServiceAccount {parts[2]}/{parts[3]}",)
        return ("malformed ServiceAccount user name (system:serviceaccount:<ns>:<name>)",)
    if s.kind != "Group":
        return ()
    if s.name == SA_GROUP:
        return ("every ServiceAccount" + _members(sorted(rbac.service_accounts)),)
    if s.name.startswith(SA_GROUP + ":"):
        ns = s.name[len(SA_GROUP) + 1:]
        members = sorted(a for a in rbac.service_accounts if a[0] == ns)
        return (f"every ServiceAccount in namespace {ns}" + _members(members),)
    if s.name == "system:authenticated":
        return ("every authenticated user and every ServiceAccount",)
    if s.name == "system:unauthenticated":
        return ("anonymous requests",)
    if s.name == MASTERS:
        return ("members bypass RBAC altogether",)
    return ()


def _members(accounts: list[tuple[str, str]]) -> str:
    if not accounts:
        return ""
    shown = ", ".join(f"{ns}/{name}" for ns, name in accounts[:MAX_LISTED])
    more = f" and {len(accounts) - MAX_LISTED} more" if len(accounts) > MAX_LISTED else ""
    return f" (in the set: {shown}{more})"


# ------------------------------------------------------------------ risky

BINDING_POWER = "KP0702"  # cluster-admin or system:masters, judged on a binding
ROLE_POWERS = ("KP0703", "KP0704", "KP0705")  # judged on what a bound role grants


@dataclass(frozen=True, slots=True)
class PowerChecks:
    """The checks of the rules that define a risky power. The analysis sits below
    the rules, so the caller passes them in (from the catalogue, by code)."""

    binding: CheckFn
    roles: tuple[tuple[str, CheckFn], ...]

    @classmethod
    def by_code(cls, check_of: Callable[[str], CheckFn]) -> PowerChecks:
        """The checks of KP0702 and KP0703–KP0705, each as ``check_of(code)`` gives it."""
        return cls(check_of(BINDING_POWER), tuple((c, check_of(c)) for c in ROLE_POWERS))


@dataclass(slots=True)
class Power:
    code: str
    text: str
    subject: Subject
    binding: Binding
    role: RoleKey | None
    rule: EffectiveRule | None
    builtin_role: bool = False
    notes: tuple[str, ...] = ()
    via: str | None = None  # the built-in ClusterRole the power depends on

    def path_text(self) -> str:
        parts = [self.binding.text()]
        if self.role is not None:
            parts.append(self.role.text(self.builtin_role))
        if self.rule is not None and self.role is not None:
            parts.append(f"rule {self.rule.index}" if self.rule.source == self.role
                         else f"{self.rule.source.text()} rule {self.rule.index}")
        return " -> ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        rule = None if self.rule is None else {
            "role": _role_dict(self.rule.source, self.rule.builtin), "index": self.rule.index}
        return {"code": self.code, "power": self.text, "subject": self.subject.to_dict(),
                "binding": self.binding.to_dict(),
                "role": None if self.role is None else _role_dict(self.role, self.builtin_role),
                "rule": rule,
                "scope": self.binding.scope(), "notes": list(self.notes), "via": self.via}


def risky(rbac: RbacSet, kube_version: tuple[int, int], checks: PowerChecks) -> list[Power]:
    """Every subject holding a KP0702–KP0705 power (as ``checks`` find them), with
    the path that grants it."""
    ctx = Context(config=Config(), kube_version=kube_version)
    cache: dict[RoleKey, list[tuple[str, str, EffectiveRule]]] = {}
    out: list[Power] = []
    for b in rbac.bindings:
        subjects = dict(b.subjects)
        admin = _binding_powers(rbac, b, subjects, ctx, checks.binding)
        out.extend(admin)
        covered = {p.subject for p in admin if p.text == CLUSTER_ADMIN}
        role = rbac.role(b.role)
        if role is None:
            continue
        if role.key not in cache:
            cache[role.key] = role_powers(rbac, role, ctx, checks.roles)
        for code, text, rule in cache[role.key]:
            out.extend(Power(code, text, s, b, role.key, rule, role.builtin)
                       for s in subjects.values() if s not in covered)
    for p in out:
        p.via = rbac.builtin_via(p.role, p.rule)
        p.notes = subject_notes(rbac, p.subject) + binding_notes(p.binding)
    out.sort(key=lambda p: (p.subject.sort_key(), p.code, p.binding.text(),
                            p.rule.index if p.rule else -1))
    return out


def _binding_powers(rbac: RbacSet, b: Binding, subjects: dict[int, Subject], ctx: Context,
                    check: CheckFn) -> list[Power]:
    """KP0702 (``check``) on one binding: cluster-admin and system:masters, per subject."""
    out: list[Power] = []
    for v in check(b.resource, ctx):
        j = v.path[1] if len(v.path) > 1 else None
        subject = subjects.get(j) if isinstance(j, int) else None
        if subject is None:
            continue
        if subject.kind == "Group" and subject.name == MASTERS:
            out.append(Power("KP0702", "system:masters (bypasses RBAC)", subject, b, None, None))
        else:
            role = rbac.role(b.role)
            builtin = role is not None and role.builtin
            out.append(Power("KP0702", CLUSTER_ADMIN, subject, b, b.role, None, builtin))
    return out


def role_powers(rbac: RbacSet, role: Role, ctx: Context,
                checks: Sequence[tuple[str, CheckFn]]) -> list[tuple[str, str, EffectiveRule]]:
    """(code, what it grants, rule) for each KP0703–KP0705 finding on the role's
    effective rules, found by running those rules' checks (``checks``) on them."""
    rules = rbac.effective_rules(role.key)
    origin = role.resource.origin if role.resource is not None else Origin(BUILTIN, 0, 0)
    obj = {"apiVersion": f"{RBAC_GROUP}/v1", "kind": role.key.kind,
           "metadata": {"name": role.key.name, "namespace": role.key.namespace},
           "rules": [r.data for r in rules]}
    synthetic = Resource(obj, origin)
    out: list[tuple[str, str, EffectiveRule]] = []
    for code, check in checks:
        for v in check(synthetic, ctx):
            i = v.path[1] if len(v.path) > 1 else None
            if isinstance(i, int) and 0 <= i < len(rules):
                out.append((code, granted_text(v.message, synthetic, i), rules[i]))
    return out
