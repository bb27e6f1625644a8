"""Request ids and the log formats."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from pixstash.telemetry.context import accepted_request_id, bound, current_request_id, log_fields
from pixstash.telemetry.logs import JsonFormatter, TextFormatter


@pytest.mark.parametrize(
    "value", ["3f2a9c1e8b7d4e6fa1b2c3d4e5f60718", "0b5e4c1a-8a9e-4c8b-9a44-1d2c3e4f5a6b", "a"]
)
def test_well_formed_ids_are_kept(value: str) -> None:
    assert accepted_request_id(value) == value


@pytest.mark.parametrize("value", [None, "", "-leading-dash", "x" * 129, "a b", "a\nb", "é"])
def test_malformed_ids_are_refused(value: str | None) -> None:
    assert accepted_request_id(value) is None


def test_bound_fields_nest_and_unwind() -> None:
    assert current_request_id() is None
    with bound(request_id="r1"):
        with bound(job_id="7", job_kind="k", request_id=None):
            assert dict(log_fields()) == {"request_id": "r1", "job_id": "7", "job_kind": "k"}
        assert dict(log_fields()) == {"request_id": "r1"}
    assert dict(log_fields()) == {}


def record(message: str) -> logging.LogRecord:
    return logging.LogRecord("pixstash.x", logging.WARNING, __file__, 1, message, (), None)


def test_json_lines_carry_the_bound_fields() -> None:
    with bound(request_id="r1", job_id="7"):
        entry = json.loads(JsonFormatter().format(record("hello")))
    assert entry["message"] == "hello"
    assert entry["level"] == "warning"
    assert entry["logger"] == "pixstash.x"
    assert entry["request_id"] == "r1"
    assert entry["job_id"] == "7"
    assert entry["ts"].endswith("+00:00")


def test_text_lines_append_the_bound_fields() -> None:
    assert TextFormatter().format(record("plain")).endswith("pixstash.x: plain")
    with bound(request_id="r1"):
        assert TextFormatter().format(record("hello")).endswith("hello [request_id=r1]")


def test_the_cli_does_not_import_prometheus_client() -> None:
    """prometheus-client chooses its multiprocess mode when imported: the CLI must set the
    directory first (telemetry.directory), so importing it must not import the client."""
    code = "import sys, pixstash.cli.main; print('prometheus_client' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
