"""The MetadataStore port: everything services need from the metadata database."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pixstash.domain.accounts import ApiToken, User, WebSession
from pixstash.domain.albums import Album
from pixstash.domain.model import Blob, Image, Placeholder, Variant, Visibility


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


class UploadState(enum.StrEnum):
    """pending -> completing (one completer holds it) -> completed | failed; a completer
    that could not finish (object missing, backend down) puts it back to pending."""

    PENDING = "pending"
    COMPLETING = "completing"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class UploadSession:
    """A direct upload in progress: the client sends the bytes to ``key`` (under
    ``incoming/``), then completes it; ``image_id`` is set once completed."""

    id: str
    key: str
    filename: str | None
    content_type: str
    size: int  # declared by the client; the object may not be larger
    state: UploadState
    created_at: datetime
    expires_at: datetime
    title: str | None = None
    description: str | None = None
    image_id: str | None = None
    owner_id: int | None = None  # the user who started it; the image will be theirs
    visibility: str | None = None  # chosen at the start (migration 0005); None: unlisted
    expires_in: str | None = None  # "1h", "1d", "7d", "30d"; None: never


class UploadSessionStore(Protocol):
    """Upload sessions (presigned or app-signed direct uploads) in the metadata database."""

    async def create_upload_session(self, session: UploadSession) -> None: ...

    async def get_upload_session(self, session_id: str) -> UploadSession | None: ...

    async def claim_upload_session(
        self, session_id: str, *, stale_after: float
    ) -> UploadSession | None:
        """Move a pending session to completing (or take over a completing claim older
        than ``stale_after`` seconds, left by a crash); None if it cannot be claimed."""
        ...

    async def finish_upload_session(
        self, session_id: str, state: UploadState, *, image_id: str | None = None
    ) -> None:
        """Leave the completing state: back to pending, or to completed or failed. Only a
        session still completing changes (a late renewal or release cannot undo the end
        another request wrote)."""
        ...

    async def open_upload_keys(self, *, expiring_after: datetime) -> set[str]:
        """The storage keys of sessions not finished (pending, or being completed) that
        expire after ``expiring_after``: objects that may still be completed."""
        ...

    async def count_stale_upload_sessions(
        self, *, expired_before: datetime, finished_before: datetime
    ) -> int:
        """How many sessions ``delete_stale_upload_sessions`` would delete now."""
        ...

    async def delete_stale_upload_sessions(
        self, *, expired_before: datetime, finished_before: datetime
    ) -> int:
        """Delete the sessions not finished that expired before ``expired_before`` and the
        finished ones (completed or failed) that finished before ``finished_before``;
        returns how many. Completing one of them afterwards answers upload-not-found."""
        ...


class MetadataStore(Protocol):
    async def create_image(
        self, image: Image, blob: Blob, jobs_if_new: Sequence[NewJob], *, fixed_id: bool = False
    ) -> CreatedImage:
        """In one transaction: reference (or create) ``blob``, insert ``image`` and, when
        the blob is new, the ``jobs_if_new`` that process it (outbox).

        Raises ``Conflict`` if the blob is being deleted right now (retry later) and
        retries internally on public-id collisions, unless ``fixed_id``: then the id is
        the operation's own (a direct upload's), and a taken one raises ``ImageIdTaken``.
        """
        ...

    async def get_image(self, public_id: str) -> Image | None: ...

    async def delete_image(
        self, public_id: str, *, purge_job: str | None = None
    ) -> DeletedImage | None:
        """Remove the image, its places in albums and the album covers it was; at
        refcount 0 the blob is marked ``deleting`` and, if ``purge_job`` names a job
        kind, a job ``{"hash": ...}`` that purges it is committed with it."""
        ...

    async def get_blob(self, content_hash: str) -> Blob | None:
        """An active blob (one being deleted is not returned)."""
        ...

    async def claim_purge(self, content_hash: str, *, stale_after: float) -> list[str] | None:
        """Claim a blob marked for deletion and return the storage keys to remove (its
        original and every variant). None if it is not to be purged, or another purger
        holds it (a claim older than ``stale_after`` seconds is taken over)."""
        ...

    async def release_purge(self, content_hash: str) -> None:
        """Give a claim back (the purge failed; it will be retried)."""
        ...

    async def forget_blob(self, content_hash: str) -> None:
        """Drop a claimed blob's row and variant rows, once its objects are gone."""
        ...

    async def blobs_to_purge(self) -> list[str]: ...

    async def key_in_use(self, key: str) -> bool:
        """Does any row (of a blob in any state) point at this storage key?"""
        ...

    async def get_variant(self, content_hash: str, name: str, fmt: str) -> Variant | None: ...

    async def add_variant(self, variant: Variant) -> bool:
        """Record a stored variant; False if the blob is gone (the caller removes the object)."""
        ...

    async def set_blob_status(self, content_hash: str, status: str) -> None:
        """Set the processing status of a blob and of every image using it."""
        ...

    async def set_blob_placeholder(self, blob_hash: str, placeholder: Placeholder) -> None:
        """Record the placeholder (BlurHash and dominant colour) of a blob; every image
        using it shows it while loading. Idempotent: a retried job writes it again."""
        ...

    async def known_keys(self) -> set[str]:
        """Every storage key that some row points at (for garbage collection)."""
        ...

    async def list_owned_images(
        self,
        owner_id: int,
        *,
        limit: int,
        after: tuple[datetime, str] | None = None,
        now: datetime | None = None,
    ) -> list[Image]:
        """The owner's images, newest first (by ``created_at``, then ``id``), starting
        after the ``(created_at, id)`` key of the previous page's last image (keyset);
        with ``now``, without those expired at ``now``."""
        ...

    async def update_image_text(
        self, public_id: str, *, title: str | None, description: str | None
    ) -> Image | None:
        """Set the title and description; None if there is no such image."""
        ...

    async def update_image_visibility(self, public_id: str, visibility: Visibility) -> Image | None:
        """None if there is no such image."""
        ...

    async def list_public_images(
        self, *, now: datetime, limit: int, after: tuple[datetime, str] | None = None
    ) -> list[Image]:
        """Public images not expired at ``now``, newest first by ``(created_at, id)``,
        starting after the key of the previous page's last image (keyset)."""
        ...

    async def find_image_by_delete_token(self, delete_token_hash: str) -> Image | None:
        """The image whose delete token has this hash (Imgur's deletehash lookups)."""
        ...

    async def expired_image_ids(self, *, now: datetime, limit: int) -> list[str]:
        """Ids of images whose ``expires_at`` is at or before ``now`` (for the sweeper)."""
        ...

    async def ping(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ImageStats:
    views: int = 0
    bandwidth: int = 0  # bytes of media sent


class ImageStatsStore(Protocol):
    """Views and bandwidth of images, added in batches (``services.views``)."""

    async def add_image_stats(self, counts: Mapping[str, ImageStats]) -> None:
        """Add each image's counts to its stored ones (``views = views + n``), in one
        transaction; images deleted meanwhile are skipped."""
        ...

    async def image_stats(self, public_ids: Sequence[str]) -> dict[str, ImageStats]:
        """The stored counts of these images (missing ones are left out)."""
        ...


class AccountStore(Protocol):
    """Users, their API tokens and their web sessions."""

    async def create_user(
        self, username: str, password_hash: str, *, is_admin: bool, created_at: datetime
    ) -> User:
        """Raises ``UsernameTaken`` when the name is taken, whatever its case."""
        ...

    async def get_user(self, user_id: int) -> User | None: ...

    async def get_user_by_name(self, username: str) -> User | None:
        """Case-insensitive."""
        ...

    async def set_password_hash(self, user_id: int, password_hash: str) -> None: ...

    async def disable_user(self, user_id: int, *, at: datetime) -> bool:
        """In one transaction: mark the user disabled, end their web sessions and revoke
        their API tokens. False if there is no such user."""
        ...

    async def create_api_token(
        self, user_id: int, *, name: str, token_hash: str, prefix: str, created_at: datetime
    ) -> ApiToken: ...

    async def list_api_tokens(self, user_id: int) -> list[ApiToken]:
        """The user's tokens that are not revoked, newest first."""
        ...

    async def revoke_api_token(self, user_id: int, token_id: int, *, at: datetime) -> bool:
        """False if the user has no such token not revoked yet."""
        ...

    async def find_api_token(self, token_hash: str) -> tuple[ApiToken, User] | None:
        """The token with this hash (revoked or not) and its user."""
        ...

    async def touch_api_token(self, token_id: int, *, at: datetime, older_than: datetime) -> None:
        """Set ``last_used_at`` to ``at`` unless it is already later than ``older_than``
        (one conditional UPDATE, so busy tokens are written rarely)."""
        ...

    async def create_web_session(self, session: WebSession) -> None: ...

    async def find_web_session(self, id_hash: str) -> tuple[WebSession, User] | None: ...

    async def delete_web_session(self, id_hash: str) -> None: ...

    async def delete_expired_web_sessions(self, *, before: datetime) -> int: ...


@dataclass(frozen=True, slots=True)
class StoredAlbum:
    album: Album
    delete_token_hash: str | None = None  # anonymous albums; owned ones may have none


class AlbumStore(Protocol):
    """Albums and their ordered images (migration 0005). Every change sets ``updated_at``;
    changing an album that does not exist (any more) answers None."""

    async def create_album(
        self, album: Album, delete_token_hash: str | None, image_ids: Sequence[str]
    ) -> Album:
        """Insert the album with ``image_ids`` in this order (ids of images that do not
        exist are skipped); retries internally on public-id collisions."""
        ...

    async def get_album(self, album_id: str) -> StoredAlbum | None: ...

    async def find_album_by_token(self, delete_token_hash: str) -> StoredAlbum | None: ...

    async def album_images(self, album_id: str) -> list[Image]:
        """The album's images in position order (all of them, whoever may see them)."""
        ...

    async def add_album_images(
        self, album_id: str, image_ids: Sequence[str], *, at: datetime
    ) -> Album | None:
        """Append the images not in the album yet, in the order given."""
        ...

    async def remove_album_images(
        self, album_id: str, image_ids: Sequence[str], *, at: datetime
    ) -> Album | None:
        """Remove them (absent ones are ignored); the cover goes if it was one of them."""
        ...

    async def reorder_album(
        self, album_id: str, image_ids: Sequence[str], *, at: datetime
    ) -> Album | None:
        """Put the images in this order; raises ``AlbumImagesMismatch`` unless
        ``image_ids`` is exactly the album's images (checked in the same transaction)."""
        ...

    async def update_album(
        self, album_id: str, changes: dict[str, str | None], *, at: datetime
    ) -> Album | None:
        """Set some of title, description, visibility and cover_image_id."""
        ...

    async def list_owned_albums(self, owner_id: int, *, limit: int) -> list[Album]:
        """The owner's albums, newest first."""
        ...

    async def delete_album(self, album_id: str) -> bool:
        """Remove the album (not its images); False if there was none."""
        ...
