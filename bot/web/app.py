"""The web app: webhook POSTs straight on ASGI, the rest (health, handshakes) on Starlette.

Every gateway's webhook is one ``WebhookEndpoint``, parameterised by its adapter's
functions (``bot/web/waha.py``, ``bot/web/cloud.py`` give them); in order, each step
answered with a status code and nothing changed before a 200:

=============================================================  ======
a body over ``max_body`` bytes                                  413
not signed as the gateway signs (``signed`` says why in the     401
log)
not JSON, or not a JSON object                                  400
names none of our numbers (the adapter's ``webhook_address``,  200
looked up by ``SenderDirectory``), or nothing we handle
the events (the adapter's ``webhook_events``) handed to         200
``GatewayEvents``, receipts committed (``flush_receipts``)
the database cannot save now (disk full, locked): nothing       503
applied, one warning line; the gateway sends it again
something failed while applying them (the gateway retries;      500
every step is idempotent)
=============================================================  ======

A 200 for receipts means they are committed. Concurrent webhooks share one transaction
(the receipts service's group commit): each request waits for the batch holding its
receipts, and a batch that fails answers 500 to every request in it, with nothing of it
written.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.clock import Clock
from bot.errors import StorageUnavailable
from bot.gateways.base import GatewayEvent, KnownSenders, Receipt, WebhookAddress
from bot.metrics import NO_METRICS, Metrics, webhook_result

log = logging.getLogger(__name__)

HealthCheck = Callable[[], Awaitable[dict[str, bool]]]
DEFAULT_MAX_BODY = 256 * 1024


@dataclass(frozen=True, slots=True)
class WebLimits:
    """What the webhooks may hold at once, so that slow or huge bodies cannot take the
    process's memory: the bytes of all bodies being read (beyond: 503, the gateway sends
    again), the webhook requests in flight from one client address (beyond: 503), and how
    long one body may take to arrive (beyond: 408)."""

    inflight_bytes: int = 64 * 1024 * 1024
    per_client: int = 128
    body_seconds: float = 30.0


class WebhookHandler(Protocol):
    """Takes the raw body and headers of a gateway's webhook; answers the status code.
    Its ``max_body`` attribute, if it has one, caps what is read (else 256 KB)."""

    async def __call__(self, raw: bytes, headers: Mapping[str, str]) -> int: ...


class VerifiedWebhookHandler(WebhookHandler, Protocol):
    """A webhook whose gateway first verifies the URL with a ``GET`` (Meta's handshake):
    ``verify`` takes the query parameters and answers (status, plain-text body)."""

    async def verify(self, params: Mapping[str, str]) -> tuple[int, str]: ...


class EventSink(Protocol):
    """What a webhook hands events to: ``GatewayEvents`` (``bot/services/gateway_events.py``:
    receipts to the receipts service, the rest to sender events)."""

    async def on_event(self, event: GatewayEvent) -> None: ...

    async def flush_receipts(self, *, strict: bool = False) -> int: ...


class SenderFinder(Protocol):
    """Our senders a webhook's address names: ``bot.services.sender_directory``."""

    async def find(self, gateway: str, address: WebhookAddress) -> KnownSenders: ...


AsgiApp = Callable[[Any, Any, Any], Awaitable[None]]  # scope, receive, send
Signed = Callable[[bytes, Mapping[str, str]], bool]
Address = Callable[[Mapping[str, Any]], WebhookAddress]
Events = Callable[[Mapping[str, Any], KnownSenders, Clock], list[GatewayEvent]]


class WebhookEndpoint:
    """One gateway's webhook POST (see the module docstring): ``name`` for the log,
    ``gateway`` the kind of its senders; ``signed`` checks the signature (and logs why
    not), ``address`` and ``events`` are its adapter's ``webhook_address`` and
    ``webhook_events``; ``log`` is the logger of the module that made it."""

    def __init__(
        self, name: str, gateway: str, *, signed: Signed, address: Address, events: Events,
        senders: SenderFinder, dispatcher: EventSink, max_body: int,
        clock: Clock, log: logging.Logger,
    ) -> None:
        self.name = name
        self.gateway = gateway
        self._signed = signed
        self._address = address
        self._events = events
        self._senders = senders
        self._dispatcher = dispatcher
        self.max_body = max_body
        self._clock = clock
        self._log = log

    async def __call__(self, raw: bytes, headers: Mapping[str, str]) -> int:
        if len(raw) > self.max_body:
            self._log.warning("%s webhook: body of %d bytes refused", self.name, len(raw))
            return 413
        if not self._signed(raw, headers):
            return 401
        body = json_object(raw)
        if body is None:
            return 400
        address: WebhookAddress | None = None
        try:
            address = self._address(body)
            if not address.external_ids and not address.by_phone:  # nobody of ours
                return 200
            known = await self._senders.find(self.gateway, address)
            events = self._events(body, known, self._clock)
            for event in events:
                await self._dispatcher.on_event(event)
            if any(isinstance(event, Receipt) for event in events):
                await self._dispatcher.flush_receipts(strict=True)  # raises if not applied
        except StorageUnavailable as exc:  # nothing applied: the gateway sends it again
            self._log.warning("%s answered 503, the database cannot save: %s",
                              self._which(address), exc)
            return 503
        except Exception:
            self._log.exception("%s could not be applied", self._which(address))
            return 500
        return 200

    def _which(self, address: WebhookAddress | None) -> str:
        """"WAHA webhook 'message.ack'", "Cloud webhook": what the log names."""
        what = address.what if address is not None else None
        return f"{self.name} webhook" + (f" {what!r}" if what is not None else "")


def json_object(raw: bytes) -> dict[str, Any] | None:
    """A webhook body as a JSON object; None when it is not JSON or not an object."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: too deep
        return None
    return body if isinstance(body, dict) else None


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A request header by its lowercase name, whatever mapping holds the headers."""
    value = headers.get(name)
    if value is None:  # a plain dict with other capitalisation
        for key, candidate in headers.items():
            if key.lower() == name:
                return candidate
    return value


def create_web_app(
    health: HealthCheck, waha_webhook: WebhookHandler | None = None,
    cloud_webhook: VerifiedWebhookHandler | None = None, limits: WebLimits | None = None,
    api: AsgiApp | None = None, metrics: Metrics = NO_METRICS,
) -> WebhookPosts:
    """The server's app: webhooks, health and, given ``api`` (``bot.web.api.api_app``),
    everything under ``/api/`` (``/api/v1`` and ``/api/docs``), served straight on ASGI.
    Every webhook's answer is counted in ``metrics`` (``/metrics`` is on a listener of its
    own: ``bot/web/metrics.py``)."""
    async def healthz(request: Request) -> JSONResponse:
        checks = await health()
        ok = all(checks.values())
        body = {"status": "ok" if ok else "degraded", "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    routes = [Route("/healthz", healthz, methods=["GET"])]
    posts: dict[str, WebhookHandler] = {}
    if waha_webhook is not None:
        posts["/webhooks/waha"] = waha_webhook
    if cloud_webhook is not None:
        routes += _cloud_routes(cloud_webhook)
        posts["/webhooks/cloud"] = cloud_webhook
    return WebhookPosts(Starlette(routes=routes), posts, limits or WebLimits(), api=api,
                        metrics=metrics)


class WebhookPosts:
    """The webhooks' POSTs straight on ASGI, everything else through Starlette.

    A gateway posts a receipt per message: at thousands a second Starlette's routing and
    middleware were a third of the server's time (``bench/webhook_bench.py``). Same
    contract as a route: the body read up to the handler's ``max_body`` (over it, or a
    ``Content-Length`` over it: 413), the handler's status code, an empty body; a handler
    that raises is logged and answered 500. ``WebLimits`` bound what all the bodies in
    flight hold together (503 beyond), the requests of one client (503) and the time a
    body may take (408); health and the rest never wait on them."""

    def __init__(self, app: Starlette, posts: Mapping[str, WebhookHandler],
                 limits: WebLimits | None = None, api: AsgiApp | None = None,
                 metrics: Metrics = NO_METRICS) -> None:
        self.app = app
        self._metrics = metrics  # each webhook's answer, by its gateway's kind
        self.api = api  # everything under /api/ (bot/web/api), past Starlette too
        self._posts = {path: (handler, int(getattr(handler, "max_body", DEFAULT_MAX_BODY)))
                       for path, handler in posts.items()}
        self.limits = limits or WebLimits()
        self.inflight = 0  # bytes of the bodies being read now
        self._clients: Counter[str] = Counter()
        self.refused: Counter[int] = Counter()  # status -> how many (413, 503, 408)

    async def __call__(self, scope, receive, send) -> None:
        found = (self._posts.get(scope["path"])
                 if scope["type"] == "http" and scope["method"] == "POST" else None)
        if found is None:
            if self.api is not None and scope["type"] == "http" and \
                    scope["path"].startswith("/api/"):
                await self.api(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        handler, limit = found
        kind = str(getattr(handler, "gateway", scope["path"].rsplit("/", 1)[-1]))
        client = (scope.get("client") or ("?", 0))[0]
        if self._clients[client] >= self.limits.per_client:
            self._metrics.webhook(kind, "overloaded")
            await self._answer(send, 503)
            return
        self._clients[client] += 1
        held = [0]  # bytes of this body counted in ``inflight``, until it is answered
        try:
            headers = {key.decode("latin-1").lower(): value.decode("latin-1")
                       for key, value in scope["headers"]}
            raw = await self._read_body(receive, headers.get("content-length"), limit, held)
            if isinstance(raw, int):
                status = raw
                result = "overloaded" if raw == 503 else webhook_result(raw)
            else:
                try:
                    status = await handler(raw, headers)
                except Exception:
                    log.exception("webhook %s failed", scope["path"])
                    status = 500
                result = webhook_result(status)
        finally:
            self.inflight -= held[0]
            self._clients[client] -= 1
            if not self._clients[client]:
                del self._clients[client]
        self._metrics.webhook(kind, result)
        await self._answer(send, status)

    async def _answer(self, send, status: int) -> None:
        headers = [(b"content-length", b"0")]
        if status in (408, 413, 503):  # refused unread: the rest of the body is not read
            self.refused[status] += 1
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _read_body(self, receive, declared: str | None, limit: int,
                         held: list[int]) -> bytes | int:
        """The request body; or the status that refuses it as soon as it is (or says it
        is) over ``limit`` (413), would take the bodies in flight over their budget (503),
        is too slow (408) or the client went away (400)."""
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return 413
        chunks: list[bytes] = []
        deadline = time.monotonic() + self.limits.body_seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return 408
            try:
                message = await asyncio.wait_for(receive(), left)
            except TimeoutError:
                return 408
            if message["type"] == "http.disconnect":
                return 400
            chunk = message.get("body", b"")
            if held[0] + len(chunk) > limit:
                return 413
            if self.inflight + len(chunk) > self.limits.inflight_bytes:
                return 503
            self.inflight += len(chunk)
            held[0] += len(chunk)
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)


def _cloud_routes(handler: VerifiedWebhookHandler) -> list[Route]:
    async def handshake(request: Request) -> Response:
        status, challenge = await handler.verify(request.query_params)
        if status == 200:
            return PlainTextResponse(challenge)
        return Response(status_code=status)

    return [Route("/webhooks/cloud", handshake, methods=["GET"])]
