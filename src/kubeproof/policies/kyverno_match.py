"""Which objects a Kyverno ``ClusterPolicy``/``Policy`` rule selects: its
``match`` and ``exclude`` blocks, as Kyverno's engine decides them
(kyverno/kyverno ``pkg/engine/utils/match.go`` and ``pkg/utils/match``; read
there, written here).

A block is either ``any`` (one filter suffices), ``all`` (every filter), or
the legacy top-level ``resources``/``subjects``/``roles``/``clusterRoles``.
Inside one filter the attributes are ANDed and a list attribute is an OR
(``kinds``, ``names``, ``namespaces``); the user attributes (``subjects``,
``roles``, ``clusterRoles``) are each checked when present. Names, namespaces,
annotations, kinds and subjects take Kyverno's wildcards (``*``, ``?``).

Two offline decisions, both said where they are made: a ``namespaceSelector``
on an object whose namespace the set or cluster does not know does not match
(never guessed); a request without user information ignores the user
attributes of ``match`` (as Kyverno does when it has no admission info: the
CLI and background scans), while ``exclude`` never excludes on them.

Every function takes hostile values (any field of any type) and never raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubeproof.k8s.kinds import CLUSTER_SCOPED
from kubeproof.k8s.selectors import SelectorError, label_selector_matches
from kubeproof.util.shapes import as_dict, as_list

# what Kyverno's kind selectors treat as a version (``v1``, ``v2beta1``, ``*``)
_VERSION = re.compile(r"^(v\d+((alpha|beta)\d+)?|\*)$")
_RESOURCE_KEYS = ("kinds", "names", "name", "namespaces", "operations", "annotations",
                  "selector", "namespaceSelector")
_USER_KEYS = ("subjects", "roles", "clusterRoles")
# bounds on what one filter may hold (hostile input); far above any real policy
MAX_ITEMS = 1000
MAX_PATTERN = 4096


def wildcard(pattern: Any, text: Any) -> bool:
    """Kyverno's ``wildcard.Match``: ``*`` any run of characters, ``?`` one
    character, the rest literal; linear in ``len(pattern) * len(text)`` at
    worst (no backtracking regex)."""
    if not isinstance(pattern, str) or not isinstance(text, str) or len(pattern) > MAX_PATTERN:
        return False
    if pattern == "*":
        return True
    if "*" not in pattern and "?" not in pattern:
        return pattern == text
    p = t = 0
    star, mark = -1, 0
    while t < len(text):
        if p < len(pattern) and (pattern[p] == "?" or pattern[p] == text[t]):
            p += 1
            t += 1
        elif p < len(pattern) and pattern[p] == "*":
            star, mark = p, t
            p += 1
        elif star >= 0:
            p = star + 1
            mark += 1
            t = mark
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


def parse_kind(selector: str) -> tuple[str, str, str, str]:
    """A kind selector as (group, version, kind, subresource), Kyverno's
    ``ParseKindSelector``: ``Pod``, ``v1/Pod``, ``apps/v1/Deployment``,
    ``Pod/status`` (or ``Pod.status``), ``*/*``; ("", "", "", "") when it has
    more than four parts."""
    parts = selector.split("/")
    parts = [*parts[:-1], *parts[-1].split(".")]
    if len(parts) == 1:
        return "*", "*", parts[0], ""
    if len(parts) == 2:
        if parts == ["*", "*"]:
            return "*", "*", "*", "*"
        if parts[0] == "*" and parts[1].lower() == parts[1]:
            return "*", "*", parts[0], parts[1]
        if _VERSION.match(parts[0]):
            return "*", parts[0], parts[1], ""
        return "*", "*", parts[0], parts[1]
    if len(parts) == 3:
        if _VERSION.match(parts[0]):
            return "*", parts[0], parts[1], parts[2]
        return parts[0], parts[1], parts[2], ""
    if len(parts) == 4:
        return parts[0], parts[1], parts[2], parts[3]
    return "", "", "", ""


def kind_name(selector: Any) -> str:
    """The bare kind a selector names (Kyverno's ``GetKindFromGVK`` then
    ``SplitSubresource``): ``apps/v1/Deployment`` -> ``Deployment``."""
    if not isinstance(selector, str):
        return ""
    parts = selector.split("/")
    if len(parts) == 1:
        kind = selector.replace(".", "/", 1)
    elif len(parts) == 2:
        if parts == ["*", "*"]:
            kind = selector
        elif _VERSION.match(parts[0]):
            kind = parts[1].replace(".", "/", 1)
        else:
            kind = selector
    elif len(parts) == 3:
        kind = f"{parts[1]}/{parts[2]}" if _VERSION.match(parts[0]) else \
            parts[2].replace(".", "/", 1)
    elif len(parts) == 4:
        kind = f"{parts[2]}/{parts[3]}"
    else:
        return ""
    pieces = kind.split("/")
    return pieces[0] if len(pieces) == 2 else kind


def contains_kind(kinds: Any, kind: str) -> bool:
    """Kyverno's ``ContainsKind``: whether a selector of ``kinds`` names ``kind``."""
    return any(kind_name(k) == kind for k in as_list(kinds)[:MAX_ITEMS])


@dataclass(frozen=True, slots=True)
class Request:
    """What a filter is judged against: the object (the old one on DELETE),
    its group/version/kind, the operation, the user and the namespace labels
    (None: the namespace is not known)."""

    obj: Mapping[str, Any]
    group: str
    version: str
    kind: str
    operation: str
    user_info: Mapping[str, Any]
    namespace_labels: Mapping[str, Any] | None

    @property
    def namespace(self) -> str:
        value = as_dict(self.obj.get("metadata")).get("namespace")
        return value if isinstance(value, str) else ""

    @property
    def name(self) -> str:
        meta = as_dict(self.obj.get("metadata"))
        name = meta.get("name") or meta.get("generateName")
        return name if isinstance(name, str) else ""


def group_version(api_version: Any) -> tuple[str, str]:
    if not isinstance(api_version, str):
        return "", ""
    if "/" in api_version:
        group, _, version = api_version.partition("/")
        return group, version
    return "", api_version


def candidate_kinds(rule: Mapping[str, Any]) -> frozenset[str] | None:
    """The kinds a rule's ``match`` can select at most, worked out once so
    that most objects are skipped without looking further (None: any kind,
    when a filter that must or may match lists no kinds or a wildcard)."""
    match = as_dict(rule.get("match"))
    if as_list(match.get("any")):
        found: set[str] = set()
        for flt in _filters(match.get("any")):
            kinds = _plain_kinds(as_dict(flt.get("resources")).get("kinds"))
            if kinds is None:
                return None
            found |= kinds
        return frozenset(found)
    if as_list(match.get("all")):
        for flt in _filters(match.get("all")):
            kinds = _plain_kinds(as_dict(flt.get("resources")).get("kinds"))
            if kinds is not None:
                return frozenset(kinds)
        return None
    kinds = _plain_kinds(as_dict(match.get("resources")).get("kinds"))
    return None if kinds is None else frozenset(kinds)


def _plain_kinds(kinds: Any) -> set[str] | None:
    names = set()
    for selector in as_list(kinds)[:MAX_ITEMS]:
        if not isinstance(selector, str):
            continue
        kind = parse_kind(selector)[2]
        if "*" in kind or "?" in kind:
            return None
        names.add(kind)
    return names or None


def rule_matches(rule: Mapping[str, Any], request: Request, policy_namespace: str) -> str | None:
    """None when the rule's ``match`` selects the object and its ``exclude``
    does not; otherwise why not (the ``skip`` message)."""
    if policy_namespace and policy_namespace != _scope_namespace(request):
        return "policy and resource namespaces mismatch"
    match = as_dict(rule.get("match"))
    if as_list(match.get("any")):
        if not any(_matches(f, request) for f in _filters(match.get("any"))):
            return "no resource matched"
    elif as_list(match.get("all")):
        if not all(_matches(f, request) for f in _filters(match.get("all"))):
            return "not every resource filter matched"
    elif not _matches(_legacy(match), request):
        return "no resource matched"
    exclude = as_dict(rule.get("exclude"))
    if as_list(exclude.get("any")):
        if any(_excludes(f, request) for f in _filters(exclude.get("any"))):
            return "resource excluded"
    elif as_list(exclude.get("all")):
        if all(_excludes(f, request) for f in _filters(exclude.get("all"))):
            return "resource excluded since the combination of all criteria exclude it"
    elif _excludes(_legacy(exclude), request):
        return "resource excluded"
    return None


def _scope_namespace(request: Request) -> str:
    """The namespace a namespaced Policy compares: the object's, ``default``
    when a namespaced object names none (where kubectl would create it)."""
    if request.namespace:
        return request.namespace
    return "" if request.kind in CLUSTER_SCOPED else "default"


def _filters(value: Any) -> list[dict[str, Any]]:
    return [as_dict(f) for f in as_list(value)[:MAX_ITEMS]]


def _legacy(block: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level form (``resources`` plus the user attributes) as one filter."""
    out: dict[str, Any] = {"resources": block.get("resources")}
    for key in _USER_KEYS:
        if key in block:
            out[key] = block[key]
    return out


def _resource_part(flt: Mapping[str, Any]) -> dict[str, Any]:
    res = as_dict(flt.get("resources"))
    return {k: res[k] for k in _RESOURCE_KEYS if res.get(k) not in (None, "", [], {})}


def _user_part(flt: Mapping[str, Any]) -> dict[str, Any]:
    return {k: flt[k] for k in _USER_KEYS if flt.get(k) not in (None, [], "")}


def _matches(flt: Mapping[str, Any], request: Request) -> bool:
    resource, user = _resource_part(flt), _user_part(flt)
    if not request.user_info:
        user = {}  # no admission info: Kyverno drops the user attributes of match
    if not resource and not user:
        return False  # "match cannot be empty"
    return _block_holds(resource, user, request)


def _excludes(flt: Mapping[str, Any], request: Request) -> bool:
    resource, user = _resource_part(flt), _user_part(flt)
    if not resource and not user:
        return False
    return _block_holds(resource, user, request)


def _block_holds(res: Mapping[str, Any], user: Mapping[str, Any], request: Request) -> bool:
    """Kyverno's ``doesResourceMatchConditionBlock`` without errors: every
    attribute present holds."""
    operations = as_list(res.get("operations"))
    if operations and request.operation not in operations:
        return False
    kinds = as_list(res.get("kinds"))
    if kinds and not _kind_matches(kinds, request):
        return False
    name = request.name
    if "name" in res and not wildcard(res["name"], name):
        return False
    names = as_list(res.get("names"))
    if names and not any(wildcard(n, name) for n in names[:MAX_ITEMS]):
        return False
    namespaces = as_list(res.get("namespaces"))
    if namespaces:
        own = request.name if request.kind == "Namespace" else request.namespace
        if not any(wildcard(n, own) for n in namespaces[:MAX_ITEMS]):
            return False
    if "annotations" in res:
        meta = as_dict(request.obj.get("metadata"))
        if not _annotations(res["annotations"], as_dict(meta.get("annotations"))):
            return False
    if "selector" in res:
        labels = as_dict(as_dict(request.obj.get("metadata")).get("labels"))
        if not selector_matches(res["selector"], labels):
            return False
    if "namespaceSelector" in res:
        if request.kind == "Namespace":
            return False  # not applicable to a Namespace
        labels_or_none = request.namespace_labels
        if labels_or_none is None:
            return False  # the namespace is unknown here: never guessed
        if not selector_matches(res["namespaceSelector"], labels_or_none):
            return False
    return _user_holds(user, request.user_info)


def _kind_matches(kinds: list[Any], request: Request) -> bool:
    """Kyverno's ``CheckKind`` for an object (no subresource): ``Pod/status``
    does not select a Pod, ``Pod`` and ``*/*`` do."""
    for selector in kinds[:MAX_ITEMS]:
        if not isinstance(selector, str):
            continue
        group, version, kind, sub = parse_kind(selector)
        if not kind:
            continue
        if (wildcard(group, request.group) and wildcard(version, request.version)
                and wildcard(kind, request.kind) and (sub == "" or wildcard(sub, ""))):
            return True
    return False


def _annotations(expected: Any, actual: Mapping[str, Any]) -> bool:
    """Every expected key/value pair (wildcards in both) is met by some annotation."""
    wanted = as_dict(expected)
    items = list(actual.items())[:MAX_ITEMS]
    return all(any(wildcard(k, k1) and wildcard(_text(v), _text(v1)) for k1, v1 in items)
               for k, v in list(wanted.items())[:MAX_ITEMS])


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def selector_matches(selector: Any, labels: Mapping[str, Any]) -> bool:
    """A metav1 LabelSelector with Kyverno's wildcards in ``matchLabels``
    (``app: "*"`` selects any ``app`` label); the rest is judged as the API
    server judges it (:func:`kubeproof.k8s.selectors.label_selector_matches`);
    an invalid selector selects nothing (Kyverno: a match error)."""
    if not isinstance(selector, dict):
        return False
    match_labels = selector.get("matchLabels")
    if match_labels is not None and not isinstance(match_labels, dict):
        return False
    items = list(labels.items())[:MAX_ITEMS]
    plain: dict[str, str] = {}
    for key, value in list(as_dict(match_labels).items())[:MAX_ITEMS]:
        if not isinstance(key, str) or not isinstance(value, str):
            return False
        if "*" in key or "?" in key or "*" in value or "?" in value:
            if not any(wildcard(key, k) and wildcard(value, _text(v)) for k, v in items):
                return False
        else:
            plain[key] = value
    try:
        return label_selector_matches(
            {"matchLabels": plain, "matchExpressions": selector.get("matchExpressions")},
            labels if isinstance(labels, dict) else dict(labels))
    except SelectorError:
        return False


def _user_holds(user: Mapping[str, Any], info: Mapping[str, Any]) -> bool:
    """``roles``, ``clusterRoles`` (one of the request's, when the caller
    knows them: ``user_info["roles"]``/``["clusterRoles"]``) and
    ``subjects`` (Kyverno's ``CheckSubjects``), each when present."""
    for key in ("roles", "clusterRoles"):
        if key in user:
            wanted = {r for r in as_list(user[key])[:MAX_ITEMS] if isinstance(r, str)}
            if not wanted.intersection(r for r in as_list(info.get(key)) if isinstance(r, str)):
                return False
    return "subjects" not in user or _subjects(user["subjects"], info)


def _subjects(subjects: Any, info: Mapping[str, Any]) -> bool:
    username = info.get("username")
    username = username if isinstance(username, str) else ""
    groups = [g for g in as_list(info.get("groups"))[:MAX_ITEMS] if isinstance(g, str)]
    for subject in as_list(subjects)[:MAX_ITEMS]:
        subject = as_dict(subject)
        kind, name = subject.get("kind"), _text(subject.get("name", ""))
        if kind == "ServiceAccount":
            account = f"system:serviceaccount:{_text(subject.get('namespace', ''))}:{name}"
            if wildcard(account, username):
                return True
        elif kind == "Group":
            if any(wildcard(name, g) for g in groups):
                return True
        elif kind == "User" and wildcard(name, username):
            return True
    return False
