"""What the set rules of practices 5 and 13 share: which namespaces they may judge,
which objects they compare, and the lookups of pod templates by selector.

Which namespace an object lives in decides what it can select or name. The
conventions shared by the set rules of this family and the rollout set rules:

- "Missing" rules (a selector that selects nothing, a reference to nothing)
  judge only subjects with a `metadata.namespace`, and only when the set
  shows that namespace: its Namespace object is in the set, or the set holds
  objects of the kind the rule looks for there. The shared namespaces
  `default`, `kube-system`, `kube-public` and `kube-node-lease` receive
  objects from many sources and are judged only when described. Objects
  with no namespace share one unknown namespace of their application
  (applications.py): they are never candidates in a namespace written down.
- Rules that only compare objects that are all present compare objects of
  one namespace and one directory (a repository's directories often hold
  alternative variants of an application, not parts deployed together);
  objects with no namespace only with those of the same file (or rendered
  input), which are applied together.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Callable, Container, Iterable
from typing import Any

from kubeproof.core.context import Context
from kubeproof.core.index import Index, Record, WorkloadRec
from kubeproof.k8s.selectors import (
    is_empty_selector,
    label_selector_matches,
    map_selector_matches,
    validate_label_selector,
)
from kubeproof.model import ObjectRef
from kubeproof.rules.common import as_dict, as_list, quote

SHARED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})


def shown(index: Index, ns: str | None, evidence: Container[Any]) -> bool:
    """Whether a "missing" rule may judge namespace ``ns``: described, or not
    shared and among the namespaces holding the kind of object the rule looks
    for (``evidence``)."""
    if ns is None or ns in index.custom_namespaces:
        return False
    return index.described(ns) or (ns not in SHARED_NAMESPACES and ns in evidence)


def unnamed_hint(what: str, found: Any, ns: str | None) -> str:
    """When an object without metadata.namespace would have matched (``found``):
    why it does not count in ``ns``, and how to make it count."""
    if not found:
        return ""
    return (f" (a {what} without metadata.namespace matches, but it is not in namespace "
            f"{quote(ns)}: give it one, or scan with --namespace)")


def comparison_group(ref: ObjectRef) -> Any:
    """The group within which objects that are both present are compared."""
    if ref.namespace is not None:
        return (ref.namespace, posixpath.dirname(ref.file.replace("\\", "/")))
    return (None, ref.source_input, ref.file)


def hashable(value: Any) -> bool:
    """A scalar a lookup can key on (a label value, a port)."""
    return value is None or isinstance(value, (str, int, float))


_JOB_KEYS = ("controller-uid", "batch.kubernetes.io/controller-uid", "job-name",
             "batch.kubernetes.io/job-name", "batch.kubernetes.io/job-completion-index")
# Labels that controllers add to the pods they create, whose values the
# manifest does not show: a selector requirement on one of them is taken as
# met by the pods of that kind (a Job's own job-name labels are known, below).
RUNTIME_LABELS: dict[str, frozenset[str]] = {
    "Deployment": frozenset({"pod-template-hash"}),
    "ReplicaSet": frozenset({"pod-template-hash"}),
    "StatefulSet": frozenset({"controller-revision-hash", "statefulset.kubernetes.io/pod-name",
                              "apps.kubernetes.io/pod-index"}),
    "DaemonSet": frozenset({"controller-revision-hash", "pod-template-generation"}),
    "Job": frozenset(_JOB_KEYS[:2] + _JOB_KEYS[4:]),
    "CronJob": frozenset(_JOB_KEYS),
}
ALL_RUNTIME = frozenset().union(*RUNTIME_LABELS.values(), _JOB_KEYS)


def pod_labels(w: WorkloadRec) -> dict[str, Any]:
    """The labels the workload's pods carry as far as the set shows them: the
    template's, plus the job-name labels the Job controller adds."""
    if w.ref.kind != "Job" or not w.ref.name:
        return w.labels
    return {**w.labels, "job-name": w.ref.name, "batch.kubernetes.io/job-name": w.ref.name}


def _without(selector: dict[str, Any], keys: frozenset[str], label: bool) -> dict[str, Any]:
    """``selector`` minus its requirements on ``keys`` (map or LabelSelector)."""
    if not label:
        return {k: v for k, v in selector.items() if k not in keys}
    out = dict(selector)
    if isinstance(selector.get("matchLabels"), dict):
        out["matchLabels"] = {k: v for k, v in selector["matchLabels"].items()
                              if k not in keys}
    if isinstance(selector.get("matchExpressions"), list):
        out["matchExpressions"] = [e for e in selector["matchExpressions"]
                                   if not (isinstance(e, dict) and e.get("key") in keys)]
    return out


