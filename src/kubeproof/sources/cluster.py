"""Objects from a live cluster, read-only, for ``kubeproof audit``.

Connection: the official ``kubernetes`` client loads the kubeconfig
(``--kubeconfig``, else ``$KUBECONFIG``, else ``~/.kube/config``; ``--context``)
or, with none of those, the in-cluster service-account config; exec and OIDC
credential plugins and token refresh come with it, and the kubeconfig is never
written back. Requests are raw ``GET``s through the client's own REST
transport (``kubernetes.client.rest.RESTClientObject``, which applies the
kubeconfig's TLS, client certificates and proxy), so objects arrive as the
plain JSON the API server sends; no generated model class is involved.

What is read: the kinds of :data:`AUDIT_KINDS` (Secrets only when asked,
see :data:`SECRETS`), each at the version discovery (``/api/v1``, ``/apis``,
``/apis/<group>/<version>``) says the server prefers, with paginated list calls
(``limit`` and ``continue``; a ``continue`` token that expired, 410, restarts
that list once). List items carry no ``apiVersion``/``kind``: both are set from
the list. ``status`` and ``metadata.managedFields`` are dropped on arrival.

Identity: each object's :class:`Origin` is ``<context>/<namespace or ->/<Kind>/
<name>`` at line 1, column 1, with a locator that always answers (1, 1).

Owners: an object is judged once, at its top-level owner. Dropped on arrival:
Pods whose controller is a ReplicaSet, ReplicationController, StatefulSet,
DaemonSet or Job; ReplicaSets controlled by a Deployment; Jobs controlled by a
CronJob. Bare Pods, Pods of other controllers (custom resources) and static
mirror Pods (controlled by their Node; the kube-apiserver's among them) stay.

Secrets: only ``type``, metadata (without the last-applied annotation, which
holds the data) and, for pull-secret types, a stand-in payload that parses or
fails exactly as the real one does (``k8s.pullsecrets.pull_secret_problem``) are kept;
the real data is dropped as soon as the page is decoded.

Failures never raise out of :meth:`ClusterReader.read`: every kind that could
not be listed is an :class:`InputError` for ``cluster/<context>`` (a coverage
gap). Transport errors and 401 stop the reading (nothing else can succeed) and
are reported once.
"""

from __future__ import annotations

import base64
import os
import queue
import re
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from kubeproof import __version__
from kubeproof.k8s.pullsecrets import SECRET_KINDS, pull_secret_problem
from kubeproof.model import InputError, Origin, Resource
from kubeproof.sources.documents import ORIGIN_LOCATOR, LoadedFile, Located

SOURCE = "cluster"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
DEFAULT_KUBECONFIG = os.path.join("~", ".kube", "config")


