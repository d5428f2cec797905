"""The API keys repository on a real SQLite file."""

from __future__ import annotations

import sqlite3

import pytest

from bot.domain import Language, OwnerStatus, Scope
from bot.storage import api_keys, owners
from bot.storage.db import Database


async def an_owner(db: Database, clock, telegram_id: int) -> int:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                 language=Language.EN, now=clock())
    return owner.id


async def test_a_key_round_trips_with_its_scopes_and_owner_status(db: Database, clock) -> None:
    alice = await an_owner(db, clock, 1)
    scopes = frozenset({Scope.MESSAGES_WRITE, Scope.MESSAGES_READ, Scope.STATS_READ})
    async with db.transaction() as tx:
        made = await api_keys.add(tx, alice, "Shop", "qsd_0000aaaa", "h" * 64, scopes, clock())
    check = await api_keys.by_prefix(db.reader, "qsd_0000aaaa")
    assert check is not None
    assert check.key == made and check.key.scopes == scopes and check.key.created_at == clock()
    assert check.key_hash == "h" * 64 and check.owner_status is OwnerStatus.REGISTERING
    async with db.reader.execute("SELECT scopes FROM api_keys") as cur:
        assert (await cur.fetchone())[0] == "messages:read messages:write stats:read"
    assert await api_keys.by_prefix(db.reader, "qsd_0000aaab") is None


async def test_prefixes_are_unique(db: Database, clock) -> None:
    alice, bob = await an_owner(db, clock, 1), await an_owner(db, clock, 2)
    async with db.transaction() as tx:
        await api_keys.add(tx, alice, "One", "qsd_0000aaaa", "a" * 64, frozenset(), clock())
    assert await api_keys.prefix_taken(db.reader, "qsd_0000aaaa")
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as tx:
            await api_keys.add(tx, bob, "Two", "qsd_0000aaaa", "b" * 64, frozenset(), clock())


async def test_an_owner_reads_and_revokes_only_their_own_keys(db: Database, clock) -> None:
    alice, bob = await an_owner(db, clock, 1), await an_owner(db, clock, 2)
    async with db.transaction() as tx:
        first = await api_keys.add(tx, alice, "One", "qsd_0000000a", "a" * 64,
                                   frozenset({Scope.STATS_READ}), clock())
        second = await api_keys.add(tx, alice, "Two", "qsd_0000000b", "b" * 64,
                                    frozenset({Scope.STATS_READ}), clock())
    assert [k.id for k in await api_keys.of_owner(db.reader, alice)] == [second.id, first.id]
    assert await api_keys.of_owner(db.reader, bob) == []
    assert await api_keys.get(db.reader, bob, first.id) is None
    async with db.transaction() as tx:
        assert not await api_keys.revoke(tx, bob, first.id, clock())
        assert await api_keys.revoke(tx, alice, first.id, clock())
        assert not await api_keys.revoke(tx, alice, first.id, clock())
        await api_keys.touch(tx, second.id, clock())
    assert await api_keys.count_active(db.reader, alice) == 1
    revoked = await api_keys.get(db.reader, alice, first.id)
    used = await api_keys.get(db.reader, alice, second.id)
    assert revoked is not None and revoked.revoked_at == clock() and not revoked.active
    assert used is not None and used.last_used_at == clock() and used.active


async def test_a_draft_is_one_per_owner_and_goes_with_the_owner(db: Database, clock) -> None:
    alice, bob = await an_owner(db, clock, 1), await an_owner(db, clock, 2)
    async with db.transaction() as tx:
        await api_keys.set_draft(tx, alice, "First", frozenset(), clock())
        await api_keys.set_draft(tx, alice, "Second", frozenset(), clock())
        assert await api_keys.set_draft_scopes(tx, alice, frozenset({Scope.CONTACTS_READ}))
        assert not await api_keys.set_draft_scopes(tx, bob, frozenset({Scope.CONTACTS_READ}))
    draft = await api_keys.get_draft(db.reader, alice)
    assert draft is not None
    assert (draft.name, draft.scopes) == ("Second", {Scope.CONTACTS_READ})
    assert await api_keys.get_draft(db.reader, bob) is None
    async with db.transaction() as tx:
        await api_keys.add(tx, alice, "Shop", "qsd_0000000c", "c" * 64, frozenset(), clock())
        await tx.execute("DELETE FROM owners WHERE id = ?", (alice,))
    assert await api_keys.get_draft(db.reader, alice) is None
    assert await api_keys.by_prefix(db.reader, "qsd_0000000c") is None


async def test_an_unknown_stored_scope_is_left_out(db: Database, clock) -> None:
    alice = await an_owner(db, clock, 1)
    async with db.transaction() as tx:
        made = await api_keys.add(tx, alice, "Old", "qsd_0000000d", "d" * 64, frozenset(),
                                  clock())
        await tx.execute("UPDATE api_keys SET scopes = 'stats:read reports:read'")
    found = await api_keys.get(db.reader, alice, made.id)
    assert found is not None and found.scopes == {Scope.STATS_READ}
