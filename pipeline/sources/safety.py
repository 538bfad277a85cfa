"""Which addresses a fetch may reach.

A page newsreel fetches could point it (directly, through a redirect, or through DNS) at the machine itself or its
network: a router's admin page, a database's HTTP port, the cloud metadata service that hands out credentials. What
such a page said would end up read aloud in a video. So every host is resolved first and every address it resolves
to is checked, on every hop of a redirect:

- public addresses are always fine;
- loopback, private (RFC 1918, IPv6 unique-local), carrier-grade NAT and link-local addresses are reached only when
  allowed (`allow_private`); the command line allows them for a URL the user typed whose own host is such an
  address (their own server), never for where a redirect leads;
- cloud metadata addresses (169.254.169.254, fd00:ec2::254, 100.100.100.200) and unspecified, multicast, reserved
  and broadcast addresses are never reached.

`check_url(url, allow_private=False)` is what a server (the web service) calls for a URL a client sent. What it cannot
close by itself: a name that resolves differently a moment later (DNS rebinding); `fetch.py` also checks the address
it actually connected to.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from ..errors import NewsreelError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance metadata services (AWS, GCP and Azure share 169.254.169.254; AWS's IPv6 one; Alibaba's).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
SCHEMES = ("http", "https")


def classify(address: IPAddress) -> tuple[str, bool] | None:
    """None for a public address; else (why it is not public, whether no setting opens it)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return classify(address.ipv4_mapped)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address", True
    if address.is_unspecified:
        return "the unspecified address", True
    if address.is_multicast:
        return "a multicast address", True
    if address.is_loopback:
        return "loopback (this machine)", False
    if address.is_link_local:
        return "link-local", False
    if address.is_reserved:
        return "reserved, not a public address", True
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "carrier-grade NAT (private)", False
    if address.is_private:
        return "private", False
    if not address.is_global:  # documentation, benchmarking and other special-purpose ranges
        return "reserved, not a public address", True
    return None


def describe(address: IPAddress) -> str | None:
    """Why `address` is not public ("loopback (this machine)", "private", ...), or None when it is public."""
    found = classify(address)
    return found[0] if found else None


def never_allowed(address: IPAddress) -> bool:
    """Addresses no setting opens: metadata services, unspecified, multicast, reserved."""
    found = classify(address)
    return bool(found and found[1])


def split_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; a NewsreelError for anything else."""
    shown = url if len(url) <= 200 else url[:200] + "…"
    if not url.strip():
        raise NewsreelError(
            "no URL to fetch (the URL is empty)", "give the article's address, e.g. https://example.com/news/story"
        )
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise NewsreelError(f"{shown} is not a valid URL ({exc})", "give an http:// or https:// address") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        what = f"uses {scheme}:" if scheme else "is not a web address"
        raise NewsreelError(
            f"{shown} {what}; newsreel fetches only http:// and https:// pages",
            "give the article's web address, or save it to a file and use --article FILE",
        )
    host = parts.hostname
    if not host:
        raise NewsreelError(f"{shown} has no host name", "give a full address, e.g. https://example.com/news/story")
    if parts.username or parts.password:
        raise NewsreelError("the URL holds a user name or password", "give the address without credentials")
    return scheme, host, port or (443 if scheme == "https" else 80)


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to; a NewsreelError when it does not resolve."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
        return [literal]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise NewsreelError(
            f"the host {host} does not resolve ({getattr(exc, 'strerror', None) or exc})",
            "check the address for typos, and that this machine is online",
        ) from None
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in found:
            found.append(address)
    if not found:
        raise NewsreelError(f"the host {host} does not resolve", "check the address for typos")
    return found


def check_address(address: IPAddress, host: str, *, allow_private: bool) -> None:
    why = describe(address)
    if why is None:
        return
    if never_allowed(address):
        raise NewsreelError(
            f"refusing to fetch from {host}: it is {address}, {why}",
            "newsreel never fetches from such addresses",
        )
    if not allow_private:
        raise NewsreelError(
            f"refusing to fetch from {host}: it is {address}, {why}",
            "newsreel fetches only public web addresses here",
        )


def check_url(url: str, *, allow_private: bool = False) -> list[IPAddress]:
    """Check an http(s) URL a client gave before anything fetches it: the scheme, then every address its host
    resolves to. Returns those addresses; raises a one-line NewsreelError (not http(s), does not resolve, loopback,
    private, link-local, metadata, ...). `allow_private` opens loopback, private and link-local addresses (never
    metadata services)."""
    _, host, port = split_url(url)
    addresses = resolve(host, port)
    for address in addresses:
        check_address(address, host, allow_private=allow_private)
    return addresses


def is_private_host(url: str) -> bool:
    """Whether the URL's own host is a loopback, private or link-local address (by literal or by resolving), so
    the command line may fetch it when the user typed it. False for anything that does not resolve."""
    try:
        _, host, port = split_url(url)
        addresses = resolve(host, port)
    except NewsreelError:
        return False
    return all(describe(a) is not None and not never_allowed(a) for a in addresses)
