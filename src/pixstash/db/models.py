"""SQLAlchemy models. Alembic migrations in ``migrations/`` are the source of truth for
the schema; these mirror them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class BlobRow(Base):
    __tablename__ = "blobs"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    format: Mapped[str] = mapped_column(String(8))
    size: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    frames: Mapped[int] = mapped_column(Integer)
    refcount: Mapped[int] = mapped_column(Integer)
    # active -> deleting (refcount reached 0) -> purging (a purger claimed it; objects
    # are being removed) -> row removed. Uploads of identical content wait (409) meanwhile.
    state: Mapped[str] = mapped_column(String(10), default="active")
    state_changed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # pending | ready | failed: are the eager variants made?
    status: Mapped[str] = mapped_column(String(10), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # BlurHash and dominant colour ("#rrggbb") shown while the image loads; set by
    # processing, both or neither (migration 0002)
    placeholder: Mapped[str | None] = mapped_column(String(64), nullable=True)
    colour: Mapped[str | None] = mapped_column(String(7), nullable=True)


class ImageRow(Base):
    __tablename__ = "images"
    # "My images": a user's images newest first, paged by (created_at, id) (migration 0004)
    __table_args__ = (
        Index("ix_images_owner_created", "owner_id", "created_at", "id"),
        # migration 0005: Imgur's deletehash lookups, the "recent" page, the expiry sweeper
        Index("ix_images_delete_token_hash", "delete_token_hash"),
        Index("ix_images_visibility_created", "visibility", "created_at", "id"),
        Index("ix_images_expires_at", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    blob_hash: Mapped[str] = mapped_column(ForeignKey("blobs.hash"), index=True)
    owner_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    delete_token_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    visibility: Mapped[str] = mapped_column(String(10), default="unlisted")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # migration 0006: media GETs and bytes sent, added in batches (services/views.py)
    views: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    bandwidth: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class VariantRow(Base):
    __tablename__ = "variants"

    blob_hash: Mapped[str] = mapped_column(
        ForeignKey("blobs.hash", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    format: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    etag: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JobRow(Base):
    """Durable jobs (the outbox): written in the same transaction as what they process."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_claim", "state", "run_after"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default="pending")  # pending | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    run_after: Mapped[float] = mapped_column(Float)  # epoch seconds
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    locked_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UploadSessionRow(Base):
    """Direct uploads in progress (migration 0003); the bytes wait under ``incoming/``."""

    __tablename__ = "upload_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    filename: Mapped[str | None] = mapped_column(String(255), nullable=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    # pending | completing | completed | failed
    state: Mapped[str] = mapped_column(String(10), default="pending")
    state_changed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    image_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    owner_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # migration 0004
    # migration 0005: chosen at the start, applied at completion
    visibility: Mapped[str | None] = mapped_column(String(10), nullable=True)
    expires_in: Mapped[str | None] = mapped_column(String(8), nullable=True)


class UserRow(Base):
    """Accounts (migration 0004). ``username_key`` is the lower-cased name: unique, so
    names differing only in case cannot both exist."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(32))
    username_key: Mapped[str] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiTokenRow(Base):
    """Personal API tokens; only the SHA-256 of a token is stored (migration 0004)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WebSessionRow(Base):
    """Browser sessions (migration 0004): the cookie holds a secret, ``id`` its SHA-256."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AlbumRow(Base):
    """Albums (migration 0005): anonymous ones (``owner_id`` NULL) are changed with their
    delete token, whose SHA-256 is ``delete_token_hash``."""

    __tablename__ = "albums"
    __table_args__ = (
        Index("ix_albums_owner_created", "owner_id", "created_at", "id"),
        Index("ix_albums_delete_token_hash", "delete_token_hash"),
    )

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    delete_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    title: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    visibility: Mapped[str] = mapped_column(String(10), default="unlisted")
    cover_image_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AlbumImageRow(Base):
    """An image's place in an album (migration 0005); rows go with either side."""

    __tablename__ = "album_images"
    __table_args__ = (
        Index("ix_album_images_order", "album_id", "position"),
        Index("ix_album_images_image", "image_id"),
    )

    album_id: Mapped[str] = mapped_column(
        ForeignKey("albums.id", ondelete="CASCADE"), primary_key=True
    )
    image_id: Mapped[str] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer)
