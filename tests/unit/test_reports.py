"""A campaign's per-recipient report (``ReportsService``) on a real SQLite file: its rows
say what ``/stats`` says, its texts are what the dispatcher sent, nothing in it runs as a
formula, and nobody else gets it."""

from __future__ import annotations

import csv
import zipfile
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from python_calamine import CalamineWorkbook

from bot.domain import Language
from bot.errors import NotFound
from bot.handlers.stats import report_text
from bot.i18n import translator
from bot.services.analytics import CATEGORIES, OTHER_REASON, AnalyticsService
from bot.services.replies import RepliesService
from bot.services.reports import ReportsService
from bot.services.sheets import SheetWriter, excel_time
from bot.services.templates import TemplatesService
from bot.storage import stats as stats_repo
from bot.storage.db import Database
from tests.fakes import RecordingGateway
from tests.unit.test_campaigns_service import make_service, ready_draft, seed
from tests.unit.test_dispatcher import Harness

EN = report_text(translator(Language.EN))
BAKU = ZoneInfo("Asia/Baku")
# (status, error category, detail) by the message's place in the campaign, id % 20
FATES = {
    **dict.fromkeys(range(0, 8), ("read", None, None)),
    **dict.fromkeys(range(8, 12), ("delivered", None, None)),
    **dict.fromkeys(range(12, 14), ("sent", None, None)),
    14: ("failed", "recipient_invalid", "not on WhatsApp"),
    15: ("failed", "rate_limited", "slow down"),
    16: ("failed", "rejected", "code 131049: healthy ecosystem engagement"),
    17: ("failed", "not_on_whatsapp", "not on WhatsApp (checked before sending)"),
    18: ("uncertain", "uncertain", "read timeout"),
    19: ("queued", None, None),
}


def report_service(db: Database) -> ReportsService:
    return ReportsService(db, TemplatesService(db), page=700)  # pages that do not divide it


async def gone_out(db: Database, clock, telegram_id: int, people: int) -> tuple[int, int]:
    """An owner's confirmed campaign whose messages met their ``FATES``; a few skipped (an
    opt-out), one in 37 answered. (owner, campaign)"""
    oid, list_id, template_id = await seed(db, clock, telegram_id, people=people,
                                           credits=people, sender_count=2)
    service = make_service(db, clock, advice_max=people)
    await ready_draft(service, oid, list_id, template_id, preset="fast")
    summary = await service.confirm(oid, big_ok=True)
    assert summary.campaign is not None
    cid = summary.campaign.id
    at = clock().timestamp()
    async with db.transaction() as tx:
        for place, (status, category, detail) in FATES.items():
            await tx.execute(
                "UPDATE messages SET status = ?, error_category = ?, error_detail = ?,"
                " sent_at = CASE WHEN ? IN ('sent', 'delivered', 'read') THEN ? + id END,"
                " delivered_at = CASE WHEN ? IN ('delivered', 'read') THEN ? + id + 2 END,"
                " read_at = CASE WHEN ? = 'read' THEN ? + id + 30 END"
                " WHERE campaign_id = ? AND id % 20 = ?",
                (status, category, detail, status, at, status, at, status, at, cid, place))
        await tx.execute("UPDATE messages SET status = 'skipped' WHERE campaign_id = ?"
                         " AND id % 20 = 19 AND id % 3 = 0", (cid,))
    replies = RepliesService(db, clock=clock)
    async with db.reader.execute(
            "SELECT sender_id, phone FROM messages WHERE campaign_id = ? AND sent_at IS NOT NULL"
            " AND id % 37 = 0", (cid,)) as cur:
        answering = list(await cur.fetchall())
    for n, (sender_id, phone) in enumerate(answering):
        kind = "image" if n == 0 else "text"
        await replies.handle(sender_id, phone, "" if n == 0 else f"Thanks, reply {n}",
                             kind=kind, message_id=f"wamid.{n}")
    return oid, cid


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def titles(*keys: int) -> list[str]:
    return [EN.columns[k] for k in keys]


