"""The one entry point for what the gateways report, by webhook (``bot/web``) or by the
adapter itself (the sandbox): receipts go to the receipts service
(``bot/services/receipts.py``), everything else to sender events
(``bot/services/sender_events.py``); a number's health first to the live health guard
(``bot/services/health_guard.py``: capping, quality, tier), then to sender events (bans and
restrictions)."""

from __future__ import annotations

from bot.gateways.base import GatewayEvent, Receipt, SenderStateChanged
from bot.services.health_guard import HealthGuard
from bot.services.receipts import ReceiptsService
from bot.services.sender_events import SenderEvents


class GatewayEvents:
    def __init__(self, receipts: ReceiptsService, sender_events: SenderEvents,
                 guard: HealthGuard | None = None) -> None:
        self._receipts = receipts
        self._sender_events = sender_events
        self._guard = guard

    async def on_event(self, event: GatewayEvent) -> None:
        if isinstance(event, Receipt):
            self._receipts.gather(event)  # applied with others, a moment later
        else:
            if isinstance(event, SenderStateChanged) and self._guard is not None:
                await self._guard.observe(event.sender_id, event.health, event.at)
            await self._sender_events.on_event(event)

    async def flush_receipts(self, *, strict: bool = False) -> int:
        """Once the receipts handed in so far are committed (``ReceiptsService.flush``)."""
        return await self._receipts.flush(strict=strict)
