"""Rules for practice 4: put every object in a namespace, never ``default``."""

from __future__ import annotations

from collections.abc import Iterator

from kubeproof.kinds import NAMESPACED
from kubeproof.model import Context, Resource, Violation
from kubeproof.registry import rule
from kubeproof.rules.common import quote


@rule("KP0401", "default-namespace", practice=4, severity="high", kinds=NAMESPACED)
def default_namespace(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Namespaced object placed explicitly in the `default` namespace.

    What:
        A namespaced object whose `metadata.namespace` is `default`.

    Why:
        `default` has no owner, no quota, no network policy and no Pod Security
        label by design; everything that lands there shares one flat trust
        zone. Namespaces are the unit of RBAC, quota and policy.

    How:
        Create a namespace per team or application and set `metadata.namespace`.

    Example:
        ```yaml
        metadata:
          name: web
          namespace: shop
        ```
    """
    if res.namespace == "default":
        yield Violation(("metadata", "namespace"),
                        f"{res.kind} {quote(res.name)} is in the \"default\" namespace")


@rule("KP0402", "namespace-unset", practice=4, severity="low", kinds=NAMESPACED, fixable=True)
def namespace_unset(res: Resource, ctx: Context) -> Iterator[Violation]:
    """Namespaced object with no `metadata.namespace`.

    What:
        A namespaced built-in object whose manifest does not say which namespace
        it belongs to.

    Why:
        Without a namespace the object lands wherever `kubectl -n` or the
        current context points, often `default`; the same file deploys
        differently for different people.

    How:
        Set `metadata.namespace` explicitly (or let Kustomize's `namespace:` set it).

    Example:
        ```yaml
        metadata:
          name: web
          namespace: shop
        ```
    """
    if res.namespace is None:
        yield Violation(("metadata", "namespace"),
                        f"{res.kind} {quote(res.name)} has no metadata.namespace")
