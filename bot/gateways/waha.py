"""The ``waha`` gateway: a self-hosted WAHA (WhatsApp HTTP API), one session per number.

``SenderRef.external_id`` is the WAHA *session* name; the chat id of a recipient is the
E.164 number without ``+``, then ``@c.us`` (+994 50 123 45 67 -> ``994501234567@c.us``).

=====================  ==========================================================  ========
call                   request                                                     answer
=====================  ==========================================================  ========
``send_text``          ``POST /api/sendText {session, chatId, text}``              ``id``
``send_media``         ``POST /api/sendImage`` (image) or ``/api/sendFile``        ``id``
                       (document) ``{session, chatId, file, caption}``; ``file``
                       is ``{mimetype, filename, data(base64)}`` or ``{.., url}``
``check_number``       ``GET /api/contacts/check-exists?phone=&session=``          ``numberExists``
``sender_status``      ``GET /api/sessions/{session}``, and for a ``WORKING``      ``status``
                       session ``/capping`` and ``/timelock``
``start_session``      ``POST /api/sessions {name, start: true, config:            201
                       {webhooks: [{url, events, hmac: {key}}]}}``; if the
                       session already exists: ``POST /api/sessions/{s}/start``
``link_status``        ``GET /api/sessions/{session}``                             ``status``,
                                                                                   ``me.id``
``qr_code``            ``GET /api/{session}/auth/qr?format=image``,                PNG, or
                       ``Accept: image/png``                                       ``{data}``
``request_code``       ``POST /api/{session}/auth/request-code {phoneNumber}``     ``code``
``delete_session``     ``POST /api/sessions/{session}/logout``, then               2xx
                       ``DELETE /api/sessions/{session}``
``download_media``     ``GET /api/files/...`` (the path of a message's             bytes
                       ``media.url``, on the configured base URL)
=====================  ==========================================================  ========

The message id kept for receipts is the answer's ``id``: a string (``true_...@c.us_...``),
``{"id": {"_serialized": ...}}`` (WEBJS) or, from NOWEB, ``{"key": {remoteJid, fromMe,
id}}`` turned into the same ``{fromMe}_{chatId}_{id}`` form WAHA's webhooks use. A
2xx without a readable id is **never** success: the message may be out, so it is
``uncertain``.

How answers map to ``GatewayError`` categories ("send" = a POST that may put a message
on WhatsApp; "read" = a GET, or a linking call, which sends nothing to be unsure about):

==============================================  ====================  ===================
what happened                                   send                  read
==============================================  ====================  ===================
ConnectError, ConnectTimeout, PoolTimeout,      ``transient``         ``transient``
ProxyError (the request never left)
ReadTimeout, WriteTimeout, ReadError,           ``uncertain``         ``transient``
WriteError, RemoteProtocolError (it may have
arrived), any other httpx error
UnsupportedProtocol, LocalProtocolError         ``rejected``          ``rejected``
2xx without a readable JSON answer / id         ``uncertain``         ``transient``
400 naming the chat id / number / recipient     ``recipient_invalid`` ``recipient_invalid``
other 400, 413, other 3xx/4xx                   ``rejected``          ``rejected``
401, 403                                        ``rejected`` ("auth") ``rejected`` ("auth")
404 ``Cannot POST /...`` (no such endpoint)     ``rejected``          ``rejected``
404 otherwise (session unknown or not started)  ``sender_banned``     ``sender_banned``
408                                             ``transient``         ``transient``
422 for a ``STARTING`` session                  ``transient``         ``transient``
422 otherwise (``FAILED``, ``SCAN_QR_CODE``,    ``sender_banned``     ``sender_banned``
``STOPPED``, ``PASSKEY_*``)                                           (``transient`` from
                                                                      ``qr_code`` and
                                                                      ``request_code``)
429                                             ``rate_limited``      ``rate_limited``
                                                (``Retry-After``)
5xx whose text contains ``error 463``           ``sender_restricted`` (``retry_after``:
                                                until the timelock/capping lifts, if
                                                WAHA says)
504 (a proxy gave up waiting for WAHA)          ``uncertain``         ``transient``
other 5xx                                       ``transient``         ``transient``
==============================================  ====================  ===================

Choices worth knowing:

* Other 5xx on a send are ``transient`` (retried), as DESIGN says for 5xx: WAHA answers
  500 when its engine throws, which for a send happens before the message is handed to
  WhatsApp (bad JID, engine not ready, 463). A 504 is different: a proxy in front of WAHA
  stopped waiting while WAHA may still be sending, so it is ``uncertain``.
* A missing session (404) is ``sender_banned`` with a detail saying so: the number is not
  linked (or its session is not started) and nothing will send until someone acts.
* ``sender_status``: ``WORKING`` -> working, unless ``CAPPED`` or an active timelock ->
  restricted with ``until`` (the later end; ``None`` when WAHA gives none); its
  ``capping`` is /capping's ``cappingStatus`` (NONE / FIRST_WARNING / SECOND_WARNING /
  CAPPED; None when this WAHA has no capping) for the health guard; ``FAILED`` ->
  banned; ``SCAN_QR_CODE`` -> banned (logged out) if this gateway saw the session work,
  else linking; ``STARTING`` / ``PASSKEY_*`` -> linking; ``STOPPED`` -> stopped; a 404 or a
  422 -> banned. "Saw it work" is memory of this instance (a ``WORKING`` status, a
  successful send or check); seed it after a restart with ``remember_linked``.
* Linking a number (``start_session``, ``link_status``, ``qr_code``, ``request_code``,
  ``delete_session``) sends no message, so its errors map as reads do, with these
  differences. ``start_session`` creates the session with ``start: true`` and, when
  given a webhook URL, a webhook for ``message``, ``message.ack`` and
  ``session.status`` (signed with ``hmac.key`` when a key is given). A session that
  already exists (409, or a 400/422 saying ``already exists`` / ``already started``) is
  started instead (``/start``; its 422 ``already started`` is fine too); an existing
  session keeps the webhook config it was created with. ``link_status`` is
  ``sender_status`` for someone linking: ``SCAN_QR_CODE`` is always ``linking``
  (never "logged out"), ``WORKING`` carries the linked number (``me.id`` as ``+digits``)
  and marks the session as linked. ``qr_code`` and ``request_code`` answer 422 when
  the session is not waiting for a scan (already ``WORKING``, ``STOPPED``, ...): that is
  ``transient`` with the status in the detail, not ``sender_banned``. ``qr_code``
  accepts raw PNG bytes or WAHA's JSON ``Base64File``; anything else that is not a PNG
  is unreadable (``transient``). ``delete_session`` logs out first (best effort: a 404
  or a 422, nothing to log out of, is fine), then deletes; a 404 on the delete means
  it is already gone. A 404 ``Cannot ...`` (the endpoint is missing) still raises.
* The client: pass an ``httpx.AsyncClient`` and it stays yours (``close()`` does not close
  it); pass none and the gateway makes ``bot.gateways.http.default_client()`` (httpx on
  aiohttp's transport, whose errors that module maps to the httpx ones above) and closes
  it in ``close()`` (``build_gateways`` passes none: each adapter owns its client). Either
  way ``config.timeout`` is used for every request (connect, read and pool; aiohttp has
  no write timeout, so a stalled upload ends as a ``ReadTimeout``). After ``close()``
  every call raises ``transient``.
* ``X-Api-Key`` is sent when ``api_key`` is set; the key is never logged, never in an
  exception text (it is cut out of anything WAHA echoes) and not in ``repr(config)``.
  Logs carry method, path, HTTP status and category: no text, caption or phone number.
* Events (receipts, session changes) come by webhook (``bot/web/waha.py``);
  ``set_event_handler`` only stores the handler for that part. ``webhook_address`` says
  whom a body is for (its ``session``; a ``message.ack`` is receipts only) so that the web
  endpoint can look the sender up, and ``webhook_events`` / ``parse_webhook`` turn the
  body into events:

  - ``message.ack`` -> ``Receipt``: ``ack`` -1 failed, 1 sent, 2 delivered, 3/4 read
    (0, pending, nothing); ``payload.id`` is the id ``_send`` kept
    (``{fromMe}_{chatId}_{id}``).
  - ``session.status`` -> ``SenderStateChanged``: ``FAILED`` banned; ``SCAN_QR_CODE``
    banned (logged out) unless ``statuses`` shows it never worked (then nothing: it is
    linking); ``WORKING`` working; ``STOPPED`` stopped; other statuses nothing.
  - ``message`` -> ``IncomingMessage``: from a customer (``fromMe`` false, a
    ``...@c.us`` chat), with its ``id`` and the engine's push name: a ``location``
    (``geo:<lat>,<lon>``, its name and address), ``vCards`` (one line per card: ``FN``
    and ``TEL``), media (``hasMedia``: ``media.url`` as the reference, its
    ``mimetype`` giving the kind: image, sticker (webp), voice (ogg/opus), audio,
    video, else document; ``body`` is the caption), else the text in ``body`` (empty:
    ``other``, something the bot cannot show).

  A session no sender uses, and any other event, give nothing.
"""

