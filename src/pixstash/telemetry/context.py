"""The request id (and job fields) of the work in progress, for every log line.

A contextvar: each request (and each job) runs in its own task, so concurrent requests
never see each other's id. ``X-Request-ID`` from the client or nginx is kept when it is
well formed, otherwise a new one is made; jobs carry the id of the upload that made them.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from types import MappingProxyType

REQUEST_ID_HEADER = "X-Request-ID"
# nginx's $request_id is 32 hex digits; UUIDs and most tracing ids fit this too.
_WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_NONE: Mapping[str, str] = MappingProxyType({})
_fields: ContextVar[Mapping[str, str]] = ContextVar("pixstash_log_fields", default=_NONE)


def new_request_id() -> str:
    return os.urandom(16).hex()


def accepted_request_id(value: str | None) -> str | None:
    """``value`` if it is a well-formed request id (safe to log and echo), else None."""
    if value and _WELL_FORMED.fullmatch(value):
        return value
    return None


def log_fields() -> Mapping[str, str]:
    """The fields bound now (request_id, job_id, job_kind), for log formatters."""
    return _fields.get()


def current_request_id() -> str | None:
    return _fields.get().get("request_id")


@contextlib.contextmanager
def bound(**fields: str | None) -> Iterator[None]:
    """Add ``fields`` (None values are skipped) to every log line inside the block."""
    merged = {**_fields.get(), **{k: v for k, v in fields.items() if v is not None}}
    token = _fields.set(merged)
    try:
        yield
    finally:
        _fields.reset(token)
