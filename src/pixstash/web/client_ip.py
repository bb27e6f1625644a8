"""Who the client is: the socket peer, or what trusted proxies say in X-Forwarded-For.

Anyone can send ``X-Forwarded-For``, so it is read only when the peer is a configured
trusted proxy (``PIXSTASH_TRUSTED_PROXIES``). A proxy such as nginx with
``$proxy_add_x_forwarded_for`` appends the address it saw to what the client sent, so
the entries are read right to left, skipping trusted proxies: the first other one is the
client. Entries left of it are the client's to invent and never looked at.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

UNKNOWN = "unknown"  # no peer address (a Unix socket): one shared bucket
IPV6_KEY_PREFIX = 64  # one IPv6 subscriber usually holds a whole /64


def parse_networks(texts: Iterable[str]) -> tuple[IPNetwork, ...]:
    """The trusted proxies' networks (PIXSTASH_TRUSTED_PROXIES, checked by Settings)."""
    return tuple(ip_network(text, strict=False) for text in texts)


def parse_ip(text: str) -> IPAddress | None:
    """An address from a peer or a forwarded entry (``[v6]:port`` and ``v4:port`` too);
    IPv4-mapped IPv6 becomes IPv4. ``None`` for anything else."""
    text = text.strip()
    port: str | None = None
    if text.startswith("["):  # [IPv6] or [IPv6]:port
        text, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return None
        port = rest[1:] if rest else None
    elif text.count(":") == 1:  # IPv4:port
        text, _, port = text.partition(":")
    if port is not None and not (port.isascii() and port.isdigit()):
        return None
    try:
        address = ip_address(text.partition("%")[0])  # without an IPv6 zone (%eth0)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress, proxies: Sequence[IPNetwork]) -> bool:
    return any(address in net for net in proxies)  # False across IP versions


def client_ip(
    peer: str | None, forwarded_for: Sequence[str], proxies: Sequence[IPNetwork]
) -> IPAddress | None:
    """The client's address. ``forwarded_for``: every X-Forwarded-For header, in order;
    ``proxies``: the trusted networks (``parse_networks``). ``None``: no peer address."""
    address = parse_ip(peer) if peer else None
    if address is None or not proxies or not _trusted(address, proxies):
        return address
    entries = [entry for header in forwarded_for for entry in header.split(",")]
    for entry in reversed(entries):
        hop = parse_ip(entry)
        if hop is None:
            # garbage where a trusted proxy should have written an address: the last
            # address we can vouch for is the proxy that passed it on
            return address
        address = hop
        if not _trusted(hop, proxies):
            return hop
    return address  # every hop is a trusted proxy: the farthest one is the client


def rate_key(address: IPAddress | None) -> str:
    """The rate-limit key of an address: IPv4 as is, IPv6 by its /64."""
    if address is None:
        return UNKNOWN
    if isinstance(address, IPv6Address):
        return str(IPv6Network((address, IPV6_KEY_PREFIX), strict=False))
    return str(address)
