"""Time zones as owners type them: an IANA name (``Europe/Moscow``), a city in English,
Azerbaijani or Russian (``Istanbul``, ``Bakı``, ``Москва``), or an offset (``UTC+4``); and
the zones worth offering as buttons for an owner's country; and ``owner_zone``, the one
rule for which zone is an owner's (theirs, else the configured ``DEFAULT_TIMEZONE``).

City names come from the CLDR data Babel ships (each zone's exemplar city in each
language); the names are matched without case, accents or dots (``baki`` is ``Bakı``).
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
from babel.core import get_global
from babel.dates import get_timezone_location
from phonenumbers import timezone as phone_zones

from bot.clock import utcnow
from bot.domain import Owner
from bot.errors import ValidationError

LANGUAGES = ("en", "az", "ru")
MAX_SUGGESTIONS = 12
# Offered besides the country's own zones when it has few: where Qasid's owners mostly are.
NEARBY = ("Asia/Baku", "Europe/Istanbul", "Europe/Moscow", "Asia/Tbilisi", "Asia/Dubai",
          "Europe/London")
_OFFSET = re.compile(r"(?:utc|gmt)?\s*([+-])\s*(\d{1,2})(?::?00)?")


def owner_zone(owner: Owner | None, default: str) -> str:
    """The IANA zone an owner's times are shown and planned in: the one they chose, else
    ``default`` (the configured ``DEFAULT_TIMEZONE``), for every screen, plan and chart."""
    return (owner.timezone if owner is not None else None) or default


def _plain(text: str) -> str:
    """'İstanbul', 'istanbul ', 'Nyu-York' -> 'istanbul', 'nyu york': for matching only."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    letters = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    letters = letters.replace("ı", "i").replace("ə", "e")
    return " ".join(re.sub(r"[\s_\-.'’]+", " ", letters).split())


@cache
def _canonical() -> frozenset[str]:
    """The zones a country uses today (no old links like W-SU or Asia/Istanbul, and no
    Etc/GMT-4, whose POSIX sign reads backwards)."""
    return frozenset(z for zones in get_global("territory_zones").values() for z in zones
                     if not z.startswith("Etc/"))


@cache
def _known() -> dict[str, str]:
    """Every way of writing a zone we accept -> its canonical IANA name."""
    aliases, canonical = get_global("zone_aliases"), _canonical()
    names: dict[str, str] = {}
    for zone in sorted(available_timezones()):
        target = aliases.get(zone, zone)
        if target not in canonical and zone not in canonical:
            target = zone  # e.g. Etc/GMT-4 or UTC: valid, kept as written
        names.setdefault(_plain(zone), target)
    cities: dict[str, str] = {}
    for zone in sorted(canonical):
        last = zone.rsplit("/", 1)[-1]
        cities.setdefault(_plain(last), zone)
        for language in LANGUAGES:
            try:
                city = get_timezone_location(zone, locale=language, return_city=True)
            except (LookupError, ValueError):
                continue
            cities.setdefault(_plain(city), zone)
    for zone in sorted(available_timezones()):  # old city names: Kiev, Calcutta, Saigon
        target = aliases.get(zone, zone)
        if "/" in zone and target in canonical:
            cities.setdefault(_plain(zone.rsplit("/", 1)[-1]), target)
    return {**cities, **names}


def resolve(text: str) -> str:
    """The IANA zone `text` names; ValidationError("unknown_timezone") if none."""
    typed = " ".join(text.split())
    if offset := _OFFSET.fullmatch(typed.casefold()):
        sign, hours = offset.group(1), int(offset.group(2))
        if hours == 0:
            return "UTC"
        if hours <= 14:
            return f"Etc/GMT{'-' if sign == '+' else '+'}{hours}"  # POSIX signs are reversed
    zone = _known().get(_plain(typed))
    if zone is None:
        raise ValidationError("unknown_timezone", where="timezone", value=typed[:60])
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):  # in CLDR but not in this tzdata
        raise ValidationError("unknown_timezone", where="timezone", value=typed[:60]) from None
    return zone


def suggestions(region: str | None, phone: str | None, current: str | None,
                now: datetime) -> list[str]:
    """Zones to offer as buttons: the country's (one per UTC offset, the number's own
    zones first), ordered by offset; the current zone always among them."""
    country = list(get_global("territory_zones").get((region or "").upper(), []))
    by_phone: tuple[str, ...] = ()
    if phone:
        try:
            by_phone = phone_zones.time_zones_for_number(phonenumbers.parse(phone))
        except phonenumbers.NumberParseException:
            by_phone = ()
    main = set(get_global("windows_zone_mapping").values())
    ranked = sorted(country, key=lambda z: (z not in by_phone, z not in main, z))
    chosen: dict[timedelta, str] = {}
    for zone in ranked:  # an aware time's offset is never None
        chosen.setdefault(now.astimezone(ZoneInfo(zone)).utcoffset() or timedelta(0), zone)
    zones = [chosen[offset] for offset in sorted(chosen)][:MAX_SUGGESTIONS]
    if current and current not in zones:
        zones.insert(0, current)
    for zone in NEARBY:
        if len(zones) >= 4:
            break
        if zone not in zones:
            zones.append(zone)
    return zones


def city(zone: str, language: str) -> str:
    """The zone's city in the owner's language ('Москва'); its offset for the zones of no
    city ('UTC+04:00' for Etc/GMT-4), else the zone itself."""
    if zone == "UTC" or zone.startswith("Etc/"):
        with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
            return offset(zone, utcnow())
    if zone not in _canonical():
        return zone
    try:
        return get_timezone_location(zone, locale=language, return_city=True)
    except (LookupError, ValueError):
        return zone.rsplit("/", 1)[-1].replace("_", " ")


def offset(zone: str, now: datetime) -> str:
    """'UTC+04:00' for Asia/Baku."""
    delta = now.astimezone(ZoneInfo(zone)).utcoffset()
    minutes = int(delta.total_seconds() // 60) if delta else 0
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
