"""Telegram message formatting (text + entities) as WhatsApp markup. Pure.

    bold *x*   italic _x_   strikethrough ~x~   code `x`   pre ```x```
    blockquote: "> " before each line   text_link: "text (url)", or the url when text == url
    underline, spoiler, mention, hashtag, url, ... : the text as it is

WhatsApp only sees a marker next to a non-space character, so markers go around the
trimmed content (spaces stay outside) and an all-space range gets none. Inline styles are
closed at line ends and reopened on the next line; ranges that cross are split so that
markers nest (bold "a b" + italic "b c" -> ``*a _b_* _c_``); nothing is added inside code or
pre except the quote prefix. Telegram counts offsets in UTF-16 code units: they are converted here.

The result is WhatsApp text, not a template: markup characters already in the text stay,
and a caller that stores it as a template may pass ``escape_url`` to quote link addresses
(``template_engine.escape``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Entity", "to_whatsapp"]

_MARKERS = {"bold": "*", "italic": "_", "strikethrough": "~", "code": "`", "pre": "```"}
_INLINE = ("bold", "italic", "strikethrough")  # order = nesting for one range: *_~x~_*
_CODE = ("code", "pre")
_QUOTES = ("blockquote", "expandable_blockquote")


@dataclass(frozen=True, slots=True)
class Entity:
    """A Telegram message entity, as plain data (offsets in UTF-16 code units)."""

    type: str
    offset: int
    length: int
    url: str | None = None  # for text_link


def _utf16_to_index(text: str) -> list[int]:
    """For each UTF-16 offset 0..len16, the str index it falls on (mid-pair: the next)."""
    index: list[int] = []
    for i, char in enumerate(text):
        index.append(i)
        if ord(char) > 0xFFFF:
            index.append(i + 1)
    index.append(len(text))
    return index


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching ranges joined."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _split_lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    pieces = []
    while (newline := text.find("\n", start, end)) != -1:
        pieces.append((start, newline))
        start = newline + 1
    pieces.append((start, end))
    return pieces


def _outside(start: int, end: int, code: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of [start, end) that are not inside code; code wholly within stays in."""
    parts = [(start, end)]
    for code_start, code_end in code:
        kept = []
        for s, e in parts:
            if code_end <= s or code_start >= e or (s <= code_start and code_end <= e):
                kept.append((s, e))
                continue
            if s < code_start:
                kept.append((s, code_start))
            if code_end < e:
                kept.append((code_end, e))
        parts = kept
    return parts


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _nest(pieces: list[tuple[int, int, str]]) -> list[tuple[int, int, str, int]]:
    """Split crossing ranges so that they nest; each with its opening order."""
    if not pieces:
        return []
    rank = {kind: n for n, kind in enumerate((*_INLINE, *_CODE))}
    starting: dict[int, list[tuple[int, str]]] = {}
    for start, end, kind in pieces:
        starting.setdefault(start, []).append((end, kind))
    points = sorted({p for start, end, _ in pieces for p in (start, end)})
    stack: list[list] = []  # [start, end, kind, order]
    nested: list[tuple[int, int, str, int]] = []
    order = 0
    for point in points:
        reopen: list[tuple[int, str]] = []
        first_done = next((n for n, item in enumerate(stack) if item[1] <= point), None)
        if first_done is not None:
            while len(stack) > first_done:
                start, end, kind, opened = stack.pop()
                nested.append((start, point, kind, opened))
                if end > point:
                    reopen.append((end, kind))
        # The one that lasts longest goes outside; for one range: bold, italic, ..., code.
        for end, kind in sorted(reopen + starting.get(point, []),
                                key=lambda item: (-item[0], rank[item[1]])):
            stack.append([point, end, kind, order])
            order += 1
    return nested


