"""Keyword replies' matcher (issue 21): which of an owner's keyword automations a
customer's message calls for. Pure: no database, no clock.

A message and each keyword are read the same way (``words``): case folded, accents and
other diacritics dropped (Azerbaijani ``ə ı ş ç ğ ö ü`` read as ``e i s c g o u``, the
Turkish dotted ``İ`` as ``i``, Cyrillic ``ё`` as ``е``; the Cyrillic ``й`` stays itself),
and cut into words at anything that is not a letter or a digit (spaces, punctuation,
symbols, emoji). A keyword matches as a whole word, a phrase as the same words in a row:
``qiymət`` matches "Qiymet?" and "QİYMƏT nədir", never "qiymətli"; ``how much`` matches
"so... HOW much?!" but not "how very much".

``Matcher.compile`` takes every automation's keywords at once and indexes the phrases by
their first word, so a message costs one dict look-up per word whatever the number of
automations (``KeywordReplies`` in ``bot/services/keyword_replies.py`` keeps one compiled
matcher per owner until their automations change).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_KEYWORDS = 50  # keywords of one automation
MAX_KEYWORD_CHARS = 60  # one keyword or phrase
MAX_PHRASE_WORDS = 6

# letters with no decomposition that read as a plain Latin one (after casefold)
_FOLD = (("ə", "e"), ("ı", "i"), ("ё", "е"), ("ø", "o"), ("æ", "ae"), ("œ", "oe"),
         ("ł", "l"), ("đ", "d"), ("ħ", "h"), ("ŧ", "t"))
_WORD = re.compile(r"[^\W_]+")  # a run of letters and digits


# combining marks dropped (accents, cedillas, breves, dots, Arabic short vowels), except
# right after a Cyrillic letter (й, ї, ў keep theirs; ё became е above)
_MARKS = re.compile(r"(?<![\u0400-\u052f])[\u0300-\u036f\u064b-\u065f\u0670]")


def fold(text: str) -> str:
    """``text`` case folded and without diacritics (see the module's docstring)."""
    if text.isascii():
        return text.lower()
    folded = unicodedata.normalize("NFC", text).casefold()
    for letter, plain in _FOLD:  # (str.translate with a table is several times slower)
        if letter in folded:
            folded = folded.replace(letter, plain)
    return unicodedata.normalize(
        "NFC", _MARKS.sub("", unicodedata.normalize("NFD", folded)))


def words(text: str) -> tuple[str, ...]:
    """The words of ``text`` as matching reads them."""
    return tuple(_WORD.findall(fold(text)))


def split_keywords(text: str) -> list[str]:
    """The keywords an owner typed: separated by commas, semicolons or new lines, each
    trimmed; empty ones dropped and a repeat (one spelling of an earlier one) kept once,
    in the order given. Not checked here: see ``check_keyword``."""
    found: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for part in re.split(r"[,;\n\r،]+", text):
        keyword = " ".join(part.split())
        if not keyword:
            continue
        key = words(keyword) or (keyword,)
        if key not in seen:
            seen.add(key)
            found.append(keyword)
    return found


def check_keyword(keyword: str) -> str | None:
    """Why ``keyword`` cannot be one (a reason code), or None."""
    if len(keyword) > MAX_KEYWORD_CHARS:
        return "keyword_too_long"
    tokens = words(keyword)
    if not tokens:
        return "keyword_no_letters"
    if len(tokens) > MAX_PHRASE_WORDS:
        return "keyword_too_many_words"
    return None


@dataclass(frozen=True, slots=True)
class Match:
    """A keyword found in a message: the automation it belongs to, the keyword as the
    owner wrote it, and the word of the message it starts at."""

    automation_id: int
    keyword: str
    position: int


@dataclass(frozen=True, slots=True)
class _Phrase:
    tokens: tuple[str, ...]
    automation_id: int
    keyword: str


class Matcher:
    """Several automations' keywords, compiled once (``compile``); ``match`` a message."""

    __slots__ = ("_by_first", "size")

    def __init__(self, by_first: dict[str, list[_Phrase]], size: int) -> None:
        self._by_first = by_first
        self.size = size  # how many keywords it holds

    @classmethod
    def compile(cls, rules: Iterable[tuple[int, Sequence[str]]]) -> Matcher:
        """``rules``: (automation id, its keywords) each. Keywords without a word are
        left out. At one position the longer phrase comes first, then the earlier
        automation (its lower id)."""
        by_first: dict[str, list[_Phrase]] = {}
        size = 0
        for automation_id, keywords in rules:
            for keyword in keywords:
                tokens = words(keyword)
                if tokens:
                    by_first.setdefault(tokens[0], []).append(
                        _Phrase(tokens, automation_id, keyword))
                    size += 1
        for phrases in by_first.values():
            phrases.sort(key=lambda p: (-len(p.tokens), p.automation_id))
        return cls(by_first, size)

    def matches(self, text: str) -> list[Match]:
        """Every automation's first keyword in ``text``, by where it starts (one match
        per automation)."""
        if not self._by_first:
            return []
        tokens = words(text)
        found: dict[int, Match] = {}
        for position, token in enumerate(tokens):
            for phrase in self._by_first.get(token, ()):
                if phrase.automation_id in found:
                    continue
                end = position + len(phrase.tokens)
                if end <= len(tokens) and tokens[position:end] == phrase.tokens:
                    found[phrase.automation_id] = Match(phrase.automation_id, phrase.keyword,
                                                        position)
        return sorted(found.values(), key=lambda m: m.position)

    def match(self, text: str) -> Match | None:
        """The automation that answers ``text``: the one whose keyword comes first in
        it (at one word, the longer phrase, then the lower id); None when none does."""
        found = self.matches(text)
        return found[0] if found else None
