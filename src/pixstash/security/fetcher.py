"""Fetching an image from a link, safely: the concrete ``Fetcher`` on httpx.

Each hop (the link, then at most ``max_redirects`` redirects) is checked before any
connection: the URL (http or https, no credentials, an allowed port), then every address
of its host, resolved once per fetch by the injected ``Resolver``. The connection goes to
an address that was checked and to nothing else: httpx runs on an httpcore connection pool
whose network backend (``PinnedNetwork``) never resolves a name; it dials only the
addresses pinned for the URL's host and refuses any host without a pin. DNS rebinding
(a second, different answer) therefore cannot redirect the connection. The URL keeps the
host name, so the Host header, TLS SNI and certificate verification are those of the name.

Limits: ``connect_seconds`` per connection attempt, ``total_seconds`` for the whole
fetch (DNS, redirects and body), ``max_bytes`` declared (Content-Length) and streamed.
No proxy from the environment is used: a proxy would connect on our behalf, unchecked.
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Iterable

import anyio
import httpcore
import httpx

from pixstash import __version__
from pixstash.errors import (
    FileTooLarge,
    InvalidUrl,
    TooManyRedirects,
    UrlFetchFailed,
    UrlForbidden,
)
from pixstash.security.addresses import AddressPolicy, IPAddress, host_address
from pixstash.security.base import ByteSink, Fetched, Resolver

MAX_URL_LENGTH = 2048
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HOST = re.compile(r"[A-Za-z0-9._:-]+")  # IDNA-encoded names and IP literals
USER_AGENT = f"pixstash/{__version__} (image link fetcher)"


class SystemResolver:
    """The operating system's resolver (``getaddrinfo`` off the event loop)."""

    async def resolve(self, host: str, port: int) -> list[str]:
        try:
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise UrlFetchFailed(
                f"The host name {host!r} does not resolve; check the link for typos."
            ) from exc
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


class PinnedNetwork(httpcore.AsyncNetworkBackend):
    """Dials only checked addresses: ``connect_tcp(host)`` connects to the addresses
    pinned for ``host``, in order, and refuses a host that has none."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.inner = inner or httpcore.AnyIOBackend()
        self.pins: dict[str, list[IPAddress]] = {}

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = self.pins.get(host.lower())
        if not addresses:
            raise httpcore.ConnectError(f"no checked address for {host}")
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are never used for links")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (requests, responses, error mapping) on a connection pool
    that dials through ``PinnedNetwork``."""

    def __init__(self, network: PinnedNetwork, ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        # httpx exposes no network backend option; its pool is the one seam for it.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context, network_backend=network, max_connections=4
        )


