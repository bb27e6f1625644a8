"""The URL-ingest address policy: every refused range, IPv4 spellings, embedded IPv4."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest

from pixstash.errors import InvalidUrl, UrlForbidden
from pixstash.security.addresses import AddressPolicy, host_address

# (address, words the refusal names)
FORBIDDEN = [
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("169.254.1.1", "link-local"),
    ("169.254.169.254", "metadata"),
    ("169.254.170.2", "metadata"),
    ("100.100.100.200", "metadata"),
    ("192.0.0.192", "metadata"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.255", "carrier-grade NAT"),
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("255.255.255.255", "broadcast"),
    ("240.0.0.1", "reserved"),
    ("192.0.2.10", "documentation"),
    ("198.51.100.10", "documentation"),
    ("203.0.113.10", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.255", "benchmarking"),
    ("192.0.0.8", "IETF"),
    ("192.88.99.1", "6to4"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("fc00::1", "unique local"),
    ("fd12:3456::1", "unique local"),
    ("fd00:ec2::254", "metadata"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped: judged as the IPv4 inside
    ("::ffff:10.0.0.1", "private"),
    ("::ffff:169.254.169.254", "metadata"),
    ("::127.0.0.1", "IPv4-compatible"),
    ("::8.8.8.8", "IPv4-compatible"),  # deprecated whatever it embeds
    ("64:ff9b::7f00:1", "NAT64 address of 127.0.0.1, loopback"),
    ("64:ff9b::a9fe:a9fe", "NAT64 address of 169.254.169.254"),
    ("64:ff9b:1::1", "local-use NAT64"),
    ("2002:7f00:1::1", "6to4 address of 127.0.0.1"),
    ("2002:c0a8:101::1", "6to4 address of 192.168.1.1"),
    ("2001:db8::1", "documentation"),
    ("2001::1", "Teredo"),
    ("2001:2::1", "benchmarking"),
    ("3fff::1", "documentation"),
    ("100::1", "discard"),
    ("4000::1", "global unicast"),  # outside 2000::/3
    ("::ffff:0:7f00:1", "global unicast"),  # IPv4-translated (SIIT)
]

ALLOWED = [
    "93.184.216.34",
    "8.8.8.8",
    "1.1.1.1",
    "100.63.255.255",  # just below CGNAT
    "100.128.0.0",  # just above
    "172.32.0.1",
    "2606:2800:220:1:248:1893:25c8:1946",
    "2a00:1450:4001:80b::200e",
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8: fine on an IPv6-only network
    "2002:808:808::1",  # 6to4 of 8.8.8.8
]


@pytest.mark.parametrize(("address", "reason"), FORBIDDEN)
def test_refused_addresses_name_their_reason(address: str, reason: str) -> None:
    parsed = host_address(address)
    assert parsed is not None
    with pytest.raises(UrlForbidden) as refused:
        AddressPolicy().check(parsed)
    assert refused.value.code == "url-forbidden"
    assert reason in refused.value.message
    assert "public web address" in refused.value.message  # says what to do


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert AddressPolicy().check(ip_address(address)) == ip_address(address)


def test_an_ipv4_mapped_address_is_dialed_as_its_ipv4() -> None:
    checked = AddressPolicy().check(IPv6Address("::ffff:8.8.8.8"))
    assert checked == IPv4Address("8.8.8.8")


def test_allowed_networks_open_only_themselves() -> None:
    policy = AddressPolicy(allow_networks=["127.0.0.1/32", "fd00::/8"])
    assert policy.check(IPv4Address("127.0.0.1")) == IPv4Address("127.0.0.1")
    assert policy.check(IPv6Address("::ffff:127.0.0.1")) == IPv4Address("127.0.0.1")
    assert policy.check(IPv6Address("fd00::5")) == IPv6Address("fd00::5")
    with pytest.raises(UrlForbidden):
        policy.check(IPv4Address("127.0.0.2"))
    with pytest.raises(UrlForbidden):
        policy.check(IPv4Address("169.254.169.254"))


def test_ports_outside_the_list_are_refused() -> None:
    policy = AddressPolicy(ports=[80, 443])
    policy.check_port(80)
    policy.check_port(443)
    for port in (22, 25, 6379, 8080):
        with pytest.raises(UrlForbidden, match="only on port 80, 443"):
            policy.check_port(port)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),  # one decimal number
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),  # octal
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0177.0.0.01", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("3232235777", "192.168.1.1"),
        ("127.0.0.1.", "127.0.0.1"),  # trailing dot
        ("[::1]", "::1"),
        ("::ffff:7f00:1", "::ffff:127.0.0.1"),
        ("1572395042", "93.184.216.34"),
    ],
)
def test_ipv4_in_any_spelling_is_the_address_it_denotes(host: str, address: str) -> None:
    assert host_address(host) == ip_address(address)


@pytest.mark.parametrize("host", ["images.test", "example.com", "xn--bcher-kva.de", "0x7f.a"])
def test_names_are_left_to_the_resolver(host: str) -> None:
    assert host_address(host) is None


@pytest.mark.parametrize(
    "host", ["1.2.3.4.5", "256.1.1.1", "08.1.1.1", "1.2.3.0x100", "4294967296"]
)
def test_malformed_numeric_hosts_are_invalid(host: str) -> None:
    with pytest.raises(InvalidUrl):
        host_address(host)
