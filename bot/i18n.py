"""One translation layer: gettext ``.po`` catalogs (en, az, ru) keyed by message ids.

Every user-facing text is looked up here by a stable key (``registration.ask_name``);
the catalogs in ``bot/locales/<lang>.po`` hold the sentences. Texts are HTML (Telegram's
HTML parse mode): parameters are escaped here unless wrapped in ``Safe``, so contact and
user data can never inject markup. Numbers and dates are formatted for the locale with
Babel.

Plurals. A text that counts something is a gettext plural entry: ``msgid`` and
``msgid_plural`` are both the key, and ``msgstr[0]``, ``msgstr[1]``, ... its forms, as
many as the catalog's ``Plural-Forms`` header says (en and az: one, other; ru: one, few,
many). It is asked for like any text, with the count as the parameter ``count``::

    tr("import.rejected_caption", count=rows)  # "1 rejected row" / "2 rejected rows"

``count`` picks the form by Babel's (CLDR) plural rule for the language, and fills the
text's ``{count}`` placeholder written the language's way (``1,000``). The forms are the
language's CLDR categories in CLDR order (zero, one, two, few, many, other); Russian
gettext has no separate form for ``other`` (fractions), which then takes the last form. A
plural text asked for without ``count`` gets its last form and a logged warning. Every
form keeps the English text's placeholders; the catalog test checks it.

A key missing from a catalog falls back to English and is logged; a test fails the
build when any key the code uses is missing from any catalog.
"""

from __future__ import annotations

import html
import logging
from datetime import datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date as _format_date
from babel.dates import format_datetime as _format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal as _format_decimal
from babel.plural import PluralRule

from bot.domain import Language

log = logging.getLogger(__name__)

STARS = "XTR"  # Telegram Stars' currency code

LANGUAGE_NAMES = {Language.EN: "English", Language.AZ: "Azərbaycanca", Language.RU: "Русский"}


# CLDR's plural categories in CLDR's order: a catalog's forms follow it
PLURAL_CATEGORIES = ("zero", "one", "two", "few", "many", "other")


class Safe(str):
    """A parameter that is already HTML and must not be escaped again."""

    __slots__ = ()


@cache
def catalog(language: Language) -> dict[str, str | tuple[str, ...]]:
    """Key -> text; a plural entry's value is the tuple of its forms."""
    path = resources.files("bot") / "locales" / f"{language.value}.po"
    with path.open("rb") as fh:
        po = read_po(fh, locale=language.value)
    texts: dict[str, str | tuple[str, ...]] = {}
    for m in po:
        string = m.string  # a plural entry's forms are a tuple (or list), else a str
        if (isinstance(m.id, tuple) and m.id[0] and isinstance(string, tuple | list)
                and any(string)):
            texts[m.id[0]] = tuple(string)
        elif m.id and isinstance(m.id, str) and isinstance(string, str) and string:
            texts[m.id] = string
    return texts


@cache
def _plural_rule(language: Language) -> tuple[PluralRule, tuple[str, ...]]:
    rule = Locale.parse(language.value).plural_form
    return rule, tuple(c for c in PLURAL_CATEGORIES if c in rule.tags or c == "other")


def plural_index(language: Language, count: float, forms: int) -> int:
    """Which of a text's ``forms`` reads right with ``count``, by Babel's plural rule."""
    rule, categories = _plural_rule(language)
    return min(categories.index(rule(abs(count))), forms - 1)


def _param(value: object) -> str:
    if isinstance(value, Safe):
        return value
    return html.escape(str(value), quote=False)


class Translator:
    """Texts, numbers and dates in one owner's language."""

    __slots__ = ("_messages", "language")

    def __init__(self, language: Language) -> None:
        self.language = language
        self._messages = catalog(language)

    def __call__(self, key: str, **params: object) -> str:
        language, text = self.language, self._messages.get(key)
        if text is None:
            language, text = Language.EN, catalog(Language.EN).get(key)
            log.warning("text %s missing in the %s catalog", key, self.language.value)
            if text is None:
                return key
        count = params.get("count")
        if isinstance(count, int | float) and not isinstance(count, bool):
            params["count"] = self.number(count)
        if isinstance(text, tuple):
            if isinstance(count, int | float):
                text = text[plural_index(language, count, len(text))]
            else:
                log.warning("plural text %s asked for without a count", key)
                text = text[-1]
        if not params:
            return text
        return text.format_map({k: _param(v) for k, v in params.items()})

    def number(self, value: float, *, signed: bool = False) -> str:
        """``1234`` -> ``1,234`` (en), ``1.234`` (az), ``1 234`` (ru); ``signed``: a plus
        before a positive value (``+1,234``), as a change of credits is written."""
        text = _format_decimal(value, locale=self.language.value)
        return "+" + text if signed and value > 0 else text

    def money(self, minor: int, currency: str) -> str:
        """An amount in minor units as the language writes it, with two decimals:
        ``1250, "AZN"`` -> ``12.50 AZN`` (en), ``12,50 AZN`` (az, ru); Telegram Stars
        (``XTR``) are whole: ``250 ⭐``."""
        if currency == STARS:
            return f"{self.number(minor)} ⭐"
        amount = _format_decimal(Decimal(minor).scaleb(-2), format="#,##0.00",
                                 locale=self.language.value)
        return f"{amount} {currency}"

    def date(self, value: datetime, zone: str) -> str:
        return _format_date(value.astimezone(ZoneInfo(zone)), format="medium",
                            locale=self.language.value)

    def datetime(self, value: datetime, zone: str) -> str:
        return _format_datetime(value, format="short", tzinfo=ZoneInfo(zone),
                                locale=self.language.value)


@cache
def translator(language: Language) -> Translator:
    return Translator(language)
