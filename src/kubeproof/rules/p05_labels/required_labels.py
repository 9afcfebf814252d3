"""KP0501 (missing-required-labels): the labels every object must carry, and its fix."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

from kubeproof.core.catalogue import fix, rule
from kubeproof.core.context import Context
from kubeproof.core.fixing import LABEL_VALUE, NAME_LABEL, FixSettings, set_in
from kubeproof.k8s.workloads import PodView
from kubeproof.model import SAFE, Resource, Violation
from kubeproof.rules.common import as_dict, quote


@rule("KP0501", "missing-required-labels", practice=5, severity="low", pods=True,
      kinds={"Service"})
def missing_required_labels(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Workload or Service missing a required label.

    What:
        A workload (any object with a pod template) or a Service whose
        `metadata.labels` lacks one of the keys in `labels.required` (default
        `app.kubernetes.io/name`). One finding per missing label. Only the
        object's own labels count, not the pod template's.

    Why:
        Labels are how people and tools find what belongs together: cost
        reports, dashboards, `kubectl get -l`, network policies, alert
        routing and ownership lookups all key on them. An object without the
        agreed labels is invisible to all of these.

    How:
        Add the required labels to `metadata.labels` (the
        `app.kubernetes.io/*` recommended labels are a good base; Kustomize's
        `labels:` can add them to every object).

    Example:
        ```yaml
        apiVersion: v1
        kind: Service
        metadata:
          name: web
          labels:
            app.kubernetes.io/name: web
            app.kubernetes.io/part-of: shop
        spec:
          selector: {app.kubernetes.io/name: web}
          ports: [{port: 80}]
        ```
    """
    if res.kind != "Service" and res.pod is None:
        return
    required = ctx.config.required_labels
    if not required:
        return
    labels = res.metadata.get("labels")
    if not isinstance(labels, dict):
        labels = {}
    for key in required:
        if labels.get(key) is None:
            yield Violation(("metadata", "labels", key),
                            f"{res.kind} {quote(res.name)} has no label {key}")


@fix("KP0501", safety=SAFE,
     why="labels are added, never changed, and never to selectors")
def add_required_labels(res: Resource, settings: FixSettings) -> bool:
    """Add the required labels (values from `fix.labels`; `app.kubernetes.io/name`
    defaults to the object's name) to the object and its pod template."""
    pod = res.pod
    if res.kind != "Service" and pod is None:
        return False
    meta = res.obj.get("metadata")
    if not isinstance(meta, MutableMapping):
        return False
    labels = meta.get("labels")
    if labels is not None and not isinstance(labels, MutableMapping):
        return False
    changed = False
    for key in settings.required_labels:
        if isinstance(labels, MutableMapping) and labels.get(key) is not None:
            continue
        value = settings.labels.get(key)
        if value is None and key == NAME_LABEL and LABEL_VALUE.fullmatch(res.name):
            value = res.name
        if value is None:
            continue
        changed |= set_in(meta, ("labels", key), value, ("namespace", "name", "generateName"))
        labels = meta.get("labels")
        if pod is not None and pod.metadata_path != ("metadata",):
            changed |= _label_template(res, pod, key, value)
    return changed


def _label_template(res: Resource, pod: PodView, key: str, value: str) -> bool:
    """The label on the pod template too (never on selectors), unless it has one."""
    template: Any = res.obj
    for seg in pod.metadata_path[:-1]:
        template = template.get(seg) if isinstance(template, MutableMapping) else None
    if not isinstance(template, MutableMapping):
        return False
    tmeta = template.get("metadata")
    if isinstance(tmeta, MutableMapping) and as_dict(tmeta.get("labels")).get(key) is not None:
        return False
    return set_in(template, ("metadata", "labels", key), value)
