"""A small stand-in Kubernetes API server for the audit tests (the one stand-in allowed).

It speaks the real wire protocol, closely enough that the real ``kubectl``
works against it (``tests/audit/test_fakeapi.py`` proves that):

- HTTPS on 127.0.0.1 with a certificate signed by a CA the test makes
  (:func:`make_tls`), bearer-token auth (401 ``Status`` on a bad token);
- discovery: ``/version``, ``/api``, ``/api/v1``, ``/apis``, ``/apis/<group>``,
  ``/apis/<group>/<version>`` (the legacy documents; kubectl falls back to them
  when the server does not answer with aggregated discovery);
- namespaced and cluster-wide lists and gets, with list semantics as the real
  server: items in key order (namespace, name), ``limit`` and ``continue``
  tokens, ``metadata.resourceVersion``, ``metadata.continue`` and
  ``remainingItemCount``; items of built-in kinds carry no
  ``apiVersion``/``kind`` (custom resources do); ``fieldSelector`` on
  ``metadata.name`` / ``metadata.namespace``;
- errors as ``Status`` objects: 403 and 404 for configured kinds, 500 for
  another, 410 ``Expired`` for a continue token, a slow endpoint (bounded
  sleep) for client timeouts, and 400 for a malformed continue token;
- ``labelSelector`` on lists;
- writes of custom resources (the ``wgpolicyk8s.io/v1alpha2`` PolicyReport CRD,
  served unless its resources are ``missing``): create (``POST``), replace
  (``PUT``, ``resourceVersion`` required and compared: 409), server-side apply
  and merge patches (``PATCH``), delete with preconditions (``DELETE``), with
  ``uid``, ``resourceVersion``, ``generation`` and ``managedFields`` kept as a
  real server keeps them, the CRD's schema enforced and its unknown fields
  pruned, 404/409/422 ``Status`` answers, a 413 past the request size limit
  and etcd's refusal past 1.5 MiB (``fakeapi_writes.py``); RBAC verbs denied
  one by one (``denied``: an apply that creates also needs ``create``); the
  older CRD's severities (``report_severities``).
  Built-in kinds are read-only here (405). Every write is recorded in ``writes``.

Objects are stored as a real server would hold them: in the version it serves,
with ``uid``, ``resourceVersion``, ``creationTimestamp`` and (Pods) a
``status``; namespaced objects without a namespace land in ``default`` and
every namespace in use exists as a Namespace object.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

# make_tls is named here too: bench/ makes the server's TLS material through this module
from tests.support.fakeapi_writes import (
    MAX_BODY,
    MAX_STORED,
    SEVERITIES,
    Rejected,
    apply,
    check_policy_report,
    label_match,
    take_changed,
)
from tests.support.tls import Tls, make_tls  # noqa: F401

MAX_SLEEP = 5.0  # a slow endpoint never holds a thread longer than this


@dataclass(frozen=True, slots=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    builtin: bool = True

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def discovery(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": self.plural, "singularName": self.kind.lower(),
            "namespaced": self.namespaced, "kind": self.kind,
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update",
                      "watch"],
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        return entry


def _rt(gv: str, kind: str, plural: str, namespaced: bool = True, short: tuple[str, ...] = (),
        builtin: bool = True) -> ResourceType:
    group, _, version = gv.rpartition("/")
    return ResourceType(group, version, kind, plural, namespaced, short, builtin)


RESOURCE_TYPES: tuple[ResourceType, ...] = (
    _rt("v1", "Namespace", "namespaces", False, ("ns",)),
    _rt("v1", "Node", "nodes", False, ("no",)),
    _rt("v1", "Pod", "pods", short=("po",)),
    _rt("v1", "ReplicationController", "replicationcontrollers", short=("rc",)),
    _rt("v1", "Service", "services", short=("svc",)),
    _rt("v1", "ServiceAccount", "serviceaccounts", short=("sa",)),
    _rt("v1", "Secret", "secrets"),
    _rt("v1", "ConfigMap", "configmaps", short=("cm",)),
    _rt("v1", "ResourceQuota", "resourcequotas", short=("quota",)),
    _rt("v1", "LimitRange", "limitranges", short=("limits",)),
    _rt("apps/v1", "Deployment", "deployments", short=("deploy",)),
    _rt("apps/v1", "StatefulSet", "statefulsets", short=("sts",)),
    _rt("apps/v1", "DaemonSet", "daemonsets", short=("ds",)),
    _rt("apps/v1", "ReplicaSet", "replicasets", short=("rs",)),
    _rt("batch/v1", "Job", "jobs"),
    _rt("batch/v1", "CronJob", "cronjobs", short=("cj",)),
    _rt("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", short=("pdb",)),
    _rt("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short=("hpa",)),
    _rt("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", short=("netpol",)),
    _rt("networking.k8s.io/v1", "Ingress", "ingresses", short=("ing",)),
    _rt("rbac.authorization.k8s.io/v1", "Role", "roles"),
    _rt("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", False),
    _rt("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings"),
    _rt("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _rt("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations", False),
    _rt("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations", False),
    _rt("security.istio.io/v1", "PeerAuthentication", "peerauthentications", short=("pa",),
        builtin=False),
    _rt("monitoring.coreos.com/v1", "ServiceMonitor", "servicemonitors", short=("smon",),
        builtin=False),
    _rt("monitoring.coreos.com/v1", "PodMonitor", "podmonitors", short=("pmon",),
        builtin=False),
    _rt("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy",
        "validatingadmissionpolicies", False),
    _rt("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings", False),
    _rt("policies.kyverno.io/v1", "ValidatingPolicy", "validatingpolicies", False,
        short=("vpol",), builtin=False),
    _rt("policies.kyverno.io/v1", "NamespacedValidatingPolicy", "namespacedvalidatingpolicies",
        short=("nvpol",), builtin=False),
    _rt("kyverno.io/v1", "ClusterPolicy", "clusterpolicies", False, short=("cpol",),
        builtin=False),
    _rt("kyverno.io/v1", "Policy", "policies", short=("pol",), builtin=False),
    # the CRDs Kyverno (and the wg-policy prototypes) install
    _rt("wgpolicyk8s.io/v1alpha2", "PolicyReport", "policyreports", short=("polr",),
        builtin=False),
    _rt("wgpolicyk8s.io/v1alpha2", "ClusterPolicyReport", "clusterpolicyreports", False,
        short=("cpolr",), builtin=False),
)
POLICY_REPORTS = frozenset({"policyreports.wgpolicyk8s.io",
                            "clusterpolicyreports.wgpolicyk8s.io"})
# the verb of each write method (RBAC's names)
VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
# versions a group also serves besides the preferred one (as a real server lists them)
EXTRA_VERSIONS = {"autoscaling": ("v1",)}
# kinds served through a non-preferred version, e.g. HPAs written as autoscaling/v1
_BY_KIND = {rt.kind: rt for rt in RESOURCE_TYPES}


# ---------------------------------------------------------------- kubeconfig

def write_kubeconfig(path: Path, server: str, ca_pem: bytes, token: str,
                     context: str = "fake") -> Path:
    """A kubeconfig with one cluster, one token user and one current context."""
    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": f"{context}-cluster", "cluster": {
            "server": server,
            "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": f"{context}-user", "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": f"{context}-cluster",
                                                   "user": f"{context}-user"}}],
    }
    path.write_text(json.dumps(doc, indent=2))
    return path


# ---------------------------------------------------------------- the store

def _status(code: int, reason: str, message: str, kind: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                           "status": "Failure", "message": message, "reason": reason,
                           "code": code}
    if kind:
        doc["details"] = {"kind": kind}
    return doc


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.doc = _status(code, reason, message, kind)


class DropConnection(Exception):
    """Send half an answer, then close the connection."""


@dataclass
class FakeCluster:
    """What the server serves, and how it misbehaves (keys are ``resource`` names,
    ``pods`` or ``deployments.apps``)."""

    token: str = "good-token"
    version: tuple[str, str] = ("1", "30")
    missing: set[str] = field(default_factory=set)  # not in discovery, 404 on list
    forbidden: set[str] = field(default_factory=set)  # 403 on every verb
    denied: set[tuple[str, str]] = field(default_factory=set)  # (verb, resource): 403
    report_severities: tuple[str, ...] = SEVERITIES  # the installed PolicyReport CRD's
    broken: set[str] = field(default_factory=set)  # 500 on list
    slow: set[str] = field(default_factory=set)  # sleeps slow_seconds before answering
    dropped: set[str] = field(default_factory=set)  # the answer breaks off half-way
    slow_seconds: float = 2.0
    expire_continue: set[str] = field(default_factory=set)  # 410 on the first continue
    latency: float = 0.0  # added to every request (to make concurrency observable)
    hang: bool = False  # every request sleeps slow_seconds (a server that hangs)
    user: str = "system:serviceaccount:kubeproof:kubeproof-audit"
    objects: dict[ResourceType, dict[tuple[str, str], dict[str, Any]]] = field(
        default_factory=dict)
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    writes: list[tuple[str, str, dict[str, list[str]]]] = field(default_factory=list)
    max_in_flight: int = 0
    _in_flight: int = 0
    _rv: int = 100
    _expired: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------ loading

    def add(self, obj: dict[str, Any], default_namespace: str = "default") -> dict[str, Any]:
        """Store a copy of ``obj`` as the API server would keep it; returns the copy."""
        obj = json.loads(json.dumps(obj, default=str))
        rt = _BY_KIND.get(str(obj.get("kind")))
        if rt is None:
            raise ValueError(f"kind {obj.get('kind')!r} is not served")
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta.get("name"), str):
            meta["name"] = f"{meta.get('generateName') or rt.kind.lower() + '-'}" \
                           f"{uuid.uuid4().hex[:5]}"
        if rt.namespaced:
            meta["namespace"] = str(meta.get("namespace") or default_namespace)
            self._ensure_namespace(meta["namespace"])
        else:
            meta.pop("namespace", None)
        obj["apiVersion"] = rt.group_version
        with self._lock:
            self._rv += 1
            meta["resourceVersion"] = str(self._rv)
        meta.setdefault("uid", str(uuid.uuid5(uuid.NAMESPACE_URL, f"{rt.resource}/"
                                              f"{meta.get('namespace', '')}/{meta['name']}")))
        meta.setdefault("creationTimestamp", "2024-05-01T10:00:00Z")
        if rt.kind == "Pod":
            obj.setdefault("status", {"phase": "Running", "podIP": "10.0.0.7"})
        self.objects.setdefault(rt, {})[(meta.get("namespace", ""), meta["name"])] = obj
        return obj

    def add_all(self, objs: Iterable[dict[str, Any]], default_namespace: str = "default"
                ) -> int:
        n = 0
        for obj in objs:
            if isinstance(obj, dict) and obj.get("kind") in _BY_KIND:
                self.add(obj, default_namespace)
                n += 1
        return n

    def _ensure_namespace(self, name: str) -> None:
        rt = _BY_KIND["Namespace"]
        if ("", name) not in self.objects.get(rt, {}):
            self.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def stored(self, kind: str) -> list[dict[str, Any]]:
        rt = _BY_KIND[kind]
        return [self.objects[rt][k] for k in sorted(self.objects.get(rt, {}))]

    def served(self) -> list[ResourceType]:
        return [rt for rt in RESOURCE_TYPES if rt.resource not in self.missing]

    # ------------------------------------------------------------ answers

    def answer(self, path: str, query: dict[str, list[str]]) -> dict[str, Any]:
        parts = [p for p in path.split("/") if p]
        if parts == ["version"]:
            major, minor = self.version
            return {"major": major, "minor": minor, "gitVersion": f"v{major}.{minor}.0",
                    "platform": "linux/amd64"}
        if parts == ["api"]:
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]}
        if parts == ["apis"]:
            return {"kind": "APIGroupList", "apiVersion": "v1",
                    "groups": [self._group(g) for g in self._groups()]}
        if len(parts) == 2 and parts[0] == "apis":
            if parts[1] not in self._groups():
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return {"kind": "APIGroup", "apiVersion": "v1", **self._group(parts[1])}
        if parts[:1] == ["api"] and len(parts) >= 2:
            return self._resource_call("", parts[1], parts[2:], query)
        if parts[:1] == ["apis"] and len(parts) >= 3:
            return self._resource_call(parts[1], parts[2], parts[3:], query)
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def _groups(self) -> list[str]:
        return sorted({rt.group for rt in self.served() if rt.group})

    def _group(self, name: str) -> dict[str, Any]:
        preferred = next(rt.version for rt in self.served() if rt.group == name)
        versions = [preferred, *EXTRA_VERSIONS.get(name, ())]
        gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
        return {"name": name, "versions": gvs, "preferredVersion": gvs[0]}

    def _types(self, group: str, version: str) -> list[ResourceType]:
        if version in EXTRA_VERSIONS.get(group, ()):
            return [ResourceType(rt.group, version, rt.kind, rt.plural, rt.namespaced,
                                 rt.short_names, rt.builtin)
                    for rt in self.served() if rt.group == group]
        return [rt for rt in self.served() if rt.group == group and rt.version == version]

    def _resource_call(self, group: str, version: str, rest: list[str],
                       query: dict[str, list[str]]) -> dict[str, Any]:
        types = self._types(group, version)
        if not types:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        gv = f"{group}/{version}" if group else version
        if not rest:
            return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                    "resources": [rt.discovery() for rt in types]}
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        by_plural = {rt.plural: rt for rt in types}
        rt = by_plural.get(rest[0])
        if rt is None or (namespace is not None and not rt.namespaced):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) == 2 else None
        if len(rest) > 2:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        self._misbehave(rt, namespace, "get" if name else "list", query)
        if name is not None:
            return self._get(rt, gv, namespace, name)
        return self._list(rt, gv, namespace, query)

    def _misbehave(self, rt: ResourceType, namespace: str | None, verb: str,
                   query: dict[str, list[str]]) -> None:
        res = rt.resource
        if res in self.slow:
            time.sleep(min(self.slow_seconds, MAX_SLEEP))
        if res in self.forbidden or (verb, res) in self.denied:
            self._forbid(rt, namespace, verb)
        if res in self.broken:
            raise ApiError(500, "InternalError",
                           "Internal error occurred: etcdserver: leader changed", rt.plural)
        if res in self.dropped:
            raise DropConnection
        if "continue" in query and res in self.expire_continue and res not in self._expired:
            self._expired.add(res)
            raise ApiError(410, "Expired", "The provided continue parameter is too old to "
                                           "display a consistent list result. You can start a "
                                           "new list without the continue parameter.")

    def _forbid(self, rt: ResourceType, namespace: str | None, verb: str,
                name: str | None = None) -> None:
        scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        what = f'{rt.resource} "{name}"' if name else rt.resource
        raise ApiError(403, "Forbidden",
                       f'{what} is forbidden: User "{self.user}" cannot {verb} resource '
                       f'"{rt.plural}" in API group "{rt.group}" {scope}', rt.plural)

    def _get(self, rt: ResourceType, gv: str, namespace: str | None, name: str
             ) -> dict[str, Any]:
        obj = self.objects.get(rt, {}).get((namespace or "", name))
        if obj is None:
            raise ApiError(404, "NotFound", f'{rt.resource} "{name}" not found', rt.plural)
        return {**obj, "apiVersion": gv, "kind": rt.kind}

    def _list(self, rt: ResourceType, gv: str, namespace: str | None,
              query: dict[str, list[str]]) -> dict[str, Any]:
        keys = sorted(k for k in self.objects.get(rt, {})
                      if namespace is None or k[0] == namespace)
        for selector in query.get("fieldSelector", []):
            keys = [k for k in keys if _field_match(selector, k)]
        for selector in query.get("labelSelector", []):
            try:
                keys = [k for k in keys if label_match(
                    selector, self.objects[rt][k].get("metadata", {}).get("labels"))]
            except Rejected as exc:
                raise ApiError(exc.code, exc.reason, exc.message) from None
        limit = int(query.get("limit", ["0"])[0] or 0)
        rv = str(self._rv)
        start = 0
        if query.get("continue"):
            rv, after = _decode_continue(query["continue"][0])
            start = next((i for i, k in enumerate(keys) if k > after), len(keys))
        chunk = keys[start:start + limit] if limit > 0 else keys[start:]
        items = []
        for k in chunk:
            obj = dict(self.objects[rt][k])
            if rt.builtin:  # typed lists carry no per-item apiVersion/kind
                obj.pop("apiVersion", None)
                obj.pop("kind", None)
            else:
                obj["apiVersion"] = gv
            items.append(obj)
        meta: dict[str, Any] = {"resourceVersion": rv}
        remaining = len(keys) - start - len(chunk)
        if limit > 0 and remaining > 0:
            meta["continue"] = _encode_continue(rv, chunk[-1])
            meta["remainingItemCount"] = remaining
        return {"kind": f"{rt.kind}List", "apiVersion": gv, "metadata": meta, "items": items}

    # ------------------------------------------------------------ writes

    def write(self, method: str, path: str, query: dict[str, list[str]], body: bytes,
              content_type: str) -> tuple[int, dict[str, Any]]:
        """A write request: (HTTP status, answer)."""
        with self._lock:
            self.writes.append((method, path, query))
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["apis"] and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        elif parts[:1] == ["api"] and len(parts) >= 3:
            group, version, rest = "", parts[1], parts[2:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        rt, namespace, name = self._target(group, version, rest)
        verb = VERBS[method]
        if not rt.builtin and method == "DELETE" and name is None:
            verb = "deletecollection"
        if rt.builtin or verb == "deletecollection" or (method == "POST") != (name is None):
            raise ApiError(405, "MethodNotAllowed",
                           "the server does not allow this method on the requested resource "
                           "(the fake API server writes single custom resources only)")
        self._misbehave(rt, namespace, verb, query)
        if len(body) > MAX_BODY:
            raise ApiError(413, "RequestEntityTooLarge",
                           f"Request entity too large: limit is {MAX_BODY}")
        try:
            with self._lock:  # one write at a time, as etcd's transactions
                return self._write(method, rt, namespace, name, query, body, content_type)
        except Rejected as exc:
            error = ApiError(exc.code, exc.reason, exc.message, rt.plural)
            if exc.details:
                error.doc["details"] = exc.details
            raise error from None

    def _target(self, group: str, version: str, rest: list[str]
                ) -> tuple[ResourceType, str | None, str | None]:
        types = {rt.plural: rt for rt in self._types(group, version)}
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        rt = types.get(rest[0])
        if rt is None or len(rest) > 2 or (namespace is None) == rt.namespaced:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return rt, namespace, rest[1] if len(rest) == 2 else None

    def _write(self, method: str, rt: ResourceType, namespace: str | None, name: str | None,
               query: dict[str, list[str]], body: bytes, content_type: str
               ) -> tuple[int, dict[str, Any]]:
        gv = rt.group_version
        store = self.objects.setdefault(rt, {})
        manager = query.get("fieldManager", ["unknown"])[0]
        if method == "DELETE":
            return self._delete(rt, namespace, str(name), body)
        doc = _decode(body, content_type, method)
        current = store.get((namespace or "", str(name))) if name else None
        if method == "PATCH" and content_type.startswith("application/apply-patch+yaml"):
            if "fieldManager" not in query:
                raise Rejected(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: '
                                               "fieldManager: Required value: is required "
                                               "for apply patch")
            self._check_identity(rt, doc, namespace, name)
            want_rv = doc.get("metadata", {}).get("resourceVersion")
            if current is not None and want_rv and want_rv != \
                    current["metadata"]["resourceVersion"]:
                raise Rejected(409, "Conflict", self._modified(rt, str(name)))
            force = query.get("force", ["false"])[0] == "true"
            if current is None:
                if ("create", rt.resource) in self.denied:
                    self._forbid(rt, namespace, "create", name)
                base = {"apiVersion": gv, "kind": rt.kind,
                        "metadata": {"name": name, **({"namespace": namespace}
                                                      if namespace else {})}}
                return 201, self._store(rt, None, apply(base, doc, manager, force, gv))
            return 200, self._store(rt, current, apply(current, doc, manager, force, gv))
        if method == "PATCH":  # a JSON merge patch (RFC 7386)
            if current is None:
                raise Rejected(404, "NotFound", f'{rt.resource} "{name}" not found')
            new = _merge(json.loads(json.dumps(current)), doc)
            take_changed(current, new, manager, gv)
            return 200, self._store(rt, current, new)
        self._check_identity(rt, doc, namespace, name)
        meta = doc["metadata"]
        if method == "POST":
            key = (namespace or "", str(meta.get("name")))
            if key in store:
                raise Rejected(409, "AlreadyExists",
                               f'{rt.resource} "{key[1]}" already exists')
            if meta.get("resourceVersion"):
                raise Rejected(500, "InternalError",
                               "resourceVersion should not be set on objects to be created")
            take_changed(None, doc, manager, gv)
            return 201, self._store(rt, None, doc)
        if current is None:  # a custom resource is never created by an update
            raise Rejected(404, "NotFound", f'{rt.resource} "{name}" not found')
        if not meta.get("resourceVersion"):
            raise Rejected(422, "Invalid", f'{rt.kind}.{rt.group} "{name}" is invalid: '
                                           "metadata.resourceVersion: Invalid value: 0x0: "
                                           "must be specified for an update")
        if meta["resourceVersion"] != current["metadata"]["resourceVersion"]:
            raise Rejected(409, "Conflict", self._modified(rt, str(name)))
        take_changed(current, doc, manager, gv)
        return 200, self._store(rt, current, doc)

    @staticmethod
    def _modified(rt: ResourceType, name: str) -> str:
        return (f'Operation cannot be fulfilled on {rt.resource} "{name}": the object has '
                "been modified; please apply your changes to the latest version and try again")

    def _check_identity(self, rt: ResourceType, doc: dict[str, Any], namespace: str | None,
                        name: str | None) -> None:
        """The body names the kind, the name and the namespace of the URL (400 else)."""
        if doc.get("apiVersion") != rt.group_version or doc.get("kind") != rt.kind:
            raise Rejected(400, "BadRequest",
                           f"the API version in the data ({doc.get('apiVersion')}) and kind "
                           f"({doc.get('kind')}) do not match {rt.group_version} {rt.kind}")
        meta = doc.get("metadata")
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
            raise Rejected(422, "Invalid", f"{rt.kind}.{rt.group} is invalid: metadata.name: "
                                           "Required value: name or generateName is required")
        if name is not None and meta["name"] != name:
            raise Rejected(400, "BadRequest", f"the name of the object ({meta['name']}) does "
                                              f"not match the name on the URL ({name})")
        if rt.namespaced and meta.get("namespace", namespace) != namespace:
            raise Rejected(400, "BadRequest", "the namespace of the provided object does not "
                                              "match the namespace sent on the request")
        if namespace and ("", namespace) not in self.objects.get(_BY_KIND["Namespace"], {}):
            raise Rejected(404, "NotFound", f'namespaces "{namespace}" not found')

    def _store(self, rt: ResourceType, current: dict[str, Any] | None, new: dict[str, Any]
               ) -> dict[str, Any]:
        """Keep ``new`` (its server-owned metadata from ``current``, or fresh)."""
        new["apiVersion"], new["kind"] = rt.group_version, rt.kind
        meta = new["metadata"]
        if rt.resource in POLICY_REPORTS:
            check_policy_report(new, rt.kind, self.report_severities)
        if current is None:
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = "2024-05-01T10:00:00Z"
            meta["generation"] = 1
        else:
            old = current["metadata"]
            for key in ("uid", "creationTimestamp", "generation", "resourceVersion"):
                meta[key] = old[key]
            if _without_time(new) == _without_time(current):
                return current  # a no-op write changes nothing, not even resourceVersion
            if {k: v for k, v in new.items() if k != "metadata"} != \
                    {k: v for k, v in current.items() if k != "metadata"}:
                meta["generation"] = old["generation"] + 1
        if len(json.dumps(new).encode()) > MAX_STORED:
            raise Rejected(500, "InternalError", "etcdserver: request is too large")
        self._rv += 1
        meta["resourceVersion"] = str(self._rv)
        self.objects[rt][(meta.get("namespace", ""), meta["name"])] = new
        return new

    def _delete(self, rt: ResourceType, namespace: str | None, name: str, body: bytes
                ) -> tuple[int, dict[str, Any]]:
        key = (namespace or "", name)
        current = self.objects.get(rt, {}).get(key)
        if current is None:
            raise Rejected(404, "NotFound", f'{rt.resource} "{name}" not found')
        options = _decode(body, "application/json", "DELETE") if body else {}
        pre = options.get("preconditions") or {}
        meta = current["metadata"]
        for field_, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
            if pre.get(field_) and pre[field_] != meta[field_]:
                raise Rejected(409, "Conflict",
                               f'Operation cannot be fulfilled on {rt.resource} "{name}": '
                               f"Precondition failed: {label} in precondition: {pre[field_]}, "
                               f"{label} in object meta: {meta[field_]}")
        del self.objects[rt][key]
        self._rv += 1
        return 200, current

    # ------------------------------------------------------------ bookkeeping

    def enter(self, path: str, query: dict[str, list[str]]) -> None:
        with self._lock:
            self.requests.append((path, query))
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def list_requests(self, resource_path_end: str) -> list[dict[str, list[str]]]:
        return [q for p, q in self.requests if p.endswith(resource_path_end)]


def _decode(body: bytes, content_type: str, method: str) -> dict[str, Any]:
    """A request body as a real server reads it: JSON, YAML for an apply (a
    superset of JSON); patch types the custom resource handler does not take
    are a 415."""
    kind = content_type.split(";")[0].strip()
    if method == "PATCH" and kind not in ("application/apply-patch+yaml",
                                          "application/merge-patch+json"):
        raise Rejected(415, "UnsupportedMediaType",
                       "the body of the request was in an unknown format - accepted media "
                       "types include: application/json-patch+json, "
                       "application/merge-patch+json, application/apply-patch+yaml")
    try:
        try:
            doc = json.loads(body)
        except ValueError:  # an apply may be any YAML (libyaml's parser: fast)
            if not kind.endswith("yaml"):
                raise
            doc = yaml.load(body, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (ValueError, yaml.YAMLError) as exc:
        raise Rejected(400, "BadRequest", f"error decoding the body: {exc}") from None
    if not isinstance(doc, dict):
        raise Rejected(400, "BadRequest", "the body is not an object")
    return doc


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = _merge(target.get(k), v)
    return target


def _without_time(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` without the times of its managedFields (they alone make no write)."""
    copy_ = json.loads(json.dumps(obj))
    for e in copy_.get("metadata", {}).get("managedFields") or []:
        e.pop("time", None)
    return copy_


