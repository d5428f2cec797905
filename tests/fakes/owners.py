"""An owner already through registration, written straight into the database (for tests
that start ``python -m bot`` as a process against a prepared file)."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from bot.domain import Language, Owner
from bot.storage import owners


async def add_active_owner(tx: aiosqlite.Connection, telegram_id: int, now: datetime) -> Owner:
    """Aysel of Gül Evi, registered, approved and active, speaking English."""
    owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                             language=Language.EN, now=now)
    owner.name, owner.company, owner.phone = "Aysel", "Gül Evi", "+994501234567"
    owner.submit(now, needs_approval=True)
    owner.approve(now)
    await owners.save(tx, owner, now)
    return owner
