"""schemathesis against the OpenAPI document: no operation answers a 5xx, and every answer
matches what the document says (status codes, Content-Type, body schema).

Bounded for CI: a few derandomized examples per operation (the same ones every run), no
example database. The app runs in this process (uvicorn in a thread, its lifespan once
for the module), with no rate limits and no network for URL ingest. Every operation runs
twice: anonymous (the Imgur API with a Client-ID) and with the Bearer token of a real
user. Harder, by hand: ``PIXSTASH_FUZZ_EXAMPLES=200 pytest tests/api/test_schema_fuzz.py``.

Not checked: schemathesis' checks that judge API design rather than robustness (e.g.
"a request without credentials must be 401": anonymous uploads are a feature here).
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpcore
import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings

from pixstash.config import Settings
from pixstash.errors import UrlFetchFailed
from pixstash.web.app import create_app
from tests.accounts import PASSWORD
from tests.helpers import container_of

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]
EXAMPLES = int(os.environ.get("PIXSTASH_FUZZ_EXAMPLES", "10"))
_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]*)"')

# The document does not depend on settings: load it without starting anything.
schema = schemathesis.openapi.from_dict(create_app(Settings(environment="test")).openapi())


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, migrated_sqlite: Path) -> Iterator[str]:
    """The app on uvicorn in a thread of this process, its lifespan run once for the module
    (schemathesis' own ASGI client ends lifespans after every test)."""
    root = tmp_path_factory.mktemp("schema-fuzz")
    shutil.copyfile(migrated_sqlite, root / "pixstash.db")
    app = create_app(
        Settings(
            environment="test",
            database_url=f"sqlite:///{root}/pixstash.db",
            storage_url=f"file://{root}/blobs",
            tmp_dir=str(root / "tmp"),
            job_workers=0,
            migrate_on_start=False,
            # hundreds of uploads from one client: rate limits would answer 429 instead
            rate_limit_anonymous_uploads="",
            rate_limit_user_uploads="",
            rate_limit_token_requests="",
            rate_limit_client_id_requests="",
            rate_limit_ip_requests="",
        )
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, http="h11", ws="none", log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="schema-fuzz-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the server did not start"
        assert time.monotonic() < deadline, "the server did not start in 30 s"
        time.sleep(0.01)
    fetcher = container_of(app).url_ingest.fetcher
    fetcher.resolver = NoNetwork()  # type: ignore[attr-defined]
    fetcher.network = NoNetwork()  # type: ignore[attr-defined]
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


class NoNetwork(httpcore.AsyncNetworkBackend):
    """URL ingest of fuzzed links goes nowhere: no name resolves, no address answers."""

    async def resolve(self, host: str, port: int) -> list[str]:
        raise UrlFetchFailed(f"The host name {host!r} does not resolve (no network in tests).")

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        raise httpcore.ConnectError(f"no network in tests ({host}:{port})")


@pytest.fixture(scope="module")
def session(base_url: str) -> Iterator[requests.Session]:
    with requests.Session() as client:
        yield client


@pytest.fixture(scope="module")
def user_token(base_url: str) -> str:
    """A Bearer token of a user registered through the pages, as a person would."""
    with requests.Session() as browser:
        page = browser.get(f"{base_url}/register")
        token = _CSRF_INPUT.search(page.text)
        assert token is not None
        answer = browser.post(
            f"{base_url}/register",
            data={
                "csrf_token": token.group(1),
                "username": "fuzzer",
                "password": PASSWORD,
                "password_again": PASSWORD,
            },
            allow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        created = browser.post(
            f"{base_url}/api/v1/me/tokens", json={"name": "fuzz"}, headers={"origin": base_url}
        )
        assert created.status_code == 201, created.text
        value: str = created.json()["token"]
        return value


@pytest.fixture(params=["anonymous", "bearer"])
def who(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def auth_headers(request: pytest.FixtureRequest, who: str, path: str) -> dict[str, str]:
    """Anonymous: no header, except the Client-ID the Imgur API (/3/) asks of everyone."""
    if who == "bearer":
        return {"authorization": f"Bearer {request.getfixturevalue('user_token')}"}
    return {"authorization": "Client-ID 0123456789abcde"} if path.startswith("/3/") else {}


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_fails_or_breaks_its_schema(
    case: schemathesis.Case,
    base_url: str,
    session: requests.Session,
    who: str,
    request: pytest.FixtureRequest,
) -> None:
    case.call_and_validate(
        base_url=base_url,
        session=session,
        headers=auth_headers(request, who, case.path),
        checks=CHECKS,
        timeout=10,
    )


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status"),
    [
        # found by the run above: answers the document did not list
        ("POST", "/api/v1/uploads", {"authorization": "Bearer "}, None, 401),
        ("POST", "/3/image", {"authorization": "Client-ID x"}, {"image": "bm90IGFuIGltYWdl"}, 415),
        ("POST", "/3/upload", {"authorization": "Client-ID x"}, {"image": "bm90IGFuIGltYWdl"}, 415),
    ],
)
def test_found_answers_are_documented(
    base_url: str,
    session: requests.Session,
    method: str,
    path: str,
    headers: dict[str, str],
    body: dict[str, str] | None,
    status: int,
) -> None:
    response = session.request(method, base_url + path, headers=headers, data=body, timeout=10)
    assert response.status_code == status, response.text
    operation = schema.raw_schema["paths"][path][method.lower()]
    assert str(status) in operation["responses"]