async def test_the_report_rows_say_what_stats_says_for_10000_recipients(
        db: Database, clock, tmp_path: Path) -> None:
    oid, cid = await gone_out(db, clock, 401, 10_000)
    stats = await AnalyticsService(db).campaign(oid, cid)
    report = await report_service(db).write(oid, cid, "csv", EN, tmp_path)
    rows = read_csv(report.path)
    name, phone, number, variant, text, status, sent, delivered, read, reason, detail, \
        replied, reply = EN.columns

    assert report.rows == len(rows) == stats.total == 10_000
    assert len({r[phone] for r in rows}) == 10_000  # one row per recipient
    words = {v: k for k, v in EN.statuses.items()}
    by_status = Counter(words[r[status]] for r in rows)
    assert by_status["queued"] + by_status["sending"] == stats.queued
    assert by_status["sent"] + by_status["delivered"] + by_status["read"] == stats.sent
    assert by_status["delivered"] + by_status["read"] == stats.delivered
    assert (by_status["read"], by_status["failed"]) == (stats.read, stats.failed)
    assert (by_status["uncertain"], by_status["skipped"]) == (stats.uncertain, stats.skipped)
    assert sum(1 for r in rows if r[replied]) == stats.replied > 150
    assert sum(1 for r in rows if r[sent]) == stats.sent  # sent once, whatever came after
    # every failure with its reason in words: the counts /stats ranks, the whole breakdown
    reasons = Counter(r[reason] for r in rows if words[r[status]] == "failed")
    assert all(reasons[EN.reasons[line.category]] == line.count for line in stats.reasons)
    everything = await stats_repo.failure_reasons(db.reader, oid, cid, known=CATEGORIES,
                                                  other=OTHER_REASON, limit=20)
    assert reasons == {EN.reasons[category]: n for category, n, _, _ in everything}
    assert reasons[EN.reasons[OTHER_REASON]] == 500  # "not on WhatsApp" checks, as /stats
    assert not any(r[reason] or r[detail] for r in rows if words[r[status]] != "failed")

    # one row, cell by cell: the owner's contact, number, times in the owner's zone
    async with db.reader.execute(
            "SELECT m.phone, m.variant, m.sent_at, m.delivered_at, m.read_at, c.name, s.phone"
            " FROM messages m JOIN contacts c ON c.id = m.contact_id"
            " JOIN senders s ON s.id = m.sender_id WHERE m.campaign_id = ? AND m.id % 20 = 3"
            " ORDER BY m.id LIMIT 1", (cid,)) as cur:
        one = await cur.fetchone()
    [row] = [r for r in rows if r[phone] == one[0]]
    local = [datetime.fromtimestamp(ts, BAKU).strftime("%Y-%m-%d %H:%M:%S") for ts in one[2:5]]
    assert [row[k] for k in (name, number, variant, sent, delivered, read)] == [
        one[5], one[6], str(one[1] + 1), *local]
    first = one[5].split()[0]
    assert row[status] == "read"
    assert row[text] == (f"Salam {one[5]}!", f"Hello {one[5]}!", f"Hi {first}")[one[1] % 3]
    answered = [r for r in rows if r[replied]]
    assert {r[reply] for r in answered} >= {"[attachment: image]", "Thanks, reply 1"}


async def test_the_xlsx_report_holds_the_same_rows(db: Database, clock, tmp_path: Path) -> None:
    oid, cid = await gone_out(db, clock, 402, 1_500)
    by_csv = read_csv((await report_service(db).write(oid, cid, "csv", EN, tmp_path)).path)
    xlsx = await report_service(db).write(oid, cid, "xlsx", EN, tmp_path)
    book = CalamineWorkbook.from_path(str(xlsx.path))
    assert book.sheet_names == ["Report"]
    header, *rows = book.get_sheet_by_index(0).to_python()
    assert header == list(EN.columns)
    assert len(rows) == len(by_csv) == xlsx.rows == 1_500

    def same(cell: object) -> str:
        if isinstance(cell, datetime):
            return cell.strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(cell, float) and cell.is_integer():
            return str(int(cell))
        return str(cell)

    assert [[same(c) for c in row] for row in rows] == [list(r.values()) for r in by_csv]