from __future__ import annotations

import base64
import functools
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from bot.clock import utcnow
from bot.gateways.base import (
    Capabilities,
    ErrorCategory,
    EventHandler,
    GatewayError,
    GatewayEvent,
    IncomingKind,
    IncomingMessage,
    KnownSenders,
    LinkStatus,
    Media,
    NumberCheck,
    Receipt,
    ReceiptStatus,
    SenderHealth,
    SenderRef,
    SenderState,
    SenderStateChanged,
    SendResult,
    WebhookAddress,
)
from bot.gateways.http import (
    default_client,
    download,
    json_or_none,
    media_type,
    retry_after,
    transport_error,
)

logger = logging.getLogger(__name__)

MEDIA_PATHS = {"image": "/api/sendImage", "document": "/api/sendFile"}
DETAIL_LIMIT = 200

_PHONE = re.compile(r"\+?([1-9]\d{7,14})")
_RECIPIENT_HINT = re.compile(
    r"chat ?id|\bjid\b|\bwid\b|phone|number|recipient|not on whatsapp|not registered"
    r"|does not exist|doesn't exist",
    re.IGNORECASE,
)
_SESSION_STATUS = re.compile(
    r"\b(STOPPED|STARTING|SCAN_QR_CODE|PASSKEY_REQUIRED|PASSKEY_CONFIRMATION_REQUIRED"
    r"|WORKING|FAILED)\b"
)
_NOT_SUPPORTED = frozenset({404, 405, 501})  # a restriction endpoint this WAHA lacks
_CAPPING = frozenset({"NONE", "FIRST_WARNING", "SECOND_WARNING", "CAPPED"})  # cappingStatus
_ALREADY = re.compile(r"already (exists|started)", re.IGNORECASE)
WEBHOOK_EVENTS = ("message", "message.ack", "session.status")
FILES_PATH = "/api/files/"  # where WAHA serves the media of the messages it received
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# free text; "is this phone on WhatsApp?" is one cheap request (asked before a first send)
CAPABILITIES = Capabilities(checks_numbers=True)