@dataclass(frozen=True, slots=True)
class KindSpec:
    group: str
    kind: str
    plural: str
    optional: bool = False  # a custom resource: absent when its operator is not installed

    @property
    def resource(self) -> str:
        """The name RBAC rules and kubectl use: ``deployments.apps``, ``pods``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


SECRETS = KindSpec("", "Secret", "secrets")
AUDIT_KINDS: tuple[KindSpec, ...] = (
    KindSpec("", "Namespace", "namespaces"),
    KindSpec("", "Pod", "pods"),
    KindSpec("", "ReplicationController", "replicationcontrollers"),
    KindSpec("", "Service", "services"),
    KindSpec("", "ServiceAccount", "serviceaccounts"),
    KindSpec("", "ResourceQuota", "resourcequotas"),
    KindSpec("", "LimitRange", "limitranges"),
    KindSpec("apps", "Deployment", "deployments"),
    KindSpec("apps", "StatefulSet", "statefulsets"),
    KindSpec("apps", "DaemonSet", "daemonsets"),
    KindSpec("apps", "ReplicaSet", "replicasets"),
    KindSpec("batch", "Job", "jobs"),
    KindSpec("batch", "CronJob", "cronjobs"),
    KindSpec("policy", "PodDisruptionBudget", "poddisruptionbudgets"),
    KindSpec("autoscaling", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
    KindSpec("networking.k8s.io", "NetworkPolicy", "networkpolicies"),
    KindSpec("networking.k8s.io", "Ingress", "ingresses"),
    KindSpec("rbac.authorization.k8s.io", "Role", "roles"),
    KindSpec("rbac.authorization.k8s.io", "ClusterRole", "clusterroles"),
    KindSpec("rbac.authorization.k8s.io", "RoleBinding", "rolebindings"),
    KindSpec("rbac.authorization.k8s.io", "ClusterRoleBinding", "clusterrolebindings"),
    KindSpec("admissionregistration.k8s.io", "ValidatingWebhookConfiguration",
             "validatingwebhookconfigurations"),
    KindSpec("admissionregistration.k8s.io", "MutatingWebhookConfiguration",
             "mutatingwebhookconfigurations"),
    KindSpec("security.istio.io", "PeerAuthentication", "peerauthentications", optional=True),
    KindSpec("monitoring.coreos.com", "ServiceMonitor", "servicemonitors", optional=True),
    KindSpec("monitoring.coreos.com", "PodMonitor", "podmonitors", optional=True),
)
# cluster-scoped kinds still read when --namespace narrows the audit: the
# Namespace itself (by name) and the bindings that may grant its ServiceAccounts
NARROWED_CLUSTER_KINDS = frozenset({"Namespace", "ClusterRoleBinding"})

# a Pod controlled by one of these is judged at that controller (or above)
POD_CONTROLLERS = frozenset({"ReplicaSet", "ReplicationController", "StatefulSet", "DaemonSet",
                             "Job"})
ROLLED_UP = {"ReplicaSet": "Deployment", "Job": "CronJob"}


# ---------------------------------------------------------------- errors

class ClusterError(Exception):
    """The cluster cannot be talked to at all (no usable kubeconfig)."""


class _Stopped(Exception):
    """Reading stopped (after a fatal error) before a list was complete."""


class RequestFailed(Exception):
    """One GET failed: ``status`` is the HTTP status, None for transport errors.

    ``fatal``: no other request can succeed either (the server cannot be
    reached, TLS fails, the credentials are rejected); a read timeout or a
    dropped answer concerns that one request.
    """

    def __init__(self, status: int | None, detail: str, *, timeout: bool = False,
                 fatal: bool = False) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.timeout = timeout
        self.fatal = fatal or status == 401

    def __str__(self) -> str:
        if self.status is None:
            return self.detail
        try:
            head = f"{self.status} {HTTPStatus(self.status).phrase}"
        except ValueError:
            head = f"HTTP {self.status}"
        return f"{head}: {self.detail}" if self.detail else head


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def one_line(text: str, limit: int = 300) -> str:
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _status_message(status: int, body: Any) -> str:
    """The API server's own explanation (a Status object's message), one line."""
    if status == 401:
        return "the API server rejected the credentials (expired or revoked token?)"
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return one_line(data["message"])
    return ""


# ---------------------------------------------------------------- connection

@dataclass(slots=True)
class Connection:
    """A channel to one API server: raw requests answered with JSON (sources only GET)."""

    label: str  # the context name ("in-cluster" inside a pod)
    host: str
    timeout: float
    cfg: Any
    rest: Any
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def where(self) -> str:
        return f"cluster/{self.label}"

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": f"kubeproof/{__version__} audit"}
        with self._lock:  # a credential plugin's refresh hook may run here
            for auth in self.cfg.auth_settings().values():
                if auth.get("in") == "header" and auth.get("value"):
                    headers[auth["key"]] = auth["value"]
        return headers

    def get(self, path: str, query: dict[str, str] | None = None) -> Any:
        """GET ``path`` and decode the JSON answer; :class:`RequestFailed` otherwise."""
        return self.send("GET", path, query)

    def send(self, method: str, path: str, query: dict[str, str] | None = None, *,
             body: dict[str, Any] | bytes | None = None,
             content_type: str = "application/json") -> Any:
        """One request and its decoded JSON answer; :class:`RequestFailed` otherwise.
        Sources only GET; ``reports/cluster_reports.py`` writes PolicyReports with it
        (the REST client encodes a dict as JSON and sends bytes as they are)."""
        # start-up: the kubernetes client costs 190-850 ms of imports (measured with -X
        # importtime, idle and loaded machine); the webhook's judges import this module for
        # as_judged and never talk to a cluster
        from kubernetes.client.exceptions import ApiException

        url = self.host + path + ("?" + urlencode(query) if query else "")
        timeout = (min(self.timeout, 10.0), self.timeout)
        try:
            headers = self._headers()
            if body is not None:
                headers["Content-Type"] = content_type
            resp = self.rest.request(method, url, headers=headers, body=body,
                                     _request_timeout=timeout)
            status = resp.status
            answer = resp.data if resp.data is not None else resp.read()
        except ApiException as exc:  # older clients raise for non-2xx; TLS errors
            if not exc.status:
                raise RequestFailed(None, f"TLS error talking to {self.host}: "
                                          f"{one_line(str(exc.reason), 200)}",
                                    fatal=True) from None
            status, answer = exc.status, exc.body
        except Exception as exc:  # urllib3 transport errors
            raise _transport_error(exc, self.host, self.timeout) from None
        if not 200 <= status < 300:
            raise RequestFailed(status, _status_message(status, answer))
        try:
            return orjson.loads(answer)
        except orjson.JSONDecodeError:
            raise RequestFailed(status, "the answer is not JSON") from None


def _transport_error(exc: Exception, host: str, timeout: float) -> RequestFailed:
    # start-up: urllib3 comes with the kubernetes client (~100 ms under load): see get()
    import urllib3.exceptions as ue

    err: BaseException = exc
    if isinstance(exc, ue.MaxRetryError) and exc.reason is not None:
        err = exc.reason
    if isinstance(err, ue.NewConnectionError):  # (a ConnectTimeoutError subclass)
        text = str(err)
        why = "connection refused" if "refused" in text.lower() else one_line(
            text.split(": ", 1)[-1], 200)
        return RequestFailed(None, f"cannot reach {host}: {why}", fatal=True)
    if isinstance(err, ue.ConnectTimeoutError):
        return RequestFailed(None, f"cannot reach {host}: no connection within "
                                   f"{min(timeout, 10.0):g}s", fatal=True)
    if isinstance(err, (ue.ReadTimeoutError, TimeoutError)):
        return RequestFailed(None, f"no answer within {timeout:g}s (--request-timeout)",
                             timeout=True)
    if isinstance(err, ue.SSLError):
        return RequestFailed(None, f"TLS error talking to {host}: {one_line(str(err), 200)}",
                             fatal=True)
    if isinstance(err, ue.HTTPError | OSError):  # a dropped or garbled answer
        return RequestFailed(None, f"the answer from {host} broke off: "
                                   f"{one_line(str(err), 200) or type(err).__name__}")
    raise exc


def connect(kubeconfig: str | None = None, context: str | None = None, *,
            timeout: float = 30.0, max_requests: int = 4) -> Connection:
    """Load credentials the way kubectl does; :class:`ClusterError` when there are none."""
    # start-up: the kubernetes client: see get() (190-850 ms of imports)
    from kubernetes import client
    from kubernetes import config as kconfig
    from urllib3.util.retry import Retry

    cfg = client.Configuration()
    path = kubeconfig or os.environ.get("KUBECONFIG") or ""
    if not path and os.path.exists(os.path.expanduser(DEFAULT_KUBECONFIG)):
        path = os.path.expanduser(DEFAULT_KUBECONFIG)
    if path:
        paths = [p for p in path.split(os.pathsep) if p]
        if not any(os.path.exists(os.path.expanduser(p)) for p in paths):
            raise ClusterError(f"kubeconfig {path}: no such file")
        try:
            kconfig.load_kube_config(config_file=path, context=context,
                                     client_configuration=cfg, persist_config=False)
            label = context or kconfig.list_kube_config_contexts(path)[1]["name"]
        except Exception as exc:  # ConfigException, YAML and file errors, plugin failures
            raise ClusterError(f"kubeconfig {path}: {one_line(str(exc), 200)}") from None
    elif context:
        raise ClusterError(f"--context {context} needs a kubeconfig "
                           "(--kubeconfig, $KUBECONFIG or ~/.kube/config)")
    elif os.environ.get("KUBERNETES_SERVICE_HOST"):
        try:
            kconfig.load_incluster_config(client_configuration=cfg)
        except Exception as exc:
            raise ClusterError(f"in-cluster config: {one_line(str(exc), 200)}") from None
        label = "in-cluster"
    else:
        raise ClusterError("no kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config) and "
                           "not running inside a cluster")
    if not cfg.verify_ssl:  # insecure-skip-tls-verify: the user chose it, kubectl is silent

        # start-up: urllib3: see get()
        from urllib3.exceptions import InsecureRequestWarning

        warnings.simplefilter("ignore", InsecureRequestWarning)
    # connection errors are retried twice, reads never (a hanging server costs one timeout)
    cfg.retries = Retry(total=2, connect=2, read=0, redirect=0, status=0, other=0)
    cfg.connection_pool_maxsize = max_requests
    rest = client.rest.RESTClientObject(cfg)
    return Connection(str(label), cfg.host.rstrip("/"), timeout, cfg, rest)


def server_version(conn: Connection) -> tuple[int, int] | None:
    """The server's ``major.minor`` from ``/version`` (None when it does not say)."""
    data = conn.get("/version")
    if not isinstance(data, dict):
        return None
    major = re.match(r"\d+", str(data.get("major", "")))
    minor = re.match(r"\d+", str(data.get("minor", "")))
    if not major or not minor:
        return None
    return int(major.group()), int(minor.group())


