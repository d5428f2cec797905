"""A campaign's report in the chat: tap *Report (CSV)* or *Report (Excel)* on its stats and
get a document with a row per recipient; nobody else gets it."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from bot.gateways.base import IncomingMessage
from tests.e2e.conftest import Harness
from tests.e2e.test_campaigns import owner_id, press_data
from tests.e2e.test_stats import confirmed_campaign

pytestmark = pytest.mark.no_ticks  # the messages stay where the test puts them


def documents(harness: Harness, chat) -> list:
    return [m for m in harness.api.messages(chat.chat_id) if m.kind == "document"]


async def went_out(harness: Harness, telegram_id: int):
    """test_stats' campaign (read, delivered, failed, uncertain), its two that arrived with
    their times, and Aysu answering it."""
    chat, cid = await confirmed_campaign(harness, telegram_id)
    oid = await owner_id(harness, telegram_id)
    db = harness.qasid.db
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE messages SET sent_at = 1767250800, delivered_at = 1767250805,"  # 2026-01-01
            " read_at = CASE WHEN status = 'read' THEN 1767250860 END"
            " WHERE owner_id = ? AND status IN ('read', 'delivered')", (oid,))
    async with db.reader.execute("SELECT sender_id FROM messages WHERE owner_id = ? LIMIT 1",
                                 (oid,)) as cur:
        (sender_id,) = await cur.fetchone()
    await harness.qasid.services.dispatcher.events.on_event(IncomingMessage(
        sender_id, "+994501110001", "Çox sağ olun! =)", harness.qasid.services.accounts.now()))
    await harness.qasid.services.inbox.drain()  # shown in the chat before /stats
    return chat, cid


async def test_the_csv_report_has_a_row_per_recipient(harness: Harness) -> None:
    chat, cid = await went_out(harness, 861)
    await chat.send("/stats")
    replies = await chat.press(f"📈 #{cid} Promo · Spring")
    assert "💬 replied 1 (50% of sent)" in replies[0].text
    assert {"📑 Report (Excel)", "📄 Report (CSV)"} <= set(replies[0].buttons)

    await chat.press("📄 Report (CSV)")
    assert chat.last_answer is not None and chat.last_answer["text"] == "Preparing the report…"
    [document] = documents(harness, chat)
    assert document.file.file_name == f"campaign-{cid}-report.csv"
    assert f"#{cid} Promo · Spring</b>: 4 recipients" in document.caption
    assert "(Asia/Baku)" in document.caption
    rows = list(csv.reader(io.StringIO(document.file.content.decode("utf-8-sig"))))
    assert rows[0] == ["Name", "Phone", "Sent from", "Variant", "Text as sent", "Status", "Sent",
                       "Delivered", "Read", "Why it failed", "Gateway's words", "Replied",
                       "First reply"]
    by_phone = {row[1]: row for row in rows[1:]}
    assert len(rows) == 5 and set(by_phone) == {"+994501110001", "+994501110002",
                                                "+994501110003", "+994501110004"}
    aysu = by_phone["+994501110001"]
    assert aysu[0] == "Aysu" and aysu[3:6] == ["1", "Salam Aysu!", "read"]
    assert aysu[6:9] == ["2026-01-01 11:00:00", "2026-01-01 11:00:05", "2026-01-01 11:01:00"]
    assert aysu[11] and aysu[12] == "Çox sağ olun! =)"  # the first reply, as written
    assert by_phone["+994501110002"][5] == "delivered" and by_phone["+994501110002"][11] == ""
    nargiz = by_phone["+994501110003"]
    assert nargiz[5:11] == ["failed", "", "", "", "Not on WhatsApp or a wrong number",
                            "not on WhatsApp"]
    assert by_phone["+994501110004"][5] == "uncertain"


async def test_the_excel_report_opens_with_the_same_rows(harness: Harness,
                                                        tmp_path: Path) -> None:
    chat, cid = await went_out(harness, 862)
    await chat.send("/stats")
    await chat.press(f"📈 #{cid} Promo · Spring")
    await chat.press("📑 Report (Excel)")
    [document] = documents(harness, chat)
    assert document.file.file_name == f"campaign-{cid}-report.xlsx"
    path = tmp_path / "report.xlsx"
    path.write_bytes(document.file.content)
    header, *rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    assert header[:6] == ["Name", "Phone", "Sent from", "Variant", "Text as sent", "Status"]
    assert sorted(row[1] for row in rows) == ["+994501110001", "+994501110002",
                                              "+994501110003", "+994501110004"]
    assert {row[1]: row[5] for row in rows}["+994501110003"] == "failed"


async def test_another_owner_gets_no_report(harness: Harness) -> None:
    alice, cid = await went_out(harness, 863)
    bob = await harness.active_owner(864, phone="+994551112233", language="ru")
    for fmt in ("csv", "xlsx"):
        assert "Не найдено" in await press_data(harness, bob, f"st:rep:{fmt}:{cid}")
    assert "устарела" in await press_data(harness, bob, "st:rep:pdf:1")
    assert documents(harness, bob) == []

    await bob.send("/stats")  # Bob's own words, his own (empty) stats
    assert documents(harness, bob) == [] and documents(harness, alice) == []


async def test_a_big_report_shows_its_progress_in_one_message(harness: Harness,
                                                              monkeypatch) -> None:
    from bot.handlers import stats

    monkeypatch.setattr(stats, "BIG_REPORT", 3)  # "big" from 3 rows, a page a row
    monkeypatch.setattr(stats, "PROGRESS_EVERY", 0.0)
    monkeypatch.setattr(harness.qasid.services.reports, "_page", 1)
    chat, cid = await went_out(harness, 865)
    await chat.send("/stats")
    await chat.press(f"📈 #{cid} Promo · Spring")
    before = len(harness.api.messages(chat.chat_id))
    await chat.press("📄 Report (CSV)")
    progress, document = harness.api.messages(chat.chat_id)[before:]
    assert progress.text == f"📑 Report of campaign #{cid}: ready, 4 rows."
    assert progress.edited >= 2  # 0 of 4, then as it went, then ready
    edits = [c.params["text"] for c in harness.api.calls if c.method == "editMessageText"
             and c.params.get("message_id") == progress.message_id]
    assert edits[-1] == progress.text and any("of 4 rows written" in t for t in edits)
    assert document.kind == "document"
