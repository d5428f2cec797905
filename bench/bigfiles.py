"""The big contact files the benchmarks read, made once and cached in bench/data/.

The CSV comes from ``tests/data/samples/make_samples.py big N FILE``; the XLSX holds its
first rows, phones that are plain digits stored as number cells, as Excel exports them.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
MAKE_SAMPLES = ROOT / "tests" / "data" / "samples" / "make_samples.py"


def make_csv(rows: int) -> Path:
    path = DATA / f"big_{rows}.csv"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(MAKE_SAMPLES), "big", str(rows), str(path)],
                       check=True)
    return path


def make_xlsx(source: Path, rows: int) -> Path:
    import xlsxwriter

    path = DATA / f"big_{rows}.xlsx"
    if path.exists():
        return path
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("Contacts")
    with source.open(encoding="utf-8", newline="") as fh:
        for r, row in enumerate(csv.reader(fh)):
            if r > rows:
                break
            for c, value in enumerate(row):
                if r and c == 1 and value.isdigit():
                    sheet.write_number(r, c, int(value))
                else:
                    sheet.write_string(r, c, value)
    book.close()
    return path
