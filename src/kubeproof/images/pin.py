"""The digest resolver behind ``kubeproof fix --pin-digests``.

The KP0101 and KP0102 fixers append ``@sha256:...`` to an image through
``FixSettings.resolve_digest``; this is that callable, backed by the registry
client. Every unpinned image of the files is resolved once, all together
(``RegistryClient.resolve_many``) before any file is edited, with the user's
credentials (``--registry-auth``, ``~/.docker/config.json``). The digest is
what the tag resolves to: for a multi-platform image the index digest, so the
pin keeps every platform.

An image that cannot be resolved is left as it is and reported once in
``failures`` (its error never holds a credential).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from kubeproof.imageref import parse_image
from kubeproof.images.check import CheckSettings

if TYPE_CHECKING:
    from kubeproof.images.registry import ImageInfo


class DigestResolver:
    """``image reference -> "sha256:..."`` (``None`` when it could not be resolved)."""

    def __init__(self, settings: CheckSettings) -> None:
        self.settings = settings
        self.digests: dict[str, str] = {}
        self.failures: dict[str, str] = {}

    def prefetch(self, images: Iterable[str]) -> None:
        """Resolve every valid unpinned reference of ``images`` in one batch."""
        from kubeproof.images.registry import RegistryClient

        wanted = [i for i in dict.fromkeys(images)
                  if not parse_image(i).invalid and not parse_image(i).pinned
                  and i not in self.digests and i not in self.failures]
        if not wanted:
            return
        with RegistryClient(self.settings.options, self.settings.user_credentials) as client:
            answers = client.resolve_many((image, ()) for image in wanted)
        for image in wanted:
            info = answers[(image, ())]
            if info.ok and info.digest:
                self.digests[image] = info.digest
            else:
                self.failures[image] = f"{info.outcome}: {info.error or 'no digest'}"

    def __call__(self, image: str) -> str | None:
        if image not in self.digests and image not in self.failures:
            self.prefetch([image])
        return self.digests.get(image)


class ImageConfigs:
    """``image reference -> ImageInfo`` (user, exposed ports) for ``kubeproof fix
    --check-images``: the unsafe fixers read it (``FixSettings.image_info``).
    Every image of the files is resolved once, all together, before any file is
    edited, with the user's credentials; one that cannot be read is ``None``
    (the fixers then go by the manifest alone) and reported in ``failures``."""

    def __init__(self, settings: CheckSettings) -> None:
        self.settings = settings
        self.infos: dict[str, ImageInfo] = {}
        self.failures: dict[str, str] = {}

    def prefetch(self, images: Iterable[str]) -> None:
        """Resolve every valid reference of ``images`` not resolved yet, in one batch."""
        from kubeproof.images.registry import RegistryClient

        wanted = [i for i in dict.fromkeys(images) if not parse_image(i).invalid
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
                self.failures[image] = f"{info.outcome}: {info.error or 'no config'}"

    def info(self, image: str) -> ImageInfo | None:
        if image not in self.infos and image not in self.failures:
            self.prefetch([image])
        return self.infos.get(image)
