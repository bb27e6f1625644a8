"""The link fetcher: connects only to checked addresses, re-checks redirects, limits
size and time. Hosts resolve through a fake resolver; the addresses the fetcher dials are
routed to loopback test servers, and anything else to a canary that must see nothing."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pixstash.errors import (
    FileTooLarge,
    InvalidUrl,
    PixstashError,
    TooManyRedirects,
    UrlFetchFailed,
    UrlForbidden,
)
from pixstash.security.addresses import AddressPolicy
from pixstash.security.fetcher import HttpFetcher, SystemResolver
from tests import imagegen
from tests.linkserver import (
    PUBLIC_V4,
    PUBLIC_V6,
    BytesSink,
    Canary,
    FakeResolver,
    LinkServer,
    Reply,
    RoutedNetwork,
    make_ca,
    running,
)
from tests.unit.security.test_addresses import FORBIDDEN

pytestmark = pytest.mark.anyio

IMAGE = imagegen.jpeg_bytes(64, 48)
MAX = 64 * 1024


@dataclass
class World:
    canary: Canary
    server: LinkServer
    resolver: FakeResolver
    network: RoutedNetwork
    fetcher: HttpFetcher

    def nothing_dialed(self) -> None:
        assert self.network.dialed == []
        assert self.canary.connections == 0


@pytest.fixture
async def world() -> AsyncIterator[World]:
    canary = Canary()
    server = LinkServer({"/cat.jpg": Reply(body=IMAGE, headers={"Content-Type": "image/jpeg"})})
    async with running(canary, server):
        resolver = FakeResolver(
            {"images.test": [PUBLIC_V4], "v6.test": [PUBLIC_V6], "localhost": ["127.0.0.1"]}
        )
        network = RoutedNetwork(
            {(PUBLIC_V4, 80): server.port, (PUBLIC_V6, 80): server.port}, canary
        )
        fetcher = HttpFetcher(
            AddressPolicy(),
            resolver=resolver,
            network=network,
            connect_seconds=2,
            total_seconds=2,
        )
        yield World(canary, server, resolver, network, fetcher)
        assert canary.connections == 0  # no test may reach it


async def test_fetches_from_the_checked_address_with_the_host_name(world: World) -> None:
    sink = BytesSink()
    fetched = await world.fetcher.fetch("http://images.test/cat.jpg", sink, max_bytes=MAX)
    assert bytes(sink.data) == IMAGE
    assert (fetched.size, fetched.content_type) == (len(IMAGE), "image/jpeg")
    assert world.network.dialed == [(PUBLIC_V4, 80)]
    assert world.server.seen[0].headers["host"] == "images.test"
    assert world.resolver.calls == ["images.test"]


async def test_fetches_over_ipv6(world: World) -> None:
    sink = BytesSink()
    await world.fetcher.fetch("http://v6.test/cat.jpg", sink, max_bytes=MAX)
    assert bytes(sink.data) == IMAGE
    assert world.network.dialed == [(PUBLIC_V6, 80)]


@pytest.mark.parametrize(("address", "reason"), FORBIDDEN)
async def test_a_name_resolving_to_a_refused_address_is_never_dialed(
    world: World, address: str, reason: str
) -> None:
    world.resolver.names["evil.test"] = [address]
    with pytest.raises(UrlForbidden) as refused:
        await world.fetcher.fetch("http://evil.test/cat.jpg", BytesSink(), max_bytes=MAX)
    assert reason in refused.value.message
    world.nothing_dialed()


async def test_one_refused_address_among_public_ones_refuses_the_host(world: World) -> None:
    world.resolver.names["mixed.test"] = [PUBLIC_V4, "10.0.0.1"]
    with pytest.raises(UrlForbidden, match=r"10\.0\.0\.1"):
        await world.fetcher.fetch("http://mixed.test/cat.jpg", BytesSink(), max_bytes=MAX)
    world.nothing_dialed()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://017700000001/",
        "http://127.1/",
        "http://0/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
        "http://169.254.169.254/latest/meta-data/",
        "http://0xa9fea9fe/",
        "http://[fd00:ec2::254]/",
        "http://100.100.100.200/",
        "http://[64:ff9b::7f00:1]/",
        "https://10.0.0.1/",
    ],
)
async def test_address_literals_in_any_spelling_are_refused(world: World, url: str) -> None:
    with pytest.raises(UrlForbidden):
        await world.fetcher.fetch(url, BytesSink(), max_bytes=MAX)
    assert world.resolver.calls == []
    world.nothing_dialed()


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://images.test/",
        "ftp://images.test/cat.jpg",
        "javascript:alert(1)",
        "data:image/png;base64,iVBORw0KGgo=",
        "//images.test/cat.jpg",
        "images.test/cat.jpg",
        "http://user:secret@images.test/cat.jpg",
        "http://user@images.test/cat.jpg",
        "http:///cat.jpg",
        "http://1.2.3.4.5/",
        "http://ex%61mple.test/",
        "http://a b.test/",
        "http://images.test/" + "a" * 2100,
        "",
    ],
)
async def test_malformed_links_are_invalid(world: World, url: str) -> None:
    with pytest.raises(InvalidUrl) as refused:
        await world.fetcher.fetch(url, BytesSink(), max_bytes=MAX)
    assert refused.value.status == 400
    assert world.resolver.calls == []
    world.nothing_dialed()


@pytest.mark.parametrize("url", ["http://images.test:22/", "https://images.test:8443/x"])
async def test_ports_other_than_the_allowed_ones_are_refused(world: World, url: str) -> None:
    with pytest.raises(UrlForbidden, match="only on port 80, 443"):
        await world.fetcher.fetch(url, BytesSink(), max_bytes=MAX)
    world.nothing_dialed()


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("http://127.0.0.1/cat.jpg", UrlForbidden),
        ("http://internal.test/cat.jpg", UrlForbidden),
        ("http://[::ffff:169.254.169.254]/", UrlForbidden),
        ("http://0x7f.1/", UrlForbidden),
        ("file:///etc/passwd", UrlForbidden),
        ("gopher://images.test/", UrlForbidden),
        ("http://user:pw@images.test/cat.jpg", UrlForbidden),
        ("http://images.test:6379/", UrlForbidden),
    ],
)
async def test_redirects_are_checked_like_the_link(
    world: World, location: str, expected: type[PixstashError]
) -> None:
    world.resolver.names["internal.test"] = ["10.0.0.5"]
    world.server.replies["/go"] = Reply(302, headers={"Location": location})
    with pytest.raises(expected):
        await world.fetcher.fetch("http://images.test/go", BytesSink(), max_bytes=MAX)
    assert world.network.dialed == [(PUBLIC_V4, 80)]  # the first hop only


async def test_up_to_three_redirects_are_followed(world: World) -> None:
    world.resolver.names["cdn.test"] = [PUBLIC_V4]
    for i, status in enumerate((301, 302, 303)):
        world.server.replies[f"/r{i}"] = Reply(status, headers={"Location": f"/r{i + 1}"})
    world.server.replies["/r2"] = Reply(307, headers={"Location": "http://cdn.test/cat.jpg"})
    sink = BytesSink()
    fetched = await world.fetcher.fetch("http://images.test/r0", sink, max_bytes=MAX)
    assert bytes(sink.data) == IMAGE
    assert fetched.url == "http://cdn.test/cat.jpg"
    assert [s.path for s in world.server.seen] == ["/r0", "/r1", "/r2", "/cat.jpg"]
    assert world.server.seen[-1].headers["host"] == "cdn.test"


async def test_a_fourth_redirect_is_refused(world: World) -> None:
    for i in range(4):
        world.server.replies[f"/r{i}"] = Reply(308, headers={"Location": f"/r{i + 1}"})
    world.server.replies["/r4"] = Reply(body=IMAGE)
    with pytest.raises(TooManyRedirects) as refused:
        await world.fetcher.fetch("http://images.test/r0", BytesSink(), max_bytes=MAX)
    assert refused.value.code == "too-many-redirects"
    assert len(world.server.seen) == 4  # never asked for /r4


async def test_dns_rebinding_cannot_redirect_the_connection(world: World) -> None:
    """The name resolves to a public address first and to loopback afterwards: the fetch
    resolves it once, so every hop goes to the public address."""
    world.resolver.names["rebind.test"] = [PUBLIC_V4]
    world.resolver.then["rebind.test"] = ["127.0.0.1"]
    world.server.replies["/hop"] = Reply(302, headers={"Location": "/again"})
    world.server.replies["/again"] = Reply(302, headers={"Location": "/cat.jpg"})
    sink = BytesSink()
    await world.fetcher.fetch("http://rebind.test/hop", sink, max_bytes=MAX)
    assert bytes(sink.data) == IMAGE
    assert world.resolver.calls == ["rebind.test"]
    assert set(world.network.dialed) == {(PUBLIC_V4, 80)}
    # a second fetch resolves afresh, gets loopback, and is refused
    with pytest.raises(UrlForbidden, match="loopback"):
        await world.fetcher.fetch("http://rebind.test/cat.jpg", BytesSink(), max_bytes=MAX)


async def test_a_declared_length_over_the_limit_is_refused_before_the_body(world: World) -> None:
    world.server.replies["/big"] = Reply(body=b"x" * (MAX + 1))
    sink = BytesSink()
    with pytest.raises(FileTooLarge, match=f"{MAX + 1} bytes"):
        await world.fetcher.fetch("http://images.test/big", sink, max_bytes=MAX)
    assert sink.data == b""


async def test_a_body_without_length_is_cut_at_the_limit(world: World) -> None:
    world.server.replies["/stream"] = Reply(body=b"x" * (4 * MAX), content_length=False)
    sink = BytesSink()
    with pytest.raises(FileTooLarge):
        await world.fetcher.fetch("http://images.test/stream", sink, max_bytes=MAX)
    assert len(sink.data) <= MAX


async def test_a_body_without_length_under_the_limit_is_read(world: World) -> None:
    world.server.replies["/stream"] = Reply(body=IMAGE, content_length=False)
    sink = BytesSink()
    await world.fetcher.fetch("http://images.test/stream", sink, max_bytes=MAX)
    assert bytes(sink.data) == IMAGE


async def test_a_stalled_server_times_out(world: World) -> None:
    world.server.replies["/slow"] = Reply(body=IMAGE, stall=True)
    world.fetcher.total_seconds = 0.3
    started = time.monotonic()
    with pytest.raises(UrlFetchFailed, match="did not"):
        await world.fetcher.fetch("http://images.test/slow", BytesSink(), max_bytes=MAX)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("status", [404, 403, 500, 204, 206])
async def test_answers_other_than_success_fail(world: World, status: int) -> None:
    world.server.replies["/x"] = Reply(status, body=b"nope")
    with pytest.raises(UrlFetchFailed) as failed:
        await world.fetcher.fetch("http://images.test/x", BytesSink(), max_bytes=MAX)
    assert f"HTTP {status}" in failed.value.message
    assert failed.value.status == 422


async def test_unresolvable_and_unreachable_hosts_fail(world: World) -> None:
    with pytest.raises(UrlFetchFailed, match="does not resolve"):
        await world.fetcher.fetch("http://nowhere.test/", BytesSink(), max_bytes=MAX)
    # a public address nothing routes to: the dial goes to the canary (which closes)
    world.resolver.names["down.test"] = ["8.8.4.4"]
    with pytest.raises(UrlFetchFailed):
        await world.fetcher.fetch("http://down.test/", BytesSink(), max_bytes=MAX)
    world.canary.connections = 0  # expected here: the stand-in for an unreachable host


async def test_proxy_settings_of_the_environment_are_ignored(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = f"http://127.0.0.1:{world.canary.port}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, proxy)
    sink = BytesSink()
    await world.fetcher.fetch("http://images.test/cat.jpg", sink, max_bytes=MAX)
    assert bytes(sink.data) == IMAGE


async def test_the_system_resolver_refuses_localhost() -> None:
    canary = Canary()
    async with running(canary):
        network = RoutedNetwork({}, canary)
        fetcher = HttpFetcher(AddressPolicy(), resolver=SystemResolver(), network=network)
        with pytest.raises(UrlForbidden, match="loopback"):
            await fetcher.fetch("http://localhost/cat.jpg", BytesSink(), max_bytes=MAX)
        assert network.dialed == []
        assert canary.connections == 0
    assert "127.0.0.1" in await SystemResolver().resolve("localhost", 80)


async def test_https_uses_the_host_name_for_sni_and_the_certificate(
    world: World, tmp_path: Path
) -> None:
    ca = make_ca()
    good = LinkServer(
        {"/cat.jpg": Reply(body=IMAGE)}, tls=ca.server_context(tmp_path, "images.test")
    )
    wrong = LinkServer(
        {"/cat.jpg": Reply(body=IMAGE)}, tls=ca.server_context(tmp_path, "other.test")
    )
    async with running(good, wrong):
        world.resolver.names["wrong.test"] = ["8.8.8.8"]
        world.network.routes[(PUBLIC_V4, 443)] = good.port
        world.network.routes[("8.8.8.8", 443)] = wrong.port
        world.fetcher.ssl_context = ca.client_context
        sink = BytesSink()
        await world.fetcher.fetch("https://images.test/cat.jpg", sink, max_bytes=MAX)
        assert bytes(sink.data) == IMAGE
        assert good.sni == ["images.test"]  # the name, though the dial went to an address
        assert good.seen[0].headers["host"] == "images.test"
        # a certificate for another name is refused: verified against the link's host
        with pytest.raises(UrlFetchFailed):
            await world.fetcher.fetch("https://wrong.test/cat.jpg", BytesSink(), max_bytes=MAX)
        assert wrong.seen == []
