"""The senders repository on a real SQLite file: linking, secrets, replacements and the
look-ups gateway events use."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from bot.domain import Language, Sender, SenderStatus
from bot.storage import owners, senders
from bot.storage.db import Database

TOKEN = "EAAG-secret-token-0123456789"


async def owner(db: Database, clock, telegram_id: int) -> int:
    async with db.transaction() as tx:
        made = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                language=Language.EN, now=clock())
    return made.id


async def add(db: Database, clock, owner_id: int, phone: str, *, gateway: str = "waha",
              status: SenderStatus = SenderStatus.ACTIVE, external_id: str | None = None
              ) -> Sender:
    async with db.transaction() as tx:
        return await senders.add(tx, owner_id=owner_id, gateway=gateway, phone=phone,
                                 status=status, now=clock(), external_id=external_id)


async def remove(db: Database, clock, sender_id: int) -> None:
    async with db.transaction() as tx:
        await senders.set_status(tx, sender_id, SenderStatus.REMOVED, clock())


async def test_linking_records_phone_and_handle_and_starts_the_warm_up_when_active(
        db, clock) -> None:
    o = await owner(db, clock, 1)
    sender = await add(db, clock, o, "linking-1", status=SenderStatus.LINKING)
    assert sender.linked_at is None
    async with db.transaction() as tx:
        await senders.set_status(tx, sender.id, SenderStatus.LINKING, clock(), detail="waiting")
        await senders.link(tx, sender.id, phone="qasid-1-1", external_id="qasid-1-1",
                           now=clock(), status=SenderStatus.LINKING)
    got = await senders.get(db.reader, o, sender.id)
    assert got is not None
    assert (got.phone, got.external_id, got.status, got.linked_at, got.status_detail) == (
        "qasid-1-1", "qasid-1-1", SenderStatus.LINKING, None, None)

    clock.advance(minutes=2)
    async with db.transaction() as tx:
        await senders.link(tx, sender.id, phone="+994501110000", external_id="qasid-1-1",
                           now=clock(), status=SenderStatus.ACTIVE)
    got = await senders.get(db.reader, o, sender.id)
    assert got is not None
    assert (got.phone, got.status, got.linked_at) == ("+994501110000", SenderStatus.ACTIVE,
                                                      clock())
    assert await senders.get(db.reader, o + 1, sender.id) is None  # another owner's: none


async def test_a_secret_is_read_only_by_secrets_never_with_the_sender(db, clock) -> None:
    o = await owner(db, clock, 1)
    cloud = await add(db, clock, o, "+994709998877", gateway="cloud", external_id="1234567")
    waha = await add(db, clock, o, "+994501110000")
    async with db.transaction() as tx:
        await senders.set_secret(tx, cloud.id, TOKEN)
        await senders.set_replaces(tx, cloud.id, waha.id)
    assert await senders.secrets(db.reader, "cloud") == {cloud.id: TOKEN}
    assert await senders.secrets(db.reader, "waha") == {}

    names = {f.name for f in dataclasses.fields(Sender)}
    assert not names & {"config", "token", "secret"}
    read = [await senders.get(db.reader, o, cloud.id), await senders.get_any(db.reader, cloud.id),
            *await senders.list_for_owner(db.reader, o, include_removed=True)]
    for sender in read:
        assert TOKEN not in repr(sender) and TOKEN not in str(dataclasses.astuple(sender))

    async with db.transaction() as tx:  # dropping it keeps the rest of the config
        await senders.set_secret(tx, cloud.id, None)
    assert await senders.secrets(db.reader, "cloud") == {}
    assert await senders.replaces(db.reader, cloud.id) == waha.id
    async with db.reader.execute("SELECT config FROM senders WHERE id = ?", (cloud.id,)) as cur:
        row = await cur.fetchone()
    assert TOKEN not in row[0]


async def test_a_removed_senders_secret_is_not_returned(db, clock) -> None:
    o = await owner(db, clock, 1)
    kept = await add(db, clock, o, "+994709998877", gateway="cloud", external_id="1111111")
    gone = await add(db, clock, o, "+994709998866", gateway="cloud", external_id="2222222")
    async with db.transaction() as tx:
        await senders.set_secret(tx, kept.id, "token-of-the-kept-one-0000")
        await senders.set_secret(tx, gone.id, "token-of-the-gone-one-0000")
    await remove(db, clock, gone.id)
    assert await senders.secrets(db.reader, "cloud") == {kept.id: "token-of-the-kept-one-0000"}


async def test_linked_handles_are_those_linked_once_and_not_removed(db, clock) -> None:
    o = await owner(db, clock, 1)
    linked = await add(db, clock, o, "+994501110000", external_id="qasid-1-1")
    banned = await add(db, clock, o, "+994501110001", external_id="qasid-1-2")
    waiting = await add(db, clock, o, "qasid-1-3", status=SenderStatus.LINKING,
                        external_id="qasid-1-3")
    gone = await add(db, clock, o, "+994501110004", external_id="qasid-1-4")
    await add(db, clock, o, "+994501110005", external_id=None)
    await add(db, clock, o, "+994709998877", gateway="cloud", external_id="1234567")
    async with db.transaction() as tx:
        await senders.set_status(tx, banned.id, SenderStatus.BANNED, clock())
    await remove(db, clock, gone.id)
    assert sorted(await senders.linked_external_ids(db.reader, "waha")) == [
        linked.external_id, banned.external_id]
    assert waiting.external_id not in await senders.linked_external_ids(db.reader, "waha")
    assert await senders.linked_external_ids(db.reader, "cloud") == ["1234567"]


async def test_a_replacement_remembers_the_number_it_replaces(db, clock) -> None:
    o = await owner(db, clock, 1)
    lost = await add(db, clock, o, "+994501110000")
    new = await add(db, clock, o, "qasid-1-2", status=SenderStatus.LINKING)
    assert await senders.replaces(db.reader, new.id) is None
    assert await senders.replaces(db.reader, 999) is None
    async with db.transaction() as tx:
        await senders.set_replaces(tx, new.id, lost.id)
        await senders.set_secret(tx, new.id, TOKEN)
    assert await senders.replaces(db.reader, new.id) == lost.id
    assert await senders.replaces(db.reader, lost.id) is None
    assert await senders.secrets(db.reader, "waha") == {new.id: TOKEN}  # both kept


async def test_senders_by_phone_digits_leave_out_removed_linking_and_shared(db, clock) -> None:
    a = await owner(db, clock, 1)
    b = await owner(db, clock, 2)
    one = await add(db, clock, a, "+994 50 111 00 00")
    restricted = await add(db, clock, a, "+994501110002")
    async with db.transaction() as tx:
        await senders.set_status(tx, restricted.id, SenderStatus.RESTRICTED, clock(),
                                 until=clock() + timedelta(hours=1))
    await add(db, clock, a, "+994501110003", status=SenderStatus.LINKING)
    gone = await add(db, clock, a, "+994501110004")
    await remove(db, clock, gone.id)
    await add(db, clock, a, "+994551110005")  # two owners share this phone: ambiguous
    await add(db, clock, b, "+994551110005")
    await add(db, clock, a, "+994701110006", gateway="cloud")
    assert await senders.ids_by_phone_digits(db.reader, "waha") == {
        "994501110000": one.id, "994501110002": restricted.id}
    assert list((await senders.ids_by_phone_digits(db.reader, "cloud")).keys()) == [
        "994701110006"]


async def test_senders_by_handle_leave_out_removed_and_shared_handles(db, clock) -> None:
    a = await owner(db, clock, 1)
    b = await owner(db, clock, 2)
    one = await add(db, clock, a, "+994501110000", external_id="qasid-1-1")
    gone = await add(db, clock, a, "+994501110001", external_id="qasid-1-2")
    await remove(db, clock, gone.id)
    again = await add(db, clock, a, "+994501110002", external_id="qasid-1-2")
    await add(db, clock, a, "+994501110003", external_id="shared")
    await add(db, clock, b, "+994501110003", external_id="shared")
    await add(db, clock, a, "+994701110006", gateway="cloud", external_id="qasid-1-1")
    found = await senders.ids_by_external_id(
        db.reader, "waha", ["qasid-1-1", "qasid-1-2", "shared", "unknown"])
    assert found == {"qasid-1-1": one.id, "qasid-1-2": again.id}
    assert await senders.ids_by_external_id(db.reader, "waha", []) == {}
