"""What the fake API server (``fakeapi.py``) needs to write custom resources as
a real one does, kept apart from the serving: label selectors, field ownership
(``metadata.managedFields``) with server-side apply's merge and conflicts, and
the ``wgpolicyk8s.io/v1alpha2`` CRD's schema (what it rejects, what it prunes).

Field ownership is tracked at the granularity of a custom resource whose
schema makes every top-level field atomic (the PolicyReport CRD's lists carry
no ``x-kubernetes-list-type``, so they are atomic there too): the top-level
fields other than ``apiVersion``/``kind``/``metadata``/``status``, and each
label and annotation key. Real server-side apply goes deeper into maps; for
the objects these tests write the outcome is the same:

- an apply by manager M sets the fields of M's configuration, takes them over
  from other managers when their values agree (shared) or with ``force=true``,
  and removes fields M applied before and no longer applies (unless someone
  else owns them); without ``force`` a differing value owned by another
  manager is a 409 ``Conflict`` naming the manager and the field;
- an update (create, replace, merge patch) gives the fields whose values
  changed to the updating manager.
"""

from __future__ import annotations

import copy
import re
from typing import Any

Owners = list[tuple[str, str, set[str]]]  # (manager, operation, field paths)

MAX_BODY = 3 * 1024 * 1024  # the API server's request body limit (413 above it)
MAX_STORED = 1572864  # etcd's default --max-request-bytes (1.5 MiB)
TIME = "2024-05-01T10:00:00Z"


