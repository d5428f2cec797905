"""Phone number normalisation: E.164 for numbers that can receive WhatsApp.

``PhoneNormaliser(default_region, allow_landlines).normalise(raw)`` returns ``(e164, reason)``:

- ``(e164, None)``: accepted: a MOBILE or FIXED_LINE_OR_MOBILE number (and FIXED_LINE too
  when ``allow_landlines`` is set);
- ``(e164, "landline" | "not_mobile")``: a valid number of a kind that cannot receive WhatsApp
  (a landline; toll free, premium rate, pager, ...). The E.164 form is given for reports;
- ``(None, reason)``: no usable number: ``no_phone`` (blank), ``not_a_phone_number`` (text, no
  digits), ``too_short``, ``too_long``, ``invalid_country_code``, ``invalid_number`` (a possible
  length, but no such numbering range).

The answer is by definition the one of :func:`reference_normalise`, which uses nothing but the
public API of ``phonenumbers`` (~14-70k numbers/s). ``PhoneNormaliser`` gets the same answer
faster:

1. Fast path: a plain number (ASCII digits with spaces, dashes, dots, slashes, parentheses and
   an optional leading ``+``) goes through a re-implementation of the steps
   ``phonenumbers.parse`` + ``number_type`` take for it, on ``phonenumbers``' own
   ``PhoneMetadata``, with the regular expressions compiled once per region (module cache).
2. Memo: every check of that path looks at a bounded prefix of the digits (a regex that is
   ``match``-ed reads at most its maximum width; the metadata patterns, for a given length,
   only constrain the first *k* digits, *k* found by walking the parsed regex). The fast path
   records the longest prefix it looked at; the outcome (country code, where the national
   number starts, number type) is memoised under (``+`` or not, number of digits, that
   prefix). A later number with the same key takes the same path, so it gets the same answer
   without any regex.
3. Anything else (letters, extensions, unknown country codes, non-geographic numbers, invalid
   numbers) goes to ``reference_normalise``, so rejected numbers get their reason from
   ``phonenumbers`` itself.

The tests compare ``normalise`` with ``reference_normalise`` on generated numbers for many
regions and on the benchmark file.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Final

import phonenumbers
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    NumberParseException,
    PhoneMetadata,
    PhoneNumberDesc,
    PhoneNumberFormat,
    PhoneNumberType,
    ValidationResult,
)

try:  # the regex parser of the standard library (private, stable since 3.11)
    from re import _constants as _sre  # type: ignore[attr-defined]  # private, not in typeshed
    from re import _parser as _sre_parse  # type: ignore[attr-defined]  # private, not in typeshed
except ImportError:  # pragma: no cover - then nothing is memoised, results stay exact
    _sre = None
    _sre_parse = None

log = logging.getLogger(__name__)

__all__ = ["ACCEPTED_TYPES", "REASONS", "PhoneNormaliser", "reference_normalise"]

#: Every reason code the normaliser returns.
REASONS: Final = (
    "no_phone",
    "not_a_phone_number",
    "too_short",
    "too_long",
    "invalid_country_code",
    "invalid_number",
    "landline",
    "not_mobile",
)
#: Number types that can receive WhatsApp.
ACCEPTED_TYPES: Final = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})

_PARSE_REASONS: Final = {
    NumberParseException.INVALID_COUNTRY_CODE: "invalid_country_code",
    NumberParseException.NOT_A_NUMBER: "not_a_phone_number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too_short",
    NumberParseException.TOO_SHORT_NSN: "too_short",
    NumberParseException.TOO_LONG: "too_long",
}
_POSSIBLE_REASONS: Final = {
    ValidationResult.TOO_SHORT: "too_short",
    ValidationResult.TOO_LONG: "too_long",
    ValidationResult.INVALID_COUNTRY_CODE: "invalid_country_code",
}


def _type_reason(number_type: int, allow_landlines: bool) -> str | None:
    if number_type in ACCEPTED_TYPES:
        return None
    if number_type == PhoneNumberType.FIXED_LINE:
        return None if allow_landlines else "landline"
    return "not_mobile"


def reference_normalise(
    raw: str, region: str | None, allow_landlines: bool = False
) -> tuple[str | None, str | None]:
    """Normalise ``raw`` with ``phonenumbers`` only: the definition of the right answer."""
    text = raw.strip()
    if not text:
        return None, "no_phone"
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        return None, _PARSE_REASONS.get(exc.error_type, "not_a_phone_number")
    if not phonenumbers.is_valid_number(number):
        possible = phonenumbers.is_possible_number_with_reason(number)
        return None, _POSSIBLE_REASONS.get(possible, "invalid_number")
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return e164, _type_reason(phonenumbers.number_type(number), allow_landlines)


# --- how much of a number a regex looks at --------------------------------------------------

_ALL_DIGITS: Final = frozenset("0123456789")
_UNBOUNDED: Final = 1 << 20  # "the whole number": larger than any digit string we take


def _digit_set(op: Any, av: Any) -> frozenset[str] | None:
    """The digits one single-character regex node accepts (None: a node we do not know)."""
    if _sre is None:  # pragma: no cover
        return None
    if op is _sre.LITERAL:
        return frozenset({chr(av)}) & _ALL_DIGITS
    if op is _sre.NOT_LITERAL:
        return _ALL_DIGITS - {chr(av)}
    if op is _sre.ANY:
        return _ALL_DIGITS
    if op is not _sre.IN:
        return None
    accepted: set[str] = set()
    negate = False
    for item_op, item_av in av:
        if item_op is _sre.NEGATE:
            negate = True
        elif item_op is _sre.LITERAL:
            accepted |= {chr(item_av)} & _ALL_DIGITS
        elif item_op is _sre.RANGE:
            low, high = item_av
            accepted |= {d for d in _ALL_DIGITS if low <= ord(d) <= high}
        elif item_op is _sre.CATEGORY:
            if item_av in (_sre.CATEGORY_DIGIT, _sre.CATEGORY_WORD, _sre.CATEGORY_NOT_SPACE):
                accepted |= _ALL_DIGITS
            elif item_av not in (
                _sre.CATEGORY_NOT_DIGIT,
                _sre.CATEGORY_NOT_WORD,
                _sre.CATEGORY_SPACE,
            ):
                return None
        else:
            return None
    return _ALL_DIGITS - accepted if negate else frozenset(accepted)


_States = set[tuple[int, bool]]  # (position, whether a digit after the prefix is constrained)


def _walk(items: Any, states: _States, prefix: str, length: int) -> _States | None:
    """Run a parsed regex over the ``length``-digit strings that start with ``prefix``.

    The states say where a path through the regex can be, and whether it constrained a digit
    after the prefix. None: a construct we do not analyse."""
    assert _sre is not None
    known = len(prefix)
    for op, av in items:
        if op in (_sre.LITERAL, _sre.NOT_LITERAL, _sre.ANY, _sre.IN):
            digits = _digit_set(op, av)
            if digits is None:
                return None
            constrains = digits != _ALL_DIGITS
            states = {
                (p + 1, constrained or (p >= known and constrains))
                for p, constrained in states
                if p < length and (prefix[p] in digits if p < known else bool(digits))
            }
        elif op is _sre.SUBPATTERN:
            walked = _walk(av[3], states, prefix, length)
            if walked is None:
                return None
            states = walked
        elif op is _sre.BRANCH:
            union: _States = set()
            for branch in av[1]:
                walked = _walk(branch, states, prefix, length)
                if walked is None:
                    return None
                union |= walked
            states = union
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT):
            low, high, sub = av
            current: _States | None = states
            for _ in range(low):
                current = _walk(sub, current, prefix, length) if current else current
                if current is None:
                    return None
            result = set(current or ())
            # each further round consumes a digit or repeats a state: length + 1 rounds reach
            # every state
            for _ in range(min(high - low, length + 1)):
                if not current:
                    break
                current = _walk(sub, current, prefix, length)
                if current is None:
                    return None
                result |= current
            states = result
        else:  # anchors, look-arounds, back-references, possessive repeats...
            return None
        if not states:
            return states
    return states


class _Decider:
    """Fullmatch of one pattern on ``length``-digit strings, and how many leading digits
    decided the answer.

    A prefix decides *no* when no path through the regex accepts it, and *yes* when a path
    accepts it and leaves every later digit free (``\\d``). ``check(s)`` gives the regex's
    answer and the shortest prefix of ``s`` that decides: every string of the same length with
    that prefix gets the same answer."""

    __slots__ = ("_decided", "_items", "_walks_left", "length", "regex")

    # Walking a big pattern costs ~0.1 ms; after this many walks (numbers so varied that
    # prefixes rarely repeat) unknown prefixes are not analysed: the number is its own key.
    WALKS: Final = 512

    def __init__(self, pattern: str, length: int) -> None:
        self.regex = re.compile(pattern)
        self.length = length
        self._decided: dict[str, bool] = {}
        self._items: Any = None
        self._walks_left = self.WALKS
        if _sre_parse is None:  # pragma: no cover
            return
        try:
            items = _sre_parse.parse(pattern)
            if _walk(items, {(0, False)}, "", length) is not None:
                self._items = items
        except Exception:  # pragma: no cover - defensive: a node shape we do not know
            log.debug("cannot analyse %r", pattern, exc_info=True)

    def _decides(self, prefix: str) -> bool:
        states = _walk(self._items, {(0, False)}, prefix, self.length)
        assert states is not None
        ends = [constrained for position, constrained in states if position == self.length]
        return not ends or not all(ends)

    def check(self, number: str) -> tuple[bool, int]:
        answer = self.regex.fullmatch(number) is not None
        if self._items is None or len(number) != self.length:
            return answer, len(number)
        decided = self._decided
        for size in range(len(number)):
            prefix = number[:size]
            decides = decided.get(prefix)
            if decides is None:
                if self._walks_left <= 0:
                    break
                self._walks_left -= 1
                decides = decided[prefix] = self._decides(prefix)
            if decides:
                return answer, size
        return answer, len(number)


def _has_lookaround(items: Any) -> bool:
    assert _sre is not None
    for op, av in items:
        if op in (_sre.ASSERT, _sre.ASSERT_NOT, _sre.GROUPREF, _sre.GROUPREF_EXISTS):
            return True
        if op is _sre.AT and av not in (
            _sre.AT_BEGINNING,
            _sre.AT_BEGINNING_STRING,
            _sre.AT_END,
            _sre.AT_END_STRING,
        ):
            return True
        children: list[Any] = []
        if op is _sre.SUBPATTERN:
            children = [av[3]]
        elif op is _sre.BRANCH:
            children = list(av[1])
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
            children = [av[2]]
        elif op is _sre.ATOMIC_GROUP:
            children = [av]
        if any(_has_lookaround(child) for child in children):
            return True
    return False


def _match_width(pattern: str) -> int:
    """How many leading characters ``re.match(pattern, s)`` can look at, given ``len(s)``.

    Without look-arounds the engine reads at most the pattern's maximum width; ``^``/``$``
    only compare the position with ``len(s)``, which is part of every memo key."""
    if _sre_parse is None:  # pragma: no cover
        return _UNBOUNDED
    try:
        parsed = _sre_parse.parse(pattern)
        if _has_lookaround(parsed):
            return _UNBOUNDED
        high = parsed.getwidth()[1]
    except Exception:  # pragma: no cover - defensive
        log.debug("cannot analyse %r", pattern, exc_info=True)
        return _UNBOUNDED
    return high if high < 64 else _UNBOUNDED


# --- compiled metadata ----------------------------------------------------------------------

_MAX_NSN: Final = 17  # phonenumbers' _MAX_LENGTH_FOR_NSN
_MAX_DIGITS: Final = 24  # longer digit strings go to phonenumbers
_TOO_SHORT: Final = ValidationResult.TOO_SHORT
_TOO_LONG: Final = ValidationResult.TOO_LONG
_LOCAL_ONLY: Final = ValidationResult.IS_POSSIBLE_LOCAL_ONLY
_INVALID_LENGTH: Final = ValidationResult.INVALID_LENGTH
_POSSIBLE: Final = ValidationResult.IS_POSSIBLE
_NO_STRIP_RESULTS: Final = frozenset({_TOO_SHORT, _LOCAL_ONLY, _INVALID_LENGTH})
# The order in which phonenumbers' _number_type_helper tries the special types.
_SPECIAL_TYPES: Final = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
)
_UNKNOWN: Final = PhoneNumberType.UNKNOWN


def _applies(desc: PhoneNumberDesc | None, length: int) -> str | None:
    """The pattern of ``desc`` if phonenumbers' _is_number_matching_desc would try it."""
    if desc is None or not desc.national_number_pattern:
        return None
    if desc.possible_length and length not in desc.possible_length:
        return None
    return str(desc.national_number_pattern)


