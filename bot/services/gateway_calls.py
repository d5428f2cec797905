"""What services do with a gateway's failure: a domain error the handlers can render.

``GatewayError`` (``bot.gateways.base``) stays between the adapters and the services;
a call made for the owner (link a number, send a test message) is wrapped in
``gateway_call()``, so that a failure reaches the handler as ``GatewayFailed`` with the
error category as its reason. The dispatcher's own sends record the category instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bot.errors import GatewayFailed
from bot.gateways.base import GatewayError


@contextmanager
def gateway_call() -> Iterator[None]:
    """A ``GatewayError`` raised inside becomes ``GatewayFailed(category, detail)``."""
    try:
        yield
    except GatewayError as exc:
        raise GatewayFailed(exc.category.value, exc.detail) from exc
