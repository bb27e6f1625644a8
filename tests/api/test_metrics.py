"""/metrics through the ASGI app: names and labels present, values move with uploads,
refusals, media hits and misses, jobs and backend outages."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi import FastAPI

from pixstash.config import Settings
from pixstash.errors import StorageUnavailable
from tests import imagegen
from tests.helpers import container_of, drain_jobs
from tests.metrics_text import Samples, metric_names, parse_samples, total, value

pytestmark = [pytest.mark.anyio, pytest.mark.db_backends("sqlite")]


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return parse_samples(response.text)


async def test_an_upload_and_a_refusal_are_counted(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    body = imagegen.jpeg_bytes(320, 240, seed=11)
    assert (await client.post("/api/v1/images", content=body)).status_code == 201
    refused = await client.post("/api/v1/images", content=b"not an image at all")
    assert refused.status_code == 415
    after = await scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("pixstash_uploads_total", status="201", code="created") == 1
    assert moved("pixstash_uploads_total", status="415", code="unsupported-media-type") == 1
    assert moved("pixstash_upload_duration_seconds_count") == 2
    assert moved("pixstash_upload_received_bytes_total") == len(body) + len(b"not an image at all")
    assert moved("pixstash_scan_verdicts_total", verdict="clean") == 2  # scanned first


async def test_queue_gauges_are_read_at_scrape_time(client: httpx.AsyncClient) -> None:
    """The first scrape reads the queue's stats; later ones within 5 s reuse them."""
    assert (await client.post("/api/v1/images", content=imagegen.jpeg_bytes(seed=16))).is_success
    samples = await scrape(client)
    assert value(samples, "pixstash_queue_jobs", state="pending") == 1
    assert value(samples, "pixstash_queue_jobs", state="dead") == 0
    assert ("pixstash_queue_oldest_pending_age_seconds", frozenset()) in samples


async def test_jobs_cache_hits_misses_and_bytes_out(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    created = await client.post("/api/v1/images", content=imagegen.jpeg_bytes(400, 300, seed=12))
    image_id = created.json()["id"]
    before = await scrape(client)
    assert await drain_jobs(container_of(app)) == 1
    miss = await client.get(f"/{image_id}t.jpg")  # resolved, then cached
    hit = await client.get(f"/{image_id}t.jpg")  # answered by the fast path
    assert miss.status_code == hit.status_code == 200
    on_demand = await client.get(f"/{image_id}s.jpg")  # not made at upload
    assert on_demand.status_code == 200
    after = await scrape(client)

    def moved(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert moved("pixstash_jobs_finished_total", kind="process-blob", outcome="completed") == 1
    assert moved("pixstash_job_duration_seconds_count", kind="process-blob") == 1
    assert moved("pixstash_media_cache_requests_total", result="miss") == 2
    assert moved("pixstash_media_cache_requests_total", result="hit") == 1
    sent = len(miss.content) + len(hit.content) + len(on_demand.content)
    assert moved("pixstash_media_sent_bytes_total") == sent
    assert moved("pixstash_variants_generated_total", variant="small") == 1
    assert value(after, "pixstash_jobs_running") == 0


async def test_backend_outage_is_counted_by_backend(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(*args: object, **kwargs: object) -> None:
        raise StorageUnavailable()

    monkeypatch.setattr(container_of(app).store, "put_file", down)
    before = await scrape(client)
    response = await client.post("/api/v1/images", content=imagegen.jpeg_bytes(seed=13))
    assert response.status_code == 503
    after = await scrape(client)
    assert (
        value(after, "pixstash_backend_errors_total", backend="storage")
        - value(before, "pixstash_backend_errors_total", backend="storage")
        == 1
    )
    assert (
        value(after, "pixstash_uploads_total", status="503", code="backend-unavailable")
        - value(before, "pixstash_uploads_total", status="503", code="backend-unavailable")
        == 1
    )


class TestWithALimitOfOneUpload:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"rate_limit_anonymous_uploads": "1/hour"})

    async def test_rate_limit_refusals_are_counted(self, client: httpx.AsyncClient) -> None:
        before = await scrape(client)
        assert (
            await client.post("/api/v1/images", content=imagegen.jpeg_bytes(seed=14))
        ).status_code == 201
        assert (
            await client.post("/api/v1/images", content=imagegen.jpeg_bytes(seed=15))
        ).status_code == 429
        after = await scrape(client)
        rule = "pixstash_rate_limit_refusals_total"
        assert (
            value(after, rule, rule="uploads-per-ip") - value(before, rule, rule="uploads-per-ip")
            == 1
        )
        assert (
            value(after, "pixstash_uploads_total", status="429", code="rate-limited")
            - value(before, "pixstash_uploads_total", status="429", code="rate-limited")
            == 1
        )


DEPLOY = Path(__file__).parents[2] / "deploy"
_METRIC = re.compile(r"\bpixstash_[a-z0-9_]+")


def dashboard_queries() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "pixstash.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def alert_queries() -> list[str]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


@pytest.mark.parametrize("queries", [dashboard_queries, alert_queries], ids=["grafana", "alerts"])
async def test_deploy_files_only_use_exported_metrics(
    client: httpx.AsyncClient, queries: Callable[[], list[str]]
) -> None:
    """A renamed metric would leave a dashboard panel empty and an alert silent forever."""
    assert (await client.post("/api/v1/images", content=imagegen.jpeg_bytes(seed=17))).is_success
    exported = metric_names((await client.get("/metrics")).text)
    used = {name for expr in queries() for name in _METRIC.findall(expr)}
    assert used, "no pixstash metric found in the queries"
    assert used - exported == set()
