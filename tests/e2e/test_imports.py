"""Importing contact files in chat: upload, choose a list, progress, report, rejected rows."""

from __future__ import annotations

import csv
import io

from tests.conftest import SAMPLES
from tests.e2e.conftest import Harness


def rejected_rows(harness: Harness, chat_id: int) -> list[list[str]]:
    document = next(m for m in reversed(harness.api.messages(chat_id)) if m.kind == "document")
    return list(csv.reader(io.StringIO(document.file.content.decode("utf-8-sig"))))


async def test_upload_choose_a_new_list_and_read_the_report(harness: Harness) -> None:
    chat = await harness.active_owner(801)
    content = (SAMPLES / "contacts_az_semicolon_bom.csv").read_bytes()
    replies = await chat.upload(content, "contacts_az_semicolon_bom.csv", "text/csv")
    assert "Import <b>contacts_az_semicolon_bom.csv</b> into which list?" in replies[0].text
    assert replies[0].buttons == ["➕ New list “contacts_az_semicolon_bom”", "Cancel"]

    replies = await chat.press("➕ New list “contacts_az_semicolon_bom”")
    report = harness.api.message(801, replies[0].message.message_id)
    assert "is imported into the list <b>contacts az semicolon bom</b>" in report.text
    assert "New: 7\nUpdated: 0\nDuplicates in the file: 1\nRejected: 2" in report.text
    assert "{{city}}" in report.text
    rows = rejected_rows(harness, 801)
    assert rows[0][:2] == ["line", "reason"]
    assert [(r[0], r[1]) for r in rows[1:]] == [("8", "too few digits for a phone number"),
                                                 ("9", "no phone")]

    replies = await chat.send("/lists")
    assert "contacts az semicolon bom: 7 contacts, 0 opted out" in replies[0].text


async def test_reimport_into_an_existing_list_updates_and_keeps_opt_outs(
    harness: Harness,
) -> None:
    chat = await harness.active_owner(802)
    first = "Name,Phone,City\nƏli,+994501234567,Bakı\nLeyla,+994551234567,Gəncə\n"
    await chat.upload(first.encode(), "shop.csv", "text/csv")
    await chat.press("➕ New list “shop”")
    await chat.send("/optout +994501234567 asked to stop")

    second = "Name,Phone,City\nƏli Məmmədov,+994501234567,Sumqayıt\nNigar,+994701112233,Bakı\n"
    await chat.upload(second.encode(), "shop.csv", "text/csv")
    replies = await chat.press("📋 shop")
    report = harness.api.message(802, replies[0].message.message_id).text
    assert "New: 1\nUpdated: 1" in report
    assert "1 of them had opted out and stays opted out" in report
    replies = await chat.send("/lists")
    assert "shop: 3 contacts, 1 opted out" in replies[0].text


async def test_unreadable_files_get_one_message_and_change_nothing(harness: Harness) -> None:
    chat = await harness.active_owner(803)
    for name, content, words in [
        ("empty.csv", b"", "the file is empty"),
        ("junk.csv", bytes(range(256)) * 40, "not a text or spreadsheet file"),
        ("header.csv", b"Name,Phone\n", "no contacts under it"),
        ("broken.xlsx", b"PK\x03\x04" + b"\x00" * 200, "damaged"),
        ("renamed.xlsx", b"Name,City\nAli,Baku\n", "this is not an Excel file"),  # text
        ("notes.vcf", b"Ali\nLeyla\n", "this is not a vCard file"),
    ]:
        await chat.upload(content, name, "application/octet-stream")
        replies = await chat.press(chat.buttons()[0])
        text = harness.api.message(803, replies[0].message.message_id).text
        assert f"<b>{name}</b> was not imported" in text and words in text, text
        assert "Nothing was changed" in text
    replies = await chat.send("/lists")
    assert "no contact lists yet" in replies[0].text  # not even the new, empty lists


async def test_a_file_over_a_limit_is_told_where_in_the_owners_language(
    harness: Harness,
) -> None:
    """A vCard line folded on and on, a card of 150 numbers, an unclosed quote: refused at
    their line, in Russian, and nothing is written."""
    chat = await harness.active_owner(810, language="ru")
    endless = ("BEGIN:VCARD\r\nFN:Ali\r\nTEL:0501112233\r\nEND:VCARD\r\n"
               "BEGIN:VCARD\r\nNOTE:x\r\nFN:x" + "\r\n yyyyyyyy" * 10_000 + "\r\nEND:VCARD\r\n")
    numbers = "BEGIN:VCARD\r\nFN:A\r\n" + "".join(
        f"TEL:+99450{n:07d}\r\n" for n in range(150)) + "END:VCARD\r\n"
    quote = "Имя,Телефон\nАли,0501112233\n\"Лейла,0551112233\n" + "Нигяр,0701112233\n" * 9_000
    for name, content, words in [
        ("phone.vcf", endless.encode(), "строка 7: строка vCard длиннее 64 КБ"),
        ("many.vcf", numbers.encode(), "строка 1: в карточке контакта больше 100 номеров"),
        ("quote.csv", quote.encode(), "строка 3: ячейка длиннее 128 КБ"),
    ]:
        await chat.upload(content, name, "application/octet-stream")
        replies = await chat.press(chat.buttons()[0])
        text = harness.api.message(810, replies[0].message.message_id).text
        assert f"<b>{name}</b>" in text and words in text, text
    replies = await chat.send("/lists")
    assert "У вас пока нет списков контактов" in replies[0].text  # not even the empty lists


