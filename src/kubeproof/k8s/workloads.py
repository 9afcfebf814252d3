"""The pod spec and containers of every workload kind, found once per object.

Rules never walk ``spec.template.spec`` themselves: they ask ``res.pod`` for a
:class:`PodView`, which knows where the pod spec and the pod metadata live in
this kind and yields every container (init, regular, ephemeral) with its path.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubeproof.util.shapes import Path


class Manifest(Protocol):
    """What :func:`pod_view` reads of an object (``model.Resource``)."""

    @property
    def kind(self) -> str: ...

    @property
    def obj(self) -> dict[str, Any]: ...

    @property
    def templates(self) -> Mapping[str, Path]: ...


# Where the pod template (metadata + spec) lives, per kind. The Pod itself has
# its metadata at the root.
TEMPLATE_PATHS: dict[str, Path] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "PodTemplate": ("template",),
}
WORKLOAD_KINDS = frozenset(TEMPLATE_PATHS) | {"Pod"}

CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
# Kinds whose containers run to completion: probes do not apply to them.
BATCH_KINDS = frozenset({"Job", "CronJob"})


@dataclass(slots=True)
class ContainerView:
    data: dict[str, Any]
    path: Path
    list_name: str
    index: int

    @property
    def name(self) -> str:
        name = self.data.get("name")
        return str(name) if name is not None else f"{self.list_name}[{self.index}]"

    @property
    def security_context(self) -> dict[str, Any]:
        sc = self.data.get("securityContext")
        return sc if isinstance(sc, dict) else {}

    @property
    def is_init(self) -> bool:
        return self.list_name == "initContainers"

    @property
    def is_sidecar(self) -> bool:
        """A native sidecar: an init container with ``restartPolicy: Always``."""
        return self.is_init and self.data.get("restartPolicy") == "Always"

    @property
    def long_running(self) -> bool:
        """Regular containers and native sidecars (not init, not ephemeral)."""
        return self.list_name == "containers" or self.is_sidecar


@dataclass(slots=True)
class PodView:
    spec: dict[str, Any]
    spec_path: Path
    metadata: dict[str, Any]
    metadata_path: Path
    kind: str
    containers: list[ContainerView] = field(default_factory=list)

    @property
    def security_context(self) -> dict[str, Any]:
        sc = self.spec.get("securityContext")
        return sc if isinstance(sc, dict) else {}

    @property
    def annotations(self) -> dict[str, Any]:
        ann = self.metadata.get("annotations")
        return ann if isinstance(ann, dict) else {}

    @property
    def labels(self) -> dict[str, Any]:
        labels = self.metadata.get("labels")
        return labels if isinstance(labels, dict) else {}

    @property
    def volumes(self) -> Iterator[tuple[int, dict[str, Any]]]:
        vols = self.spec.get("volumes")
        if isinstance(vols, list):
            for i, v in enumerate(vols):
                if isinstance(v, dict):
                    yield i, v

    @property
    def is_batch(self) -> bool:
        return self.kind in BATCH_KINDS

    @property
    def is_windows(self) -> bool:
        os_ = self.spec.get("os")
        return isinstance(os_, dict) and os_.get("name") == "windows"


def _get(obj: Any, path: Path) -> Any:
    for seg in path:
        if isinstance(seg, str) and isinstance(obj, dict):
            obj = obj.get(seg)
        else:
            return None
    return obj


def template_paths(dotted: Mapping[str, str]) -> dict[str, Path]:
    """Custom kinds' pod-template paths as config ``workloads.podTemplatePaths``
    writes them (``Rollout: spec.template``), split into paths."""
    return {kind: tuple(p for p in path.split(".") if p) for kind, path in dotted.items()}


def pod_view(res: Manifest) -> PodView | None:
    """The pod view of ``res``: built-in workload kinds, and the custom kinds of
    ``res.templates``."""
    kind = res.kind
    if kind == "Pod":
        spec = res.obj.get("spec")
        meta = res.obj.get("metadata")
        spec_path: Path = ("spec",)
        meta_path: Path = ("metadata",)
    else:
        tpath = TEMPLATE_PATHS.get(kind) or res.templates.get(kind)
        if tpath is None:
            return None
        template = _get(res.obj, tpath)
        if not isinstance(template, dict):
            return None
        spec = template.get("spec")
        meta = template.get("metadata")
        spec_path = (*tpath, "spec")
        meta_path = (*tpath, "metadata")
    if not isinstance(spec, dict):
        return None
    view = PodView(
        spec=spec,
        spec_path=spec_path,
        metadata=meta if isinstance(meta, dict) else {},
        metadata_path=meta_path,
        kind=kind,
    )
    for list_name in CONTAINER_LISTS:
        items = spec.get(list_name)
        if not isinstance(items, list):
            continue
        for i, c in enumerate(items):
            if isinstance(c, dict):
                view.containers.append(ContainerView(c, (*spec_path, list_name, i), list_name, i))
    return view
