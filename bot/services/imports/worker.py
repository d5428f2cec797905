"""Parsing a contact file beside the database writes, on the other core.

Parsing and normalising is pure Python; in a second thread it would take turns on the GIL
with the writer. A big file is therefore parsed in a child process (``spawn``, safe beside
the bot's threads) that sends batches through a pipe, each already encoded as the JSON the
writer hands to SQLite, so the parent's share is SQLite's own work. The pipe's small buffer
keeps the child at most a batch or two ahead. Small files are parsed in the caller's
thread: starting a process costs more than they take.

Both ways give the same ``ParseRun``: ``headers`` once opened, then ``Parsed`` batches,
then ``summary``. ``UnreadableFile`` is raised by the run, whichever side found it.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from bot.services.imports.errors import UnreadableFile
from bot.services.imports.parse import ContactImport, ImportSummary, Rejected, parse_contacts

# Below these sizes a file is parsed in the calling thread (an XLSX is compressed: 500 KB
# holds some 20,000 rows).
PROCESS_FROM_BYTES = 4 * 1024 * 1024
PROCESS_FROM_BYTES_XLSX = 512 * 1024


@dataclass(slots=True)
class Parsed:
    """One batch, as the writer needs it."""

    rows: str  # JSON array of the batch's rows (see ``parse.Batch``), sorted by phone
    count: int  # how many rows ``rows`` holds
    fresh: list[str]  # phones not seen earlier in the file
    rejected: list[Rejected]
    rows_read: int
    valid: int  # valid rows so far


@dataclass(frozen=True, slots=True)
class ParseOptions:
    path: Path
    file_name: str
    region: str
    allow_landlines: bool
    max_rows: int


def _batches(job: ContactImport) -> Iterator[Parsed]:
    summary = job.summary
    for batch in job.batches():
        rows = batch.rows
        # by phone (a batch holds each phone once, and every row begins with it): the
        # writer then walks the phone index in order, which measured 30-40% faster than
        # file order; the ids still follow the file (see ``Batch``)
        rows.sort()
        yield Parsed(
            rows=f"[{','.join(rows)}]",
            count=len(rows),
            fresh=batch.fresh,
            rejected=batch.rejected,
            rows_read=batch.rows_read,
            valid=summary.valid_unique + summary.duplicates,
        )


def _open(options: ParseOptions) -> ContactImport:
    return parse_contacts(options.path, options.file_name, options.region,
                          allow_landlines=options.allow_landlines, max_rows=options.max_rows)


class ParseRun:
    def __init__(self, options: ParseOptions, *, in_process: bool | None = None) -> None:
        if in_process is None:
            threshold = (PROCESS_FROM_BYTES_XLSX if options.path.suffix.lower() == ".xlsx"
                         else PROCESS_FROM_BYTES)
            in_process = options.path.stat().st_size >= threshold
        self.summary: ImportSummary | None = None
        self._options = options
        self._in_process = in_process
        self._job: ContactImport | None = None
        self._child: multiprocessing.process.BaseProcess | None = None
        self._pipe: Connection | None = None
        if in_process:
            context = multiprocessing.get_context("spawn")
            self._pipe, child_end = context.Pipe(duplex=False)
            self._child = context.Process(target=_child, args=(options, child_end),
                                          name="qasid-import-parser", daemon=True)
            self._child.start()
            child_end.close()
            self.headers: list[str] = self._receive("open")[0]
        else:
            self._job = _open(options)
            self.headers = self._job.summary.headers

    def __iter__(self) -> Iterator[Parsed]:
        if self._job is not None:
            yield from _batches(self._job)
            self.summary = self._job.summary
            return
        while True:
            kind, payload = self._receive("batch", "end")
            if kind == "end":
                self.summary = payload
                return
            yield payload

    def _receive(self, *expected: str):
        assert self._pipe is not None
        try:
            kind, payload = self._pipe.recv()
        except EOFError:
            raise RuntimeError("the import parser process died") from None
        if kind == "unreadable":
            reason, detail, line, limit = payload
            raise UnreadableFile(reason, detail, line=line, limit=limit)
        if kind == "error":
            raise RuntimeError(f"the import parser failed: {payload}")
        assert kind in expected, kind
        return (kind, payload) if len(expected) > 1 else payload

    def close(self) -> None:
        if self._job is not None:
            self._job.close()
        if self._child is not None:
            if self._child.is_alive():
                self._child.kill()  # it ignores SIGTERM (``_child``)
            self._child.join(timeout=5)
            assert self._pipe is not None
            self._pipe.close()

    def __enter__(self) -> ParseRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _child(options: ParseOptions, pipe: Connection) -> None:
    """In the child process: parse, send batches, then the summary (or the error).

    SIGTERM and SIGINT sent to the whole process group (systemd, Ctrl+C) are the parent's
    to handle: it rolls the import back and ends the child (``ParseRun.close``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with _open(options) as job:
            pipe.send(("open", (job.summary.headers,)))
            for parsed in _batches(job):
                pipe.send(("batch", parsed))
            pipe.send(("end", job.summary))
    except UnreadableFile as exc:
        pipe.send(("unreadable", (exc.reason, exc.detail, exc.line, exc.limit)))
    except BaseException as exc:  # reported to the parent, which raises it
        pipe.send(("error", repr(exc)))
    finally:
        pipe.close()
