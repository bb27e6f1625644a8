"""The client's address: the peer, or X-Forwarded-For from trusted proxies only."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from pixstash.web.client_ip import client_ip, parse_ip, parse_networks, rate_key

NGINX = parse_networks(["127.0.0.1"])
CHAIN = parse_networks(["127.0.0.1", "10.0.0.0/8", "fd00::/8"])


def resolved(peer: str | None, forwarded: list[str], proxies: object = NGINX) -> str | None:
    assert isinstance(proxies, tuple)
    address = client_ip(peer, forwarded, proxies)
    return None if address is None else str(address)


@pytest.mark.parametrize(
    ("peer", "forwarded", "proxies", "expected"),
    [
        # no trusted proxies: the header is never read
        ("198.51.100.7", ["203.0.113.1"], (), "198.51.100.7"),
        # a peer that is not a trusted proxy: spoofed header ignored
        ("198.51.100.7", ["203.0.113.1"], NGINX, "198.51.100.7"),
        ("198.51.100.7", ["127.0.0.1"], NGINX, "198.51.100.7"),
        # nginx on 127.0.0.1 appended the client's address
        ("127.0.0.1", ["203.0.113.1"], NGINX, "203.0.113.1"),
        # the client sent its own header; nginx appended the real address last
        ("127.0.0.1", ["6.6.6.6, 203.0.113.1"], NGINX, "203.0.113.1"),
        ("127.0.0.1", ["6.6.6.6", "203.0.113.1"], NGINX, "203.0.113.1"),  # two headers
        # a chain of trusted proxies: the first untrusted hop from the right
        ("10.0.0.2", ["6.6.6.6, 203.0.113.1, 10.0.0.1"], CHAIN, "203.0.113.1"),
        ("10.0.0.2", ["203.0.113.1 , 10.9.9.9,10.0.0.1"], CHAIN, "203.0.113.1"),
        # an untrusted hop in the middle ends the walk there
        ("10.0.0.2", ["203.0.113.1, 198.51.100.1, 10.0.0.1"], CHAIN, "198.51.100.1"),
        # every hop trusted: the farthest is the client
        ("127.0.0.1", ["10.1.1.1, 10.0.0.1"], CHAIN, "10.1.1.1"),
        # trusted proxy without the header: the proxy itself
        ("127.0.0.1", [], NGINX, "127.0.0.1"),
        ("127.0.0.1", [""], NGINX, "127.0.0.1"),
        # garbage where the proxy's entry should be: the proxy, never the garbage
        ("127.0.0.1", ["203.0.113.1, unknown"], NGINX, "127.0.0.1"),
        ("127.0.0.1", ["not-an-ip"], NGINX, "127.0.0.1"),
        ("127.0.0.1", ["203.0.113.1, 999.1.1.1"], NGINX, "127.0.0.1"),
        ("127.0.0.1", ["203.0.113.1,"], NGINX, "127.0.0.1"),
        ("10.0.0.2", ["203.0.113.1, <script>, 10.0.0.1"], CHAIN, "10.0.0.1"),
        # garbage left of the client's entry is never looked at
        ("127.0.0.1", ["garbage, 203.0.113.1"], NGINX, "203.0.113.1"),
        # IPv6: peers, entries, brackets and ports, zones, mapped IPv4
        ("::1", ["2001:db8::1"], parse_networks(["::1"]), "2001:db8::1"),
        ("fd00::5", ["[2001:db8::1]:4711, fd00::4"], CHAIN, "2001:db8::1"),
        ("127.0.0.1", ["203.0.113.1:5555"], NGINX, "203.0.113.1"),
        ("::ffff:127.0.0.1", ["::ffff:203.0.113.1"], NGINX, "203.0.113.1"),
        ("fe80::1%eth0", [], (), "fe80::1"),
        ("2001:DB8:0:0::1", [], (), "2001:db8::1"),
        # IPv4 networks do not contain IPv6 peers, nor the reverse
        ("::1", ["203.0.113.1"], NGINX, "::1"),
        # no peer (a Unix socket) or a peer that is not an address
        (None, ["203.0.113.1"], NGINX, None),
        ("testclient", ["203.0.113.1"], NGINX, None),
    ],
)
def test_client_ip(
    peer: str | None, forwarded: list[str], proxies: tuple[object, ...], expected: str | None
) -> None:
    assert resolved(peer, forwarded, proxies) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "unknown",
        "_hidden",
        "1.2.3",
        "1.2.3.4.5",
        "[::1",
        "::1]",
        "[::1]x",
        "[::1]:y",
        "[::1]:",
        "1.2.3.4:x:y",
        "1.2.3.4:",
        "🙂",
    ],
)
def test_garbage_is_not_an_address(text: str) -> None:
    assert parse_ip(text) is None


def test_rate_key_groups_an_ipv6_subscriber_by_its_64() -> None:
    assert rate_key(ip_address("203.0.113.9")) == "203.0.113.9"
    first = rate_key(ip_address("2001:db8:1:2:aaaa::1"))
    assert first == "2001:db8:1:2::/64"
    assert rate_key(ip_address("2001:db8:1:2:ffff:ffff:ffff:ffff")) == first
    assert rate_key(ip_address("2001:db8:1:3::1")) != first
    assert rate_key(None) == "unknown"
