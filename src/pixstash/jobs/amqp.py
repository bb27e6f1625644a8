"""Jobs through RabbitMQ (``PIXSTASH_QUEUE_URL=amqp://user:pass@host:5672/vhost``).

The ``jobs`` table stays the outbox: a job row is committed with the image it processes.
A relay, in every process that uses this queue, moves committed rows to the broker::

    jobs row (pending) --relay: lease, publish, confirm--> row "published"
        --> <prefix>.jobs (durable, persistent messages) --> worker (bounded prefetch)
              ok:    delete the row, ack
              error: copy to <prefix>.jobs.retry.<ms> (TTL, dead-letters back), ack
              last:  copy to <prefix>.jobs.dead, row "dead", ack

* The relay leases outbox rows like a db:// claim (FOR UPDATE SKIP LOCKED on PostgreSQL),
  so concurrent relays publish each row once; a row is marked ``published`` only after
  the broker's publisher confirm. A relay that dies mid-way leaves a lease that expires
  (or that ``recover`` releases at once): the row is published again, at least once.
* The relay runs after ``notify`` (a server that just committed an upload) and whenever a
  worker finds nothing to do (rows left behind by a crashed server).
* A message is acked only after its handler succeeded or its retry/dead-letter copy was
  confirmed. A worker that dies holds no ack: the broker delivers the message again.
* Attempts are counted on the row at each delivery (one UPDATE), so deliveries to workers
  that died count too; a message whose row is gone (done by a duplicate) is dropped. The
  count is also written in the ``x-pixstash-attempts`` header of retry and dead copies.
* Rows are kept (not deleted once published) so ``stats`` and operators see what is in
  flight and what died, exactly as with db://; ``complete`` deletes the row.
* The connection is robust (aio-pika reconnects and re-declares the topology), so a
  RabbitMQ restart needs no pixstash restart. Topology is declared idempotently.

Settings in the URL's query string (everything else goes to aio-pika unchanged):

``prefix``          queue-name prefix (default ``pixstash``): ``<prefix>.jobs`` etc.
``prefetch``        unacked messages per process, basic.qos (default: CPU count, the
                    default number of workers)
``retry_delays``    seconds before attempt 2, 3, ...; the last repeats (default 5,30,120)
``connect_timeout`` seconds to reach the broker before it counts as down (default 5)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from sqlalchemy import func, select, update

from pixstash.db.engine import Database
from pixstash.db.models import JobRow
from pixstash.errors import QueueUnavailable
from pixstash.jobs.base import Job
from pixstash.jobs.dbqueue import DbJobQueue, oldest_job_age, worker_identity

log = logging.getLogger(__name__)

ATTEMPTS_HEADER = "x-pixstash-attempts"
ERROR_HEADER = "x-pixstash-error"
_RELAY_BATCH = 100
_DELIVERY_WAIT = 2.0  # seconds a claim waits for messages this process just published
_BROKER_ERRORS = (aiormq.exceptions.AMQPError, RuntimeError, OSError, TimeoutError)


@contextlib.contextmanager
def _broker_errors(doing: str) -> Iterator[None]:
    try:
        yield
    except QueueUnavailable:
        raise
    except _BROKER_ERRORS as exc:
        raise QueueUnavailable(f"RabbitMQ is unavailable ({doing}): {exc!r}") from exc


def _split_url(url: str) -> tuple[str, dict[str, str]]:
    """The broker URL for aio-pika and our own settings from its query string."""
    parts = urlsplit(url)
    ours_names = {"prefix", "prefetch", "retry_delays", "connect_timeout"}
    query = parse_qsl(parts.query, keep_blank_values=True)
    ours = {k: v for k, v in query if k in ours_names}
    theirs = urlencode([(k, v) for k, v in query if k not in ours_names])
    return urlunsplit(parts._replace(query=theirs)), ours


class AmqpJobQueue:
    def __init__(
        self,
        url: str,
        db: Database,
        *,
        prefix: str = "pixstash",
        prefetch: int | None = None,
        retry_delays: Sequence[float] = (5.0, 30.0, 120.0),
        connect_timeout: float = 5.0,
        lease_seconds: float = 60.0,
        max_attempts: int = 5,
        identity: str | None = None,
    ) -> None:
        if not retry_delays or min(retry_delays) < 0:
            raise ValueError("retry_delays must be one or more non-negative seconds")
        self.url = url
        self.db = db
        self.prefetch = max(1, prefetch or os.cpu_count() or 1)
        self.retry_delays = tuple(retry_delays)
        self.connect_timeout = connect_timeout
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.identity = identity or worker_identity()
        self.main_queue = f"{prefix}.jobs"
        self.dead_queue = f"{prefix}.jobs.dead"
        self._leases = DbJobQueue(db, lease_seconds=lease_seconds, identity=self.identity)
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._main: AbstractQueue | None = None
        self._consuming = False
        self._connect_lock = asyncio.Lock()
        self._relay_lock = asyncio.Lock()
        self._relay_task: asyncio.Task[None] | None = None
        self._relay_requested = False
        self._deliveries: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self._expected = 0  # published by this process, not yet delivered to it
        self._in_flight: dict[int, tuple[Job, AbstractIncomingMessage]] = {}
        self._wakeup = asyncio.Event()

    @classmethod
    def from_url(
        cls, url: str, *, db: Database, lease_seconds: float, max_attempts: int
    ) -> AmqpJobQueue:
        broker_url, ours = _split_url(url)
        delays = [float(s) for s in ours.get("retry_delays", "5,30,120").split(",") if s]
        return cls(
            broker_url,
            db,
            prefix=ours.get("prefix", "pixstash"),
            prefetch=int(ours["prefetch"]) if "prefetch" in ours else None,
            retry_delays=delays,
            connect_timeout=float(ours.get("connect_timeout", "5")),
            lease_seconds=lease_seconds,
            max_attempts=max_attempts,
        )

    @property
    def retry_queues(self) -> list[str]:
        return [self._retry_queue(d) for d in sorted(set(self.retry_delays))]

    @property
    def queue_names(self) -> list[str]:
        return [self.main_queue, *self.retry_queues, self.dead_queue]

    def _retry_queue(self, delay: float) -> str:
        return f"{self.main_queue}.retry.{round(delay * 1000)}"

    # -- connection and topology ----------------------------------------------------------

    async def _ready(self) -> AbstractExchange:
        if self._exchange is not None:
            return self._exchange
        async with self._connect_lock:
            if self._exchange is None:
                with _broker_errors("connecting"):
                    await self._connect()
        assert self._exchange is not None
        return self._exchange

    async def _connect(self) -> None:
        connection = await aio_pika.connect_robust(self.url, timeout=self.connect_timeout)
        try:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            await channel.set_qos(prefetch_count=self.prefetch)
            main = await channel.declare_queue(self.main_queue, durable=True)
            for delay in sorted(set(self.retry_delays)):
                await channel.declare_queue(
                    self._retry_queue(delay),
                    durable=True,
                    arguments={
                        "x-message-ttl": round(delay * 1000),
                        "x-dead-letter-exchange": "",
                        "x-dead-letter-routing-key": self.main_queue,
                    },
                )
            await channel.declare_queue(self.dead_queue, durable=True)
        except BaseException:
            await connection.close()
            raise
        self._connection, self._channel, self._main = connection, channel, main
        self._exchange = channel.default_exchange

    async def _consume(self) -> None:
        """Start taking deliveries: only in processes that claim (a server with no
        workers must not hold prefetched messages that nobody there will run)."""
        await self._ready()
        async with self._connect_lock:
            if not self._consuming:
                assert self._main is not None
                with _broker_errors("subscribing"):
                    await self._main.consume(self._on_message)
                self._consuming = True

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._expected = max(0, self._expected - 1)
        self._deliveries.put_nowait(message)
        self._wakeup.set()

    async def _publish(
        self, queue: str, body: bytes, message_id: str, attempts: int, error: str | None = None
    ) -> None:
        headers: dict[str, Any] = {ATTEMPTS_HEADER: attempts}
        if error is not None:
            headers[ERROR_HEADER] = error[:1000]
        message = aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id,
            headers=headers,
        )
        exchange = await self._ready()
        with _broker_errors("publishing"):
            await exchange.publish(message, routing_key=queue, timeout=self.connect_timeout)

    # -- the relay --------------------------------------------------------------------------

    async def relay(self) -> int:
        """Publish committed, unpublished outbox rows; returns how many this call did."""
        async with self._relay_lock:
            total = 0
            while True:
                rows = await self._lease_outbox()
                if not rows:
                    return total
                total += await self._publish_rows(rows)
                if len(rows) < _RELAY_BATCH:
                    return total

    async def _lease_outbox(self) -> list[Any]:
        """Lease a batch of outbox rows. Rows still leased by this process are taken
        too: relay passes run one at a time, so such a lease is left by a pass that
        failed, e.g. a commit whose answer a lost connection swallowed; waiting for it
        to expire would hold the job back a lease after the database is back."""
        now = time.time()
        free = (
            (JobRow.lease_until.is_(None))
            | (JobRow.lease_until < now)
            | (JobRow.locked_by == self.identity)
        )
        batch = (
            select(JobRow.id)
            .where(JobRow.state == "pending", JobRow.run_after <= now, free)
            .order_by(JobRow.id)
            .limit(_RELAY_BATCH)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(JobRow)
            .where(JobRow.id.in_(batch))
            .values(lease_until=now + self.lease_seconds, locked_by=self.identity)
            .returning(JobRow.id, JobRow.kind, JobRow.payload, JobRow.max_attempts)
        )
        async with self.db.write() as session:
            return list((await session.execute(stmt)).all())

    async def _publish_rows(self, rows: Sequence[Any]) -> int:
        async def publish(row: Any) -> None:
            body = {"id": row.id, "kind": row.kind, "payload": json.loads(row.payload)}
            await self._publish(self.main_queue, json.dumps(body).encode(), str(row.id), 0)

        self._expected += len(rows)  # before publishing: a delivery can beat the confirm
        results = await asyncio.gather(*(publish(r) for r in rows), return_exceptions=True)
        confirmed = [r.id for r, res in zip(rows, results, strict=True) if res is None]
        refused = [r.id for r, res in zip(rows, results, strict=True) if res is not None]
        self._expected = max(0, self._expected - len(refused))
        mine = JobRow.locked_by == self.identity
        async with self.db.write() as session:
            if confirmed:
                await session.execute(
                    update(JobRow)
                    .where(JobRow.id.in_(confirmed), JobRow.state == "pending", mine)
                    .values(state="published", lease_until=None, locked_by=None)
                )
            if refused:  # let the next relay pass retry them now, not after the lease
                await session.execute(
                    update(JobRow)
                    .where(JobRow.id.in_(refused), mine)
                    .values(lease_until=None, locked_by=None)
                )
        for res in results:
            if isinstance(res, BaseException):
                raise res
        return len(confirmed)

    def _kick_relay(self) -> None:
        self._relay_requested = True
        if self._relay_task is not None and not self._relay_task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._relay_task = loop.create_task(self._relay_while_requested(), name="pixstash-relay")

    async def _relay_while_requested(self) -> None:
        while self._relay_requested:
            self._relay_requested = False
            try:
                await self.relay()
            except Exception:  # the rows stay in the outbox; a worker's next pass sends them
                log.warning("outbox relay failed; will retry", exc_info=True)

    # -- the JobQueue port ------------------------------------------------------------------

    async def claim(self) -> Job | None:
        if not self._consuming:
            await self._consume()
        while True:
            message = await self._next_message()
            if message is None:
                return None
            job = await self._start(message)
            if job is not None:
                return job

    async def _next_message(self) -> AbstractIncomingMessage | None:
        if self._deliveries.empty():
            await self.relay()
        if self._deliveries.empty():
            window_full = len(self._in_flight) >= self.prefetch
            if self._expected <= 0 or window_full:
                return None
            try:  # our relay just published: the broker is about to deliver
                return await asyncio.wait_for(self._deliveries.get(), _DELIVERY_WAIT)
            except TimeoutError:
                self._expected = 0  # another process's consumer took them
                return None
        return self._deliveries.get_nowait()

    async def _start(self, message: AbstractIncomingMessage) -> Job | None:
        """Count this delivery as an attempt; None when the message must not run."""
        try:
            body = json.loads(message.body)
            job_id, kind, payload = int(body["id"]), str(body["kind"]), dict(body["payload"])
        except (ValueError, KeyError, TypeError):
            log.error("dead-lettering a malformed job message %r", message.message_id)
            await self._publish(self.dead_queue, message.body, message.message_id or "", 0)
            await self._settle(message)
            return None
        try:
            async with self.db.write() as session:
                row = (
                    await session.execute(
                        update(JobRow)
                        .where(JobRow.id == job_id, JobRow.state != "dead")
                        .values(
                            attempts=JobRow.attempts + 1,
                            state="published",
                            lease_until=None,
                            locked_by=self.identity,
                        )
                        .returning(JobRow.attempts, JobRow.max_attempts)
                    )
                ).first()
        except BaseException:
            with contextlib.suppress(*_BROKER_ERRORS):
                await message.nack(requeue=True)
            raise
        if row is None:  # done (or dead) already: this is a duplicate
            await self._settle(message)
            return None
        job = Job(job_id, kind, payload, row.attempts, row.max_attempts)
        if job.attempts > min(job.max_attempts, self.max_attempts):
            # every earlier attempt ended with its worker dying (a poison image)
            self._in_flight[id(job)] = (job, message)
            await self.fail(job, "attempts exhausted: the worker died each time")
            return None
        self._in_flight[id(job)] = (job, message)
        return job

    async def _settle(self, message: AbstractIncomingMessage) -> None:
        try:
            await message.ack()
        except _BROKER_ERRORS:  # the channel died: the broker redelivers, at least once
            log.warning("could not ack job message %s", message.message_id, exc_info=True)

    async def heartbeat(self, job: Job) -> None:
        return None  # an unacked message stays ours for as long as the connection lives

    async def complete(self, job: Job) -> None:
        _, message = self._in_flight.pop(id(job))
        try:
            async with self.db.write() as session:
                row = await session.get(JobRow, job.id)
                if row is not None:
                    await session.delete(row)
        finally:
            await self._settle(message)

    async def fail(self, job: Job, error: str) -> bool:
        _, message = self._in_flight.pop(id(job))
        dead = job.attempts >= min(job.max_attempts, self.max_attempts)
        delay = self.retry_delays[min(job.attempts, len(self.retry_delays)) - 1]
        target = self.dead_queue if dead else self._retry_queue(delay)
        await self._publish(target, message.body, str(job.id), job.attempts, error)
        await self._settle(message)
        async with self.db.write() as session:
            await session.execute(
                update(JobRow)
                .where(JobRow.id == job.id, JobRow.state != "dead")
                .values(
                    state="dead" if dead else "published",
                    locked_by=None,
                    last_error=error[:2000].replace("\x00", ""),
                )
            )
        return not dead

    async def postpone(self, job: Job, error: str, delay: float) -> None:
        _, message = self._in_flight.pop(id(job))
        # the longest retry queue not longer than asked (the shortest one at least)
        fitting = [d for d in self.retry_delays if d <= delay] or [min(self.retry_delays)]
        attempts = job.attempts - 1
        await self._publish(self._retry_queue(max(fitting)), message.body, str(job.id), attempts)
        await self._settle(message)
        async with self.db.write() as session:
            await session.execute(
                update(JobRow)
                .where(JobRow.id == job.id, JobRow.state != "dead")
                .values(
                    attempts=JobRow.attempts - 1,
                    state="published",
                    locked_by=None,
                    last_error=error[:2000].replace("\x00", ""),
                )
            )

    def notify(self) -> None:
        self._wakeup.set()
        self._kick_relay()

    async def wait(self, seconds: float) -> None:
        if self._deliveries.empty():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), seconds)
        self._wakeup.clear()

    async def recover(self) -> int:
        """Release outbox leases of relays that died on this host."""
        return await self._leases.recover()

    async def stats(self) -> dict[str, int]:
        async with self.db.read() as session:
            rows = (
                await session.execute(select(JobRow.state, func.count()).group_by(JobRow.state))
            ).all()
            oldest = await oldest_job_age(session, ["pending", "published"])
        by_state = {state: int(n) for state, n in rows}
        counts = {
            "pending": by_state.get("pending", 0) + by_state.get("published", 0),
            "dead": by_state.get("dead", 0),
            "outbox": by_state.get("pending", 0),
            "oldest_pending_seconds": oldest,
        }
        counts["queued"] = await self._message_count(self.main_queue)
        counts["retrying"] = sum([await self._message_count(q) for q in self.retry_queues])
        counts["dead_letters"] = await self._message_count(self.dead_queue)
        return counts

    async def _message_count(self, name: str) -> int:
        await self._ready()
        assert self._channel is not None
        with _broker_errors("counting messages"):
            async with asyncio.timeout(self.connect_timeout):  # a reconnecting channel waits
                channel = await self._channel.get_underlay_channel()
                declared = await channel.queue_declare(name, passive=True)
        return int(declared.message_count or 0)

    async def check(self) -> None:
        await self._message_count(self.main_queue)

    async def close(self) -> None:
        if self._relay_task is not None:
            self._relay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._relay_task
        connection, self._connection = self._connection, None
        self._channel = self._exchange = self._main = None
        self._consuming = False
        if connection is not None:
            with contextlib.suppress(*_BROKER_ERRORS):
                await connection.close()
