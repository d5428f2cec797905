"""The batch contract: sizes, in-file duplicates, progress; and the rejected-rows report."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from bot.services.imports import Rejected, neutralise, parse_contacts, write_rejected_csv
from bot.services.imports.headers import canonical_name, phone_header_priority, variable_name


def test_columns_are_known_before_the_first_batch(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("Ad;Telefon;Şəhər;Qeyd\nƏli;0501112233;Bakı;vip\n", encoding="utf-8")
    with parse_contacts(path, "c.csv", "AZ") as job:
        assert job.summary.columns == ["name", "phone", "city", "note"]
        assert job.summary.headers == ["Ad", "Telefon", "Şəhər", "Qeyd"]
        assert job.summary.rows == 0


def test_duplicates_later_row_wins_within_a_batch_and_comes_again_in_a_later_one(
    tmp_path: Path,
) -> None:
    rows = [
        ("First", "0501112233", "Bakı"),
        ("Other", "0551112233", "Gəncə"),
        ("Second", "+994 50 111 22 33", ""),  # same phone, same batch
        ("Filler", "0701112233", ""),
        ("Third", "994501112233", "Şəki"),  # same phone, next batch
        ("Bad", "x", ""),
    ]
    path = tmp_path / "dups.csv"
    path.write_text("Name,Phone,City\n" + "".join(",".join(r) + "\n" for r in rows))
    with parse_contacts(path, "dups.csv", "AZ", batch_size=4) as job:
        batches = list(job.batches())
    assert [(len(b.contacts), len(b.rejected), b.rows_read) for b in batches] == [
        (3, 0, 4),
        (1, 1, 6),
    ]
    first, second = batches
    # each phone counts once against the owner's opt-outs, however often the file repeats it
    assert first.fresh == ["+994501112233", "+994551112233", "+994701112233"]
    assert second.fresh == []
    kept = next(c for c in first.contacts if c.phone == "+994501112233")
    # replaced in place by the later row: its name; its empty cell keeps the earlier value
    assert (kept.line, kept.name, kept.attributes, kept.duplicate) == (
        4, "Second", {"city": "Bakı"}, True)
    again = second.contacts[0]
    assert (again.phone, again.name, again.attributes) == (
        "+994501112233",
        "Third",
        {"city": "Şəki"},
    )
    assert again.duplicate
    summary = job.summary
    assert (summary.rows, summary.valid_unique, summary.duplicates, summary.invalid) == (6, 3, 2, 1)
    assert summary.reasons == {"not_a_phone_number": 1}
    assert summary.finished


def test_known_and_unknown_headers_get_clean_variable_names() -> None:
    assert [canonical_name(h) for h in ("Şəhər", "ГОРОД", "city", "Doğum günü")] == [
        "city",
        "city",
        "city",
        "birthday",
    ]
    assert canonical_name("Дата рождения") == "birthday"
    assert canonical_name("Qeyd") == canonical_name("Примечание") == "note"
    assert variable_name("Любимый цвет") == "lyubimyy_tsvet"
    assert variable_name("  Sevimli rəng (əsas) ") == "sevimli_reng_esas"
    assert variable_name("İş yeri") == "ish_yeri"
    assert variable_name("1-ci alış") == "col_1_ci_alish"


def test_phone_headers_in_three_languages() -> None:
    phones = ["Telefon", "Nömrə", "Mobil nömrə", "Телефон", "Номер телефона", "Моб. тел.",
              "Phone", "Mobile", "Phone number", "WhatsApp", "Tel."]  # fmt: skip
    assert all(phone_header_priority(h) > 0 for h in phones), phones
    assert phone_header_priority("Mobile") > phone_header_priority("Phone")
    others = ["Ad", "Имя", "Work phone", "Phone type", "Telefon kitabçası", "No", ""]
    assert [phone_header_priority(h) for h in others] == [0] * len(others)


def test_rejected_report_neutralises_formulas_and_translates_reasons() -> None:
    rows = [
        Rejected(8, ['=HYPERLINK("http://x")', "+994 12 404 00 00", "@SUM(A1)"], "landline"),
        Rejected(9, ["-2+3", "", "\tcmd"], "no_phone"),
        Rejected(10, ["Plain", "12345", "Bakı"], "too_short"),
    ]
    out = io.StringIO(newline="")
    words = {"landline": "ev telefonu", "no_phone": "nömrə yoxdur", "too_short": "=qısa"}
    written = write_rejected_csv(
        rows, out, ["Ad", "Telefon", "Şəhər"], words.__getitem__, labels=("Sətir", "Səbəb")
    )
    assert written == 3
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [
        ["Sətir", "Səbəb", "Ad", "Telefon", "Şəhər"],
        ["8", "ev telefonu", '\'=HYPERLINK("http://x")', "'+994 12 404 00 00", "'@SUM(A1)"],
        ["9", "nömrə yoxdur", "'-2+3", "", "'\tcmd"],
        ["10", "'=qısa", "Plain", "12345", "Bakı"],
    ]
    assert neutralise("\rx") == "'\rx"
    assert neutralise("Əli") == "Əli"
