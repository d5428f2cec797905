"""Receipts, statements and the admins' sales views end to end in chat: a paid order is
told with its PDF and kept under *Balance* -> *Receipts*; *Statement* sends a month of
the ledger as CSV; ``/sales`` and ``/owner`` for admins only; a second owner never gets
the first one's receipt, even with a replayed button."""

from __future__ import annotations

import csv
import io
import re

from bot.console.botapi import SentMessage
from bot.services import billing
from bot.services.notify import PaymentReceived
from bot.storage.db import to_ts
from tests.e2e.conftest import Harness
from tests.e2e.test_campaigns import credit, owner_id, press_data
from tests.pdf_text import pdf_text


async def paid_order(harness: Harness, telegram_id: int, *, reference: str,
                     method: str = "transfer", amount_minor: int = 1550,
                     currency: str = "AZN", status: str = "paid",
                     receipt_file_id: str | None = None) -> int:
    """An order of package "Başlanğıc" (1,000 credits for 30 days), paid now and credited
    as billing credits a package (the way Stars and confirmed transfers end)."""
    qasid = harness.qasid
    assert qasid is not None
    oid, now = await owner_id(harness, telegram_id), qasid.services.accounts.now()
    async with qasid.db.transaction() as tx:
        await tx.execute(
            "INSERT INTO packages (id, name, credits, validity_days, price_minor,"
            " price_stars, created_at) VALUES (1, 'Başlanğıc', 1000, 30, 1550, 250, ?)"
            " ON CONFLICT (id) DO NOTHING", (to_ts(now),))
        async with tx.execute(
            "INSERT INTO orders (owner_id, package_id, method, status, reference, credits,"
            " validity_days, amount_minor, currency, created_at, paid_at, receipt_file_id,"
            " receipt_kind) VALUES (?, 1, ?, ?, ?, 1000, 30, ?, ?, ?, ?, ?, 'document')"
            " RETURNING id",
            (oid, method, status, reference, amount_minor, currency, to_ts(now),
             to_ts(now) if status == "paid" else None, receipt_file_id)) as cur:
            row = await cur.fetchone()
        assert row is not None
        order_id = int(row[0])
        if status == "paid":
            await billing.credit_package(tx, oid, 1000, now, validity_days=30, package_id=1,
                                         order_id=order_id, note=reference)
    return order_id


def documents(replies) -> list[SentMessage]:
    return [r.message for r in replies if r.message.kind == "document"]


async def test_a_paid_order_comes_with_its_pdf_which_receipts_sends_again(
        harness: Harness) -> None:
    chat = await harness.active_owner(601, language="az", name="Aysel")
    order_id = await paid_order(harness, 601, reference="Q-000001-7K")
    owner = await harness.qasid.services.accounts.find(601)
    before = len(harness.api.messages(601))
    await harness.qasid.notifier.notify(PaymentReceived(owner, order_id))
    told, receipt = harness.api.messages(601)[before:]
    assert "ödəniş alındı" in told.body and "Q-000001-7K" in told.body
    assert "1.000 kredit" in told.body
    assert receipt.kind == "document" and receipt.file.file_name == "receipt-Q-000001-7K.pdf"
    text = "\n".join(pdf_text(receipt.file.content))
    assert "Qəbz" in text and "Q-000001-7K" in text and "15,50 AZN" in text
    assert "“Başlanğıc” kredit paketi" in text and "Aysel" in text

    await chat.send("/balance")
    await chat.press("🧾 Qəbzlər")
    [button] = [b for b in chat.buttons() if "Q-000001-7K" in b]
    assert "15,50 AZN" in button
    again = documents(await chat.press(button))
    assert [d.file.content for d in again] == [receipt.file.content]  # made again: the same


async def test_another_owner_never_gets_a_receipt_by_a_replayed_button(
        harness: Harness) -> None:
    first = await harness.active_owner(611)
    order_id = await paid_order(harness, 611, reference="Q-000011-AB")
    second = await harness.active_owner(612, name="Kamran", phone="+994502223344")
    unpaid = await paid_order(harness, 612, reference="Q-000012-CD", status="submitted")
    await second.send("/balance")
    await second.press("🧾 Receipts")
    assert "No purchases yet" in harness.api.last_message(612).body
    before = len(harness.api.messages(612))
    for forged in (f"inv:get:{order_id}", f"inv:get:{unpaid}", "inv:get:x", "inv:get"):
        alert = await press_data(harness, second, forged)
        assert alert, forged  # told, in words
    assert documents(second.last_replies) == []
    assert not [m for m in harness.api.messages(612)[before:] if m.kind == "document"]
    assert first.user.id == 611 and not [m for m in harness.api.messages(611)
                                         if m.kind == "document"]


