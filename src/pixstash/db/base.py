"""The MetadataStore port: everything services need from the metadata database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pixstash.domain.model import Blob, Image, Variant


@dataclass(frozen=True, slots=True)
class NewJob:
    kind: str
    payload: dict[str, str]


@dataclass(frozen=True, slots=True)
class CreatedImage:
    image: Image
    blob_is_new: bool


@dataclass(frozen=True, slots=True)
class DeletedImage:
    image: Image
    orphaned_hash: str | None  # set when this was the blob's last reference


class MetadataStore(Protocol):
    async def create_image(
        self, image: Image, blob: Blob, jobs_if_pending: Sequence[NewJob]
    ) -> CreatedImage:
        """In one transaction: reference (or create) ``blob``, insert ``image`` and, when
        the blob's variants are not ready yet, the ``jobs_if_pending`` (outbox).

        Raises ``Conflict`` if the blob is being deleted right now (retry later) and
        retries internally on public-id collisions.
        """
        ...

    async def get_image(self, public_id: str) -> Image | None: ...

    async def delete_image(self, public_id: str) -> DeletedImage | None:
        """Remove the image; at refcount 0 the blob is marked ``deleting``."""
        ...

    async def get_blob(self, content_hash: str) -> Blob | None:
        """An active blob (``deleting`` ones are not returned)."""
        ...

    async def blob_objects(self, content_hash: str) -> list[str]:
        """Storage keys of a blob: its original and every variant."""
        ...

    async def forget_blob(self, content_hash: str) -> None:
        """Drop a ``deleting`` blob row and its variant rows, once its objects are gone."""
        ...

    async def deleting_blobs(self) -> list[str]: ...

    async def get_variant(self, content_hash: str, name: str, fmt: str) -> Variant | None: ...

    async def add_variant(self, variant: Variant) -> bool:
        """Record a stored variant; False if the blob is gone (the caller removes the object)."""
        ...

    async def set_blob_status(self, content_hash: str, status: str) -> None:
        """Set the processing status of a blob and of every image using it."""
        ...

    async def known_keys(self) -> set[str]:
        """Every storage key that some row points at (for garbage collection)."""
        ...

    async def ping(self) -> None: ...
