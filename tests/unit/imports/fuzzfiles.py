"""Contact files for the file fuzz: every format, broken every way we know.

``fuzz_file(seed, index)`` makes one file, always the same for the same pair, so that any
failure can be made again alone::

    python -m tests.unit.imports.fuzzfiles --seed 1 --count 5000          # run, print JSON
    python -m tests.unit.imports.fuzzfiles --seed 1 --only 1234 --save .  # write that file

Families: random bytes (some behind a known magic number); the real sample files of
``tests/data/samples`` mutated (bytes flipped, cut, repeated, NULs, re-encoded, spliced);
generated CSV, TXT and vCards with quotes left open, folded and quoted-printable lines,
pictures, too many numbers, huge fields and lines, NULs and mixed encodings; XLSX (truncated,
damaged, sheet XML mutated, cells far away, zip bombs, shared strings repeated, lying sizes),
ODS (repeats) and XLS (cells far away, shared strings, damaged). ``run`` parses files the way
an import does (``ParseRun``) and counts outcomes; ``worst_cases`` are the 20 MB files per
format that ``bench/file_fuzz_bench.py`` adds.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import random
import resource
import struct
import sys
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

from tests.unit.imports.helpers import _MAIN, column_letter, write_xls, write_xlsx, xls_stream

if TYPE_CHECKING:
    from bot.services.contacts import ContactsService
    from bot.storage.db import Database

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
NAMES = ("contacts.csv", "contacts.txt", "contacts.xlsx", "contacts.vcf")
PHONE_FORMS = ("+994 50 {a} {b} {c}", "050{a}{b}{c}", "(055) {a}-{b}-{c}", "99470{a}{b}{c}",
               "+7 916 {a} {b}{c}", "{a}{b}", "tel:+994-51-{a}-{b}-{c}", "", "abc", "+994 12 4{a}")


def _phone(rng: random.Random) -> str:
    return rng.choice(PHONE_FORMS).format(a=rng.randrange(100, 999), b=rng.randrange(10, 99),
                                          c=rng.randrange(10, 99))


def _text(rng: random.Random, size: int = 12) -> str:
    alphabet = "abc xyzƏəŞşÇçĞğİıÖöÜüАБВабвЖж😀,;\"'\t\\=:.\u00a0"
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(size + 1)))


def _encode(rng: random.Random, text: str) -> bytes:
    encoding = rng.choice(["utf-8", "utf-8", "utf-8-sig", "cp1251", "cp1254", "utf-16",
                           "utf-16-le", "latin-1"])
    return text.encode(encoding, "replace")


# --- mutations ------------------------------------------------------------------------------


def mutate(rng: random.Random, data: bytes, rounds: int | None = None) -> bytes:
    """A few random changes: flips, cuts, repeats, insertions, NULs, long runs."""
    buffer = bytearray(data)
    for _ in range(rounds or rng.randrange(1, 6)):
        size = len(buffer)
        at = rng.randrange(size + 1)
        roll = rng.random()
        if roll < 0.25 and size:
            for _ in range(rng.randrange(1, 8)):
                buffer[rng.randrange(size)] = rng.randrange(256)
        elif roll < 0.4:
            del buffer[at : at + rng.randrange(1, 64)]
        elif roll < 0.5 and size:
            start = rng.randrange(size)
            buffer[at:at] = buffer[start : start + rng.randrange(1, 200)] * rng.randrange(1, 20)
        elif roll < 0.6:
            buffer[at:at] = rng.randbytes(rng.randrange(1, 64))
        elif roll < 0.7:
            buffer[at:at] = b"\x00" * rng.randrange(1, 16)
        elif roll < 0.78:
            buffer[at:at] = bytes([rng.choice(b'"\r\n,;=:\\ ')]) * rng.randrange(1, 3000)
        elif roll < 0.86:
            del buffer[rng.randrange(size + 1) :]  # truncated
        elif roll < 0.93:
            buffer[at:at] = rng.choice([b'"', b"\r", b"\n", b"\r\n ", b"=\r\n", b"BEGIN:VCARD\r\n",
                                        b"END:VCARD\r\n", b"\xef\xbb\xbf", b"\xff\xfe"])
        else:
            buffer = buffer.replace(b"\n", rng.choice([b"\r", b"\r\n", b"\n\n", b""]))
    return bytes(buffer)


def _samples() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(SAMPLES.iterdir())
            if p.suffix in (".csv", ".vcf", ".xlsx")}


def sample_mutation(rng: random.Random, samples: dict[str, bytes]) -> tuple[str, bytes]:
    name = rng.choice(sorted(samples))
    data = samples[name]
    roll = rng.random()
    if roll < 0.15 and not name.endswith(".xlsx"):  # re-encoded
        text = data.decode("utf-8-sig", "replace") if "cp1251" not in name else data.decode(
            "cp1251")
        data = _encode(rng, text)
    elif roll < 0.25:  # spliced with another sample
        other = samples[rng.choice(sorted(samples))]
        data = data[: rng.randrange(len(data) + 1)] + other[rng.randrange(len(other) + 1) :]
    elif roll < 0.35:
        data = data * rng.randrange(2, 200)  # the same rows again and again
    if name.endswith(".xlsx") and rng.random() < 0.5:
        data = _mutate_zip_member(rng, data)
    else:
        data = mutate(rng, data)
    if rng.random() < 0.15:  # named as something else
        name = "renamed" + rng.choice([".csv", ".txt", ".xlsx", ".vcf"])
    return name, data


def _mutate_zip_member(rng: random.Random, data: bytes) -> bytes:
    """The workbook unpacked, one part's XML mutated, packed again."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = {i.filename: archive.read(i.filename) for i in archive.infolist()}
    except (zipfile.BadZipFile, ValueError, EOFError, OSError):  # a spliced or repeated one
        return mutate(rng, data)
    name = rng.choice(sorted(parts))
    parts[name] = mutate(rng, parts[name])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for part, content in parts.items():
            archive.writestr(part, content)
    return buffer.getvalue()


