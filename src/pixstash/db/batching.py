"""Group commit for SQLite: concurrent write transactions share one COMMIT.

With ``synchronous=FULL`` every COMMIT waits for an fsync, and SQLite runs one writer at
a time, so per-upload transactions cap ingest at one fsync each. Work submitted while a
batch is being written queues up and goes into the next batch: under load a batch holds
every upload that arrived meanwhile, at no added latency when idle. Each piece of work
runs in its own SAVEPOINT, so one failing (a duplicate id, a conflict) rolls back alone;
a failed COMMIT fails the whole batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine

T = TypeVar("T")
Work = Callable[[Connection], Any]
_Outcome = tuple[bool, Any]  # (succeeded, value or exception)


class GroupCommitter:
    def __init__(self, engine: Engine, lock: asyncio.Lock, *, max_batch: int = 64) -> None:
        self.engine = engine
        self.lock = lock  # shared with the other writers of this process
        self.max_batch = max_batch
        self._pending: list[tuple[Work, asyncio.Future[Any]]] = []
        self._draining = False
        self._drainer: asyncio.Task[None] | None = None
        self.batches = 0

    async def submit(self, work: Callable[[Connection], T]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((work, future))
        if not self._draining:
            self._draining = True
            self._drainer = asyncio.get_running_loop().create_task(self._drain())
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # The work is queued and may be committed regardless: let the batch settle
            # so the caller's clean-up sees what really happened, then give up.
            await asyncio.wait([future])
            raise

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                await self._run(batch)
        finally:
            self._draining = False

    async def _run(self, batch: list[tuple[Work, asyncio.Future[Any]]]) -> None:
        try:
            async with self.lock:
                outcomes = await anyio.to_thread.run_sync(
                    self._in_thread, [work for work, _ in batch]
                )
            self.batches += 1
        except BaseException as exc:  # the COMMIT (or BEGIN) failed: nothing was written
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
            if future.done():  # the waiter was cancelled; its work is committed anyway
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def _in_thread(self, works: list[Work]) -> list[_Outcome]:
        outcomes: list[_Outcome] = []
        with self.engine.begin() as conn:
            for work in works:
                try:
                    with conn.begin_nested():
                        outcomes.append((True, work(conn)))
                except Exception as exc:  # this work alone is rolled back...
                    if not _in_transaction(conn):
                        # ...unless SQLite rolled back everything (disk full, I/O
                        # error): then nothing of this batch is stored; fail it whole.
                        raise
                    outcomes.append((False, exc))
        return outcomes


def _in_transaction(conn: Connection) -> bool:
    dbapi = conn.connection.dbapi_connection
    return bool(getattr(dbapi, "in_transaction", True))