@dataclass(slots=True)
class _TypeMatcher:
    """_number_type_helper for one national number length: the deciders in its order."""

    general: _Decider | None  # None: no number of this length is valid
    steps: list[tuple[int, _Decider]]  # special types, then fixed line, then mobile
    mobile: _Decider | None  # is a fixed line number also mobile
    # all of it in one regex, for when the digits read do not matter: a look-ahead for the
    # general pattern, then the steps as groups s0, s1, ... (the first that matches wins)
    combined: re.Pattern[str] | None


@dataclass(slots=True)
class _Region:
    """One region's metadata as phonenumbers uses it, every regex compiled once."""

    code: str
    country_code: int
    country_code_str: str
    metadata: PhoneMetadata
    idd: re.Pattern[str] | None
    idd_width: int
    national_prefix: re.Pattern[str] | None
    national_prefix_width: int
    transform_rule: str | None
    general: re.Pattern[str] | None
    leading_digits: re.Pattern[str] | None
    leading_digits_width: int
    same_mobile_and_fixed: bool
    # _test_number_length(n, metadata) depends on len(n) only: its results by length
    length_results: tuple[int, ...]
    general_deciders: list[_Decider | None]
    type_matchers: list[_TypeMatcher | None]

    @classmethod
    def load(cls, code: str) -> _Region | None:
        metadata = PhoneMetadata.metadata_for_region(code, None)
        if metadata is None:
            return None
        general_desc, country_code = metadata.general_desc, metadata.country_code
        # every region's metadata has both (phonenumbers types them optional)
        assert general_desc is not None and country_code is not None
        general = general_desc.national_number_pattern or None
        idd = metadata.international_prefix
        prefix = metadata.national_prefix_for_parsing
        leading = metadata.leading_digits
        region = cls(
            code=code,
            country_code=country_code,
            country_code_str=str(country_code),
            metadata=metadata,
            idd=re.compile(idd) if idd else None,
            idd_width=_match_width(idd) if idd else 0,
            national_prefix=re.compile(prefix) if prefix else None,
            national_prefix_width=_match_width(prefix) if prefix else 0,
            transform_rule=metadata.national_prefix_transform_rule or None,
            general=re.compile(general) if general else None,
            leading_digits=re.compile(leading) if leading is not None else None,
            leading_digits_width=_match_width(leading) if leading is not None else 0,
            same_mobile_and_fixed=bool(metadata.same_mobile_and_fixed_line_pattern),
            length_results=(),
            general_deciders=[None] * (_MAX_DIGITS + 1),
            type_matchers=[None] * (_MAX_NSN + 1),
        )
        region.length_results = tuple(region._test_length(n) for n in range(_MAX_DIGITS + 1))
        return region

    def _test_length(self, length: int) -> int:
        """_test_number_length(n, metadata) for the UNKNOWN type, where len(n) == length."""
        general = self.metadata.general_desc
        assert general is not None  # checked by load
        lengths = tuple(general.possible_length)
        if length in tuple(general.possible_length_local_only):
            return _LOCAL_ONLY
        minimum = lengths[0]
        if minimum == length:
            return _POSSIBLE
        if minimum > length:
            return _TOO_SHORT
        if lengths[-1] < length:
            return _TOO_LONG
        return _POSSIBLE if length in lengths[1:] else _INVALID_LENGTH

    def general_match(self, number: str, track: bool = True) -> tuple[bool, int]:
        """_match_national_number(number, general_desc, False), and the digits it reads
        (0 unless ``track``)."""
        if self.general is None:
            return False, 0
        if not track:
            return self.general.fullmatch(number) is not None, 0
        length = len(number)
        decider = self.general_deciders[length] if length <= _MAX_DIGITS else None
        if decider is None:
            decider = _Decider(self.general.pattern, length)
            if length <= _MAX_DIGITS:
                self.general_deciders[length] = decider
        return decider.check(number)

    def _type_matcher(self, length: int) -> _TypeMatcher:
        metadata = self.metadata
        general = _applies(metadata.general_desc, length)
        mobile = _applies(metadata.mobile, length)
        steps: list[tuple[int, _Decider]] = []
        for attr, number_type in _SPECIAL_TYPES:
            pattern = _applies(getattr(metadata, attr), length)
            if pattern is not None:
                steps.append((number_type, _Decider(pattern, length)))
        fixed = _applies(metadata.fixed_line, length)
        if fixed is not None:
            steps.append((PhoneNumberType.FIXED_LINE, _Decider(fixed, length)))
        if mobile is not None and not self.same_mobile_and_fixed:
            steps.append((PhoneNumberType.MOBILE, _Decider(mobile, length)))
        branches = "|".join(
            f"(?P<s{index}>{decider.regex.pattern})" for index, (_type, decider) in enumerate(steps)
        )
        matcher = _TypeMatcher(
            general=_Decider(general, length) if general is not None else None,
            steps=steps,
            mobile=_Decider(mobile, length) if mobile is not None else None,
            combined=(
                re.compile(f"(?=(?:{general})\\Z)(?:{branches})")
                if general is not None and steps
                else None
            ),
        )
        self.type_matchers[length] = matcher
        return matcher

    def number_type(self, nsn: str, track: bool = True) -> tuple[int, int]:
        """_number_type_helper(nsn, metadata) for 2-17 digits, and the digits it reads
        (0 unless ``track``)."""
        length = len(nsn)
        matcher = self.type_matchers[length] or self._type_matcher(length)
        if matcher.general is None:
            return _UNKNOWN, 0  # decided by the length alone
        if not track:
            if matcher.combined is None:
                return _UNKNOWN, 0
            match = matcher.combined.fullmatch(nsn)
            if match is None:
                return _UNKNOWN, 0
            assert match.lastgroup is not None
            number_type = matcher.steps[int(match.lastgroup[1:])][0]
            if number_type != PhoneNumberType.FIXED_LINE:
                return number_type, 0
            if self.same_mobile_and_fixed or (
                matcher.mobile is not None and matcher.mobile.regex.fullmatch(nsn) is not None
            ):
                return PhoneNumberType.FIXED_LINE_OR_MOBILE, 0
            return PhoneNumberType.FIXED_LINE, 0
        valid, read = matcher.general.check(nsn)
        if not valid:
            return _UNKNOWN, read
        for number_type, decider in matcher.steps:
            hit, width = decider.check(nsn)
            read = max(read, width)
            if not hit:
                continue
            if number_type != PhoneNumberType.FIXED_LINE:
                return number_type, read
            if self.same_mobile_and_fixed:
                return PhoneNumberType.FIXED_LINE_OR_MOBILE, read
            if matcher.mobile is not None:
                mobile, width = matcher.mobile.check(nsn)
                read = max(read, width)
                if mobile:
                    return PhoneNumberType.FIXED_LINE_OR_MOBILE, read
            return PhoneNumberType.FIXED_LINE, read
        return _UNKNOWN, read

    def strip_national_prefix(self, number: str, track: bool = True) -> tuple[str, bool, int]:
        """_maybe_strip_national_prefix_carrier_code(number, metadata)[1], whether a transform
        rule rewrote it, and the leading digits of ``number`` it reads."""
        prefix = self.national_prefix
        if prefix is None or not number:
            return number, False, 0
        read = self.national_prefix_width
        match = prefix.match(number)
        if match is None:
            return number, False, read
        groups = match.groups()
        transformed = not (self.transform_rule is None or not groups or groups[-1] is None)
        # (with a transform rule but no group phonenumbers would fail on groups()[-1]; no
        # metadata has that)
        if transformed:
            assert self.transform_rule is not None
            stripped = prefix.sub(self.transform_rule, number, count=1)
        else:
            stripped = number[match.end() :]
        viable, width = self.general_match(number, track)
        read = max(read, width)
        if viable:
            still_viable, width = self.general_match(stripped, track)
            read = max(read, match.end() + width)
            if not still_viable:
                return number, False, _UNBOUNDED if transformed else read
        # a rewritten number is not a part of the digits: what it depends on is not tracked
        return stripped, transformed, _UNBOUNDED if transformed else read