def _field_match(selector: str, key: tuple[str, str]) -> bool:
    for term in selector.split(","):
        name, _, value = term.partition("=")
        value = value.lstrip("=")
        if name == "metadata.name" and key[1] != value:
            return False
        if name == "metadata.namespace" and key[0] != value:
            return False
    return True


def _encode_continue(rv: str, last: tuple[str, str]) -> str:
    token = {"v": "meta.k8s.io/v1", "rv": int(rv), "start": f"{last[0]}/{last[1]}\x00"}
    return base64.urlsafe_b64encode(json.dumps(token).encode()).decode()


def _decode_continue(token: str) -> tuple[str, tuple[str, str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        ns, _, name = str(data["start"]).rstrip("\x00").partition("/")
        return str(data["rv"]), (ns, name)
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, "BadRequest", "continue key is not valid: incorrect encoded start "
                                          "resourceVersion (version meta.k8s.io/v1)") from None


# ---------------------------------------------------------------- the server

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _body(self) -> bytes:
        """The request body, read completely (past the limit it is read and dropped,
        so the answer still reaches the client)."""
        try:
            length = max(0, int(self.headers.get("Content-Length") or 0))
        except ValueError:
            length = 0
        kept, left = bytearray(), length
        while left > 0:
            chunk = self.rfile.read(min(left, 65536))
            if not chunk:
                break
            left -= len(chunk)
            if len(kept) <= MAX_BODY:
                kept += chunk
        return bytes(kept)

    def _serve(self, method: str) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        body = self._body() if method != "GET" else b""
        fake.enter(url.path, query)
        drop = False
        try:
            if fake.latency:
                time.sleep(fake.latency)
            if fake.hang:
                time.sleep(min(fake.slow_seconds, MAX_SLEEP))
            if self.headers.get("Authorization") != f"Bearer {fake.token}":
                raise ApiError(401, "Unauthorized", "Unauthorized")
            if method == "GET":
                code, doc = 200, fake.answer(url.path, query)
            else:
                code, doc = fake.write(method, url.path, query, body,
                                       self.headers.get("Content-Type") or "application/json")
        except ApiError as exc:
            code, doc = exc.code, exc.doc
        except DropConnection:
            code, doc, drop = 200, {"kind": "List", "items": [{"x": "y" * 4096}]}, True
        finally:
            fake.leave()
        body = json.dumps(doc).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2] if drop else body)
            if drop:
                self.close_connection = True
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeCluster

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet
        pass


class FakeApiServer:
    """``with FakeApiServer(cluster, tls) as srv: srv.url``"""

    def __init__(self, cluster: FakeCluster, tls: Tls) -> None:
        self.cluster = cluster
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = cluster
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls.cert_file, tls.key_file)
        # the handshake runs in the handler thread, not in the accepting one
        self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True,
                                              do_handshake_on_connect=False)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeApiServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# ---------------------------------------------------------------- objects

def load_manifests(paths: Iterable[str | Path]) -> Iterator[dict[str, Any]]:
    """Objects from YAML/JSON files or folders, read with kubeproof's own loader."""
    from kubeproof.sources.files import LoadOptions, discover, load_path

    opts = LoadOptions(render=False)
    for kind, path in discover([str(p) for p in paths], opts):
        if kind != "file":
            continue
        for located in load_path(kind, path, opts).objects:
            yield located.resource.obj
