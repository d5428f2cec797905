"""Keyword replies' matcher: case, accents, Azerbaijani/Russian/English, whole words and
phrases, several automations."""

from __future__ import annotations

import pytest

from bot.services.keywords import Matcher, check_keyword, fold, split_keywords, words


def one(keywords: str) -> Matcher:
    return Matcher.compile([(1, split_keywords(keywords))])


@pytest.mark.parametrize("message", [
    "price", "PRICE", "Price?", "what's the price!!", "price,please", "💰price💰",
    "  the\tprice\n",
])
def test_case_and_punctuation(message: str) -> None:
    assert one("price").match(message) is not None


@pytest.mark.parametrize(("keyword", "message"), [
    ("qiymət", "QİYMƏT nədir?"),
    ("qiymət", "qiymet"),
    ("qiymet", "Qiymət?"),
    ("şəkil", "SEKIL var?"),
    ("çatdırılma", "Catdirilma nece olur"),
    ("ğöü", "GOU"),
    ("цена", "ЦЕНА?"),
    ("ёлка", "Елка есть?"),
    ("елка", "ЁЛКА"),
    ("café", "CAFE open?"),
    ("İstanbul", "istanbul"),
])
def test_accents_and_languages(keyword: str, message: str) -> None:
    assert one(keyword).match(message) is not None


def test_cyrillic_short_i_is_its_own_letter() -> None:
    assert fold("Чай") == "чай"
    assert one("чай").match("чаи") is None


@pytest.mark.parametrize("message", ["priceless", "pricey", "overprice", "qiymətli"])
def test_whole_words_only(message: str) -> None:
    assert one("price, qiymət").match(message) is None


def test_phrases_are_words_in_a_row() -> None:
    matcher = one("how much")
    assert matcher.match("So... HOW much?!") is not None
    assert matcher.match("how very much") is None
    assert matcher.match("much how") is None
    assert matcher.match("how") is None


def test_several_keywords_in_three_languages() -> None:
    matcher = one("price, qiymət; цена\nhow much")
    for message in ("the price", "qiymet?", "Цена", "how much is it"):
        found = matcher.match(message)
        assert found is not None and found.automation_id == 1


def test_the_keyword_first_in_the_message_answers() -> None:
    matcher = Matcher.compile([(1, ["delivery"]), (2, ["price"]), (3, ["price list"])])
    found = matcher.match("Price list and delivery?")
    assert found is not None and (found.automation_id, found.keyword) == (3, "price list")
    found = matcher.match("delivery and price?")
    assert found is not None and found.automation_id == 1
    assert [m.automation_id for m in matcher.matches("price, delivery")] == [2, 1]


def test_nothing_matches() -> None:
    assert Matcher.compile([]).match("price") is None
    assert one("price").match("") is None
    assert one("price").match("hello") is None


def test_split_keywords_drops_blanks_and_repeats() -> None:
    assert split_keywords(" price ,, PRICE; Qiymət ,qiymet\n цена ") == ["price", "Qiymət", "цена"]
    assert split_keywords("how   much") == ["how much"]


def test_check_keyword() -> None:
    assert check_keyword("price") is None
    assert check_keyword("!!!") == "keyword_no_letters"
    assert check_keyword("x" * 61) == "keyword_too_long"
    assert check_keyword("a b c d e f g") == "keyword_too_many_words"


def test_words() -> None:
    assert words("Salam, QİYMƏT nə-qədərdir?") == ("salam", "qiymet", "ne", "qederdir")


def test_many_automations_compile_and_match() -> None:
    matcher = Matcher.compile((i, [f"word{i}", f"phrase {i}"]) for i in range(5000))
    assert matcher.size == 10000
    found = matcher.match("hello phrase 4321 and word17")
    assert found is not None and found.automation_id == 4321
