"""The Kubernetes objects that deploy kubeproof's admission webhook.

``kubeproof webhook install`` prints these; ``kubeproof scan`` of them must
find nothing, so every choice below is one of the practices the rules check:

- its own Namespace, enforcing the ``restricted`` Pod Security level, with a
  ResourceQuota, a LimitRange, a default-deny NetworkPolicy (ingress and
  egress: the server calls nothing) and one policy that lets in only the
  webhook's HTTPS port, which is what the API server dials;
- a ServiceAccount of its own with no token (the server reads nothing from the
  API), so no RBAC at all;
- a ConfigMap holding the server's ``.kubeproof.yaml``: the ``--mode`` as
  ``webhook.modes``, a judging deadline below the webhooks' timeout, and the
  server's own failure policy matching the validating webhook's;
- a Deployment of 2+ replicas, pinned by digest, restricted security context,
  HTTPS readiness (``/readyz``) and liveness (``/healthz``) probes, memory and
  CPU requests, a memory limit (no CPU limit: throttling would show up as
  admission latency, and the request already reserves the CPU), anti-affinity
  and a topology spread across nodes (preferred, so single-node clusters still
  run both replicas), and a PodDisruptionBudget so a drain never takes every
  replica down at once;
- the serving certificate either as a ``kubernetes.io/tls`` Secret made here
  (the CA's key is thrown away: to rotate, run install again) or, with
  cert-manager, as an Issuer and a Certificate whose CA cert-manager injects
  into the webhook configurations.

Failure policies: the validating webhook enforces policy, so it fails closed
(``Fail``) by default; it cannot wedge the cluster because kube-system and the
webhook's own namespace are excluded and the cluster-scoped RBAC rule skips the
API server's bootstrap roles. The mutating webhook only applies fixes the
validating one would otherwise demand, so it fails open (``Ignore``): when it
errors, the object reaches the validating webhook unfixed and is judged there,
instead of being refused for a fixer's fault. KP1602 cannot tell a convenience
webhook from a security one and tells users to exempt the former: the
generated configuration carries that exemption and its reason.

The Secret made without cert-manager holds the serving key, which KP1004 rightly
forbids committing. The output is meant for ``kubectl apply``, not for Git, so
the Secret carries a KP1004 exemption that says so; ``--cert-manager`` keeps
every key out of the manifests.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import yaml

from kubeproof import __version__
from kubeproof.core.suppression import IGNORE_ANNOTATION, IGNORE_REASON_ANNOTATION
from kubeproof.model import Severity
from kubeproof.webhook.certs import make_ca, make_serving_cert, service_dns_names
from kubeproof.webhook.policy import AUDIT, DEFAULT_MODES, ENFORCE, FAIL_ALLOW, FAIL_DENY, MODES

NAME = "kubeproof-webhook"
# No image is published yet: there is no default image (never a made-up digest
# that no registry holds); the user builds and pushes one and names it.
CONTAINER_PORT = 8443
TLS_DIR = "/etc/kubeproof/tls"
CONFIG_DIR = "/etc/kubeproof/config"
CONFIG_FILE = "kubeproof.yaml"
RUN_AS = 65532  # the conventional "nonroot" user of distroless images
FAILURE_POLICIES = ("Fail", "Ignore")
TIMEOUT_SECONDS = 10
# The server answers by its own failure policy before the API server gives up.
SERVER_DEADLINE_MS = TIMEOUT_SECONDS * 1000 - 2000
NAME_LABEL = "kubernetes.io/metadata.name"
PSS_LABELS = ("enforce", "audit", "warn")
# Per pod; the quota makes room for twice the replicas (surge and evictions).
CPU_REQUEST_MILLI = 100
MEMORY_REQUEST_MI = 128
MEMORY_LIMIT_MI = 256

# What the API server sends to each webhook: the kinds kubeproof's object rules
# check. Secrets are left out on purpose (their only object rule, KP1004, is
# for manifests in Git, and the webhook should never receive secret values);
# webhook configurations are never sent to webhooks by the API server.
WORKLOAD_RESOURCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("", ("pods", "replicationcontrollers", "podtemplates")),
    ("apps", ("deployments", "statefulsets", "daemonsets", "replicasets")),
    ("batch", ("jobs", "cronjobs")),
)
# kubectl debug adds ephemeral containers through this subresource (UPDATE)
DEBUG_RESOURCES: tuple[tuple[str, tuple[str, ...]], ...] = (("", ("pods/ephemeralcontainers",)),)
OTHER_NAMESPACED_RESOURCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("", ("services", "configmaps", "serviceaccounts")),
    ("networking.k8s.io", ("ingresses", "networkpolicies")),
    ("rbac.authorization.k8s.io", ("roles", "rolebindings")),
    ("policy", ("poddisruptionbudgets",)),
)
CLUSTER_RESOURCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("rbac.authorization.k8s.io", ("clusterroles", "clusterrolebindings")),
)
# The API server's own default roles and bindings carry this label.
BOOTSTRAP_LABEL = "kubernetes.io/bootstrapping"


@dataclass(frozen=True, slots=True)
class InstallOptions:
    """What ``kubeproof webhook install`` lets a user choose.

    ``failure_policy`` None: by the mode, ``Ignore`` for audit and warn (a
    rollout stage that denies nothing must not deny when the server is down),
    ``Fail`` for enforce.
    """

    image: str
    namespace: str = "kubeproof"
    replicas: int = 2
    failure_policy: str | None = None
    mutate_failure_policy: str = "Ignore"
    mode: str = AUDIT
    cert_manager: bool = False
    workers: int = 2


def _labels(extra: dict[str, str] | None = None) -> dict[str, str]:
    labels = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "kubeproof",
              "app.kubernetes.io/version": __version__,
              "app.kubernetes.io/managed-by": "kubeproof"}
    return {**labels, **(extra or {})}


SELECTOR = {"app.kubernetes.io/name": NAME}


def _meta(name: str, namespace: str | None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = _labels()
    meta.update(extra)
    return meta


def _namespace(o: InstallOptions) -> dict[str, Any]:
    labels = _labels({f"pod-security.kubernetes.io/{mode}": "restricted" for mode in PSS_LABELS})
    labels.update({f"pod-security.kubernetes.io/{mode}-version": "latest"
                   for mode in PSS_LABELS})
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": o.namespace, "labels": labels}}


def _service_account(o: InstallOptions) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(NAME, o.namespace),
            "automountServiceAccountToken": False}


def _quota(o: InstallOptions) -> dict[str, Any]:
    pods = 2 * o.replicas
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": _meta(NAME, o.namespace),
            "spec": {"hard": {"pods": str(pods),
                              "requests.cpu": f"{pods * CPU_REQUEST_MILLI}m",
                              "requests.memory": f"{pods * MEMORY_REQUEST_MI}Mi",
                              "limits.memory": f"{pods * MEMORY_LIMIT_MI}Mi"}}}


def _limit_range(o: InstallOptions) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "LimitRange", "metadata": _meta(NAME, o.namespace),
            "spec": {"limits": [{
                "type": "Container",
                "defaultRequest": {"cpu": f"{CPU_REQUEST_MILLI}m",
                                   "memory": f"{MEMORY_REQUEST_MI}Mi"},
                "default": {"memory": f"{MEMORY_LIMIT_MI}Mi"},
                "max": {"memory": f"{4 * MEMORY_LIMIT_MI}Mi"}}]}}


def server_args(o: InstallOptions) -> list[str]:
    """The container's arguments: ``kubeproof webhook serve`` and its options
    (the namespace comes from ``$POD_NAMESPACE``)."""
    return ["webhook", "serve", "--tls-cert", f"{TLS_DIR}/tls.crt",
            "--tls-key", f"{TLS_DIR}/tls.key", "--port", str(CONTAINER_PORT),
            "--workers", str(o.workers), "--config", f"{CONFIG_DIR}/{CONFIG_FILE}"]


def severity_modes(mode: str) -> dict[str, str]:
    """What the server does per severity in a rollout ``mode``: ``enforce`` is
    the server's default (deny critical and high, warn medium, audit the
    rest); ``warn`` turns every denial into a warning; ``audit`` only records."""
    rank = {m: i for i, m in enumerate(reversed(MODES))}  # audit < warn < enforce
    return {sev.label: min(DEFAULT_MODES[sev], mode, key=rank.__getitem__)
            for sev in sorted(Severity, reverse=True)}


def validating_failure_policy(o: InstallOptions) -> str:
    """The chosen failure policy, or the mode's: only enforce fails closed."""
    if o.failure_policy is not None:
        return o.failure_policy
    return "Fail" if o.mode == ENFORCE else "Ignore"