async def test_unsupported_and_oversized_files_are_refused_at_once(make_settings) -> None:
    from bot.console.botapi import FakeBotApi

    harness = Harness(FakeBotApi(), make_settings(import_max_file_mb=1))
    await harness.start()
    try:
        chat = await harness.active_owner(804)
        replies = await chat.upload(b"%PDF-1.4", "price list.pdf", "application/pdf")
        assert "I can import CSV, Excel (XLSX), VCF (phone contacts) and TXT files; " \
               "“price list.pdf” is none of these." == replies[0].text
        big = b"Phone\n" + b"0501234567\n" * 110_000
        replies = await chat.upload(big, "big.csv", "text/csv")
        assert replies[0].text == "“big.csv” is too big: the limit is 1 MB. Split it into " \
                                  "smaller files."
        assert replies[0].buttons == []
    finally:
        await harness.stop()


async def test_cancel_and_a_second_tap_do_nothing(harness: Harness) -> None:
    chat = await harness.active_owner(805)
    await chat.upload(b"Phone\n0501234567\n", "a.csv", "text/csv")
    replies = await chat.press("Cancel")
    assert replies[0].text == "Import cancelled. Nothing was changed."
    await chat.upload(b"Phone\n0501234567\n", "b.csv", "text/csv")
    question = harness.api.last_message(805)
    data = question.reply_markup["inline_keyboard"][0][0]["callback_data"]
    await chat.press("➕ New list “b”")
    await chat.step(harness.api.callback_update(chat.user, question, data))
    answers = [c.params for c in harness.api.calls if c.method == "answerCallbackQuery"]
    assert "Not found" in answers[-1]["text"]
    owner = await harness.qasid.services.accounts.find(805)
    [only] = await harness.qasid.services.contacts.lists(owner.id)
    assert only.size == 1


async def test_vcard_and_xlsx_from_the_samples(harness: Harness) -> None:
    chat = await harness.active_owner(806)
    await chat.upload((SAMPLES / "contacts_phone_export.vcf").read_bytes(),
                      "contacts_phone_export.vcf", "text/vcard")
    replies = await chat.press(chat.buttons()[0])
    text = harness.api.message(806, replies[0].message.message_id).text
    assert "New: 3" in text and "Rejected: 1" in text
    assert "Skipped 1 extra number: landline" in text
    await chat.upload((SAMPLES / "contacts_title_row.xlsx").read_bytes(),
                      "contacts_title_row.xlsx", "application/vnd.ms-excel")
    replies = await chat.press(chat.buttons()[0])
    text = harness.api.message(806, replies[0].message.message_id).text
    assert "New: 4" in text and "Duplicates in the file: 1" in text
    assert "{{birthday}}" in text and "{{tag}}" in text


async def test_one_owners_import_never_touches_another(harness: Harness) -> None:
    a = await harness.active_owner(807, phone="+994501110007")
    b = await harness.active_owner(808, phone="+994501110008")
    await a.upload(b"Name,Phone\nA,+994501234567\n", "mine.csv", "text/csv")
    await a.press("➕ New list “mine”")
    await b.upload(b"Name,Phone\nB,+994501234567\n", "theirs.csv", "text/csv")
    question = harness.api.last_message(808)
    assert all("mine" not in label for label in question.buttons)
    await b.press("➕ New list “theirs”")
    owner_a = await harness.qasid.services.accounts.find(807)
    [mine] = await harness.qasid.services.contacts.lists(owner_a.id)
    [contact] = await harness.qasid.services.contacts.sample(owner_a.id, mine.id)
    assert contact.name == "A"
    # b cannot import into a's list by forging the button
    await b.upload(b"Phone\n+994551234567\n", "x.csv", "text/csv")
    forged_question = harness.api.last_message(808)
    import_id = forged_question.reply_markup["inline_keyboard"][0][0]["callback_data"].split(
        ":")[2]
    await b.step(harness.api.callback_update(b.user, forged_question,
                                             f"imp:to:{import_id}:{mine.id}"))
    assert (await harness.qasid.services.contacts.get_list(owner_a.id, mine.id)).size == 1


async def test_an_import_cut_by_a_restart_changes_nothing_and_the_owner_is_told(
    harness: Harness,
) -> None:
    chat = await harness.active_owner(809)
    await chat.upload(b"Phone\n0501234567\n", "late.csv", "text/csv")
    owner = await harness.qasid.services.accounts.find(809)
    question = harness.api.last_message(809)
    import_id = int(question.reply_markup["inline_keyboard"][0][0]["callback_data"].split(":")[2])
    # the process dies after the owner chose a list, before the import committed
    await harness.qasid.services.contacts.claim_import(owner.id, import_id, None)
    await harness.restart()
    assert "interrupted by a restart" in harness.api.last_message(809).text
    assert await harness.qasid.services.contacts.lists(owner.id) == []
