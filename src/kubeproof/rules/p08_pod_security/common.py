"""What the Pod Security Standards checks share: the version gate, the
user-namespace and Windows exemptions, and the paths of security contexts."""

from __future__ import annotations

from kubeproof.core.context import Context
from kubeproof.k8s.workloads import ContainerView, PodView
from kubeproof.model import Path


def since(ctx: Context, minor: int) -> bool:
    """The checked Kubernetes version is 1.``minor`` or later."""
    return tuple(ctx.kube_version) >= (1, minor)


def user_namespace(pod: PodView) -> bool:
    """``hostUsers: false``: the pod runs in its own user namespace."""
    return pod.spec.get("hostUsers") is False


def linux_exempt(pod: PodView, ctx: Context) -> bool:
    """From 1.25, restricted's Linux-only checks skip ``os.name: windows`` pods."""
    return since(ctx, 25) and pod.is_windows


def sc_path(c: ContainerView, *rest: str | int) -> Path:
    """The path of a field of the container's securityContext."""
    return (*c.path, "securityContext", *rest)


def psc_path(pod: PodView, *rest: str | int) -> Path:
    """The path of a field of the pod's securityContext."""
    return (*pod.spec_path, "securityContext", *rest)
