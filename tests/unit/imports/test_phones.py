"""The fast normaliser gives exactly what phonenumbers gives, and the reasons are right."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneMetadata

from bot.services.imports.phones import REASONS, PhoneNormaliser, reference_normalise
from tests.conftest import SAMPLES

MAKE_SAMPLES = SAMPLES / "make_samples.py"
REGIONS = ["AZ", "RU", "TR", "US", "GB", "DE"]
_TYPES = ("mobile", "fixed_line", "toll_free", "premium_rate", "voip", "personal_number", "uan")
EXAMPLES = sorted(
    {
        (region, str(desc.example_number))
        for region in REGIONS
        for attr in _TYPES
        if (desc := getattr(PhoneMetadata.metadata_for_region(region), attr)) is not None
        and desc.example_number
    }
)
# One normaliser per region for the whole run: its memo must never change an answer.
SHARED = {region: PhoneNormaliser(region) for region in REGIONS}
NO_MEMO = {region: PhoneNormaliser(region, memo=False) for region in REGIONS}


@st.composite
def typed_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """(default region, a number as people type it) for numbers of the six regions."""
    region = draw(st.sampled_from(REGIONS))
    source, example_number = draw(st.sampled_from(EXAMPLES))
    country_code = PhoneMetadata.metadata_for_region(source).country_code
    keep = draw(st.integers(0, len(example_number)))
    tail = draw(st.text("0123456789", min_size=0, max_size=len(example_number) - keep + 2))
    prefix = draw(
        st.sampled_from(["+{cc}", "00{cc}", "{cc}", "0", "8", "", "+", "810{cc}", "011{cc}", "+0"])
    )
    digits = prefix.format(cc=country_code) + example_number[:keep] + tail
    separators = draw(
        st.lists(
            st.sampled_from(["", "", "", " ", "-", "(", ")", ".", "/", "\u00a0", "\t"]),
            min_size=len(digits),
            max_size=len(digits),
        )
    )
    return region, "".join(sep + digit for sep, digit in zip(separators, digits, strict=True))


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed_numbers())
@example(("AZ", "+994 50 123 45 67"))
@example(("AZ", "994701112233"))
@example(("AZ", "8 (050) 300-20-10"))
@example(("RU", "8 912 345-67-89"))
@example(("US", "+1 (415) 555-2671"))
@example(("GB", "020 7946 0958"))
@example(("DE", "0049 1512 3456789"))
def test_fast_path_agrees_with_phonenumbers(case: tuple[str, str]) -> None:
    region, text = case
    expected = reference_normalise(text, region)
    assert PhoneNormaliser(region).normalise(text) == expected  # fresh: empty memo
    assert SHARED[region].normalise(text) == expected  # warm memo
    assert NO_MEMO[region].normalise(text) == expected  # the fast path alone


# Regions whose metadata rewrites local numbers (a transform rule: 462 1234 -> 268 462 1234).
TRANSFORMING = {code: PhoneNormaliser(code) for code in ("AG", "BS", "JM", "VI", "US")}


@settings(max_examples=1000, deadline=None)
@given(
    st.sampled_from(sorted(TRANSFORMING)),
    st.sampled_from(["", "1", "+1", "011", "1268", "1242", "+1876"]),
    st.text("0123456789", min_size=6, max_size=11),
)
def test_numbers_rewritten_by_a_transform_rule_agree_with_phonenumbers(
    region: str, prefix: str, digits: str
) -> None:
    text = prefix + digits
    assert TRANSFORMING[region].normalise(text) == reference_normalise(text, region)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(REGIONS), st.text(max_size=30))
def test_any_text_gets_the_answer_of_phonenumbers(region: str, text: str) -> None:
    assert SHARED[region].normalise(text) == reference_normalise(text, region)


def test_fast_path_agrees_on_the_benchmark_file(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    subprocess.run([sys.executable, str(MAKE_SAMPLES), "big", "50000", str(path)], check=True)
    with path.open(encoding="utf-8", newline="") as stream:
        phones = [row[1] for row in csv.reader(stream)][1:]
    normaliser = PhoneNormaliser("AZ")
    fast = [normaliser.normalise(phone) for phone in phones]
    assert fast == [reference_normalise(phone, "AZ") for phone in phones]
    invalid = sum(1 for _, reason in fast if reason is not None)
    assert invalid == sum(1 for phone in phones if phone == "n/a") > 0
    assert normaliser.slow_hits == invalid  # every valid number took the fast path


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+994 50 123 45 67", "AZ", ("+994501234567", None)),
        ("050 765 43 21", "AZ", ("+994507654321", None)),
        ("501234567", "AZ", ("+994501234567", None)),
        ("  +994-10-234-56-78\t", "AZ", ("+994102345678", None)),
        ("", "AZ", (None, "no_phone")),
        ("   ", "AZ", (None, "no_phone")),
        ("call me maybe", "AZ", (None, "not_a_phone_number")),
        ("12345", "AZ", (None, "too_short")),
        ("8 (050) 300-20-10", "AZ", (None, "too_long")),
        ("+999 123 456 789", "AZ", (None, "invalid_country_code")),
        ("+994 12 404 00 00", "AZ", ("+994124040000", "landline")),
        ("+994 88 123 45 67", "AZ", ("+994881234567", "not_mobile")),  # toll free
        ("+1 (415) 555-2671", "AZ", ("+14155552671", None)),  # US: fixed line or mobile
    ],
)
def test_reasons(raw: str, region: str, expected: tuple[str | None, str | None]) -> None:
    assert PhoneNormaliser(region).normalise(raw) == expected
    assert reference_normalise(raw, region) == expected
    assert expected[1] is None or expected[1] in REASONS


def test_landlines_are_accepted_when_allowed() -> None:
    normaliser = PhoneNormaliser("AZ", allow_landlines=True)
    assert normaliser.normalise("(012) 404 00 00") == ("+994124040000", None)
    assert normaliser.normalise("+994 88 123 45 67") == ("+994881234567", "not_mobile")


def test_unknown_default_region_still_reads_international_numbers() -> None:
    normaliser = PhoneNormaliser(None)
    assert normaliser.normalise("+994 50 123 45 67") == ("+994501234567", None)
    assert normaliser.normalise("050 123 45 67") == (None, "invalid_country_code")
