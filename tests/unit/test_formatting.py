"""A Telegram message's formatting, as the WhatsApp customer will see it."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.services.formatting import Entity, to_whatsapp
from bot.services.template_engine import compile_template, escape


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def entity(text: str, part: str, kind: str, url: str | None = None, nth: int = 0) -> Entity:
    """The entity Telegram would send for ``part`` of ``text`` (UTF-16 offsets)."""
    start = -1
    for _ in range(nth + 1):
        start = text.index(part, start + 1)
    return Entity(kind, utf16(text[:start]), utf16(part), url)


@pytest.mark.parametrize(("kind", "expected"), [
    ("bold", "Sale *today* only"),
    ("italic", "Sale _today_ only"),
    ("strikethrough", "Sale ~today~ only"),
    ("code", "Sale `today` only"),
    ("pre", "Sale ```today``` only"),
    ("underline", "Sale today only"),
    ("spoiler", "Sale today only"),
    ("mention", "Sale today only"),
    ("hashtag", "Sale today only"),
    ("url", "Sale today only"),
    ("custom_emoji", "Sale today only"),
    ("something_new", "Sale today only"),
])
def test_each_style_becomes_whatsapp_markup(kind: str, expected: str) -> None:
    text = "Sale today only"
    assert to_whatsapp(text, [entity(text, "today", kind)]) == expected


def test_plain_text_is_unchanged() -> None:
    assert to_whatsapp("Salam *dostlar*_", []) == "Salam *dostlar*_"


@pytest.mark.parametrize("kind", ["blockquote", "expandable_blockquote"])
def test_a_quote_prefixes_each_of_its_lines(kind: str) -> None:
    text = "Dear all:\nfirst line\nsecond line\nThanks"
    quoted = entity(text, "first line\nsecond line\n", kind)
    assert to_whatsapp(text, [quoted]) == "Dear all:\n> first line\n> second line\nThanks"


def test_a_link_shows_its_address_after_the_text() -> None:
    text = "Order on our site today"
    link = entity(text, "our site", "text_link", "https://gul.az/order")
    assert to_whatsapp(text, [link]) == "Order on our site (https://gul.az/order) today"


@pytest.mark.parametrize("shown", ["https://gul.az", "gul.az", "www.gul.az"])
def test_a_link_that_shows_its_address_is_not_repeated(shown: str) -> None:
    text = f"Visit {shown} now"
    link = entity(text, shown, "text_link", "https://gul.az/")
    assert to_whatsapp(text, [link]) == text


def test_a_bold_link_keeps_the_address_outside_the_markers() -> None:
    text = "Order here now"
    entities = [entity(text, "here", "text_link", "https://gul.az"), entity(text, "here", "bold")]
    assert to_whatsapp(text, entities) == "Order *here* (https://gul.az) now"


def test_link_addresses_can_be_escaped_for_templates() -> None:
    text = "Menu"
    url = "https://gul.az/?a={x}|b"
    out = to_whatsapp(text, [Entity("text_link", 0, 4, url)], escape_url=escape)
    assert compile_template(out).render({}, random.Random(0)) == f"Menu ({url})"


def test_same_range_bold_and_italic_nest() -> None:
    text = "big news"
    entities = [entity(text, "big news", "italic"), entity(text, "big news", "bold")]
    assert to_whatsapp(text, entities) == "*_big news_*"


def test_italic_inside_bold() -> None:
    text = "a very big sale"
    entities = [entity(text, "a very big sale", "bold"), entity(text, "big", "italic")]
    assert to_whatsapp(text, entities) == "*a very _big_ sale*"


def test_crossing_styles_are_split_so_they_nest() -> None:
    text = "one two three four"
    entities = [entity(text, "one two three", "bold"), entity(text, "two three four", "italic")]
    assert to_whatsapp(text, entities) == "*one _two three_* _four_"


def test_entity_order_does_not_matter() -> None:
    text = "one two three four"
    entities = [entity(text, "one two three", "bold"), entity(text, "two three four", "italic"),
                entity(text, "three", "strikethrough")]
    assert to_whatsapp(text, entities) == to_whatsapp(text, entities[::-1])


def test_touching_ranges_of_one_style_become_one() -> None:
    text = "abcdef"
    assert to_whatsapp(text, [Entity("bold", 0, 3), Entity("bold", 3, 3)]) == "*abcdef*"
    assert to_whatsapp(text, [Entity("bold", 0, 4), Entity("bold", 2, 4)]) == "*abcdef*"


@pytest.mark.parametrize(("text", "before"), [
    ("😀 Salam dostlar", "😀 "),
    ("😀😀 Salam dostlar", "😀😀 "),
    ("👍🏽 Salam dostlar", "👍🏽 "),
    ("Şəhər 🇦🇿 Salam dostlar", "Şəhər 🇦🇿 "),
])
def test_offsets_after_emoji_are_counted_in_utf16(text: str, before: str) -> None:
    offset = utf16(before)
    assert offset > len(before)
    assert to_whatsapp(text, [Entity("bold", offset, 5)]) == f"{before}*Salam* dostlar"


def test_emoji_inside_a_styled_range() -> None:
    text = "Hi 🎉🎉 party 🎉"
    entities = [entity(text, "🎉🎉 party", "italic")]
    assert to_whatsapp(text, entities) == "Hi _🎉🎉 party_ 🎉"


def test_spaces_stay_outside_the_markers() -> None:
    text = "Sale  today  only"
    entities = [entity(text, "  today  ", "bold")]
    assert to_whatsapp(text, entities) == "Sale  *today*  only"


def test_an_all_space_range_is_left_alone() -> None:
    text = "a   b"
    assert to_whatsapp(text, [Entity("bold", 1, 3), Entity("italic", 1, 2)]) == text


def test_styles_are_closed_at_line_ends() -> None:
    text = "first line\n\nsecond line"
    assert to_whatsapp(text, [Entity("bold", 0, len(text))]) == (
        "*first line*\n\n*second line*")


def test_a_quote_with_bold_lines() -> None:
    text = "first\nsecond"
    entities = [Entity("blockquote", 0, len(text)), Entity("bold", 0, len(text))]
    assert to_whatsapp(text, entities) == "> *first*\n> *second*"


def test_no_markers_inside_code() -> None:
    text = "run make test now"
    entities = [entity(text, "make test", "code"), entity(text, "test", "bold")]
    assert to_whatsapp(text, entities) == "run `make test` now"


def test_a_style_around_code_wraps_it() -> None:
    text = "run make test now"
    entities = [entity(text, "run make test now", "bold"), entity(text, "make test", "code")]
    assert to_whatsapp(text, entities) == "*run `make test` now*"


def test_a_style_crossing_into_code_stops_at_it() -> None:
    text = "please run make test"
    entities = [entity(text, "please run make", "italic"), entity(text, "make test", "code")]
    assert to_whatsapp(text, entities) == "_please run_ `make test`"


def test_same_range_bold_and_code() -> None:
    text = "x = 1"
    assert to_whatsapp(text, [Entity("code", 0, 5), Entity("bold", 0, 5)]) == "*`x = 1`*"


def test_pre_keeps_its_lines_and_indentation() -> None:
    text = "Code:\ndef f():\n    return 1"
    block = entity(text, "def f():\n    return 1", "pre")
    assert to_whatsapp(text, [block, entity(text, "return", "bold")]) == (
        "Code:\n```def f():\n    return 1```")


def test_entities_past_the_end_are_clamped() -> None:
    assert to_whatsapp("short", [Entity("bold", 2, 100), Entity("italic", 50, 3)]) == "sh*ort*"


# --- properties ------------------------------------------------------------------------------

WORDS = st.text(st.sampled_from(list("ab 😀\nşə")), min_size=1, max_size=40)


@st.composite
def styled(draw):
    text = draw(WORDS)
    size = utf16(text)
    entities = draw(st.lists(
        st.builds(Entity, st.sampled_from(["bold", "italic", "strikethrough", "underline"]),
                  st.integers(0, size), st.integers(0, size)),
        max_size=6))
    return text, entities


@given(styled())
def test_markers_only_add_to_the_text(case) -> None:
    text, entities = case
    out = to_whatsapp(text, entities)
    for marker in "*_~":
        assert out.count(marker) % 2 == 0
    assert out.translate(str.maketrans("", "", "*_~")) == text


@given(styled())
def test_markers_always_touch_text(case) -> None:
    text, entities = case
    out = to_whatsapp(text, entities)
    markers = "*_~"
    for i, char in enumerate(out):
        if char not in markers:
            continue
        left = out[i - 1] if i else " "
        right = out[i + 1] if i + 1 < len(out) else " "
        assert not (left.isspace() and right.isspace()), out
