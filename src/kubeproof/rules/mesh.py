"""Rules for practice 15: keep workloads inside the service mesh."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeproof.model import Context, Resource, Violation
from kubeproof.registry import rule
from kubeproof.rules.common import quote

ISTIO_INJECT = "sidecar.istio.io/inject"
LINKERD_INJECT = "linkerd.io/inject"
ISTIO_DATAPLANE = "istio.io/dataplane-mode"


def _is(value: Any, word: str) -> bool:
    """``value`` spells ``word`` (YAML booleans count as their spelling)."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return isinstance(value, str) and value.strip().lower() == word


@rule("KP1502", "mesh-injection-disabled", practice=15, severity="medium", pods=True)
def mesh_injection_disabled(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Pod template that opts out of service mesh sidecar injection.

    What:
        A pod or pod template whose label or annotation
        `sidecar.istio.io/inject` is `"false"`, whose annotation
        `linkerd.io/inject` is `disabled`, or whose label
        `istio.io/dataplane-mode` is `none` (the Istio ambient opt-out).

    Why:
        A workload outside the mesh gets no mutual TLS, no workload identity and
        no mesh authorization policy: its traffic is plain text, and a `STRICT`
        peer authentication makes it either unreachable or the reason the policy
        gets relaxed. Opt-outs tend to be copied from one manifest to the next
        long after the reason is gone.

    How:
        Remove the opt-out so the namespace's injection setting applies. If the
        workload really cannot join the mesh (host network, a CNI or mesh
        component itself), keep the opt-out and record why with a
        `kubeproof.dev/ignore: KP1502` and `kubeproof.dev/ignore-reason`
        annotation.

    Example:
        ```yaml
        spec:
          template:
            metadata:
              labels:
                app: checkout
                sidecar.istio.io/inject: "true"
        ```
    """
    pod = res.pod
    assert pod is not None
    meta = pod.metadata_path
    labels = pod.labels
    annotations = pod.annotations
    if _is(labels.get(ISTIO_INJECT), "false"):
        yield Violation((*meta, "labels", ISTIO_INJECT),
                        f'{res.kind} {quote(res.name)} sets label {ISTIO_INJECT}: "false"')
    if _is(annotations.get(ISTIO_INJECT), "false"):
        yield Violation((*meta, "annotations", ISTIO_INJECT),
                        f'{res.kind} {quote(res.name)} sets annotation {ISTIO_INJECT}: "false"')
    if _is(annotations.get(LINKERD_INJECT), "disabled"):
        yield Violation((*meta, "annotations", LINKERD_INJECT),
                        f"{res.kind} {quote(res.name)} sets annotation {LINKERD_INJECT}: disabled")
    if _is(labels.get(ISTIO_DATAPLANE), "none"):
        yield Violation((*meta, "labels", ISTIO_DATAPLANE),
                        f"{res.kind} {quote(res.name)} sets label {ISTIO_DATAPLANE}: none")
