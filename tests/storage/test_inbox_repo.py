"""The inbox's storage on a real SQLite file (``bot/storage/inbox.py``, migration 0018):
messages kept before it count as routed, a link code works until its end and once, a
group is one owner's, a topic names one conversation, an answer is a sent message of
the conversation."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.domain import InboundMessage, InboxMode, Language, SenderStatus
from bot.storage import db as dbmod
from bot.storage import inbound, inbox, owners, senders
from bot.storage.db import Database


async def owner_and_number(db: Database, clock, telegram_id: int) -> tuple[int, int]:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                 language=Language.EN, now=clock())
        sender = await senders.add(tx, owner_id=owner.id, gateway="sandbox",
                                   phone=f"+99450000{telegram_id:04d}",
                                   status=SenderStatus.ACTIVE, now=clock())
    return owner.id, sender.id


async def test_messages_kept_before_the_inbox_count_as_routed(tmp_path: Path, clock,
                                                              monkeypatch) -> None:
    files = dbmod._migration_files()
    monkeypatch.setattr(dbmod, "_migration_files", lambda: [m for m in files if m[0] < 18])
    old = Database(tmp_path / "old.sqlite3")
    await old.connect()  # a database of version 17, with a customer's message
    try:
        a, a_number = await owner_and_number(old, clock, 1)
        async with old.transaction() as tx:
            await inbound.add(tx, InboundMessage(0, a, a_number, "+994501234567", clock()))
    finally:
        await old.close()
    monkeypatch.setattr(dbmod, "_migration_files", lambda: files)
    new = Database(tmp_path / "old.sqlite3")
    await new.connect()  # version 18 applied
    try:
        async with new.reader.execute("SELECT routed_at, received_at FROM inbound_messages"
                                      ) as cur:
            [(routed_at, received_at)] = await cur.fetchall()
        assert routed_at == received_at  # not forwarded again
        assert await inbox.owners_unrouted(new.reader) == []
    finally:
        await new.close()


async def test_routing_a_link_code_a_group_and_a_topic(db: Database, clock) -> None:
    a, a_number = await owner_and_number(db, clock, 1)
    b, _ = await owner_and_number(db, clock, 2)
    async with db.transaction() as tx:
        for n in range(3):
            await inbound.add(tx, InboundMessage(0, a, a_number, "+994501234567",
                                                 clock() + timedelta(seconds=n),
                                                 text=f"message {n}"))
    assert await inbox.owners_unrouted(db.reader) == [a]
    first = await inbox.unrouted(db.reader, a, 2)
    assert [m.text for m in first] == ["message 0", "message 1"]
    assert await inbox.unrouted(db.reader, b, 10) == []
    async with db.transaction() as tx:
        await inbox.mark_routed(tx, [m.id for m in first], clock())
    assert [m.text for m in await inbox.unrouted(db.reader, a, 10)] == ["message 2"]
    assert (await inbox.last_inbound(db.reader, a, "+994501234567")).text == "message 2"

    async with db.transaction() as tx:
        await inbox.set_link_code(tx, a, "K7QF3PZD", clock() + timedelta(hours=1), clock())
    assert await inbox.owner_of_code(db.reader, "K7QF3PZD", clock()) == a
    assert await inbox.owner_of_code(db.reader, "K7QF3PZD", clock() + timedelta(hours=2)) is None
    async with db.transaction() as tx:
        await inbox.link_group(tx, a, -100777, "Gül Evi", clock())
    assert await inbox.owner_of_code(db.reader, "K7QF3PZD", clock()) is None  # used once
    settings = await inbox.settings(db.reader, a)
    assert (settings.mode, settings.group_chat_id, settings.topics) == (InboxMode.TOPICS,
                                                                        -100777, True)
    assert not (await inbox.settings(db.reader, b)).topics  # chat mode, never set
    assert await inbox.owner_of_group(db.reader, -100777) == a

    async with db.transaction() as tx:
        conversation = await inbox.ensure_conversation(tx, a, "+994501234567", clock())
        again = await inbox.ensure_conversation(tx, a, "+994501234567", clock())
        await inbox.set_topic(tx, conversation.id, -100777, 41)
    assert again.id == conversation.id
    found = await inbox.by_topic(db.reader, -100777, 41)
    assert found is not None and (found.owner_id, found.phone) == (a, "+994501234567")
    assert await inbox.conversation_by_id(db.reader, b, conversation.id) is None  # A's only
    async with db.transaction() as tx:
        await inbox.unlink(tx, a, clock())
    assert await inbox.by_topic(db.reader, -100777, 41) is None
    assert (await inbox.settings(db.reader, a)).mode is InboxMode.CHAT

    async with db.transaction() as tx:
        message_id = await inbox.record_answer(tx, a, a_number, "+994501234567", None,
                                               "sbx-1", '{"text":"Salam"}', clock())
    async with db.reader.execute("SELECT status, sent_at IS NOT NULL, campaign_id, content"
                                 " FROM messages WHERE id = ?", (message_id,)) as cur:
        assert tuple(await cur.fetchone()) == ("sent", 1, None, '{"text":"Salam"}')
