"""``kubeproof audit --write-reports``: the audit's PolicyReports written to the
cluster it judged, so Policy Reporter, Kyverno's reporting and ``kubectl get
polr`` show them beside the cluster's other reports.

The objects are those of ``--format policyreport`` (:mod:`.policyreport`: one
``PolicyReport`` ``kubeproof-<namespace>`` per namespace with findings, the
``ClusterPolicyReport`` ``kubeproof-cluster``, labelled
``app.kubernetes.io/managed-by: kubeproof``), re-cut here by size as well as by
count (below).

How they are written: server-side apply, one ``PATCH`` per report with
``Content-Type: application/apply-patch+yaml``, ``fieldManager=kubeproof`` and
``force=true``. Why apply rather than get-then-create/replace: one request
creates or updates, with no read-modify-write window (two audits racing end with
the last one's report, never a 409 loop or a duplicate), and API servers accept
it for custom resources since 1.16 (GA in 1.22), whatever CRD version is
installed. ``force`` because a report named ``kubeproof-*`` is kubeproof's: a
hand edit (``kubectl edit``) is overwritten by the next audit, not a conflict.
The lists of the CRD carry no ``x-kubernetes-list-type``, so ``results`` is
atomic: an apply replaces the whole list, and a fixed object's result is gone.
RBAC: an apply needs ``patch``, and ``create`` when the report is new (the API
server checks both); finding earlier reports needs ``list``, removing them
``delete``, all on ``policyreports`` and ``clusterpolicyreports`` in
``wgpolicyk8s.io``. A 403 stops the writing with one line naming the verb and
the resource.

Reports kubeproof wrote earlier and this audit no longer produces (a namespace
whose findings are all fixed, a continuation ``-2`` no longer needed) are
deleted, not emptied: a namespace without findings then has no report, exactly
as ``--format policyreport`` would write it, and no empty objects pile up as
namespaces come and go. Only objects listed with the managed-by label *and*
named ``kubeproof-...`` are candidates, and each is deleted with preconditions
on the ``uid`` and ``resourceVersion`` it was listed with, so a report that
another run rewrote in between is left alone. Nothing is deleted when the
audit was incomplete (kinds it could not list) or when a report could not be
written: an earlier report is better evidence than a gap.

With ``--namespace`` only that namespace's reports are written and cleaned;
the ``ClusterPolicyReport`` is the whole cluster's and is left as it is (a
narrowed audit does not see the cluster).

Size: etcd refuses a value over 1.5 MiB (``--max-request-bytes``) and the API
server a request body over 3 MiB; a report is cut into ``-2``, ``-3``... parts
of at most :data:`MAX_RESULTS` results and :data:`MAX_OBJECT_BYTES` bytes of JSON
(headroom for the metadata the server adds). A single result that could not fit
(impossible with :mod:`.policyreport`'s bounded strings, checked anyway) ends
the writing before anything is sent.

Severities: Kyverno's ``v1alpha2`` CRD takes critical, high, medium, low and
info; the older one of kubernetes-sigs/wg-policy-prototypes only high, medium
and low. When the server refuses a report for its severities (a 422 naming
``severity``), it is applied again with critical as high and info as low, the
real severity kept in the result's ``properties.severity``, and one warning
says so: the findings reach the cluster, and nothing about them is lost.

Secret values: the results are :mod:`.policyreport`'s (rules name keys, never
values, and an audit drops Secret data on arrival); nothing else is sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson

from kubeproof.reports.policyreport import (
    API_VERSION,
    CLUSTER_NAME,
    LABELS,
    MAX_RESULTS,
    PREFIX,
    RESULTS,
    reports,
)
from kubeproof.sources.cluster import Connection, RequestFailed

if TYPE_CHECKING:
    from kubeproof.core.result import ScanResult

GROUP = API_VERSION.split("/")[0]
API_PATH = f"/apis/{API_VERSION}"
FIELD_MANAGER = "kubeproof"
MAX_OBJECT_BYTES = 1024 * 1024  # JSON of one report; etcd's limit is 1.5 MiB
PAGE_SIZE = 500
MAX_PAGES = 10_000  # a server whose continue tokens never end stops here
SELECTOR = ",".join(f"{k}={v}" for k, v in LABELS.items())
PLURALS = {"PolicyReport": "policyreports", "ClusterPolicyReport": "clusterpolicyreports"}
VERBS_NEEDED = "list, create, patch and delete"
MISSING_CRD = (f"the cluster has no {API_VERSION} PolicyReport CRD: install it (kubectl apply "
               "-f https://raw.githubusercontent.com/kyverno/kyverno/main/config/crds/"
               "policyreport/wgpolicyk8s.io_policyreports.yaml and "
               "wgpolicyk8s.io_clusterpolicyreports.yaml beside it; Kyverno brings both) "
               "or drop --write-reports")


class WriteFailed(Exception):
    """The writing stopped; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class ReportRef:
    """One report object in the cluster."""

    kind: str
    namespace: str | None
    name: str

    @property
    def resource(self) -> str:
        return f"{PLURALS[self.kind]}.{GROUP}"

    def path(self) -> str:
        plural = PLURALS[self.kind]
        if self.namespace:
            return f"{API_PATH}/namespaces/{quote(self.namespace, safe='')}/{plural}/" \
                   f"{quote(self.name, safe='')}"
        return f"{API_PATH}/{plural}/{quote(self.name, safe='')}"

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


