"""The template language: what owners write, what their customers receive, what is refused."""

from __future__ import annotations

import random
from collections import Counter
from itertools import product

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import ValidationError
from bot.services.template_engine import (
    MAX_LENGTH,
    PATTERNS_MAX,
    SYNTAX_REASONS,
    Problem,
    check,
    compile_template,
    escape,
)


def render(text: str, values: dict[str, str] | None = None, seed: int = 1) -> str:
    return compile_template(text).render(values or {}, random.Random(seed))


def renders(text: str, values: dict[str, str] | None = None, draws: int = 2000) -> Counter:
    template = compile_template(text)
    rng = random.Random(7)
    return Counter(template.render(values or {}, rng) for _ in range(draws))


def reasons(text: str, known=None) -> list[tuple[str, int, int, str]]:
    return [(p.reason, p.line, p.column, p.detail) for p in check(text, known)]


# --- rendering -------------------------------------------------------------------------------


def test_variables_are_filled_from_the_contact() -> None:
    text = "Salam {{name}}, your order in {{ city }} is ready."
    assert render(text, {"name": "Leyla", "city": "Baku"}) == (
        "Salam Leyla, your order in Baku is ready.")


@pytest.mark.parametrize("values", [{}, {"name": ""}, {"name": "   "}, {"name": None}])
def test_fallback_replaces_a_missing_or_blank_value(values) -> None:
    assert render("Hello {{name|dear customer}}!", values) == "Hello dear customer!"
    assert render("Hello {{ name | dear customer }}!", values) == "Hello dear customer!"


def test_without_a_fallback_a_missing_value_leaves_nothing() -> None:
    assert render("Hello {{name}}!", {}) == "Hello !"
    assert render("Hello {{name}}!", {"name": "  "}) == "Hello !"


def test_values_are_used_without_surrounding_spaces() -> None:
    assert render("[{{name|x}}]", {"name": "  Leyla Həsənova \n"}) == "[Leyla Həsənova]"


def test_variable_names_may_use_any_alphabet() -> None:
    values = {"şəhər": "Gəncə", "имя": "Олег", "_code2": "A1"}
    assert render("{{şəhər}} {{имя}} {{_code2}}", values) == "Gəncə Олег A1"


def test_names_are_case_sensitive() -> None:
    assert render("{{Name|?}}", {"name": "Leyla"}) == "?"


def test_spintax_draws_one_option_per_message() -> None:
    seen = renders("{Hi|Hello|Salam} Leyla")
    assert set(seen) == {"Hi Leyla", "Hello Leyla", "Salam Leyla"}


def test_spintax_may_nest() -> None:
    seen = renders("{Hi {there|friend}|Hello}!")
    assert set(seen) == {"Hi there!", "Hi friend!", "Hello!"}


def test_a_group_may_start_with_a_group() -> None:
    assert set(renders("{{Hi|Hey} you|Yo}")) == {"Hi you", "Hey you", "Yo"}


def test_a_group_of_one_option_renders_it() -> None:
    assert render("a {word} b") == "a word b"


def test_variables_inside_spintax_options() -> None:
    seen = renders("{Hi {{name|friend}}|Hello}", {"name": "Leyla"})
    assert set(seen) == {"Hi Leyla", "Hello"}


def test_a_pipe_outside_spintax_is_plain_text() -> None:
    assert render("price | 10 AZN") == "price | 10 AZN"


@pytest.mark.parametrize(("text", "expected"), [
    (r"\{not a group\}", "{not a group}"),
    (r"\{\{name\}\}", "{{name}}"),
    (r"{a\|b}", "a|b"),
    (r"back\\slash", "back\\slash"),
    (r"C:\path", r"C:\path"),
    (r"{{name|a\}b}}", "a}b"),
    ("100% sure, 50%s off, %(x)s", "100% sure, 50%s off, %(x)s"),
])
def test_escapes_and_percent_signs_are_literal(text: str, expected: str) -> None:
    assert render(text) == expected


