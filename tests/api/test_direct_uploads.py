"""Direct uploads on local storage: start, send to the app's signed URL, complete."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from pixstash.config import Settings
from pixstash.db.base import UploadState
from pixstash.domain.ids import is_public_id
from pixstash.domain.model import INCOMING_PREFIX
from pixstash.errors import DatabaseUnavailable
from pixstash.services import direct_uploads
from pixstash.services.direct_uploads import STALE_CLAIM_SECONDS
from tests import imagegen
from tests.helpers import container_of, drain_jobs, snapshot

pytestmark = pytest.mark.anyio


async def start(
    client: httpx.AsyncClient, data: bytes, content_type: str = "image/jpeg", **extra: Any
) -> dict[str, Any]:
    payload = {"filename": "photo.jpg", "content_type": content_type, "size": len(data), **extra}
    response = await client.post("/api/v1/uploads", json=payload)
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


async def send(
    client: httpx.AsyncClient, ticket: dict[str, Any], data: bytes, **field_changes: str
) -> httpx.Response:
    """What every client does: POST the fields, then the file, to ``url``."""
    fields = {**ticket["fields"], **field_changes}
    return await client.post(
        ticket["url"], data=fields, files={"file": ("photo.jpg", data, "image/jpeg")}
    )


def incoming(tmp_path: Path) -> list[str]:
    root = tmp_path / "blobs" / INCOMING_PREFIX
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def with_one_more_session(before: tuple[list[str], dict[str, int]]) -> Any:
    files, counts = before
    return files, {**counts, "upload_sessions": counts["upload_sessions"] + 1}


async def test_start_send_complete_creates_the_image(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path
) -> None:
    data = imagegen.jpeg_bytes(640, 480)
    ticket = await start(client, data, title="Direct")
    assert ticket["method"] == "POST"
    assert ticket["url"] == f"http://testserver/api/v1/uploads/{ticket['upload_id']}/data"
    fields = ticket["fields"]
    assert fields["key"] == INCOMING_PREFIX + ticket["upload_id"]
    assert fields["Content-Type"] == "image/jpeg"
    assert fields["max-size"] == str(len(data))
    assert len(fields["signature"]) == 64
    expires = datetime.fromisoformat(ticket["expires_at"])
    assert timedelta(minutes=14) < expires - datetime.now(UTC) <= timedelta(minutes=15)

    sent = await send(client, ticket, data)
    assert sent.status_code == 204, sent.text
    assert incoming(tmp_path) == [ticket["upload_id"]]

    done = await client.post(f"/api/v1/uploads/{ticket['upload_id']}/complete")
    assert done.status_code == 201, done.text
    image = done.json()
    assert is_public_id(image["id"])
    assert (image["type"], image["width"], image["height"]) == ("image/jpeg", 640, 480)
    assert image["size"] == len(data)
    assert image["title"] == "Direct"
    assert image["delete_token"]
    assert image["links"]["delete"].endswith(f"/{image['id']}/delete/{image['delete_token']}")
    assert done.headers["location"] == image["links"]["page"]
    assert incoming(tmp_path) == []  # moved to original/
    originals = [p for p in (tmp_path / "blobs" / "original").rglob("*") if p.is_file()]
    assert [p.read_bytes() for p in originals] == [data]

    assert await drain_jobs(container_of(app)) == 1
    info = (await client.get(f"/api/v1/images/{image['id']}")).json()
    assert info["status"] == "ready"
    full = await client.get(image["links"]["full"])
    assert full.status_code == 200


async def test_completing_twice_answers_the_same_image(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    data = imagegen.png_alpha_bytes()
    ticket = await start(client, data, "image/png")
    assert (await send(client, ticket, data)).status_code == 204
    url = f"/api/v1/uploads/{ticket['upload_id']}/complete"
    first = await client.post(url)
    after_first = snapshot(tmp_path, settings.database_url)
    second = await client.post(url)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()  # same id, same delete token
    assert snapshot(tmp_path, settings.database_url) == after_first
    deleted = await client.delete(
        f"/api/v1/images/{first.json()['id']}",
        headers={"x-delete-token": second.json()["delete_token"]},
    )
    assert deleted.status_code == 204
    gone = await client.post(url)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "image-not-found"


async def test_start_refuses_oversized_and_unaccepted_types(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    before = snapshot(tmp_path, settings.database_url)
    too_big = await client.post(
        "/api/v1/uploads",
        json={"filename": "a.jpg", "content_type": "image/jpeg", "size": 10**9},
    )
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "file-too-large"
    svg = await client.post(
        "/api/v1/uploads",
        json={"filename": "a.svg", "content_type": "image/svg+xml", "size": 100},
    )
    assert svg.status_code == 415
    assert svg.json()["error"]["code"] == "unsupported-media-type"
    empty = await client.post(
        "/api/v1/uploads", json={"filename": "a.jpg", "content_type": "image/jpeg", "size": 0}
    )
    assert empty.status_code == 400
    assert snapshot(tmp_path, settings.database_url) == before


async def test_hostile_filename_is_only_a_label(client: httpx.AsyncClient, tmp_path: Path) -> None:
    data = imagegen.jpeg_bytes()
    ticket = await start(client, data, filename="../../etc/passwd\r\nX: 1.jpg")
    assert ticket["fields"]["key"] == INCOMING_PREFIX + ticket["upload_id"]
    assert (await send(client, ticket, data)).status_code == 204
    done = await client.post(f"/api/v1/uploads/{ticket['upload_id']}/complete")
    assert done.status_code == 201
    assert not (tmp_path.parent / "etc").exists()


@pytest.mark.parametrize(
    "change",
    [
        {"signature": "0" * 64},
        {"max-size": str(10**7)},
        {"Content-Type": "image/png"},
        {"expires": str(int(datetime.now(UTC).timestamp()) + 86400)},
        {"key": "original/evil"},
    ],
    ids=["signature", "max-size", "content-type", "expires", "key"],
)
async def test_altered_fields_are_refused(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path, change: dict[str, str]
) -> None:
    data = imagegen.jpeg_bytes()
    ticket = await start(client, data)
    before = snapshot(tmp_path, settings.database_url)
    response = await send(client, ticket, data, **change)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invalid-upload-signature"
    assert snapshot(tmp_path, settings.database_url) == before


async def test_fields_must_come_before_the_file(client: httpx.AsyncClient) -> None:
    data = imagegen.jpeg_bytes()
    ticket = await start(client, data)
    boundary = "x" * 20
    disposition = 'Content-Disposition: form-data; name="file"; filename="a.jpg"'
    parts = [f"--{boundary}\r\n{disposition}\r\n\r\n".encode() + data]
    parts += [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}'.encode()
        for k, v in ticket["fields"].items()
    ]
    body = b"\r\n".join(parts) + f"\r\n--{boundary}--\r\n".encode()
    response = await client.post(
        ticket["url"],
        content=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 403
    assert "before the file" in response.json()["error"]["message"]
    no_file = await client.post(ticket["url"], data=ticket["fields"], files={"x": ("a", b"1")})
    assert no_file.status_code == 400


async def test_expired_upload_is_refused_when_sent_and_when_completed(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    data = imagegen.jpeg_bytes()
    late = await start(client, data)
    sent_in_time = await start(client, data)
    assert (await send(client, sent_in_time, data)).status_code == 204
    service = container_of(app).direct_uploads
    service.clock = lambda: datetime.now(UTC) + timedelta(minutes=16)
    refused = await send(client, late, data)
    assert refused.status_code == 410
    assert refused.json()["error"]["code"] == "upload-expired"
    assert incoming(tmp_path) == [sent_in_time["upload_id"]]

    # a transfer that started in time may still be completed for one more period...
    in_grace = await client.post(f"/api/v1/uploads/{sent_in_time['upload_id']}/complete")
    assert in_grace.status_code == 201, in_grace.text
    # ...but no later
    service.clock = lambda: datetime.now(UTC) + timedelta(minutes=31)
    before = snapshot(tmp_path, settings.database_url)
    expired = await client.post(f"/api/v1/uploads/{late['upload_id']}/complete")
    assert expired.status_code == 410
    assert expired.json()["error"]["code"] == "upload-expired"
    assert snapshot(tmp_path, settings.database_url) == before


async def test_oversized_file_is_refused_while_streaming(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    declared = imagegen.jpeg_bytes(64, 48)
    ticket = await start(client, declared)
    before = snapshot(tmp_path, settings.database_url)
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        boundary = "b" * 16
        for name, value in ticket["fields"].items():
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            ).encode()
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="big.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
        for _ in range(1000):  # 64 MB if it were all read
            sent += 65536
            yield b"\xff" * 65536

    response = await client.post(
        ticket["url"],
        content=body(),
        headers={"content-type": "multipart/form-data; boundary=" + "b" * 16},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file-too-large"
    assert "declared" in response.json()["error"]["message"]
    assert sent < 1_000_000
    assert snapshot(tmp_path, settings.database_url) == before


@pytest.mark.parametrize(
    ("label", "data", "status", "code"),
    [
        ("text", b"just some text, not an image at all", 415, "unsupported-media-type"),
        (
            "svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>',
            415,
            "unsupported-media-type",
        ),
        ("truncated jpeg", imagegen.jpeg_bytes(300, 200)[:400], 422, "image-corrupt"),
    ],
    ids=["text", "svg", "truncated-jpeg"],
)
async def test_non_image_is_refused_deleted_and_fails_the_session(
    client: httpx.AsyncClient,
    settings: Settings,
    tmp_path: Path,
    label: str,
    data: bytes,
    status: int,
    code: str,
) -> None:
    before = snapshot(tmp_path, settings.database_url)
    ticket = await start(client, data)
    assert (await send(client, ticket, data)).status_code == 204
    url = f"/api/v1/uploads/{ticket['upload_id']}/complete"
    refused = await client.post(url)
    assert refused.status_code == status, refused.text
    assert refused.json()["error"]["code"] == code
    assert refused.json()["error"]["message"]
    # nothing stored, the object deleted, only the (failed) session row remains
    assert snapshot(tmp_path, settings.database_url) == with_one_more_session(before)
    again = await client.post(url)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "upload-failed"
    resend = await send(client, ticket, data)
    assert resend.status_code == 409


async def test_object_larger_than_declared_is_refused_at_completion(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    """What a store that does not enforce the policy (or a bug) could leave."""
    data = imagegen.jpeg_bytes()
    before = snapshot(tmp_path, settings.database_url)
    ticket = await start(client, data[:100])
    await container_of(app).store.put_bytes(ticket["fields"]["key"], data)
    refused = await client.post(f"/api/v1/uploads/{ticket['upload_id']}/complete")
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "file-too-large"
    assert snapshot(tmp_path, settings.database_url) == with_one_more_session(before)


async def test_complete_without_the_file_says_so_and_can_be_retried(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    data = imagegen.jpeg_bytes()
    ticket = await start(client, data)
    url = f"/api/v1/uploads/{ticket['upload_id']}/complete"
    before = snapshot(tmp_path, settings.database_url)
    missing = await client.post(url)
    assert missing.status_code == 409
    assert missing.json()["error"]["code"] == "upload-missing"
    assert "POST the fields and the file" in missing.json()["error"]["message"]
    assert snapshot(tmp_path, settings.database_url) == before
    assert (await send(client, ticket, data)).status_code == 204
    assert (await client.post(url)).status_code == 201


async def test_unknown_upload_is_404(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/uploads/nope/complete", "/api/v1/uploads/" + "x" * 100 + "/complete"):
        response = await client.post(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "upload-not-found"


def claim_time(database_url: str, upload_id: str) -> float:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            query = text("SELECT state_changed_at FROM upload_sessions WHERE id = :id")
            return float(conn.execute(query, {"id": upload_id}).scalar_one())
    finally:
        engine.dispose()


def age_claim(database_url: str, upload_id: str, seconds: float) -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE upload_sessions SET state_changed_at = state_changed_at - :s "
                    "WHERE id = :id"
                ),
                {"s": seconds, "id": upload_id},
            )
    finally:
        engine.dispose()


async def test_a_claim_left_by_a_dead_server_is_taken_over(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    """A server that died while completing leaves the session claimed: other requests get
    409 upload-in-progress with Retry-After until the claim is stale, then complete it."""
    data = imagegen.jpeg_bytes()
    ticket = await start(client, data)
    assert (await send(client, ticket, data)).status_code == 204
    upload_id = ticket["upload_id"]
    sessions = container_of(app).direct_uploads.sessions
    assert await sessions.claim_upload_session(upload_id, stale_after=60) is not None  # dies

    url = f"/api/v1/uploads/{upload_id}/complete"
    busy = await client.post(url)
    assert busy.status_code == 409
    assert busy.json()["error"]["code"] == "upload-in-progress"
    assert busy.headers["retry-after"] == "2"

    age_claim(settings.database_url, upload_id, STALE_CLAIM_SECONDS - 5)
    assert (await client.post(url)).status_code == 409  # not stale yet
    age_claim(settings.database_url, upload_id, 6)
    done = await client.post(url)
    assert done.status_code == 201, done.text
    assert (await client.get(f"/api/v1/images/{done.json()['id']}")).status_code == 200


async def test_a_slow_completion_renews_its_claim(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live completion is never taken over: it renews its claim while it works."""
    monkeypatch.setattr(direct_uploads, "CLAIM_RENEW_SECONDS", 0.02)
    data = imagegen.jpeg_bytes()
    ticket = await start(client, data)
    assert (await send(client, ticket, data)).status_code == 204
    upload_id = ticket["upload_id"]
    url = f"/api/v1/uploads/{upload_id}/complete"

    store = container_of(app).direct_uploads.store
    download = store.download
    entered, release = anyio.Event(), anyio.Event()

    async def slow_download(key: str, path: Path) -> None:
        entered.set()
        await release.wait()
        await download(key, path)

    monkeypatch.setattr(store, "download", slow_download)
    answers: list[httpx.Response] = []
    async with anyio.create_task_group() as tg:

        async def first() -> None:
            answers.append(await client.post(url))

        tg.start_soon(first)
        await entered.wait()
        claimed_at = claim_time(settings.database_url, upload_id)
        with anyio.fail_after(10):
            while claim_time(settings.database_url, upload_id) <= claimed_at:
                await anyio.sleep(0.01)  # polls the renewal it waits for
        busy = await client.post(url)
        assert busy.json()["error"]["code"] == "upload-in-progress"
        release.set()
    assert answers[0].status_code == 201, answers[0].text
    again = await client.post(url)
    assert (again.status_code, again.json()["id"]) == (201, answers[0].json()["id"])


