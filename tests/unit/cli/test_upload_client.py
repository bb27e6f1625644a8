"""The upload client's rules: what is retried and how long after, how refusals read, and
that the progress follows httpx's own multipart encoder as it reads the file."""

from __future__ import annotations

import email.utils
import io
import time
from pathlib import Path

import httpx
import pytest

from pixstash.cli.upload_client import (
    UNKNOWN_TYPE,
    RetryPolicy,
    _ProgressReader,
    content_type_of,
    failure,
    is_retryable,
    retry_after,
)
from tests import imagegen


def answer(status: int, headers: dict[str, str] | None = None, **body: object) -> httpx.Response:
    if body:
        return httpx.Response(status, headers=headers, json=body)
    return httpx.Response(status, headers=headers)


def error(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return answer(status, headers, error={"code": code, "message": f"{code} happened."})


@pytest.mark.parametrize(
    ("response", "retried"),
    [
        (error(503, "backend-unavailable", {"Retry-After": "5"}), True),
        (error(429, "rate-limited", {"Retry-After": "3"}), True),
        (answer(502), True),
        (answer(504), True),
        (error(409, "upload-in-progress", {"Retry-After": "1"}), True),
        (error(409, "upload-failed"), False),
        (error(413, "file-too-large"), False),
        (error(415, "unsupported-media-type"), False),
        (error(401, "invalid-token"), False),
        (answer(500), False),
    ],
)
def test_only_transient_answers_are_retried(response: httpx.Response, retried: bool) -> None:
    assert is_retryable(response) is retried


def test_backoff_doubles_up_to_its_bound_then_gives_up() -> None:
    policy = RetryPolicy(attempts=6, first_delay=0.5, max_delay=2.0)
    assert [policy.delay(n, None) for n in range(1, 7)] == [0.5, 1.0, 2.0, 2.0, 2.0, None]


def test_retry_after_is_followed_unless_too_long() -> None:
    policy = RetryPolicy(attempts=3, max_retry_after=60)
    assert policy.delay(1, error(503, "backend-unavailable", {"Retry-After": "7"})) == 7
    assert policy.delay(1, error(429, "rate-limited", {"Retry-After": "3600"})) is None
    assert policy.delay(3, error(503, "backend-unavailable", {"Retry-After": "1"})) is None


def test_retry_after_as_an_http_date() -> None:
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    seconds = retry_after(answer(503, {"Retry-After": later}))
    assert seconds is not None
    assert 25 <= seconds <= 31
    assert retry_after(answer(503, {"Retry-After": "soon"})) is None
    assert retry_after(answer(503)) is None


def test_a_refusal_reads_as_status_code_and_message() -> None:
    refused = failure(error(415, "unsupported-media-type"), "start")
    assert str(refused) == "415 unsupported-media-type: unsupported-media-type happened."
    assert refused.as_json() == {
        "status": 415,
        "code": "unsupported-media-type",
        "message": "unsupported-media-type happened.",
    }


def test_rate_limited_shows_the_limit_headers_and_when_to_retry() -> None:
    headers = {
        "Retry-After": "3600",
        "X-RateLimit-Limit": "50",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "1700000000",
    }
    text = str(failure(error(429, "rate-limited", headers), "start"))
    assert text.startswith("429 rate-limited: rate-limited happened.")
    assert "X-RateLimit-Limit 50, X-RateLimit-Remaining 0, X-RateLimit-Reset 1700000000" in text
    assert text.endswith("retry after 3600 s")


def test_an_s3_refusal_reads_from_its_xml() -> None:
    xml = (
        "<?xml version='1.0' encoding='UTF-8'?><Error><Code>EntityTooLarge</Code>"
        "<Message>Your proposed upload exceeds the maximum allowed size</Message></Error>"
    )
    refused = failure(httpx.Response(400, text=xml), "send")
    assert refused.code == "EntityTooLarge"
    assert str(refused) == (
        "400 EntityTooLarge: send: Your proposed upload exceeds the maximum allowed size"
    )


def test_content_type_comes_from_the_bytes_not_the_name(tmp_path: Path) -> None:
    misnamed = tmp_path / "photo.gif"
    misnamed.write_bytes(imagegen.png_alpha_bytes())
    text = tmp_path / "notes.jpg"
    text.write_text("not an image at all, whatever the name says")
    assert content_type_of(misnamed) == "image/png"
    assert content_type_of(text) == UNKNOWN_TYPE


def test_progress_follows_httpx_multipart_reads_and_keeps_a_content_length() -> None:
    data = bytes(range(256)) * 1000  # 256 kB: several of httpx's 64 KiB chunks
    seen: list[int] = []
    body = _ProgressReader(io.BytesIO(data), seen.append)
    request = httpx.Request(
        "POST",
        "http://storage.invalid/upload",
        data={"key": "incoming/x", "signature": "s"},
        files={"file": ("x.bin", body, "image/png")},
    )
    assert "Transfer-Encoding" not in request.headers  # S3 wants a length, not chunks
    sent = b"".join(request.stream)
    assert int(request.headers["Content-Length"]) == len(sent)
    assert data in sent
    assert seen[-1] == len(data)
    assert seen == sorted(seen)
    assert len([n for n in seen if 0 < n < len(data)]) >= 3  # it moved as chunks went
    # a retried send reads the file again from the start: the count restarts
    seen.clear()
    b"".join(request.stream)
    assert seen[0] == 0
    assert seen[-1] == len(data)
