"""The ``cloud`` gateway: Meta's WhatsApp Business Platform (Cloud API), Graph API ``v23.0``.

One sender is one business phone number: ``SenderRef.external_id`` is its *phone-number
id*, and its access token comes from ``tokens`` (by ``SenderRef.sender_id``), sent as
``Authorization: Bearer <token>``. A recipient is the E.164 number without ``+``.

=====================  ==========================================================  ==========
call                   request                                                     answer
=====================  ==========================================================  ==========
``send_text``          ``POST /{version}/{phone-number-id}/messages``              ``messages
                       ``{messaging_product, recipient_type, to, type: text,       [0].id``
                       text: {body}}``
``send_media``         the same with ``type: image | document`` and                ``messages
                       ``{link}`` (``Media.url``) or ``{id}`` (``Media.data``,     [0].id``
                       uploaded first), ``caption``, ``filename`` (documents)
(upload)               ``POST /{version}/{phone-number-id}/media`` multipart:      ``id``
                       ``messaging_product=whatsapp``, ``type``, ``file``
``send_template``      ``type: template``, ``template: {name, language: {code},    ``messages
                       components: [{type: body, parameters: [{type: text,         [0].id``
                       text}]}]}`` (no components without parameters)
``download_media``     ``GET /{version}/{media-id}?phone_number_id=``, then        ``url``,
                       ``GET <url>`` with the same token (Meta's hosts only)       bytes
``check_number``       nothing: see below                                          -
``sender_status``      ``GET /{version}/{phone-number-id}?fields=...``             ``status``,
                                                                                   ``quality_
                                                                                   rating``
=====================  ==========================================================  ==========

A 2xx without a readable ``messages[0].id`` is **never** success: the message may be out,
so it is ``uncertain``. ``check_number`` cannot ask: the Cloud API has no cheap
"is this number on WhatsApp" call, so every valid E.164 number is reported
``on_whatsapp=True`` (a non-number ``False``); a number that is not on WhatsApp surfaces
as error 131026 on the send (``recipient_invalid``), or as a ``failed`` receipt.

Errors: ``{error: {message, type, code, error_subcode, error_data: {details},
fbtrace_id, is_transient}}``. The ``code`` decides first (the specs README's lists), then
``is_transient: true``, then the HTTP status ("send" = a POST to ``/messages``, which may
put a message on WhatsApp; "read" = the GET and the media upload, which do not):

=======================================================  ===================  ===========
what happened                                            send                 read
=======================================================  ===================  ===========
code 368, 131031, 130497 (account banned / locked)       ``sender_banned``    same
code 131048 (spam rate limit: slow down, ban risk)       ``sender_restricted``  same
code 131026 (recipient not on WhatsApp / unable)         ``recipient_invalid``  same
code 130429, 131056, 4, 80007, 133016                    ``rate_limited``     same
                                                         (``Retry-After``)
code 131049, 131064 (per-user limits)                    ``rate_limited``, ``retry_after``
                                                         at least 24 h
code 1, 2, 131000, 131016; any other ``is_transient``    ``transient``        same
code 131047, 131050, 131008, 131009, 131051-131053,      ``rejected``         same
131030, 132000-132069 (templates)
code 190 (token), 10, 200-299 (permissions)              ``rejected``, detail starts
                                                         ``auth``: stop, alert the admin
no known code: HTTP 429                                  ``rate_limited``     same
no known code: HTTP 401 / 403                            ``rejected`` (``auth``)
no known code: HTTP 5xx                                  ``transient``        same
no known code: other 3xx / 4xx                           ``rejected``         same
2xx without a readable JSON answer / id                  ``uncertain``        ``transient``
ConnectError, ConnectTimeout, PoolTimeout, ProxyError    ``transient``        same
ReadTimeout, WriteTimeout, RemoteProtocolError and       ``uncertain``        ``transient``
other httpx errors (it may have arrived)
UnsupportedProtocol, LocalProtocolError                  ``rejected``         same
=======================================================  ===================  ===========

Choices worth knowing:

* Throughput: every message (not the upload, not the status GET) waits for its slot in a
  per-number limiter spacing messages ``1 / config.throughput`` seconds apart (80/s, the
  Cloud API default; raise it for numbers Meta lifted to 1,000/s). Calls for one number
  are spread out, calls for different numbers do not wait on each other.
* ``sender_status``: ``status`` BANNED / DISCONNECTED / DELETED -> banned; FLAGGED /
  RESTRICTED / RATE_LIMITED or ``quality_rating`` RED -> restricted; PENDING / UNVERIFIED
  -> linking; MIGRATED -> stopped; anything else working (YELLOW quality in the detail).
  An answer that maps to ``sender_banned`` / ``sender_restricted`` is returned as that
  health rather than raised; other failures are raised.
* A sender without a phone-number id is ``sender_banned`` (not linked); a sender without
  a token is ``rejected`` (``auth``); both before any request.
* Tokens are never logged, never in an exception text (cut out of anything Meta echoes)
  and never in ``repr``. Logs carry method, path, HTTP status, code and category: no
  text, caption, parameter or phone number.
* The client: pass an ``httpx.AsyncClient`` and it stays yours (``close()`` does not close
  it); pass none and the gateway makes ``bot.gateways.http.default_client()`` (httpx on
  aiohttp's transport, whose errors that module maps to the httpx ones above) and closes
  it in ``close()`` (``build_gateways`` passes none: each adapter owns its client).
  ``config.timeout`` is used for every request. After ``close()`` every call raises
  ``transient``.
* Events (receipts, replies) come by Meta's webhook (``bot/web/cloud.py``);
  ``set_event_handler`` only stores the handler. ``webhook_address`` says whom a body is
  for (its phone-number ids; whether it names a number by its display phone), so that
  the web endpoint can look the senders up; ``webhook_events`` then parses it.
  ``parse_webhook`` turns one webhook body
  ``{object: whatsapp_business_account, entry: [{id, changes: [{field, value}]}]}`` into
  events: every entry, change, status and message in it, in order. A ``messages`` change
  belongs to the sender whose phone-number id is ``value.metadata.phone_number_id``
  (looked up in ``sender_for_number``); a number no sender uses gives nothing.

  - ``statuses[]`` -> ``Receipt``: ``id`` (the ``wamid`` kept from the send),
    ``status`` sent / delivered / read / failed (others nothing), ``at`` from
    ``timestamp`` (Unix seconds, a string). ``failed`` carries ``code <n>: <title>`` of
    the first ``errors[]`` item, short and with digit runs that could be a phone number
    cut out; Meta's longer ``message`` / ``details`` are left out.
  - ``messages[]`` -> ``IncomingMessage`` from ``+<from>`` (its ``id``, and the profile
    name ``contacts[]`` gives for that ``wa_id``): ``text.body`` of a ``text`` message,
    ``button.text`` of a quick-reply ``button``, the ``title`` of an ``interactive``
    ``button_reply`` / ``list_reply``; ``image`` / ``document`` / ``audio`` (``voice``:
    true, a voice note) / ``video`` / ``sticker`` with their media ``id`` as the
    reference, ``caption``, ``mime_type`` and ``filename``; ``location`` as
    ``geo:<lat>,<lon>`` with its name and address; ``contacts`` as one line per card
    (formatted name and phones); any other type (an order, ``unsupported``) as ``other``.
    Reactions and ``system`` messages: nothing.
  - ``phone_number_quality_update`` (``{display_phone_number, event, current_limit}``)
    carries no phone-number id, only the display number: it is matched through the
    optional ``sender_for_display`` (E.164 digits without ``+`` -> sender id) and
    otherwise ignored. ``FLAGGED`` -> restricted (quality low: slow down; ``quality``
    RED), ``DOWNGRADE`` -> restricted (messaging limit lowered to ``current_limit``,
    ``tier`` its users a day); other
    events (``UNFLAGGED``, ``UPGRADE``, ``ONBOARDING``) nothing, as a restriction is
    never lifted by itself.
  - ``account_update`` is about the whole WhatsApp Business Account (``entry.id`` is the
    WABA id): handled only when its value names a ``phone_number`` found in
    ``sender_for_display``: ``DISABLED_UPDATE`` / ``ACCOUNT_DELETED`` -> banned,
    ``ACCOUNT_RESTRICTION`` / ``ACCOUNT_VIOLATION`` -> restricted. WABA-wide bans and
    restrictions without a number (``ban_info``, ``restriction_info`` alone) are ignored:
    ``sender_status`` polling finds them per number.

  It never raises on a well-formed JSON object, whatever its fields hold: an item of the
  wrong shape is skipped, the rest still counts.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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

DETAIL_LIMIT = 200
DAY = 86_400.0
STATUS_FIELDS = "id,display_phone_number,quality_rating,status,messaging_limit_tier"

_PHONE = re.compile(r"\+?([1-9]\d{7,14})")
_MEDIA_KINDS = frozenset({"image", "document"})
# a conversation opens only with an approved template (free text: error 131047); no
# cheap "is this phone on WhatsApp?" to ask (see ``check_number``); an answer in free text
# only within 24 hours of the customer's last message (Meta's customer service window)
CAPABILITIES = Capabilities(needs_approved_template=True, reply_window=timedelta(hours=24))
# where Meta's media URLs point (``download_media`` sends the token to no other host)
MEDIA_HOSTS = (".fbsbx.com", ".facebook.com", ".fbcdn.net", ".whatsapp.net")

_BANNED = frozenset({368, 131031, 130497})
_RESTRICTED = frozenset({131048})
_RECIPIENT = frozenset({131026})
_RATE = frozenset({130429, 131056, 4, 80007, 133016})
_RATE_DAY = frozenset({131049, 131064})
_TRANSIENT = frozenset({1, 2, 131000, 131016})
_REJECTED = frozenset({131047, 131050, 131008, 131009, 131051, 131052, 131053, 131030})
_TEMPLATE = range(132000, 132070)
_AUTH = frozenset({190, 10})
_PERMISSION = range(200, 300)

_STATUS_BANNED = frozenset({"BANNED", "DISCONNECTED", "DELETED"})
_STATUS_RESTRICTED = frozenset({"FLAGGED", "RESTRICTED", "RATE_LIMITED"})
_STATUS_LINKING = frozenset({"PENDING", "UNVERIFIED"})
_STATUS_STOPPED = frozenset({"MIGRATED"})

Tokens = Mapping[int, str] | Callable[[int], str]

WEBHOOK_OBJECT = "whatsapp_business_account"
ERROR_LIMIT = 120
_RECEIPTS = {status.value: status for status in ReceiptStatus}
_DIGIT_RUN = re.compile(r"\+?\d[\d \-]{6,}\d")
_LIMIT = re.compile(r"[A-Z0-9_]{1,40}")
_TIER = re.compile(r"TIER_([0-9]{1,6})(K?)")
_QUALITY_RATINGS = frozenset({"GREEN", "YELLOW", "RED"})
_DIGITS = re.compile(r"[0-9]{1,15}")
_MEDIA_ID = re.compile(r"[0-9]{1,40}")
_QUALITY = {
    "FLAGGED": "quality rating low (FLAGGED): slow down",
    "DOWNGRADE": "messaging limit lowered",
}
_ACCOUNT_BANNED = frozenset({"DISABLED_UPDATE", "ACCOUNT_DELETED"})
_ACCOUNT_RESTRICTED = frozenset({"ACCOUNT_RESTRICTION", "ACCOUNT_VIOLATION"})



@dataclass(frozen=True, slots=True)
class CloudConfig:
    base_url: str = "https://graph.facebook.com"
    version: str = "v23.0"
    timeout: float = 30.0  # seconds, for each of connect / write / read / pool
    throughput: float = 80.0  # messages per second per number

    def __post_init__(self) -> None:
        if urlsplit(self.base_url).scheme not in ("http", "https"):
            raise ValueError("base_url must start with http:// or https://")
        if not re.fullmatch(r"v\d+\.\d+", self.version):
            raise ValueError("version must look like v23.0")
        if self.timeout <= 0:
            raise ValueError("timeout must be > 0")
        if self.throughput <= 0:
            raise ValueError("throughput must be > 0")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))


def recipient(phone: str) -> str:
    """``+994501234567`` -> ``994501234567``; not E.164: ``recipient_invalid``."""
    match = _PHONE.fullmatch(phone.strip())
    if match is None:
        raise GatewayError(ErrorCategory.RECIPIENT_INVALID, "not an E.164 phone number")
    return match.group(1)


class _Spacer:
    """Per-key minimum spacing: each call gets the next free slot ``interval`` after the
    previous one, and sleeps until it (no lock needed: slots are taken without awaiting)."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self._interval = interval
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}

    async def wait(self, key: str) -> None:
        now = self._clock()
        slot = max(now, self._next.get(key, now))
        self._next[key] = slot + self._interval
        if slot > now:
            await self._sleep(slot - now)


