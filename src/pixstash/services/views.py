"""Views and bandwidth of images: counted in memory, added to the database in batches.

Serving a medium costs a dict update here (``count``), never a database write: the hot
path (``web.fastpath``) stays as cheap as it was. ``flush`` adds what was counted since
the last one with one batched UPDATE (``views = views + n``), so every server process
flushes its own counts and none overwrites another's. ``flushing`` runs it every
``PIXSTASH_VIEW_FLUSH_SECONDS`` and once more at shutdown. Counts of a process that
dies between flushes are lost: they are statistics, not records.

What counts: a *view* is a GET of an image's full-size medium (``/{id}.jpg``,
``/{id}.mp4``, any format) answered 200; *bandwidth* is every media byte sent for the
image, thumbnails and ranges included. HEAD and 304 revalidations count nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from pixstash.db.base import ImageStats, ImageStatsStore
from pixstash.errors import PixstashError

log = logging.getLogger(__name__)


class ViewCounter:
    def __init__(self, store: ImageStatsStore) -> None:
        self.store = store
        self._pending: dict[str, list[int]] = {}  # image id -> [views, bytes]

    def count(self, image_id: str, sent: int, *, view: bool) -> None:
        """Hot path: one dict lookup and two integer additions."""
        entry = self._pending.get(image_id)
        if entry is None:
            self._pending[image_id] = [int(view), sent]
        else:
            entry[0] += view
            entry[1] += sent

    def pending(self, image_id: str) -> ImageStats:
        """Counted here and not flushed yet."""
        views, sent = self._pending.get(image_id, (0, 0))
        return ImageStats(views, sent)

    async def flush(self) -> int:
        """Add the counts so far to the database; returns how many images had counts.
        On failure the counts are kept for the next flush."""
        batch, self._pending = self._pending, {}
        if not batch:
            return 0
        try:
            await self.store.add_image_stats(
                {image_id: ImageStats(v, b) for image_id, (v, b) in batch.items()}
            )
        except BaseException:
            for image_id, (views, sent) in batch.items():  # put them back
                entry = self._pending.setdefault(image_id, [0, 0])
                entry[0] += views
                entry[1] += sent
            raise
        return len(batch)

    async def stats(self, image_id: str) -> ImageStats:
        """Stored counts (flushed by every server) plus this process's pending ones."""
        stored = (await self.store.image_stats([image_id])).get(image_id, ImageStats())
        mine = self.pending(image_id)
        return ImageStats(stored.views + mine.views, stored.bandwidth + mine.bandwidth)

    async def many(self, image_ids: list[str]) -> dict[str, ImageStats]:
        stored = await self.store.image_stats(image_ids)
        out = {}
        for image_id in image_ids:
            base, mine = stored.get(image_id, ImageStats()), self.pending(image_id)
            out[image_id] = ImageStats(base.views + mine.views, base.bandwidth + mine.bandwidth)
        return out

    @contextlib.asynccontextmanager
    async def flushing(self, every_seconds: float) -> AsyncIterator[None]:
        """Flush every ``every_seconds`` while the context is open, and at its end."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(every_seconds)
                await self._flush_logged()

        task = asyncio.create_task(loop(), name="pixstash-views-flush")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self._flush_logged()

    async def _flush_logged(self) -> None:
        try:
            await self.flush()
        except PixstashError as exc:  # the database is down: keep counting, retry later
            log.warning("could not store view counts yet: %s", exc)
