"""Hosts and addresses: which ones a request from Signal Server must never reach, and how logs show a URL."""

import ipaddress
import socket
from urllib.parse import urlsplit

PLACEHOLDER_HOSTS = {"example.com", "example.org", "example.net", "test.com", "localhost"}
PLACEHOLDER_SUFFIXES = (".invalid", ".test", ".localhost")


def ip_is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


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
