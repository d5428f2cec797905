"""Customers' replies are kept (``inbound_messages``) with the campaign message they
answered, on a real SQLite file: the message marked replied, the contact too, a webhook
delivered twice kept once, an opt-out word acted on in the same write."""

from __future__ import annotations

from datetime import timedelta

from bot.services.campaigns import CampaignsService
from bot.services.replies import RepliesService
from bot.storage import inbound
from bot.storage.db import Database, from_ts
from tests.unit.test_campaigns_service import make_service, ready_draft, seed


async def sent_campaign(db: Database, clock, service: CampaignsService, telegram_id: int,
                        people: int = 3) -> tuple[int, int, list[tuple[int, str, int, int]]]:
    """An owner's campaign whose messages all went out; (owner, campaign, its messages as
    (id, phone, contact, sender))."""
    oid, list_id, template_id = await seed(db, clock, telegram_id, people=people,
                                           sender_count=1)
    await ready_draft(service, oid, list_id, template_id, preset="fast")
    summary = await service.confirm(oid)
    assert summary.campaign is not None
    cid = summary.campaign.id
    async with db.transaction() as tx:
        await tx.execute("UPDATE messages SET status = 'delivered', sent_at = planned_at"
                         " WHERE campaign_id = ?", (cid,))
    async with db.reader.execute(
            "SELECT id, phone, contact_id, sender_id FROM messages WHERE campaign_id = ?"
            " ORDER BY id", (cid,)) as cur:
        rows = [tuple(r) for r in await cur.fetchall()]
    return oid, cid, rows  # type: ignore[return-value]  # the query's four columns


async def marks(db: Database, message_id: int, contact_id: int) -> tuple:
    async with db.reader.execute("SELECT replied_at FROM messages WHERE id = ?",
                                 (message_id,)) as cur:
        (message_mark,) = await cur.fetchone()
    async with db.reader.execute("SELECT replied_at FROM contacts WHERE id = ?",
                                 (contact_id,)) as cur:
        (contact_mark,) = await cur.fetchone()
    return from_ts(message_mark), from_ts(contact_mark)


async def test_a_reply_is_kept_with_the_campaign_message_it_answered(db: Database,
                                                                    clock) -> None:
    service = make_service(db, clock)
    oid, cid, rows = await sent_campaign(db, clock, service, 301)
    replies = RepliesService(db, clock=clock)
    message_id, phone, contact_id, sender_id = rows[1]
    first = clock() + timedelta(minutes=5)

    assert await replies.handle(sender_id, phone, "Thanks! Is it open on Sunday?", at=first,
                                message_id="wamid.A1") == "ignored"  # nothing to opt out
    [kept] = await inbound.of_phone(db.reader, oid, phone)
    assert (kept.owner_id, kept.sender_id, kept.phone) == (oid, sender_id, phone)
    assert (kept.contact_id, kept.message_id, kept.campaign_id) == (contact_id, message_id, cid)
    assert (kept.kind, kept.text, kept.gateway_message_id) == (
        "text", "Thanks! Is it open on Sunday?", "wamid.A1")
    assert kept.received_at == first
    assert await marks(db, message_id, contact_id) == (first, first)
    # nobody else's message is marked
    async with db.reader.execute("SELECT COUNT(*) FROM messages WHERE replied_at IS NOT NULL"
                                 ) as cur:
        assert (await cur.fetchone())[0] == 1

    # the gateway delivers the same webhook again: kept once
    assert await replies.handle(sender_id, phone, "Thanks! Is it open on Sunday?", at=first,
                                message_id="wamid.A1") == "ignored"
    assert len(await inbound.of_phone(db.reader, oid, phone)) == 1

    # a photo later: the message keeps its first answer's time, the contact its latest
    later = first + timedelta(hours=1)
    await replies.handle(sender_id, phone, "our shop front", at=later, message_id="wamid.A2",
                         kind="image", media_ref="media-77")
    newest = (await inbound.of_phone(db.reader, oid, phone))[0]
    assert (newest.kind, newest.text, newest.media_ref) == ("image", "our shop front",
                                                            "media-77")
    assert await marks(db, message_id, contact_id) == (first, later)
    assert await inbound.first_texts(db.reader, oid, [message_id, rows[0][0]]) == {
        message_id: "Thanks! Is it open on Sunday?"}


async def test_a_stop_word_is_kept_and_opts_out_in_the_same_write(db: Database, clock) -> None:
    service = make_service(db, clock)
    oid, cid, rows = await sent_campaign(db, clock, service, 302)
    message_id, phone, contact_id, sender_id = rows[0]
    replies = RepliesService(db, clock=clock)

    assert await replies.handle(sender_id, phone, "STOP", message_id="wamid.S") == "opted_out"
    [kept] = await inbound.of_phone(db.reader, oid, phone)
    assert (kept.text, kept.campaign_id, kept.message_id) == ("STOP", cid, message_id)
    async with db.reader.execute("SELECT opted_out_at IS NOT NULL FROM contacts WHERE id = ?",
                                 (contact_id,)) as cur:
        assert (await cur.fetchone())[0] == 1
    # the STOP delivered again is neither kept nor acted on twice
    assert await replies.handle(sender_id, phone, "STOP", message_id="wamid.S") == "ignored"
    assert len(await inbound.of_phone(db.reader, oid, phone)) == 1


async def test_a_stranger_and_another_owners_number_answer_no_campaign(db: Database,
                                                                       clock) -> None:
    service = make_service(db, clock)
    alice, _cid, rows = await sent_campaign(db, clock, service, 303)
    bob, _bob_cid, bob_rows = await sent_campaign(db, clock, service, 304)
    replies = RepliesService(db, clock=clock)
    _message_id, alices_customer, _contact, alices_number = rows[0]
    bobs_number = bob_rows[0][3]

    await replies.handle(alices_number, "+994709998877", "Who is this?")
    [stranger] = await inbound.of_phone(db.reader, alice, "+994709998877")
    assert (stranger.contact_id, stranger.message_id, stranger.campaign_id) == (None, None, None)

    # Alice's customer writes to Bob's number: Bob's, and it answers nothing of Alice's
    await replies.handle(bobs_number, alices_customer, "Hello?")
    [to_bob] = await inbound.of_phone(db.reader, bob, alices_customer)
    assert (to_bob.contact_id, to_bob.message_id, to_bob.campaign_id) == (None, None, None)
    assert await inbound.of_phone(db.reader, alice, alices_customer) == []
