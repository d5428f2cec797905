"""The owners repository on a real SQLite file."""

from __future__ import annotations

import sqlite3

import pytest

from bot.domain import Language, OwnerStatus
from bot.storage import owners
from bot.storage.db import Database


async def test_owner_round_trips(db: Database, clock) -> None:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=42, chat_id=42, language=Language.RU,
                                 now=clock())
        owner.name, owner.company, owner.phone = "Əli", "Çay evi", "+994501234567"
        await owners.save(tx, owner, clock())
    loaded = await owners.get_by_telegram(db.reader, 42)
    assert loaded is not None
    assert (loaded.name, loaded.company, loaded.phone) == ("Əli", "Çay evi", "+994501234567")
    assert loaded.language is Language.RU
    assert loaded.status is OwnerStatus.REGISTERING
    assert loaded.created_at == clock()


async def test_telegram_id_is_unique(db: Database, clock) -> None:
    async with db.transaction() as tx:
        await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN, now=clock())
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as tx:
            await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN, now=clock())


async def test_list_by_status(db: Database, clock) -> None:
    async with db.transaction() as tx:
        for tid in (1, 2, 3):
            owner = await owners.add(tx, telegram_id=tid, chat_id=tid, language=Language.EN,
                                     now=clock())
            if tid != 2:
                owner.status = OwnerStatus.PENDING
                await owners.save(tx, owner, clock())
    pending = await owners.list_by_status(db.reader, OwnerStatus.PENDING)
    assert [o.telegram_id for o in pending] == [1, 3]
