"""Receipts as PDF: one per paid order, in the owner's language.

(Named ``invoices`` so as not to be confused with the delivery receipts of
``receipts.py``.) ``receipt_pdf`` draws one with fpdf2: the platform's name and details
(settings ``PLATFORM_NAME``, ``PLATFORM_DETAILS``), the order's reference, the date of
payment in the owner's time zone, who paid, the package with its credits and validity,
the amount (AZN with two decimals, or Telegram Stars) and how it was paid. The font is
DejaVu Sans, shipped inside matplotlib (a dependency already), which has the Azerbaijani
letters (ə ğ ı ö ş ü ç İ) and Cyrillic.

Kept by being made again: a receipt depends only on the order row, the owner, the package's
name and the settings, and its creation date is the order's ``paid_at``, so the same order
gives the same bytes whenever it is asked for (*Balance* -> *Receipts*). Drawing takes some
tens of milliseconds (reading the font): ``InvoicesService.receipt`` runs it in a worker
thread.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from bot.domain import Language, Owner
from bot.errors import NotFound
from bot.i18n import STARS, Safe, Translator, translator
from bot.services import zones
from bot.storage import owners, sales
from bot.storage.db import Database
from bot.storage.sales import OrderView

if TYPE_CHECKING:
    from fpdf import FPDF

FONT = "DejaVu"


@cache
def font_files() -> tuple[Path, Path]:
    """DejaVu Sans and its bold face, from matplotlib's data folder."""
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"


@dataclass(frozen=True, slots=True)
class Platform:
    """Who issues the receipts: ``PLATFORM_NAME`` and ``PLATFORM_DETAILS`` (address, tax
    id, ...: lines separated by ``|`` or line breaks)."""

    name: str = "Qasid"
    details: str = ""

    @property
    def lines(self) -> list[str]:
        return [part.strip() for line in self.details.replace("\\n", "\n").splitlines()
                for part in line.split("|") if part.strip()]


class PaidOrder(Protocol):
    """What a receipt reads of an order (``bot.storage.sales.OrderView`` has it)."""

    @property
    def reference(self) -> str: ...

    @property
    def method(self) -> str: ...

    @property
    def credits(self) -> int: ...

    @property
    def validity_days(self) -> int: ...

    @property
    def amount_minor(self) -> int: ...

    @property
    def currency(self) -> str: ...

    @property
    def paid_at(self) -> datetime | None: ...


def amount_text(tr: Translator, order: PaidOrder) -> str:
    """``12.50 AZN``, or ``250 Telegram Stars`` (no star sign: the PDF's font has none)."""
    if order.currency == STARS:
        return tr("invoice.stars", count=order.amount_minor)
    return tr.money(order.amount_minor, order.currency)


def file_name(order: PaidOrder) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in order.reference)
    return f"receipt-{safe}.pdf"


