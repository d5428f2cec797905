"""The import writer of each engine (``bulk.open_writer``: SQLite's ``ImportWriter``,
PostgreSQL's ``PgImportWriter`` with COPY) on a real database: the same rows, the same
answers. It checks the owner itself (SQLite's foreign keys off, PostgreSQL's per-row
checks skipped)."""

from __future__ import annotations

import json
import sqlite3
from urllib.parse import urlsplit

import pytest

from bot.domain import Language
from bot.storage import contacts, lists, owners
from bot.storage.bulk import ContactWriter, open_writer
from bot.storage.db import Database


def writer(db: Database) -> ContactWriter:
    return open_writer(db.engine, db.path)


async def test_an_import_for_an_owner_who_is_gone_leaves_nothing_behind(
    db: Database, clock,
) -> None:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN, now=clock())
    rows = '[["+994501234567","Əli",{"city":"Bakı"},1,2,0]]'

    with pytest.raises(sqlite3.IntegrityError):
        async with db.exclusive():  # translates PostgreSQL's errors as transaction() does
            with writer(db) as gone:
                gone.create_list(owner.id + 1, "clients", clock())
                gone.write_chunk(owner.id + 1, 1, rows, clock())

    with writer(db) as w:
        list_id = w.create_list(owner.id, "clients", clock())
        w.write_chunk(owner.id, list_id, rows, clock())
    async with db.reader.execute(
        "SELECT c.owner_id, c.phone, m.list_id FROM contacts c"
        " JOIN list_members m ON m.contact_id = c.id"
    ) as cur:
        assert [tuple(row) for row in await cur.fetchall()] == [
            (owner.id, "+994501234567", list_id)
        ]


async def test_new_contacts_get_ids_in_file_order_and_known_ones_keep_theirs(
    db: Database, clock,
) -> None:
    """Chunks arrive sorted by phone (faster for the index), yet the list keeps the file's
    order: samples and exports read contacts by id."""
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN, now=clock())
    with writer(db) as w:
        first = w.create_list(owner.id, "first", clock())
        w.write_chunk(owner.id, first, '[["+994701111111","Known",{},1,2,0]]', clock())
    # the file's order: Zeynəb, Əli, Known (again); sorted by phone for the writer
    rows = ('[["+994501234567","Əli",{},2,3,0],["+994551234567","Zeynəb",{},1,2,0],'
            '["+994701111111","Known again",{},3,4,0]]')
    with writer(db) as w:
        second = w.create_list(owner.id, "second", clock())
        w.write_chunk(owner.id, second, rows, clock())
    async with db.reader.execute(
        "SELECT c.name FROM list_members m JOIN contacts c ON c.id = m.contact_id"
        " WHERE m.list_id = ? ORDER BY c.id", (second,)
    ) as cur:
        assert [row[0] for row in await cur.fetchall()] == ["Known again", "Zeynəb", "Əli"]


async def test_the_writer_tells_which_known_contacts_got_a_new_name(db: Database, clock) -> None:
    async with db.transaction() as tx:
        alice = await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN, now=clock())
        bob = await owners.add(tx, telegram_id=2, chat_id=2, language=Language.EN, now=clock())
    with writer(db) as w:
        shop = w.create_list(alice.id, "shop", clock())
        w.write_chunk(alice.id, shop, '[["+994501111111","Aysel",{},1,2,0],'
                           '["+994502222222","Leyla",{},2,3,0],'
                           '["+994503333333",null,{},3,4,0],'
                           '["+994504444444","Nigar",{},4,5,0]]', clock())
        assert w.renamed(alice.id, 5) == (0, [])  # all new
    with writer(db) as w:  # Bob's same numbers are his own contacts
        mine = w.create_list(bob.id, "mine", clock())
        w.write_chunk(bob.id, mine, '[["+994501111111","Someone",{},1,2,0]]', clock())
        assert w.renamed(bob.id, 5) == (0, [])
    with writer(db) as w:
        other = w.create_list(alice.id, "other", clock())
        # in two chunks, as batches come: a name changed twice, one changed and back, a
        # first name for a contact without one, a new contact renamed by a later row
        w.write_chunk(alice.id, other, '[["+994501111111","A. Mammadova",{},1,2,0],'
                           '["+994502222222","L.",{},2,3,0],'
                           '["+994503333333","Zeynəb",{},3,4,0],'
                           '["+994505555555","New",{},4,5,0]]', clock())
        w.write_chunk(alice.id, other, '[["+994501111111","No Country Code",{},5,6,1],'
                           '["+994502222222","Leyla",{},6,7,1],'
                           '["+994504444444",null,{},7,8,0],'
                           '["+994505555555","Newer",{},8,9,1]]', clock())
        assert w.renamed(alice.id, 5) == (
            1, [("+994501111111", "Aysel", "No Country Code")])
        assert w.renamed(alice.id, 0) == (1, [])


