"""Deletion: tokens, the confirmation page, 404s afterwards, reference-counted blobs."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from pixstash.config import Settings
from pixstash.errors import Conflict
from tests import imagegen
from tests.helpers import container_of, drain_jobs, snapshot

pytestmark = pytest.mark.anyio


def stored_files(tmp_path: Path) -> list[str]:
    return sorted(
        p.relative_to(tmp_path / "blobs").as_posix()
        for p in (tmp_path / "blobs").rglob("*")
        if p.is_file()
    )


async def test_delete_removes_everything(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    before = snapshot(tmp_path, settings.database_url)
    created = (await client.post("/api/v1/images", content=imagegen.jpeg_bytes())).json()
    await drain_jobs(container_of(app))
    image_id = created["id"]
    assert (await client.get(f"/{image_id}s.jpg")).status_code == 200  # an on-demand one too
    assert len(stored_files(tmp_path)) == 6  # original, full, t, m, l, s

    wrong = await client.delete(f"/api/v1/images/{image_id}", headers={"x-delete-token": "nope"})
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "invalid-delete-token"
    missing = await client.delete(f"/api/v1/images/{image_id}")
    assert missing.status_code == 403

    token = created["delete_token"]
    gone = await client.delete(f"/api/v1/images/{image_id}", headers={"x-delete-token": token})
    assert gone.status_code == 204
    for path in (
        f"/{image_id}",
        f"/api/v1/images/{image_id}",
        f"/{image_id}.jpg",
        f"/{image_id}t.jpg",
        f"/{image_id}s.jpg",
        f"/{image_id}h.png",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
    again = await client.delete(f"/api/v1/images/{image_id}", headers={"x-delete-token": token})
    assert again.status_code == 404
    assert await drain_jobs(container_of(app)) == 1  # the purge job: already done inline
    assert snapshot(tmp_path, settings.database_url) == before


async def test_shared_content_survives_until_the_last_image_goes(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path
) -> None:
    data = imagegen.png_alpha_bytes()
    first = (await client.post("/api/v1/images", content=data)).json()
    second = (await client.post("/api/v1/images", content=data)).json()
    await drain_jobs(container_of(app))
    files = stored_files(tmp_path)
    await client.delete(
        f"/api/v1/images/{first['id']}", headers={"x-delete-token": first["delete_token"]}
    )
    assert stored_files(tmp_path) == files
    assert (await client.get(f"/{second['id']}.png")).status_code == 200
    await client.delete(
        f"/api/v1/images/{second['id']}", headers={"x-delete-token": second["delete_token"]}
    )
    assert stored_files(tmp_path) == []


async def test_delete_link_confirms_then_deletes_on_post(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    created = (await client.post("/api/v1/images", content=imagegen.jpeg_bytes())).json()
    link = created["links"]["delete"]
    page = await client.get(link, headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "<form" in page.text
    assert 'method="post"' in page.text
    assert (await client.get(f"/api/v1/images/{created['id']}")).status_code == 200  # GET keeps it
    bad = await client.post(
        link.rsplit("/", 1)[0] + "/wrong-token", headers={"accept": "text/html"}
    )
    assert bad.status_code == 403
    done = await client.post(link, headers={"accept": "text/html"})
    assert done.status_code == 200
    assert (await client.get(f"/api/v1/images/{created['id']}")).status_code == 404


async def test_gc_finishes_interrupted_deletions_and_removes_orphans(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path
) -> None:
    container = container_of(app)
    kept = (await client.post("/api/v1/images", content=imagegen.jpeg_bytes(seed=1))).json()
    doomed = (await client.post("/api/v1/images", content=imagegen.jpeg_bytes(seed=2))).json()
    await drain_jobs(container)
    # a deletion whose purge never ran (a crash right after the commit)
    deleted = await container.meta.delete_image(doomed["id"])
    assert deleted is not None
    assert deleted.orphaned_hash is not None
    # an orphan blob (a crash between blob write and row commit) and a stale temp file
    await container.store.put_bytes("original/ff/ff/orphan.jpg", b"orphan")
    (tmp_path / "tmp" / "upload-stale").write_bytes(b"x")
    report = await container.maintenance.collect_garbage(grace_seconds=0)
    assert report.purged_blobs == 1
    assert report.orphan_objects == 1
    assert report.temp_files == 1
    assert await container.meta.blobs_to_purge() == []
    kept_image = await container.meta.get_image(kept["id"])
    assert kept_image is not None
    remaining = stored_files(tmp_path)
    assert len(remaining) == 5  # the kept image's original, full, t, m, l
    assert all(kept_image.blob_hash in name for name in remaining)
    assert (await client.get(f"/{kept['id']}.jpg")).status_code == 200


async def test_upload_racing_the_purge_of_identical_content_keeps_its_original(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path
) -> None:
    container = container_of(app)
    data = imagegen.jpeg_bytes(seed=7)
    first = (await client.post("/api/v1/images", content=data)).json()
    image = await container.meta.get_image(first["id"])
    assert image is not None
    await container.meta.delete_image(first["id"])  # marked deleting; purge not run yet
    put_file = container.store.put_file

    purged: list[bool] = []

    async def put_then_purge(key: str, path: Path) -> None:
        await put_file(key, path)
        if not purged:  # the purge runs between our write and our commit
            purged.append(await container.images.purge_blob(image.blob_hash))

    container.store.put_file = put_then_purge  # type: ignore[method-assign]
    second = await client.post("/api/v1/images", content=data)
    assert second.status_code == 201, second.text
    assert purged == [True]
    full = await client.get(f"/{second.json()['id']}.jpg")
    assert full.status_code == 200
    assert any(p.name.startswith(image.blob_hash) for p in (tmp_path / "blobs").rglob("*.jpg"))


async def test_a_stale_purge_cannot_touch_a_blob_in_use(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path
) -> None:
    container = container_of(app)
    created = (await client.post("/api/v1/images", content=imagegen.jpeg_bytes(seed=8))).json()
    await drain_jobs(container)
    image = await container.meta.get_image(created["id"])
    assert image is not None
    files = stored_files(tmp_path)
    assert await container.images.purge_blob(image.blob_hash, stale_after=0) is False
    assert stored_files(tmp_path) == files


async def test_a_multi_file_upload_failing_late_takes_back_the_earlier_files(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    container = container_of(app)
    before = snapshot(tmp_path, settings.database_url)
    create_image = container.meta.create_image
    calls = 0

    async def fail_second(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise Conflict("Identical content is being deleted right now; retry in a moment.")
        return await create_image(*args, **kwargs)  # type: ignore[arg-type]

    container.meta.create_image = fail_second  # type: ignore[method-assign]
    files = [
        ("image", ("a.jpg", imagegen.jpeg_bytes(seed=11), "image/jpeg")),
        ("image", ("b.jpg", imagegen.jpeg_bytes(seed=12), "image/jpeg")),
    ]
    response = await client.post("/api/v1/images", files=files)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    await drain_jobs(container)  # the safety-net purge jobs find nothing left to do
    assert snapshot(tmp_path, settings.database_url) == before
