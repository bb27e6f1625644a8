"""What only the amqp:// queue promises: confirmed persistent messages, redelivery after a
worker dies, one publication per outbox row across relays, a fast "unavailable" and a
whole upload processed through RabbitMQ. The shared contract is in test_jobqueue.py."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Callable

import aio_pika
import httpx
import pytest
from sqlalchemy import select

from pixstash.config import Settings
from pixstash.db.engine import Database
from pixstash.db.models import JobRow
from pixstash.domain.model import ImageStatus
from pixstash.errors import QueueUnavailable
from pixstash.jobs.amqp import ATTEMPTS_HEADER, ERROR_HEADER, AmqpJobQueue
from tests import imagegen, rabbitmq
from tests.contract.test_jobqueue import add_job, claim_within
from tests.helpers import container_of, drain_jobs

pytestmark = pytest.mark.anyio

MakeQueue = Callable[..., AmqpJobQueue]


@pytest.fixture
async def make_queue(db: Database) -> AsyncIterator[MakeQueue]:
    """Queues on one fresh set of broker queues (as if in several processes)."""
    rabbitmq.require_broker()
    url = rabbitmq.queue_url(prefetch=100, retry_delays=60)
    made: list[AmqpJobQueue] = []

    def make(database: Database = db, identity: str | None = None) -> AmqpJobQueue:
        queue = AmqpJobQueue.from_url(url, db=database, lease_seconds=30, max_attempts=2)
        if identity is not None:
            queue.identity = identity
        made.append(queue)
        return queue

    yield make
    for queue in made:
        await queue.close()
    await rabbitmq.delete_queues(made[0].queue_names if made else [])


async def get_message(name: str) -> aio_pika.abc.AbstractIncomingMessage:
    """Take one ready message from a queue, as an outside consumer would."""
    connection = await aio_pika.connect(rabbitmq.BROKER_URL)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        message = await queue.get(no_ack=True, fail=False, timeout=10)
        assert message is not None, f"no message in {name}"
        return message


async def test_relay_publishes_persistent_messages_with_confirms(
    db: Database, make_queue: MakeQueue
) -> None:
    queue = make_queue()
    await add_job(db, kind="process-blob")
    assert await queue.relay() == 1
    assert queue._channel is not None
    assert (await queue._channel.get_underlay_channel()).publisher_confirms
    async with db.read() as session:  # marked only once the broker confirmed it
        assert (await session.scalars(select(JobRow.state))).one() == "published"
    message = await get_message(queue.main_queue)
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    body = json.loads(message.body)
    assert body == {"id": 1, "kind": "process-blob", "payload": {"n": "0"}}
    assert message.message_id == "1"
    assert message.headers[ATTEMPTS_HEADER] == 0
    assert await queue.relay() == 0  # published rows are not sent again


async def test_a_message_unacked_by_a_dead_worker_is_delivered_again(
    db: Database, make_queue: MakeQueue
) -> None:
    await add_job(db)
    crashed = make_queue()
    job = await crashed.claim()
    assert job is not None
    assert job.attempts == 1
    await crashed.close()  # the worker dies: its connection goes, with no ack
    survivor = make_queue()
    again = await claim_within(survivor, 10)
    assert (again.id, again.attempts) == (job.id, 2)
    await survivor.complete(again)
    stats = await survivor.stats()
    assert (stats["pending"], stats["queued"], stats["dead_letters"]) == (0, 0, 0)


async def test_a_job_whose_workers_keep_dying_is_dead_lettered(
    db: Database, make_queue: MakeQueue
) -> None:
    await add_job(db)
    for attempt in (1, 2):  # max_attempts=2
        crashed = make_queue()
        job = await claim_within(crashed, 10)
        assert job.attempts == attempt
        await crashed.close()
    survivor = make_queue()
    assert await survivor.claim() is None  # not run a third time
    stats = await survivor.stats()
    assert (stats["pending"], stats["dead"], stats["dead_letters"]) == (0, 1, 1)


async def test_a_failed_job_is_dead_lettered_with_its_attempts_and_error(
    db: Database, make_queue: MakeQueue
) -> None:
    await add_job(db)
    queue = make_queue()
    job = await queue.claim()
    assert job is not None
    assert await queue.fail(job, "first") is True
    assert (await queue.stats())["retrying"] == 1
    retried = await get_message(queue.retry_queues[0])  # skip the 60 s backoff
    await queue._publish(queue.main_queue, retried.body, "1", 1)
    job = await claim_within(queue, 10)
    assert job.attempts == 2
    assert await queue.fail(job, "second") is False
    dead = await get_message(queue.dead_queue)
    assert dead.headers[ATTEMPTS_HEADER] == 2
    assert dead.headers[ERROR_HEADER] == "second"
    async with db.read() as session:
        row = (await session.scalars(select(JobRow))).one()
    assert (row.state, row.last_error) == ("dead", "second")


async def test_concurrent_relays_publish_each_job_once(db: Database, make_queue: MakeQueue) -> None:
    await add_job(db, n=60)
    other_server = Database(db.url.render_as_string(hide_password=False))
    try:
        first = make_queue(identity="one:1:1")
        second = make_queue(other_server, identity="two:1:1")
        await first._ready()
        await second._ready()
        counts = await asyncio.gather(first.relay(), second.relay())
    finally:
        await other_server.close()
    assert sum(counts) == 60
    assert (await first.stats())["queued"] == 60
    ids = [(await get_message(first.main_queue)).message_id for _ in range(60)]
    assert sorted(ids, key=int) == [str(i) for i in range(1, 61)]


async def test_a_relay_takes_back_the_lease_of_its_own_failed_pass(
    db: Database, make_queue: MakeQueue
) -> None:
    """A pass whose lease committed but whose answer a dropped connection swallowed must
    not hold the job back for a whole lease once the database is back; another relay's
    lease still counts."""
    queue = make_queue()
    held = time.time() + 3600
    await add_job(db, kind="mine", lease_until=held, locked_by=queue.identity)
    await add_job(db, kind="theirs", lease_until=held, locked_by="elsewhere:1:1")
    assert await queue.relay() == 1
    assert json.loads((await get_message(queue.main_queue)).body)["kind"] == "mine"
    assert (await queue.stats())["queued"] == 0


async def test_an_unreachable_broker_is_reported_quickly(db: Database) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    queue = AmqpJobQueue.from_url(
        f"amqp://guest:guest@127.0.0.1:{port}/?connect_timeout=1",
        db=db,
        lease_seconds=30,
        max_attempts=3,
    )
    started = time.monotonic()
    with pytest.raises(QueueUnavailable) as caught:
        await queue.check()
    assert caught.value.code == "backend-unavailable"
    with pytest.raises(QueueUnavailable):
        await queue.claim()
    assert time.monotonic() - started < 5
    await queue.close()


@pytest.fixture
def amqp_settings(settings: Settings) -> Settings:
    rabbitmq.require_broker()
    return settings.model_copy(update={"queue_url": rabbitmq.queue_url(prefetch=4)})


async def test_an_upload_is_processed_through_rabbitmq(amqp_settings: Settings) -> None:
    from pixstash.web.app import create_app

    app = create_app(amqp_settings)
    names: list[str] = []
    try:
        async with app.router.lifespan_context(app):
            container = container_of(app)
            assert isinstance(container.queue, AmqpJobQueue)
            names = container.queue.queue_names
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                created = await client.post("/api/v1/images", content=imagegen.jpeg_bytes(64, 48))
                assert created.status_code == 201, created.text
                assert await drain_jobs(container) == 1  # the relay ran after the commit
                image = await container.meta.get_image(created.json()["id"])
                assert image is not None
                assert image.status == ImageStatus.READY
                stats = await container.queue.stats()
                assert (stats["pending"], stats["queued"], stats["dead"]) == (0, 0, 0)
    finally:
        await rabbitmq.delete_queues(names)
