"""The database's figures ``/metrics`` tells (``bot/web/metrics.py`` reads them here: the
web layer reaches storage only through services). Each is one query of
``bot/storage/metrics.py`` on the database's reader, read at scrape time."""

from __future__ import annotations

from bot.storage import metrics as figures
from bot.storage.db import Database
from bot.storage.metrics import Queue, SenderFigures

__all__ = ["DatabaseFigures", "Queue", "SenderFigures"]


class DatabaseFigures:
    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def engine(self) -> str:
        """"sqlite" or "postgres"."""
        return str(getattr(self._db, "engine", "sqlite"))

    async def outbox(self) -> list[tuple[str, int | None, int]]:
        """(status, sender id or None, messages) for every pair there is: reads every
        message (see ``bot/storage/metrics.py`` for what it costs)."""
        return await figures.outbox(self._db.reader)

    async def gateways(self) -> dict[int, str]:
        return await figures.gateways(self._db.reader)

    async def queue(self, now: float) -> Queue:
        return await figures.queue(self._db.reader, now)

    async def senders(self) -> list[SenderFigures]:
        return await figures.senders(self._db.reader)

    async def leases(self, now: float) -> dict[str, int]:
        return await figures.leases(self._db.reader, now)