def test_multi_line_text_keeps_its_lines() -> None:
    text = "Salam {{name}}!\n{Sifarişiniz hazırdır|Your order is ready}.\n\nQasid"
    out = render(text, {"name": "Leyla"})
    assert out.startswith("Salam Leyla!\n")
    assert out.endswith(".\n\nQasid")


def test_same_seed_same_messages() -> None:
    template = compile_template("{a|b|c}{d|e|f}{{x}}")
    first = [template.render({"x": "1"}, random.Random(5)) for _ in range(3)]
    rng1, rng2 = random.Random(99), random.Random(99)
    assert [template.render({}, rng1) for _ in range(20)] == [
        template.render({}, rng2) for _ in range(20)]
    assert len(set(first)) == 1


def test_blank_text_renders_nothing() -> None:
    assert render("") == ""


def test_variables_lists_every_name_used() -> None:
    template = compile_template("{{name}} {Hi {{city|x}}|{a|{{ code }}}} {{name|y}}")
    assert template.variables == frozenset({"name", "city", "code"})


# --- user text is never code -----------------------------------------------------------------


def test_python_looking_variables_are_refused_not_run() -> None:
    with pytest.raises(ValidationError) as raised:
        compile_template("Hi {{__import__('os').system('id')}}")
    assert raised.value.reason == "bad_variable"
    assert raised.value.params["detail"] == "__import__('os').system('id')"


@pytest.mark.parametrize(("text", "expected"), [
    ("{0.__class__}", "0.__class__"),
    ("{name!r}", "name!r"),
    ("{self._pattern}", "self._pattern"),
    ("{0}{1}", "01"),
    ("{{name.__class__|x}}", None),
])
def test_format_like_text_is_plain_text(text: str, expected: str | None) -> None:
    if expected is None:
        assert reasons(text)[0][0] == "bad_variable"
    else:
        assert render(text, {"name": "Leyla"}) == expected


@pytest.mark.parametrize("value", [
    "{0}", "{name}", "{{name}}", "%s", "%(name)s", "{a|b}", "{0.__class__.__mro__}", "\\",
])
def test_values_are_inserted_as_they_are(value: str) -> None:
    assert render("<{{name}}>", {"name": value}) == f"<{value}>"
    assert render("{<{{name}}>|<{{name}}>}", {"name": value}) == f"<{value}>"


def test_a_value_is_not_rendered_again() -> None:
    template = compile_template("{{a}} and {{b}}")
    assert template.render({"a": "{{b}}", "b": "%s {x|y}"}, random.Random(0)) == (
        "{{b}} and %s {x|y}")


# --- distinct texts --------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "count"), [
    ("plain", 1),
    ("{{name}}", 1),
    ("{a|b|c}", 3),
    ("{a|b}{c|d|e}", 6),
    ("{a|b {c|d|e}|f}{x|y}", 10),
    ("{{{a|b}|c}|{d|{e|f|g}}}", 7),
    ("{a {b|c} {d|e}|f}", 5),
])
def test_distinct_texts_counts_what_spintax_can_make(text: str, count: int) -> None:
    template = compile_template(text)
    assert template.distinct_texts() == count
    assert len(renders(text, draws=3000)) == count


def test_distinct_texts_is_exact_for_large_counts() -> None:
    text = "{a|b|c|d|e|f|g}" * 40
    assert compile_template(text).distinct_texts() == 7**40


# --- fairness --------------------------------------------------------------------------------


def chi_square(counts: Counter, expected: dict[str, float]) -> float:
    total = sum(counts.values())
    return sum((counts[k] - p * total) ** 2 / (p * total) for k, p in expected.items())


def test_each_option_is_drawn_equally_often() -> None:
    counts = renders("{a|b|c|d}", draws=40_000)
    # 3 degrees of freedom: 16.27 is exceeded by chance once in a thousand.
    assert chi_square(counts, dict.fromkeys("abcd", 0.25)) < 16.27