async def test_a_completion_that_failed_after_its_commit_is_not_made_twice(
    client: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The image row and the session's end are two transactions. When the second fails
    (the database went away, or the server died between them), completing again answers
    the image the first one committed: no second image."""
    data = imagegen.jpeg_bytes()
    ticket = await start(client, data)
    assert (await send(client, ticket, data)).status_code == 204
    url = f"/api/v1/uploads/{ticket['upload_id']}/complete"
    sessions = container_of(app).direct_uploads.sessions
    finish = sessions.finish_upload_session
    failures = []

    async def fails_once_when_completed(
        session_id: str, state: UploadState, *, image_id: str | None = None
    ) -> None:
        if state is UploadState.COMPLETED and not failures:
            failures.append(session_id)
            raise DatabaseUnavailable()
        await finish(session_id, state, image_id=image_id)

    monkeypatch.setattr(sessions, "finish_upload_session", fails_once_when_completed)
    first = await client.post(url)
    assert first.status_code == 503
    assert first.headers["retry-after"] == "5"
    assert failures == [ticket["upload_id"]]
    done = await client.post(url)
    assert done.status_code == 201, done.text
    token = done.json()["delete_token"]
    assert snapshot(tmp_path, settings.database_url)[1]["images"] == 1
    assert incoming(tmp_path) == []
    deleted = await client.delete(
        f"/api/v1/images/{done.json()['id']}", headers={"x-delete-token": token}
    )
    assert deleted.status_code == 204


async def test_a_stalled_completion_and_its_takeover_make_one_image(
    client: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A completion stalled past its lease (no renewal got through) is taken over; when
    the stalled one wakes up, both answer the same image, and the session ends
    completed (the stalled one's late writes cannot undo it)."""
    data = imagegen.jpeg_bytes()
    ticket = await start(client, data)
    assert (await send(client, ticket, data)).status_code == 204
    upload_id = ticket["upload_id"]
    url = f"/api/v1/uploads/{upload_id}/complete"
    service = container_of(app).direct_uploads
    ingest_one = service.uploads.ingest_one
    entered, release = anyio.Event(), anyio.Event()
    calls: list[int] = []

    async def first_one_stalls(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            entered.set()
            await release.wait()
        return await ingest_one(*args, **kwargs)

    monkeypatch.setattr(service.uploads, "ingest_one", first_one_stalls)
    answers: list[httpx.Response] = []
    async with anyio.create_task_group() as tg:

        async def stalled() -> None:
            answers.append(await client.post(url))

        tg.start_soon(stalled)
        await entered.wait()
        age_claim(settings.database_url, upload_id, STALE_CLAIM_SECONDS + 1)
        takeover = await client.post(url)
        assert takeover.status_code == 201, takeover.text
        release.set()
    assert answers[0].status_code in (200, 201), answers[0].text
    assert answers[0].json()["id"] == takeover.json()["id"]
    assert snapshot(tmp_path, settings.database_url)[1]["images"] == 1
    session = await service.sessions.get_upload_session(upload_id)
    assert session is not None
    assert (session.state, session.image_id) == (UploadState.COMPLETED, takeover.json()["id"])
