"""What the image steps read of the scan's index, as narrow interfaces.

The index is built in ``core`` (a layer above this one); the image checks and
vulnerability facts only walk its workloads, ServiceAccounts and pull secrets.
These Protocols name exactly that, so ``core.index.Index`` fits them without
this package importing it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from kubeproof.images.credentials import Credentials
from kubeproof.model import ObjectRef
from kubeproof.util.shapes import Path


class ContainerLike(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def image(self) -> str | None: ...

    @property
    def path(self) -> Path: ...


class WorkloadLike(Protocol):
    @property
    def ref(self) -> ObjectRef: ...

    @property
    def service_account(self) -> str | None: ...

    @property
    def pull_secrets(self) -> list[str]: ...

    @property
    def containers(self) -> Sequence[ContainerLike]: ...


class AccountLike(Protocol):
    @property
    def data(self) -> dict[str, Any]: ...


class SecretLike(Protocol):
    @property
    def credentials(self) -> dict[str, list[Credentials]] | None: ...


class IndexLike(Protocol):
    @property
    def workloads(self) -> Sequence[WorkloadLike]: ...

    @property
    def service_accounts(self) -> Mapping[tuple[str, str], AccountLike]: ...

    @property
    def secrets(self) -> Mapping[tuple[str, str], SecretLike]: ...
