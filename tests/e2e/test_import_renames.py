"""A file that brings a known number under another name: the newer name wins, and the
report says which contacts got a new name; a row without a name (or an empty cell) never
erases what is known."""

from __future__ import annotations

from tests.e2e.conftest import Harness


async def import_file(chat, name: str, content: str, target: str) -> str:
    await chat.upload(content.encode(), name, "text/csv")
    replies = await chat.press(target)
    return replies[0].message.body if replies else ""


async def contact_line(chat, list_label: str) -> str:
    await chat.send("/lists")
    await chat.press(list_label)
    replies = await chat.press("👀 Sample")
    return replies[-1].text


async def test_the_report_names_the_contacts_another_file_renamed(harness: Harness) -> None:
    chat = await harness.active_owner(821)
    await import_file(chat, "shop.csv", "Name,Phone,City\nAysel Mammadova,+994501234567,Bakı\n"
                      "Leyla,+994551234567,Gəncə\n", "➕ New list “shop”")

    report = await import_file(chat, "other.csv",
                               "Name,Phone\nNo Country Code,+994501234567\nLeyla,+994551234567\n"
                               "Nigar,+994701112233\n", "➕ New list “other”")
    assert "New: 1\nUpdated: 2" in report
    assert "1 contact got a new name:" in report
    assert "+994501234567: Aysel Mammadova → No Country Code" in report
    assert "Leyla →" not in report  # the same name is no change


async def test_a_row_without_a_name_or_a_value_erases_nothing(harness: Harness) -> None:
    chat = await harness.active_owner(822)
    await import_file(chat, "shop.csv", "Name,Phone,City\nAysel Mammadova,+994501234567,Bakı\n",
                      "➕ New list “shop”")
    report = await import_file(chat, "bare.csv", "Name,Phone,City\n,+994501234567,\n",
                               "📋 shop")
    assert "Updated: 1" in report and "new name" not in report
    sample = await contact_line(chat, "📋 shop")
    assert "+994501234567 — Aysel Mammadova (city: Bakı)" in sample


async def test_a_name_repeated_blank_later_in_the_same_file_is_kept(harness: Harness) -> None:
    chat = await harness.active_owner(823)
    await import_file(chat, "shop.csv", "Name,Phone,City\nAysel Mammadova,+994501234567,Bakı\n"
                      ",+994 50 123 45 67,\n", "➕ New list “shop”")
    sample = await contact_line(chat, "📋 shop")
    assert "+994501234567 — Aysel Mammadova (city: Bakı)" in sample


async def test_many_renames_are_counted_and_a_few_shown(harness: Harness) -> None:
    chat = await harness.active_owner(824)
    phones = [f"+9945012345{n:02d}" for n in range(12)]
    await import_file(chat, "shop.csv", "Name,Phone\n" + "".join(f"Old {n},{p}\n" for n, p in
                                                                 enumerate(phones)),
                      "➕ New list “shop”")
    report = await import_file(chat, "new.csv", "Name,Phone\n" + "".join(
        f"New {n},{p}\n" for n, p in enumerate(phones)), "📋 shop")
    assert "12 contacts got a new name:" in report
    assert f"{phones[0]}: Old 0 → New 0" in report
    assert f"{phones[11]}: Old 11 → New 11" not in report  # only the first few
    assert "and 7 more" in report


async def test_another_owners_file_renames_nothing_of_mine(harness: Harness) -> None:
    alice = await harness.active_owner(825)
    bob = await harness.active_owner(826, name="Bob", phone="+994551112233")
    await import_file(alice, "shop.csv", "Name,Phone\nAysel Mammadova,+994501234567\n",
                      "➕ New list “shop”")
    report = await import_file(bob, "mine.csv", "Name,Phone\nSomeone Else,+994501234567\n",
                               "➕ New list “mine”")
    assert "New: 1" in report and "new name" not in report
    sample = await contact_line(alice, "📋 shop")
    assert "+994501234567 — Aysel Mammadova" in sample
