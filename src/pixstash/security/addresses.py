"""Where URL ingest may connect: the address and port policy against server-side request
forgery. Pure functions of addresses, no I/O; the fetcher asks before every connection.

Refused: loopback, private (RFC 1918, fc00::/7), link-local, CGNAT (100.64/10),
multicast, unspecified, broadcast, reserved, documentation and benchmarking ranges, cloud
metadata addresses, deprecated IPv4-compatible IPv6 and everything outside global unicast
(2000::/3). IPv6 that embeds an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, NAT64
``64:ff9b::/96``, 6to4 ``2002::/16``) is judged by the IPv4 address inside. Networks
the operator lists in ``allow_networks`` (tests, intranets) are allowed before any rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from pixstash.errors import InvalidUrl, UrlForbidden

IPAddress = IPv4Address | IPv6Address

METADATA = "a cloud metadata service"

# Most specific first: the first match names the reason.
V4_RULES: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(net), reason)
    for net, reason in (
        ("169.254.169.254/32", METADATA),  # AWS, GCP, Azure, OpenStack, Oracle ...
        ("169.254.170.2/32", METADATA),  # AWS ECS task credentials
        ("100.100.100.200/32", METADATA),  # Alibaba Cloud
        ("192.0.0.192/32", METADATA),  # Oracle Cloud (classic)
        ("0.0.0.0/8", "the unspecified / 'this network' range"),
        ("10.0.0.0/8", "a private network (RFC 1918)"),
        ("100.64.0.0/10", "carrier-grade NAT (RFC 6598)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "a private network (RFC 1918)"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation (TEST-NET-1)"),
        ("192.88.99.0/24", "the deprecated 6to4 relay anycast"),
        ("192.168.0.0/16", "a private network (RFC 1918)"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation (TEST-NET-2)"),
        ("203.0.113.0/24", "documentation (TEST-NET-3)"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved or broadcast"),
    )
)

V6_RULES: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(net), reason)
    for net, reason in (
        ("fd00:ec2::254/128", METADATA),  # AWS over IPv6
        ("::/128", "the unspecified address"),
        ("::1/128", "loopback"),
        ("::/96", "deprecated IPv4-compatible IPv6"),
        ("64:ff9b:1::/48", "local-use NAT64 (RFC 8215)"),
        ("100::/64", "discard-only"),
        ("2001:db8::/32", "documentation"),
        ("2001::/23", "IETF protocol assignments (Teredo, benchmarking, ORCHID)"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "SRv6 segment identifiers"),
        ("fc00::/7", "a unique local (private) network"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "deprecated site-local"),
        ("ff00::/8", "multicast"),
    )
)
GLOBAL_UNICAST = IPv6Network("2000::/3")
NAT64 = IPv6Network("64:ff9b::/96")
SIX_TO_FOUR = IPv6Network("2002::/16")

_NUMERIC_LABEL = re.compile(r"0[xX][0-9a-fA-F]*|[0-9]+")


def host_address(host: str) -> IPAddress | None:
    """The address a URL's host denotes, or None for a name to resolve.

    IPv4 is read as ``inet_aton`` (and the WHATWG URL standard) reads it, so
    ``2130706433``, ``0x7f.1`` and ``017700000001`` are all 127.0.0.1: a resolver would
    read them so too, and they must be judged as the address they are. A host whose last
    label is numeric but that is no valid address is refused (a browser refuses it too).
    """
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if ":" in text:
        try:
            address = ip_address(text.split("%", 1)[0])  # a zone id decides nothing
        except ValueError as exc:
            raise InvalidUrl(f"{host!r} is not a valid IPv6 address.") from exc
        return address
    labels = text.removesuffix(".").split(".")
    if not _NUMERIC_LABEL.fullmatch(labels[-1]):
        return None
    parsed = _inet_aton(labels)
    if parsed is None:
        raise InvalidUrl(f"{host!r} is neither a host name nor a valid IPv4 address.")
    return parsed


def _inet_aton(labels: list[str]) -> IPv4Address | None:
    if not 1 <= len(labels) <= 4 or not all(_NUMERIC_LABEL.fullmatch(part) for part in labels):
        return None
    try:
        numbers = [_label_number(part) for part in labels]
    except ValueError:  # an octal label with 8 or 9
        return None
    *head, last = numbers
    if any(n > 0xFF for n in head) or last >= 1 << (8 * (4 - len(head))):
        return None
    value = last
    for i, n in enumerate(head):
        value |= n << (8 * (3 - i))
    return IPv4Address(value)


def _label_number(label: str) -> int:
    if label[:2].lower() == "0x":
        return int(label[2:] or "0", 16)
    if len(label) > 1 and label.startswith("0"):
        return int(label, 8)
    return int(label)


class AddressPolicy:
    """Decides each address and port; ``check`` answers the address to connect to."""

    def __init__(
        self, *, ports: Iterable[int] = (80, 443), allow_networks: Iterable[str] = ()
    ) -> None:
        self.ports = frozenset(ports)
        self.allow_networks = tuple(ip_network(net, strict=False) for net in allow_networks)

    def check_port(self, port: int) -> None:
        if port not in self.ports:
            allowed = ", ".join(str(p) for p in sorted(self.ports))
            raise UrlForbidden(
                f"This server fetches links only on port {allowed}, not {port}; "
                "link to the image on a standard web address."
            )

    def check(self, address: IPAddress) -> IPAddress:
        """The address to connect to (an IPv4-mapped address becomes its IPv4 address);
        raises UrlForbidden with the reason when it is refused."""
        if isinstance(address, IPv6Address):
            address = IPv6Address(str(address).split("%", 1)[0])
            if address.ipv4_mapped is not None:
                address = address.ipv4_mapped
        if any(address in net for net in self.allow_networks):
            return address
        reason = refusal(address)
        if reason is not None:
            raise UrlForbidden(
                f"The link leads to {address}, which is {reason}; this server does not "
                "fetch from private, local or reserved addresses. Link to a public web address."
            )
        return address


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` may not be fetched from, or None when it is a public address."""
    if isinstance(address, IPv4Address):
        for net, reason in V4_RULES:
            if address in net:
                return reason
        if not address.is_global or address.is_multicast or address.is_reserved:
            return "not a public address"  # whatever Python knows beyond our table
        return None
    if address.ipv4_mapped is not None:
        return _embedded("an IPv4-mapped address", address.ipv4_mapped)
    if address in NAT64:
        return _embedded("a NAT64 address", IPv4Address(int(address) & 0xFFFFFFFF))
    if address in SIX_TO_FOUR:
        assert address.sixtofour is not None
        return _embedded("a 6to4 address", address.sixtofour)
    for net6, reason in V6_RULES:
        if address in net6:
            return reason
    if address not in GLOBAL_UNICAST or not address.is_global:
        return "not a global unicast address"
    return None


def _embedded(kind: str, inner: IPv4Address) -> str | None:
    reason = refusal(inner)
    return None if reason is None else f"{kind} of {inner}, {reason}"
