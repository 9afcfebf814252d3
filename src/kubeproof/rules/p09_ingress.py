"""Rules on Ingress controllers' configuration (KP0906).

ingress-nginx turns `nginx.ingress.kubernetes.io/*-snippet` annotations into
raw nginx configuration (CVE-2021-25742). Its controller ConfigMap is told
apart from other ConfigMaps by name or label, as the upstream manifests and
Helm chart name it: `ingress-nginx-controller`, `<release>-ingress-nginx-
controller`, the legacy `nginx-configuration` and `<release>-nginx-ingress-
controller` (the old stable/nginx-ingress chart), or the label
`app.kubernetes.io/name: ingress-nginx`.
"""

from __future__ import annotations

from collections.abc import Iterator

from kubeproof.core.catalogue import rule
from kubeproof.core.context import Context
from kubeproof.model import Resource, Violation
from kubeproof.rules.common import as_dict, quote

SNIPPET_PREFIX = "nginx.ingress.kubernetes.io/"
SNIPPET_SUFFIX = "-snippet"
ALLOW_KEY = "allow-snippet-annotations"
_CONTROLLER_NAMES = ("ingress-nginx-controller", "nginx-ingress-controller")
_LEGACY_NAME = "nginx-configuration"


def is_ingress_nginx_config(res: Resource) -> bool:
    """Whether ConfigMap ``res`` is the ingress-nginx controller's (see the module doc)."""
    name = res.name
    if name == _LEGACY_NAME or any(name == n or name.endswith(f"-{n}")
                                   for n in _CONTROLLER_NAMES):
        return True
    return as_dict(res.metadata.get("labels")).get("app.kubernetes.io/name") == "ingress-nginx"


def _allows(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


@rule("KP0906", "ingress-snippet-annotations", practice=9, severity="high",
      kinds=("Ingress", "ConfigMap"))
def ingress_snippet_annotations(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Ingress with ingress-nginx snippet annotations, or a controller that allows them.

    What:
        An Ingress with a non-empty ingress-nginx snippet annotation
        (`nginx.ingress.kubernetes.io/configuration-snippet`,
        `server-snippet`, `auth-snippet`, `stream-snippet`, and any other
        `nginx.ingress.kubernetes.io/*-snippet` such as
        `modsecurity-snippet`, all gated by the same switch), at the
        annotation; or the ingress-nginx controller ConfigMap (by name:
        `ingress-nginx-controller`, `*-ingress-nginx-controller`,
        `nginx-configuration`, `*-nginx-ingress-controller`; or by the label
        `app.kubernetes.io/name: ingress-nginx`) with
        `allow-snippet-annotations: "true"`, at that key. Controller v1.9 and
        later default to `false`, earlier ones to `true`; only the value
        given in the ConfigMap is judged.

    Why:
        A snippet is pasted into the controller's nginx.conf as is: whoever
        can create an Ingress in any namespace can read files of the
        controller pod, including its ServiceAccount token, which reads every
        Secret in the cluster (CVE-2021-25742), or reroute other tenants'
        traffic.

    How:
        Remove the snippet annotations (use the dedicated annotations, or a
        ConfigMap the cluster admin controls for global settings) and set
        `allow-snippet-annotations: "false"` in the controller ConfigMap
        (Helm: `controller.allowSnippetAnnotations: false`).

    Example:
        ```yaml
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: ingress-nginx-controller
          namespace: ingress-nginx
        data:
          allow-snippet-annotations: "false"
        ```
    """
    if res.kind == "Ingress":
        annotations = as_dict(res.metadata.get("annotations"))
        for key, value in annotations.items():
            if isinstance(key, str) and key.startswith(SNIPPET_PREFIX) \
                    and key.endswith(SNIPPET_SUFFIX) and isinstance(value, str) and value.strip():
                yield Violation(("metadata", "annotations", key),
                                f"Ingress {quote(res.name)} injects raw nginx configuration "
                                f"with {quote(key)} (CVE-2021-25742)")
    elif res.kind == "ConfigMap" and is_ingress_nginx_config(res):
        data = as_dict(res.obj.get("data"))
        if _allows(data.get(ALLOW_KEY)):
            yield Violation(("data", ALLOW_KEY),
                            f"ingress-nginx ConfigMap {quote(res.name)} sets {ALLOW_KEY}: "
                            "\"true\": any Ingress author can inject nginx configuration "
                            "(CVE-2021-25742)")
