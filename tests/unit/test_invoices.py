"""Receipts as PDF: what the owner reads on it (read back through the font's own map of
glyphs to letters), in their language and zone, the same bytes each time it is made again,
and only the owner's own paid orders."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.domain import Language, Owner, OwnerStatus
from bot.errors import NotFound
from bot.services.invoices import InvoicesService, Platform, file_name, receipt_pdf
from bot.storage import owners
from bot.storage.db import Database, to_ts
from bot.storage.sales import OrderView
from tests.pdf_text import objects, pdf_text

PAID = datetime(2026, 11, 25, 20, 30, tzinfo=UTC)  # 26 Nov, 00:30 in Baku
PLATFORM = Platform("Qasid MMC", "Bakı, Nizami küç. 1 | VÖEN 1234567890")
OWNER = Owner(id=12, telegram_id=5001, chat_id=5001, language=Language.AZ,
              status=OwnerStatus.ACTIVE, created_at=PAID, name="Aysel Məmmədova",
              company="Gül Evi", phone="+994501234567", timezone="Asia/Baku")
TRANSFER = OrderView(id=7, owner_id=12, reference="Q-000007-7K", method="transfer",
                     status="paid", package_id=1, package_name="Başlanğıc", credits=1000,
                     validity_days=30, amount_minor=1550, currency="AZN", created_at=PAID,
                     paid_at=PAID)
STARS = replace(TRANSFER, reference="Q-000008-3Z", method="stars", amount_minor=250,
                currency="XTR", validity_days=0, package_name="Старт")


def text_of(pdf: bytes) -> str:
    return "\n".join(pdf_text(pdf))


def test_an_azerbaijani_receipt_says_what_was_paid_when_and_by_whom() -> None:
    text = text_of(receipt_pdf(TRANSFER, OWNER, "Başlanğıc", PLATFORM, Language.AZ,
                               "Asia/Baku"))
    for shown in ("Qasid MMC", "Bakı, Nizami küç. 1", "VÖEN 1234567890", "Qəbz",
                  "ÖDƏNİLİB", "Q-000007-7K", "Bank köçürməsi", "Gül Evi",
                  "Aysel Məmmədova", "+994501234567", "Hesab #12",
                  "“Başlanğıc” kredit paketi", "ödənişdən sonra 30 gün etibarlıdır",
                  "1.000", "15,50 AZN", "Cəmi ödənilib", "26 noy 2026 00:30 (Asia/Baku)",
                  "geri qaytarılmır"):
        assert shown in text, shown
    assert "\ufffd" not in text  # every letter is in the font


def test_a_russian_receipt_of_stars_counts_them_in_words() -> None:
    owner = replace(OWNER, language=Language.RU, company="ООО «Ёлка»")
    text = text_of(receipt_pdf(STARS, owner, "Старт", PLATFORM, Language.RU, "Europe/Moscow"))
    for shown in ("Квитанция", "ОПЛАЧЕНО", "Telegram Stars", "250 звёзд Telegram",
                  "Пакет кредитов «Старт»", "кредиты бессрочные", "ООО «Ёлка»",
                  "(Europe/Moscow)", "Итого оплачено"):
        assert shown in text, shown
    assert "\ufffd" not in text


def test_an_english_receipt_writes_amounts_the_english_way() -> None:
    text = text_of(receipt_pdf(replace(TRANSFER, amount_minor=123450), OWNER, "Business",
                               PLATFORM, Language.EN, "UTC"))
    assert "1,234.50 AZN" in text and "Receipt" in text and "Bank transfer" in text
    assert "Nov 25, 2026 20:30 (UTC)" in text and "Credit package “Business”" in text


def test_the_font_is_embedded_and_has_every_letter(caplog) -> None:
    caplog.set_level(logging.WARNING)
    pdf = receipt_pdf(TRANSFER, OWNER, "Şəki Ğ ı İ ö ü ç Щ ё", PLATFORM, Language.AZ,
                      "Asia/Baku")
    assert pdf.startswith(b"%PDF-")
    fonts = [body for body in objects(pdf).values() if b"/FontFile2" in body]
    assert len(fonts) == 2  # regular and bold, subsets of DejaVu Sans, embedded
    assert re.findall(rb"/BaseFont /[A-Z]{6}\+(DejaVuSans[-\w]*)", pdf)
    assert "Şəki Ğ ı İ ö ü ç Щ ё" in text_of(pdf)
    assert not [r for r in caplog.records if "missing" in r.getMessage()]


def test_the_same_order_gives_the_same_bytes_dated_when_it_was_paid() -> None:
    first = receipt_pdf(TRANSFER, OWNER, "Başlanğıc", PLATFORM, Language.AZ, "Asia/Baku")
    again = receipt_pdf(TRANSFER, OWNER, "Başlanğıc", PLATFORM, Language.AZ, "Asia/Baku")
    assert first == again
    assert b"/CreationDate (D:20261125203000Z" in first
    later = receipt_pdf(replace(TRANSFER, paid_at=PAID.replace(minute=31)), OWNER,
                        "Başlanğıc", PLATFORM, Language.AZ, "Asia/Baku")
    assert later != first


def test_an_order_not_paid_has_no_receipt() -> None:
    with pytest.raises(ValueError):
        receipt_pdf(replace(TRANSFER, paid_at=None), OWNER, "x", PLATFORM, Language.EN, "UTC")
    assert file_name(TRANSFER) == "receipt-Q-000007-7K.pdf"


# --- the service: an owner's paid orders only -------------------------------------------

async def add_owner(db: Database, telegram_id: int, language: Language) -> int:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                 language=language, now=PAID)
    return owner.id


async def add_order(db: Database, owner_id: int, reference: str, status: str) -> int:
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT OR IGNORE INTO packages (id, name, credits, validity_days, price_minor,"
            " created_at) VALUES (1, 'Start', 1000, 30, 1500, ?)", (to_ts(PAID),))
        cur = await tx.execute(
            "INSERT INTO orders (owner_id, package_id, method, status, reference, credits,"
            " validity_days, amount_minor, currency, created_at, paid_at)"
            " VALUES (?, 1, 'transfer', ?, ?, 1000, 30, 1500, 'AZN', ?, ?)",
            (owner_id, status, reference, to_ts(PAID),
             to_ts(PAID) if status == "paid" else None))
        assert cur.lastrowid is not None
        return cur.lastrowid


async def test_an_owner_gets_their_own_paid_orders_receipts_and_no_one_elses(db) -> None:
    alice, bob = await add_owner(db, 1, Language.RU), await add_owner(db, 2, Language.EN)
    paid = await add_order(db, alice, "Q-000001-AA", "paid")
    waiting = await add_order(db, alice, "Q-000002-BB", "submitted")
    bobs = await add_order(db, bob, "Q-000003-CC", "paid")
    service = InvoicesService(db, PLATFORM, "Asia/Baku")
    assert [o.reference for o in await service.paid_orders(alice)] == ["Q-000001-AA"]
    receipt = await service.receipt(alice, paid)
    assert receipt.name == "receipt-Q-000001-AA.pdf"
    assert "Квитанция" in text_of(receipt.content)  # in the owner's language
    assert (await service.receipt(alice, paid)).content == receipt.content
    for order_id in (waiting, bobs, 999):
        with pytest.raises(NotFound):
            await service.receipt(alice, order_id)