# ---------------------------------------------------------------- discovery

@dataclass(frozen=True, slots=True)
class Target:
    """A kind as this server serves it: version, plural, scope."""

    spec: KindSpec
    api_version: str
    plural: str
    namespaced: bool

    def path(self, namespace: str | None) -> str:
        base = f"/apis/{self.api_version}" if "/" in self.api_version \
            else f"/api/{self.api_version}"
        if namespace and self.namespaced:
            return f"{base}/namespaces/{quote(namespace, safe='')}/{self.plural}"
        return f"{base}/{self.plural}"


def _served(doc: Any) -> dict[str, dict[str, Any]]:
    """kind -> resource entry of an APIResourceList (subresources left out)."""
    out: dict[str, dict[str, Any]] = {}
    resources = doc.get("resources") if isinstance(doc, dict) else None
    for r in resources if isinstance(resources, list) else []:
        if isinstance(r, dict) and isinstance(r.get("name"), str) and "/" not in r["name"] \
                and isinstance(r.get("kind"), str):
            verbs = r.get("verbs")
            if not isinstance(verbs, list) or "list" in verbs:
                out.setdefault(r["kind"], r)
    return out


def _group_versions(apis: Any) -> dict[str, list[str]]:
    """group -> its groupVersions, the preferred one first."""
    out: dict[str, list[str]] = {}
    groups = apis.get("groups") if isinstance(apis, dict) else None
    for g in groups if isinstance(groups, list) else []:
        if not isinstance(g, dict) or not isinstance(g.get("name"), str):
            continue
        versions = [v["groupVersion"] for v in g.get("versions") or []
                    if isinstance(v, dict) and isinstance(v.get("groupVersion"), str)]
        preferred = g.get("preferredVersion")
        if isinstance(preferred, dict) and preferred.get("groupVersion") in versions:
            versions.remove(preferred["groupVersion"])
            versions.insert(0, preferred["groupVersion"])
        out[g["name"]] = versions
    return out


