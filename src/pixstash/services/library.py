"""A user's images ("My images") and the public "recent" images: keyset-paged listings;
editing titles, descriptions and visibility.

Pages are ordered newest first by ``(created_at, id)`` and continue after the last key of
the previous page, never with OFFSET: a page costs the same at any depth, and images
uploaded meanwhile neither repeat nor skip rows. The cursor is that key, opaque to clients.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from pixstash.db.base import MetadataStore
from pixstash.domain.accounts import Principal
from pixstash.domain.albums import parse_visibility
from pixstash.domain.ids import is_public_id
from pixstash.domain.model import Image, Visibility
from pixstash.errors import (
    BadRequest,
    ImageNotFound,
    InvalidCursor,
    InvalidVisibility,
    PrivateNeedsAccount,
)
from pixstash.services.images import ImageService
from pixstash.services.uploads import MAX_DESCRIPTION, MAX_TITLE, trim_text

PAGE_DEFAULT = 30
PAGE_MAX = 100
EDITABLE = {"title": MAX_TITLE, "description": MAX_DESCRIPTION}
CHANGEABLE = (*EDITABLE, "visibility")


@dataclass(frozen=True, slots=True)
class ImagePage:
    images: list[Image]
    next_cursor: str | None  # None on the last page


def encode_cursor(image: Image) -> str:
    raw = json.dumps([image.created_at.isoformat(), image.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, public_id = json.loads(raw)
        when = datetime.fromisoformat(created)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidCursor() from exc
    if when.tzinfo is None or not isinstance(public_id, str) or not is_public_id(public_id):
        raise InvalidCursor()
    return when, public_id


class LibraryService:
    def __init__(self, meta: MetadataStore, images: ImageService) -> None:
        self.meta = meta
        self.images = images

    async def list_owned(
        self, owner_id: int, *, limit: int = PAGE_DEFAULT, cursor: str | None = None
    ) -> ImagePage:
        if not 1 <= limit <= PAGE_MAX:
            raise BadRequest(f"limit is 1 to {PAGE_MAX}.")
        after = decode_cursor(cursor) if cursor else None
        # one more than asked tells whether another page follows
        found = await self.meta.list_owned_images(
            owner_id, limit=limit + 1, after=after, now=self.images.clock()
        )
        page = found[:limit]
        more = len(found) > limit
        return ImagePage(page, encode_cursor(page[-1]) if more and page else None)

    async def list_recent(
        self, *, limit: int = PAGE_DEFAULT, cursor: str | None = None
    ) -> ImagePage:
        """Public images, newest first; expired ones are left out."""
        if not 1 <= limit <= PAGE_MAX:
            raise BadRequest(f"limit is 1 to {PAGE_MAX}.")
        after = decode_cursor(cursor) if cursor else None
        found = await self.meta.list_public_images(
            now=self.images.clock(), limit=limit + 1, after=after
        )
        page = found[:limit]
        more = len(found) > limit
        return ImagePage(page, encode_cursor(page[-1]) if more and page else None)

    async def update_text(
        self,
        public_id: str,
        changes: Mapping[str, str | None],
        *,
        principal: Principal | None,
        delete_token: str | None = None,
    ) -> Image:
        """Change the title, description (None clears one) and/or visibility as the
        owner, an admin, or with the image's delete token. Only images with an owner can
        become private. A change of visibility evicts the image's cached media at once."""
        unknown = set(changes) - set(CHANGEABLE)
        if unknown:
            raise BadRequest(f"Only {', '.join(CHANGEABLE)} can be changed.")
        visibility = None
        if "visibility" in changes:
            visibility = parse_visibility(changes["visibility"])
            if visibility is None:
                raise InvalidVisibility()
        image = await self.images.authorize_change(
            public_id, principal=principal, delete_token=delete_token
        )
        if visibility is Visibility.PRIVATE and image.owner_id is None:
            raise PrivateNeedsAccount()
        updated: Image | None = image
        texts = {k: v for k, v in changes.items() if k in EDITABLE}
        if texts:
            cleaned = {name: trim_text(value, EDITABLE[name]) for name, value in texts.items()}
            updated = await self.meta.update_image_text(
                image.id,
                title=cleaned.get("title", image.title),
                description=cleaned.get("description", image.description),
            )
        if visibility is not None and updated is not None and visibility is not image.visibility:
            updated = await self.meta.update_image_visibility(image.id, visibility)
            # this process's cache at once; other processes' within their cache TTL
            self.images.media.evict(image.id)
        if updated is None:  # deleted meanwhile
            raise ImageNotFound()
        return updated
