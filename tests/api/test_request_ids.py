"""X-Request-ID: kept from the client when well formed, answered, in every log line of
the request, and in the log lines of the job the upload made."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from pixstash.telemetry.logs import JsonFormatter
from tests import imagegen
from tests.helpers import container_of, drain_jobs

pytestmark = [pytest.mark.anyio, pytest.mark.db_backends("sqlite")]


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """pixstash's JSON log lines, as `PIXSTASH_LOG_FORMAT=json` writes them."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("pixstash")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield out
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def lines(out: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def test_a_well_formed_id_is_kept_and_reaches_the_job(
    client: httpx.AsyncClient, app: FastAPI, json_log: io.StringIO
) -> None:
    rid = "3f2a9c1e8b7d4e6fa1b2c3d4e5f60718"
    response = await client.post(
        "/api/v1/images", content=imagegen.jpeg_bytes(seed=21), headers={"X-Request-ID": rid}
    )
    assert response.status_code == 201
    assert response.headers["x-request-id"] == rid
    upload_lines = [e for e in lines(json_log) if e["message"].startswith("upload answered")]
    assert [e["request_id"] for e in upload_lines] == [rid]

    assert await drain_jobs(container_of(app)) == 1
    job_lines = [e for e in lines(json_log) if e.get("job_kind") == "process-blob"]
    assert job_lines, "the job logged nothing"
    assert {e["request_id"] for e in job_lines} == {rid}
    assert any(e["message"].endswith(" s") and " done in " in e["message"] for e in job_lines)


@pytest.mark.parametrize("sent", [None, "", "x" * 200, "bad id\r\nX-Evil: 1", "<script>"])
async def test_a_missing_or_malformed_id_is_replaced(
    client: httpx.AsyncClient, sent: str | None
) -> None:
    headers = {} if sent is None else {"X-Request-ID": sent}
    response = await client.get("/healthz", headers=headers)
    answered = response.headers["x-request-id"]
    assert answered != sent
    assert re.fullmatch(r"[0-9a-f]{32}", answered)


async def test_each_request_gets_its_own_id(client: httpx.AsyncClient) -> None:
    ids = {(await client.get("/healthz")).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


async def test_error_answers_carry_the_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/images/zzzzzzz", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "abc-123"
