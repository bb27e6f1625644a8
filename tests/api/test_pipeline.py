"""The processing job through the API: MP4 for animations, placeholders, dedup, payloads."""

from __future__ import annotations

import io

import av
import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from tests import imagegen
from tests.helpers import container_of, drain_jobs

pytestmark = pytest.mark.anyio


def _animated_gif(frames: int = 6, durations: tuple[int, ...] = (40, 80)) -> bytes:
    images = [
        Image.new("RGB", (64, 48), ((i * 40) % 256, 255 - (i * 30) % 256, 60))
        for i in range(frames)
    ]
    out = io.BytesIO()
    images[0].save(
        out,
        "GIF",
        save_all=True,
        append_images=images[1:],
        duration=[durations[i % len(durations)] for i in range(frames)],
        loop=0,
    )
    return out.getvalue()


async def test_animation_gets_an_mp4_eagerly(app: FastAPI, client: httpx.AsyncClient) -> None:
    created = (await client.post("/api/v1/images", content=_animated_gif())).json()
    assert created["links"]["mp4"].endswith(f"/{created['id']}.mp4")
    await drain_jobs(container_of(app))
    meta = container_of(app).meta
    image = await meta.get_image(created["id"])
    assert image is not None
    assert await meta.get_variant(image.blob_hash, "full", "mp4") is not None  # eager

    response = await client.get(f"/{created['id']}.mp4")

    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(response.content)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        assert stream.codec_context.name == "h264"
    assert len(frames) == 6
    assert (frames[0].width, frames[0].height) == (64, 48)
    total_ms = sum(float(f.duration * f.time_base) * 1000 for f in frames if f.duration)
    assert abs(total_ms - 3 * (40 + 80)) <= 6
    ranged = await client.get(f"/{created['id']}.mp4", headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206  # browsers seek videos with ranges


async def test_still_images_and_small_variants_have_no_mp4(client: httpx.AsyncClient) -> None:
    still = (await client.post("/api/v1/images", content=imagegen.jpeg_bytes())).json()
    animated = (await client.post("/api/v1/images", content=_animated_gif())).json()

    assert still["links"]["mp4"] is None
    assert (await client.get(f"/{still['id']}.mp4")).status_code == 404
    assert (await client.get(f"/{animated['id']}t.mp4")).status_code == 404


async def test_processing_records_a_placeholder(app: FastAPI, client: httpx.AsyncClient) -> None:
    red = Image.new("RGB", (300, 200), (220, 20, 30))
    red.paste((20, 20, 220), (0, 0, 60, 40))
    out = io.BytesIO()
    red.save(out, "PNG")
    created = (await client.post("/api/v1/images", content=out.getvalue())).json()

    await drain_jobs(container_of(app))
    info = (await client.get(f"/api/v1/images/{created['id']}")).json()

    assert info["status"] == "ready"
    assert len(info["placeholder"]) >= 6
    red_part, green, blue = (int(info["colour"][i : i + 2], 16) for i in (1, 3, 5))
    assert red_part > 180
    assert green < 60
    assert blue < 80


async def test_identical_uploads_are_stored_and_processed_once(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    data = imagegen.jpeg_bytes(500, 300, seed=7)
    first = (await client.post("/api/v1/images", content=data)).json()
    second = (await client.post("/api/v1/images", content=data)).json()
    meta = container_of(app).meta
    a, b = await meta.get_image(first["id"]), await meta.get_image(second["id"])
    assert a is not None
    assert b is not None

    jobs = await drain_jobs(container_of(app))

    assert a.blob_hash == b.blob_hash
    blob = await meta.get_blob(a.blob_hash)
    assert blob is not None
    assert blob.refcount == 2
    assert jobs == 1  # one blob, one processing job
    await client.delete(
        f"/api/v1/images/{first['id']}", headers={"X-Delete-Token": first["delete_token"]}
    )
    blob = await meta.get_blob(a.blob_hash)
    assert blob is not None
    assert blob.refcount == 1


async def test_an_mp4_failure_does_not_hold_back_the_images(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pixstash.errors import PixstashError

    def broken(*args: object, **kwargs: object) -> bytes:
        raise PixstashError("encoder exploded")

    monkeypatch.setattr("pixstash.processing.pillow_engine.encode_mp4", broken)
    created = (await client.post("/api/v1/images", content=_animated_gif())).json()

    await drain_jobs(container_of(app))

    info = (await client.get(f"/api/v1/images/{created['id']}")).json()
    assert info["status"] == "ready"
    meta = container_of(app).meta
    image = await meta.get_image(created["id"])
    assert image is not None
    assert await meta.get_variant(image.blob_hash, "thumb", "gif") is not None
    assert await meta.get_variant(image.blob_hash, "full", "mp4") is None
    monkeypatch.undo()
    assert (await client.get(f"/{created['id']}.mp4")).status_code == 200  # made on request
