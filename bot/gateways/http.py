"""What the HTTP gateways (WAHA, Cloud API) share: the transport errors' categories, the
``Retry-After`` header, lenient JSON, and an attachment's MIME type. No gateway's wire
format lives here."""

from __future__ import annotations

import json
import mimetypes
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from bot.gateways.base import ErrorCategory, GatewayError, Media

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"%PDF-", "application/pdf"),
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def transport_error(exc: httpx.HTTPError, sends: bool, gateway: str) -> GatewayError:
    """A request that got no HTTP answer. Not connected: it never left (``transient``).
    Any later failure of a send: it may have arrived (``uncertain``); of a read:
    ``transient``."""
    name = type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
                  | httpx.ProxyError):
        return GatewayError(ErrorCategory.TRANSIENT,
                            f"{gateway} not reached ({name}): nothing sent")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
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
