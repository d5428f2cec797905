"""The Starlette application. Thin: routes call services or report health."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

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


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A request header by its lowercase name, whatever mapping holds the headers."""
    value = headers.get(name)
    if value is None:  # a plain dict with other capitalisation
        for key, candidate in headers.items():
            if key.lower() == name:
                return candidate
    return value


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is longer than ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_web_app(
    health: HealthCheck, waha_webhook: WebhookHandler | None = None,
    cloud_webhook: VerifiedWebhookHandler | None = None,
) -> Starlette:
    async def healthz(request: Request) -> JSONResponse:
        checks = await health()
        ok = all(checks.values())
        body = {"status": "ok" if ok else "degraded", "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    routes = [Route("/healthz", healthz, methods=["GET"])]
    if waha_webhook is not None:
        handler = waha_webhook
        limit = int(getattr(handler, "max_body", DEFAULT_MAX_BODY))

        async def waha(request: Request) -> Response:
            raw = await read_limited(request, limit)
            status = 400 if raw is None else await handler(raw, request.headers)
            return Response(status_code=status)

        routes.append(Route("/webhooks/waha", waha, methods=["POST"]))
    if cloud_webhook is not None:
        routes += _cloud_routes(cloud_webhook)
    return Starlette(routes=routes)


def _cloud_routes(handler: VerifiedWebhookHandler) -> list[Route]:
    limit = int(getattr(handler, "max_body", DEFAULT_MAX_BODY))

    async def handshake(request: Request) -> Response:
        status, challenge = await handler.verify(request.query_params)
        if status == 200:
            return PlainTextResponse(challenge)
        return Response(status_code=status)

    async def events(request: Request) -> Response:
        raw = await read_limited(request, limit)
        status = 400 if raw is None else await handler(raw, request.headers)
        return Response(status_code=status)

    return [Route("/webhooks/cloud", handshake, methods=["GET"]),
            Route("/webhooks/cloud", events, methods=["POST"])]