def server_config(o: InstallOptions) -> dict[str, Any]:
    """The ``.kubeproof.yaml`` the server reads: its ``webhook:`` section."""
    return {"webhook": {
        "modes": severity_modes(o.mode),
        "deadlineMs": SERVER_DEADLINE_MS,
        "failurePolicy": FAIL_DENY if validating_failure_policy(o) == "Fail" else FAIL_ALLOW,
        "excludeNamespaces": ["kube-system"],
    }}


def _config_map(o: InstallOptions) -> dict[str, Any]:
    text = yaml.safe_dump(server_config(o), sort_keys=False)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(f"{NAME}-config",
                                                                       o.namespace),
            "data": {CONFIG_FILE: text}}


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": "https", "scheme": "HTTPS"},
            "periodSeconds": period, "timeoutSeconds": 2, "failureThreshold": failures}


def _deployment(o: InstallOptions) -> dict[str, Any]:
    container = {
        "name": "webhook",
        "image": o.image,
        "imagePullPolicy": "IfNotPresent",
        "args": server_args(o),
        "env": [{"name": "POD_NAMESPACE",
                 "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
        "ports": [{"name": "https", "containerPort": CONTAINER_PORT, "protocol": "TCP"}],
        "readinessProbe": _probe("/readyz", 5, 2),
        "livenessProbe": {**_probe("/healthz", 10, 3), "initialDelaySeconds": 5},
        "resources": {"requests": {"cpu": f"{CPU_REQUEST_MILLI}m",
                                   "memory": f"{MEMORY_REQUEST_MI}Mi"},
                      "limits": {"memory": f"{MEMORY_LIMIT_MI}Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]},
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "volumeMounts": [{"name": "tls", "mountPath": TLS_DIR, "readOnly": True},
                         {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}],
    }
    term = {"labelSelector": {"matchLabels": dict(SELECTOR)},
            "topologyKey": "kubernetes.io/hostname"}
    pod_spec = {
        "serviceAccountName": NAME,
        "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": RUN_AS, "runAsGroup": RUN_AS,
                            "fsGroup": RUN_AS, "seccompProfile": {"type": "RuntimeDefault"}},
        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": term}]}},
        "topologySpreadConstraints": [{
            "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(SELECTOR)}}],
        "containers": [container],
        "volumes": [{"name": "tls", "secret": {"secretName": f"{NAME}-tls", "defaultMode": 0o440}},
                    {"name": "config", "configMap": {"name": f"{NAME}-config"}},
                    {"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}],
    }
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(NAME, o.namespace),
        "spec": {
            "replicas": o.replicas,
            "revisionHistoryLimit": 5,
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "selector": {"matchLabels": dict(SELECTOR)},
            "template": {"metadata": {"labels": _labels()}, "spec": pod_spec},
        },
    }


def _pdb(o: InstallOptions) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": _meta(NAME, o.namespace),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": dict(SELECTOR)}}}


def _service(o: InstallOptions) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(NAME, o.namespace),
            "spec": {"type": "ClusterIP", "selector": dict(SELECTOR),
                     "ports": [{"name": "https", "port": 443, "targetPort": "https",
                                "protocol": "TCP"}]}}


def _network_policies(o: InstallOptions) -> list[dict[str, Any]]:
    deny = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": _meta("default-deny", o.namespace),
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}
    # The API server's source address is not a pod and differs per cluster:
    # the policy admits the HTTPS port from anywhere and nothing else.
    allow = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": _meta(f"{NAME}-apiserver", o.namespace),
             "spec": {"podSelector": {"matchLabels": dict(SELECTOR)}, "policyTypes": ["Ingress"],
                      "ingress": [{"ports": [{"protocol": "TCP", "port": CONTAINER_PORT}]}]}}
    return [deny, allow]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _tls_secret(o: InstallOptions) -> tuple[dict[str, Any], bytes]:
    """The serving Secret and the CA certificate (PEM) that signed it."""
    ca = make_ca()
    serving = make_serving_cert(ca, service_dns_names(NAME, o.namespace))
    secret = {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": _meta(f"{NAME}-tls", o.namespace, annotations={
            IGNORE_ANNOTATION: "KP1004",
            IGNORE_REASON_ANNOTATION: "generated by kubeproof webhook install for kubectl "
                                      "apply, never to be committed; --cert-manager keeps "
                                      "keys out of manifests"}),
        "data": {"tls.crt": _b64(serving.cert_pem), "tls.key": _b64(serving.key_pem),
                 "ca.crt": _b64(ca.cert_pem)},
    }
    return secret, ca.cert_pem