async def test_the_text_in_the_report_is_the_text_the_dispatcher_sent(db, clock,
                                                                      tmp_path: Path) -> None:
    gateway = RecordingGateway(clock)
    try:
        h = Harness(db, clock, gateway)
        cid = await h.campaign(12, preset="fast",
                               text="{Salam|Hello|Hi} {{name}}, {{city|friend}}: {1|2|3|4}")
        await h.run(200)
    finally:
        await gateway.close()
    assert len(gateway.sends) == 12 and len(set(gateway.texts)) > 3  # the draws differ
    report = await ReportsService(db, h.templates).write(h.owner_id, cid, "csv", EN, tmp_path)
    text, phone = EN.columns[4], EN.columns[1]
    assert {r[phone]: r[text] for r in read_csv(report.path)} == {
        s.to: s.text for s in gateway.sends}


async def test_nothing_in_a_report_runs_as_a_formula(db: Database, clock,
                                                     tmp_path: Path) -> None:
    oid, cid = await gone_out(db, clock, 403, 40)
    async with db.transaction() as tx:
        await tx.execute("UPDATE contacts SET name = '=HYPERLINK(\"http://x\",\"y\")'"
                         " WHERE owner_id = ?", (oid,))
    by_csv = read_csv((await report_service(db).write(oid, cid, "csv", EN, tmp_path)).path)
    name, phone = EN.columns[0], EN.columns[1]
    assert {r[name] for r in by_csv} == {"'=HYPERLINK(\"http://x\",\"y\")"}
    assert all(r[phone].startswith("+994") for r in by_csv)  # a number stays a number
    xlsx = await report_service(db).write(oid, cid, "xlsx", EN, tmp_path)
    with zipfile.ZipFile(xlsx.path) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and 't="inlineStr"' in sheet  # a string cell, never a formula


async def test_another_owners_campaign_has_no_report(db: Database, clock,
                                                     tmp_path: Path) -> None:
    alice, cid = await gone_out(db, clock, 404, 20)
    bob, _ = await gone_out(db, clock, 405, 20)
    service = report_service(db)
    with pytest.raises(NotFound):
        await service.size(bob, cid)
    folder = tmp_path / "bob"
    folder.mkdir()
    with pytest.raises(NotFound):
        await service.write(bob, cid, "csv", EN, folder)
    assert list(folder.iterdir()) == []  # not even an empty file
    assert await service.size(alice, cid) == 20


def test_a_streamed_sheet_opens_with_its_texts_numbers_and_times(tmp_path: Path) -> None:
    path = tmp_path / "s.xlsx"
    sheet = SheetWriter(path, "Report: May/June [1]", columns=4, widths=((0, 1, 20),))
    sheet.header(["Name", "When", "Count", "Note"])
    sheet.rows([["Ayşə & <Co> \x07", excel_time(datetime(2026, 5, 1, 9, 30, 15)), 3, None],
                ["", None, 2.5, "=1+1"], ["  spaced  ", None, None, "x"]])
    sheet.close()
    book = CalamineWorkbook.from_path(str(path))
    assert book.sheet_names == ["Report  May June  1"]
    assert book.get_sheet_by_index(0).to_python() == [
        ["Name", "When", "Count", "Note"],
        ["Ayşə & <Co> ", datetime(2026, 5, 1, 9, 30, 15), 3.0, ""],
        ["", "", 2.5, "=1+1"],
        ["  spaced  ", "", "", "x"]]


def test_report_times_are_the_owners_clock_across_a_change_of_offset() -> None:
    from bot.services.reports import _Renderer

    render = _Renderer(TemplatesService(None), None, 0, ZoneInfo("Europe/Berlin"),  # type: ignore[arg-type]  # no database: times only
                       EN)
    for moment in (datetime(2026, 3, 29, 0, 59, 59), datetime(2026, 3, 29, 1, 0, 1),
                   datetime(2026, 10, 25, 0, 30, 30), datetime(2026, 10, 25, 1, 30, 30)):
        ts = moment.replace(tzinfo=ZoneInfo("UTC")).timestamp()
        local = datetime.fromtimestamp(ts, ZoneInfo("Europe/Berlin"))
        assert render.text_time(ts) == local.strftime("%Y-%m-%d %H:%M:%S")
        assert abs(float(render.sheet_time(ts) or 0) - excel_time(local)) < 1e-9
        assert render.text_time(ts + 0.75) == render.text_time(ts)  # seconds, not rounded
    assert render.text_time(None) == "" and render.sheet_time(None) is None