@dataclass(frozen=True, slots=True)
class WahaConfig:
    base_url: str  # e.g. "http://waha:3000" (a path prefix behind a proxy is fine)
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 30.0  # seconds, for each of connect / write / read / pool

    def __post_init__(self) -> None:
        if urlsplit(self.base_url).scheme not in ("http", "https"):
            raise ValueError("base_url must start with http:// or https://")
        if self.timeout <= 0:
            raise ValueError("timeout must be > 0")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))


def chat_id(phone: str) -> str:
    """``+994501234567`` -> ``994501234567@c.us``; not E.164: ``recipient_invalid``."""
    match = _PHONE.fullmatch(phone.strip())
    if match is None:
        raise GatewayError(ErrorCategory.RECIPIENT_INVALID, "not an E.164 phone number")
    return f"{match.group(1)}@c.us"


class WahaGateway:
    """The WhatsAppGateway and Linker protocols over WAHA's HTTP API (see the module
    docstring)."""

    kind = "waha"

    def __init__(
        self,
        config: WahaConfig,
        client: httpx.AsyncClient | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._config = config
        self._owns_client = client is None
        self._client = client if client is not None else default_client()
        self._timeout = httpx.Timeout(config.timeout)
        self._headers = {"Accept": "application/json"}
        if config.api_key:
            self._headers["X-Api-Key"] = config.api_key
        self._clock = clock or utcnow
        self._handler: EventHandler | None = None
        self._linked: set[str] = set()
        self._closed = False

    # -- the WhatsAppGateway protocol -------------------------------------------------

    def capabilities(self, sender: SenderRef) -> Capabilities:
        return CAPABILITIES

    def set_event_handler(self, handler: EventHandler) -> None:
        self._handler = handler  # WAHA's webhooks feed it (bot/web), not this class

    async def send_text(self, sender: SenderRef, to: str, text: str) -> SendResult:
        session = _session(sender)
        body = {"session": session, "chatId": chat_id(to), "text": text}
        if not text.strip():
            raise GatewayError(ErrorCategory.REJECTED, "empty text")
        return await self._send("/api/sendText", session, body)

    async def send_media(
        self, sender: SenderRef, to: str, media: Media, caption: str | None = None
    ) -> SendResult:
        session = _session(sender)
        path = MEDIA_PATHS.get(media.kind)
        if path is None:
            raise GatewayError(ErrorCategory.REJECTED, f"unsupported media kind {media.kind!r}")
        body: dict[str, Any] = {
            "session": session, "chatId": chat_id(to), "file": _file(media),
        }
        if caption:
            body["caption"] = caption
        return await self._send(path, session, body)

    async def check_number(self, sender: SenderRef, phone: str) -> NumberCheck:
        session = _session(sender)
        match = _PHONE.fullmatch(phone.strip())
        if match is None:
            return NumberCheck(phone=phone, on_whatsapp=False)
        data = await self._get_json(
            "/api/contacts/check-exists", session,
            params={"phone": match.group(1), "session": session},
        )
        exists = data.get("numberExists") if isinstance(data, dict) else None
        if not isinstance(exists, bool):
            raise self._unreadable("GET", "/api/contacts/check-exists", sends=False)
        self._linked.add(session)
        return NumberCheck(phone=phone, on_whatsapp=exists)

    async def sender_status(self, sender: SenderRef) -> SenderHealth:
        session = _session(sender)
        try:
            return await self._health(session)
        except GatewayError as exc:
            if exc.category is ErrorCategory.SENDER_BANNED:  # 404 / 422: not usable
                return SenderHealth(SenderState.BANNED, exc.detail)
            raise

    async def download_media(self, sender: SenderRef, ref: str, *,
                             max_bytes: int = 20 * 1024 * 1024) -> Media:
        """A customer's attachment by its ``media.url``: only its path under
        ``/api/files/`` is kept and fetched from the configured WAHA (with the API key),
        whatever host the URL names (WAHA's own idea of its address may be
        ``localhost``; and a key is never sent elsewhere)."""
        _session(sender)
        parts = urlsplit(ref)
        if not parts.path.startswith(FILES_PATH) or ".." in parts.path.split("/"):
            raise GatewayError(ErrorCategory.REJECTED, "not a WAHA media URL")
        if self._closed:
            raise GatewayError(ErrorCategory.TRANSIENT, "WAHA gateway is closed")
        url = self._config.base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {k: v for k, v in self._headers.items() if k != "Accept"}
        data, content_type = await download(self._client, url, headers=headers,
                                            limits=self._timeout, max_bytes=max_bytes,
                                            gateway="WAHA")
        filename = parts.path.rsplit("/", 1)[-1] or None
        kind = "image" if content_type.startswith("image/") else "document"
        return Media(kind, data=data, mimetype=content_type or None, filename=filename)

    async def close(self) -> None:
        """Later calls raise ``transient``; closes the HTTP client only if it made it."""
        self._closed = True
        if self._owns_client:
            await self._client.aclose()

    # -- the Linker protocol: linking a number (see the module docstring) --------------

    def remember_linked(self, *sessions: str) -> None:
        """Sessions known to have worked (e.g. from the database after a restart), so a
        later ``SCAN_QR_CODE`` reads as logged out (banned), not as a first linking."""
        self._linked.update(sessions)

    async def start_session(
        self, session: str, *, webhook_url: str | None = None, webhook_key: str | None = None
    ) -> None:
        """Create and start ``session`` (or start it, if it exists) so it shows a QR."""
        body: dict[str, Any] = {"name": session, "start": True}
        if webhook_url:
            webhook: dict[str, Any] = {"url": webhook_url, "events": list(WEBHOOK_EVENTS)}
            if webhook_key:
                webhook["hmac"] = {"key": webhook_key}
            body["config"] = {"webhooks": [webhook]}
        path = "/api/sessions"
        response = await self._request("POST", path, session, sends=False, json_body=body,
                                       tolerate=frozenset({400, 409, 422}))
        if response.is_success:
            return
        if response.status_code != 409 and not self._says_already(response):
            raise self._failure("POST", path, response)
        logger.info("WAHA POST %s: HTTP %s, session exists -> start", path,
                    response.status_code)
        start = f"{_session_path(session)}/start"
        response = await self._request("POST", start, session, sends=False,
                                       tolerate=frozenset({422}))
        if response.status_code == 422 and not self._says_already(response):
            raise self._failure("POST", start, response)

    async def link_status(self, session: str) -> LinkStatus:
        """The session's linking state; ``WORKING`` carries the linked number."""
        path = _session_path(session)
        info = await self._get_json(path, session)
        status = info.get("status") if isinstance(info, dict) else None
        if not isinstance(status, str):
            raise self._unreadable("GET", path, sends=False)
        if status == "WORKING":
            self._linked.add(session)
            return LinkStatus(SenderState.WORKING, _me_phone(info.get("me")), "linked")
        if status == "SCAN_QR_CODE":
            return LinkStatus(SenderState.LINKING, detail="waiting for a QR scan or a code")
        if status == "STARTING":
            return LinkStatus(SenderState.LINKING, detail="session starting")
        if status.startswith("PASSKEY_"):
            return LinkStatus(SenderState.LINKING, detail=f"waiting for the phone ({status})")
        if status == "FAILED":
            return LinkStatus(
                SenderState.BANNED,
                detail="session FAILED: the number is banned or unlinked (WAHA cannot tell)",
            )
        if status == "STOPPED":
            return LinkStatus(SenderState.STOPPED, detail="session stopped")
        return LinkStatus(SenderState.STOPPED,
                          detail=f"unknown WAHA session status {status[:40]!r}")

    async def qr_code(self, session: str) -> bytes:
        """The QR to scan now, as PNG bytes (WAHA renews it every few seconds)."""
        path = f"{_auth_path(session)}/qr"
        response = await self._request(
            "GET", path, session, sends=False, params={"format": "image"},
            accept="image/png", tolerate=frozenset({422}),
        )
        if response.status_code == 422:
            raise self._not_waiting("GET", path, response, "no QR code to scan")
        content = response.content
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json" and content.startswith(PNG_SIGNATURE):
            return content
        body = json_or_none(response.text) if content_type != "image/png" else None
        data = body.get("data") if isinstance(body, dict) else None
        if isinstance(data, str):
            try:
                png = base64.b64decode(data, validate=True)
            except ValueError:
                png = b""
            if png.startswith(PNG_SIGNATURE):
                return png
        raise self._unreadable("GET", path, sends=False)

    async def request_code(self, session: str, phone: str) -> str:
        """A pairing code (``ABCD-EFGH``) to type on the phone instead of scanning."""
        match = _PHONE.fullmatch(phone.strip())
        if match is None:
            raise GatewayError(ErrorCategory.RECIPIENT_INVALID, "not an E.164 phone number")
        path = f"{_auth_path(session)}/request-code"
        response = await self._request(
            "POST", path, session, sends=False, json_body={"phoneNumber": match.group(1)},
            tolerate=frozenset({422}),
        )
        if response.status_code == 422:
            raise self._not_waiting("POST", path, response, "no pairing code")
        body = json_or_none(response.text)
        code = body.get("code") if isinstance(body, dict) else None
        if not isinstance(code, str) or not code.strip():
            raise self._unreadable("POST", path, sends=False)
        return code.strip()

    async def delete_session(self, session: str) -> None:
        """Log the number out (best effort) and delete the session; gone already is fine."""
        path = _session_path(session)
        logout = await self._request("POST", f"{path}/logout", session, sends=False,
                                     tolerate=frozenset({404, 422}))
        if logout.status_code == 404 and self._says_cannot(logout):
            raise self._failure("POST", f"{path}/logout", logout)
        deleted = await self._request("DELETE", path, session, sends=False,
                                      tolerate=frozenset({404}))
        if deleted.status_code == 404 and self._says_cannot(deleted):
            raise self._failure("DELETE", path, deleted)
        self._linked.discard(session)

    # -- internals --------------------------------------------------------------------

    async def _health(self, session: str) -> SenderHealth:
        info = await self._get_json(_session_path(session), session)
        status = info.get("status") if isinstance(info, dict) else None
        if not isinstance(status, str):
            raise self._unreadable("GET", _session_path(session), sends=False)
        if status == "WORKING":
            self._linked.add(session)
            return await self._working_health(session, info)
        if status == "FAILED":
            return SenderHealth(
                SenderState.BANNED,
                "session FAILED: the number is banned or unlinked (WAHA cannot tell which)",
            )
        if status == "SCAN_QR_CODE":
            if session in self._linked:
                return SenderHealth(SenderState.BANNED, "logged out: WhatsApp asks for a new QR")
            return SenderHealth(SenderState.LINKING, "waiting for a QR scan")
        if status == "STARTING":
            return SenderHealth(SenderState.LINKING, "session starting")
        if status.startswith("PASSKEY_"):
            return SenderHealth(SenderState.LINKING, f"waiting for the phone ({status})")
        if status == "STOPPED":
            return SenderHealth(SenderState.STOPPED, "session stopped")
        return SenderHealth(SenderState.STOPPED, f"unknown WAHA session status {status[:40]!r}")

    async def _send(self, path: str, session: str, body: dict[str, Any]) -> SendResult:
        response = await self._request("POST", path, session, sends=True, json_body=body)
        try:
            data = response.json()
        except ValueError:
            raise self._unreadable("POST", path, sends=True) from None
        message_id = _message_id(data)
        if message_id is None:
            logger.warning("WAHA POST %s: HTTP %s without a message id -> uncertain",
                           path, response.status_code)
            raise GatewayError(
                ErrorCategory.UNCERTAIN,
                f"WAHA answered HTTP {response.status_code} without a message id: "
                "the message may have been sent",
            )
        self._linked.add(session)
        return SendResult(message_id=message_id, accepted_at=self._clock())

    async def _get_json(
        self, path: str, session: str, *, params: Mapping[str, str] | None = None,
        tolerate: frozenset[int] = frozenset(),
    ) -> Any:
        """The JSON of a 2xx answer; ``None`` for a status in ``tolerate``."""
        response = await self._request(
            "GET", path, session, sends=False, params=params, tolerate=tolerate
        )
        if response.status_code in tolerate:
            return None
        try:
            return response.json()
        except ValueError:
            raise self._unreadable("GET", path, sends=False) from None

    async def _request(
        self, method: str, path: str, session: str, *, sends: bool,
        json_body: Any = None, params: Mapping[str, str] | None = None,
        tolerate: frozenset[int] = frozenset(), accept: str | None = None,
    ) -> httpx.Response:
        if self._closed:
            raise GatewayError(ErrorCategory.TRANSIENT, "WAHA gateway is closed")
        headers = self._headers if accept is None else {**self._headers, "Accept": accept}
        try:
            response = await self._client.request(
                method, self._config.base_url + path, json=json_body, params=params,
                headers=headers, timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            error = transport_error(exc, sends, "WAHA")
            logger.warning("WAHA %s %s: %s -> %s", method, path, type(exc).__name__,
                           error.category)
            raise error from exc
        if response.is_success or response.status_code in tolerate:
            return response
        error = self._status_error(response, path, sends)
        logger.warning("WAHA %s %s: HTTP %s -> %s", method, path, response.status_code,
                       error.category)
        if sends and error.category is ErrorCategory.SENDER_RESTRICTED:
            until = await self._restriction_end(session)
            if until is not None:
                error = GatewayError(
                    error.category, f"{error.detail}; lifts at {until.isoformat()}",
                    retry_after=max(0.0, (until - self._clock()).total_seconds()),
                )
        raise error

    def _status_error(self, response: httpx.Response, path: str, sends: bool) -> GatewayError:
        status = response.status_code
        text = response.text[:4000]
        body = json_or_none(text)
        message = self._clean(_error_message(body, text))
        if status == 429:
            return GatewayError(
                ErrorCategory.RATE_LIMITED, f"WAHA rate limit (HTTP 429) {message}".strip(),
                retry_after=retry_after(response.headers.get("Retry-After"), self._clock()),
            )
        if status in (401, 403):
            return GatewayError(
                ErrorCategory.REJECTED, f"auth: WAHA refused the API key (HTTP {status})"
            )
        if status >= 500 and "error 463" in text.lower():
            return GatewayError(
                ErrorCategory.SENDER_RESTRICTED,
                "WhatsApp refuses new chats from this number for now (error 463)",
            )
        if status == 400:
            category = (ErrorCategory.RECIPIENT_INVALID if _RECIPIENT_HINT.search(message)
                        else ErrorCategory.REJECTED)
            return GatewayError(category, f"HTTP 400: {message}")
        if status == 404:
            if message.lower().startswith("cannot "):
                return GatewayError(
                    ErrorCategory.REJECTED,
                    f"WAHA has no {path} (HTTP 404): check the base URL and WAHA version",
                )
            return GatewayError(
                ErrorCategory.SENDER_BANNED,
                f"WAHA session not found or not started: the number is not linked ({message})",
            )
        if status == 422:
            session_status = _session_status(body, text)
            if session_status == "STARTING":
                return GatewayError(ErrorCategory.TRANSIENT, "session STARTING: not ready yet")
            if session_status == "SCAN_QR_CODE":
                return GatewayError(
                    ErrorCategory.SENDER_BANNED, "logged out: WhatsApp asks for a new QR"
                )
            return GatewayError(
                ErrorCategory.SENDER_BANNED,
                f"session {session_status or 'not working'} (HTTP 422): {message}",
            )
        if status == 408:
            return GatewayError(ErrorCategory.TRANSIENT, "HTTP 408: request timed out")
        if status == 504 and sends:
            return GatewayError(
                ErrorCategory.UNCERTAIN,
                "HTTP 504: a proxy stopped waiting for WAHA; the message may have been sent",
            )
        if status >= 500:
            return GatewayError(ErrorCategory.TRANSIENT, f"HTTP {status}: {message}")
        if status == 413:
            return GatewayError(ErrorCategory.REJECTED, "HTTP 413: media too large for WAHA")
        return GatewayError(ErrorCategory.REJECTED, f"unexpected HTTP {status}: {message}")

    async def _working_health(self, session: str, info: dict[str, Any]) -> SenderHealth:
        found = info.get("me")
        me: dict[str, Any] = found if isinstance(found, dict) else {}
        capping = await self._get_json(f"{_session_path(session)}/capping", session,
                                       tolerate=_NOT_SUPPORTED)
        timelock = await self._get_json(f"{_session_path(session)}/timelock", session,
                                        tolerate=_NOT_SUPPORTED)
        if capping is None:
            capping = me.get("messageCapping")
        if timelock is None:
            timelock = me.get("reachoutTimelock")
        for name, value in (("capping", capping), ("timelock", timelock)):
            if value is not None and not isinstance(value, dict):
                raise self._unreadable("GET", f"{_session_path(session)}/{name}", sends=False)
        active, until = self._restrictions(capping, timelock)
        found = capping.get("cappingStatus") if capping else None
        level = found.upper() if isinstance(found, str) and found.upper() in _CAPPING else None
        if active:
            detail = " and ".join(active) + (f" until {until.isoformat()}" if until else "")
            return SenderHealth(SenderState.RESTRICTED, detail, until=until, capping=level)
        if capping and level in ("FIRST_WARNING", "SECOND_WARNING"):
            used, total = capping.get("usedQuota"), capping.get("totalQuota")
            return SenderHealth(SenderState.WORKING, f"capping {level} ({used}/{total} new chats)",
                                capping=level)
        return SenderHealth(SenderState.WORKING, capping=level)

    def _restrictions(
        self, capping: dict[str, Any] | None, timelock: dict[str, Any] | None
    ) -> tuple[list[str], datetime | None]:
        """What restricts the number now, and when the last of it lifts (None: unknown)."""
        now = self._clock()
        found: list[tuple[str, datetime | None]] = []
        if capping and capping.get("cappingStatus") == "CAPPED":
            end = _timestamp(capping.get("cycleEnd"))
            if end is None or end > now:
                found.append(("new chats capped (CAPPED)", end))
        if timelock and timelock.get("isActive") is True:
            end = _timestamp(timelock.get("timeEnforcementEnds"))
            if end is None or end > now:
                found.append(("reachout timelock", end))
        ends = [end for _, end in found if end is not None]
        until = max(ends) if ends and len(ends) == len(found) else None
        return [label for label, _ in found], until

    async def _restriction_end(self, session: str) -> datetime | None:
        """Best effort after an ``error 463``: when WAHA says the restriction lifts."""
        try:
            capping = await self._get_json(f"{_session_path(session)}/capping", session)
            timelock = await self._get_json(f"{_session_path(session)}/timelock", session)
            if not isinstance(capping, dict) or not isinstance(timelock, dict):
                return None
            return self._restrictions(capping, timelock)[1]
        except GatewayError:
            return None

    def _failure(self, method: str, path: str, response: httpx.Response) -> GatewayError:
        """The error of a tolerated answer that turned out to be a failure (not a send)."""
        error = self._status_error(response, path, sends=False)
        logger.warning("WAHA %s %s: HTTP %s -> %s", method, path, response.status_code,
                       error.category)
        return error

    def _not_waiting(
        self, method: str, path: str, response: httpx.Response, what: str
    ) -> GatewayError:
        """A 422 from a linking call: the session is not waiting for a scan or a code."""
        text = response.text[:4000]
        status = _session_status(json_or_none(text), text)
        logger.warning("WAHA %s %s: HTTP 422 -> %s", method, path, ErrorCategory.TRANSIENT)
        return GatewayError(
            ErrorCategory.TRANSIENT,
            f"{what}: session {status or 'not waiting for a scan'} (HTTP 422)",
        )

    def _says_already(self, response: httpx.Response) -> bool:
        return bool(_ALREADY.search(_error_message(json_or_none(response.text), response.text)))

    def _says_cannot(self, response: httpx.Response) -> bool:
        """A 404 ``Cannot POST /...``: WAHA has no such endpoint (not: no such session)."""
        message = _error_message(json_or_none(response.text), response.text)
        return message.lower().startswith("cannot ")

    def _unreadable(self, method: str, path: str, *, sends: bool) -> GatewayError:
        logger.warning("WAHA %s %s: unreadable answer", method, path)
        if sends:
            return GatewayError(
                ErrorCategory.UNCERTAIN,
                "WAHA answered but the answer is unreadable: the message may have been sent",
            )
        return GatewayError(ErrorCategory.TRANSIENT, "WAHA answered but the answer is unreadable")

    def _clean(self, text: str) -> str:
        """WAHA's words for a detail: one line, short, and never the API key."""
        key = self._config.api_key
        if key:
            text = text.replace(key, "***")
        text = " ".join(text.split())
        return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 1] + "…"


_ACKS = {
    -1: ReceiptStatus.FAILED,
    1: ReceiptStatus.SENT,
    2: ReceiptStatus.DELIVERED,
    3: ReceiptStatus.READ,
    4: ReceiptStatus.READ,
}
_CHAT_SUFFIXES = ("@c.us", "@s.whatsapp.net")


def webhook_address(body: Mapping[str, Any]) -> WebhookAddress:
    """The session a webhook body is for (``session``; none: nobody to look up) and what
    it is (``event``): a ``message.ack`` carries a receipt only."""
    session, event = body.get("session"), body.get("event")
    if not isinstance(session, str):
        return _NOBODY
    return _address(session, event if isinstance(event, str) else None)


_NOBODY = WebhookAddress()


@functools.lru_cache(maxsize=1024)  # a receipt a message: the same few, thousands a second
def _address(session: str, event: str | None) -> WebhookAddress:
    return WebhookAddress((session,), receipts_only=event == "message.ack", what=event)


def webhook_events(body: Mapping[str, Any], senders: KnownSenders,
                   now: Callable[[], datetime] = utcnow) -> list[GatewayEvent]:
    """``parse_webhook`` with the senders the address named (``bot.web``'s endpoint)."""
    return parse_webhook(body, senders.by_external_id, now=now)


def parse_webhook(
    body: Mapping[str, Any], sender_for_session: Mapping[str, int],
    *, now: Callable[[], datetime] = utcnow,
) -> list[GatewayEvent]:
    """The events one WAHA webhook body carries (see the module docstring); never raises
    on a well-formed JSON object, whatever its fields hold."""
    if not isinstance(body, Mapping):
        return []
    session, event, payload = body.get("session"), body.get("event"), body.get("payload")
    if not isinstance(session, str) or not isinstance(payload, dict):
        return []
    sender_id = sender_for_session.get(session)
    if sender_id is None:
        return []
    at = _timestamp(body.get("timestamp")) or now()
    if event == "message.ack":
        receipt = _ack_receipt(sender_id, payload, at)
        return [receipt] if receipt else []
    if event == "session.status":
        health = _session_health(payload)
        return [SenderStateChanged(sender_id, health, at)] if health else []
    if event == "message":
        incoming = _incoming(sender_id, payload, at)
        return [incoming] if incoming else []
    return []


def _ack_receipt(sender_id: int, payload: dict[str, Any], at: datetime) -> Receipt | None:
    if payload.get("fromMe") is False:  # an ack of a message we received: not ours
        return None
    ack = payload.get("ack")
    if isinstance(ack, bool) or not isinstance(ack, int | float) or ack not in _ACKS:
        return None
    message_id = _message_id(payload)
    if message_id is None:
        return None
    status = _ACKS[int(ack)]
    error = "WhatsApp reported an error (ack -1)" if status is ReceiptStatus.FAILED else None
    return Receipt(message_id, status, at, error, sender_id)


def _session_health(payload: dict[str, Any]) -> SenderHealth | None:
    status = payload.get("status")
    if status == "FAILED":
        return SenderHealth(SenderState.BANNED, "session FAILED: banned or unlinked")
    if status == "SCAN_QR_CODE":
        history = payload.get("statuses")
        if isinstance(history, list) and history and not any(
            isinstance(point, dict) and point.get("status") == "WORKING" for point in history
        ):
            return None  # a new session waiting for its first scan: linking, not lost
        return SenderHealth(SenderState.BANNED, "logged out: WhatsApp asks for a new QR")
    if status == "WORKING":
        return SenderHealth(SenderState.WORKING)
    if status == "STOPPED":
        return SenderHealth(SenderState.STOPPED, "session stopped")
    return None


def _incoming(sender_id: int, payload: dict[str, Any], at: datetime) -> IncomingMessage | None:
    if payload.get("fromMe") is not False:
        return None
    sender, body = payload.get("from"), payload.get("body")
    if not isinstance(sender, str) or not isinstance(body, str | None):
        return None
    for suffix in _CHAT_SUFFIXES:  # a person's chat; groups, channels and @lid are not
        if sender.endswith(suffix):
            digits = sender.removesuffix(suffix)
            if _PHONE.fullmatch(digits) and digits.isdigit():
                kind, text, ref, mimetype, filename = _content(payload, body or "")
                message_id = payload.get("id")
                return IncomingMessage(
                    sender_id, "+" + digits, text, at, kind, media_ref=ref,
                    mimetype=mimetype, filename=filename,
                    message_id=message_id if isinstance(message_id, str) and message_id
                    else None,
                    profile_name=_push_name(payload.get("_data")))
    return None


def _content(payload: dict[str, Any], body: str) -> tuple[
        IncomingKind, str, str | None, str | None, str | None]:
    """(kind, text, media reference, mimetype, filename) of a customer's message."""
    place = payload.get("location")
    if isinstance(place, dict):
        lat, lon = _coordinate(place.get("latitude")), _coordinate(place.get("longitude"))
        if lat is not None and lon is not None:
            words = [place.get(k) for k in ("name", "address")]
            return (IncomingKind.LOCATION,
                    "\n".join(w for w in words if isinstance(w, str) and w.strip()),
                    f"geo:{lat},{lon}", None, None)
    cards = payload.get("vCards")
    if isinstance(cards, list) and cards:
        lines = [_vcard_line(card) for card in cards if isinstance(card, str)]
        lines = [line for line in lines if line]
        if lines:
            return IncomingKind.CONTACT, "\n".join(lines), None, None, None
    if payload.get("hasMedia") is True:
        media = payload.get("media")
        media = media if isinstance(media, dict) else {}
        url = media.get("url") or payload.get("mediaUrl")
        mimetype, filename = media.get("mimetype"), media.get("filename")
        mimetype = mimetype if isinstance(mimetype, str) and mimetype else None
        return (_media_kind(mimetype), body, url if isinstance(url, str) and url else None,
                mimetype, filename if isinstance(filename, str) and filename else None)
    if body:
        return IncomingKind.TEXT, body, None, None, None
    return IncomingKind.OTHER, "", None, None, None  # a poll, an event...: not shown here


def _media_kind(mimetype: str | None) -> IncomingKind:
    kind = (mimetype or "").split(";")[0].strip().lower()
    if kind == "image/webp":
        return IncomingKind.STICKER
    if kind.startswith("image/"):
        return IncomingKind.IMAGE
    if kind.startswith("audio/"):
        return IncomingKind.VOICE if "ogg" in kind or "opus" in (mimetype or "") \
            else IncomingKind.AUDIO
    if kind.startswith("video/"):
        return IncomingKind.VIDEO
    return IncomingKind.DOCUMENT


def _coordinate(value: Any) -> float | None:
    """WAHA gives coordinates as strings (its schema) or numbers (some engines)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if -180.0 <= number <= 180.0 else None


def _vcard_line(card: str) -> str:
    """A vCard as "Name: +994..., ...": its ``FN`` and ``TEL`` values."""
    name, phones = "", []
    for raw in card.splitlines()[:200]:
        key, _, value = raw.partition(":")
        key = key.split(";", 1)[0].strip().upper()
        if key == "FN" and not name:
            name = value.strip()
        elif key == "TEL" and value.strip():
            phones.append(value.strip())
    shown = ", ".join(phones)
    return f"{name}: {shown}" if name and shown else name or shown


def _push_name(data: Any) -> str | None:
    """The customer's WhatsApp name, where the engine's raw message has it."""
    if not isinstance(data, dict):
        return None
    for key in ("notifyName", "pushName"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    info = data.get("Info")
    value = info.get("PushName") if isinstance(info, dict) else None
    return value.strip() if isinstance(value, str) and value.strip() else None


def _session(sender: SenderRef) -> str:
    if not sender.external_id:
        raise GatewayError(
            ErrorCategory.SENDER_BANNED, "sender has no WAHA session: the number is not linked"
        )
    return sender.external_id


def _session_path(session: str) -> str:
    return f"/api/sessions/{quote(session, safe='')}"


def _auth_path(session: str) -> str:
    return f"/api/{quote(session, safe='')}/auth"


def _me_phone(me: Any) -> str | None:
    """``{"id": "994501234567@c.us"}`` -> ``+994501234567``; None when not readable."""
    value = me.get("id") if isinstance(me, dict) else None
    if not isinstance(value, str):
        return None
    digits = value.split("@", 1)[0].split(":", 1)[0]
    if not digits.isdigit() or _PHONE.fullmatch(digits) is None:
        return None
    return "+" + digits


def _file(media: Media) -> dict[str, str]:
    """WAHA's ``BinaryFile`` (data, preferred) or ``RemoteFile`` (url): exactly one."""
    url_name = urlsplit(media.url).path.rsplit("/", 1)[-1] if media.url else ""
    filename = media.filename or url_name or None
    if media.data:
        file = {"data": base64.b64encode(media.data).decode("ascii")}
    elif media.url:
        file = {"url": media.url}
    else:
        raise GatewayError(ErrorCategory.REJECTED, "media has neither url nor data")
    file["mimetype"] = media_type(media, filename)
    if filename:
        file["filename"] = filename
    return file




def _message_id(data: Any) -> str | None:
    """The id WAHA's webhooks will use for this message, whichever engine answered."""
    if not isinstance(data, dict):
        return None
    value = data.get("id")
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict):
        serialized = value.get("_serialized")
        if isinstance(serialized, str) and serialized:
            return serialized
    key = data.get("key")
    if isinstance(key, dict):  # NOWEB: the raw message key
        jid, raw_id, from_me = key.get("remoteJid"), key.get("id"), key.get("fromMe", True)
        if isinstance(jid, str) and jid and isinstance(raw_id, str) and raw_id:
            jid = jid.replace("@s.whatsapp.net", "@c.us")
            return f"{'true' if from_me else 'false'}_{jid}_{raw_id}"
    return None






def _error_message(body: Any, text: str) -> str:
    """The human part of a WAHA / NestJS error body."""
    if isinstance(body, dict):
        exception = body.get("exception")
        candidates = [
            exception.get("message") if isinstance(exception, dict) else None,
            body.get("message"),
            body.get("error"),
        ]
        for value in candidates:
            if isinstance(value, list):
                value = "; ".join(str(item) for item in value)
            if isinstance(value, str) and value.strip():
                return value
    return text


def _session_status(body: Any, text: str) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("status"), str):
        return body["status"]
    match = _SESSION_STATUS.search(text)
    return match.group(1) if match else None




def _timestamp(value: Any) -> datetime | None:
    """WAHA's Unix seconds (milliseconds tolerated) as an aware UTC datetime."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    if value > 1e11:
        value = value / 1000
    if not value < 1e11:  # past the year 5000, or infinite: not a time
        return None
    return datetime.fromtimestamp(value, UTC)
