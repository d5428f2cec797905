"""Contacts and lists through the API's service, on a real SQLite file: the same contacts
as a file import of the same rows, opt-outs that stay, 10,000 in one transaction, and
one owner never reaching another's."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from bot.domain import Language
from bot.errors import Conflict, NotFound, ValidationError
from bot.services.contacts import ContactsConfig, ContactsService
from bot.services.contacts_api import ContactInput, ContactsApiService
from bot.services.webhooks import WebhooksConfig, WebhooksService
from bot.storage import contacts, lists, owners
from bot.storage.db import Database
from tests.fakes.notifier import RecordingNotifier

HEADER = ["Telefon", "Ad", "Şəhər", "Любимый цвет"]
ROWS = [
    ["050 123 45 67", " Əli  ", "Bakı", "qırmızı"],
    ["+994 55 123 45 67", "Zeynəb", "", "mavi"],
    ["(070) 999-88-77", "", "Gəncə", ""],
    ["0501234567", "", "Sumqayıt", "yaşıl"],  # Əli again: a new city and colour, same name
    ["012 493 00 00", "Office", "Bakı", ""],  # a landline
    ["12345", "Short", "", ""],
    ["call me", "Text", "", ""],
    ["", "No phone", "Bakı", ""],
    ["055 765 43 21", "", "Quba", ""],  # known before: keeps its name, gets a new city
    ["+994 77 111 22 33", "Opted", "", ""],  # opted out before: stays opted out
]


@pytest.fixture
def service(db: Database, clock) -> ContactsService:
    return ContactsService(db, ContactsConfig(default_region="AZ"), clock)


@pytest.fixture
def api(db: Database, service: ContactsService, clock) -> ContactsApiService:
    return ContactsApiService(db, service, clock)


async def new_owner(db: Database, clock, telegram_id: int) -> int:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                 language=Language.EN, now=clock())
        await contacts.upsert(tx, owner.id, [("+994557654321", "Old", '{"city": "Şəki"}')],
                              clock())
        await contacts.opt_out(tx, owner.id, "+994771112233", "asked by phone", clock())
    return owner.id


async def new_list(db: Database, clock, owner_id: int, name: str = "Clients") -> int:
    async with db.transaction() as tx:
        return (await lists.create(tx, owner_id, name, clock())).id


async def state(db: Database, owner_id: int, list_id: int) -> dict[str, object]:
    """What the owner would see: every contact, the list's members and its variables."""
    async with db.reader.execute(
        "SELECT phone, name, attributes, opted_out_at IS NOT NULL, opt_out_reason"
        " FROM contacts WHERE owner_id = ? ORDER BY phone", (owner_id,)
    ) as cur:
        people = [(r[0], r[1], json.loads(r[2]), r[3], r[4]) for r in await cur.fetchall()]
    async with db.reader.execute(
        "SELECT c.phone FROM list_members m JOIN contacts c ON c.id = m.contact_id"
        " WHERE m.list_id = ? ORDER BY c.id", (list_id,)
    ) as cur:
        members = [r[0] for r in await cur.fetchall()]
    found = await lists.get(db.reader, owner_id, list_id)
    assert found is not None
    return {"contacts": people, "members": members, "variables": found.variables,
            "size": found.size, "opted_out": found.opted_out}


def as_inputs(rows: list[list[str]]) -> list[ContactInput]:
    return [ContactInput(phone=r[0], name=r[1], variables=dict(zip(HEADER[2:], r[2:],
                                                                     strict=True)))
            for r in rows]


async def test_the_api_writes_what_a_file_import_of_the_same_rows_writes(
    db: Database, clock, service: ContactsService, api: ContactsApiService, tmp_path: Path,
) -> None:
    by_file, by_api = await new_owner(db, clock, 1), await new_owner(db, clock, 2)
    file_list, api_list = await new_list(db, clock, by_file), await new_list(db, clock, by_api)
    path = tmp_path / "clients.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([HEADER, *ROWS])
    record = await service.receive_file(by_file, "file-1", "clients.csv", path.stat().st_size)
    record = await service.claim_import(by_file, record.id, file_list)
    imported = await service.run_import(by_file, record, path,
                                        rejected_path=tmp_path / "rejected.csv",
                                        reason_text=str)

    report = await api.upsert(by_api, as_inputs(ROWS), list_ids=[api_list])

    assert await state(db, by_api, api_list) == await state(db, by_file, file_list)
    after = await state(db, by_api, api_list)
    people = after["contacts"]
    assert isinstance(people, list)
    assert ("+994501234567", "Əli", {"city": "Sumqayıt", "lyubimyy_tsvet": "yaşıl"}, 0,
            None) in people
    assert after["variables"] == ["city", "lyubimyy_tsvet"]
    # the same rows rejected, for the same reasons (the file's line is the index + 2)
    with (tmp_path / "rejected.csv").open(encoding="utf-8-sig") as rejected_file:
        lines = list(csv.reader(rejected_file))[1:]
    file_rejected = [(int(line[0]) - 2, line[1]) for line in lines]
    assert [(r.index, r.reason) for r in report.rejected] == file_rejected == [
        (4, "landline"), (5, "too_short"), (6, "not_a_phone_number"), (7, "no_phone")]
    assert (report.created, report.updated, report.duplicates, report.opted_out) == (
        imported.imported, imported.updated, imported.duplicates, imported.opted_out)
    assert report.phones[0] == report.phones[3] == "+994501234567"


