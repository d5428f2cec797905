"""The one entry point for what the gateways report, by webhook (``bot/web``) or by the
adapter itself (the sandbox): receipts go to the receipts service
(``bot/services/receipts.py``), everything else to sender events
(``bot/services/sender_events.py``)."""

from __future__ import annotations

from bot.gateways.base import GatewayEvent, Receipt
from bot.services.receipts import ReceiptsService
from bot.services.sender_events import SenderEvents


class GatewayEvents:
    def __init__(self, receipts: ReceiptsService, sender_events: SenderEvents) -> None:
        self._receipts = receipts
        self._sender_events = sender_events

    async def on_event(self, event: GatewayEvent) -> None:
        if isinstance(event, Receipt):
            self._receipts.gather(event)  # applied with others, a moment later
        else:
            await self._sender_events.on_event(event)

    async def flush_receipts(self, *, strict: bool = False) -> int:
        """Once the receipts handed in so far are committed (``ReceiptsService.flush``)."""
        return await self._receipts.flush(strict=strict)
