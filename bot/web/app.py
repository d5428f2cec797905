"""The Starlette application. Thin: routes call services or report health."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

HealthCheck = Callable[[], Awaitable[dict[str, bool]]]


def create_web_app(health: HealthCheck) -> Starlette:
    async def healthz(request: Request) -> JSONResponse:
        checks = await health()
        ok = all(checks.values())
        body = {"status": "ok" if ok else "degraded", "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    return Starlette(routes=[Route("/healthz", healthz, methods=["GET"])])