def _selector_keys(selector: dict[str, Any], label: bool) -> set[Any]:
    if not label:
        return set(selector)
    keys: set[Any] = set(as_dict(selector.get("matchLabels")))
    keys.update(as_dict(e).get("key") for e in as_list(selector.get("matchExpressions")))
    return keys


def selection_key(group: Any, selector: dict[str, Any], label: bool) -> tuple[Any, ...]:
    """Identifies what a selector selects in a group: equal keys, equal results."""
    return (group, label, repr(selector))


class TemplateLookup:
    """Pod templates of the set, grouped and indexed by label pair, so that a
    selector is evaluated only against the templates carrying its rarest
    required label instead of every template of its group (namespace)."""

    def __init__(self, workloads: Iterable[WorkloadRec],
                 group: Callable[[WorkloadRec], Any] = lambda w: w.ref.namespace) -> None:
        self.by_group: dict[Any, list[WorkloadRec]] = defaultdict(list)
        self._by_label: dict[tuple[Any, str, Any], list[WorkloadRec]] = defaultdict(list)
        self._cache: dict[tuple[Any, ...], list[WorkloadRec]] = {}
        for w in workloads:
            g = group(w)
            self.by_group[g].append(w)
            for k, v in pod_labels(w).items():
                if isinstance(k, str) and hashable(v):
                    self._by_label[(g, k, v)].append(w)

    def has_label(self, group: Any, key: Any, value: Any) -> bool:
        return hashable(value) and bool(self._by_label.get((group, key, value)))

    def _candidates(self, group: Any, pairs: dict[Any, Any]) -> list[WorkloadRec]:
        best: list[WorkloadRec] | None = None
        for k, v in pairs.items():
            if not hashable(v) or k in ALL_RUNTIME:
                continue
            found = self._by_label.get((group, k, v), [])
            if best is None or len(found) < len(best):
                best = found
                if not best:
                    break
        return best if best is not None else self.by_group.get(group, [])

    def _select(self, group: Any, selector: dict[str, Any], pairs: dict[Any, Any],
                label: bool) -> list[WorkloadRec]:
        # repeated selectors (copies of one object) are evaluated once
        key = selection_key(group, selector, label)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        match = label_selector_matches if label else map_selector_matches
        candidates = self._candidates(group, pairs)
        if not (_selector_keys(selector, label) & ALL_RUNTIME):
            out = [w for w in candidates if match(selector, pod_labels(w))]
        else:
            out = []
            for w in candidates:
                runtime = RUNTIME_LABELS.get(w.ref.kind)
                sel = _without(selector, runtime, label) if runtime else selector
                if (not label and not sel) or match(sel, pod_labels(w)):
                    out.append(w)
        self._cache[key] = out
        return out

    def map_select(self, group: Any, selector: dict[str, Any]) -> list[WorkloadRec]:
        """Templates a map selector (Service, ReplicationController) selects."""
        if not selector:
            return []
        return self._select(group, selector, selector, label=False)

    def label_select(self, group: Any, selector: dict[str, Any]) -> list[WorkloadRec]:
        """Templates a LabelSelector selects (an empty one: all of the group).

        Raises :class:`SelectorError` for an invalid selector.
        """
        validate_label_selector(selector)
        return self._select(group, selector, as_dict(selector.get("matchLabels")), label=True)


def namespace_lookup(index: Index, ctx: Context) -> TemplateLookup:
    """The set's pod templates by namespace, built once per set for every rule
    that asks (:meth:`Index.derived`)."""
    return index.derived(_template_lookup)


def _template_lookup(index: Index) -> TemplateLookup:
    return TemplateLookup(index.workloads)


def pdb_selector(pdb: Record) -> dict[str, Any] | None:
    """The LabelSelector of a PodDisruptionBudget, or None when it selects no
    pods: a null selector (every version) or an empty one in policy/v1beta1
    (policy/v1 reads `{}` as every pod of the namespace).

    Raises :class:`SelectorError` for an invalid selector.
    """
    selector = as_dict(pdb.data.get("spec")).get("selector")
    if selector is None:
        return None
    validate_label_selector(selector)
    if is_empty_selector(selector) and pdb.ref.api_version != "policy/v1":
        return None
    return selector


def pdb_selects(lookup: TemplateLookup, pdb: Record, group: Any,
                ) -> tuple[tuple[Any, ...] | None, list[WorkloadRec]]:
    """The templates ``pdb`` selects in ``group`` (raises SelectorError when
    invalid), and the :func:`selection_key` of that result (None if none)."""
    selector = pdb_selector(pdb)
    if selector is None:
        return None, []
    return selection_key(group, selector, True), lookup.label_select(group, selector)
