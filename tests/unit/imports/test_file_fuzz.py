"""File fuzz: 5,000 generated contact files through the parse an import uses, 200 of them
through the whole import into SQLite (``fuzzfiles.py`` makes them: random bytes, mutated
samples, broken CSV/TXT/vCards, damaged and hostile XLSX, ODS and XLS, zip bombs, NULs,
mixed encodings).

The parse runs in a process of its own (as big imports do), fed file after file, so its
peak RSS is the parse's. A crash is anything but the importer's own refusal
(``UnreadableFile``, told to the owner as a ``ValidationError``): another exception, the
process dying or hanging. A refused file changes nothing: no contact, list or member. The
figures are printed; ``bench/file_fuzz_bench.py`` runs a bigger fuzz and the 20 MB worst
cases per format.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain import Language
from bot.services.contacts import ContactsConfig, ContactsService
from bot.storage import owners
from bot.storage.db import Database

from .fuzzfiles import fuzz_file, generated, run, whole_imports

SEED = 15
FILES = 5_000
FULL_IMPORTS = 200


def test_5000_files_are_parsed_or_refused_never_crash_in_bounded_memory(capsys) -> None:
    stats = run(generated(SEED, range(FILES)))
    with capsys.disabled():
        print(f"\nfile fuzz (seed {SEED}): {stats.inputs:,} files in {stats.seconds:.0f} s, "
              f"{len(stats.crashes)} crashes; {stats.outcomes['ok']:,} imported, "
              f"{stats.inputs - stats.outcomes['ok'] - len(stats.crashes):,} refused; "
              f"peak RSS of the parse {stats.peak_rss_mb:.0f} MB ({stats.peak_file}, "
              f"{stats.base_rss_mb:.0f} MB before the first file); slowest "
              f"{stats.slowest[0]:.2f} s ({stats.slowest[1]})")
    assert stats.inputs == FILES
    assert stats.crashes == []
    assert stats.outcomes["ok"] > FILES // 4  # the fuzz reaches the contacts, not just refusals
    assert stats.peak_rss_mb < 300  # GB before the limits; the worst 20 MB files stay near 200


async def test_200_files_through_the_whole_import_are_all_or_nothing(
    db: Database, clock, tmp_path: Path, capsys
) -> None:
    service = ContactsService(db, ContactsConfig(default_region="AZ"), clock)
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN, now=clock())
    files = generated(SEED, range(0, FILES, FILES // FULL_IMPORTS))
    stats = await whole_imports(service, db, owner.id, files, tmp_path)
    with capsys.disabled():
        print(f"\nfile fuzz, whole imports: {stats.files} files, {stats.imported} imported, "
              f"{stats.refused} refused, {len(stats.crashes)} crashes, "
              f"{len(stats.partial)} partial writes")
    assert stats.files == FULL_IMPORTS
    assert stats.crashes == []
    assert stats.partial == []
    assert stats.imported > FULL_IMPORTS // 4


@pytest.mark.parametrize("index", [0, 1234, 4999])
def test_a_fuzz_file_can_be_made_again_alone(index: int) -> None:
    """A failure names its file (seed and number): it is made again, byte for byte."""
    assert fuzz_file(SEED, index) == fuzz_file(SEED, index)