class HttpFetcher:
    def __init__(
        self,
        policy: AddressPolicy,
        *,
        resolver: Resolver | None = None,
        network: httpcore.AsyncNetworkBackend | None = None,
        ssl_context: ssl.SSLContext | None = None,
        connect_seconds: float = 5.0,
        total_seconds: float = 30.0,
        max_redirects: int = 3,
    ) -> None:
        self.policy = policy
        self.resolver: Resolver = resolver or SystemResolver()
        self.network = network  # None: the real network (tests route it to loopback)
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.connect_seconds = connect_seconds
        self.total_seconds = total_seconds
        self.max_redirects = max_redirects

    async def fetch(self, url: str, sink: ByteSink, *, max_bytes: int) -> Fetched:
        target = checked_url(url, self.policy)
        try:
            with anyio.fail_after(self.total_seconds):
                return await self._fetch(target, sink, max_bytes)
        except TimeoutError as exc:
            raise UrlFetchFailed(
                f"The link did not deliver the image within {self.total_seconds:g} seconds; "
                "try a faster host or upload the file itself."
            ) from exc

    async def _fetch(self, target: httpx.URL, sink: ByteSink, max_bytes: int) -> Fetched:
        network = PinnedNetwork(self.network)
        timeout = httpx.Timeout(self.total_seconds, connect=self.connect_seconds)
        headers = {"User-Agent": USER_AGENT, "Accept": "image/*,*/*;q=0.5"}
        headers["Accept-Encoding"] = "identity"  # a compressed body is no image anyway
        async with httpx.AsyncClient(
            transport=PinnedTransport(network, self.ssl_context),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            headers=headers,
        ) as client:
            for hop in range(self.max_redirects + 1):
                await self._pin(network, target)
                try:
                    async with client.stream("GET", target) as response:
                        if response.status_code in REDIRECTS:
                            target = self._next_hop(target, response, hop)
                            continue
                        return await _receive(response, sink, max_bytes)
                except httpx.TimeoutException as exc:
                    raise UrlFetchFailed(
                        f"{target.host} did not answer in time; try again later or upload "
                        "the file itself."
                    ) from exc
                except httpx.HTTPError as exc:
                    raise UrlFetchFailed(
                        f"Could not fetch the link from {target.host} ({exc}); check the "
                        "link, or upload the file itself."
                    ) from exc
        raise AssertionError("unreachable: the last hop returns or raises")

    async def _pin(self, network: PinnedNetwork, target: httpx.URL) -> None:
        """Resolve the host once per fetch and check every address (one refused address
        refuses the host: the connection could go to any of them)."""
        host = target.raw_host.decode("ascii").lower()  # what httpcore dials: IDNA-encoded
        if host in network.pins:
            return
        literal = host_address(host)
        if literal is not None:
            network.pins[host] = [self.policy.check(literal)]
            return
        port = target.port or (443 if target.scheme == "https" else 80)
        answers = await self.resolver.resolve(host, port)
        if not answers:
            raise UrlFetchFailed(f"The host name {host!r} has no address.")
        addresses = []
        for answer in answers:
            try:
                address = host_address(answer)
            except InvalidUrl as exc:
                raise UrlFetchFailed(f"The resolver answered a bad address {answer!r}.") from exc
            if address is None:
                raise UrlFetchFailed(f"The resolver answered a bad address {answer!r}.")
            addresses.append(self.policy.check(address))
        network.pins[host] = addresses

    def _next_hop(self, current: httpx.URL, response: httpx.Response, hop: int) -> httpx.URL:
        if hop >= self.max_redirects:
            raise TooManyRedirects(
                f"The link redirects more than {self.max_redirects} times; link to the "
                "image itself."
            )
        location = response.headers.get("location")
        if not location:
            raise UrlFetchFailed(
                f"The link answered a redirect (HTTP {response.status_code}) without a "
                "location; link to the image itself."
            )
        try:
            following = current.join(location)
        except httpx.InvalidURL as exc:
            raise UrlFetchFailed("The link redirects to an invalid address.") from exc
        return checked_url(str(following), self.policy, redirect=True)


async def _receive(response: httpx.Response, sink: ByteSink, max_bytes: int) -> Fetched:
    if response.status_code != 200:  # 204, 206 ... carry no whole image either
        raise UrlFetchFailed(
            f"The link answered HTTP {response.status_code} instead of an image; check "
            "that it opens in a browser without logging in."
        )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        limit_mb = max_bytes / (1024 * 1024)
        raise FileTooLarge(
            f"The linked file is {int(declared)} bytes, more than {limit_mb:g} MB; "
            "link to a smaller image."
        )
    size = 0
    async for chunk in response.aiter_raw():
        size += len(chunk)
        if size > max_bytes:
            limit_mb = max_bytes / (1024 * 1024)
            raise FileTooLarge(f"The linked file is larger than {limit_mb:g} MB.")
        sink.write(chunk)
    return Fetched(str(response.url), response.headers.get("content-type"), size)


def checked_url(url: str, policy: AddressPolicy, *, redirect: bool = False) -> httpx.URL:
    """``url`` parsed and refused unless http(s), without credentials, on an allowed
    port; a numeric IPv4 host in any spelling is rewritten to its dotted form."""
    where = "The link redirects to" if redirect else "The link is"
    text = url.strip()
    if len(text) > MAX_URL_LENGTH:
        raise InvalidUrl(f"The link is longer than {MAX_URL_LENGTH} characters.")
    try:
        parsed = httpx.URL(text)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise InvalidUrl(f"{where} not a valid URL; send an http:// or https:// link.") from exc
    # a redirect is the remote's doing, not the request's: refused, not malformed
    error = UrlForbidden if redirect else InvalidUrl
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise error(f"{where} not an http:// or https:// address; send a web link to an image.")
    if parsed.userinfo:
        raise error(
            f"{where} a URL with a user name or password; this server never sends "
            "credentials. Link to a public image."
        )
    if not _HOST.fullmatch(parsed.raw_host.decode("ascii")):
        raise error(f"{where} a URL with a malformed host name; check the link.")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    policy.check_port(port)
    literal = host_address(parsed.host)
    if literal is not None:
        parsed = parsed.copy_with(host=str(literal))
    return parsed.copy_with(fragment=None)
