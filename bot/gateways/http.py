"""What the HTTP gateways (WAHA, Cloud API) share: the client they build when given none,
the transport errors' categories, the ``Retry-After`` header, lenient JSON, an
attachment's MIME type, and a bounded download of a customer's attachment
(``download``). No gateway's wire format lives here.

The client: ``default_client()`` is ``httpx.AsyncClient`` on ``AiohttpTransport`` (the
httpx API over aiohttp's C-accelerated HTTP/1.1: ~4x the requests per second of httpx's
own httpcore + h11 stack here). httpx-aiohttp's own exception mapping names a server that
hung up without answering, or reset the connection, ``ConnectTimeout`` and lets a
malformed answer escape as an aiohttp error, so this module's transport raises what
httpcore would for the same failure:

================================================  ===================================
aiohttp                                           httpx (what it means)
================================================  ===================================
``ConnectionTimeoutError`` (connect or pool)      ``ConnectTimeout`` (never left)
``ClientProxyConnectionError``, ``ClientHttp``    ``ProxyError`` (never left)
``ProxyError``
``ClientConnectorError`` (refused, DNS, TLS)      ``ConnectError`` (never left)
``SocketTimeoutError``, other ``ServerTimeout``   ``ReadTimeout`` (may have arrived)
``ServerDisconnectedError``, ``ClientPayload``,   ``RemoteProtocolError`` (may have
``ClientResponseError`` (malformed answer)        arrived)
``ClientConnectionResetError``                    ``WriteError`` (may have arrived)
any other aiohttp error                           ``ReadError`` (may have arrived)
invalid or non-HTTP URL                           ``UnsupportedProtocol``
================================================  ===================================

``transport_error`` applies the same table to an error whose cause is an aiohttp one, so a
client on httpx-aiohttp's plain transport is categorised correctly too. aiohttp has no
write timeout: a request whose body the server stops reading ends as ``WriteTimeout``
(uncertain) once the sum of httpx's pool, connect, write and read timeouts has passed.
aiohttp sends an idempotent request (GET, DELETE) once more when a reused keep-alive
connection closes without an answer (RFC 9112, 9.3.1); a POST, never.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, NoReturn

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport as _PlainAiohttpTransport

from bot.gateways.base import ErrorCategory, GatewayError, Media

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"%PDF-", "application/pdf"),
)


_NEVER_LEFT: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.ClientProxyConnectionError, httpx.ProxyError),
    (aiohttp.ClientHttpProxyError, httpx.ProxyError),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
)
_MAY_HAVE_ARRIVED: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
    (aiohttp.ClientConnectionResetError, httpx.WriteError),
)


def _from_aiohttp(exc: BaseException) -> type[httpx.TransportError] | None:
    """The httpx error for an aiohttp one (see the table above); None if not aiohttp's."""
    if not isinstance(exc, aiohttp.ClientError):
        return None
    for aiohttp_type, httpx_type in (*_NEVER_LEFT, *_MAY_HAVE_ARRIVED):
        if isinstance(exc, aiohttp_type):
            return httpx_type
    return httpx.ReadError


def _corrected(exc: BaseException, request: httpx.Request | None = None) -> BaseException:
    """``exc`` as httpcore would have raised it, when aiohttp's error is inside (its
    ``__cause__`` is then that aiohttp error); else ``exc`` itself."""
    cause = exc if isinstance(exc, aiohttp.ClientError) else exc.__cause__
    httpx_type = _from_aiohttp(cause) if cause is not None else None
    if cause is None or httpx_type is None or type(exc) is httpx_type:
        return exc
    corrected = httpx_type(str(cause) or type(cause).__name__, request=request)
    corrected.__cause__ = cause
    return corrected


def _reraise(exc: BaseException, request: httpx.Request | None) -> NoReturn:
    corrected = _corrected(exc, request)
    if corrected is exc:
        raise exc
    raise corrected from corrected.__cause__