_REGIONS: dict[str, _Region | None] = {}
_MAIN_REGIONS: dict[int, _Region | None] = {}


def _region(code: str) -> _Region | None:
    try:
        return _REGIONS[code]
    except KeyError:
        region = _REGIONS[code] = _Region.load(code)
        return region


def _main_region(country_code: int) -> _Region | None:
    """The metadata phonenumbers.parse uses for a country code (its main region)."""
    try:
        return _MAIN_REGIONS[country_code]
    except KeyError:
        main = COUNTRY_CODE_TO_REGION_CODE[country_code][0]
        region = _MAIN_REGIONS[country_code] = None if main == "001" else _region(main)
        return region


def _country_code_prefixes() -> dict[str, tuple[int, int]]:
    """_extract_country_code, tabulated by the first three digits: (code, its length)."""
    table: dict[str, tuple[int, int]] = {}
    for number in range(100, 1000):
        digits = str(number)
        for size in (1, 2, 3):
            code = int(digits[:size])
            if code in COUNTRY_CODE_TO_REGION_CODE:
                table[digits] = (code, size)
                break
    return table


_COUNTRY_CODES_BY_PREFIX: Final = _country_code_prefixes()
_PUNCTUATION_BYTES: Final = b" -()./"  # ASCII punctuation phonenumbers ignores anywhere