async def _owner(db: Database, clock, telegram_id: int = 1) -> int:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                 language=Language.EN, now=clock())
    return owner.id


async def _members(db: Database, list_id: int) -> list[tuple[str, str | None, dict]]:
    async with db.reader.execute(
        "SELECT c.phone, c.name, c.attributes FROM list_members m"
        " JOIN contacts c ON c.id = m.contact_id WHERE m.list_id = ? ORDER BY c.id", (list_id,)
    ) as cur:
        return [(row[0], row[1], json.loads(row[2])) for row in await cur.fetchall()]


async def test_known_contacts_keep_what_the_file_leaves_empty_and_take_what_it_says(
    db: Database, clock,
) -> None:
    owner_id = await _owner(db, clock)
    with writer(db) as w:
        first = w.create_list(owner_id, "first", clock())
        w.write_chunk(owner_id, first, '[["+994501111111","Aysel",{"city":"Bakı","vip":"yes"},'
                      '1,2,0],["+994502222222","Leyla",{"city":"Gəncə"},2,3,0]]', clock())
    with writer(db) as w:
        second = w.create_list(owner_id, "second", clock())
        before = w.contact_count(owner_id)
        # Aysel: no name in the file, a new city; Leyla: no cells; one new contact
        w.write_chunk(owner_id, second, '[["+994501111111",null,{"city":"Sumqayıt"},1,2,0],'
                      '["+994502222222","Leyla M.",{},2,3,0],'
                      '["+994503333333","Nigar",{"city":"Şəki"},3,4,0]]', clock())
        assert w.contact_count(owner_id) - before == 1
    assert await _members(db, second) == [
        ("+994501111111", "Aysel", {"city": "Sumqayıt", "vip": "yes"}),
        ("+994502222222", "Leyla M.", {"city": "Gəncə"}),
        ("+994503333333", "Nigar", {"city": "Şəki"}),
    ]
    assert [m[0] for m in await _members(db, first)] == ["+994501111111", "+994502222222"]


async def test_a_phone_repeated_in_a_later_chunk_is_one_contact_in_the_list_once(
    db: Database, clock,
) -> None:
    """A first import (the owner had no contacts): rows seen for the first time are new,
    a repeat (duplicate flag 1) merges into the contact an earlier chunk wrote."""
    owner_id = await _owner(db, clock)
    with writer(db) as w:
        shop = w.create_list(owner_id, "shop", clock())
        w.write_chunk(owner_id, shop, '[["+994501111111","Aysel",{"city":"Bakı"},1,2,0],'
                      '["+994502222222",null,{},2,3,0]]', clock())
        w.write_chunk(owner_id, shop, '[["+994501111111",null,{"tier":"gold"},3,4,1],'
                      '["+994502222222","Leyla",{},4,5,1],'
                      '["+994503333333","Nigar",{},5,6,0]]', clock())
        assert w.contact_count(owner_id) == 3
    assert await _members(db, shop) == [
        ("+994501111111", "Aysel", {"city": "Bakı", "tier": "gold"}),
        ("+994502222222", "Leyla", {}),
        ("+994503333333", "Nigar", {}),
    ]


