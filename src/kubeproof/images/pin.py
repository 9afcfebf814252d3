"""The registry lookups behind ``kubeproof fix --pin-digests`` and ``--check-images``.

The KP0101 and KP0102 fixers append ``@sha256:...`` to an image through
``FixSettings.resolve_digest``, and the unsafe pod-security fixers read the
image's config (user, exposed ports) through ``FixSettings.image_info``: both
are views of one :class:`RegistryImages`, so an image is asked of its registry
once even when both options are given. Every image of the files is resolved
once, all together (``RegistryClient.resolve_many``) before any file is edited,
with the user's credentials (``--registry-auth``, ``~/.docker/config.json``).
The digest is what the tag resolves to: for a multi-platform image the index
digest, so the pin keeps every platform.

An image that cannot be resolved is left as it is and reported once in
``failures`` (its error never holds a credential).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from kubeproof.images.check import CheckSettings
from kubeproof.images.oci import RegistryClient
from kubeproof.k8s.imageref import parse_image

if TYPE_CHECKING:
    from kubeproof.images.oci import ImageInfo


class RegistryImages:
    """``image reference -> ImageInfo`` from its registry, each asked once."""

    def __init__(self, settings: CheckSettings) -> None:
        self.settings = settings
        self.infos: dict[str, ImageInfo] = {}
        self.failures: dict[str, str] = {}

    def prefetch(self, images: Iterable[str], *, unpinned_only: bool = False) -> None:
        """Resolve, in one batch, every valid reference of ``images`` not asked yet
        (``unpinned_only``: those without a digest, all that pinning needs)."""
        wanted = [i for i in dict.fromkeys(images)
                  if not parse_image(i).invalid and not (unpinned_only and parse_image(i).pinned)
                  and i not in self.infos and i not in self.failures]
        if not wanted:
            return
        with RegistryClient(self.settings.options, self.settings.user_credentials) as client:
            answers = client.resolve_many((image, ()) for image in wanted)
        for image in wanted:
            info = answers[(image, ())]
            if info.ok:
                self.infos[image] = info
            else:
                self.failures[image] = f"{info.outcome}: {info.error or 'no answer'}"

    def info(self, image: str) -> ImageInfo | None:
        """The image's facts (``FixSettings.image_info``); None when unknown."""
        if image not in self.infos and image not in self.failures:
            self.prefetch([image])
        return self.infos.get(image)

    def digest(self, image: str) -> str | None:
        """The digest its tag resolves to (``FixSettings.resolve_digest``)."""
        info = self.info(image)
        return info.digest if info is not None and info.digest else None

    def unpinned_failures(self) -> dict[str, str]:
        """Why each image that pinning needed got no digest."""
        out = {i: why for i, why in self.failures.items() if not parse_image(i).pinned}
        out.update((i, "no digest") for i, info in self.infos.items()
                   if not info.digest and not parse_image(i).pinned)
        return out
