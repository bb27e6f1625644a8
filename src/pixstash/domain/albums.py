"""Albums, and who may see images and albums (visibility and expiry rules).

The rules are pure functions of (the thing, who asks, now), so services, the media
path and the tests of the authorization matrix all read the same few lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pixstash.domain.accounts import Principal
from pixstash.domain.model import Image, Visibility

# expires_in on upload: Imgur-like choices, nothing in between (None: never)
EXPIRY_CHOICES: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}


@dataclass(frozen=True, slots=True)
class Album:
    id: str
    owner_id: int | None
    title: str | None
    description: str | None
    visibility: Visibility
    cover_image_id: str | None
    image_count: int
    created_at: datetime
    updated_at: datetime


def parse_visibility(value: str | Visibility | None) -> Visibility | None:
    """The visibility named by ``value`` (case-insensitive); None if it names none."""
    if isinstance(value, Visibility):
        return value
    try:
        return Visibility((value or "").strip().lower())
    except ValueError:
        return None


def parse_expiry(value: str) -> timedelta | None:
    """The lifetime named by ``value`` (1h, 1d, 7d, 30d); None if it names none."""
    return EXPIRY_CHOICES.get(value.strip().lower())


def is_editor(owner_id: int | None, actor: Principal | None) -> bool:
    """May ``actor`` change something owned by ``owner_id`` (its owner or an admin)?"""
    return actor is not None and (actor.is_admin or owner_id == actor.user_id)


def can_view(visibility: Visibility, owner_id: int | None, actor: Principal | None) -> bool:
    """Public and unlisted things are seen by anyone with the link; private ones by
    their owner and administrators only."""
    return visibility is not Visibility.PRIVATE or is_editor(owner_id, actor)


def is_expired(image: Image, now: datetime) -> bool:
    return image.expires_at is not None and image.expires_at <= now


def image_visible(image: Image, actor: Principal | None, now: datetime) -> bool:
    return not is_expired(image, now) and can_view(image.visibility, image.owner_id, actor)
