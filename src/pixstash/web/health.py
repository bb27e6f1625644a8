"""Liveness (``/healthz``) and readiness (``/readyz``: database, storage, queue, cache and
the malware scanner unless it is ``none``)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from pixstash.errors import PixstashError
from pixstash.web.deps import ContainerDep

router = APIRouter(tags=["health"])
_CHECK_TIMEOUT = 3.0


def _example(body: dict[str, object]) -> dict[int | str, dict[str, object]]:
    return {200: {"content": {"application/json": {"example": body}}}}


@router.get("/healthz", summary="Liveness", responses=_example({"status": "ok"}))
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness of every backend",
    responses=_example(
        {
            "status": "ok",
            "checks": {"database": "ok", "storage": "ok", "queue": "ok", "cache": "ok"},
        }
    ),
)
async def readyz(container: ContainerDep) -> JSONResponse:
    checks = {
        "database": container.meta.ping(),
        "storage": container.store.check(),
        "queue": container.queue.check(),
        "cache": container.locks.check(),
    }
    if container.scanner.name != "none":
        checks["scanner"] = container.scanner.check()
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check, _CHECK_TIMEOUT)
            results[name] = "ok"
        except (PixstashError, OSError, TimeoutError) as exc:
            results[name] = f"down: {exc}" if str(exc) else "down"
    ready = all(v == "ok" for v in results.values())
    down = [name for name, v in results.items() if v != "ok"]
    body: dict[str, object] = {"status": "ok" if ready else "unavailable", "checks": results}
    if down:
        body["down"] = down
    return JSONResponse(
        body, status_code=200 if ready else 503, headers={} if ready else {"Retry-After": "5"}
    )