# ---------------------------------------------------------------- objects

# live objects have no lines: each finding is at its object's origin, line 1 column 1
LOCATOR = ORIGIN_LOCATOR


def object_file(label: str, kind: str, namespace: str | None, name: str) -> str:
    """A live object's identity where findings name a file."""
    return f"{label}/{namespace or '-'}/{kind}/{name}"


def _controller_kind(meta: dict[str, Any]) -> str | None:
    refs = meta.get("ownerReferences")
    for ref in refs if isinstance(refs, list) else []:
        if isinstance(ref, dict) and ref.get("controller") is True:
            kind = ref.get("kind")
            return kind if isinstance(kind, str) else None
    return None


def judged_elsewhere(kind: str, meta: dict[str, Any]) -> bool:
    """Whether the object's controller is audited instead of it."""
    owner = _controller_kind(meta)
    if owner is None:
        return False
    if kind == "Pod":
        return owner in POD_CONTROLLERS
    return ROLLED_UP.get(kind) == owner


def _uid(item: Any) -> str | None:
    meta = item.get("metadata") if isinstance(item, dict) else None
    uid = meta.get("uid") if isinstance(meta, dict) else None
    return uid if isinstance(uid, str) else None


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# payloads tried, in order, for one that parses (or fails) as the real one did
_STAND_INS: tuple[str | None, ...] = (_b64('{"auths":{}}'), _b64("[]"), _b64("{}"),
                                      _b64("not json"), "!", None)