def test_nested_groups_draw_uniformly_at_each_level() -> None:
    counts = renders("{a|{b|c}}", draws=40_000)
    assert chi_square(counts, {"a": 0.5, "b": 0.25, "c": 0.25}) < 13.82  # 2 df, p = 0.001


def test_groups_in_a_row_are_drawn_independently() -> None:
    counts = renders("{a|b}{c|d}", draws=40_000)
    assert chi_square(counts, dict.fromkeys(["ac", "ad", "bc", "bd"], 0.25)) < 16.27


def test_groups_holding_variables_draw_uniformly_at_each_level() -> None:
    counts = renders("{x {{a}}|y|{p|{{a|q}}}}", {"a": "A"}, draws=60_000)
    expected = {"x A": 1 / 3, "y": 1 / 3, "p": 1 / 6, "A": 1 / 6}
    assert chi_square(counts, expected) < 16.27


def test_many_groups_in_a_row_stay_independent_and_uniform() -> None:
    # 4**6 combinations: more than are precomputed, so some groups are drawn per message.
    assert 4**6 > PATTERNS_MAX
    counts = renders("{a|b|c|d}" * 6, draws=40_000)
    assert len(counts) > 3000
    for position in (0, 3, 5):
        letters = Counter()
        for text, n in counts.items():
            letters[text[position]] += n
        assert chi_square(letters, dict.fromkeys("abcd", 0.25)) < 16.27
    pairs = Counter()
    for text, n in counts.items():
        pairs[text[0] + text[5]] += n
    assert chi_square(pairs, {a + b: 1 / 16 for a in "abcd" for b in "abcd"}) < 37.7  # 15 df


def test_a_group_with_very_many_options_is_uniform() -> None:
    options = [f"o{n}" for n in range(PATTERNS_MAX + 44)]
    counts = renders("{" + "|".join(options) + "}", draws=60_000)
    assert set(counts) == set(options)
    # 299 degrees of freedom: 381 is exceeded by chance once in a thousand.
    assert chi_square(counts, dict.fromkeys(options, 1 / len(options))) < 381


# --- problems and where they are -------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("Hi {{name", ("unclosed_variable", 1, 4, "name")),
    ("Hi {{name} and more", ("unclosed_variable", 1, 4, "name")),
    ("Hi {{name|friend", ("unclosed_variable", 1, 4, "name")),
    ("Hi {{ how are you", ("unclosed_variable", 1, 4, "")),
    ("Hi {there|friend", ("unclosed_spintax", 1, 4, "")),
    ("Hi {a {b|c}", ("unclosed_spintax", 1, 4, "")),
    ("Hi there}", ("unopened_brace", 1, 9, "")),
    ("Hi {{name}}}", ("unopened_brace", 1, 12, "")),
    ("{a||b}", ("empty_option", 1, 4, "")),
    ("{|a}", ("empty_option", 1, 2, "")),
    ("{a|}", ("empty_option", 1, 4, "")),
    ("x {}", ("empty_option", 1, 4, "")),
    ("Hi {{first name}}", ("bad_variable", 1, 4, "first name")),
    ("Hi {{1st}}", ("bad_variable", 1, 4, "1st")),
    ("Hi {{}}", ("bad_variable", 1, 4, "")),
    ("Hi {{ |friend}}", ("bad_variable", 1, 4, "")),
])
def test_each_problem_says_what_and_where(text: str, expected: tuple) -> None:
    assert reasons(text) == [expected]
    with pytest.raises(ValidationError) as raised:
        compile_template(text)
    error = raised.value
    reason, line, column, detail = expected
    assert error.reason == reason
    assert error.where == f"line {line}, column {column}"
    assert error.params == {"line": line, "column": column, "detail": detail}


@pytest.mark.parametrize(("text", "expected"), [
    ("Salam!\n  {a||b}", ("empty_option", 2, 6)),
    ("line one\nline two }", ("unopened_brace", 2, 10)),
    ("ok\n{{ name", ("unclosed_variable", 2, 1)),
    ("x\n\n  {a|b\nmore", ("unclosed_spintax", 3, 3)),
    ("x\r\n{{bad name}}", ("bad_variable", 2, 1)),
    ("Şəhər 😀 {a||b}", ("empty_option", 1, 12)),
])
def test_positions_count_lines_and_characters(text: str, expected: tuple) -> None:
    assert [(p.reason, p.line, p.column) for p in check(text)] == [expected]


