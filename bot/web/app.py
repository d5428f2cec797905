"""The Starlette application. Thin: routes call services or report health."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

HealthCheck = Callable[[], Awaitable[dict[str, bool]]]
DEFAULT_MAX_BODY = 256 * 1024


class WebhookHandler(Protocol):
    """Takes the raw body and headers of a gateway's webhook; answers the status code.
    Its ``max_body`` attribute, if it has one, caps what is read (else 256 KB)."""

    async def __call__(self, raw: bytes, headers: Mapping[str, str]) -> int: ...


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


def create_web_app(health: HealthCheck, waha_webhook: WebhookHandler | None = None) -> Starlette:
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
    return Starlette(routes=routes)