async def test_names_with_any_characters_arrive_as_written(db: Database, clock) -> None:
    """The chunk is JSON text (its strings escaped): quotes, backslashes, tabs, newlines,
    brackets and commas that look like a row's end, and PostgreSQL's COPY escapes."""
    owner_id = await _owner(db, clock)
    names = ['Ə "Əli" \\ Ağa', 'tab\there\nnew line', 'x],["+994509999999",null', "\\N", "\\.",
             "\\u0000 as text"]
    rows = ",".join(
        json.dumps([f"+99450123456{n}", name, {"note": name}, n + 1, n + 2, 0],
                   ensure_ascii=False, separators=(",", ":"))
        for n, name in enumerate(names))
    with writer(db) as w:
        shop = w.create_list(owner_id, "shop", clock())
        w.write_chunk(owner_id, shop, f"[{rows}]", clock())
    assert [(m[1], m[2]["note"]) for m in await _members(db, shop)] == [(n, n) for n in names]


async def test_opted_out_contacts_stay_opted_out_and_are_counted(db: Database, clock) -> None:
    owner_id = await _owner(db, clock)
    async with db.transaction() as tx:
        await contacts.opt_out(tx, owner_id, "+994502222222", "asked", clock())
    with writer(db) as w:
        shop = w.create_list(owner_id, "shop", clock())
        assert w.has_opt_outs(owner_id)
        w.write_chunk(owner_id, shop, '[["+994501111111","Aysel",{},1,2,0],'
                      '["+994502222222","Leyla",{},2,3,0]]', clock())
        assert w.count_opted_out(owner_id, ["+994501111111", "+994502222222"]) == 1
    async with db.reader.execute(
        "SELECT phone, name, opted_out_at IS NOT NULL, opt_out_reason FROM contacts"
        " WHERE owner_id = ? ORDER BY phone", (owner_id,)
    ) as cur:
        assert [tuple(r) for r in await cur.fetchall()] == [
            ("+994501111111", "Aysel", False, None), ("+994502222222", "Leyla", True, "asked")]


async def test_a_failed_import_leaves_nothing_and_later_writes_go_on(db: Database, clock) -> None:
    """Rolled back: no list, no contact; then an import and a contact added by hand (its id
    from the engine's own counter) both find their ids free."""
    owner_id = await _owner(db, clock)
    with pytest.raises(RuntimeError, match="the parser died"), writer(db) as w:
        shop = w.create_list(owner_id, "shop", clock())
        w.write_chunk(owner_id, shop, '[["+994501111111","Aysel",{},1,2,0]]', clock())
        w.write_chunk(owner_id, shop, '[["+994502222222","Leyla",{},2,3,0]]', clock())
        raise RuntimeError("the parser died")
    async with db.reader.execute(
        "SELECT (SELECT COUNT(*) FROM contacts), (SELECT COUNT(*) FROM contact_lists),"
        " (SELECT COUNT(*) FROM list_members)"
    ) as cur:
        assert [tuple(row) for row in await cur.fetchall()] == [(0, 0, 0)]
    with writer(db) as w:
        shop = w.create_list(owner_id, "shop", clock())
        w.write_chunk(owner_id, shop, '[["+994501111111","Aysel",{},1,2,0],'
                      '["+994502222222","Leyla",{},2,3,0]]', clock())
        w.add_variables(owner_id, shop, ["city", "tier"])
        w.add_variables(owner_id, shop, ["tier", "code"])
    async with db.transaction() as tx:
        added = await contacts.opt_out(tx, owner_id, "+994503333333", None, clock())
        shop_list = await lists.get(tx, owner_id, shop)
    assert shop_list is not None and shop_list.variables == ["city", "tier", "code"]
    assert [m[0] for m in await _members(db, shop)] == ["+994501111111", "+994502222222"]
    async with db.reader.execute("SELECT MAX(id) FROM contacts WHERE id <> ?",
                                 (added.id,)) as cur:
        assert [added.id > row[0] for row in await cur.fetchall()] == [True]


