"""Time zones as owners type them, and the ones offered as buttons."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.errors import ValidationError
from bot.services import zones

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("typed", "zone"), [
    ("Europe/Moscow", "Europe/Moscow"), ("europe/moscow", "Europe/Moscow"),
    ("Moscow", "Europe/Moscow"), ("Москва", "Europe/Moscow"), ("Moskva", "Europe/Moscow"),
    ("Bakı", "Asia/Baku"), ("baki", "Asia/Baku"), ("Баку", "Asia/Baku"),
    ("İstanbul", "Europe/Istanbul"), ("Asia/Istanbul", "Europe/Istanbul"),
    ("new york", "America/New_York"), ("Kiev", "Europe/Kyiv"), ("W-SU", "Europe/Moscow"),
    ("UTC+4", "Etc/GMT-4"), ("GMT-5", "Etc/GMT+5"), ("+3", "Etc/GMT-3"), ("UTC+0", "UTC"),
])
def test_a_name_a_city_or_an_offset_is_understood(typed: str, zone: str) -> None:
    assert zones.resolve(typed) == zone


@pytest.mark.parametrize("typed", ["Atlantis", "", "UTC+15", "Europe/", "12:00"])
def test_anything_else_is_refused_saying_what_was_typed(typed: str) -> None:
    with pytest.raises(ValidationError) as error:
        zones.resolve(typed)
    assert error.value.reason == "unknown_timezone" and error.value.params["value"] == typed


def test_a_countrys_zones_are_offered_one_per_offset_with_the_current_one() -> None:
    russia = zones.suggestions("RU", "+79161234567", "Europe/Moscow", NOW)
    assert russia[:3] == ["Europe/Kaliningrad", "Europe/Moscow", "Europe/Samara"]
    assert "Asia/Vladivostok" in russia and len(russia) == len(set(russia)) <= 12
    assert len({zones.offset(z, NOW) for z in russia}) == len(russia)
    baku = zones.suggestions("AZ", "+994501234567", "Asia/Baku", NOW)
    assert baku[0] == "Asia/Baku" and len(baku) >= 4  # with the nearby ones
    assert zones.suggestions(None, None, "Europe/London", NOW)[0] == "Europe/London"


def test_labels_are_the_city_in_the_owners_language_and_the_offset() -> None:
    assert zones.city("Europe/Moscow", "ru") == "Москва"
    assert zones.city("Asia/Baku", "az") == "Bakı"
    assert zones.city("Etc/GMT-4", "en") == "UTC+04:00"
    assert zones.offset("Asia/Baku", NOW) == "UTC+04:00"
    assert zones.offset("America/St_Johns", NOW) == "UTC-03:30"
