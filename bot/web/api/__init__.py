"""The integration API, ``/api/v1``: declared routes (``routing.py``) served straight on
ASGI (``server.py``), problems (``problems.py``), keys and scopes (``auth.py``), limits
(``limits.py``), the OpenAPI document (``openapi.py``) and its page (``docs.py``).

Each area's routes are a module with a ``router``; ``routers()`` lists them (add yours)."""

from __future__ import annotations

from bot.web.api.routing import ApiRouter
from bot.web.api.server import ApiApp, ApiConfig
from bot.web.api.services import ApiServices

__all__ = ["ApiApp", "ApiConfig", "ApiServices", "api_app", "routers"]


def routers() -> list[ApiRouter]:
    """Every area's routes, in the document's order."""
    from bot.web.api import (
        automations,
        campaigns,
        contacts,
        messages,
        stats,
        templates,
        webhooks,
    )

    return [contacts.router, templates.router, messages.router, campaigns.router,
            stats.router, webhooks.router, automations.router]


def api_app(services: ApiServices, config: ApiConfig | None = None) -> ApiApp:
    return ApiApp(services, routers(), config)