@dataclass(slots=True)
class Written:
    """What ``write_reports`` did: reports applied and deleted, and the
    problems that did not stop it (one line each)."""

    applied: list[ReportRef] = field(default_factory=list)
    deleted: list[ReportRef] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    kept_stale: list[ReportRef] = field(default_factory=list)  # not deleted: incomplete run


# ---------------------------------------------------------------- the objects

def _size(value: Any) -> int:
    return len(orjson.dumps(value))


def _summary(results: list[dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(RESULTS, 0)
    for r in results:
        counts[r["result"]] += 1
    return counts


def _envelope(kind: str, namespace: str | None, name: str, results: list[dict[str, Any]]
              ) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    metadata["labels"] = dict(LABELS)
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata,
            "results": results, "summary": _summary(results)}


def _parts(kind: str, namespace: str | None, results: list[dict[str, Any]]
           ) -> Iterator[dict[str, Any]]:
    """The report objects of one namespace (or the cluster): ``base``, then
    ``base-2``... each within :data:`MAX_RESULTS` and :data:`MAX_OBJECT_BYTES`."""
    base = f"{PREFIX}-{namespace}" if namespace else CLUSTER_NAME
    # the envelope of the longest name a part can have, with the largest summary
    room = MAX_OBJECT_BYTES - _size(_envelope(kind, namespace, f"{base}-{len(results) + 1}",
                                              [])) - 64
    chunk: list[dict[str, Any]] = []
    used = 0
    part = 1
    for r in results:
        size = _size(r) + 1  # and its comma
        if size > room:
            raise WriteFailed(f"a result of {base} ({r.get('rule') or r.get('policy')}) is "
                              f"{size} bytes, more than a report object can hold: "
                              "nothing written")
        if chunk and (len(chunk) >= MAX_RESULTS or used + size > room):
            yield _envelope(kind, namespace, base if part == 1 else f"{base}-{part}", chunk)
            chunk, used, part = [], 0, part + 1
        chunk.append(r)
        used += size
    yield _envelope(kind, namespace, base if part == 1 else f"{base}-{part}", chunk)


def planned(result: ScanResult, *, namespace: str | None = None,
            timestamp: float | None = None) -> list[dict[str, Any]]:
    """The report objects an audit writes: the namespaces' in name order, then
    the cluster's (none with ``namespace``: only that namespace's reports)."""
    groups: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
    for obj in reports(result, timestamp=timestamp):
        key = (obj["kind"], obj["metadata"].get("namespace"))
        groups.setdefault(key, []).extend(obj["results"])
    out: list[dict[str, Any]] = []
    for (kind, ns), results in groups.items():
        if namespace is not None and ns != namespace:
            continue
        out.extend(_parts(kind, ns, results))
    return out


def _ref(obj: dict[str, Any]) -> ReportRef:
    meta = obj["metadata"]
    return ReportRef(obj["kind"], meta.get("namespace"), meta["name"])


# ---------------------------------------------------------------- the requests

def _forbidden(verb: str, ref: ReportRef | None, resource: str, namespace: str | None,
               exc: RequestFailed) -> WriteFailed:
    what = f'{resource} "{ref.name}"' if ref else resource
    where = f' in namespace "{namespace}"' if namespace else " at the cluster scope"
    return WriteFailed(f"cannot {verb} {what}{where}: {exc.status} Forbidden "
                       f"(--write-reports needs {VERBS_NEEDED} on policyreports and "
                       f"clusterpolicyreports in {GROUP})")


def _check_crd(conn: Connection) -> None:
    """Both report kinds are served (the CRDs are installed), else :data:`MISSING_CRD`."""
    try:
        doc = conn.get(API_PATH)
    except RequestFailed as exc:
        if exc.status == 404:
            raise WriteFailed(MISSING_CRD) from None
        raise WriteFailed(f"cannot discover {API_VERSION}: {exc}") from None
    resources = doc.get("resources") if isinstance(doc, dict) else None
    served = {(r.get("name"), r.get("namespaced")) for r in resources or []
              if isinstance(r, dict)}
    if ("policyreports", True) not in served or ("clusterpolicyreports", False) not in served:
        raise WriteFailed(MISSING_CRD)


def _listed(conn: Connection, kind: str, namespace: str | None) -> list[dict[str, Any]]:
    """kubeproof's reports of ``kind`` now in the cluster (metadata only)."""
    plural = PLURALS[kind]
    path = f"{API_PATH}/namespaces/{quote(namespace, safe='')}/{plural}" if namespace \
        else f"{API_PATH}/{plural}"
    query = {"labelSelector": SELECTOR, "limit": str(PAGE_SIZE)}
    found: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(MAX_PAGES):
        try:
            page = conn.get(path, {**query, "continue": token} if token else query)
        except RequestFailed as exc:
            if exc.status == 403:
                raise _forbidden("list", None, f"{plural}.{GROUP}", namespace, exc) from None
            raise WriteFailed(f"cannot list {plural}.{GROUP}: {exc}") from None
        items = page.get("items") if isinstance(page, dict) else None
        for item in items if isinstance(items, list) else []:
            meta = item.get("metadata") if isinstance(item, dict) else None
            if isinstance(meta, dict) and isinstance(meta.get("name"), str) \
                    and isinstance(meta.get("namespace"), str) == (kind == "PolicyReport"):
                found.append({"kind": kind, "metadata": meta})
        meta = page.get("metadata") if isinstance(page, dict) else None
        token = meta.get("continue") if isinstance(meta, dict) else None
        if not token or not isinstance(token, str):
            return found
    raise WriteFailed(f"cannot list {plural}.{GROUP}: more than {MAX_PAGES} pages")


# the older CRD's severities for the two it lacks
OLD_CRD_SEVERITY = {"critical": "high", "info": "low"}
OLD_CRD_WARNING = ("the cluster's PolicyReport CRD takes only high, medium and low severities "
                   "(the older wg-policy-prototypes CRD): critical written as high, info as "
                   "low, each result's own severity in properties.severity")


def _old_severities(obj: dict[str, Any]) -> dict[str, Any] | None:
    """``obj`` for the older CRD, or None when no severity needs changing."""
    results = []
    changed = False
    for r in obj["results"]:
        severity = r.get("severity")
        if severity in OLD_CRD_SEVERITY:
            r = {**r, "severity": OLD_CRD_SEVERITY[severity],
                 "properties": {**r.get("properties", {}), "severity": severity}}
            changed = True
        results.append(r)
    return {**obj, "results": results} if changed else None


def _apply(conn: Connection, obj: dict[str, Any]) -> str | None:
    """Apply one report: None, or the problem that did not stop the writing
    (``OLD_CRD_WARNING`` when it went in with the older CRD's severities)."""
    ref = _ref(obj)
    try:
        try:
            conn.send("PATCH", ref.path(), {"fieldManager": FIELD_MANAGER, "force": "true"},
                      body=orjson.dumps(obj), content_type="application/apply-patch+yaml")
        except RequestFailed as exc:
            older = _old_severities(obj) if exc.status == 422 and "severity" in exc.detail \
                else None
            if older is None:
                raise
            conn.send("PATCH", ref.path(), {"fieldManager": FIELD_MANAGER, "force": "true"},
                      body=orjson.dumps(older), content_type="application/apply-patch+yaml")
            return OLD_CRD_WARNING
    except RequestFailed as exc:
        if exc.status == 403:
            # an apply that creates is also authorised as create: the server's message says
            verb = "create" if "cannot create" in exc.detail else "patch"
            raise _forbidden(verb, ref, ref.resource, ref.namespace, exc) from None
        if exc.fatal or exc.status == 401:
            raise WriteFailed(f"cannot write {ref}: {exc}") from None
        return f"cannot write {ref}: {exc}"
    return None


def _delete(conn: Connection, ref: ReportRef, meta: dict[str, Any]) -> bool:
    """Delete one stale report if it is still the one listed; whether it was."""
    pre = {k: meta[k] for k in ("uid", "resourceVersion") if isinstance(meta.get(k), str)}
    body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": pre}
    try:
        conn.send("DELETE", ref.path(), body=body)
    except RequestFailed as exc:
        if exc.status in (404, 409):  # gone already, or rewritten since it was listed
            return False
        if exc.status == 403:
            raise _forbidden("delete", ref, ref.resource, ref.namespace, exc) from None
        if exc.fatal:
            raise WriteFailed(f"cannot delete {ref}: {exc}") from None
        raise
    return True


def write_reports(conn: Connection, result: ScanResult, *, namespace: str | None = None,
                  timestamp: float | None = None, max_requests: int = 4) -> Written:
    """Apply the audit's reports to the cluster and delete kubeproof's stale ones.

    Raises :class:`WriteFailed` (one line) when the writing had to stop: no
    CRD, 403, the server unreachable, a report too large. Other failures of
    one report are in ``Written.problems`` and the others are still written.
    Reports are applied ``max_requests`` at a time (each apply is independent).
    """
    objects = planned(result, namespace=namespace, timestamp=timestamp)  # may refuse: first
    _check_crd(conn)
    kinds = ("PolicyReport",) if namespace else ("PolicyReport", "ClusterPolicyReport")
    existing = [item for kind in kinds for item in _listed(conn, kind, namespace)]
    written = Written()
    pool = ThreadPoolExecutor(max_workers=max(1, max_requests),
                              thread_name_prefix="kubeproof-report")
    try:
        for obj, problem in zip(objects, pool.map(lambda o: _apply(conn, o), objects),
                                strict=True):
            if problem == OLD_CRD_WARNING:
                if problem not in written.warnings:
                    written.warnings.append(problem)
            elif problem:
                written.problems.append(problem)
                continue
            written.applied.append(_ref(obj))
    finally:  # after a WriteFailed, what was not sent yet is not sent
        pool.shutdown(wait=True, cancel_futures=True)
    wanted = {_ref(o) for o in objects}
    stale = []
    for item in existing:
        meta = item["metadata"]
        ref = ReportRef(item["kind"], meta.get("namespace"), meta["name"])
        if ref not in wanted and ref.name.startswith(f"{PREFIX}-"):
            stale.append((ref, meta))
    if written.problems or result.errors:
        written.kept_stale = [ref for ref, _ in stale]
        return written
    for ref, meta in stale:
        try:
            if _delete(conn, ref, meta):
                written.deleted.append(ref)
        except RequestFailed as exc:
            written.problems.append(f"cannot delete {ref}: {exc}")
    return written
