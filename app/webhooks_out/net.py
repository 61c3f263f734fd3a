"""Where a webhook may go: the host's addresses are resolved and every one is checked before connecting, and the
request then goes to the checked address itself (so a DNS answer that changes between the check and the connection,
DNS rebinding, cannot send it elsewhere).

Refused: private, loopback, link-local, multicast, reserved, unspecified and every other non-global address, IPv4
and IPv6, including IPv4 addresses embedded in IPv6 (IPv4-mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 and
Teredo). WEBHOOK_ALLOW_LOOPBACK (development and tests only) lets 127.0.0.1 and ::1 through, nothing else.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import socket
from urllib.parse import urlsplit

from app.lib.i18n import N_
from app.settings import get_settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

LOOPBACKS = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Refused(Exception):
    """The URL's host is, or resolves to, an address webhooks may not reach; `message` says why (translatable,
    with `params`)."""

    def __init__(self, message: str, **params: str) -> None:
        super().__init__(message % params)
        self.message = message
        self.params = params


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def refusal(ip: IPAddress, *, allow_loopback: bool | None = None) -> str | None:
    """Why `ip` may not be reached (None: it may)."""
    if allow_loopback is None:
        allow_loopback = get_settings().app.webhook_allow_loopback
    inner = _embedded_ipv4(ip)
    if inner is not None:
        if ip.ipv4_mapped is None and refusal(inner, allow_loopback=False) is not None:
            return N_("it embeds a private or reserved IPv4 address")
        if ip.ipv4_mapped is not None:
            return refusal(inner, allow_loopback=allow_loopback)
    if ip in LOOPBACKS and allow_loopback:
        return None
    if ip.is_loopback:
        return N_("it is a loopback address")
    if ip.is_link_local:
        return N_("it is a link-local address")
    if ip.is_multicast:
        return N_("it is a multicast address")
    if ip.is_unspecified:
        return N_("it is the unspecified address")
    if ip.is_private:
        return N_("it is a private address")
    if ip.is_reserved or not ip.is_global:
        return N_("it is a reserved address")
    return None


RESOLVE_SECONDS = 5.0


async def getaddrinfo(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (tests replace this function to stand in for DNS)."""
    async with asyncio.timeout(RESOLVE_SECONDS):
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclasses.dataclass(frozen=True)
class Target:
    """A checked destination: connect to `address`, sending `host` as Host (and as the TLS server name)."""

    url: str
    scheme: str
    host: str
    port: int
    address: str

    def pinned_url(self) -> str:
        """The URL with its host replaced by the checked address."""
        parts = urlsplit(self.url)
        literal = f"[{self.address}]" if ":" in self.address else self.address
        netloc = f"{literal}:{self.port}"
        return parts._replace(netloc=netloc).geturl()

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


async def check(url: str) -> Target:
    """Resolve `url`'s host and check each of its addresses; raises Refused (for every refused address of the
    answer, not only the first: a name that resolves to a public and a private address is refused)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    scheme = parts.scheme
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise Refused(N_("the port of %(url)s is not valid"), url=url) from None
    if not host or scheme not in ("http", "https"):
        raise Refused(N_("%(url)s is not an http(s) URL"), url=url)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            resolved = await getaddrinfo(host, port)
        except (OSError, UnicodeError, TimeoutError) as exc:
            raise Refused(N_("%(host)s could not be resolved (%(reason)s)"), host=host,
                          reason=str(exc) or type(exc).__name__) from None
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolved]
    if not addresses:
        raise Refused(N_("%(host)s has no address"), host=host)
    for ip in addresses:
        why = refusal(ip)
        if why is not None:
            raise Refused(N_("%(host)s is refused: %(address)s is not allowed (%(why)s)"), host=host,
                          address=str(ip), why=why)
    return Target(url=url, scheme=scheme, host=host, port=port, address=str(addresses[0]))