def _cert_manager(o: InstallOptions) -> list[dict[str, Any]]:
    issuer = {"apiVersion": "cert-manager.io/v1", "kind": "Issuer",
              "metadata": _meta(NAME, o.namespace), "spec": {"selfSigned": {}}}
    cert = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": _meta(NAME, o.namespace),
            "spec": {"secretName": f"{NAME}-tls",
                     "dnsNames": service_dns_names(NAME, o.namespace),
                     "duration": "8760h", "renewBefore": "720h",
                     "privateKey": {"algorithm": "ECDSA", "size": 256,
                                    "rotationPolicy": "Always"},
                     "issuerRef": {"name": NAME, "kind": "Issuer",
                                   "group": "cert-manager.io"}}}
    return [issuer, cert]


def _rules(groups: tuple[tuple[str, tuple[str, ...]], ...], operations: list[str],
           scope: str) -> list[dict[str, Any]]:
    return [{"apiGroups": [group], "apiVersions": ["*"], "resources": list(resources),
             "operations": operations, "scope": scope} for group, resources in groups]


def _webhook(o: InstallOptions, name: str, path: str, policy: str,
             rules: list[dict[str, Any]], ca_pem: bytes | None) -> dict[str, Any]:
    client: dict[str, Any] = {"service": {"name": NAME, "namespace": o.namespace,
                                          "path": path, "port": 443}}
    if ca_pem is not None:
        client["caBundle"] = _b64(ca_pem)
    return {"name": name, "admissionReviewVersions": ["v1"], "clientConfig": client,
            "failurePolicy": policy, "matchPolicy": "Equivalent", "sideEffects": "None",
            "timeoutSeconds": TIMEOUT_SECONDS, "rules": rules}