def test_every_problem_is_listed_in_text_order() -> None:
    text = "{{who}} {a||b}\nx} {{bad name}} {oops\n{{name}} {{city|Baku}}"
    assert reasons(text, known={"name"}) == [
        ("unknown_variable", 1, 1, "who"),
        ("empty_option", 1, 12, ""),
        ("unopened_brace", 2, 2, ""),
        ("bad_variable", 2, 4, "bad name"),
        ("unclosed_spintax", 2, 17, ""),
        ("unknown_variable", 3, 10, "city"),
    ]


def test_unknown_variables_are_named_with_their_place() -> None:
    text = "Hi {{ name }},\n{your {{ shop }}|our shop} in {{City}}"
    assert reasons(text, known=["name", "city"]) == [
        ("unknown_variable", 2, 7, "shop"),
        ("unknown_variable", 2, 31, "City"),
    ]
    assert check(text, known=None) == []
    assert check(text, known={"name", "shop", "City"}) == []


def test_unknown_variables_do_not_stop_compiling() -> None:
    assert render("{{nobody|friend}}") == "friend"


@pytest.mark.parametrize("text", ["", "   ", "\n\t \n"])
def test_a_blank_text_is_empty(text: str) -> None:
    assert check(text) == [Problem("empty", 1, 1)]


def test_a_clean_text_has_no_problems() -> None:
    assert check("{Salam|Hello} {{name|dear customer}}!\nSee you {soon|tomorrow}.",
                 known={"name"}) == []


def test_too_long_says_where_the_limit_is_passed() -> None:
    problems = check("a" * MAX_LENGTH)
    assert problems == []
    problems = check("abc\n" + "b" * MAX_LENGTH)
    assert problems == [Problem("too_long", 2, MAX_LENGTH - 3, detail=str(MAX_LENGTH + 4),
                                limit=MAX_LENGTH)]


def test_too_long_counts_the_longest_option() -> None:
    text = "Hi {short|" + "x" * MAX_LENGTH + "}"
    [problem] = check(text)
    assert (problem.reason, problem.line, problem.column) == ("too_long", 1, 4)
    assert problem.detail == str(MAX_LENGTH + 3)
    assert check("Hi {short|" + "x" * (MAX_LENGTH - 3) + "}") == []


def test_too_long_counts_variables_by_their_fallback() -> None:
    head = "x" * (MAX_LENGTH - 5)
    assert check(head + "{{name}}") == []
    assert check(head + "{{name|12345}}") == []
    assert [p.reason for p in check(head + "{{name|123456}}")] == ["too_long"]


def test_longest_for_real_values() -> None:
    template = compile_template("{Hi|Hello} {{name|friend}}!")
    assert template.longest() == len("Hello friend!")
    assert template.longest({"name": "  Leyla Həsənova  "}) == len("Hello Leyla Həsənova!")


def test_deep_nesting_neither_crashes_nor_recurses() -> None:
    text = "{ " * 3000 + "a" + "|b}" * 3000
    assert check(text) == []
    template = compile_template(text)
    assert template.distinct_texts() == 3001
    out = template.render({}, random.Random(3))
    assert out.strip(" ") in {"a", "b"}
    assert template.longest() == 3000 + 1


# --- properties ------------------------------------------------------------------------------

PLAIN = st.text(st.characters(blacklist_characters="{}|\\", blacklist_categories=("Cs",)),
                min_size=1, max_size=6)
NAMES = st.sampled_from(["name", "city", "şəhər", "имя", "_code2"])
ESCAPES = st.sampled_from(["{", "}", "|", "\\"])


