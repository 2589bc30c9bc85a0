"""Which addresses a request from Signal Server may reach: the one SSRF check of save, send and download."""

import socket

import pytest

from core.network import AddressRefused, ip_is_private, public_addresses

# IPv4 hidden in IPv6 (the forms the red team got through admin and import_config first), then the classic ranges.
NON_PUBLIC = [
    "::7f00:1",  # IPv4-compatible 127.0.0.1 (the URL spelling `[::127.0.0.1]` parses to it)
    "::a9fe:a9fe",  # IPv4-compatible 169.254.169.254
    "::8.8.8.8",  # IPv4-compatible, deprecated whatever it embeds
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:10.0.0.1",  # IPv4-mapped private
    "::ffff:0:7f00:1",  # IPv4-translated 127.0.0.1
    "::ffff:0:808:808",  # IPv4-translated, obsolete whatever it embeds
    "64:ff9b::a9fe:a9fe",  # NAT64 of the cloud metadata address
    "64:ff9b::7f00:1",  # NAT64 of loopback
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b::c058:6301",  # NAT64 of the 6to4 relay anycast 192.88.99.1
    "64:ff9b:1::808:808",  # NAT64 local-use prefix
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:808:808::1",  # 6to4, deprecated whatever it embeds
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
    "::", "::1", "fe80::1", "fe80::1%eth0", "fec0::1", "fc00::1", "fd12:3456::1", "ff02::1", "ff0e::1",
    "100::1", "2001:db8::1", "3fff::1", "2001:20::1",
    "0.0.0.0", "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "192.0.0.8", "192.0.2.1", "192.88.99.1", "198.18.0.1", "224.0.0.1", "240.0.0.1", "255.255.255.255",
]
PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "2001:4860:4860::8888",
    "::ffff:8.8.8.8",  # how a dual-stack resolver may spell a public IPv4 address
    "64:ff9b::808:808",  # NAT64 of a public IPv4 host: how it resolves on an IPv6-only server with DNS64
]


@pytest.mark.parametrize("address", NON_PUBLIC)
def test_non_public_addresses_are_private(address):
    assert ip_is_private(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_not_private(address):
    assert not ip_is_private(address)


def test_an_ip_literal_resolves_to_itself_and_is_checked():
    with pytest.raises(AddressRefused) as refused:
        public_addresses("[::127.0.0.1]", 443)
    assert refused.value.addresses == ["::7f00:1"]


def test_one_non_public_answer_refuses_the_name(monkeypatch):
    # DNS is outside the machine: a name answering with a public and a hidden loopback address.
    answers = [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, 443, 0, 0)) for a in ("2606:4700::1", "::7f00:1")]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: answers)

    with pytest.raises(AddressRefused, match=r"hooks\.acme\.fr resolves to a non-public address \(::7f00:1\)"):
        public_addresses("hooks.acme.fr", 443)


def test_a_public_literal_is_the_address_to_connect_to():
    assert public_addresses("[2606:4700:4700::1111]", 443) == ["2606:4700:4700::1111"]


def test_private_targets_pass_when_allowed():
    assert public_addresses("::7f00:1", 443, allow_private=True) == ["::7f00:1"]
