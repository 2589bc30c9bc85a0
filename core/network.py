"""Hosts and addresses: which ones a request from Signal Server must never reach, and how logs show a URL."""

import ipaddress
import socket
from urllib.parse import urlsplit

PLACEHOLDER_HOSTS = {"example.com", "example.org", "example.net", "test.com", "localhost"}
PLACEHOLDER_SUFFIXES = (".invalid", ".test", ".localhost")

# Prefixes whose last 32 bits name the IPv4 host the packet reaches: such an address is judged by that IPv4
# address. A NAT64 address of a public IPv4 host is therefore allowed: on an IPv6-only server with DNS64,
# that is how every IPv4-only receiver resolves.
IPV4_CARRYING_NETWORKS = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::ffff:0:0/96",  # IPv4-mapped (RFC 4291)
        "64:ff9b::/96",  # NAT64 well-known prefix (RFC 6052)
    )
)
# Never a receiver, whatever IPv4 address they embed: deprecated or tunnelled forms whose IPv4 end we do not
# judge, and prefixes some Python releases' tables miss, so they are refused by prefix.
REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "::/96",  # IPv4-compatible, deprecated (RFC 4291 2.5.5.1): ::7f00:1 is 127.0.0.1
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT, RFC 2765)
        "64:ff9b:1::/48",  # NAT64 local use (RFC 8215): the operator chooses where the IPv4 address sits
        "2002::/16",  # 6to4 (deprecated, RFC 7526): relays deliver to the embedded IPv4 address
        "2001::/32",  # Teredo (RFC 4380): relays deliver to the embedded client address
        "2001:20::/28",  # ORCHIDv2 (RFC 7343): identifiers, not locators
        "3fff::/20",  # documentation (RFC 9637), newer than some Python releases' tables
        "fec0::/10",  # site-local, deprecated (RFC 3879) yet still routed by some networks
        "192.88.99.0/24",  # 6to4 relay anycast
    )
)


def ip_is_private(address: str) -> bool:
    """Whether a request to this address could reach something that is not a public host on the Internet."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and any(ip in net for net in IPV4_CARRYING_NETWORKS):
        ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if any(ip in net for net in REFUSED_NETWORKS if net.version == ip.version):
        return True
    # `is_global` alone lets some through (global multicast counts as global), and its tables differ between
    # Python releases: every non-public class is named too.
    return not ip.is_global or any(
        (ip.is_private, ip.is_loopback, ip.is_link_local, ip.is_multicast, ip.is_reserved, ip.is_unspecified)
    )


def host_is_placeholder(host: str) -> bool:
    host = host.lower().rstrip(".")
    labels = host.split(".")
    return (
        host in PLACEHOLDER_HOSTS
        or host.endswith(PLACEHOLDER_SUFFIXES)
        # `*.example.*`: any name with an `example` label before its public suffix.
        or ("example" in labels[:-1] and len(labels) >= 2)
    )


def host_addresses(host: str, port: int) -> list[str]:
    """Every address the host resolves to, in the resolver's preference order; an IP literal resolves to itself."""
    try:
        return [ipaddress.ip_address(host.strip("[]")).compressed]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


class AddressRefused(Exception):
    """A host resolves to at least one non-public address; `addresses` lists them."""

    def __init__(self, host: str, addresses: list[str]):
        super().__init__(f"{host} resolves to a non-public address ({', '.join(addresses)})")
        self.addresses = addresses


def public_addresses(host: str, port: int, *, allow_private: bool = False) -> list[str]:
    """The addresses to connect to, resolved once: the one SSRF check of save, send and download.

    AddressRefused when any of them is not public (one bad answer is enough: the resolver's order is not
    ours to trust), unless `allow_private`; OSError or UnicodeError when the name does not resolve.
    """
    addresses = host_addresses(host, port)
    refused = [] if allow_private else [a for a in addresses if ip_is_private(a)]
    if refused:
        raise AddressRefused(host, refused)
    return addresses


def url_mask(url: str) -> str:
    """Scheme and host only: paths and queries of webhook URLs often carry tokens (Make, Zapier)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "***"
    rest = "/…" if (parts.path not in ("", "/") or parts.query) else "/"
    return f"{parts.scheme}://{host}{port}{rest}"
