"""One translation layer: gettext ``.po`` catalogs (en, az, ru) keyed by message ids.

Every user-facing text is looked up here by a stable key (``registration.ask_name``);
the catalogs in ``bot/locales/<lang>.po`` hold the sentences. Texts are HTML (Telegram's
HTML parse mode): parameters are escaped here unless wrapped in ``Safe``, so contact and
user data can never inject markup. Numbers and dates are formatted for the locale with
Babel.

A key missing from a catalog falls back to English and is logged; a test fails the
build when any key the code uses is missing from any catalog.
"""

from __future__ import annotations

import html
import logging
from datetime import datetime
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

from babel.dates import format_date as _format_date
from babel.dates import format_datetime as _format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal as _format_decimal

from bot.domain import Language

log = logging.getLogger(__name__)

LANGUAGE_NAMES = {Language.EN: "English", Language.AZ: "Azərbaycanca", Language.RU: "Русский"}


class Safe(str):
    """A parameter that is already HTML and must not be escaped again."""

    __slots__ = ()


@cache
def catalog(language: Language) -> dict[str, str]:
    path = resources.files("bot") / "locales" / f"{language.value}.po"
    with path.open("rb") as fh:
        po = read_po(fh, locale=language.value)
    return {m.id: m.string for m in po if m.id and isinstance(m.id, str) and m.string}


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
        text = self._messages.get(key)
        if text is None:
            text = catalog(Language.EN).get(key)
            log.warning("text %s missing in the %s catalog", key, self.language.value)
            if text is None:
                return key
        if not params:
            return text
        return text.format_map({k: _param(v) for k, v in params.items()})

    def number(self, value: float) -> str:
        return _format_decimal(value, locale=self.language.value)

    def date(self, value: datetime, zone: str) -> str:
        return _format_date(value.astimezone(ZoneInfo(zone)), format="medium",
                            locale=self.language.value)

    def datetime(self, value: datetime, zone: str) -> str:
        return _format_datetime(value, format="short", tzinfo=ZoneInfo(zone),
                                locale=self.language.value)


@cache
def translator(language: Language) -> Translator:
    return Translator(language)
