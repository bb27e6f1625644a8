"""Log output: ``text`` (for people, the default) or ``json`` (one object per line, for
log shippers), both with the request id and job fields of ``context``."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Literal

from pixstash.telemetry.context import log_fields

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = log_fields()
        if not fields:
            return line
        extra = " ".join(f"{key}={value}" for key, value in fields.items())
        head, newline, rest = line.partition("\n")  # keep tracebacks below the line
        return f"{head} [{extra}]{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", "pid", request_id?, job_id?, job_kind?,
    exception?}``, one line per record."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": os.getpid(),
            **log_fields(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str, fmt: LogFormat = "text") -> None:
    """One stderr handler on the root logger (replacing earlier ones)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # libvips narrates every resize at INFO: only its warnings are worth a line
    logging.getLogger("pyvips").setLevel(max(logging.getLogger().level, logging.WARNING))