def _excluding_namespaces(o: InstallOptions) -> dict[str, Any]:
    return {"matchExpressions": [{"key": NAME_LABEL, "operator": "NotIn",
                                  "values": sorted({"kube-system", o.namespace})}]}


def _webhook_configs(o: InstallOptions, ca_pem: bytes | None) -> list[dict[str, Any]]:
    annotations = ({"cert-manager.io/inject-ca-from": f"{o.namespace}/{NAME}"}
                   if o.cert_manager else {})
    policy = validating_failure_policy(o)
    if o.failure_policy is None and policy == "Ignore":  # the mode chose it
        annotations = {**annotations, IGNORE_ANNOTATION: "KP1602",
                       IGNORE_REASON_ANNOTATION: f"{o.mode} mode denies nothing, so it fails "
                       "open too; kubeproof webhook install --mode enforce sets Fail"}
    namespaced = _webhook(
        o, "validate.kubeproof.dev", "/validate", policy,
        _rules(WORKLOAD_RESOURCES + OTHER_NAMESPACED_RESOURCES + DEBUG_RESOURCES,
               ["CREATE", "UPDATE"], "Namespaced"), ca_pem)
    namespaced["namespaceSelector"] = _excluding_namespaces(o)
    cluster = _webhook(o, "validate-cluster.kubeproof.dev", "/validate", policy,
                       _rules(CLUSTER_RESOURCES, ["CREATE", "UPDATE"], "Cluster"), ca_pem)
    cluster["objectSelector"] = {"matchExpressions": [
        {"key": BOOTSTRAP_LABEL, "operator": "DoesNotExist"}]}
    mutate = _webhook(o, "mutate.kubeproof.dev", "/mutate", o.mutate_failure_policy,
                      _rules(WORKLOAD_RESOURCES, ["CREATE"], "Namespaced"), ca_pem)
    mutate["namespaceSelector"] = _excluding_namespaces(o)
    mutate["reinvocationPolicy"] = "IfNeeded"
    mutate_annotations = {k: v for k, v in annotations.items() if k.startswith("cert-manager")}
    if o.mutate_failure_policy == "Ignore":
        mutate_annotations[IGNORE_ANNOTATION] = "KP1602"
        mutate_annotations[IGNORE_REASON_ANNOTATION] = (
            "best-effort fixes: when mutation fails the validating webhook still judges "
            "the object")
    validating = {"apiVersion": "admissionregistration.k8s.io/v1",
                  "kind": "ValidatingWebhookConfiguration",
                  "metadata": _meta(NAME, None, **({"annotations": annotations}
                                                   if annotations else {})),
                  "webhooks": [namespaced, cluster]}
    mutating = {"apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "MutatingWebhookConfiguration",
                "metadata": _meta(NAME, None, **({"annotations": mutate_annotations}
                                                 if mutate_annotations else {})),
                "webhooks": [mutate]}
    return [validating, mutating]


def build_manifests(o: InstallOptions) -> list[dict[str, Any]]:
    """Every object, in the order ``kubectl apply`` should create them: the
    webhook configurations last, once the server they name exists."""
    objects = [_namespace(o), _service_account(o), _quota(o), _limit_range(o), _config_map(o)]
    ca_pem: bytes | None = None
    if o.cert_manager:
        objects += _cert_manager(o)
    else:
        secret, ca_pem = _tls_secret(o)
        objects.append(secret)
    objects += [_deployment(o), _pdb(o), _service(o), *_network_policies(o)]
    objects += _webhook_configs(o, ca_pem)
    return objects