class CloudGateway:
    """The WhatsAppGateway, TemplateSender and CloudNumbers protocols over Meta's Cloud
    API (see the module docstring)."""

    kind = "cloud"

    def __init__(
        self,
        config: CloudConfig,
        client: httpx.AsyncClient | None = None,
        *,
        tokens: Tokens,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,  # the spacing's clock and sleep
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._config = config
        self._owns_client = client is None
        self._client = client if client is not None else default_client()
        self._timeout = httpx.Timeout(config.timeout)
        self._tokens = tokens
        self._clock = clock or utcnow
        self._spacer = _Spacer(1.0 / config.throughput, monotonic, sleep)
        self._handler: EventHandler | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"CloudGateway({self._config!r})"

    # -- the WhatsAppGateway, TemplateSender and CloudNumbers protocols ---------------

    def capabilities(self, sender: SenderRef) -> Capabilities:
        return CAPABILITIES

    def set_event_handler(self, handler: EventHandler) -> None:
        self._handler = handler  # Meta's webhooks feed it (bot/web), not this class

    async def send_text(self, sender: SenderRef, to: str, text: str) -> SendResult:
        if not text.strip():
            raise GatewayError(ErrorCategory.REJECTED, "empty text")
        return await self._message(sender, to, "text", {"body": text})

    async def send_media(
        self, sender: SenderRef, to: str, media: Media, caption: str | None = None
    ) -> SendResult:
        if media.kind not in _MEDIA_KINDS:
            raise GatewayError(ErrorCategory.REJECTED, f"unsupported media kind {media.kind!r}")
        if not media.url and not media.data:
            raise GatewayError(ErrorCategory.REJECTED, "media has neither url nor data")
        number, token = self._credentials(sender)
        digits = recipient(to)
        filename = _filename(media)
        if media.url:
            content: dict[str, Any] = {"link": media.url}
        else:
            content = {"id": await self._upload(number, token, media, filename)}
        if caption:
            content["caption"] = caption
        if media.kind == "document" and filename:
            content["filename"] = filename
        return await self._post_message(number, token, digits, media.kind, content)

    async def send_template(
        self, sender: SenderRef, to: str, name: str, language: str, body_params: list[str]
    ) -> SendResult:
        """An approved template: ``body_params`` fill ``{{1}}``, ``{{2}}``... in order."""
        if not name.strip() or not language.strip():
            raise GatewayError(ErrorCategory.REJECTED, "template name and language needed")
        template: dict[str, Any] = {"name": name, "language": {"code": language}}
        if body_params:
            template["components"] = [{
                "type": "body",
                "parameters": [{"type": "text", "text": str(value)} for value in body_params],
            }]
        return await self._message(sender, to, "template", template)

    async def check_number(self, sender: SenderRef, phone: str) -> NumberCheck:
        """No request: the Cloud API cannot tell cheaply (see the module docstring)."""
        self._check_open()
        try:
            recipient(phone)
        except GatewayError:
            return NumberCheck(phone, on_whatsapp=False)
        return NumberCheck(phone, on_whatsapp=True)

    async def sender_status(self, sender: SenderRef) -> SenderHealth:
        number, token = self._credentials(sender)
        path = f"/{self._config.version}/{quote(number, safe='')}"
        try:
            info = await self._request("GET", path, token, sends=False,
                                       params={"fields": STATUS_FIELDS})
        except GatewayError as error:
            if error.category is ErrorCategory.SENDER_BANNED:
                return SenderHealth(SenderState.BANNED, error.detail)
            if error.category is ErrorCategory.SENDER_RESTRICTED:
                return SenderHealth(SenderState.RESTRICTED, error.detail)
            raise
        if not isinstance(info, dict):
            raise self._unreadable("GET", path, sends=False)
        return _health(info)

    async def phone_number(self, sender: SenderRef) -> str | None:
        """The number's own phone in E.164, from its ``display_phone_number`` (``None`` if
        Meta gives none). Errors are raised as for ``sender_status``."""
        number, token = self._credentials(sender)
        path = f"/{self._config.version}/{quote(number, safe='')}"
        info = await self._request("GET", path, token, sends=False,
                                   params={"fields": STATUS_FIELDS})
        shown = info.get("display_phone_number") if isinstance(info, dict) else None
        digits = re.sub(r"\D", "", shown) if isinstance(shown, str) else ""
        return "+" + digits if _PHONE.fullmatch(digits) else None

    async def download_media(self, sender: SenderRef, ref: str, *,
                             max_bytes: int = 20 * 1024 * 1024) -> Media:
        """A customer's attachment: ``GET /{version}/{media-id}?phone_number_id=`` (Meta
        checks the media is this number's) answers its short-lived ``url`` and
        ``mime_type``; the bytes are then read from that URL with the same token, only
        from Meta's own hosts (``MEDIA_HOSTS``) or the configured Graph URL's."""
        number, token = self._credentials(sender)
        if not _MEDIA_ID.fullmatch(ref):
            raise GatewayError(ErrorCategory.REJECTED, "not a Cloud API media id")
        path = f"/{self._config.version}/{quote(ref, safe='')}"
        info = await self._request("GET", path, token, sends=False,
                                   params={"phone_number_id": number})
        url = info.get("url") if isinstance(info, dict) else None
        if not isinstance(url, str) or not self._media_host(url):
            raise self._unreadable("GET", path, sends=False)
        mimetype = info.get("mime_type")
        data, content_type = await download(
            self._client, url, headers={"Authorization": f"Bearer {token}"},
            limits=self._timeout, max_bytes=max_bytes, gateway="the Cloud API")
        mimetype = mimetype if isinstance(mimetype, str) and mimetype else content_type
        kind = "image" if (mimetype or "").startswith("image/") else "document"
        return Media(kind, data=data, mimetype=mimetype or None)

    def _media_host(self, url: str) -> bool:
        parts, ours = urlsplit(url), urlsplit(self._config.base_url)
        if (parts.scheme, parts.netloc) == (ours.scheme, ours.netloc):
            return True
        host = (parts.hostname or "").lower()
        return parts.scheme == "https" and host.endswith(MEDIA_HOSTS)

    async def close(self) -> None:
        self._closed = True
        if self._owns_client:
            await self._client.aclose()

    # -- requests ---------------------------------------------------------------------

    async def _message(
        self, sender: SenderRef, to: str, kind: str, content: dict[str, Any]
    ) -> SendResult:
        number, token = self._credentials(sender)
        return await self._post_message(number, token, recipient(to), kind, content)

    async def _post_message(
        self, number: str, token: str, to: str, kind: str, content: dict[str, Any]
    ) -> SendResult:
        body = {"messaging_product": "whatsapp", "recipient_type": "individual",
                "to": to, "type": kind, kind: content}
        path = f"/{self._config.version}/{quote(number, safe='')}/messages"
        await self._spacer.wait(number)
        answer = await self._request("POST", path, token, sends=True, json_body=body)
        message_id = _message_id(answer)
        if message_id is None:
            raise self._unreadable("POST", path, sends=True)
        return SendResult(message_id, self._clock())

    async def _upload(self, number: str, token: str, media: Media, filename: str | None) -> str:
        mimetype = media_type(media, filename)
        path = f"/{self._config.version}/{quote(number, safe='')}/media"
        answer = await self._request(
            "POST", path, token, sends=False,
            data={"messaging_product": "whatsapp", "type": mimetype},
            files={"file": (filename or f"{media.kind}", media.data or b"", mimetype)},
        )
        media_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(media_id, str) or not media_id:
            raise self._unreadable("POST", path, sends=False)
        return media_id

    async def _request(
        self, method: str, path: str, token: str, *, sends: bool, **options: Any
    ) -> Any:
        self._check_open()
        json_body = options.pop("json_body", None)
        if json_body is not None:
            options["json"] = json_body
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            response = await self._client.request(
                method, self._config.base_url + path, headers=headers,
                timeout=self._timeout, **options,
            )
        except httpx.HTTPError as exc:
            error = transport_error(exc, sends, "the Cloud API")
            logger.warning("Cloud API %s %s: %s -> %s", method, path, type(exc).__name__,
                           error.category)
            raise error from exc
        if not response.is_success:
            error = self._status_error(response, token)
            logger.warning("Cloud API %s %s: HTTP %s -> %s", method, path,
                           response.status_code, error.category)
            raise error
        try:
            return response.json()
        except ValueError:
            raise self._unreadable(method, path, sends=sends) from None

    def _credentials(self, sender: SenderRef) -> tuple[str, str]:
        self._check_open()
        if not sender.external_id:
            raise GatewayError(ErrorCategory.SENDER_BANNED,
                               "sender has no Cloud API phone-number id: not linked")
        try:
            tokens = self._tokens
            token = tokens(sender.sender_id) if callable(tokens) else tokens[sender.sender_id]
        except (KeyError, LookupError):
            token = None
        if not isinstance(token, str) or not token.strip():
            raise GatewayError(ErrorCategory.REJECTED,
                               f"auth: no access token for sender {sender.sender_id}")
        return sender.external_id, token.strip()

    def _check_open(self) -> None:
        if self._closed:
            raise GatewayError(ErrorCategory.TRANSIENT, "gateway closed")

    def _status_error(self, response: httpx.Response, token: str) -> GatewayError:
        status = response.status_code
        error = json_or_none(response.text[:4000])
        error = error.get("error") if isinstance(error, dict) else None
        error = error if isinstance(error, dict) else {}
        code = _int(error.get("code"))
        subcode = _int(error.get("error_subcode"))
        words = [str(error.get("message") or "")]
        data = error.get("error_data")
        if isinstance(data, dict) and data.get("details"):
            words.append(f"({data['details']})")
        message = _clean(" ".join(words), token)
        label = f"code {code}" + (f"/{subcode}" if subcode is not None else "")
        detail = f"{label}: {message}" if code is not None else f"HTTP {status}: {message}"
        retry = retry_after(response.headers.get("Retry-After"), self._clock())
        category = _category(code, status, error.get("is_transient") is True)
        if category is ErrorCategory.RATE_LIMITED and code in _RATE_DAY:
            retry = max(retry or 0.0, DAY)
        if category is ErrorCategory.REJECTED and (
            code in _AUTH or (code is not None and code in _PERMISSION)
            or (code is None and status in (401, 403))
        ):
            detail = f"auth: the access token was refused ({detail})"
        if category is not ErrorCategory.RATE_LIMITED:
            retry = None
        return GatewayError(category, detail.strip(), retry_after=retry)

    def _unreadable(self, method: str, path: str, *, sends: bool) -> GatewayError:
        logger.warning("Cloud API %s %s: unreadable answer", method, path)
        if sends:
            return GatewayError(
                ErrorCategory.UNCERTAIN,
                "Cloud API answered but the answer is unreadable: the message may have been sent",
            )
        return GatewayError(ErrorCategory.TRANSIENT,
                            "Cloud API answered but the answer is unreadable")


def _category(code: int | None, status: int, is_transient: bool) -> ErrorCategory:
    if code in _BANNED:
        return ErrorCategory.SENDER_BANNED
    if code in _RESTRICTED:
        return ErrorCategory.SENDER_RESTRICTED
    if code in _RECIPIENT:
        return ErrorCategory.RECIPIENT_INVALID
    if code in _RATE or code in _RATE_DAY:
        return ErrorCategory.RATE_LIMITED
    if code in _TRANSIENT:
        return ErrorCategory.TRANSIENT
    if code is not None and (code in _REJECTED or code in _TEMPLATE or code in _AUTH
                             or code in _PERMISSION):
        return ErrorCategory.REJECTED
    if is_transient or status >= 500:
        return ErrorCategory.TRANSIENT
    if status == 429:
        return ErrorCategory.RATE_LIMITED
    return ErrorCategory.REJECTED


def tier_of(value: Any) -> int | None:
    """A messaging-limit tier (``TIER_250``, ``TIER_1K``, ``TIER_2K``, ``TIER_100K``) as
    unique users a day; ``TIER_UNLIMITED`` and anything unreadable: None."""
    if not isinstance(value, str):
        return None
    found = _TIER.fullmatch(value.strip().upper())
    if found is None:
        return None
    return int(found[1]) * (1000 if found[2] else 1)


def _health(info: dict[str, Any]) -> SenderHealth:
    status = str(info.get("status") or "").upper()
    quality = str(info.get("quality_rating") or "").upper()
    fields: dict[str, Any] = {
        "quality": quality if quality in _QUALITY_RATINGS else None,
        "tier": tier_of(info.get("messaging_limit_tier"))}
    if status in _STATUS_BANNED:
        return SenderHealth(SenderState.BANNED, f"number status {status}", **fields)
    if status in _STATUS_RESTRICTED:
        return SenderHealth(SenderState.RESTRICTED, f"number status {status}", **fields)
    if quality == "RED":
        return SenderHealth(SenderState.RESTRICTED, "quality rating RED: slow down", **fields)
    if status in _STATUS_LINKING:
        return SenderHealth(SenderState.LINKING, f"number status {status}", **fields)
    if status in _STATUS_STOPPED:
        return SenderHealth(SenderState.STOPPED, f"number status {status}", **fields)
    if quality == "YELLOW":
        return SenderHealth(SenderState.WORKING, "quality rating YELLOW", **fields)
    return SenderHealth(SenderState.WORKING, **fields)


def _message_id(answer: Any) -> str | None:
    if not isinstance(answer, dict):
        return None
    messages = answer.get("messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[0], dict):
        return None
    value = messages[0].get("id")
    return value if isinstance(value, str) and value else None


def _filename(media: Media) -> str | None:
    url_name = urlsplit(media.url).path.rsplit("/", 1)[-1] if media.url else ""
    return media.filename or url_name or None




def _clean(text: str, token: str) -> str:
    """Meta's words for a detail: one line, short, and never the token."""
    if token:
        text = text.replace(token, "***")
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 1] + "…"


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


# -- webhooks -------------------------------------------------------------------------


def parse_webhook(
    body: Mapping[str, Any], sender_for_number: Mapping[str, int],
    *, now: Callable[[], datetime] = utcnow,
    sender_for_display: Mapping[str, int] | None = None,
) -> list[GatewayEvent]:
    """The events one Meta webhook body carries (see the module docstring); never raises
    on a well-formed JSON object, whatever its fields hold."""
    if not isinstance(body, Mapping) or body.get("object") != WEBHOOK_OBJECT:
        return []
    events: list[GatewayEvent] = []
    for entry in _dicts(body.get("entry")):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            if not isinstance(value, dict):
                continue
            field_name = change.get("field")
            if field_name == "messages":
                events += _message_events(value, sender_for_number, now)
            elif field_name in ("phone_number_quality_update", "account_update"):
                event = _number_event(field_name, value, sender_for_display or {}, now)
                if event is not None:
                    events.append(event)
    return events


def webhook_address(body: Mapping[str, Any]) -> WebhookAddress:
    """The phone-number ids a webhook body names, and whether it also carries news that
    names a number only by its display phone (a change other than ``messages``)."""
    return WebhookAddress(external_ids=tuple(phone_number_ids(body)),
                          by_phone=_names_by_phone(body))


def webhook_events(body: Mapping[str, Any], senders: KnownSenders,
                   now: Callable[[], datetime] = utcnow) -> list[GatewayEvent]:
    """``parse_webhook`` with the senders the address named (``bot.web``'s endpoint)."""
    return parse_webhook(body, senders.by_external_id, now=now,
                         sender_for_display=senders.by_phone)


def _names_by_phone(body: Mapping[str, Any]) -> bool:
    """Whether a change other than ``messages`` is in the body (account or quality news,
    which carry the display phone, not the phone-number id)."""
    for entry in _dicts(body.get("entry")):
        for change in _dicts(entry.get("changes")):
            if change.get("field") not in (None, "messages"):
                return True
    return False


def phone_number_ids(body: Any) -> list[str]:
    """The phone-number ids a webhook body names (``value.metadata.phone_number_id``)."""
    found: list[str] = []
    if not isinstance(body, Mapping):
        return found
    for entry in _dicts(body.get("entry")):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            metadata = value.get("metadata") if isinstance(value, dict) else None
            number = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
            if isinstance(number, str) and number and number not in found:
                found.append(number)
    return found


def _message_events(
    value: dict[str, Any], sender_for_number: Mapping[str, int], now: Callable[[], datetime]
) -> list[GatewayEvent]:
    metadata = value.get("metadata")
    number = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
    sender_id = sender_for_number.get(number) if isinstance(number, str) else None
    if sender_id is None:
        return []
    events: list[GatewayEvent] = []
    for status in _dicts(value.get("statuses")):
        receipt = _receipt(sender_id, status, now)
        if receipt is not None:
            events.append(receipt)
    profiles = _profiles(value)
    for message in _dicts(value.get("messages")):
        incoming = _incoming(sender_id, message, now, profiles)
        if incoming is not None:
            events.append(incoming)
    return events


def _receipt(sender_id: int, status: dict[str, Any],
             now: Callable[[], datetime]) -> Receipt | None:
    message_id, name = status.get("id"), status.get("status")
    if not isinstance(message_id, str) or not message_id or not isinstance(name, str):
        return None
    kind = _RECEIPTS.get(name)
    if kind is None:
        return None
    at = _timestamp(status.get("timestamp")) or now()
    error = _status_error(status.get("errors")) if kind is ReceiptStatus.FAILED else None
    return Receipt(message_id, kind, at, error, sender_id)


def _status_error(errors: Any) -> str:
    first = next(iter(_dicts(errors)), {})
    code = first.get("code")
    if isinstance(code, str) and _DIGITS.fullmatch(code.strip()):
        code = int(code)
    if isinstance(code, bool) or not isinstance(code, int):
        code = None
    title = first.get("title")
    title = _DIGIT_RUN.sub("…", " ".join(title.split())) if isinstance(title, str) else ""
    label = f"code {code}" if code is not None else "Meta reported the message failed"
    text = f"{label}: {title}" if title else label
    return text if len(text) <= ERROR_LIMIT else text[: ERROR_LIMIT - 1] + "…"


def _incoming(
    sender_id: int, message: dict[str, Any], now: Callable[[], datetime],
    profiles: Mapping[str, str] | None = None,
) -> IncomingMessage | None:
    sender = message.get("from")
    if not isinstance(sender, str) or not _DIGITS.fullmatch(sender) \
            or not _PHONE.fullmatch(sender):
        return None
    read = _read_message(message)
    if read is None:
        return None
    kind, text, ref, mimetype, filename = read
    message_id = message.get("id")
    return IncomingMessage(sender_id, "+" + sender, text,
                           _timestamp(message.get("timestamp")) or now(), kind,
                           media_ref=ref, mimetype=mimetype, filename=filename,
                           message_id=message_id if isinstance(message_id, str) and message_id
                           else None,
                           profile_name=(profiles or {}).get(sender))


_Read = tuple[IncomingKind, str, str | None, str | None, str | None]
_MEDIA_TYPES = {"image": IncomingKind.IMAGE, "document": IncomingKind.DOCUMENT,
                "audio": IncomingKind.AUDIO, "video": IncomingKind.VIDEO,
                "sticker": IncomingKind.STICKER}
_NOT_SHOWN = frozenset({"reaction", "system", "ephemeral"})  # nothing a person wrote


def _read_message(message: dict[str, Any]) -> _Read | None:
    """(kind, text, media reference, mimetype, filename) of a customer's message; None for
    what is no message of theirs (a reaction, a system notice) or is malformed."""
    kind = message.get("type")
    if not isinstance(kind, str):
        return None
    if kind in ("text", "button", "interactive"):
        text = _reply_text(message)
        return (IncomingKind.TEXT, text, None, None, None) if text is not None else None
    if kind in _MEDIA_TYPES:
        media = message.get(kind)
        media_id = media.get("id") if isinstance(media, dict) else None
        if not isinstance(media_id, str) or not _MEDIA_ID.fullmatch(media_id):
            return None
        assert isinstance(media, dict)
        caption, mimetype, filename = (media.get(k) for k in ("caption", "mime_type",
                                                              "filename"))
        found = _MEDIA_TYPES[kind]
        if found is IncomingKind.AUDIO and media.get("voice") is True:
            found = IncomingKind.VOICE
        return (found, caption if isinstance(caption, str) else "", media_id,
                mimetype if isinstance(mimetype, str) else None,
                filename if isinstance(filename, str) else None)
    if kind == "location":
        place = message.get("location")
        if not isinstance(place, dict):
            return None
        lat, lon = _coordinate(place.get("latitude")), _coordinate(place.get("longitude"))
        if lat is None or lon is None:
            return None
        words = [place.get(k) for k in ("name", "address")]
        return (IncomingKind.LOCATION, "\n".join(w for w in words if isinstance(w, str) and w),
                f"geo:{lat},{lon}", None, None)
    if kind == "contacts":
        cards = [_card(c) for c in _dicts(message.get("contacts"))]
        cards = [c for c in cards if c]
        return (IncomingKind.CONTACT, "\n".join(cards), None, None, None) if cards else None
    if kind not in _NOT_SHOWN:
        return IncomingKind.OTHER, "", None, None, None  # an order, a poll, unsupported...
    return None


def _coordinate(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if -180.0 <= number <= 180.0 else None


def _card(contact: dict[str, Any]) -> str:
    """One shared contact as a line: "Name: +994..., +994..."."""
    name = _get(contact, "name", "formatted_name")
    phones = [p.get("phone") for p in _dicts(contact.get("phones"))]
    shown = ", ".join(p.strip() for p in phones if isinstance(p, str) and p.strip())
    label = name.strip() if isinstance(name, str) else ""
    return f"{label}: {shown}" if label and shown else label or shown


def _profiles(value: dict[str, Any]) -> dict[str, str]:
    """The senders' WhatsApp profile names (``contacts[]``: ``wa_id`` -> ``profile.name``)."""
    found: dict[str, str] = {}
    for contact in _dicts(value.get("contacts")):
        wa_id, name = contact.get("wa_id"), _get(contact, "profile", "name")
        if isinstance(wa_id, str) and isinstance(name, str) and name.strip():
            found[wa_id] = name.strip()
    return found


def _reply_text(message: dict[str, Any]) -> str | None:
    kind = message.get("type")
    if kind == "text":
        text = _get(message, "text", "body")
    elif kind == "button":
        text = _get(message, "button", "text")
    elif kind == "interactive":
        text = _get(message, "interactive", "button_reply", "title")
        if text is None:
            text = _get(message, "interactive", "list_reply", "title")
    else:
        return None
    return text if isinstance(text, str) else None


def _number_event(
    field_name: str, value: dict[str, Any], sender_for_display: Mapping[str, int],
    now: Callable[[], datetime],
) -> SenderStateChanged | None:
    key = "display_phone_number" if field_name == "phone_number_quality_update" \
        else "phone_number"
    number, event = value.get(key), value.get("event")
    if not isinstance(number, str) or not isinstance(event, str):
        return None
    sender_id = sender_for_display.get(number.strip().lstrip("+").replace(" ", ""))
    if sender_id is None:
        return None
    event = event.upper()
    if field_name == "phone_number_quality_update":
        if event not in _QUALITY:
            return None
        detail = _QUALITY[event]
        limit = value.get("current_limit")
        if event == "DOWNGRADE" and isinstance(limit, str) and _LIMIT.fullmatch(limit):
            detail = f"{detail} to {limit}"
        return SenderStateChanged(sender_id, SenderHealth(
            SenderState.RESTRICTED, detail, quality="RED" if event == "FLAGGED" else None,
            tier=tier_of(limit)), now())
    if event in _ACCOUNT_BANNED:
        health = SenderHealth(SenderState.BANNED, f"account update {event}")
    elif event in _ACCOUNT_RESTRICTED:
        health = SenderHealth(SenderState.RESTRICTED, f"account update {event}")
    else:
        return None
    return SenderStateChanged(sender_id, health, now())


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) \
        else []


def _get(value: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


def _timestamp(value: Any) -> datetime | None:
    """Meta's Unix seconds (a string in webhooks; a number tolerated) as aware UTC."""
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e11:
        return None
    return datetime.fromtimestamp(value, UTC)