class Rejected(Exception):
    """A request the server refuses: HTTP ``code``, Status ``reason``, message."""

    def __init__(self, code: int, reason: str, message: str,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details  # the Status's details (a 422's causes)


# ---------------------------------------------------------------- label selectors

_TERM = re.compile(r"\s*(!?)\s*([A-Za-z0-9./_-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9._-]*)|"
                   r"\s(in|notin)\s*\(([^)]*)\))?\s*$")


def _terms(selector: str) -> list[str]:
    """Split at commas outside parentheses."""
    terms, depth, start = [], 0, 0
    for i, ch in enumerate(selector):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            terms.append(selector[start:i])
            start = i + 1
    terms.append(selector[start:])
    return [t for t in terms if t.strip()]


def label_match(selector: str, labels: Any) -> bool:
    """Whether ``labels`` match a ``labelSelector`` (equality, set and existence
    terms); a selector that does not parse is a 400 as on a real server."""
    labels = labels if isinstance(labels, dict) else {}
    for term in _terms(selector):
        m = _TERM.match(term)
        if m is None:
            raise Rejected(400, "BadRequest", f"unable to parse requirement: {term!r}")
        negated, key, op, value, set_op, values = m.groups()
        present = key in labels
        if set_op:
            members = {v.strip() for v in values.split(",") if v.strip()}
            inside = present and labels[key] in members
            if (set_op == "in") != inside:
                return False
        elif op in ("=", "=="):
            if labels.get(key) != value:
                return False
        elif op == "!=":
            if labels.get(key) == value:
                return False
        elif bool(negated) == present:
            return False
    return True


# ---------------------------------------------------------------- field ownership

_SKIP = {"apiVersion", "kind", "metadata", "status"}


def field_values(obj: dict[str, Any]) -> dict[str, Any]:
    """Path -> value of every owned field of ``obj``."""
    out = {k: v for k, v in obj.items() if k not in _SKIP}
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    for part in ("labels", "annotations"):
        values = meta.get(part)
        for k, v in (values.items() if isinstance(values, dict) else ()):
            out[f"metadata.{part}.{k}"] = v
    return out


def _set(obj: dict[str, Any], path: str, value: Any) -> None:
    if path.startswith("metadata."):
        _, part, key = path.split(".", 2)
        obj.setdefault("metadata", {}).setdefault(part, {})[key] = copy.deepcopy(value)
    else:
        obj[path] = copy.deepcopy(value)


def _remove(obj: dict[str, Any], path: str) -> None:
    if path.startswith("metadata."):
        _, part, key = path.split(".", 2)
        values = obj.get("metadata", {}).get(part)
        if isinstance(values, dict):
            values.pop(key, None)
            if not values:
                obj["metadata"].pop(part)
    else:
        obj.pop(path, None)


def owners_of(obj: dict[str, Any]) -> Owners:
    """The owners recorded in ``metadata.managedFields`` (FieldsV1)."""
    out: Owners = []
    entries = obj.get("metadata", {}).get("managedFields")
    for e in entries if isinstance(entries, list) else []:
        fields = e.get("fieldsV1") or {}
        paths = {k[2:] for k in fields if k.startswith("f:") and k != "f:metadata"}
        meta = fields.get("f:metadata") or {}
        for part in ("labels", "annotations"):
            paths |= {f"metadata.{part}.{k[2:]}" for k in meta.get(f"f:{part}") or {}}
        out.append((str(e.get("manager")), str(e.get("operation")), paths))
    return out


def _fields_v1(paths: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in sorted(paths):
        if p.startswith("metadata."):
            _, part, key = p.split(".", 2)
            out.setdefault("f:metadata", {}).setdefault(f"f:{part}", {})[f"f:{key}"] = {}
        else:
            out[f"f:{p}"] = {}
    return out


def record_owners(obj: dict[str, Any], owners: Owners, api_version: str) -> None:
    """Write ``owners`` back as ``metadata.managedFields`` (empty owners dropped)."""
    obj.setdefault("metadata", {})["managedFields"] = [
        {"manager": m, "operation": op, "apiVersion": api_version, "time": TIME,
         "fieldsType": "FieldsV1", "fieldsV1": _fields_v1(paths)}
        for m, op, paths in owners if paths]


def apply(current: dict[str, Any], config: dict[str, Any], manager: str, force: bool,
          api_version: str) -> dict[str, Any]:
    """``current`` after an apply of ``config`` by ``manager`` (a new object)."""
    new = copy.deepcopy(current)
    owners = owners_of(current)
    have = field_values(current)
    want = field_values(config)
    conflicts = sorted({(m, p) for m, op, paths in owners if (m, op) != (manager, "Apply")
                        for p in paths & want.keys() if have.get(p) != want[p]})
    if conflicts and not force:
        listed = "\n".join(f'- conflict with "{m}" using {api_version}: .{p}'
                           for m, p in conflicts)
        word = "conflict" if len(conflicts) == 1 else "conflicts"
        raise Rejected(409, "Conflict", f"Apply failed with {len(conflicts)} {word}:\n{listed}")
    taken = {p for _, p in conflicts}
    previous = next((paths for m, op, paths in owners if (m, op) == (manager, "Apply")), set())
    others = [(m, op, paths - taken) for m, op, paths in owners
              if (m, op) != (manager, "Apply")]
    still_owned = set().union(*(paths for _, _, paths in others)) if others else set()
    for p in previous - want.keys() - still_owned:
        _remove(new, p)
    for p, v in want.items():
        _set(new, p, v)
    record_owners(new, [*others, (manager, "Apply", set(want))], api_version)
    return new


def take_changed(before: dict[str, Any] | None, after: dict[str, Any], manager: str,
                 api_version: str) -> None:
    """An update by ``manager``: it owns the fields it changed (in ``after``)."""
    old = field_values(before) if before else {}
    now = field_values(after)
    changed = {p for p, v in now.items() if old.get(p) != v}
    owners = owners_of(before) if before else []
    kept = [(m, op, (paths - changed) & now.keys()) for m, op, paths in owners
            if (m, op) != (manager, "Update")]
    mine = next((paths for m, op, paths in owners if (m, op) == (manager, "Update")), set())
    record_owners(after, [*kept, (manager, "Update", (mine & now.keys()) | changed)],
                  api_version)


# ---------------------------------------------------------------- the PolicyReport CRD

RESULTS = ("pass", "fail", "warn", "error", "skip")
SEVERITIES = ("critical", "high", "low", "medium", "info")  # Kyverno's CRD
OLD_SEVERITIES = ("high", "low", "medium")  # the wg-policy-prototypes CRD
_TOP = {"apiVersion", "kind", "metadata", "results", "scope", "scopeSelector", "summary"}
_RESULT_FIELDS = {"category", "message", "policy", "properties", "resourceSelector",
                  "resources", "result", "rule", "scored", "severity", "source", "timestamp"}
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _supported(values: tuple[str, ...]) -> str:
    return ", ".join(f'"{v}"' for v in values)


def check_policy_report(obj: dict[str, Any], kind: str,
                        severities: tuple[str, ...] = SEVERITIES) -> None:
    """Validate and prune ``obj`` (in place) as the ``v1alpha2`` CRD's structural
    schema does: unknown fields dropped, enums and types enforced (a 422 whose
    details list each cause, as a real server's)."""
    name = str(obj.get("metadata", {}).get("name"))
    causes: list[dict[str, str]] = []

    def bad(field_: str, reason: str, message: str) -> None:
        causes.append({"reason": reason, "message": message, "field": field_})

    for key in list(obj):
        if key not in _TOP:
            del obj[key]
    results = obj.get("results", [])
    if not isinstance(results, list):
        bad("results", "FieldValueTypeInvalid",
            f'Invalid value: "{type(results).__name__}": results in body must be of type array')
        results = []
    for i, r in enumerate(results):
        at = f"results[{i}]"
        if not isinstance(r, dict):
            bad(at, "FieldValueTypeInvalid", "Invalid value: must be of type object")
            continue
        for key in list(r):
            if key not in _RESULT_FIELDS:
                del r[key]
        if not isinstance(r.get("policy"), str):
            bad(f"{at}.policy", "FieldValueRequired", "Required value")
        if "result" in r and r["result"] not in RESULTS:
            bad(f"{at}.result", "FieldValueNotSupported",
                f'Unsupported value: "{r["result"]}": supported values: {_supported(RESULTS)}')
        if "severity" in r and r["severity"] not in severities:
            bad(f"{at}.severity", "FieldValueNotSupported",
                f'Unsupported value: "{r["severity"]}": supported values: '
                f"{_supported(severities)}")
        if "scored" in r and not isinstance(r["scored"], bool):
            bad(f"{at}.scored", "FieldValueTypeInvalid", "Invalid value: must be of type boolean")
        props = r.get("properties", {})
        if not isinstance(props, dict) or not all(isinstance(v, str) for v in props.values()):
            bad(f"{at}.properties", "FieldValueTypeInvalid",
                "Invalid value: values must be of type string")
        stamp = r.get("timestamp", {})
        if not isinstance(stamp, dict) or not all(
                isinstance(stamp.get(k, 0), int) for k in ("seconds", "nanos")):
            bad(f"{at}.timestamp", "FieldValueTypeInvalid",
                "Invalid value: seconds and nanos must be of type integer")
    summary = obj.get("summary", {})
    if not isinstance(summary, dict) or not all(isinstance(v, int) for v in summary.values()):
        bad("summary", "FieldValueTypeInvalid", "Invalid value: counts must be of type integer")
    if not _DNS_SUBDOMAIN.match(name) or len(name) > 253:
        bad("metadata.name", "FieldValueInvalid",
            f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower '
            "case alphanumeric characters, '-' or '.'")
    if causes:
        listed = [f"{c['field']}: {c['message']}" for c in causes]
        text = listed[0] if len(listed) == 1 else "[" + ", ".join(listed) + "]"
        raise Rejected(422, "Invalid", f'{kind}.wgpolicyk8s.io "{name}" is invalid: {text}',
                       {"name": name, "group": "wgpolicyk8s.io", "kind": kind,
                        "causes": causes})
