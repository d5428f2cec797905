"""The web app: webhook POSTs straight on ASGI, the rest (health, handshakes) on Starlette."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

log = logging.getLogger(__name__)

HealthCheck = Callable[[], Awaitable[dict[str, bool]]]
DEFAULT_MAX_BODY = 256 * 1024


class WebhookHandler(Protocol):
    """Takes the raw body and headers of a gateway's webhook; answers the status code.
    Its ``max_body`` attribute, if it has one, caps what is read (else 256 KB)."""

    async def __call__(self, raw: bytes, headers: Mapping[str, str]) -> int: ...


class VerifiedWebhookHandler(WebhookHandler, Protocol):
    """A webhook whose gateway first verifies the URL with a ``GET`` (Meta's handshake):
    ``verify`` takes the query parameters and answers (status, plain-text body)."""

    async def verify(self, params: Mapping[str, str]) -> tuple[int, str]: ...


def json_object(raw: bytes) -> dict[str, Any] | None:
    """A webhook body as a JSON object; None when it is not JSON or not an object."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
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
    cloud_webhook: VerifiedWebhookHandler | None = None,
) -> WebhookPosts:
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
    return WebhookPosts(Starlette(routes=routes), posts)


class WebhookPosts:
    """The webhooks' POSTs straight on ASGI, everything else through Starlette.

    A gateway posts a receipt per message: at thousands a second Starlette's routing and
    middleware were a third of the server's time (``bench/webhook_bench.py``). Same
    contract as a route: the body read up to the handler's ``max_body`` (over it, or a
    ``Content-Length`` over it: 400), the handler's status code, an empty body; a handler
    that raises is logged and answered 500."""

    def __init__(self, app: Starlette, posts: Mapping[str, WebhookHandler]) -> None:
        self.app = app
        self._posts = {path: (handler, int(getattr(handler, "max_body", DEFAULT_MAX_BODY)))
                       for path, handler in posts.items()}

    async def __call__(self, scope, receive, send) -> None:
        found = (self._posts.get(scope["path"])
                 if scope["type"] == "http" and scope["method"] == "POST" else None)
        if found is None:
            await self.app(scope, receive, send)
            return
        handler, limit = found
        headers = {key.decode("latin-1").lower(): value.decode("latin-1")
                   for key, value in scope["headers"]}
        raw = await _read_body(receive, headers.get("content-length"), limit)
        try:
            status = 400 if raw is None else await handler(raw, headers)
        except Exception:
            log.exception("webhook %s failed", scope["path"])
            status = 500
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})


async def _read_body(receive, declared: str | None, limit: int) -> bytes | None:
    """The request body, or None as soon as it is (or says it is) over ``limit`` bytes."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
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
