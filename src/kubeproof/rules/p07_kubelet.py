"""The kubelet's own configuration (KP0711).

Three places hold it: a `KubeletConfiguration` document (the file passed to
`kubelet --config`), the same document embedded in a ConfigMap (kubeadm's
`kubelet-config` in kube-system, key `kubelet`), and the flags of a container
that runs the kubelet (read by :mod:`kubeproof.k8s.flags`).

The two have different defaults. KubeletConfiguration v1beta1 (from the
field comments of `k8s.io/kubelet/config/v1beta1`): `authentication.anonymous.
enabled` false, `authentication.webhook.enabled` true, `authorization.mode`
Webhook, `readOnlyPort` 0 (disabled), `authentication.x509.clientCAFile`
empty, `rotateCertificates` false, `serverTLSBootstrap` false. The command-line
flags: `--anonymous-auth` true, `--authorization-mode` AlwaysAllow,
`--read-only-port` 10255, `--rotate-certificates` false. With `--config` the
file's defaults apply and only the flags given explicitly override them.

A KubeletConfiguration that sets neither `authentication` nor `authorization`
is read as a partial one: a drop-in for `kubelet --config-dir` (1.28+, merged
over the base file) or the KubeletConfiguration of a kubeadm `--config` file,
which kubeadm completes with the cluster CA as `clientCAFile` and a hard-coded
`rotateCertificates: true` (`cmd/kubeadm/app/componentconfigs/kubelet.go`).
Only the values such a document sets are judged, not what it leaves out.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeproof.core.catalogue import rule
from kubeproof.core.context import Context
from kubeproof.k8s.flags import KUBELET, Flags, components
from kubeproof.model import Path, Resource, Scope, Violation
from kubeproof.rules.common import as_dict, grouped, quote
from kubeproof.sources.yamlparse import Document, parse_yaml

KUBELET_CONFIG = "KubeletConfiguration"
KUBELET_GROUP = "kubelet.config.k8s.io/"
MAX_EMBEDDED = 1 << 20  # characters of a ConfigMap value parsed (the API's 1 MiB limit)
MAX_DATA_KEYS = 1000  # ConfigMap keys looked at
_PORT_DEFAULT = 10255


def _port(value: Any) -> int | None:
    """A port number as the kubelet reads it (None: not a number)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() \
            and len(value.strip()) < 10:
        return int(value.strip())
    return None


def _config_problems(conf: dict[str, Any]) -> list[tuple[Path, str]]:
    """What is insecure in one KubeletConfiguration, with the field paths."""
    authn = as_dict(conf.get("authentication"))
    problems: list[tuple[Path, str]] = []
    if as_dict(authn.get("anonymous")).get("enabled") is True:
        problems.append((("authentication", "anonymous", "enabled"),
                         "enables anonymous authentication"))
    if as_dict(conf.get("authorization")).get("mode") == "AlwaysAllow":
        problems.append((("authorization", "mode"), "authorizes with AlwaysAllow"))
    port = _port(conf.get("readOnlyPort"))
    if port:
        problems.append((("readOnlyPort",), f"opens the unauthenticated read-only port {port}"))
    if "authentication" not in conf and "authorization" not in conf:
        return problems  # a partial one: only the values it sets count (module doc)
    ca = as_dict(authn.get("x509")).get("clientCAFile")
    if not isinstance(ca, str) or not ca.strip():
        problems.append((("authentication", "x509", "clientCAFile"),
                         "sets no authentication.x509.clientCAFile"))
    if conf.get("rotateCertificates") is not True:
        problems.append((("rotateCertificates",), "does not set rotateCertificates: true"))
    provided = all(isinstance(conf.get(k), str) and conf[k].strip()
                   for k in ("tlsCertFile", "tlsPrivateKeyFile"))
    if conf.get("serverTLSBootstrap") is not True and not provided:
        problems.append((("serverTLSBootstrap",), "does not set serverTLSBootstrap: true "
                         "and gives no tlsCertFile/tlsPrivateKeyFile (a self-signed "
                         "serving certificate)"))
    return problems


def _is_kubelet_config(api_version: Any, kind: Any) -> bool:
    return kind == KUBELET_CONFIG and isinstance(api_version, str) \
        and api_version.startswith(KUBELET_GROUP)


def _embedded(text: str) -> dict[str, Any] | None:
    """The KubeletConfiguration embedded in a ConfigMap value, or None."""
    if KUBELET_CONFIG not in text or len(text) > MAX_EMBEDDED:
        return None
    for doc in parse_yaml(text):
        if isinstance(doc, Document) and isinstance(doc.data, dict) \
                and _is_kubelet_config(doc.data.get("apiVersion"), doc.data.get("kind")):
            return doc.data
    return None