async def test_an_opted_out_contact_stays_opted_out_when_sent_again(
    db: Database, clock, api: ContactsApiService,
) -> None:
    owner = await new_owner(db, clock, 1)
    report = await api.upsert(owner, [ContactInput("+994771112233", "Back again",
                                                   {"city": "Bakı"}, opted_out=False)])
    record = await api.get(owner, "077 111 22 33")
    assert record.contact.opted_out_at is not None
    assert record.contact.opt_out_reason == "asked by phone"
    assert (record.contact.name, record.contact.attributes) == ("Back again", {"city": "Bakı"})
    assert report.opted_out == 1

    # opting out through the upsert is a STOP reply's effect; only opt_in undoes it
    await api.upsert(owner, [ContactInput("+994501234567", "Əli", opted_out=True)])
    assert (await api.get(owner, "+994501234567")).contact.opted_out_at is not None
    await api.upsert(owner, [ContactInput("+994501234567", "Əli")])
    assert (await api.get(owner, "+994501234567")).contact.opted_out_at is not None
    back = await api.opt_in(owner, "050 123 45 67")
    assert back.contact.opted_out_at is None


async def test_ten_thousand_contacts_in_one_call_are_one_transaction(
    db: Database, clock, api: ContactsApiService,
) -> None:
    owner = await new_owner(db, clock, 1)
    target = await new_list(db, clock, owner)
    items = [ContactInput(f"050 {n:07d}", f"Person {n}", {"Order": str(n)})
             for n in range(10_000)]
    commits = db.commits

    report = await api.upsert(owner, items, list_ids=[target])

    assert db.commits == commits + 1
    assert (report.created, report.updated, report.rejected) == (10_000, 0, ())
    found = await lists.get(db.reader, owner, target)
    assert found is not None and found.size == 10_000 and found.variables == ["order"]
    first = await api.page(owner, list_id=target, limit=2)
    assert [r.contact.phone for r in first.items] == ["+994500000000", "+994500000001"]
    assert first.items[1].contact.attributes == {"order": "1"}

    with pytest.raises(ValidationError):
        await api.upsert(owner, [*items, ContactInput("+994501234567")])


async def test_a_call_that_fails_writes_nothing(db: Database, clock,
                                                api: ContactsApiService) -> None:
    alice, bob = await new_owner(db, clock, 1), await new_owner(db, clock, 2)
    bobs = await new_list(db, clock, bob)
    items = [ContactInput(f"+99450{n:07d}", list_ids=(bobs,)) for n in range(10_000)]
    with pytest.raises(NotFound):
        await api.upsert(alice, items)
    assert (await api.page(alice)).items[0].contact.phone == "+994557654321"
    async with db.reader.execute("SELECT COUNT(*) FROM contacts") as cur:
        assert tuple(await cur.fetchone() or ()) == (4,)  # the two seeded of each owner


async def test_another_owners_contacts_and_lists_are_not_there(
    db: Database, clock, api: ContactsApiService,
) -> None:
    alice, bob = await new_owner(db, clock, 1), await new_owner(db, clock, 2)
    bobs = await new_list(db, clock, bob, "Bob's")
    await api.upsert(bob, [ContactInput("+994501234567", "Bob's client")], list_ids=[bobs])

    for call in (api.get, api.opt_in, api.delete):
        with pytest.raises(NotFound):
            await call(alice, "+994501234567")
    for members in (api.add_members, api.remove_members):
        with pytest.raises(NotFound):
            await members(alice, bobs, ["+994501234567"])
    with pytest.raises(NotFound):
        await api.page(alice, list_id=bobs)
    assert [r.contact.phone for r in (await api.page(alice)).items] == [
        "+994557654321", "+994771112233"]
    assert (await api.lists(alice)).items == []

    # Alice's own contact with the same number is hers alone
    await api.upsert(alice, [ContactInput("+994501234567", "Alice's client")])
    await api.opt_out(alice, "+994501234567")
    bobs_client = await api.get(bob, "+994501234567")
    assert bobs_client.contact.name == "Bob's client"
    assert bobs_client.contact.opted_out_at is None
    assert bobs_client.list_ids == (bobs,)


