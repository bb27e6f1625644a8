"""Value objects shared by services and adapters."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime

from pixstash.domain.formats import OutputFormat, SourceFormat


class ImageStatus(enum.StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class Visibility(enum.StrEnum):
    PUBLIC = "public"
    UNLISTED = "unlisted"
    PRIVATE = "private"


@dataclass(frozen=True, slots=True)
class Probe:
    """What the header and a validating decode tell about an uploaded file."""

    format: SourceFormat
    width: int
    height: int
    frames: int = 1

    @property
    def animated(self) -> bool:
        return self.frames > 1

    @property
    def pixels(self) -> int:
        return self.width * self.height * self.frames


_HEX_COLOUR = re.compile(r"#[0-9a-f]{6}")


@dataclass(frozen=True, slots=True)
class Placeholder:
    """What a page shows while an image loads: a BlurHash and the dominant colour."""

    blurhash: str
    colour: str  # "#rrggbb", lower case

    def __post_init__(self) -> None:
        if not _HEX_COLOUR.fullmatch(self.colour):
            raise ValueError(f"colour must be #rrggbb, not {self.colour!r}")
        if not 6 <= len(self.blurhash) <= 64:
            raise ValueError("a placeholder blurhash is 6 to 64 characters")


@dataclass(frozen=True, slots=True)
class Blob:
    """An original, stored once per content hash and reference-counted."""

    hash: str
    format: SourceFormat
    size: int
    width: int
    height: int
    frames: int
    refcount: int = 1
    placeholder: Placeholder | None = None

    @property
    def original_key(self) -> str:
        return original_key(self.hash, self.format)


@dataclass(frozen=True, slots=True)
class Image:
    id: str
    blob_hash: str
    format: SourceFormat
    width: int
    height: int
    frames: int
    size: int
    title: str | None
    description: str | None
    visibility: Visibility
    status: ImageStatus
    created_at: datetime
    delete_token_hash: str = field(repr=False)
    owner_id: int | None = None
    expires_at: datetime | None = None
    placeholder: Placeholder | None = None  # from the blob, once processing made one

    @property
    def animated(self) -> bool:
        return self.frames > 1


@dataclass(frozen=True, slots=True)
class Variant:
    """A rendered variant of a blob, stored under ``key``."""

    blob_hash: str
    name: str
    format: OutputFormat
    key: str
    size: int
    width: int
    height: int
    etag: str


@dataclass(frozen=True, slots=True)
class Rendered:
    """Bytes produced by the processing engine for one variant."""

    data: bytes
    width: int
    height: int
    frames: int = 1


def shard(content_hash: str) -> str:
    return f"{content_hash[:2]}/{content_hash[2:4]}/{content_hash}"


# Objects sent straight to storage by clients (presigned or signed direct uploads) land
# here until the upload is completed; lifecycle rules and `pixstash gc` expire leftovers.
INCOMING_PREFIX = "incoming/"


def original_key(content_hash: str, fmt: SourceFormat) -> str:
    return f"original/{shard(content_hash)}.{fmt.extension}"


def variant_key(content_hash: str, variant_name: str, fmt: OutputFormat) -> str:
    return f"{variant_name}/{shard(content_hash)}.{fmt.extension}"