def _stand_in(type_: str, problem: str | None) -> dict[str, str] | None:
    key = ".dockerconfigjson" if type_ == SECRET_KINDS[0] else ".dockercfg"
    for payload in _STAND_INS:
        data = {key: payload} if payload is not None else None
        obj = {"type": type_, "data": data} if data else {"type": type_}
        if pull_secret_problem(obj, type_) == problem:
            return data
    return None


def _secret(item: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """A Secret without its values (see the module notes)."""
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED, None)
    type_ = item.get("type")
    kept: dict[str, Any] = {"apiVersion": item["apiVersion"], "kind": item["kind"],
                            "metadata": meta}
    if isinstance(type_, str):
        kept["type"] = type_
        if type_ in SECRET_KINDS:
            data = _stand_in(type_, pull_secret_problem(item, type_))
            if data is not None:
                kept["data"] = data
    return kept


def prepare(item: Any, api_version: str, kind: str) -> dict[str, Any] | None:
    """A list item ready for the rules, or None when it is not judged here."""
    if not isinstance(item, dict):
        return None
    meta = item.get("metadata")
    if not isinstance(meta, dict):
        meta = item["metadata"] = {}
    if judged_elsewhere(kind, meta):
        return None
    return as_judged(item, api_version, kind)


def as_judged(item: dict[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    """An API object as the rules see it (changed in place): apiVersion and kind
    set, status and managedFields dropped, a Secret without its values. The
    admission webhook shares it."""
    meta = item.get("metadata")
    if not isinstance(meta, dict):
        meta = item["metadata"] = {}
    if not isinstance(item.get("apiVersion"), str):
        item["apiVersion"] = api_version
    if not isinstance(item.get("kind"), str):
        item["kind"] = kind
    item.pop("status", None)
    meta.pop("managedFields", None)
    if kind == "Secret":
        return _secret(item, meta)
    return item


# ---------------------------------------------------------------- reading

@dataclass(slots=True)
class Page:
    """One list page, ready for ``Engine.add_file(page.loaded, page.source_input)``."""

    loaded: LoadedFile
    source_input: tuple[str, str]


@dataclass(slots=True)
class ReadSummary:
    listed: list[str] = field(default_factory=list)  # resources read completely
    skipped_owned: int = 0
    objects: int = 0


class ClusterReader:
    """Discovers and lists the audit's kinds, at most ``max_requests`` GETs at a time."""

    def __init__(self, conn: Connection, *, max_requests: int = 4, page_size: int = 500) -> None:
        self.conn = conn
        self.max_requests = max(1, max_requests)
        self.page_size = page_size
        self.summary = ReadSummary()
        self._stop = threading.Event()
        self._fatal: RequestFailed | None = None
        self._lock = threading.Lock()

    @property
    def fatal(self) -> RequestFailed | None:
        """The error that stopped the reading (credentials rejected, server
        unreachable), if one did."""
        return self._fatal

    def _error(self, message: str) -> InputError:
        return InputError(self.conn.where, None, message)

    def _fatal_once(self, exc: RequestFailed) -> list[InputError]:
        """A fatal error stops the reading; only the first one is reported."""
        with self._lock:
            first = self._fatal is None
            if first:
                self._fatal = exc
            self._stop.set()
        return [self._error(str(exc))] if first else []

    def _list_gap(self, spec: KindSpec, exc: RequestFailed) -> list[InputError]:
        if exc.fatal:
            return self._fatal_once(exc)
        return [self._error(f"cannot list {spec.resource}: {exc}")]

    def _discovery_gap(self, what: str, specs: list[KindSpec], exc: RequestFailed
                       ) -> list[InputError]:
        if exc.fatal:
            return self._fatal_once(exc)
        names = ", ".join(s.resource for s in specs)
        return [self._error(f"cannot discover {what}: {exc}; not read: {names}")]

    # ------------------------------------------------------------ discovery

    def discover(self, specs: tuple[KindSpec, ...], pool: ThreadPoolExecutor
                 ) -> tuple[list[Target], list[InputError]]:
        targets: list[Target] = []
        errors: list[InputError] = []
        by_group: dict[str, list[KindSpec]] = {}
        for s in specs:
            by_group.setdefault(s.group, []).append(s)
        group_versions: dict[str, list[str]] = {"": ["v1"]}
        if any(g for g in by_group):
            try:
                group_versions.update(_group_versions(self.conn.get("/apis")))
            except RequestFailed as exc:
                errors.extend(self._discovery_gap("the API groups (/apis)", [
                    s for g, ss in by_group.items() if g for s in ss], exc))
                by_group = {"": by_group.get("", [])}
        jobs = {g: pool.submit(self._discover_group, g, group_versions.get(g, []), ss)
                for g, ss in by_group.items() if ss}
        for job in jobs.values():
            found, errs = job.result()
            targets.extend(found)
            errors.extend(errs)
        order = {s: i for i, s in enumerate(specs)}
        targets.sort(key=lambda t: order[t.spec])
        return targets, errors

    def _discover_group(self, group: str, versions: list[str], specs: list[KindSpec]
                        ) -> tuple[list[Target], list[InputError]]:
        targets: list[Target] = []
        errors: list[InputError] = []
        missing = list(specs)
        for gv in versions:
            if not missing or self._stop.is_set():
                break
            try:
                served = _served(self.conn.get(f"/api/{gv}" if not group else f"/apis/{gv}"))
            except RequestFailed as exc:
                if exc.status == 404:
                    continue
                return targets, errors + self._discovery_gap(gv, missing, exc)
            for s in list(missing):
                entry = served.get(s.kind)
                if entry is not None:
                    missing.remove(s)
                    targets.append(Target(s, gv, entry["name"], entry.get("namespaced") is True))
        for s in missing:
            if not s.optional and not self._stop.is_set():
                errors.append(self._error(f"cannot list {s.resource}: 404 Not Found: the API "
                                          f"server does not serve {s.kind}"))
        return targets, errors

    # ------------------------------------------------------------ listing

    def read(self, specs: tuple[KindSpec, ...] = AUDIT_KINDS, namespace: str | None = None
             ) -> Iterator[Page | InputError]:
        """Every page of every kind, in arrival order, then the coverage gaps."""
        events: queue.Queue[Page | InputError | Target] = queue.Queue()
        pool = ThreadPoolExecutor(max_workers=self.max_requests,
                                  thread_name_prefix="kubeproof-list")
        try:
            targets, errors = self.discover(specs, pool)
            yield from errors
            if namespace:
                targets = [t for t in targets
                           if t.namespaced or t.spec.kind in NARROWED_CLUSTER_KINDS]
            for t in targets:
                pool.submit(self._list_into, t, namespace, events)
            done: set[Target] = set()
            while len(done) < len(targets):
                event = events.get()
                if isinstance(event, Target):
                    done.add(event)
                else:
                    yield event
            if self._stop.is_set():
                unread = [t.spec.resource for t in targets
                          if t.spec.resource not in self.summary.listed]
                if unread:
                    yield self._error(f"audit incomplete, not read: {', '.join(unread)}")
        finally:
            self._stop.set()
            pool.shutdown(wait=True, cancel_futures=True)

    def _list_into(self, target: Target, namespace: str | None,
                   events: queue.Queue[Page | InputError | Target]) -> None:
        try:
            for page in self._pages(target, namespace):
                events.put(page)
            with self._lock:
                self.summary.listed.append(target.spec.resource)
        except RequestFailed as exc:
            for err in self._list_gap(target.spec, exc):
                events.put(err)
        except _Stopped:
            pass
        except Exception as exc:  # a bug here must not hang or lose the audit
            events.put(self._error(f"internal error listing {target.spec.resource}: "
                                   f"{type(exc).__name__} (please report it)"))
        finally:
            events.put(target)

    def _pages(self, target: Target, namespace: str | None) -> Iterator[Page]:
        query = {"limit": str(self.page_size)}
        path = target.path(namespace)
        if namespace and target.spec.kind == "Namespace":
            query["fieldSelector"] = f"metadata.name={namespace}"
        token: str | None = None
        restarted = False
        delivered: set[str] = set()  # uids, to skip them if the list has to restart
        page_no = 0
        while True:
            if self._stop.is_set():
                raise _Stopped
            try:
                data = self.conn.get(path, {**query, "continue": token} if token else query)
            except RequestFailed as exc:
                if exc.status == 410 and token and not restarted:
                    # the continue token expired: list again, skipping what was delivered
                    restarted, token = True, None
                    continue
                raise
            if not isinstance(data, dict):
                raise RequestFailed(200, "the answer is not a list")
            items = data.get("items")
            api_version = data.get("apiVersion")
            yield self._page(target, items if isinstance(items, list) else [],
                             api_version if isinstance(api_version, str) else target.api_version,
                             page_no, delivered, restarted)
            page_no += 1
            meta = data.get("metadata")
            token = meta.get("continue") if isinstance(meta, dict) else None
            if not token:
                return

    def _page(self, target: Target, items: list[Any], api_version: str, page_no: int,
              delivered: set[str], restarted: bool) -> Page:
        label = self.conn.label
        kind = target.spec.kind
        resource = target.spec.resource
        loaded = LoadedFile(path=f"cluster/{label}/{resource}", source=SOURCE, locator=LOCATOR)
        skipped = 0
        for item in items:
            uid = _uid(item)
            if uid is not None:
                if restarted and uid in delivered:
                    continue
                delivered.add(uid)
            obj = prepare(item, api_version, kind)
            if obj is None:
                skipped += 1
                continue
            meta = obj["metadata"]
            ns = meta.get("namespace")
            name = meta.get("name")
            origin = Origin(object_file(label, kind, ns if isinstance(ns, str) else None,
                                        str(name)),
                            len(loaded.objects), 1, 1, SOURCE, LOCATOR)
            loaded.objects.append(Located(Resource(obj, origin), None, 0))
        with self._lock:
            self.summary.skipped_owned += skipped
            self.summary.objects += len(loaded.objects)
        return Page(loaded, (SOURCE, f"{label}/{resource}#{page_no}"))
