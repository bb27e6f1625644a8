"""Uploading through /api/v1/images: raw and multipart, the response, and refusals."""

from __future__ import annotations

import asyncio
import io
import re
import sqlite3
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from pixstash.config import Settings
from pixstash.domain.ids import is_public_id
from pixstash.processing.placeholder import describe
from pixstash.services.uploads import UploadMeta
from tests import imagegen
from tests.helpers import container_of, drain_jobs, snapshot

pytestmark = pytest.mark.anyio


async def test_raw_upload_answers_201_with_links_and_token(client: httpx.AsyncClient) -> None:
    data = imagegen.jpeg_bytes(800, 600)
    response = await client.post(
        "/api/v1/images?title=Sunset", content=data, headers={"content-type": "image/jpeg"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert is_public_id(body["id"])
    assert body["type"] == "image/jpeg"
    assert (body["width"], body["height"]) == (800, 600)
    assert body["size"] == len(data)
    assert body["animated"] is False
    assert body["frames"] == 1
    assert body["title"] == "Sunset"
    assert body["delete_token"]
    base = "http://testserver"
    assert body["links"] == {
        "page": f"{base}/{body['id']}",
        "full": f"{base}/{body['id']}.jpg",
        "thumb": f"{base}/{body['id']}t.jpg",
        "medium": f"{base}/{body['id']}m.jpg",
        "large": f"{base}/{body['id']}l.jpg",
        "mp4": None,  # stills have no video
        "delete": f"{base}/{body['id']}/delete/{body['delete_token']}",
    }
    assert response.headers["location"] == body["links"]["page"]


async def test_content_type_and_name_are_ignored(client: httpx.AsyncClient) -> None:
    png = imagegen.png_alpha_bytes()
    response = await client.post(
        "/api/v1/images",
        files={"image": ("holiday.jpg", png, "image/jpeg")},
    )
    assert response.status_code == 201
    assert response.json()["type"] == "image/png"
    assert response.json()["links"]["full"].endswith(".png")


async def test_multipart_with_several_images_and_fields(client: httpx.AsyncClient) -> None:
    files = [
        ("image", ("a.jpg", imagegen.jpeg_bytes(320, 200, seed=1), "image/jpeg")),
        ("image", ("b.gif", imagegen.gif_bytes(4), "image/gif")),
        ("image", ("c.webp", imagegen.webp_bytes(), "image/webp")),
    ]
    response = await client.post(
        "/api/v1/images", files=files, data={"title": "Trip", "description": "Day one"}
    )
    assert response.status_code == 201, response.text
    images = response.json()["images"]
    assert [i["type"] for i in images] == ["image/jpeg", "image/gif", "image/webp"]
    assert images[1]["animated"] is True
    assert images[1]["frames"] == 4
    assert all(i["title"] == "Trip" and i["description"] == "Day one" for i in images)
    assert len({i["id"] for i in images}) == 3


async def test_info_reports_status_and_no_token(client: httpx.AsyncClient, app: FastAPI) -> None:
    created = (
        await client.post("/api/v1/images", content=imagegen.jpeg_bytes(), headers={})
    ).json()
    info = await client.get(f"/api/v1/images/{created['id']}")
    assert info.status_code == 200
    assert info.json()["status"] == "pending"
    assert info.json()["delete_token"] is None
    assert "delete" not in info.json()["links"] or info.json()["links"]["delete"] is None
    assert await drain_jobs(container_of(app)) == 1
    ready = (await client.get(f"/api/v1/images/{created['id']}")).json()
    assert ready["status"] == "ready"


async def test_info_has_the_placeholder_once_processed(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    data = imagegen.jpeg_bytes(480, 320)
    created = (await client.post("/api/v1/images", content=data)).json()
    assert (created["placeholder"], created["colour"]) == (None, None)
    pending = (await client.get(f"/api/v1/images/{created['id']}")).json()
    assert (pending["placeholder"], pending["colour"]) == (None, None)

    container = container_of(app)
    await drain_jobs(container)
    image = await container.meta.get_image(created["id"])
    assert image is not None
    # what the processing job records (set here directly, so this test does not
    # depend on the job's wiring)
    placeholder = describe(imagegen.photo(160, 107))
    await container.meta.set_blob_placeholder(image.blob_hash, placeholder)

    info = (await client.get(f"/api/v1/images/{created['id']}")).json()
    assert info["placeholder"] == placeholder.blurhash
    assert info["colour"] == placeholder.colour
    assert re.fullmatch(r"#[0-9a-f]{6}", info["colour"])
    again = (await client.post("/api/v1/images", content=data)).json()  # same content
    assert (again["placeholder"], again["colour"]) == (info["placeholder"], info["colour"])


async def test_identical_content_is_stored_once(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path
) -> None:
    data = imagegen.jpeg_bytes(300, 300)
    first = (await client.post("/api/v1/images", content=data)).json()
    await drain_jobs(container_of(app))
    second = (await client.post("/api/v1/images", content=data)).json()
    assert first["id"] != second["id"]
    assert second["status"] == "ready"  # already processed: no second job
    assert await drain_jobs(container_of(app)) == 0
    originals = list((tmp_path / "blobs" / "original").rglob("*.jpg"))
    assert len(originals) == 1


HOSTILE = [
    ("truncated jpeg", lambda: imagegen.jpeg_bytes(400, 300)[:3000], 422, "image-corrupt"),
    ("zero bytes", lambda: b"", 400, "empty-upload"),
    (
        "text named .jpg",
        lambda: b"just some text, not a picture\n" * 10,
        415,
        "unsupported-media-type",
    ),
    (
        "html named .png",
        lambda: b"<!doctype html><html><script>alert(1)</script></html>",
        415,
        "unsupported-media-type",
    ),
    (
        "svg with script",
        lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        415,
        "unsupported-media-type",
    ),
    (
        "10000x10000 png",
        lambda: imagegen.encode(Image.new("1", (10000, 10000)), "PNG", optimize=True),
        422,
        "image-too-large",
    ),
    ("gif with 5000 frames", lambda: imagegen.gif_bytes(5000, (120, 100)), 422, "image-too-large"),
]


@pytest.mark.parametrize(("label", "make", "status", "code"), HOSTILE, ids=[h[0] for h in HOSTILE])
async def test_hostile_upload_is_refused_and_leaves_nothing(
    client: httpx.AsyncClient,
    settings: Settings,
    tmp_path: Path,
    label: str,
    make: object,
    status: int,
    code: str,
) -> None:
    assert callable(make)
    data = make()
    before = snapshot(tmp_path, settings.database_url)
    name = "evil.png" if "png" in label else "evil.jpg"
    for response in (
        await client.post("/api/v1/images", content=data),
        await client.post("/api/v1/images", files={"image": (name, data, "image/png")}),
    ):
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
        assert response.json()["error"]["message"]
    assert snapshot(tmp_path, settings.database_url) == before


def _jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(imagegen.jpeg_bytes(64, 48))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


async def test_jpeg_header_claiming_65500_squared_is_too_large(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    before = snapshot(tmp_path, settings.database_url)
    response = await client.post("/api/v1/images", content=_jpeg_claiming(65500, 65500))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "image-too-large"
    assert snapshot(tmp_path, settings.database_url) == before


async def test_one_bad_file_refuses_the_whole_request(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    before = snapshot(tmp_path, settings.database_url)
    files = [
        ("image", ("ok.jpg", imagegen.jpeg_bytes(), "image/jpeg")),
        ("image", ("bad.jpg", b"not an image at all", "image/jpeg")),
    ]
    response = await client.post("/api/v1/images", files=files)
    assert response.status_code == 415
    assert snapshot(tmp_path, settings.database_url) == before


@pytest.mark.parametrize(
    "filename",
    ["../../etc/passwd.jpg", "a\x00b.jpg", "a\r\nX-Injected: 1.jpg", "x" * 1000 + ".jpg"],
    ids=["dotdot", "nul", "crlf", "1000-chars"],
)
async def test_hostile_file_names_decide_nothing(
    client: httpx.AsyncClient, tmp_path: Path, filename: str
) -> None:
    response = await client.post(
        "/api/v1/images", files={"image": (filename, imagegen.jpeg_bytes(), "image/jpeg")}
    )
    assert response.status_code == 201, response.text
    assert "x-injected" not in response.headers
    stored = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert [p.parent.parent.parent.name for p in stored] == ["original"]
    assert not (tmp_path.parent / "etc").exists()


async def test_file_too_large_is_decided_while_streaming(
    settings: Settings, tmp_path: Path
) -> None:
    from pixstash.web.app import create_app

    small = settings.model_copy(update={"max_upload_bytes": 100_000})
    app = create_app(small)
    sent = 0

    async def body() -> object:
        nonlocal sent
        chunk = b"\xff\xd8\xff" + b"\0" * 65533
        for _ in range(1000):  # 64 MB if it were all read
            sent += len(chunk)
            yield chunk

    async with app.router.lifespan_context(app):
        before = snapshot(tmp_path, settings.database_url)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post("/api/v1/images", content=body())
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "file-too-large"
        assert sent < 1_000_000  # stopped after ~2 chunks, not 64 MB
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            declared = await client.post(
                "/api/v1/images", content=b"x" * 10, headers={"content-length": str(10**10)}
            )
        assert declared.status_code == 413
        assert snapshot(tmp_path, settings.database_url) == before


async def test_gps_and_orientation_in_served_full_variant(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    data = imagegen.jpeg_bytes(400, 200, orientation=6, gps=True)
    created = (await client.post("/api/v1/images", content=data)).json()
    assert (created["width"], created["height"]) == (200, 400)  # display size
    await drain_jobs(container_of(app))
    full = await client.get(f"/{created['id']}.jpg")
    assert full.status_code == 200
    assert imagegen.GPS_MARKER.encode() not in full.content
    served = Image.open(io.BytesIO(full.content))
    assert served.size == (200, 400)
    assert not served.getexif()


async def test_a_jpeg_that_only_fails_to_decode_later_is_marked_failed(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    # Header and end marker are intact (upload validation passes them at header cost);
    # a broken Huffman table only shows when the scan is decoded, by the job.
    data = bytearray(imagegen.jpeg_bytes(400, 300))
    dht = data.find(b"\xff\xc4")
    data[dht + 5 : dht + 21] = b"\xff" * 16
    created = await client.post("/api/v1/images", content=bytes(data))
    assert created.status_code == 201
    image_id = created.json()["id"]
    assert (await client.get(f"/{image_id}t.jpg")).status_code == 404  # on demand: fails
    info = await client.get(f"/api/v1/images/{image_id}")
    assert info.json()["status"] == "failed"  # remembered: no decode per later request
    assert await drain_jobs(container_of(app)) == 1
    assert (await client.get(f"/api/v1/images/{image_id}")).json()["status"] == "failed"
    assert (await client.get(f"/{image_id}m.webp")).status_code == 404


async def test_the_file_limit_holds_when_all_parts_arrive_in_one_chunk(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    before = snapshot(tmp_path, settings.database_url)
    tiny = imagegen.encode(Image.new("RGB", (4, 4), "red"), "PNG")
    files = [("image", (f"{n}.png", tiny, "image/png")) for n in range(25)]
    encoded = httpx.Request("POST", "http://t/", files=files)
    body = encoded.read()  # the whole multipart body, sent as one message
    response = await client.post(
        "/api/v1/images",
        content=body,
        headers={"content-type": encoded.headers["content-type"]},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too-many-files"
    assert snapshot(tmp_path, settings.database_url) == before


@pytest.mark.db_backends("sqlite")  # group commit; test_engine.py has the PostgreSQL case
async def test_an_upload_cancelled_while_its_commit_is_queued_stays_consistent(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    container = container_of(app)
    writer = container.staging.open("x.jpg")
    writer.write(imagegen.jpeg_bytes(64, 64, seed=7))
    staged = await writer.finish()
    gate = asyncio.Event()
    holding = asyncio.Event()

    async def another_writer() -> None:  # e.g. a deletion holding the write lock
        async with container.db.write():
            holding.set()
            await gate.wait()

    group = container.db._group
    assert group is not None
    batches_seen_by_cleanup: list[int] = []
    key_in_use = container.meta.key_in_use

    async def recording_key_in_use(key: str) -> bool:
        batches_seen_by_cleanup.append(group.batches)
        return await key_in_use(key)

    container.meta.key_in_use = recording_key_in_use  # type: ignore[method-assign]
    holder = asyncio.create_task(another_writer())
    await holding.wait()
    upload = asyncio.create_task(container.uploads.ingest([staged], UploadMeta()))
    while not group._draining:  # the upload's row is queued behind the lock
        await asyncio.sleep(0)
    upload.cancel()  # the client went away
    gate.set()
    await holder
    with pytest.raises(asyncio.CancelledError):
        await upload
    # The clean-up looked at the database only once the queued commit had happened
    # (before, it saw no row yet and deleted the original the row then pointed at).
    assert batches_seen_by_cleanup == [1]
    rows = sqlite3_rows(container.settings.database_url)
    assert len(rows) == 1
    for image_id in rows:  # committed anyway: it must be whole
        assert (await client.get(f"/{image_id}.jpg")).status_code == 200


def sqlite3_rows(database_url: str) -> list[str]:
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM images")]


async def test_control_characters_are_dropped_from_titles(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/images",
        files={"image": ("a.jpg", imagegen.jpeg_bytes(), "image/jpeg")},
        data={"title": " Sun\x00set\x1b[31m ", "description": "line one\nline\ttwo\x07"},
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["title"] == "Sunset[31m"
    assert body["description"] == "line one\nline\ttwo"


@pytest.mark.parametrize(
    ("update", "make", "needle"),
    [
        ({"max_frames": 5}, lambda: imagegen.gif_bytes(6, (20, 10)), "6 frames"),
        (
            {"max_decode_bytes": 1024 * 1024},
            lambda: imagegen.encode(imagegen.photo(1200, 900), "JPEG", progressive=True),
            "progressive JPEG",
        ),
    ],
    ids=["frame cap", "progressive decode memory"],
)
async def test_processing_limits_refuse_from_the_header_and_leave_nothing(
    settings: Settings, tmp_path: Path, update: dict[str, int], make: object, needle: str
) -> None:
    from pixstash.web.app import create_app

    assert callable(make)
    app = create_app(settings.model_copy(update=update))
    async with app.router.lifespan_context(app):
        before = snapshot(tmp_path, settings.database_url)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post("/api/v1/images", content=make())
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "image-too-large"
        assert needle in response.json()["error"]["message"]
        assert snapshot(tmp_path, settings.database_url) == before