# --- generated text files -------------------------------------------------------------------


def random_file(rng: random.Random) -> tuple[str, bytes]:
    prefix = rng.choice([b"", b"", b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"%PDF",
                         b"BEGIN:VCARD\r\n", b"\xef\xbb\xbf", b"\xff\xfe", b"Name,Phone\n",
                         b"\x89PNG", b"\x1f\x8b"])
    return rng.choice(NAMES), prefix + rng.randbytes(rng.choice([0, 1, 10, 300, 5000, 60_000]))


def csv_file(rng: random.Random, big: bool) -> tuple[str, bytes]:
    delimiter = rng.choice([",", ";", "\t", "|"])
    columns = rng.choice([1, 2, 3, 5, 12])
    if rng.random() < 0.03:
        columns = rng.choice([999, 1000, 1001, 3000])
    headers = [rng.choice(["Name", "Phone", "Telefon", "Ad", "Имя", "City", "", "x", "Phone"])
               for _ in range(columns)]
    lines = [delimiter.join(headers)]
    for _ in range(rng.choice([0, 1, 5, 50, 400])):
        cells = [_phone(rng) if rng.random() < 0.4 else _text(rng) for _ in range(columns)]
        if rng.random() < 0.1:
            cells[rng.randrange(columns)] = '"' + _text(rng, 40).replace('"', '""') + '\n' + '"'
        lines.append(delimiter.join(cells))
    text = rng.choice(["\n", "\r\n", "\r"]).join(lines)
    roll = rng.random()
    if roll < 0.1:  # a quote never closed
        at = rng.randrange(len(text) + 1)
        text = text[:at] + '"' + text[at:] + ("x" * (200_000 if big else 0))
    elif roll < 0.15:  # one huge field
        text += "\n" + "0501112233" + delimiter + "y" * rng.choice([100_000, 140_000])
    elif roll < 0.2:  # a long line
        text += "\n" + "z" * rng.choice([500_000, 1_100_000 if big else 600_000])
    elif roll < 0.25:
        text += "\n" + '"a\nb",' * rng.choice([20_000, 200_000 if big else 30_000])
    data = _encode(rng, text)
    if rng.random() < 0.1:
        data = mutate(rng, data)
    return rng.choice(["contacts.csv", "contacts.csv", "list.txt", "export.xlsx"]), data


def txt_file(rng: random.Random) -> tuple[str, bytes]:
    lines = [_phone(rng) if rng.random() < 0.7 else _text(rng) for _ in range(rng.randrange(60))]
    if rng.random() < 0.1:
        lines.append("0" * rng.choice([10_000, 1_100_000]))
    return "numbers.txt", _encode(rng, rng.choice(["\n", "\r\n"]).join(lines))


