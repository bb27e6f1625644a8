"""What URL-ingest tests need on loopback: a canary listener that records every
connection (it must see none), a scripted HTTP(S) server, a resolver that answers what
the test says, and a network that routes the pinned addresses the fetcher dials to those
servers (anything unexpected goes to the canary), so no test leaves loopback."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpcore
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pixstash.errors import UrlFetchFailed

PUBLIC_V4 = "93.184.216.34"  # public addresses the tests pretend hosts have
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"


class Canary:
    """Accepts connections on 127.0.0.1 and counts them."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_length: bool = True  # False: no Content-Length; the body ends at close
    stall: bool = False  # send the headers, then nothing until the client gives up


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


class LinkServer:
    """HTTP/1.1 on 127.0.0.1 answering scripted replies by path (404 otherwise)."""

    def __init__(self, replies: dict[str, Reply], tls: ssl.SSLContext | None = None) -> None:
        self.replies = replies
        self.tls = tls
        self.seen: list[Seen] = []
        self.sni: list[str | None] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *lines = head.split("\r\n")
            path = request_line.split(" ")[1]
            headers = {
                k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines if x)
            }
            self.seen.append(Seen(path, headers))
            reply = self.replies.get(path, Reply(404, b"not here"))
            out = [f"HTTP/1.1 {reply.status} X", "Connection: close"]
            out += [f"{k}: {v}" for k, v in reply.headers.items()]
            if reply.content_length:
                out.append(f"Content-Length: {len(reply.body)}")
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
            await writer.drain()
            if reply.stall:
                await reader.read()  # until the client closes
                return
            writer.write(reply.body)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()
            self._handlers.discard(task)

    async def start(self) -> None:
        if self.tls is not None:
            self.tls.sni_callback = lambda _obj, name, _ctx: self.sni.append(name)  # type: ignore[assignment,misc]
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await self._server.wait_closed()


class FakeResolver:
    """Answers from a table; ``then`` answers every later lookup of a name (rebinding)."""

    def __init__(
        self, names: dict[str, list[str]], then: dict[str, list[str]] | None = None
    ) -> None:
        self.names = names
        self.then = then or {}
        self.calls: list[str] = []

    async def resolve(self, host: str, port: int) -> list[str]:
        earlier = host in self.calls
        self.calls.append(host)
        if earlier and host in self.then:
            return self.then[host]
        if host not in self.names:
            raise UrlFetchFailed(f"The host name {host!r} does not resolve.")
        return self.names[host]


class RoutedNetwork(httpcore.AsyncNetworkBackend):
    """Dials loopback servers for the (address, port) pairs in ``routes``; any other
    destination is dialed to the canary, so a wrong connection is seen, never made."""

    def __init__(self, routes: dict[tuple[str, int], int], canary: Canary) -> None:
        self.routes = routes
        self.canary = canary
        self.inner = httpcore.AnyIOBackend()
        self.dialed: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.dialed.append((host, port))
        target = self.routes.get((host, port), self.canary.port)
        return await self.inner.connect_tcp("127.0.0.1", target, timeout)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AssertionError("never used")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class BytesSink:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data


@asynccontextmanager
async def running(*servers: Canary | LinkServer) -> AsyncIterator[None]:
    for server in servers:
        await server.start()
    try:
        yield
    finally:
        for server in servers:
            await server.stop()


# --- TLS: a test CA and a certificate for a host name ---


class CertAuthority:
    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
        self.key = key
        self.cert = cert
        pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        self.client_context = ssl.create_default_context(cadata=pem)  # trusts only this CA

    def server_context(self, tmp: Path, name: str) -> ssl.SSLContext:
        """A server context with a certificate for ``name`` signed by this CA."""
        cert_pem, key_pem = _issue(self.key, self.cert, name)
        (tmp / f"{name}.pem").write_bytes(cert_pem + key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tmp / f"{name}.pem")
        return context


def make_ca() -> CertAuthority:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pixstash test CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertAuthority(key, cert)


def _issue(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, host: str
) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem
