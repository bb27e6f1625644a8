"""Media delivery through the ASGI app: formats, on-demand variants, headers."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Sequence
from pathlib import Path

import anyio.to_thread
import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from pixstash.domain.formats import OutputFormat, SourceFormat
from pixstash.domain.model import Rendered
from pixstash.domain.variants import VariantSpec
from tests import imagegen
from tests.helpers import container_of, drain_jobs

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("ext", ["jpg", "png", "gif", "webp", "avif"])
async def test_any_variant_in_any_format(client: httpx.AsyncClient, ext: str) -> None:
    created = (await client.post("/api/v1/images", content=imagegen.jpeg_bytes(800, 400))).json()
    response = await client.get(f"/{created['id']}m.{ext}")
    assert response.status_code == 200
    expected = "image/jpeg" if ext == "jpg" else f"image/{ext}"
    assert response.headers["content-type"] == expected
    served = Image.open(io.BytesIO(response.content))
    assert served.size == (320, 160)


async def test_unknown_extension_and_suffix_are_404(client: httpx.AsyncClient) -> None:
    created = (await client.post("/api/v1/images", content=imagegen.jpeg_bytes())).json()
    assert (await client.get(f"/{created['id']}.svg")).status_code == 404
    assert (await client.get(f"/{created['id']}x.jpg")).status_code == 404
    assert (await client.get("/zzzzzzz.jpg")).json()["error"]["code"] == "image-not-found"


class CountingEngine:
    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.renders = 0

    def probe(self, path: Path, *, max_pixels: int) -> object:
        return self.inner.probe(path, max_pixels=max_pixels)  # type: ignore[attr-defined]

    def render(
        self,
        source: Path,
        source_format: SourceFormat,
        targets: Sequence[tuple[VariantSpec, OutputFormat]],
    ) -> list[Rendered]:
        self.renders += 1
        return self.inner.render(source, source_format, targets)  # type: ignore[attr-defined,no-any-return]


async def test_concurrent_requests_render_an_on_demand_variant_once(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    container = container_of(app)
    counting = CountingEngine(container.renditions.engine)
    container.renditions.engine = counting  # type: ignore[assignment]
    created = (await client.post("/api/v1/images", content=imagegen.jpeg_bytes(1600, 1200))).json()
    responses = await asyncio.gather(*(client.get(f"/{created['id']}h.webp") for _ in range(8)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert counting.renders == 1
    await drain_jobs(container)  # the eager job renders the other variants once more
    assert counting.renders == 2


async def test_animated_gif_variants_keep_frames(client: httpx.AsyncClient, app: FastAPI) -> None:
    created = (await client.post("/api/v1/images", content=imagegen.gif_bytes(5))).json()
    assert created["links"]["thumb"].endswith("t.gif")
    await drain_jobs(container_of(app))
    gif = Image.open(io.BytesIO((await client.get(f"/{created['id']}t.gif")).content))
    assert gif.n_frames == 5
    webp = Image.open(io.BytesIO((await client.get(f"/{created['id']}.webp")).content))
    assert webp.n_frames == 5
    jpeg = Image.open(io.BytesIO((await client.get(f"/{created['id']}.jpg")).content))
    assert getattr(jpeg, "n_frames", 1) == 1


async def test_revalidation_range_and_head(client: httpx.AsyncClient, app: FastAPI) -> None:
    created = (await client.post("/api/v1/images", content=imagegen.jpeg_bytes())).json()
    await drain_jobs(container_of(app))
    url = f"/{created['id']}t.jpg"
    first = await client.get(url)
    etag = first.headers["etag"]
    cached = await client.get(url)  # answered by the fast path, before FastAPI routing
    assert cached.content == first.content
    assert dict(cached.headers) == dict(first.headers)
    not_modified = await client.get(url, headers={"if-none-match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    ranged = await client.get(url, headers={"range": "bytes=-16"})
    assert ranged.status_code == 206
    assert ranged.content == first.content[-16:]
    assert (
        ranged.headers["content-range"]
        == f"bytes {len(first.content) - 16}-{len(first.content) - 1}/{len(first.content)}"
    )
    beyond = await client.get(url, headers={"range": f"bytes={len(first.content)}-"})
    assert beyond.status_code == 416
    head = await client.head(url)
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(first.content))
    assert head.content == b""


async def test_pending_image_media_is_made_on_demand(client: httpx.AsyncClient) -> None:
    created = (await client.post("/api/v1/images", content=imagegen.webp_bytes())).json()
    assert created["status"] == "pending"
    response = await client.get(f"/{created['id']}l.webp")
    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.content)).size == (400, 300)


class GatedEngine(CountingEngine):
    """Renders only after the test opens the gate, telling it when a render is waiting."""

    def __init__(self, inner: object) -> None:
        super().__init__(inner)
        self.started = threading.Event()
        self.gate = threading.Event()

    def render(
        self,
        source: Path,
        source_format: SourceFormat,
        targets: Sequence[tuple[VariantSpec, OutputFormat]],
    ) -> list[Rendered]:
        self.started.set()
        assert self.gate.wait(10), "the test never opened the gate: was the event loop blocked?"
        return super().render(source, source_format, targets)


@pytest.fixture
def gated(app: FastAPI) -> GatedEngine:
    container = container_of(app)
    engine = GatedEngine(container.renditions.engine)
    container.renditions.engine = engine  # type: ignore[assignment]
    return engine


async def test_rendering_does_not_block_the_event_loop(
    client: httpx.AsyncClient, gated: GatedEngine
) -> None:
    created = (await client.post("/api/v1/images", content=imagegen.jpeg_bytes())).json()
    render = asyncio.create_task(client.get(f"/{created['id']}h.png"))
    assert await anyio.to_thread.run_sync(gated.started.wait, 10)
    health = await client.get("/healthz")  # the loop answers while a render is in progress
    assert health.status_code == 200
    assert not render.done()
    gated.gate.set()
    assert (await render).status_code == 200


async def test_a_requester_going_away_does_not_cancel_the_others(
    client: httpx.AsyncClient, gated: GatedEngine
) -> None:
    created = (await client.post("/api/v1/images", content=imagegen.jpeg_bytes())).json()
    first = asyncio.create_task(client.get(f"/{created['id']}b.png"))
    assert await anyio.to_thread.run_sync(gated.started.wait, 10)
    second = asyncio.create_task(client.get(f"/{created['id']}b.png"))  # joins the lookup
    await asyncio.sleep(0)
    first.cancel()
    gated.gate.set()
    assert (await second).status_code == 200
    assert gated.renders == 1


async def test_a_polyglot_jpeg_is_served_without_its_payload(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    payload = b"<html><script>alert(document.cookie)</script></html>"
    plain = imagegen.jpeg_bytes(320, 240)
    comment = b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload
    polyglot = plain[:2] + comment + plain[2:] + payload  # in a COM segment and after EOI
    created = await client.post("/api/v1/images", content=polyglot)
    assert created.status_code == 201
    await drain_jobs(container_of(app))
    for suffix in ("", "t", "l", "s"):
        served = await client.get(f"/{created.json()['id']}{suffix}.jpg")
        assert served.status_code == 200
        assert b"<script>" not in served.content
        assert served.content.endswith(b"\xff\xd9")
        assert served.headers["content-type"] == "image/jpeg"
