"""Which column is what: header recognition for contact files.

``detect_columns(sample)`` looks at the first rows of a table and returns a
``ColumnMapping``: the phone column, the name column, and every other column as an
attribute with a clean template variable name (``{{city}}``).

- Headers are recognised in Azerbaijani, Russian and English, in any case, with or without
  diacritics (``Telefon`` / ``Nömrə`` / ``Телефон`` / ``Phone`` / ``Mobile`` ...). Known
  headers map to canonical names (``Şəhər`` / ``Город`` / ``City`` -> ``city``); others are
  transliterated to a lowercase ASCII identifier (``Любимый цвет`` -> ``lyubimyy_tsvet``),
  unique within the file. ``name`` and ``phone`` belong to the contact itself.
- The header may sit below a title row or blank rows.
- Without a recognised phone header, a column whose values look like phone numbers is the
  phone column; the row just above its first number, if it holds text there, is the header.
  Otherwise the file has no header (a list of numbers, maybe with names).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from bot.services.imports.errors import UnreadableFile

log = logging.getLogger(__name__)

__all__ = [
    "ColumnMapping",
    "canonical_name",
    "detect_columns",
    "fold",
    "looks_like_phone",
    "variable_name",
    "variable_names",
]

HEADER_SCAN_ROWS: Final = 20  # a header is looked for in this many first non-blank rows

_TRANSLITERATION: Final = {
    # Azerbaijani (and Turkish) letters that NFKD does not reduce to ASCII
    "ə": "e",
    "ı": "i",
    "ş": "sh",
    "ç": "ch",
    "ğ": "g",
    "ö": "o",
    "ü": "u",
    # Russian (and Ukrainian)
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ё": "e",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "й": "y",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ъ": "",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "yu",
    "я": "ya",
    "і": "i",
    "ї": "yi",
    "є": "ye",
    "ґ": "g",
    # Azerbaijani Cyrillic
    "ә": "e",
    "ғ": "g",
    "ј": "y",
    "қ": "q",
    "ҝ": "g",
    "ө": "o",
    "ү": "u",
    "һ": "h",
    "ҹ": "c",
}
_TRANSLATE: Final = str.maketrans(_TRANSLITERATION)
_NON_ALNUM: Final = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Lowercase ASCII words separated by single spaces: ``"Telefon nömrəsi"`` ->
    ``"telefon nomresi"``, ``"Номер телефона"`` -> ``"nomer telefona"``."""
    lowered = text.strip().lower().translate(_TRANSLATE)
    ascii_only = unicodedata.normalize("NFKD", lowered).encode("ascii", "ignore").decode("ascii")
    return _NON_ALNUM.sub(" ", ascii_only).strip()


# Canonical attribute names and the headers that mean them (folded when compared).
_KNOWN_HEADERS: Final = {
    "name": [
        "Ad", "Adı", "Ad Soyad", "Ad və soyad", "Adı soyadı", "Ad soyadı", "Tam ad", "İsim",
        "Müştəri", "Müştəri adı", "Kontakt", "Əlaqə adı",
        "Имя", "ФИО", "Ф.И.О.", "Имя Фамилия", "Полное имя", "Клиент", "Имя клиента",
        "Контакт", "Название",
        "Name", "Full name", "Fullname", "First name", "Firstname", "Given name", "Contact",
        "Contact name", "Customer", "Customer name", "Client", "Client name", "Display name",
    ],
    "surname": [
        "Soyad", "Soyadı", "Фамилия", "Last name", "Lastname", "Surname", "Family name",
    ],
    "city": ["Şəhər", "Город", "City", "Town", "Şehir"],
    "birthday": [
        "Doğum günü", "Doğum tarixi", "День рождения", "Дата рождения", "Birthday",
        "Date of birth", "Birth date", "Birthdate", "DOB",
    ],
    "note": [
        "Qeyd", "Qeydlər", "Şərh", "Примечание", "Примечания", "Комментарий", "Заметка",
        "Заметки", "Note", "Notes", "Comment", "Comments", "Remark",
    ],
    "email": [
        "E-poçt", "Elektron poçt", "Email", "E-mail", "Mail", "Эл. почта",
        "Электронная почта", "Почта",
    ],
    "company": [
        "Şirkət", "Təşkilat", "Компания", "Организация", "Company", "Organization",
        "Organisation",
    ],
    "address": ["Ünvan", "Адрес", "Address"],
    "gender": ["Cins", "Cinsi", "Пол", "Gender", "Sex"],
    "country": ["Ölkə", "Страна", "Country"],
    "district": ["Rayon", "Район", "District"],
    "region": ["Region", "Регион", "Область"],
    "age": ["Yaş", "Возраст", "Age"],
    "position": ["Vəzifə", "Должность", "Position", "Job title", "Title"],
    "tag": ["Teq", "Etiket", "Тег", "Метка", "Tag", "Tags", "Label"],
    "group": ["Qrup", "Группа", "Group"],
}  # fmt: skip
_CANONICAL: Final = {fold(h): name for name, hs in _KNOWN_HEADERS.items() for h in hs}

