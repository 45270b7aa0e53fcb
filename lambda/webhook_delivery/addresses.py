"""Which webhook URLs and addresses the dispatcher may reach: no server-side request forgery.

A webhook URL is the caller's, so it may point at this account's own network: the instance
metadata service (169.254.169.254, fd00:ec2::254), a VPC address, loopback. The URL is
checked twice:

1. at submit and before each attempt, its form: https (http only to a loopback address in
   local mode), a host, no user name or password;
2. at connect time, every address the host resolves to: one forbidden address refuses the
   URL, and the connection goes to an address that was checked (transport.py), never to a
   second resolution, so a DNS rebind between check and connect cannot slip in.

The resolver is the system's (getaddrinfo), which also reads the legacy numeric forms
(`2130706433`, `0177.0.0.1`, `0x7f.1`) as the addresses they are; the check runs on what it
returns, so those forms are judged by the address they name.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

# The metadata services named on their own, so a refusal says what was reached for (EC2
# User Guide, "Access instance metadata for an EC2 instance": 169.254.169.254 and
# fd00:ec2::254; both are also link-local or unique-local, so refused either way).
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)


class RefusedUrl(ValueError):
    """The webhook URL may not be called; str() is one sentence naming the reason."""


@dataclass(frozen=True)
class Target:
    """A webhook URL taken apart: where to connect and what to send as Host and path."""

    url: str
    scheme: str
    host: str
    port: int
    path: str

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return shown if self.port == default else f"{shown}:{self.port}"


def forbidden_reason(address: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why `address` may not be called, or None when it is a public unicast address.

    An IPv6 address that embeds an IPv4 one (IPv4-mapped ::ffff:a.b.c.d, 6to4, Teredo,
    IPv4-compatible ::a.b.c.d) is judged by the IPv4 address it carries too: a host may
    reach 127.0.0.1 through ::ffff:127.0.0.1.
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # ::ffff:a.b.c.d is a.b.c.d itself on a dual-stack socket.
        reason = forbidden_reason(address.ipv4_mapped, allow_loopback=allow_loopback)
        return None if reason is None else f"{reason} (as {address})"
    if isinstance(address, ipaddress.IPv6Address):
        for embedded in _embedded_ipv4(address):
            reason = forbidden_reason(embedded, allow_loopback=allow_loopback)
            if reason is not None:
                return f"{reason} (inside {address})"
    if address in METADATA_ADDRESSES:
        return f"{address} is the instance metadata service"
    if address.is_loopback:
        return None if allow_loopback else f"{address} is a loopback address"
    if address.is_link_local:
        return f"{address} is a link-local address"
    if address.is_multicast:
        return f"{address} is a multicast address"
    if address.is_unspecified:
        return f"{address} is the unspecified address"
    if address.is_private:
        return f"{address} is a private address"
    if address.is_reserved:
        return f"{address} is a reserved address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    embedded = [address.sixtofour]
    if address.teredo is not None:
        embedded.extend(address.teredo)
    # ::a.b.c.d, the deprecated IPv4-compatible form (RFC 4291 section 2.5.5.1), which
    # some stacks still route to the IPv4 address; `::` and `::1` are not of it.
    if int(address) >> 32 == 0 and int(address) > 1:
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [found for found in embedded if found is not None]


def parse_url(url: str, *, allow_loopback_http: bool = False) -> Target:
    """`url` as a Target, or RefusedUrl with the reason.

    https only; http is accepted only with `allow_loopback_http` (local mode), and then
    only to an address that is loopback (checked at connect time by `checked_addresses`).
    """
    if not isinstance(url, str) or not url.strip():
        raise RefusedUrl(f"Webhook URL must be an https URL; received {url!r}.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise RefusedUrl(f"Webhook URL {url!r} is not a valid URL ({error}).") from None
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if allow_loopback_http else ("https",)
    if scheme not in allowed:
        expected = "https (or http to a loopback address in local mode)"
        raise RefusedUrl(
            f"Webhook URL must use {expected if allow_loopback_http else 'https'}; "
            f"received {url!r}."
        )
    if not parts.hostname:
        raise RefusedUrl(f"Webhook URL {url!r} has no host; expected https://host/path.")
    if parts.username is not None or parts.password is not None:
        raise RefusedUrl(
            f"Webhook URL {url!r} carries a user name or password; expected none (sign-in "
            f"data in a URL would be sent to every redirect and log)."
        )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(
        url=url,
        scheme=scheme,
        host=parts.hostname,
        port=port if port is not None else (443 if scheme == "https" else 80),
        path=path,
    )


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, as getaddrinfo returns them (both families)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def checked_addresses(
    target: Target,
    *,
    allow_loopback_http: bool = False,
    resolve: Resolver = system_resolver,
) -> list[IPAddress]:
    """The addresses of `target`'s host, each one checked; RefusedUrl if any is forbidden.

    Every address is checked, not only the first: a host that resolves to one public and
    one private address could otherwise be reached through the private one on a retry. An
    http target must resolve to loopback addresses only (local mode's receivers).
    """
    try:
        found = resolve(target.host, target.port)
    except (OSError, UnicodeError) as error:
        raise UnresolvedHost(f"Webhook host {target.host!r} did not resolve ({error}).") from None
    if not found:
        raise UnresolvedHost(f"Webhook host {target.host!r} resolved to no address.")
    addresses = [ipaddress.ip_address(text.split("%", 1)[0]) for text in found]
    loopback_allowed = allow_loopback_http and target.scheme == "http"
    for address in addresses:
        reason = forbidden_reason(address, allow_loopback=loopback_allowed)
        if reason is not None:
            raise RefusedUrl(f"Webhook URL {target.url!r} resolves to {reason}; refused.")
        if target.scheme == "http" and not address.is_loopback:
            raise RefusedUrl(
                f"Webhook URL {target.url!r} uses http to {address}, which is not loopback; "
                f"expected https."
            )
    return addresses


class UnresolvedHost(OSError):
    """The host has no address now; a later attempt may find one (retried like a timeout)."""
