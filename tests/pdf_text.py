"""Reading back the text of a PDF that fpdf2 wrote, without a PDF library.

fpdf2 writes text in an embedded TrueType font as glyph codes (two bytes each) inside
``(...) Tj`` strings, and tells what each code means in the font's ``/ToUnicode`` CMap.
``pdf_text`` follows the page's fonts (``/F1 11 Tf``) and maps every string back through
its font's CMap, so a test sees the text a reader's viewer would (and a letter the font
lacks would not map back). Only what fpdf2 writes is understood: objects with optional
FlateDecode streams, literal strings, ``Tf``, ``Tj`` and ``TJ``.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator

_OBJECT = re.compile(rb"(\d+) 0 obj\s*(.*?)\s*endobj", re.S)
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("f"): 12}


def objects(pdf: bytes) -> dict[int, bytes]:
    return {int(m[1]): m[2] for m in _OBJECT.finditer(pdf)}


def stream(body: bytes) -> bytes:
    found = _STREAM.search(body)
    assert found is not None, body[:200]
    data = found[1]
    return zlib.decompress(data) if b"/FlateDecode" in body[:found.start()] else data


def _cmap(data: bytes) -> dict[int, str]:
    table: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", data, re.S):
        for code, text in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            table[int(code, 16)] = bytes.fromhex(text.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", data, re.S):
        for low, high, first in re.findall(
                rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            start = ord(bytes.fromhex(first.decode()).decode("utf-16-be"))
            for n, code in enumerate(range(int(low, 16), int(high, 16) + 1)):
                table[code] = chr(start + n)
    return table


def _literals(content: bytes) -> Iterator[tuple[bytes, list[bytes]]]:
    """(operator, operands) of the content stream: strings decoded, names as bytes."""
    i = 0
    operands: list[bytes] = []
    while i < len(content):
        c = content[i:i + 1]
        if c == b"(":
            depth, i, out = 1, i + 1, bytearray()
            while depth:
                ch = content[i]
                if ch == 0x5C:  # backslash
                    nxt = content[i + 1]
                    if nxt in b"01234567":
                        digits = re.match(rb"[0-7]{1,3}", content[i + 1:i + 4])
                        assert digits is not None
                        out.append(int(digits[0], 8))
                        i += 1 + len(digits[0])
                        continue
                    out.append(_ESCAPES.get(nxt, nxt))
                    i += 2
                    continue
                if ch == 0x28:
                    depth += 1
                elif ch == 0x29:
                    depth -= 1
                    if not depth:
                        break
                out.append(ch)
                i += 1
            operands.append(_Text(out))
            i += 1
        elif c in b"[]":
            i += 1
        elif c.isspace():
            i += 1
        else:
            token = re.match(rb"[^\s()\[\]]+", content[i:])
            assert token is not None
            word = token[0]
            i += len(word)
            if re.fullmatch(rb"[A-Za-z'\"*]+", word):
                yield word, operands
                operands = []
            else:
                operands.append(word)


def pdf_text(pdf: bytes) -> list[str]:
    """Each string the pages show, in the order drawn, as text."""
    objs = objects(pdf)
    fonts: dict[bytes, dict[int, str]] = {}
    for body in objs.values():
        for name, ref in re.findall(rb"/(F\d+) (\d+) 0 R", body):
            font = objs[int(ref)]
            unicode_ref = re.search(rb"/ToUnicode (\d+) 0 R", font)
            if unicode_ref is not None:
                fonts[name] = _cmap(stream(objs[int(unicode_ref[1])]))
    shown: list[str] = []
    for body in objs.values():
        if re.search(rb"/Type /Page(?!s)", body) is None:
            continue
        contents = re.search(rb"/Contents (\d+) 0 R", body)
        assert contents is not None
        font: dict[int, str] = {}
        for operator, operands in _literals(stream(objs[int(contents[1])])):
            if operator == b"Tf":
                font = fonts[operands[0].lstrip(b"/")]
            elif operator in (b"Tj", b"TJ"):
                text = "".join(
                    "".join(font.get(int.from_bytes(s[n:n + 2], "big"), "\ufffd")
                            for n in range(0, len(s), 2))
                    for s in operands if isinstance(s, _Text))
                shown.append(text)
    return shown


class _Text(bytes):
    """A string operand (the others are numbers and names, left as their bytes)."""