# A phone header is made of these words only, with at least one of the first set.
_PHONE_WORDS: Final = {
    fold(w): priority
    for priority, words in (
        # mobile first: those are the numbers that have WhatsApp
        (2, ["mobile", "mobil", "cell", "cellphone", "gsm", "mob", "мобильный", "мобильного",
             "сотовый", "whatsapp", "вотсап", "ватсап"]),
        (1, ["phone", "telefon", "tel", "telephone", "телефон", "телефона", "nömrə",
             "nömrəsi", "номер", "number", "msisdn", "phones", "telefonu"]),
    )
    for w in words
}  # fmt: skip
_PHONE_FILLER: Final = {
    fold(w)
    for w in [
        "no", "nr", "num", "number", "1", "2", "main", "primary", "contact", "əlaqə",
        "контактный", "of", "the", "e164", "n", "№", "nömrəsi", "номер",
    ]
}  # fmt: skip

_PHONE_CHARS: Final = frozenset("0123456789+-() ./\u00a0")
_LETTER: Final = re.compile(r"[^\W\d_]")


def canonical_name(header: str) -> str | None:
    """The canonical variable for a known header (``"Город"`` -> ``"city"``), else None."""
    return _CANONICAL.get(fold(header))


def phone_header_priority(header: str) -> int:
    """2 for a mobile header, 1 for a phone header, 0 for anything else."""
    words = fold(header).split()
    if not words:
        return 0
    best = 0
    for word in words:
        priority = _PHONE_WORDS.get(word)
        if priority is not None:
            best = max(best, priority)
        elif word not in _PHONE_FILLER:
            return 0
    return best


def variable_name(header: str) -> str:
    """A lowercase ASCII identifier for a header: known headers give their canonical name,
    others are transliterated (``"Любимый цвет"`` -> ``"lyubimyy_tsvet"``)."""
    known = canonical_name(header)
    if known is not None:
        return known
    name = fold(header).replace(" ", "_")[:40].strip("_")
    if name and name[0].isdigit():
        name = f"col_{name}"
    return name


def variable_names(headings: Sequence[str]) -> list[str | None]:
    """The variable each heading becomes as a file's column headings do beside the phone and
    name columns (``_build``: unique within the row, ``name`` and ``phone`` left to the
    contact itself); None for a blank heading. Contacts added through the API name their
    variables by this rule, so ``{"City": ...}`` is ``{{city}}`` as a file's column is."""
    mapping = _build(-1, None, list(headings), None, [])
    names: list[str | None] = [None] * len(headings)
    for index, variable in mapping.attributes:
        names[index] = variable
    return names


def looks_like_phone(value: str) -> bool:
    """Digits and the punctuation people type in numbers, 7 to 16 digits, ``+`` first."""
    text = value.strip()
    if text[:4].lower() == "tel:":
        text = text[4:]
    if not 7 <= len(text) <= 40 or "+" in text[1:]:
        return False
    digits = sum(ch.isdigit() for ch in text)
    return 7 <= digits <= 16 and all(ch in _PHONE_CHARS for ch in text)


@dataclass(slots=True)
class ColumnMapping:
    """Where things are in the rows of a table (indexes into a row's values)."""

    phone: int
    name: int | None
    attributes: list[tuple[int, str]]  # (column index, variable name), in file order
    header_line: int | None  # the header's line (None: the file has no header row)
    headers: list[str] = field(default_factory=list)  # the header cells as written
    columns: list[str] = field(default_factory=list)  # variable names in file order

    @property
    def width(self) -> int:
        return len(self.headers)


