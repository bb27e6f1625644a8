"""moto's S3 on loopback, answering cross-origin requests the way S3 does.

moto's server allows every origin (flask-cors on every answer), so a browser test against it
could not tell a bucket with the right CORS rule from one without. Here moto sits behind a
small WSGI layer that drops moto's own CORS headers and applies the bucket's CORS
configuration (read through the S3 API) as S3 documents it: the first rule whose
AllowedOrigins (``*`` wildcards), AllowedMethods and, for a preflight, AllowedHeaders all
match decides; a preflight nothing matches is refused with 403, and an actual request
nothing matches gets no Access-Control-* header (so the browser hides its answer).
Path-style addressing only (``endpoint/bucket/key``), which is what the tests use.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from tests.s3server import REGION

StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class CrossOrigin:
    """A cross-origin request the bucket saw, and whether its CORS rules allowed it."""

    method: str  # OPTIONS for a preflight
    path: str
    origin: str
    requested_method: str
    allowed: bool


@dataclass
class CorsMoto:
    url: str
    client: Any  # a boto3 S3 client for the test's own checks
    seen: list[CrossOrigin] = field(default_factory=list)


def _matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def matching_rule(
    rules: list[dict[str, Any]], origin: str, method: str, headers: list[str]
) -> dict[str, Any] | None:
    for rule in rules:
        if not any(_matches(o, origin) for o in rule.get("AllowedOrigins", [])):
            continue
        if method not in rule.get("AllowedMethods", []):
            continue
        allowed = rule.get("AllowedHeaders", [])
        if all(any(_matches(a, h, ignore_case=True) for a in allowed) for h in headers):
            return rule
    return None


class BucketCors:
    """WSGI middleware: S3's CORS in front of moto."""

    def __init__(self, app: Any, cors_of: Callable[[str], list[dict[str, Any]]]) -> None:
        self.app = app
        self.cors_of = cors_of
        self.seen: list[CrossOrigin] = []

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        origin = environ.get("HTTP_ORIGIN")
        if not origin:
            return self.app(environ, start_response)  # type: ignore[no-any-return]
        path = environ.get("PATH_INFO", "/")
        bucket = path.lstrip("/").split("/", 1)[0]
        preflight = environ["REQUEST_METHOD"] == "OPTIONS"
        method = environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD", "") if preflight else ""
        method = method or environ["REQUEST_METHOD"]
        wanted = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "") if preflight else ""
        headers = [h.strip() for h in wanted.split(",") if h.strip()]
        rule = matching_rule(self.cors_of(bucket), origin, method, headers) if bucket else None
        self.seen.append(
            CrossOrigin(environ["REQUEST_METHOD"], path, origin, method, rule is not None)
        )
        if preflight:
            if rule is None:
                start_response("403 Forbidden", [("Content-Type", "text/plain")])
                return [b"CORSResponse: This CORS request is not allowed."]
            answer = [
                ("Access-Control-Allow-Origin", origin),
                ("Access-Control-Allow-Methods", ", ".join(rule["AllowedMethods"])),
                ("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"),
            ]
            if headers:
                answer.append(("Access-Control-Allow-Headers", ", ".join(headers)))
            if "MaxAgeSeconds" in rule:
                answer.append(("Access-Control-Max-Age", str(rule["MaxAgeSeconds"])))
            start_response("200 OK", [*answer, ("Content-Length", "0")])
            return [b""]

        def respond(status: str, response_headers: list[tuple[str, str]], *args: Any) -> Any:
            kept = [(n, v) for n, v in response_headers if not n.lower().startswith("access-")]
            if rule is not None:
                kept.append(("Access-Control-Allow-Origin", origin))
                kept.append(("Vary", "Origin"))
                exposed = rule.get("ExposeHeaders")
                if exposed:
                    kept.append(("Access-Control-Expose-Headers", ", ".join(exposed)))
            return start_response(status, kept, *args)

        return self.app(environ, respond)  # type: ignore[no-any-return]


@contextmanager
def cors_enforcing_moto() -> Iterator[CorsMoto]:
    """moto's S3 behind ``BucketCors`` on a free loopback port; needs fake AWS credentials
    in the environment (tests/s3server.py ``use_fake_aws_credentials``)."""
    holder: dict[str, Any] = {}

    def cors_of(bucket: str) -> list[dict[str, Any]]:
        try:
            answer = holder["client"].get_bucket_cors(Bucket=bucket)
        except ClientError:  # NoSuchCORSConfiguration, NoSuchBucket: nothing is allowed
            return []
        rules: list[dict[str, Any]] = answer["CORSRules"]
        return rules

    middleware = BucketCors(DomainDispatcherApplication(create_backend_app), cors_of)
    server = make_server(
        "127.0.0.1", 0, middleware, threaded=True, request_handler=MotoRequestHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    client = boto3.session.Session().client("s3", endpoint_url=url, region_name=REGION)
    holder["client"] = client
    try:
        yield CorsMoto(url, client, middleware.seen)
    finally:
        client.close()
        server.shutdown()
        thread.join()
        server.server_close()
