"""Rules for practice 5: labels that say what every workload and Service is."""

from __future__ import annotations

from collections.abc import Iterator

from kubeproof.model import Context, Resource, Violation
from kubeproof.registry import rule
from kubeproof.rules.common import quote


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
        metadata:
          name: web
          labels:
            app.kubernetes.io/name: web
            app.kubernetes.io/part-of: shop
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
