"""Contact parsing speed, without a database: read + find columns + normalise + dedupe.

    python bench/parse_bench.py [CSV_ROWS] [XLSX_ROWS]      (defaults 1,000,000 and 100,000)

The CSV comes from ``tests/data/samples/make_samples.py big N FILE``; the XLSX holds the first
XLSX_ROWS rows of it (numbers as number cells, like a real export; see ``bigfiles.py``).
Both are cached in bench/data/ (gitignored). Each file is parsed in a
fresh process, so the peak RSS printed is that parse's own. Then the normaliser alone: the
memo + fast path, the fast path alone, and phonenumbers, on numbers from the CSV.

Aim: parse + normalise >= 250,000 rows/s for CSV (so that DB writes fit in the end-to-end
budget of 100,000 rows/s), >= 100,000 rows/s for XLSX, peak RSS < 200 MB for 1M CSV rows.
"""

from __future__ import annotations

import csv
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from bigfiles import make_csv, make_xlsx  # noqa: E402


def measure(path: Path) -> dict[str, float | int | str]:
    """Parse a file to the end (run in a child process)."""
    from bot.services.imports import parse_contacts

    started = time.perf_counter()
    with parse_contacts(path, path.name, "AZ") as job:
        for _batch in job.batches():
            pass
    seconds = time.perf_counter() - started
    summary = job.summary
    return {
        "kind": summary.kind,
        "rows": summary.rows,
        "seconds": seconds,
        "valid": summary.valid_unique,
        "duplicates": summary.duplicates,
        "invalid": summary.invalid,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "fast": job.normaliser.fast_hits,
        "slow": job.normaliser.slow_hits,
    }


def normaliser_speeds(source: Path, count: int = 200_000, reference_count: int = 30_000) -> None:
    from bot.services.imports.phones import PhoneNormaliser, reference_normalise

    with source.open(encoding="utf-8", newline="") as stream:
        reader = csv.reader(stream)
        next(reader)
        phones = [row[1] for _, row in zip(range(count), reader, strict=False)]
    results = {}
    for label, normaliser in (
        ("memo + fast path", PhoneNormaliser("AZ")),
        ("fast path alone", PhoneNormaliser("AZ", memo=False)),
    ):
        normalise = normaliser.normalise
        started = time.perf_counter()
        results[label] = [normalise(phone) for phone in phones]
        rate = len(phones) / (time.perf_counter() - started)
        print(f"  {label:17s} {rate:>10,.0f} numbers/s")
    sample = phones[:reference_count]
    started = time.perf_counter()
    reference = [reference_normalise(phone, "AZ") for phone in sample]
    rate = len(sample) / (time.perf_counter() - started)
    print(f"  {'phonenumbers':17s} {rate:>10,.0f} numbers/s")
    for label, answers in results.items():
        if answers[: len(sample)] != reference:
            print(f"  MISMATCH between {label} and phonenumbers")
    print(f"  same answers as phonenumbers on the first {len(sample):,} numbers: checked")


def baselines(csv_path: Path, xlsx_path: Path) -> None:
    """How fast this machine is right now: the libraries alone, to compare runs."""
    import phonenumbers
    from python_calamine import CalamineWorkbook

    started = time.perf_counter()
    with csv_path.open(encoding="utf-8", newline="") as stream:
        rows = sum(1 for _ in csv.reader(stream))
    print(f"  csv.reader alone  {rows / (time.perf_counter() - started):>10,.0f} rows/s")
    started = time.perf_counter()
    with CalamineWorkbook.from_path(str(xlsx_path)) as book:
        rows = sum(1 for _ in book.get_sheet_by_index(0).iter_rows())
    print(f"  calamine alone    {rows / (time.perf_counter() - started):>10,.0f} rows/s")
    with csv_path.open(encoding="utf-8", newline="") as stream:
        reader = csv.reader(stream)
        next(reader)
        phones = [row[1] for _, row in zip(range(30_000), reader, strict=False)]
    started = time.perf_counter()
    for phone in phones:
        try:
            phonenumbers.parse(phone, "AZ")
        except phonenumbers.NumberParseException:
            pass
    rate = len(phones) / (time.perf_counter() - started)
    print(f"  phonenumbers.parse alone {rate:>10,.0f} numbers/s")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--measure":
        print(json.dumps(measure(Path(sys.argv[2]))))
        return
    csv_rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    xlsx_rows = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    csv_path = make_csv(csv_rows)
    xlsx_path = make_xlsx(csv_path, xlsx_rows)
    print("parse + normalise (no database), each in a fresh process:")
    for path in (csv_path, xlsx_path):
        child = subprocess.run(
            [sys.executable, __file__, "--measure", str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(child.stdout)
        rate = result["rows"] / result["seconds"]
        print(
            f"  {result['kind']:4s} {result['rows']:>9,} rows {result['seconds']:6.2f} s "
            f"{rate:>10,.0f} rows/s  peak RSS {result['rss_mb']:5.0f} MB  "
            f"(valid {result['valid']:,}, duplicates {result['duplicates']:,}, "
            f"invalid {result['invalid']:,}; normaliser fast {result['fast']:,}, "
            f"phonenumbers {result['slow']:,})"
        )
    print("normaliser alone, numbers from the CSV:")
    normaliser_speeds(csv_path)
    print("baselines (the libraries alone, for comparing machines):")
    baselines(csv_path, xlsx_path)


if __name__ == "__main__":
    main()
