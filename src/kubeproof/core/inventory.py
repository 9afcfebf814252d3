"""The container images of a set of manifests, and where each is used.

``kubeproof images`` prints this inventory and ``fix --pin-digests`` resolves
the images in it; both read the manifests the way ``scan`` does (the same
sources, so Helm charts and Kustomize folders are rendered first).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kubeproof.core.index import Index, load_index
from kubeproof.model import NO_TEMPLATES, InputError, Path
from kubeproof.sources.files import Located

if TYPE_CHECKING:
    from kubeproof.images.oci import ImageInfo


@dataclass(slots=True)
class Use:
    file: str
    line: int
    kind: str
    namespace: str | None
    name: str
    container: str

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "kind": self.kind,
                "namespace": self.namespace, "name": self.name, "container": self.container}


@dataclass(slots=True)
class Entry:
    """One image reference as written, and everything known about it."""

    image: str
    uses: list[Use] = field(default_factory=list)
    info: ImageInfo | None = None


def inventory(paths: list[str], *, keep_credentials: bool = False,
              templates: Mapping[str, Path] = NO_TEMPLATES
              ) -> tuple[Index, dict[str, Entry], list[InputError]]:
    """The index of the set (pull secrets' credentials kept when asked), every
    image reference with its uses in order of appearance, and the input errors;
    ``templates``: custom pod-template kinds (config ``workloads.podTemplatePaths``)."""
    entries: dict[str, Entry] = {}

    def visit(located: Located) -> None:
        res = located.resource
        pod = res.pod
        if pod is None:
            return
        for c in pod.containers:
            image = c.data.get("image")
            if not isinstance(image, str) or not image:
                continue
            locator = res.origin.locator
            line = locator.locate(res.origin, located.node, located.line_offset,
                                  (*c.path, "image"))[0] if locator else res.origin.line
            entries.setdefault(image, Entry(image)).uses.append(
                Use(res.origin.file, line, res.kind, res.namespace, res.name, c.name))

    index, errors = load_index(paths, keep_credentials=keep_credentials, visit=visit,
                               templates=templates)
    return index, entries, errors