def _cell(values: Sequence[str], index: int) -> str:
    return values[index].strip() if index < len(values) else ""


def _phone_ratio(rows: Sequence[Sequence[str]], index: int) -> float:
    filled = [_cell(row, index) for row in rows]
    filled = [v for v in filled if v]
    if not filled:
        return 0.0
    return sum(looks_like_phone(v) for v in filled) / len(filled)


def _text_ratio(rows: Sequence[Sequence[str]], index: int) -> float:
    filled = [v for v in (_cell(row, index) for row in rows) if v]
    if not filled:
        return 0.0
    return sum(bool(_LETTER.search(v)) for v in filled) / len(filled)


def _build(
    phone: int,
    name: int | None,
    header: Sequence[str] | None,
    header_line: int | None,
    data: Sequence[Sequence[str]],
) -> ColumnMapping:
    width = max([len(header or ())] + [len(row) for row in data])
    headers = [_cell(header, i) if header is not None else "" for i in range(width)]
    used = {"phone", "name"}
    suffixes: dict[str, int] = {}  # the next suffix to try for a base (many alike stay fast)
    attributes: list[tuple[int, str]] = []
    columns: list[str] = []
    for index in range(width):
        if index == phone:
            columns.append("phone")
            continue
        if index == name:
            columns.append("name")
            continue
        text = headers[index]
        if not text and not any(_cell(row, index) for row in data):
            continue  # an empty column (a trailing delimiter, a spacer column)
        base = variable_name(text) if text else ""
        base = base or f"column_{index + 1}"
        candidate, suffix = base, suffixes.get(base, 2)
        while candidate in used:
            candidate, suffix = f"{base}_{suffix}", suffix + 1
        suffixes[base] = suffix
        used.add(candidate)
        attributes.append((index, candidate))
        columns.append(candidate)
    if header is None:
        headers = ["phone" if i == phone else "name" if i == name else "" for i in range(width)]
        for index, variable in attributes:
            headers[index] = variable
    return ColumnMapping(
        phone=phone,
        name=name,
        attributes=attributes,
        header_line=header_line,
        headers=headers,
        columns=columns,
    )


def detect_columns(sample: Sequence[tuple[int, list[str]]]) -> tuple[ColumnMapping, int]:
    """Find the columns in the first non-blank rows ``(line, values)`` of a table.

    Returns the mapping and the index in ``sample`` of the first data row. Raises
    ``UnreadableFile("no_phone_column")`` or ``UnreadableFile("no_rows")``.
    """
    rows = [values for _line, values in sample]
    # 1. a recognised phone header
    for position, values in enumerate(rows[:HEADER_SCAN_ROWS]):
        candidates = [
            (priority, index)
            for index, cell in enumerate(values)
            if (priority := phone_header_priority(cell)) > 0
        ]
        if not candidates:
            continue
        data = rows[position + 1 :]
        if not data:
            raise UnreadableFile("no_rows", line=sample[position][0])
        # prefer the column that holds numbers, then a mobile header, then the leftmost
        phone = max(candidates, key=lambda c: (_phone_ratio(data, c[1]) >= 0.5, c[0], -c[1]))[1]
        names = [
            i for i, cell in enumerate(values) if i != phone and canonical_name(cell) == "name"
        ]
        mapping = _build(phone, names[0] if names else None, values, sample[position][0], data)
        return mapping, position + 1
    # 2. a column of phone numbers
    width = max((len(values) for values in rows), default=0)
    ratios = [(_phone_ratio(rows, index), -index) for index in range(width)]
    best = max(ratios, default=(0.0, 0))
    if best[0] < 0.5:
        raise UnreadableFile("no_phone_column")
    phone = -best[1]
    first = next(i for i, values in enumerate(rows) if looks_like_phone(_cell(values, phone)))
    if first > 0 and _cell(rows[first - 1], phone):
        header = rows[first - 1]
        data = rows[first:]
        names = [
            i for i, cell in enumerate(header) if i != phone and canonical_name(cell) == "name"
        ]
        mapping = _build(phone, names[0] if names else None, header, sample[first - 1][0], data)
        return mapping, first
    texts = [i for i in range(width) if i != phone and _text_ratio(rows, i) >= 0.5]
    return _build(phone, texts[0] if texts else None, None, None, rows), 0