def _configmap(res: Resource) -> Iterator[Violation]:
    data = res.obj.get("data")
    if not isinstance(data, dict):
        return
    for key, value in list(data.items())[:MAX_DATA_KEYS]:
        conf = _embedded(value) if isinstance(value, str) else None
        if conf is None:
            continue
        problems = _config_problems(conf)
        if problems:
            fields = ", ".join(".".join(map(str, p)) for p, _ in problems)
            yield Violation(("data", key), f"ConfigMap {quote(res.name)} key {quote(key)}: the "
                            f"KubeletConfiguration {' and '.join(t for _, t in problems)} "
                            f"({fields})")


def _flag_problems(kubelet: Flags) -> list[tuple[Path, str]]:
    """What is insecure in the kubelet's flags; with `--config` only the flags given."""
    explicit = kubelet.is_set("config")
    problems: list[tuple[Path, str]] = []
    if kubelet.is_true("anonymous-auth") or not (explicit or kubelet.is_false("anonymous-auth")):
        problems.append((kubelet.where("anonymous-auth"), "does not set --anonymous-auth=false"
                         + ("" if kubelet.last("anonymous-auth") else " (defaults to true)")))
    mode = kubelet.last("authorization-mode")
    if (mode is None and not explicit) or (mode is not None and mode[0] == "AlwaysAllow"):
        problems.append((kubelet.where("authorization-mode"), "authorizes with AlwaysAllow"
                         + ("" if mode else " (the default without --authorization-mode)")))
    port_flag = kubelet.last("read-only-port")
    port = _PORT_DEFAULT if port_flag is None and not explicit \
        else _port(port_flag[0]) if port_flag else None
    if port:
        problems.append((kubelet.where("read-only-port"),
                         f"opens the unauthenticated read-only port {port}"))
    if not kubelet.is_set("client-ca-file") and not explicit:
        problems.append((kubelet.list_path, "sets no --client-ca-file"))
    if kubelet.is_false("rotate-certificates") or not (
            explicit or kubelet.is_true("rotate-certificates")):
        problems.append((kubelet.where("rotate-certificates"),
                         "does not set --rotate-certificates=true"))
    return problems


@rule("KP0711", "kubelet-insecure", practice=7, severity="critical", scope=Scope.CLUSTER,
      pods=True, kinds=(KUBELET_CONFIG, "ConfigMap"))
def kubelet_insecure(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Kubelet that serves its API without authentication or with weak certificates.

    What:
        A `KubeletConfiguration` (a file, or embedded in a ConfigMap such as
        kubeadm's `kubelet-config`, reported at the ConfigMap key) with
        `authentication.anonymous.enabled: true`, `authorization.mode:
        AlwaysAllow`, a `readOnlyPort` other than 0, no
        `authentication.x509.clientCAFile`, `rotateCertificates` not true, or
        neither `serverTLSBootstrap: true` nor a provided
        `tlsCertFile`/`tlsPrivateKeyFile`. In v1beta1 anonymous access is off,
        the mode is Webhook and the read-only port is 0 by default, so only
        values set explicitly count for those; `rotateCertificates` and
        `serverTLSBootstrap` default to false. A KubeletConfiguration that
        sets neither `authentication` nor `authorization` is a partial one (a
        `--config-dir` drop-in, or the section of a kubeadm `--config` file
        that kubeadm completes with the cluster CA and certificate rotation):
        only the values it sets are judged. A container running the
        kubelet is judged on its flags, whose defaults are the insecure ones:
        `--anonymous-auth` (default true), `--authorization-mode` (default
        AlwaysAllow), `--read-only-port` (default 10255), `--client-ca-file`,
        `--rotate-certificates` (default false); with `--config` the file
        holds the settings and only the flags given are judged.

    Why:
        The kubelet API (port 10250) runs commands in any pod on the node,
        reads their logs and lists their specs: with anonymous access or
        `AlwaysAllow`, anyone who reaches the node owns its pods. The
        read-only port (10255) serves pod specs and metrics with no
        authentication at all. Without a client CA the apiserver's client
        certificate is not accepted, and without certificate rotation and a
        CA-signed serving certificate the node's credentials expire or
        cannot be verified (see `--kubelet-certificate-authority`, KP0709).

    How:
        Disable anonymous access, use Webhook authorization, set
        `readOnlyPort: 0`, give `clientCAFile`, and turn on
        `rotateCertificates` and `serverTLSBootstrap` (with a CSR approver for
        serving certificates).

    Example:
        ```yaml
        apiVersion: kubelet.config.k8s.io/v1beta1
        kind: KubeletConfiguration
        authentication:
          anonymous:
            enabled: false
          webhook:
            enabled: true
          x509:
            clientCAFile: /etc/kubernetes/pki/ca.crt
        authorization:
          mode: Webhook
        readOnlyPort: 0
        rotateCertificates: true
        serverTLSBootstrap: true
        ```
    """
    if res.kind == KUBELET_CONFIG:
        if not _is_kubelet_config(res.api_version, res.kind):
            return
        for path, text in _config_problems(res.obj):
            yield Violation(path, f"{KUBELET_CONFIG} {text}")
        return
    if res.kind == "ConfigMap":
        yield from _configmap(res)
        return
    for kubelet in components(res, KUBELET):
        yield from grouped(kubelet, _flag_problems(kubelet))