def _same_link(text: str, url: str) -> bool:
    def bare(value: str) -> str:
        value = value.strip().lower()
        for prefix in ("https://", "http://", "mailto:", "tel:"):
            if value.startswith(prefix):
                value = value[len(prefix):]
        return value.removeprefix("www.").rstrip("/")

    return text.strip() == url.strip() or bare(text) == bare(url)


def to_whatsapp(text: str, entities: Sequence[Entity], *,
                escape_url: Callable[[str], str] | None = None) -> str:
    """``text`` with its Telegram formatting written as WhatsApp markup.

    ``escape_url`` (e.g. ``template_engine.escape``) is applied to link addresses added to
    the text, for a caller that will read the result as a template.
    """
    if not entities:
        return text
    index = _utf16_to_index(text)
    last = len(index) - 1

    def span(entity: Entity) -> tuple[int, int]:
        start = index[min(max(entity.offset, 0), last)]
        end = index[min(max(entity.offset + entity.length, 0), last)]
        return start, end

    by_kind: dict[str, list[tuple[int, int]]] = {}
    links: list[tuple[int, int, str]] = []
    for entity in entities:
        start, end = span(entity)
        if start >= end:
            continue
        if entity.type == "text_link" and entity.url:
            links.append((start, end, entity.url))
        elif entity.type in _MARKERS or entity.type in _QUOTES:
            kind = "blockquote" if entity.type in _QUOTES else entity.type
            by_kind.setdefault(kind, []).append((start, end))

    # Code and pre: the first of overlapping ones wins; nothing is marked inside them.
    code: list[tuple[int, int]] = []
    code_pieces: list[tuple[int, int, str]] = []
    code_ranges = sorted((start, -end, kind) for kind in _CODE for start, end in
                         by_kind.get(kind, []))
    for start, neg_end, kind in code_ranges:
        end = -neg_end
        if any(start < e and s < end for s, e in code):
            continue
        code.append((start, end))
        if kind == "pre":
            if not text[start:end].isspace():
                code_pieces.append((start, end, kind))
        else:
            for s, e in _split_lines(text, start, end):
                s, e = _trim(text, s, e)
                if s < e:
                    code_pieces.append((s, e, kind))

    pieces = list(code_pieces)
    for kind in _INLINE:
        for start, end in _merge(by_kind.get(kind, [])):
            for line_start, line_end in _split_lines(text, start, end):
                for s, e in _outside(line_start, line_end, code):
                    s, e = _trim(text, s, e)
                    if s < e:
                        pieces.append((s, e, kind))

    # Insertions at each position: closing markers, link addresses, quote prefix, opening.
    closing: dict[int, list[tuple[int, str]]] = {}
    opening: dict[int, list[tuple[int, str]]] = {}
    for start, end, kind, order in _nest(pieces):
        if kind != "pre":
            start, end = _trim(text, start, end)
        if start < end:
            opening.setdefault(start, []).append((order, _MARKERS[kind]))
            closing.setdefault(end, []).append((-order, _MARKERS[kind]))
    after: dict[int, list[str]] = {}
    for start, end, url in sorted(links):
        trimmed_start, trimmed_end = _trim(text, start, end)
        if trimmed_start == trimmed_end:
            after.setdefault(end, []).append(escape_url(url) if escape_url else url)
        elif not _same_link(text[start:end], url):
            address = escape_url(url) if escape_url else url
            after.setdefault(trimmed_end, []).append(f" ({address})")
    quote_lines: set[int] = set()
    for start, end in _merge(by_kind.get("blockquote", [])):
        quote_lines.update(p for p in range(start, end) if p == start or text[p - 1] == "\n")

    out: list[str] = []
    position = 0
    for point in sorted({*closing, *opening, *after, *quote_lines}):
        out.append(text[position:point])
        out.extend(marker for _, marker in sorted(closing.get(point, [])))
        out.extend(after.get(point, []))
        if point in quote_lines:
            out.append("> ")
        out.extend(marker for _, marker in sorted(opening.get(point, [])))
        position = point
    out.append(text[position:])
    return "".join(out)