def receipt_pdf(order: PaidOrder, owner: Owner, package_name: str, platform: Platform,
                language: Language, zone: str) -> bytes:
    """The receipt of a paid ``order`` as PDF bytes, in ``language``, times in ``zone``.
    The same arguments give the same bytes."""
    from fpdf import FPDF  # 0.3 s to import: not at start-up
    from fpdf.enums import XPos, YPos

    if order.paid_at is None:
        raise ValueError(f"order {order.reference} is not paid: no receipt")
    tr = translator(language)

    def t(key: str, **params: object) -> str:  # plain text: nothing is HTML in a PDF
        return tr(key, **{k: v if isinstance(v, int) and k == "count" else Safe(str(v))
                          for k, v in params.items()})

    regular, bold = font_files()
    pdf = FPDF(format="A4")
    pdf.set_creation_date(order.paid_at)
    pdf.set_title(t("invoice.title") + " " + order.reference)
    pdf.set_author(platform.name)
    pdf.set_creator(platform.name)
    pdf.set_lang(language.value)
    pdf.add_font(FONT, "", str(regular))
    pdf.add_font(FONT, "B", str(bold))
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    width = pdf.epw

    # the issuer
    pdf.set_font(FONT, "B", 16)
    pdf.multi_cell(width, 8, platform.name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 9)
    pdf.set_text_color(90, 90, 90)
    for line in platform.lines:
        pdf.multi_cell(width, 4.8, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    pdf.ln(8)

    # the receipt: what, when
    pdf.set_font(FONT, "B", 20)
    pdf.cell(width * 0.6, 10, t("invoice.title"))
    pdf.set_font(FONT, "B", 12)
    pdf.set_text_color(30, 120, 60)
    pdf.cell(width * 0.4, 10, t("invoice.status_paid"), align="R",
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    pdf.ln(2)
    local = order.paid_at.astimezone(ZoneInfo(zone))
    paid = f"{tr.date(local, zone)} {local:%H:%M}"  # the year in full, on a receipt
    for label, value in ((t("invoice.number"), order.reference),
                         (t("invoice.paid_at"), f"{paid} ({zone})"),
                         (t("invoice.method"), t(f"invoice.method_{order.method}"))):
        _pair(pdf, width, label, value)
    pdf.ln(4)

    # who paid
    pdf.set_font(FONT, "B", 10)
    pdf.cell(width, 6, t("invoice.billed_to"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 10)
    for who in (owner.company, owner.name, owner.phone, t("invoice.account", id=owner.id)):
        if who:
            pdf.multi_cell(width, 5.5, who, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)

    # the package
    columns = (width * 0.58, width * 0.18, width * 0.24)
    pdf.set_fill_color(238, 238, 238)
    pdf.set_font(FONT, "B", 10)
    for w, key, align in zip(columns, ("invoice.item", "invoice.credits", "invoice.amount"),
                             ("L", "R", "R"), strict=True):
        pdf.cell(w, 8, t(key), border="B", align=align, fill=True)
    pdf.ln(8)
    pdf.set_font(FONT, "", 10)
    validity = (t("invoice.validity", count=order.validity_days) if order.validity_days
                else t("invoice.no_expiry"))
    amount = amount_text(tr, order)
    top = pdf.get_y()
    pdf.multi_cell(columns[0], 6, t("invoice.package", name=package_name) + "\n" + validity,
                   new_x=XPos.RIGHT, new_y=YPos.TOP)
    bottom = pdf.get_y()
    pdf.set_xy(pdf.l_margin + columns[0], top)
    pdf.cell(columns[1], 6, tr.number(order.credits), align="R")
    pdf.cell(columns[2], 6, amount, align="R")
    pdf.set_y(max(bottom, top + 12) + 2)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
    pdf.ln(2)
    pdf.set_font(FONT, "B", 12)
    pdf.cell(columns[0] + columns[1], 8, t("invoice.total"), align="R")
    pdf.cell(columns[2], 8, amount, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(10)

    pdf.set_font(FONT, "", 8.5)
    pdf.set_text_color(90, 90, 90)
    pdf.multi_cell(width, 4.5, t("invoice.footer"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def _pair(pdf: FPDF, width: float, label: str, value: str) -> None:
    from fpdf.enums import XPos, YPos

    pdf.set_font(FONT, "", 10)
    pdf.set_text_color(90, 90, 90)
    pdf.cell(width * 0.3, 6, label)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font(FONT, "B", 10)
    pdf.multi_cell(width * 0.7, 6, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


@dataclass(frozen=True, slots=True)
class ReceiptFile:
    order: OrderView
    name: str  # receipt-Q-000123-7K.pdf
    content: bytes


class InvoicesService:
    def __init__(self, db: Database, platform: Platform, default_timezone: str) -> None:
        self._db = db
        self._platform = platform
        self._default_timezone = default_timezone

    async def paid_orders(self, owner_id: int, limit: int = 10) -> list[OrderView]:
        """The owner's paid orders (each has its receipt), the latest first."""
        return await sales.paid_orders(self._db.reader, owner_id, limit)

    async def paid_order(self, owner_id: int, order_id: int) -> OrderView:
        """One of the owner's paid orders; NotFound for any other."""
        order = await sales.paid_order(self._db.reader, owner_id, order_id)
        if order is None:
            raise NotFound("order", order_id=order_id)
        return order

    async def receipt(self, owner_id: int, order_id: int) -> ReceiptFile:
        """The receipt of one of the owner's paid orders; NotFound for any other order
        (another owner's included)."""
        reader = self._db.reader
        order = await sales.paid_order(reader, owner_id, order_id)
        owner = await owners.get(reader, owner_id)
        if order is None or owner is None:
            raise NotFound("order", order_id=order_id)
        content = await asyncio.to_thread(
            receipt_pdf, order, owner, order.package_name, self._platform, owner.language,
            zones.owner_zone(owner, self._default_timezone))
        return ReceiptFile(order, file_name(order), content)
