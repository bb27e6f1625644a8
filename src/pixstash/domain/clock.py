"""The clock services read "now" from: one per process, so tests move time for every
service at once (``advance``) instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


def utc_now() -> datetime:
    return datetime.now(UTC)
