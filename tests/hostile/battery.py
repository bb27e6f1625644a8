"""Sending hostile cases to a pixstash and judging its answers against the issue's
pass criteria. Used in process (ASGI) and against a real server; it collects every
problem of a batch instead of stopping at the first, so one run shows them all."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from tests.hostile.corpus import Case, served_markers

MAX_SECONDS = 5.0
# Source MIME type -> the extension its variants are served under by default.
DEFAULT_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}
EAGER_SUFFIXES = ("", "t", "m", "l")


@dataclass
class Report:
    """What a batch did: the accepted images by case, and every broken criterion."""

    accepted: dict[str, tuple[Case, dict[str, object]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    slowest: tuple[float, str] = (0.0, "")

    def fail(self, case: Case, what: str) -> None:
        self.problems.append(f"{case.name}: {what}")

    def assert_clean(self) -> None:
        shown = "\n".join(self.problems[:40])
        more = len(self.problems) - 40
        assert not self.problems, f"{len(self.problems)} problem(s):\n{shown}" + (
            f"\n... and {more} more" if more > 0 else ""
        )


def multipart_body(case: Case, boundary: str = "pixstash-hostile-boundary") -> bytes:
    """A multipart body whose filename is sent byte for byte (no client escaping), as a
    hostile client would."""
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="image"; filename="{case.filename}"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode("utf-8", "surrogateescape")
    return head + case.data + f"\r\n--{boundary}--\r\n".encode()


def multipart_headers(boundary: str = "pixstash-hostile-boundary") -> dict[str, str]:
    return {"content-type": f"multipart/form-data; boundary={boundary}"}


def judge_answer(report: Report, case: Case, response: httpx.Response, elapsed: float) -> None:
    report.statuses[response.status_code] = report.statuses.get(response.status_code, 0) + 1
    report.slowest = max(report.slowest, (elapsed, case.name))
    if elapsed > MAX_SECONDS:
        report.fail(case, f"answered in {elapsed:.2f}s (limit {MAX_SECONDS}s)")
    status = response.status_code
    if status == 201:
        report.accepted[case.name] = (case, response.json())
        return
    if not 400 <= status < 500:
        report.fail(case, f"answered {status}: {response.text[:200]}")
        return
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        report.fail(case, f"{status} without an error code: {response.text[:200]}")
        return
    if not isinstance(code, str) or not code or code == "internal-error":
        report.fail(case, f"{status} with code {code!r}")


async def send_all(
    client: httpx.AsyncClient, cases: tuple[Case, ...] | list[Case], *, multipart: bool = False
) -> Report:
    report = Report()
    for case in cases:
        started = time.perf_counter()
        if multipart:
            response = await client.post(
                "/api/v1/images", content=multipart_body(case), headers=multipart_headers()
            )
        else:
            response = await client.post("/api/v1/images", content=case.data)
        judge_answer(report, case, response, time.perf_counter() - started)
    return report


async def check_served(
    client: httpx.AsyncClient,
    report: Report,
    *,
    extra_extensions: tuple[str, ...] = (),
    after_each: Callable[[Case], Awaitable[None]] | None = None,
) -> None:
    """After processing: every accepted image is ready or failed (never stuck pending);
    a failed one answers 404 for its media; a ready one serves its eager variants, none
    of which holds a payload marker."""
    for case, created in report.accepted.values():
        image_id = created["id"]
        info = await client.get(f"/api/v1/images/{image_id}")
        if info.status_code != 200:
            report.fail(case, f"GET info answered {info.status_code}")
            continue
        state = info.json()["status"]
        ext = DEFAULT_EXT[str(created["type"])]
        names = [f"{image_id}{suffix}.{ext}" for suffix in EAGER_SUFFIXES]
        names += [f"{image_id}.{other}" for other in extra_extensions if other != ext]
        for name in names:
            media = await client.get(f"/{name}")
            if media.status_code >= 500:
                report.fail(case, f"GET /{name} ({state}) answered {media.status_code}")
            elif state == "failed" and media.status_code != 404:
                report.fail(case, f"failed, but GET /{name} answered {media.status_code}")
            elif state == "ready" and media.status_code != 200:
                report.fail(case, f"ready, but GET /{name} answered {media.status_code}")
            elif found := served_markers(media.content):
                report.fail(case, f"GET /{name} serves payload marker(s) {found}")
        if state not in ("ready", "failed"):
            report.fail(case, f"still {state!r} after its job ran")
        if after_each is not None:
            await after_each(case)
