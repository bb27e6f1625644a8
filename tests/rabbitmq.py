"""The RabbitMQ server of this machine (127.0.0.1:5672), with queue names of a test's own.

Each queue gets a prefix ``pixstash-test-<hex>`` through the queue URL; the queues are
deleted afterwards. Without a broker the tests skip loudly, except under CI=true where
they fail: CI must exercise the amqp:// backend.
"""

from __future__ import annotations

import os
import secrets
import socket
from urllib.parse import urlsplit

import aio_pika
import pytest

BROKER_URL = os.environ.get("PIXSTASH_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def require_broker() -> None:
    parts = urlsplit(BROKER_URL)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 2).close()
    except OSError as exc:
        reason = f"RabbitMQ is not reachable at {parts.hostname}:{parts.port} ({exc})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI needs it for the amqp:// queue tests")
        pytest.skip(f"!!! {reason}: amqp:// queue tests NOT RUN")


def queue_url(**params: str | float) -> str:
    """A broker URL with a fresh queue-name prefix (and any other settings)."""
    query = {"prefix": f"pixstash-test-{secrets.token_hex(4)}", **params}
    return BROKER_URL + "?" + "&".join(f"{k}={v}" for k, v in query.items())


async def delete_queues(names: list[str]) -> None:
    connection = await aio_pika.connect(BROKER_URL)
    async with connection:
        channel = await connection.channel()
        for name in names:
            await channel.queue_delete(name, if_unused=False, if_empty=False)
