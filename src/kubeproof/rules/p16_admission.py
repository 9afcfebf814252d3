"""Rules for practice 16: admission webhook configuration (KP1601–KP1604).

Each rule looks at every entry of `webhooks` in a ValidatingWebhookConfiguration
or MutatingWebhookConfiguration and reports at most one finding per entry, at
the field concerned inside `webhooks[i]`. Defaults follow the manifest's API
version: `admissionregistration.k8s.io/v1beta1` (removed in 1.22) defaulted
`failurePolicy` to `Ignore`, `timeoutSeconds` to 30 and `sideEffects` to
`Unknown`; v1 defaults `Fail` and 10 and requires `sideEffects`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeproof.core.catalogue import rule
from kubeproof.core.context import Context
from kubeproof.model import Resource, Violation
from kubeproof.rules.common import as_dict, as_list, one_of, quote

WEBHOOK_KINDS = frozenset({"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"})
NAME_LABEL = "kubernetes.io/metadata.name"
SYSTEM_NS = "kube-system"
MAX_TIMEOUT = 10
SAFE_SIDE_EFFECTS = frozenset({"None", "NoneOnDryRun"})


def _webhooks(res: Resource) -> Iterator[tuple[int, dict[str, Any], str]]:
    for i, wh in enumerate(as_list(res.obj.get("webhooks"))):
        if isinstance(wh, dict):
            name = wh.get("name")
            yield i, wh, name if isinstance(name, str) and name else f"webhooks[{i}]"


def _v1beta1(res: Resource) -> bool:
    return res.api_version.endswith("/v1beta1")


def _what(res: Resource, name: str) -> str:
    return f"{res.kind} {quote(res.name)} webhook {quote(name)}"


# ------------------------------------------------------------------ KP1601

def _reaches_namespaced(wh: dict[str, Any]) -> bool:
    """Whether any rule can match a namespaced object (scope `*` or `Namespaced`)."""
    for r in as_list(wh.get("rules")):
        if not isinstance(r, dict) or not as_list(r.get("resources")):
            continue
        if r.get("scope", "*") != "Cluster":
            return True
    return False


def _strings(value: Any) -> list[str]:
    return [v for v in as_list(value) if isinstance(v, str)]


def _excludes_system(selector: Any) -> bool:
    """Whether a label selector fails for kube-system, assumed to carry only its
    automatic `kubernetes.io/metadata.name` label."""
    sel = as_dict(selector)
    for label, value in as_dict(sel.get("matchLabels")).items():
        if label != NAME_LABEL or value != SYSTEM_NS:
            return True
    for expr in as_list(sel.get("matchExpressions")):
        if not isinstance(expr, dict):
            continue
        key = expr.get("key")
        op = expr.get("operator")
        values = _strings(expr.get("values"))
        if key == NAME_LABEL:
            if ((op == "In" and SYSTEM_NS not in values)
                    or (op == "NotIn" and SYSTEM_NS in values) or op == "DoesNotExist"):
                return True
        elif isinstance(key, str) and op in ("In", "Exists"):
            return True
    return False


@rule("KP1601", "webhook-covers-system", practice=16, severity="high", kinds=WEBHOOK_KINDS)
def webhook_covers_system(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Admission webhook that can intercept requests in `kube-system`.

    What:
        A webhook with a rule that can match namespaced objects (`scope` unset,
        `*` or `Namespaced`) whose `namespaceSelector` does not rule out
        `kube-system`. kube-system is assumed to carry only its automatic
        label `kubernetes.io/metadata.name: kube-system`, so a selector
        excludes it with `kubernetes.io/metadata.name NotIn [kube-system]`, an
        `In` list without it, or any `matchLabels` entry, `In` or `Exists`
        requirement on another label (an opt-in label kube-system lacks). An
        `objectSelector` is not an exclusion; `matchConditions` are not
        analysed. Webhooks whose rules are all `scope: Cluster` cannot see
        kube-system objects and pass.

    Why:
        While the webhook's backend is down or slow, every matching request
        fails (`failurePolicy: Fail`) or waits for the timeout, including
        requests from the control plane's own components in kube-system. The
        webhook's pods may themselves need kube-system (DNS, CNI) to come
        back: a deadlock that needs manual repair.

    How:
        Add a `namespaceSelector` that excludes kube-system (and the webhook's
        own namespace).

    Example:
        ```yaml
        apiVersion: admissionregistration.k8s.io/v1
        kind: ValidatingWebhookConfiguration
        metadata: {name: policy}
        webhooks:
        - name: policy.example.com
          clientConfig:
            service: {name: policy, namespace: policy-system}
          admissionReviewVersions: [v1]
          sideEffects: None
          namespaceSelector:
            matchExpressions:
            - key: kubernetes.io/metadata.name
              operator: NotIn
              values: ["kube-system", "policy-system"]
        ```
    """
    for i, wh, name in _webhooks(res):
        if not _reaches_namespaced(wh) or _excludes_system(wh.get("namespaceSelector")):
            continue
        how = ("its namespaceSelector does not exclude it" if "namespaceSelector" in wh
               else "it has no namespaceSelector")
        yield Violation(("webhooks", i, "namespaceSelector"),
                        f"{_what(res, name)} can intercept kube-system: {how}")


