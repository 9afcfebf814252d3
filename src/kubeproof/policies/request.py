"""The admission request the API server would send for a
:class:`~kubeproof.policies.model.Subject`: what matching reads
(:class:`~kubeproof.policies.match.Request`) and the values CEL sees
(``object``, ``oldObject``, ``request``, ``namespaceObject``), prepared once
per subject for every policy: :func:`prepared` keeps the last one, so the
policies of a run evaluated one after another on the same subject share it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubeproof.policies.cel_values import jsonish
from kubeproof.policies.match import Request
from kubeproof.policies.model import Lookup, Subject
from kubeproof.policies.resources import resource_of


def labels_of(obj: Any) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        return {}
    metadata = obj.get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, Mapping) else None
    return labels if isinstance(labels, Mapping) else {}


def meta_string(obj: Any, key: str) -> str:
    if not isinstance(obj, Mapping):
        return ""
    metadata = obj.get("metadata")
    value = metadata.get(key) if isinstance(metadata, Mapping) else None
    return value if isinstance(value, str) else ""


@dataclass(slots=True)
class Admission:
    """One subject prepared for every policy: the request, the bindings CEL sees."""

    request: Request
    bindings: dict[str, Any]
    namespace_obj: Mapping[str, Any] | None


def prepare(subject: Subject, lookup: Lookup) -> Admission:
    """The admission request of ``subject`` (names, kind, labels, namespace)."""
    obj = subject.obj if isinstance(subject.obj, Mapping) else None
    old = subject.old_obj if isinstance(subject.old_obj, Mapping) else None
    if subject.operation == "DELETE":
        obj = None
    ref = obj if obj is not None else old
    info = resource_of(ref)
    namespace = meta_string(ref, "namespace") if info.namespaced else ""
    name = meta_string(ref, "name")
    cache: dict[str, Mapping[str, Any] | None] = {}

    def namespace_of(ns: str) -> Mapping[str, Any] | None:
        if ns not in cache:
            found: Any = None
            given = subject.namespace_obj
            if isinstance(given, Mapping) and meta_string(given, "name") in ("", ns):
                found = given
            else:
                try:
                    found = lookup.namespace(ns)
                except (KeyError, ValueError, TypeError, OSError):
                    found = None
            cache[ns] = found if isinstance(found, Mapping) else None
        return cache[ns]

    def namespace_labels(ns: str) -> Mapping[str, Any] | None:
        return labels_of(namespace_of(ns))

    operation = subject.operation if isinstance(subject.operation, str) else "CREATE"
    request = Request(operation=operation, group=info.group, version=info.version,
                      resource=info.resource, subresource="", name=name,
                      namespace=namespace, namespaced=info.namespaced, labels=labels_of(ref),
                      old_labels=labels_of(old) if old is not None else None,
                      namespace_labels=namespace_labels)
    namespace_obj = namespace_of(namespace) if namespace else None
    user_info = jsonish(subject.user_info) if isinstance(subject.user_info, Mapping) else {}
    bindings = {
        "object": jsonish(obj),
        "oldObject": jsonish(old),
        "request": {
            "uid": "", "kind": info.request_kind(), "resource": info.request_resource(),
            "subResource": "", "requestKind": info.request_kind(),
            "requestResource": info.request_resource(), "requestSubResource": "",
            "name": name, "namespace": namespace, "operation": operation,
            "userInfo": user_info, "dryRun": bool(subject.dry_run), "options": None,
        },
        "params": None,
        "namespaceObject": jsonish(namespace_obj),
        "authorizer": None,
        "variables": {},
    }
    return Admission(request, bindings, namespace_obj)


_last: tuple[Subject, Lookup, Admission] | None = None


def prepared(subject: Subject, lookup: Lookup) -> Admission:
    """:func:`prepare`, reusing the last answer for the same subject and
    lookup (the same objects: one scan hands every policy the same Subject)."""
    global _last
    last = _last
    if last is not None and last[0] is subject and last[1] is lookup:
        return last[2]
    admission = prepare(subject, lookup)
    _last = (subject, lookup, admission)
    return admission