async def test_an_owner_gets_a_months_statement_as_csv(harness: Harness) -> None:
    chat = await harness.active_owner(621)
    await credit(harness, 621, 500)
    await paid_order(harness, 621, reference="Q-000021-EF")
    await chat.send("/balance")
    await chat.press("📄 Statement")
    months = [b for b in chat.buttons() if re.search(r"\d{4}$", b)]
    assert len(months) == 1  # only this month had changes
    await chat.press(months[0])
    assert chat.buttons()[:2] == ["CSV", "Excel (XLSX)"]
    [document] = documents(await chat.press("CSV"))
    assert document.file.file_name.startswith("statement-")
    assert "2 changes" in document.body and "closing balance 1,500" in document.body
    table = list(csv.reader(io.StringIO(document.file.content.decode("utf-8-sig"))))
    assert table[0][0].startswith("Date and time (Asia/Baku)")
    assert table[0][1:] == ["Kind", "Amount", "Campaign", "Package", "Note", "Balance"]
    assert table[1][1:] == ["Opening balance", "", "", "", "", "0"]
    assert [row[1:] for row in table[2:]] == [
        ["top-up", "500", "", "", "bank transfer", "500"],
        ["top-up", "1000", "", "Başlanğıc", "Q-000021-EF", "1500"]]
    [xlsx] = documents(await chat.press("Excel (XLSX)"))
    assert xlsx.file.file_name.endswith(".xlsx") and xlsx.file.content[:2] == b"PK"


async def test_an_owner_without_changes_is_told_there_is_no_statement(
        harness: Harness) -> None:
    chat = await harness.active_owner(631)
    await chat.send("/balance")
    await chat.press("📄 Statement")
    assert "did not change in the last six months" in harness.api.last_message(631).body
    alert = await press_data(harness, chat, "stm:f:2026-13:csv")
    assert alert  # a forged month is refused
    assert documents(chat.last_replies) == []


async def test_admins_see_sales_and_an_owner_others_are_refused(harness: Harness) -> None:
    owner = await harness.active_owner(641, name="Nərgiz", company="Çiçək")
    await paid_order(harness, 641, reference="Q-000041-GH")
    await paid_order(harness, 641, reference="Q-000042-IJ", method="stars",
                     amount_minor=250, currency="XTR")
    bank_receipt = harness.api.add_file(b"%PDF-1.4 bank", "kapital.pdf", "application/pdf")
    waiting = await paid_order(harness, 641, reference="Q-000043-KL", status="submitted",
                               receipt_file_id=bank_receipt["file_id"])

    [sales] = await harness.admin.send("/sales")
    assert "Sales" in sales.text
    assert "⭐ 250 (1) · 🏦 15.50 AZN (1)" in sales.text  # today, by method
    assert "1 order waits for confirmation" in sales.text and "Q-000043-KL" in sales.text
    assert f"1. #{await owner_id(harness, 641)} Nərgiz (Çiçək): 2,000 credits" in sales.text
    assert "📊 Chart of the last 14 days" in sales.buttons
    photos = [r.message for r in await harness.admin.press("📊 Chart of the last 14 days")
              if r.message.kind == "photo"]
    assert len(photos) == 1 and photos[0].file.content[:4] == b"\x89PNG"
    # the waiting order's card again, its receipt with Confirm payment / Reject
    [card] = documents(await harness.admin.press("🧾 Q-000043-KL: confirm or reject"))
    assert "Q-000043-KL" in card.body and card.file.content == b"%PDF-1.4 bank"
    assert len(card.buttons) == 2

    for query in (str(await owner_id(harness, 641)), "641", "+994501234567", "0501234567"):
        [card] = await harness.admin.send(f"/owner {query}")
        assert "Nərgiz" in card.text and "Balance <b>2,000</b>" in card.text, query
        assert "Q-000043-KL" in card.text and "waiting for confirmation" in card.text
        assert "1,000 credits of Başlanğıc: 1,000 available, 0 reserved · expire" in card.text
    [missing] = await harness.admin.send("/owner +994559998877")
    assert "No owner matches +994559998877" in missing.text
    [usage] = await harness.admin.send("/owner")
    assert "Usage" in usage.text

    for command in ("/sales", f"/owner {await owner_id(harness, 641)}"):
        [refused] = await owner.send(command)
        assert "Q-000041-GH" not in refused.text and "Nərgiz" not in refused.text
        assert "admin" in refused.text.lower(), refused.text
    alert = await press_data(harness, owner, f"adm:sales:order:{waiting}")
    assert alert and not [r for r in owner.last_replies if r.message.kind != "text"]
