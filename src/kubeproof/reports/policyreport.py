"""PolicyReports: ``wgpolicyk8s.io/v1alpha2`` ``PolicyReport`` and
``ClusterPolicyReport`` objects, so the tools a cluster already runs (Policy
Reporter and its UI, Kyverno's reporting, ``kubectl get polr``) show kubeproof's
findings beside the others.

A YAML stream, one document per report, ready for ``kubectl apply -f``::

    apiVersion: wgpolicyk8s.io/v1alpha2
    kind: PolicyReport
    metadata:
      name: kubeproof-shop
      namespace: shop
      labels: {app.kubernetes.io/managed-by: kubeproof}
    results:
    - policy: pss-privileged            # the rule's name
      rule: KP0802                      # its code
      result: fail
      severity: critical                # critical, high, medium, low, info
      category: Pod security            # the practice
      message: ...
      source: kubeproof
      scored: true
      timestamp: {seconds: 1733337600, nanos: 0}
      resources: [{apiVersion: apps/v1, kind: Deployment, namespace: shop, name: web}]
      properties: {file, line, column, path, fingerprint[, container, renderedFrom]}
    summary: {pass: 0, fail: 1, warn: 0, error: 0, skip: 0}

One ``PolicyReport`` per namespace with findings (``kubeproof-<namespace>``, in
that namespace) and one ``ClusterPolicyReport`` (``kubeproof-cluster``) for
cluster-scoped objects, findings without a namespace, namespaces that are not
valid names (a template placeholder) and input errors (``result: error``,
policy ``input-error``). A report holds at most :data:`MAX_RESULTS` results: past
that it continues in ``kubeproof-<namespace>-2``, ``-3``... so no object nears
the API server's request size limit.

Why a stream of documents and not a ``v1 List``: ``kubectl apply -f``, ``kubectl
create``, kustomize ``resources`` and GitOps tools take a multi-document YAML as
it is and apply each report on its own, while a ``List`` is a client-side
wrapper some of them refuse; ``kubectl get`` of the applied reports gives the
same objects back.

Severities follow the ``v1alpha2`` CRD Kyverno installs (critical, high, medium,
low, info); the older wg-policy-prototypes CRD accepted only high, medium and
low. The timestamp is the run's time (``timestamp``, seconds since the epoch,
for reproducible output; else ``SOURCE_DATE_EPOCH``; else now). Output is sorted
(namespaces, then rule, object, file and position) so two runs over the same
input differ only in their timestamps. Messages are the findings' messages
(secret values already redacted, control characters already escaped by
``model.short_message``); every string is escaped again here and bounded to
:data:`MAX_TEXT` characters, so a hostile file cannot break or bloat a report.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import yaml

from kubeproof.model import PRACTICES, Finding, InputError
from kubeproof.util.terminal import safe

if TYPE_CHECKING:
    from kubeproof.core.result import ScanResult

API_VERSION = "wgpolicyk8s.io/v1alpha2"
SOURCE = "kubeproof"
LABELS = {"app.kubernetes.io/managed-by": "kubeproof"}
PREFIX = "kubeproof"
CLUSTER_NAME = f"{PREFIX}-cluster"
MAX_RESULTS = 1000  # results in one report object; more continue in -2, -3...
MAX_TEXT = 1024  # characters of one message or property value
RESULTS = ("pass", "fail", "warn", "error", "skip")

# RFC 1123 label: what a namespace name must be
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

try:  # libyaml's emitter where present (it is where yamlparse's parser is)
    _Dumper: Any = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - pure-Python PyYAML
    _Dumper = yaml.SafeDumper


def valid_namespace(namespace: str | None) -> bool:
    """Whether ``namespace`` can name a namespace (an RFC 1123 label, ≤ 63)."""
    return bool(namespace) and len(namespace or "") <= 63 \
        and _DNS_LABEL.match(namespace or "") is not None


def _text(value: object) -> str:
    """A string fit for a report: control and bidi characters escaped, bounded."""
    text = safe(value)
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT - 1] + "…"
    return text


def _timestamp(timestamp: float | None) -> dict[str, int]:
    if timestamp is None:
        epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
        timestamp = float(epoch) if epoch.isdigit() else time.time()
    seconds = math.floor(timestamp)
    nanos = round((timestamp - seconds) * 1e9)
    if nanos >= 1_000_000_000:  # .9999999999 rounds up
        seconds, nanos = seconds + 1, 0
    return {"seconds": seconds, "nanos": nanos}


def _finding_key(f: Finding) -> tuple[Any, ...]:
    return (f.rule.name, f.rule.code, f.kind, f.name, f.file, f.line, f.column, f.path,
            f.container or "", f.message)


def _result(f: Finding, stamp: dict[str, int]) -> dict[str, Any]:
    properties = {"file": _text(f.file), "line": str(f.line), "column": str(f.column),
                  "path": _text(f.path), "fingerprint": f.fingerprint()}
    if f.container:
        properties["container"] = _text(f.container)
    if f.rendered_from:
        properties["renderedFrom"] = _text(f.rendered_from)
    out: dict[str, Any] = {
        "policy": f.rule.name,
        "rule": f.rule.code,
        "result": "fail",
        "severity": f.severity.label,
        "category": PRACTICES.get(f.rule.practice, str(f.rule.practice)),
        "message": _text(f.message),
        "source": SOURCE,
        "scored": True,
        "timestamp": dict(stamp),
        "properties": properties,
    }
    if f.kind or f.name:
        ref = {"apiVersion": _text(f.api_version), "kind": _text(f.kind), "name": _text(f.name)}
        if f.namespace:
            ref["namespace"] = _text(f.namespace)
        out["resources"] = [ref]
    return out


def _error(e: InputError, stamp: dict[str, int]) -> dict[str, Any]:
    properties = {"file": _text(e.file)}
    if e.line is not None:
        properties["line"] = str(e.line)
    return {"policy": "input-error", "result": "error", "message": _text(e.message),
            "source": SOURCE, "scored": False, "timestamp": dict(stamp),
            "properties": properties}


def _summary(results: Iterable[dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(RESULTS, 0)
    for r in results:
        counts[r["result"]] += 1
    return counts


def _objects(kind: str, namespace: str | None, results: list[dict[str, Any]]
             ) -> Iterator[dict[str, Any]]:
    base = f"{PREFIX}-{namespace}" if namespace else CLUSTER_NAME
    for start in range(0, max(len(results), 1), MAX_RESULTS):
        chunk = results[start:start + MAX_RESULTS]
        part = start // MAX_RESULTS + 1
        metadata: dict[str, Any] = {"name": base if part == 1 else f"{base}-{part}"}
        if namespace:
            metadata["namespace"] = namespace
        metadata["labels"] = dict(LABELS)
        yield {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata,
               "results": chunk, "summary": _summary(chunk)}


def reports(result: ScanResult, *, timestamp: float | None = None) -> list[dict[str, Any]]:
    """The report objects: the namespaces' ``PolicyReport`` objects in name
    order, then the ``ClusterPolicyReport``, always there (empty when nothing
    is cluster-wide: applied, it clears what an earlier run reported)."""
    stamp = _timestamp(timestamp)
    by_namespace: dict[str, list[Finding]] = {}
    cluster: list[Finding] = []
    for f in result.findings:
        if valid_namespace(f.namespace):
            by_namespace.setdefault(f.namespace or "", []).append(f)
        else:
            cluster.append(f)
    out: list[dict[str, Any]] = []
    for namespace in sorted(by_namespace):
        results = [_result(f, stamp) for f in sorted(by_namespace[namespace], key=_finding_key)]
        out.extend(_objects("PolicyReport", namespace, results))
    cluster_results = [_result(f, stamp) for f in sorted(
        cluster, key=lambda f: (f.namespace or "", *_finding_key(f)))]
    cluster_results += [_error(e, stamp) for e in sorted(
        result.errors, key=lambda e: (e.file, e.line or 0, e.message))]
    out.extend(_objects("ClusterPolicyReport", None, cluster_results))
    return out


def render(result: ScanResult, *, tool_version: str, color: bool = False,
           timestamp: float | None = None) -> str:
    """The reports as a multi-document YAML stream (``tool_version`` and
    ``color`` are not used)."""
    return yaml.dump_all(reports(result, timestamp=timestamp), Dumper=_Dumper,
                         sort_keys=False, explicit_start=True, allow_unicode=True,
                         width=1_000_000, default_flow_style=False)