class _CorrectedStream(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.AsyncByteStream, request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except (httpx.TransportError, aiohttp.ClientError) as exc:
            _reraise(exc, self._request)

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        except (httpx.TransportError, aiohttp.ClientError) as exc:
            _reraise(exc, self._request)


class AiohttpTransport(_PlainAiohttpTransport):
    """httpx-aiohttp's transport raising the httpx errors of the table above."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # aiohttp has no write timeout and starts its read timeout only once the body is
        # out: bound the whole exchange up to the answer's head by the sum of httpx's
        # four timeouts, which aiohttp's own (connect, then read) always beat.
        timeout = request.extensions.get("timeout", {})
        parts = [timeout.get(k) for k in ("pool", "connect", "write", "read")]
        guard = asyncio.timeout(None if None in parts else sum(parts))
        try:
            async with guard:
                response = await super().handle_async_request(request)
        except (httpx.TransportError, aiohttp.ClientError) as exc:
            _reraise(exc, request)
        except TimeoutError:
            if not guard.expired():
                raise
            raise httpx.WriteTimeout("the request could not be sent in time",
                                     request=request) from None
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _CorrectedStream(response.stream, request)
        return response


def default_client(limits: httpx.Limits | None = None) -> httpx.AsyncClient:
    """The client an HTTP gateway makes when given none: httpx on aiohttp."""
    limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
    return httpx.AsyncClient(transport=AiohttpTransport(limits=limits))


def transport_error(exc: httpx.HTTPError, sends: bool, gateway: str) -> GatewayError:
    """A request that got no HTTP answer. Not connected: it never left (``transient``).
    Any later failure of a send: it may have arrived (``uncertain``); of a read:
    ``transient``. An aiohttp cause counts as its httpx equivalent (module docstring)."""
    error = _corrected(exc)
    name = type(error).__name__
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
                  | httpx.ProxyError):
        return GatewayError(ErrorCategory.TRANSIENT,
                            f"{gateway} not reached ({name}): nothing sent")
    if isinstance(error, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return GatewayError(ErrorCategory.REJECTED, f"request not sendable ({name})")
    if sends:
        return GatewayError(ErrorCategory.UNCERTAIN,
                            f"no answer from {gateway} ({name}): the message may have been sent")
    return GatewayError(ErrorCategory.TRANSIENT, f"no answer from {gateway} ({name})")


def json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` in seconds (a number of seconds or an HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def media_type(media: Media, filename: str | None) -> str:
    """The attachment's MIME type: as given, else from its first bytes, else its name."""
    if media.mimetype:
        return media.mimetype
    if media.data:
        for magic, mimetype in _MAGIC:
            if media.data.startswith(magic):
                return mimetype
        if media.data[:4] == b"RIFF" and media.data[8:12] == b"WEBP":
            return "image/webp"
    guessed = mimetypes.guess_type(filename)[0] if filename else None
    if guessed:
        return guessed
    return "image/jpeg" if media.kind == "image" else "application/octet-stream"


async def download(client: httpx.AsyncClient, url: str, *, headers: Mapping[str, str],
                   limits: httpx.Timeout, max_bytes: int, gateway: str) -> tuple[bytes, str]:
    """GET ``url``'s bytes and content type, reading no more than ``max_bytes`` (a
    customer's attachment). No answer: as ``transport_error`` for a read. 404 / 410:
    ``rejected`` (gone); 401 / 403 ``rejected`` (auth); 429 ``rate_limited``; 5xx
    ``transient``; any other non-2xx, or more than ``max_bytes``: ``rejected``."""
    try:
        async with client.stream("GET", url, headers=headers, timeout=limits) as response:
            status = response.status_code
            if not response.is_success:
                await response.aclose()
                category = (ErrorCategory.RATE_LIMITED if status == 429
                            else ErrorCategory.TRANSIENT if status >= 500
                            else ErrorCategory.REJECTED)
                words = {404: "media gone", 410: "media gone", 401: "auth: media refused",
                         403: "auth: media refused"}.get(status, "media not fetched")
                raise GatewayError(category, f"{words} (HTTP {status})")
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > max_bytes:
                raise GatewayError(ErrorCategory.REJECTED,
                                   f"media of {length} bytes: more than {max_bytes} bytes")
            parts: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise GatewayError(ErrorCategory.REJECTED,
                                       f"media of more than {max_bytes} bytes")
                parts.append(chunk)
            content_type = response.headers.get("content-type", "").split(";")[0].strip()
            return b"".join(parts), content_type
    except httpx.HTTPError as exc:
        raise transport_error(exc, False, gateway) from exc