def _fold(rng: random.Random, line: str) -> str:
    if len(line) < 30 or rng.random() < 0.5:
        return line
    width = rng.randrange(5, 80)
    return "\r\n ".join(line[i : i + width] for i in range(0, len(line), width))


def vcard_file(rng: random.Random, big: bool) -> tuple[str, bytes]:
    cards = []
    count = rng.choice([1, 3, 20, 200])
    poisoned = rng.randrange(count) if rng.random() < 0.15 else -1  # the card over a limit
    for number in range(count):
        lines = ["BEGIN:VCARD", f"VERSION:{rng.choice(['2.1', '3.0', '4.0'])}"]
        for _ in range(rng.randrange(8)):
            roll = rng.random()
            if roll < 0.35:
                params = rng.choice(["", ";TYPE=CELL", ";CELL", ";TYPE=FAX", ";TYPE=\"cell,voice\"",
                                     ";VALUE=uri", ";ENCODING=QUOTED-PRINTABLE", ";X=\"a:b\"",
                                     ";ENCODING=b", ";CHARSET=windows-1251", ";" * 50])
                lines.append(f"{rng.choice(['', 'item1.'])}TEL{params}:{_phone(rng)}")
            elif roll < 0.5:
                lines.append(f"FN:{_text(rng, 30)}")
            elif roll < 0.6:
                lines.append(f"N:{_text(rng)};{_text(rng)};;;")
            elif roll < 0.65:
                lines.append("N;ENCODING=QUOTED-PRINTABLE:" + "=D0=98=\r\n" * rng.randrange(40)
                             + "x")
            elif roll < 0.7:
                size = rng.choice([100, 5000, 80_000, 2_000_000 if big else 100_000])
                lines.append("PHOTO;ENCODING=b;TYPE=JPEG:" + "\r\n ".join(["QUJD" * 18]
                                                                          * (size // 72)))
            elif roll < 0.75:
                lines.append(rng.choice(["BEGIN:VCARD", "END:VCARD", "END:VCARDX", "BEGIN:X"]))
            else:
                lines.append(f"{rng.choice(['EMAIL', 'NOTE', 'ADR', 'X-A'])}:{_text(rng, 40)}")
        if number == poisoned:
            roll = rng.random()
            if roll < 0.4:
                lines += [f"TEL:+99450{n:07d}" for n in range(rng.choice([99, 100, 101, 1000]))]
            elif roll < 0.7:
                lines.append("FN:" + "w" * rng.choice([60_000, 70_000]))
            else:
                lines.append("FN:a" + "\r\n b" * rng.choice([10_000, 40_000]))
        if rng.random() < 0.9:
            lines.append("END:VCARD")
        cards.append(rng.choice(["\r\n", "\n", "\r"]).join(_fold(rng, x) for x in lines))
    data = _encode(rng, "\r\n".join(cards) + "\r\n")
    if rng.random() < 0.2:
        data = mutate(rng, data)
    return rng.choice(["phone.vcf", "phone.vcf", "phone.vcard", "contacts.txt"]), data


# --- generated workbooks --------------------------------------------------------------------


def _sheet(rng: random.Random) -> list[list[object]]:
    columns = rng.choice([1, 2, 4])
    rows: list[list[object]] = [[rng.choice(["Phone", "Name", "Telefon", "City", ""])
                                 for _ in range(columns)]]
    for _ in range(rng.choice([0, 1, 20, 300])):
        rows.append([rng.choice([994501112233 + rng.randrange(10_000), 9.94551e11, 0.5,
                                 _phone(rng), _text(rng), None])
                     for _ in range(columns)])
    return rows


def _zip(parts: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _xlsx_parts(rng: random.Random) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as folder:
        path = write_xlsx(Path(folder) / "book.xlsx", [("S", _sheet(rng))])
        with zipfile.ZipFile(path) as archive:
            return {i.filename: archive.read(i.filename) for i in archive.infolist()}


def _sheet_xml(body: str, prefix: str = "") -> bytes:
    tag = f"{prefix}:" if prefix else ""
    xmlns = f'xmlns{":" + prefix if prefix else ""}="{_MAIN}"'
    return (f"<{tag}worksheet {xmlns}><{tag}sheetData>{body}</{tag}sheetData>"
            f"</{tag}worksheet>").encode()


def xlsx_file(rng: random.Random, big: bool) -> tuple[str, bytes]:
    parts = _xlsx_parts(rng)
    sheet = "xl/worksheets/sheet1.xml"
    head = '<row r="1"><c r="A1" t="inlineStr"><is><t>Phone</t></is></c></row>'
    roll = rng.random()
    if roll < 0.1:  # a cell far away
        far = f"{column_letter(rng.choice([0, 25, 100, 999, 1000, 16383]))}" \
              f"{rng.choice([2, 1000, 20_000, 1_048_576])}"
        parts[sheet] = _sheet_xml(head + f'<row r="2"><c r="A2"><v>994501112233</v></c></row>'
                                  f'<row r="9"><c r="{far}"><v>1</v></c></row>')
    elif roll < 0.18:  # cells without references, one long row
        cells = "<c><v>1</v></c>" * rng.choice([10, 999, 1001, 50_000])
        parts[sheet] = _sheet_xml(head + f"<row>{cells}</row>" + "<row><c/></row>" * 2000,
                                  rng.choice(["", "x"]))
    elif roll < 0.26:  # a zip bomb
        rows = "<row><c><v>0</v></c></row>" * rng.choice([50_000, 400_000 if big else 100_000])
        parts[sheet] = _sheet_xml(head + rows)
    elif roll < 0.34:  # one shared string in many cells
        text = "s" * rng.choice([100, 20_000, 33_000])
        shared = f'<sst xmlns="{_MAIN}"><si><t>{text}</t></si></sst>'
        parts["xl/sharedStrings.xml"] = shared.encode()
        cells = "".join(f'<c r="{column_letter(c)}{{r}}" t="s"><v>0</v></c>' for c in range(40))
        parts[sheet] = _sheet_xml(head + "".join(f'<row r="{r}">{cells.format(r=r)}</row>'
                                                 for r in range(2, rng.choice([3, 60]))))
    elif roll < 0.4:  # a long cell, in text or in CDATA
        value = "t" * rng.choice([1000, 40_000, 140_000])
        if rng.random() < 0.5:
            value = f"<![CDATA[{value}<{value}]]>"
        parts[sheet] = _sheet_xml(head + f'<row r="2"><c r="A2" t="inlineStr"><is><t>{value}'
                                  "</t></is></c></row>")
    elif roll < 0.5:
        parts[rng.choice(sorted(parts))] = mutate(rng, parts[rng.choice(sorted(parts))])
    data = _zip(parts, rng.choice([zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED]))
    roll = rng.random()
    if roll < 0.1:
        data = data[: rng.randrange(len(data) + 1)]  # truncated
    elif roll < 0.2:
        data = mutate(rng, data, rounds=rng.randrange(1, 4))
    elif roll < 0.25:
        data = _lie_about_a_size(rng, data)
    return rng.choice(["book.xlsx", "book.xlsx", "book.csv"]), data


def _lie_about_a_size(rng: random.Random, data: bytes) -> bytes:
    """Rewrite the declared sizes (local header and directory) of one part."""
    buffer = bytearray(data)
    size = rng.choice([0, 1, 100, 1 << 20, 0xFFFFFFFF])
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = buffer.find(signature)
        while at >= 0 and rng.random() < 0.7:
            if at + offset + 4 <= len(buffer):
                struct.pack_into("<I", buffer, at + offset, size)
            at = buffer.find(signature, at + 4)
    return bytes(buffer)


_ODS_PARTS = {
    "mimetype": b"application/vnd.oasis.opendocument.spreadsheet",
    "META-INF/manifest.xml": (
        b'<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        b'<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.'
        b'opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" '
        b'manifest:media-type="text/xml"/></manifest:manifest>'),
}


def ods_file(rng: random.Random) -> tuple[str, bytes]:
    cell = rng.choice(['<table:table-cell office:value-type="float" office:value="1">'
                       "<text:p>1</text:p></table:table-cell>",
                       '<table:table-cell office:value-type="string"><text:p>'
                       + "o" * rng.choice([10, 5000]) + "</text:p></table:table-cell>"])
    repeated_cell = cell.replace("<table:table-cell ", "<table:table-cell table:number-columns"
                                 f'-repeated="{rng.choice([1, 1, 3, 10, 999, 5000])}" ', 1)
    rows = ('<table:table-row><table:table-cell office:value-type="string"><text:p>Phone'
            '</text:p></table:table-cell></table:table-row><table:table-row>'
            '<table:table-cell office:value-type="string"><text:p>0501112233</text:p>'
            "</table:table-cell></table:table-row>"
            f'<table:table-row table:number-rows-repeated="{rng.choice([1, 1, 100, 10_000])}">'
            f"{repeated_cell}</table:table-row>")
    if rng.random() < 0.3:
        rows += '<table:table-row table:number-rows-repeated="1048000"/>' + rows[-200:]
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content '
               'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body>'
               f'<office:spreadsheet><table:table table:name="S">{rows}</table:table>'
               "</office:spreadsheet></office:body></office:document-content>").encode()
    if rng.random() < 0.2:
        content = mutate(rng, content)
    data = _zip({**_ODS_PARTS, "content.xml": content})
    return "table.xlsx", data


def xls_file(rng: random.Random) -> tuple[str, bytes]:
    cells: list[tuple[int, int, object]] = [(0, 0, "Phone"), (0, 1, "Name")]
    cells += [(r, c, rng.choice([994501112233 + r, _text(rng), 0.25]))
              for r in range(1, rng.choice([2, 30, 300])) for c in range(2)]
    if rng.random() < 0.2:
        cells.append((rng.choice([100, 20_000, 65_535]), rng.choice([1, 100, 255, 3000]), 1))
    dimensions = rng.choice([None, None, (10, 2), (70_000, 300), (4_000_000_000, 65_535)])
    stream = xls_stream(cells, dimensions)
    if rng.random() < 0.3:
        stream = mutate(rng, stream, rounds=rng.randrange(1, 4))
    with tempfile.TemporaryDirectory() as folder:
        data = write_xls(Path(folder) / "book.xls", stream).read_bytes()
    if rng.random() < 0.3:
        data = mutate(rng, data, rounds=rng.randrange(1, 3))
    return rng.choice(["old.xlsx", "old.csv"]), data


# --- the fuzz -------------------------------------------------------------------------------

FAMILIES: tuple[tuple[str, float], ...] = (
    ("random", 0.10), ("sample", 0.22), ("csv", 0.16), ("txt", 0.06), ("vcard", 0.18),
    ("xlsx", 0.16), ("ods", 0.04), ("xls", 0.08),
)
_SAMPLES: dict[str, bytes] | None = None


def fuzz_file(seed: int, index: int, *, big: bool = False) -> tuple[str, str, bytes]:
    """``(family, file name, content)`` of the ``index``-th file of a seed."""
    global _SAMPLES
    rng = random.Random(f"{seed}:{index}")
    family = rng.choices([f for f, _ in FAMILIES], [w for _, w in FAMILIES])[0]
    if family == "random":
        name, data = random_file(rng)
    elif family == "sample":
        if _SAMPLES is None:
            _SAMPLES = _samples()
        name, data = sample_mutation(rng, _SAMPLES)
    elif family == "csv":
        name, data = csv_file(rng, big)
    elif family == "txt":
        name, data = txt_file(rng)
    elif family == "vcard":
        name, data = vcard_file(rng, big)
    elif family == "xlsx":
        name, data = xlsx_file(rng, big)
    elif family == "ods":
        name, data = ods_file(rng)
    else:
        name, data = xls_file(rng)
    return family, name, data


def parse_file(path: Path, name: str) -> str:
    """Parse as an import does; ``ok`` or the reason of the refusal (``UnreadableFile``)."""
    from bot.services.imports import UnreadableFile
    from bot.services.imports.worker import ParseOptions, ParseRun

    try:
        with ParseRun(ParseOptions(path, name, "AZ", False, 1_000_000), in_process=False) as run:
            for _batch in run:
                pass
    except UnreadableFile as exc:
        return exc.reason
    return "ok"


def peak_rss_mb() -> float:
    """This process's peak RSS since it began (Linux: VmHWM; ru_maxrss would also count the
    parent's memory at the fork that started it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _serve(connection: Connection) -> None:
    """The parsing process: parse each file it is sent, answer (outcome, error, seconds,
    peak RSS). Its peak RSS is the parse's alone: files are made by the other process."""
    connection.send(("ready", None, 0.0, peak_rss_mb()))
    while (job := connection.recv()) is not None:
        path, name = job
        began = time.perf_counter()
        error = None
        try:
            outcome = parse_file(Path(path), name)
        except Exception as exc:  # a crash is what we look for
            outcome, error = "crash", repr(exc)[:300]
        except BaseException as exc:  # a panic in Rust code (pyo3's PanicException)
            if type(exc).__name__ != "PanicException":
                raise
            outcome, error = "crash", repr(exc)[:300]
        connection.send((outcome, error, time.perf_counter() - began, peak_rss_mb()))


class ParserProcess:
    """A child process that parses files one at a time (``spawn``: as the import's)."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), daemon=True,
                                        name="qasid-fuzz-parser")
        self._process.start()
        child.close()
        self.base_rss_mb = self._connection.recv()[3]

    def parse(self, path: Path, name: str, timeout: float) -> tuple[str, str | None, float,
                                                                    float]:
        """(outcome, error, seconds, peak RSS in MB); ``died`` or ``timeout`` when the
        process did not answer (it is then of no more use)."""
        self._connection.send((str(path), name))
        if not self._connection.poll(timeout):
            self.close()
            return "timeout", f"no answer in {timeout:.0f} s", timeout, 0.0
        try:
            return self._connection.recv()
        except EOFError:
            self._process.join(5)
            return "died", f"the parsing process ended ({self._process.exitcode})", 0.0, 0.0

    def close(self) -> None:
        if self._process.is_alive():
            try:
                self._connection.send(None)
                self._process.join(5)
            except OSError:
                pass
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)
        self._connection.close()


@dataclass
class FuzzStats:
    inputs: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # ok, or the refusal's reason
    families: Counter[str] = field(default_factory=Counter)
    crashes: list[dict[str, object]] = field(default_factory=list)
    slowest: tuple[float, str] = (0.0, "")
    peak_rss_mb: float = 0.0  # of the parsing process
    base_rss_mb: float = 0.0  # of the parsing process before its first file
    peak_file: str = ""
    seconds: float = 0.0

    def as_json(self) -> dict[str, object]:
        return {"inputs": self.inputs, "outcomes": dict(self.outcomes),
                "families": dict(self.families), "crashes": self.crashes,
                "slowest_seconds": round(self.slowest[0], 3), "slowest_file": self.slowest[1],
                "peak_rss_mb": round(self.peak_rss_mb, 1), "peak_file": self.peak_file,
                "base_rss_mb": round(self.base_rss_mb, 1), "seconds": round(self.seconds, 1)}


def run(files: Iterable[tuple[str, str, str, bytes]], *, timeout: float = 120.0) -> FuzzStats:
    """Parse each ``(label, family, name, content)`` in a parsing process of its own; a
    crash is anything but the importer's refusal (another exception, the process dying or
    hanging). The peak RSS is that process's; the file during which it grew last is named."""
    stats = FuzzStats()
    started = time.perf_counter()
    parser: ParserProcess | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="qasid-fuzz-") as folder:
            for label, family, name, data in files:
                if parser is None:
                    parser = ParserProcess()
                    stats.base_rss_mb = stats.base_rss_mb or parser.base_rss_mb
                path = Path(folder) / ("upload" + Path(name).suffix.lower())
                path.write_bytes(data)
                stats.inputs += 1
                stats.families[family] += 1
                outcome, error, took, rss = parser.parse(path, name, timeout)
                described = f"{label} {name} ({len(data):,} bytes)"
                if error is not None:
                    stats.outcomes["crash"] += 1
                    stats.crashes.append({"file": label, "name": name, "outcome": outcome,
                                          "error": error})
                    if outcome in ("died", "timeout"):
                        parser.close()
                        parser = None
                else:
                    stats.outcomes[outcome] += 1
                if took > stats.slowest[0]:
                    stats.slowest = (took, described)
                if rss > stats.peak_rss_mb:
                    stats.peak_rss_mb, stats.peak_file = rss, described
    finally:
        if parser is not None:
            parser.close()
    stats.seconds = time.perf_counter() - started
    return stats


def generated(seed: int, indexes: Iterable[int], big: bool = False,
              ) -> Iterator[tuple[str, str, str, bytes]]:
    for index in indexes:
        family, name, data = fuzz_file(seed, index, big=big)
        yield f"seed {seed} #{index} ({family})", family, name, data


@dataclass
class ImportStats:
    files: int = 0
    imported: int = 0
    refused: int = 0
    partial: list[str] = field(default_factory=list)  # refused yet written, or written in part
    crashes: list[str] = field(default_factory=list)  # anything but a ValidationError


async def _table_sizes(db: Database) -> tuple[int, int, int]:
    sizes = []
    for table in ("contacts", "contact_lists", "list_members"):
        async with db.reader.execute(f"SELECT COUNT(*) FROM {table}") as cursor:
            row = await cursor.fetchone()
            sizes.append(int(row[0]) if row else 0)
    return sizes[0], sizes[1], sizes[2]


async def whole_imports(service: ContactsService, db: Database, owner_id: int,
                        files: Iterable[tuple[str, str, str, bytes]], folder: Path,
                        ) -> ImportStats:
    """Each file through the whole import (upload, new list, parse, the SQLite writer), as
    the owner's chat does it. A refused file must leave no contact, list or member behind;
    an imported one exactly its new contacts, its list and a member per valid number."""
    from bot.errors import ValidationError

    stats = ImportStats()
    for label, _family, name, data in files:
        stats.files += 1
        path = folder / f"upload{Path(name).suffix.lower()}"
        path.write_bytes(data)
        before = await _table_sizes(db)
        try:
            record = await service.receive_file(owner_id, f"file-{stats.files}", name, len(data))
            record = await service.claim_import(owner_id, record.id, None)
            report = await service.run_import(
                owner_id, record, path, rejected_path=folder / "rejected.csv",
                reason_text=str, rejected_headings=("line", "reason"))
        except ValidationError:  # what the owner is told
            stats.refused += 1
            if await _table_sizes(db) != before:
                stats.partial.append(f"{label} {name}: refused, yet written")
            continue
        except Exception as exc:
            stats.crashes.append(f"{label} {name}: {exc!r}"[:300])
            continue
        stats.imported += 1
        after = await _table_sizes(db)
        written = tuple(a - b for a, b in zip(after, before, strict=True))
        if written != (report.imported, 1, report.imported + report.updated):
            stats.partial.append(f"{label} {name}: wrote {written} for {report}")
    return stats


# --- worst cases (the bench) ----------------------------------------------------------------


def worst_cases(megabytes: int = 20) -> Iterator[tuple[str, str, bytes]]:
    """``(label, file name, content)``: files of about ``megabytes`` MB built to hurt."""
    size = megabytes * 1024 * 1024
    card = ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Name {n}\r\nTEL;TYPE=CELL:+99450{n:07d}\r\n"
            "END:VCARD\r\n")
    yield "vCard, small cards", "phone.vcf", "".join(
        card.format(n=n % 10**7) for n in range(size // 75)).encode()
    yield "vCard, a line folded on and on", "phone.vcf", (
        "BEGIN:VCARD\r\nFN:x" + "\r\n yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy" * (size // 44)
        + "\r\nEND:VCARD\r\n").encode()
    yield "vCard, quoted-printable soft breaks", "phone.vcf", (
        "BEGIN:VCARD\r\nVERSION:2.1\r\nN;ENCODING=QUOTED-PRINTABLE:" + "=D0=98=\r\n" * (size // 9)
        + "x\r\nEND:VCARD\r\n").encode()
    yield "vCard, a folded picture", "phone.vcf", (
        "BEGIN:VCARD\r\nFN:x\r\nPHOTO;ENCODING=b:" + "\r\n QUJDQUJDQUJDQUJDQUJDQUJD" * (size // 27)
        + "\r\nTEL:0501112233\r\nEND:VCARD\r\n").encode()
    yield "vCard, a million numbers in a card", "phone.vcf", (
        "BEGIN:VCARD\r\nFN:x\r\n" + "TEL:0501112233\r\n" * (size // 16) + "END:VCARD\r\n").encode()
    yield "vCard, lines ending in =", "phone.vcf", (
        "BEGIN:VCARD\r\n" + "a=\r\n" * (size // 4) + "END:VCARD\r\n").encode()
    yield "CSV, an unclosed quote", "contacts.csv", (
        'Name,Phone\n"Ali,0501112233\n' + "Leyla,0551112233\n" * (size // 17)).encode()
    yield "CSV, rows of a million cells", "contacts.csv", (
        "Name,Phone\n" + ("ab," * (1_500_000) + "\n") * (size // 4_500_000)).encode()
    yield "CSV, quoted line breaks in one record", "contacts.csv", (
        "Name,Phone\n" + '"a\nb",' * (size // 6)).encode()
    yield "CSV, 700,000 rows", "contacts.csv", ("Name,Phone,City\n" + "".join(
        f"Name {n},+99450{n:07d},Baku\n" for n in range(size // 30))).encode()
    yield "CSV, one number repeated", "contacts.csv", (
        "Name,Phone\n" + '"a""b",0501112233\n' * (size // 18)).encode()
    yield "TXT, one number a line", "numbers.txt", (
        "".join(f"050{n % 10**7:07d}\n" for n in range(size // 11))).encode()
    yield "TXT, 4 MB lines", "numbers.txt", (("0" * (4 << 20) + "\n") * (megabytes // 4)).encode()
    yield from _worst_workbooks(size)


def _worst_workbooks(size: int) -> Iterator[tuple[str, str, bytes]]:
    with tempfile.TemporaryDirectory() as folder:
        path = write_xlsx(Path(folder) / "book.xlsx", [("S", [["Phone"]])])
        with zipfile.ZipFile(path) as archive:
            parts = {i.filename: archive.read(i.filename) for i in archive.infolist()}
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", b'<Relationship Id="rId9" Type="http://schemas.openxmlformats.org/'
        b'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
        b"</Relationships>")
    head = '<row r="1"><c r="A1" t="inlineStr"><is><t>Phone</t></is></c></row>'
    rows = "".join(f'<row r="{r}"><c r="A{r}"><v>{994500000000 + r}</v></c>'
                   f'<c r="B{r}"><v>{r}</v></c></row>' for r in range(2, 749_000))
    yield "XLSX, 1.5 million cells (the limit)", "book.xlsx", _zip(
        {**parts, "xl/worksheets/sheet1.xml": _sheet_xml(head + rows)})
    yield "XLSX, a zip bomb of 2 GB", "book.xlsx", _bomb(parts, head)
    yield "XLSX, a cell at XFD1048576", "book.xlsx", _zip(
        {**parts, "xl/worksheets/sheet1.xml": _sheet_xml(
            head + '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')})
    shared = f'<sst xmlns="{_MAIN}"><si><t>{"s" * 32_000}</t></si></sst>'.encode()
    cells = "".join(f'<c r="{column_letter(c)}{{r}}" t="s"><v>0</v></c>' for c in range(1, 33))
    yield "XLSX, one 32 KB shared string in 30,000 cells", "book.xlsx", _zip(
        {**parts, "xl/sharedStrings.xml": shared, "xl/worksheets/sheet1.xml": _sheet_xml(
            head + "".join(f'<row r="{r}"><c r="A{r}"><v>99450111{r:04d}</v></c>'
                           f"{cells.format(r=r)}</row>" for r in range(2, 1000)))})
    content = (b'<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:'
               b'office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
               b'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body>'
               b'<office:spreadsheet><table:table table:name="S"><table:table-row '
               b'table:number-rows-repeated="1000"><table:table-cell table:number-columns-'
               b'repeated="1000" office:value-type="string"><text:p>' + b"o" * 30_000
               + b"</text:p></table:table-cell></table:table-row></table:table>"
               b"</office:spreadsheet></office:body></office:document-content>")
    yield "ODS, a 30 KB cell repeated a million times", "table.xlsx", _zip(
        {**_ODS_PARTS, "content.xml": content})
    yield "XLS, cells at the far corner", "old.xlsx", _xls_bytes(
        [(0, 0, "Phone"), (1, 0, 994501112233), (65_535, 255, 1)])
    yield "XLS, 60,000 rows", "old.xlsx", _xls_bytes(
        [(0, 0, "Phone")] + [(r, 0, 994500000000 + r) for r in range(1, 60_000)])


def _bomb(parts: dict[str, bytes], head: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            if name != "xl/worksheets/sheet1.xml":
                archive.writestr(name, data)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(f'<worksheet xmlns="{_MAIN}"><sheetData>{head}'.encode())
            block = b"<row><c><v>994501112233</v></c></row>" * 50_000
            for _ in range(1000):
                sheet.write(block)
            sheet.write(b"</sheetData></worksheet>")
    return buffer.getvalue()


def _xls_bytes(cells: list[tuple[int, int, object]]) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        return write_xls(Path(folder) / "old.xls", xls_stream(cells)).read_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--big", action="store_true", help="some files of several MB")
    parser.add_argument("--only", type=int, help="just this file")
    parser.add_argument("--save", type=Path, help="with --only: write the file there")
    options = parser.parse_args()
    if options.only is not None:
        family, name, data = fuzz_file(options.seed, options.only, big=options.big)
        if options.save:
            (options.save / name).write_bytes(data)
        print(json.dumps({"family": family, "name": name, "bytes": len(data),
                          "outcome": run(iter([("only", family, name, data)])).as_json()}))
        return
    stats = run(generated(options.seed, range(options.count), options.big))
    print(json.dumps(stats.as_json()))


if __name__ == "__main__":
    sys.exit(main())