class PhoneNormaliser:
    """Normalise the numbers of one file, typed in ``default_region`` (e.g. ``"AZ"``).

    Not thread-safe (it memoises); make one per import. ``memo=False`` leaves the memo out
    (the fast path alone, for benchmarks and tests). ``fast_hits`` counts the numbers the fast
    path worked out, ``slow_hits`` those ``phonenumbers`` did; the rest came from the memo
    (at most ``MEMO_LIMIT`` entries).
    """

    MEMO_LIMIT: Final = 100_000

    __slots__ = (
        "_home",
        "_memo",
        "_memo_size",
        "_widths",
        "allow_landlines",
        "default_region",
        "fast_hits",
        "slow_hits",
    )

    def __init__(
        self, default_region: str | None, allow_landlines: bool = False, *, memo: bool = True
    ) -> None:
        self.default_region = default_region.upper() if default_region else None
        self.allow_landlines = allow_landlines
        self._home = _region(self.default_region) if self.default_region else None
        # by number of digits (negative when written with "+"): a leading part of the digits
        # -> ("+" and the country code, where the national number starts, the reason)
        self._memo: dict[int, dict[bytes, tuple[str, int, str | None]]] = {}
        self._widths: dict[int, list[int]] = {}  # the lengths of the keys of each memo
        self._memo_size = 0 if memo else self.MEMO_LIMIT  # memo=False: the fast path alone
        self.fast_hits = 0
        self.slow_hits = 0

    def normalise(self, raw: str) -> tuple[str | None, str | None]:
        """``(e164, None)`` when accepted; otherwise the reason (see the module docstring)."""
        try:
            data = raw.encode("ascii")
        except UnicodeEncodeError:
            if "\u00a0" not in raw:  # a no-break space is the one non-ASCII we take
                return self._slow(raw)
            try:
                data = raw.replace("\u00a0", " ").encode("ascii")
            except UnicodeEncodeError:
                return self._slow(raw)
        digits = data.translate(None, _PUNCTUATION_BYTES)
        if digits.isdigit():  # ASCII digits only, unlike str.isdigit
            key = len(digits)
        elif digits[:1] == b"+" and digits[1:].isdigit():
            digits = digits[1:]
            key = -len(digits)
        else:  # maybe a tab or a line break around it
            digits = data.strip().translate(None, _PUNCTUATION_BYTES)
            if digits[:1] != b"+":
                return self._slow(raw)
            digits = digits[1:]
            if not digits.isdigit():
                return self._slow(raw)
            key = -len(digits)
        memo = self._memo.get(key)
        if memo is not None:
            for width in self._widths[key]:
                known = memo.get(digits[:width])
                if known is not None:
                    prefix, begin, reason = known
                    return prefix + digits[begin:].decode(), reason
        found = self._fast(digits.decode(), key < 0)
        if found is None:
            return self._slow(raw)
        self.fast_hits += 1
        e164, number_type, start, width = found
        reason = _type_reason(number_type, self.allow_landlines)
        if start is not None and width < len(digits) and self._memo_size < self.MEMO_LIMIT:
            self._memo_size += 1
            if memo is None:
                memo = self._memo[key] = {}
                self._widths[key] = []
            if width not in self._widths[key]:
                self._widths[key].append(width)
            memo[digits[:width]] = (e164[: len(e164) - len(digits) + start], start, reason)
        return e164, reason

    def _slow(self, raw: str) -> tuple[str | None, str | None]:
        self.slow_hits += 1
        return reference_normalise(raw, self.default_region, self.allow_landlines)

    def _fast(self, digits: str, plus: bool) -> tuple[str, int, int | None, int] | None:
        """Follow phonenumbers.parse + number_type for a valid number of plain digits.

        Returns (E.164, number type, where the national number starts in ``digits``, how many
        leading digits the steps read) or None to ask phonenumbers. The start is None when a
        transform rule rewrote the number (then it is not a part of ``digits``). The comments
        name phonenumbers' functions.
        """
        total = len(digits)
        if not 7 <= total <= _MAX_DIGITS:
            return None
        track = self._memo_size < self.MEMO_LIMIT  # find what the answer depends on
        home = self._home
        country_code = 0
        start: int | None = 0  # the national number is digits[start:] (None: rewritten)
        national = digits
        # -- _maybe_extract_country_code
        if plus:
            found = _COUNTRY_CODES_BY_PREFIX.get(digits[:3])
            if found is None:
                return None
            country_code, start = found
            national = digits[start:]
            read = 3
        elif home is None:
            return None
        else:
            idd = home.idd.match(digits) if home.idd is not None else None
            read = home.idd_width
            if idd is not None and (idd.end() >= total or digits[idd.end()] != "0"):
                # _parse_prefix_as_idd stripped an international prefix
                begin = idd.end()
                found = _COUNTRY_CODES_BY_PREFIX.get(digits[begin : begin + 3])
                if found is None or total - begin <= 2:
                    return None
                country_code, size = found
                start = begin + size
                national = digits[start:]
                read = max(read, begin + 3)
            else:
                if idd is not None:
                    read = max(read, idd.end() + 1)
                cc_size = len(home.country_code_str)
                read = max(read, cc_size)
                if digits.startswith(home.country_code_str):
                    candidate, transformed, width = home.strip_national_prefix(
                        digits[cc_size:], track
                    )
                    read = max(read, cc_size + width)
                    viable, width = home.general_match(digits, track)
                    read = max(read, width)
                    take = False
                    if not viable:
                        take, width = home.general_match(candidate, track)
                        read = max(read, total - len(candidate) + width)
                    if take or home.length_results[total] == _TOO_LONG:
                        country_code = home.country_code
                        national = candidate
                        start = None if transformed else total - len(candidate)
        # -- parse: strip the national prefix with the metadata of the default region when no
        # country code was found, else of the country code's main region
        number_region: _Region | None
        if country_code == 0:
            assert home is not None
            number_region = home
            country_code = home.country_code
        else:
            number_region = _main_region(country_code)
            if number_region is None:
                return None
        if len(national) < 2:
            return None
        candidate, transformed, width = number_region.strip_national_prefix(national, track)
        if start is not None:
            read = max(read, start + width)
        if number_region.length_results[len(candidate)] not in _NO_STRIP_RESULTS:
            if transformed:
                start = None
            elif start is not None:
                start += len(national) - len(candidate)
            national = candidate
        if not 2 <= len(national) <= _MAX_NSN:
            return None
        # -- region_code_for_number + _number_type_helper
        offset = start or 0
        regions = COUNTRY_CODE_TO_REGION_CODE[country_code]
        number_type = _UNKNOWN
        if len(regions) == 1:
            number_type, width = number_region.number_type(national, track)
            read = max(read, offset + width)
        else:
            for code in regions:
                region = _region(code)
                if region is None:
                    continue
                if region.leading_digits is not None:
                    read = max(read, offset + region.leading_digits_width)
                    if region.leading_digits.match(national):
                        number_type, width = region.number_type(national, track)
                        read = max(read, offset + width)
                        break
                else:
                    number_type, width = region.number_type(national, track)
                    read = max(read, offset + width)
                    if number_type != _UNKNOWN:
                        break
        if number_type == _UNKNOWN:
            return None
        if read >= _UNBOUNDED or not track:
            start = None
        return f"+{country_code}{national}", number_type, start, read
