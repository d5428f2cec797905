"""What the services and the web report for ``/metrics``, without knowing Prometheus.

The dispatcher, the outgoing webhooks' worker and the incoming webhooks (``bot/web``) call
a ``Metrics`` sink; ``bot/web/metrics.py`` implements it with prometheus-client and serves
the figures, with the gauges it reads from the database at scrape time
(``bot/storage/metrics.py``). A sink's calls are cheap, synchronous and never raise into
the caller. ``NO_METRICS`` (the default everywhere) drops them: services built without a
sink, in tests and benches, behave exactly as before.

Labels are fixed words (gateway kinds, outcome names), never phone numbers, ids of
messages, texts or secrets.
"""

from __future__ import annotations

from typing import Protocol


class Metrics(Protocol):
    def send(self, gateway: str, result: str, seconds: float) -> None:
        """The dispatcher called ``gateway``'s send for one message: ``result`` is "sent"
        or the gateway's error category ("transient", "sender_banned", ...; "error" for an
        adapter that raised something else), ``seconds`` how long the call took."""

    def webhook(self, kind: str, result: str) -> None:
        """An incoming gateway webhook (``kind``: "waha", "cloud") was answered: ``result``
        "ok", "bad_signature", "bad_request", "too_large", "timeout", "overloaded",
        "unavailable" or "error"."""

    def delivery(self, result: str) -> None:
        """An outgoing webhook event (to an owner's endpoint) was tried: "delivered",
        "failed" (not a 2xx answer, a timeout) or "dropped" (undelivered for too long)."""


class _NoMetrics:
    def send(self, gateway: str, result: str, seconds: float) -> None:
        pass

    def webhook(self, kind: str, result: str) -> None:
        pass

    def delivery(self, result: str) -> None:
        pass


NO_METRICS: Metrics = _NoMetrics()

# An incoming webhook's answer -> its ``result`` label.
WEBHOOK_RESULTS = {200: "ok", 400: "bad_request", 401: "bad_signature", 403: "bad_signature",
                   408: "timeout", 413: "too_large", 503: "unavailable", 500: "error"}


def webhook_result(status: int) -> str:
    """The ``result`` label of a webhook answered ``status`` (any other 2xx: "ok", any other
    code: "error")."""
    if 200 <= status < 300:
        return "ok"
    return WEBHOOK_RESULTS.get(status, "error")