@st.composite
def variables(draw):
    name = draw(NAMES)
    fallback = draw(st.none() | st.text(st.characters(blacklist_characters="{}|\\",
                                                      blacklist_categories=("Cs",)),
                                        max_size=5))
    pad = draw(st.sampled_from(["", " ", "  "]))
    source = "{{" + pad + name + pad + ("" if fallback is None else "|" + fallback) + "}}"
    return ("var", name, (fallback or "").strip(), source)


LITERALS = PLAIN.map(lambda s: ("lit", s, s))
ESCAPED = ESCAPES.map(lambda c: ("lit", c, "\\" + c))


def option(nodes: list) -> list:
    # "{{a}}" would read as a variable: an option never starts with a group here.
    return [("lit", "x", "x"), *nodes] if nodes[0][0] == "group" else nodes


def templates(leaves):
    """Template trees: lists of ("lit", text, source), ("var", name, fallback, source) and
    ("group", options)."""
    trees = st.recursive(
        leaves,
        lambda inner: st.lists(st.lists(inner, min_size=1, max_size=3).map(option),
                               min_size=1, max_size=3).map(lambda options: ("group", options)),
        max_leaves=10,
    )
    return st.lists(trees, min_size=1, max_size=4)


TEMPLATES = templates(LITERALS | ESCAPED | variables())
WITHOUT_ESCAPES = templates(LITERALS | variables())


def source(nodes: list) -> str:
    out = []
    for node in nodes:
        if node[0] == "group":
            out.append("{" + "|".join(source(o) for o in node[1]) + "}")
        else:
            out.append(node[-1])
    return "".join(out)


def expansions(nodes: list, values: dict[str, str]) -> list[str]:
    """Every text the nodes can make, one per path (a reference, written independently)."""
    texts = [""]
    for node in nodes:
        if node[0] == "lit":
            choices = [node[1]]
        elif node[0] == "var":
            choices = [(values.get(node[1]) or "").strip() or node[2]]
        else:
            choices = [t for o in node[1] for t in expansions(o, values)]
        texts = [a + b for a, b in product(texts, choices)]
    return texts


VALUES = st.dictionaries(NAMES, st.text(max_size=5), max_size=5)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(tree=TEMPLATES, values=VALUES, seed=st.integers(0, 2**32))
def test_every_rendering_is_one_the_template_can_make(tree, values, seed) -> None:
    text = source(tree)
    assert [p for p in check(text) if p.reason in SYNTAX_REASONS] == []
    template = compile_template(text)
    possible = expansions(tree, values)
    assert template.distinct_texts() == len(possible)
    rng = random.Random(seed)
    for _ in range(5):
        out = template.render(values, rng)
        assert out in possible
        assert len(out) <= template.longest(values)


@settings(max_examples=100)
@given(tree=WITHOUT_ESCAPES, values=st.dictionaries(NAMES, PLAIN, max_size=5),
       seed=st.integers(0, 2**32))
def test_no_braces_are_left_without_escapes(tree, values, seed) -> None:
    text = source(tree)
    out = compile_template(text).render(values, random.Random(seed))
    assert "{" not in out
    assert "}" not in out


@given(st.text(st.characters(blacklist_categories=("Cs",))))
def test_escape_makes_any_text_literal(text: str) -> None:
    template = escape(text)
    assert check(template) == ([Problem("empty", 1, 1)] if not text.strip() else [])
    assert compile_template(template).render({}, random.Random(0)) == text


@settings(max_examples=500)
@given(st.text(st.sampled_from(list("{}|\\ab %\n")), max_size=30))
def test_check_and_compile_agree_on_any_text(text: str) -> None:
    syntax = [p for p in check(text) if p.reason in SYNTAX_REASONS]
    try:
        template = compile_template(text)
    except ValidationError as error:
        assert syntax
        first = syntax[0]
        assert (error.reason, error.params["line"], error.params["column"]) == (
            first.reason, first.line, first.column)
    else:
        assert syntax == []
        out = template.render({"a": "v"}, random.Random(0))
        assert isinstance(out, str)
        assert len(out) <= template.longest({"a": "v"})