async def test_pages_walk_every_contact_once(db: Database, clock,
                                             api: ContactsApiService) -> None:
    owner = await new_owner(db, clock, 1)
    target = await new_list(db, clock, owner)
    await api.upsert(owner, [ContactInput(f"+99450{n:07d}", list_ids=(target,) if n % 2 else ())
                             for n in range(250)])
    seen, after, pages = [], 0, 0
    while True:
        page = await api.page(owner, after=after, limit=100)
        seen += [r.contact.phone for r in page.items]
        pages += 1
        if page.next_after is None:
            break
        after = page.next_after
    assert pages == 3 and len(seen) == len(set(seen)) == 252
    in_list = await api.page(owner, list_id=target, limit=1000)
    assert len(in_list.items) == 125 and in_list.next_after is None
    assert all(r.list_ids == (target,) for r in in_list.items)
    with pytest.raises(ValidationError):
        await api.page(owner, limit=1001)


async def test_deleting_a_contact_keeps_only_an_opt_out(db: Database, clock,
                                                       api: ContactsApiService) -> None:
    owner = await new_owner(db, clock, 1)
    target = await new_list(db, clock, owner)
    await api.upsert(owner, [ContactInput("+994501234567", "Əli"),
                             ContactInput("+994771112233", "Opted", {"city": "Bakı"})],
                     list_ids=[target])
    gone = await api.delete(owner, "050 123 45 67")
    assert (gone.phone, gone.opted_out_at) == ("+994501234567", None)
    with pytest.raises(NotFound):
        await api.get(owner, "+994501234567")
    assert (await api.delete(owner, "+994771112233")).opted_out_at is not None
    kept = await api.get(owner, "+994771112233")
    assert kept.contact.opted_out_at is not None and kept.list_ids == ()
    assert (kept.contact.name, kept.contact.attributes) == (None, {})
    # it comes back in a file or a call: still opted out
    await api.upsert(owner, [ContactInput("+994771112233", "Opted")])
    assert (await api.get(owner, "+994771112233")).contact.opted_out_at is not None
    with pytest.raises(NotFound):
        await api.delete(owner, "+994501234567")


async def test_lists_are_created_filled_and_emptied_by_phone(
    db: Database, clock, api: ContactsApiService,
) -> None:
    owner = await new_owner(db, clock, 1)
    vip = await api.create_list(owner, "  VIP   clients ")
    assert vip.name == "VIP clients"
    with pytest.raises(Conflict) as taken:
        await api.create_list(owner, "VIP clients")
    assert taken.value.reason == "list_name_taken"

    added = await api.add_members(owner, vip.id, ["055 765 43 21", "+994501234567",
                                                  "+994501234567", "nope"])
    assert (added.changed, added.created) == (2, 1)
    assert [(r.index, r.reason) for r in added.rejected] == [(3, "not_a_phone_number")]
    old = await api.get(owner, "+994557654321")
    assert old.contact.name == "Old" and old.list_ids == (vip.id,)  # nothing overwritten
    again = await api.add_members(owner, vip.id, ["+994501234567"])
    assert again.changed == 0

    listed = (await api.lists(owner)).items
    assert [(item.name, item.size) for item in listed] == [("VIP clients", 2)]

    removed = await api.remove_members(owner, vip.id, ["+994501234567", "+994709998877"])
    assert removed.changed == 1
    assert (await api.get(owner, "+994501234567")).list_ids == ()  # still a contact


class NoDeliveries:
    """A ``WebhookPoster`` for tests that look at the events written, not delivered."""

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        raise AssertionError("nothing is delivered here")

    async def close(self) -> None:
        pass


async def test_an_opt_out_by_upsert_is_one_contact_opted_out_event_as_a_stop_is(
    db: Database, clock, service: ContactsService,
) -> None:
    webhooks = WebhooksService(db, NoDeliveries(), RecordingNotifier(),
                               WebhooksConfig(allow_http=True, allow_private=True), clock)
    api = ContactsApiService(db, service, clock, webhooks)
    owner = await new_owner(db, clock, 1)
    await webhooks.create(owner, "http://127.0.0.1:9/hook", ["contact.opted_out"])

    await api.upsert(owner, [ContactInput("050 123 45 67", "Əli", opted_out=True),
                             ContactInput("+994501234567", opted_out=True),  # again
                             ContactInput("+994771112233", opted_out=True),  # already out
                             ContactInput("+994551234567", "Not out")])
    await api.upsert(owner, [ContactInput("+994501234567", opted_out=True)])  # still out

    async with db.reader.execute(
        "SELECT type, data FROM webhook_events WHERE owner_id = ? ORDER BY id", (owner,)
    ) as cur:
        events = [(row[0], json.loads(row[1])) for row in await cur.fetchall()]
    ali = await api.get(owner, "+994501234567")
    assert [(kind, data["phone"], data["reason"]) for kind, data in events] == [
        ("contact.opted_out", "+994501234567", "API")]
    assert events[0][1]["contact_id"] == ali.contact.id
    assert ali.contact.opt_out_reason == "API"
    await webhooks.close()
