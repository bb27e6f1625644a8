"""ImageStatsStore on SQLAlchemy: views and bandwidth columns of ``images``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, bindparam, select, update

from pixstash.db.base import ImageStats
from pixstash.db.engine import Database
from pixstash.db.models import ImageRow

_ADD = (
    update(ImageRow)
    .where(ImageRow.id == bindparam("image_id"))
    .values(
        views=ImageRow.views + bindparam("add_views"),
        bandwidth=ImageRow.bandwidth + bindparam("add_bandwidth"),
    )
)


class SqlImageStatsStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add_image_stats(self, counts: Mapping[str, ImageStats]) -> None:
        if not counts:
            return
        # sorted: concurrent flushes of several servers lock rows in the same order
        rows = [
            {"image_id": image_id, "add_views": c.views, "add_bandwidth": c.bandwidth}
            for image_id, c in sorted(counts.items())
        ]

        def work(conn: Connection) -> None:
            conn.execute(_ADD, rows)

        await self.db.run_write(work)

    async def image_stats(self, public_ids: Sequence[str]) -> dict[str, ImageStats]:
        if not public_ids:
            return {}
        query = select(ImageRow.id, ImageRow.views, ImageRow.bandwidth).where(
            ImageRow.id.in_(list(public_ids))
        )
        async with self.db.read() as session:
            rows = (await session.execute(query)).all()
        return {row.id: ImageStats(row.views, row.bandwidth) for row in rows}
