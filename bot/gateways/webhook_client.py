"""Where outgoing webhooks may go, and what they go out through (``AiohttpPoster``).

An owner types an endpoint's URL; the bot then calls it. So a URL must not make the bot
call into its own network (SSRF): it is ``https`` (``http`` only with
``WEBHOOKS_ALLOW_HTTP``), and its host must resolve to public addresses only: private,
loopback, link-local, multicast, reserved and other non-global ranges (IPv4 and IPv6, an
IPv4 address inside an IPv6 one too) are refused, unless ``WEBHOOKS_ALLOW_PRIVATE``.

The check runs when the endpoint is created (``check_url``) and again at every
connection: ``AiohttpPoster`` resolves through ``GuardedResolver``, which refuses a
host the moment it resolves to such an address (DNS may change after creation, or
answer differently each time), on the very addresses the connection then uses; an IP
written in the URL is checked before each request (``check_static``). The poster
verifies TLS, follows no redirect and ignores proxy settings from the environment (a
proxy would connect for us, past the check).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

URL_MAX = 2000

# (host, port) -> the addresses it resolves to
Resolve = Callable[[str, int], Awaitable[list[str]]]


# every ``UrlRefused.reason`` (the chat says each one: ``error.webhook_<reason>``)
REFUSALS = ("url", "scheme", "host", "private", "loopback", "link_local", "multicast",
            "reserved")


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    allow_http: bool = False
    allow_private: bool = False


class UrlRefused(ValueError):
    """The URL may not be called. ``reason``: ``url`` (not a URL), ``scheme`` (not https,
    or not http(s)), ``host`` (no host), or the kind of address it is: ``private``,
    ``loopback``, ``link_local``, ``multicast``, ``reserved``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class AddressRefused(OSError):
    """Raised while connecting: the host resolved to an address that is not allowed."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"{host} resolves to a {reason.replace('_', '-')} address")
        self.reason = reason


def refused_address(address: str) -> str | None:
    """Why the bot may not call this address (``loopback``, ``private``, ...), or None
    for a public one."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone index cut off
    except ValueError:
        return "reserved"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            inner = refused_address(str(embedded))
            if inner is not None:
                return inner
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link_local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified:
        return "reserved"
    if ip.is_private:
        return "private"
    if ip.is_reserved or not ip.is_global:
        return "reserved"
    return None


def _literal(host: str) -> str | None:
    """The host as an IP address when the URL names one (``[::1]`` too), else None."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def check_static(url: str, policy: UrlPolicy) -> tuple[str, int]:
    """What can be told without DNS: the scheme, a host, and an address written in the
    URL. Returns (host, port); raises ``UrlRefused``."""
    if len(url) > URL_MAX or any(c.isspace() for c in url):
        raise UrlRefused("url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused("url", str(exc)) from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or (scheme == "http" and not policy.allow_http):
        raise UrlRefused("scheme", scheme)
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UrlRefused("host")
    if not policy.allow_private:
        literal = _literal(host)
        if literal is not None and (reason := refused_address(literal)) is not None:
            raise UrlRefused(reason, host)
    return host, port or (443 if scheme == "https" else 80)


async def system_resolve(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host``."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port,
                                                         type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def check_url(url: str, policy: UrlPolicy, resolve: Resolve = system_resolve) -> None:
    """The whole check, when an endpoint is created: ``check_static``, then every
    address the host resolves to must be allowed. Raises ``UrlRefused``. A name that does
    not resolve (yet) is let through: nothing can be reached by it, and every connection
    checks its addresses again."""
    host, port = check_static(url, policy)
    if policy.allow_private or _literal(host) is not None:
        return
    try:
        addresses = await resolve(host, port)
    except OSError:
        return
    for address in addresses:
        if (reason := refused_address(address)) is not None:
            raise UrlRefused(reason, host)


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing a host that resolves to an address not allowed (any
    of its addresses: the connection could use any)."""

    def __init__(self, policy: UrlPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        if self._inner is None:  # made here: aiohttp's resolvers want a running loop
            self._inner = aiohttp.ThreadedResolver()
        results = await self._inner.resolve(host, port, family)
        if not self._policy.allow_private:
            for result in results:
                if (reason := refused_address(result["host"])) is not None:
                    raise AddressRefused(host, reason)
        return results

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()


def refusal(exc: BaseException) -> AddressRefused | None:
    """The ``AddressRefused`` behind a failed request, if that is why it failed."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, AddressRefused):
            return current
        inner = getattr(current, "os_error", None)  # aiohttp's ClientConnectorError
        if isinstance(inner, AddressRefused):
            return inner
        current = current.__cause__ or current.__context__
    return None


class DeliveryFailed(Exception):
    """A request got no HTTP answer; ``reason`` says why in a few words (``timed out``,
    ``could not connect``, ``address not allowed (loopback)``), as the owner sees it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WebhookPoster(Protocol):
    """The one-method seam the webhooks go out through: POST ``body`` to ``url``; the
    answer's status, or ``DeliveryFailed``."""

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int: ...

    async def close(self) -> None: ...


class AiohttpPoster:
    """``WebhookPoster`` on aiohttp, connecting through ``GuardedResolver`` (and checking
    an address written in the URL before each request): TLS verified, no redirects, no
    proxy from the environment, at most ``timeout`` seconds a request (connecting at most
    5), of an answer's body at most ``response_bytes`` read.

    aiohttp itself rather than httpx over it (what the WhatsApp gateways use): a webhook
    is one small POST whose answer is a status, and httpx's request and response objects
    cost more than the rest of a delivery: one endpoint, a receiver on 127.0.0.1, 2,800
    requests/s through httpx on aiohttp against 9,500 on aiohttp alone here
    (``bench/webhooks_bench.py`` measures the deliveries)."""

    def __init__(self, policy: UrlPolicy, timeout: float, *, connections: int = 200,
                 resolver: AbstractResolver | None = None,
                 response_bytes: int = 64 * 1024) -> None:
        self._policy = policy
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 5.0))
        self._connections = connections
        self._resolver = resolver
        self._response_bytes = response_bytes
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:  # made in the running loop, at the first request
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(self._policy, self._resolver),
                ssl=ssl.create_default_context(), limit=self._connections,
                limit_per_host=0, keepalive_timeout=30)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False,
                                                  timeout=self._timeout)
        return self._session

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        try:
            check_static(url, self._policy)
        except UrlRefused as exc:
            raise DeliveryFailed(f"address not allowed ({exc.reason})") from None
        try:
            async with self._open().post(url, data=body, headers=dict(headers),
                                         allow_redirects=False) as response:
                await response.content.read(self._response_bytes)  # the rest is not wanted
                return response.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            refused = refusal(exc)
            if refused is not None:
                raise DeliveryFailed(f"address not allowed ({refused.reason})") from None
            if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
                raise DeliveryFailed("timed out") from None
            if isinstance(exc, aiohttp.ClientConnectorError | ConnectionRefusedError):
                raise DeliveryFailed("could not connect") from None
            raise DeliveryFailed(f"no answer ({type(exc).__name__})") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