# ------------------------------------------------------------------ KP1602

@rule("KP1602", "webhook-fail-open", practice=16, severity="low", kinds=WEBHOOK_KINDS)
def webhook_fail_open(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Admission webhook that fails open (`failurePolicy: Ignore`).

    What:
        A webhook with `failurePolicy: Ignore` (the default in
        `admissionregistration.k8s.io/v1beta1`). kubeproof cannot tell a
        policy webhook from a convenience one, so every webhook is treated as
        a security webhook; exempt the best-effort ones (defaulting,
        injection that is optional) in config.

    Why:
        While the webhook is unreachable, requests it should have checked are
        admitted unchecked. Anyone able to slow down or crash the webhook's
        pods switches the policy off.

    How:
        Set `failurePolicy: Fail` on webhooks that enforce policy, run their
        backend highly available (replicas, PodDisruptionBudget), and exclude
        kube-system so failing closed cannot wedge the control plane.

    Example:
        ```yaml
        apiVersion: admissionregistration.k8s.io/v1
        kind: ValidatingWebhookConfiguration
        metadata: {name: policy}
        webhooks:
        - name: policy.example.com
          clientConfig:
            service: {name: policy, namespace: policy-system}
          admissionReviewVersions: [v1]
          sideEffects: None
          failurePolicy: Fail
        ```
    """
    for i, wh, name in _webhooks(res):
        policy = wh.get("failurePolicy")
        if policy == "Ignore":
            yield Violation(("webhooks", i, "failurePolicy"),
                            f"{_what(res, name)} sets failurePolicy: Ignore")
        elif policy is None and _v1beta1(res):
            yield Violation(("webhooks", i, "failurePolicy"),
                            f"{_what(res, name)} has no failurePolicy, which defaults to "
                            "Ignore in v1beta1")


# ------------------------------------------------------------------ KP1603

@rule("KP1603", "webhook-timeout", practice=16, severity="low", kinds=WEBHOOK_KINDS)
def webhook_timeout(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Admission webhook with a timeout over 10 seconds.

    What:
        A webhook whose `timeoutSeconds` is over 10 (unset counts as 30 in
        `admissionregistration.k8s.io/v1beta1`, 10 in v1).

    Why:
        Every matching API request waits up to the timeout when the backend
        hangs; the API server's own request deadline is 60 seconds, shared
        by every webhook in the chain, so long timeouts stall deployments and
        controllers and can make requests fail outright.

    How:
        Set `timeoutSeconds` to 10 or less and make the webhook answer fast
        (cache what it looks up).

    Example:
        ```yaml
        apiVersion: admissionregistration.k8s.io/v1
        kind: ValidatingWebhookConfiguration
        metadata: {name: policy}
        webhooks:
        - name: policy.example.com
          clientConfig:
            service: {name: policy, namespace: policy-system}
          admissionReviewVersions: [v1]
          sideEffects: None
          timeoutSeconds: 5
        ```
    """
    for i, wh, name in _webhooks(res):
        timeout = wh.get("timeoutSeconds")
        if isinstance(timeout, int) and not isinstance(timeout, bool) and timeout > MAX_TIMEOUT:
            yield Violation(("webhooks", i, "timeoutSeconds"),
                            f"{_what(res, name)} sets timeoutSeconds: {timeout}")
        elif timeout is None and _v1beta1(res):
            yield Violation(("webhooks", i, "timeoutSeconds"),
                            f"{_what(res, name)} has no timeoutSeconds, which defaults to 30 "
                            "in v1beta1")


# ------------------------------------------------------------------ KP1604

@rule("KP1604", "webhook-side-effects", practice=16, severity="medium", kinds=WEBHOOK_KINDS)
def webhook_side_effects(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Admission webhook with side effects (`sideEffects` not `None`/`NoneOnDryRun`).

    What:
        A webhook whose `sideEffects` is `Some` or `Unknown`, or is missing
        (required in `admissionregistration.k8s.io/v1`; `Unknown` by default
        in v1beta1).

    Why:
        A webhook with side effects changes state outside the request; when
        a later admission step rejects the request, or it is a dry run, the
        change is not undone. The API server rejects dry-run requests
        (`kubectl diff`, `--dry-run=server`) that reach such a webhook.

    How:
        Make the webhook side-effect free and declare `sideEffects: None`, or
        skip side effects on dry runs and declare `NoneOnDryRun`.

    Example:
        ```yaml
        apiVersion: admissionregistration.k8s.io/v1
        kind: ValidatingWebhookConfiguration
        metadata: {name: policy}
        webhooks:
        - name: policy.example.com
          clientConfig:
            service: {name: policy, namespace: policy-system}
          admissionReviewVersions: [v1]
          sideEffects: None
        ```
    """
    for i, wh, name in _webhooks(res):
        effects = wh.get("sideEffects")
        if one_of(effects, SAFE_SIDE_EFFECTS):
            continue
        if effects is None:
            why = ("defaults to Unknown in v1beta1" if _v1beta1(res)
                   else "is required in admissionregistration.k8s.io/v1")
            text = f"{_what(res, name)} does not set sideEffects, which {why}"
        else:
            text = f"{_what(res, name)} sets sideEffects: {effects}"
        yield Violation(("webhooks", i, "sideEffects"), text)