@pytest.mark.engines("postgres")
async def test_a_role_that_may_not_skip_triggers_imports_the_same(
    db: Database, clock,
) -> None:
    """PostgreSQL: without the right to set ``session_replication_role`` the writer leaves
    the foreign-key triggers on (slower): same rows, and a missing owner still fails."""
    import psycopg

    from bot.storage import bulk_pg

    url = str(db.path)
    parts = urlsplit(url)
    role = f"qasid_plain_{parts.path.strip('/')}"[:63]  # roles are the server's, not the db's
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        admin.execute(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"')
        admin.execute(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
        admin.execute(f'GRANT CREATE, USAGE ON SCHEMA public TO "{role}"')
    plain = parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port}").geturl()
    try:
        with psycopg.connect(plain) as conn:
            assert not bulk_pg._may_skip_triggers(conn)
        owner_id = await _owner(db, clock)
        with pytest.raises(psycopg.IntegrityError), open_writer("postgres", plain) as w:
            w.create_list(owner_id + 1, "nobody's", clock())
        with open_writer("postgres", plain) as w:
            shop = w.create_list(owner_id, "shop", clock())
            w.write_chunk(owner_id, shop, '[["+994501111111","Aysel",{},1,2,0]]', clock())
            w.write_chunk(owner_id, shop, '[["+994501111111","Aysel M.",{},2,3,1],'
                          '["+994502222222","Leyla",{},3,4,0]]', clock())
        assert [(m[0], m[1]) for m in await _members(db, shop)] == [
            ("+994501111111", "Aysel M."), ("+994502222222", "Leyla")]
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP OWNED BY "{role}"')
            admin.execute(f'DROP ROLE "{role}"')


@pytest.mark.engines("postgres")
async def test_a_nul_character_postgresql_cannot_store_is_left_out(db: Database, clock) -> None:
    owner_id = await _owner(db, clock)
    with writer(db) as w:
        shop = w.create_list(owner_id, "shop", clock())
        w.write_chunk(owner_id, shop, '[["+994501111111","A\\u0000li",{"c":"x\\u0000"},1,2,0]]',
                      clock())
    assert await _members(db, shop) == [("+994501111111", "Ali", {"c": "x"})]


async def test_a_contact_the_file_changes_is_updated_at_the_imports_time(
    db: Database, clock,
) -> None:
    owner_id = await _owner(db, clock)
    with writer(db) as w:
        shop = w.create_list(owner_id, "shop", clock())
        w.write_chunk(owner_id, shop, '[["+994501111111","Aysel",{},1,2,0],'
                      '["+994502222222","Leyla",{"city":"Bakı"},2,3,0]]', clock())
    clock.advance(hours=1)
    with writer(db) as w:
        again = w.create_list(owner_id, "again", clock())
        w.write_chunk(owner_id, again, '[["+994501111111","Aysel M.",{},1,2,0],'
                      '["+994502222222",null,{"tier":"gold"},2,3,0],'
                      '["+994503333333","Nigar",{},3,4,0]]', clock())
    async with db.reader.execute(
        "SELECT phone, updated_at FROM contacts ORDER BY phone") as cur:
        assert [(row[0], row[1]) for row in await cur.fetchall()] == [
            (phone, clock().timestamp())
            for phone in ("+994501111111", "+994502222222", "+994503333333")]
    assert [(m[1], m[2]) for m in await _members(db, again)] == [
        ("Aysel M.", {}), ("Leyla", {"city": "Bakı", "tier": "gold"}), ("Nigar", {})]


@pytest.mark.engines("postgres")
async def test_the_server_gone_in_the_middle_is_storage_unavailable_and_nothing_is_written(
    db: Database, clock,
) -> None:
    """PostgreSQL: the import's connection ends (a restart, a failover) between two
    chunks: ``exclusive()`` says the database cannot save now; nothing was written."""
    import psycopg

    from bot.errors import StorageUnavailable

    owner_id = await _owner(db, clock)
    with pytest.raises(StorageUnavailable):
        async with db.exclusive():
            with writer(db) as w:
                shop = w.create_list(owner_id, "shop", clock())
                w.write_chunk(owner_id, shop, '[["+994501111111","Aysel",{},1,2,0]]', clock())
                with psycopg.connect(str(db.path), autocommit=True) as admin:
                    admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                  " WHERE application_name = 'qasid import'"
                                  " AND datname = current_database()")
                w.write_chunk(owner_id, shop, '[["+994502222222","Leyla",{},2,3,0]]', clock())
    async with db.reader.execute(
        "SELECT (SELECT COUNT(*) FROM contacts), (SELECT COUNT(*) FROM contact_lists)"
    ) as cur:
        assert [tuple(row) for row in await cur.fetchall()] == [(0, 0)]
