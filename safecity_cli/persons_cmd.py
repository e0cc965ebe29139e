"""``safecity persons import FILE --photos DIR``: CRO persons in bulk, resumable, with an error report.

The file is CSV or JSON lines (``command_center/records/import_rows.py`` says the columns). Rows go in
by batches (``--batch``, fewer when they carry photos), each batch one transaction with its audit entry
(``persons.import``); that entry is the checkpoint, so running the same command again after a crash,
Ctrl-C or ``--limit`` continues after the last committed row and never imports a row twice. Ctrl-C lets
the batch under way finish (a second Ctrl-C stops at once, rolling it back) and exits 130. A row that
cannot go in (bad field, CNIC already on the records) is written with its reason to the error report
(``--errors``, default ``FILE.errors.csv``: row, outcome, reason) while the good rows go in. A photo with
one clear face is enrolled on the camera watchlist as the person's profile (four-eyes bypassed, as
``safecity watchlist enroll``: the legal basis is the person's first FIR, else ``--legal-reference``).
A progress bar on stderr shows rows, rows/s and the time left; stdout gets a JSON summary at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import getpass
import json
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.settings import Settings
from safecity_cli.main import EXIT_OK, EXIT_USAGE, CommandError
from safecity_cli.progress import RowProgress, say

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from command_center.records.import_rows import ImportRow, RowProblem
    from command_center.records.person_import import BatchResult, Enrolment, PersonImport
    from pipeline.contracts import WatchlistChange
    from watchlist.enrol import Enroller

EXIT_INTERRUPTED = 130
ANNOUNCE_TIMEOUT_S = 3.0


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "persons", help="CRO persons of interest in bulk", description="Import CRO persons from a file."
    )
    actions = parser.add_subparsers(dest="persons_command", metavar="ACTION", required=True)
    imp = actions.add_parser(
        "import", parents=[parent], help="add persons from CSV or JSON lines (resumable; bad rows reported)"
    )
    imp.add_argument("file", type=Path, metavar="FILE", help="CSV, or JSON lines (.jsonl/.ndjson)")
    imp.add_argument("--photos", type=Path, default=None, metavar="DIR", help="where the rows' photos are")
    imp.add_argument("--errors", type=Path, default=None, help="error report (default: FILE.errors.csv)")
    imp.add_argument("--batch", type=int, default=2000, help="rows per transaction (default 2000)")
    imp.add_argument("--photo-batch", type=int, default=50, help="photos per transaction (default 50)")
    imp.add_argument("--limit", type=int, default=None, help="stop after this many rows (run again to go on)")
    imp.add_argument("--no-watchlist", action="store_true", help="store photos, enrol none on the watchlist")
    imp.add_argument(
        "--full-faces",
        action="store_true",
        help="enrol with the full face path (recognition.enrol_detect_side=0: full decode and detection)",
    )
    imp.add_argument("--legal-reference", default=None, help="watchlist basis of rows without a case")
    imp.add_argument("--authorised-by", default=None, help="who authorised the enrolments (default: --by)")
    imp.add_argument("--expires-days", type=int, default=365, help="watchlist entries lapse after (days)")
    imp.add_argument("--by", default=None, help="who is running this (default: cli:<os user>)")
    imp.add_argument("--no-progress", action="store_true", help="no progress bar")
    imp.set_defaults(func=run_import)


@dataclass(slots=True)
class Totals:
    rows: int = 0
    imported: int = 0
    skipped: int = 0
    noted: int = 0
    enrolled: int = 0

    def add(self, result: BatchResult, rows: int) -> None:
        self.rows += rows
        self.imported += len(result.person_ids)
        self.skipped += len(result.skipped)
        self.noted += len(result.notes)
        self.enrolled += result.enrolled


class ErrorReport:
    """The rows left out (and those imported with a note), appended after each committed batch."""

    def __init__(self, path: Path, resuming: bool) -> None:
        self.path = path
        fresh = not (resuming and path.exists())
        self._file = path.open("w" if fresh else "a", encoding="utf-8", newline="")
        self._writer = csv.writer(self._file)
        if fresh:
            self._writer.writerow(["row", "outcome", "reason"])
        self.lines = 0

    def write(self, result: BatchResult) -> None:
        from command_center.records.person_import import report_lines

        lines = report_lines(result)
        self._writer.writerows(lines)
        self.lines += len(lines)
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _check_args(args: argparse.Namespace) -> None:
    if not args.file.is_file():
        raise CommandError(f"{args.file}: no such file", EXIT_USAGE)
    if args.photos is not None and not args.photos.is_dir():
        raise CommandError(f"--photos {args.photos}: not a directory", EXIT_USAGE)
    for name in ("batch", "photo_batch", "expires_days"):
        if getattr(args, name) < 1:
            raise CommandError(f"--{name.replace('_', '-')} must be at least 1", EXIT_USAGE)
    if args.limit is not None and args.limit < 0:
        raise CommandError("--limit must be 0 or more", EXIT_USAGE)


def _face_settings(settings: Settings, full: bool) -> Settings:
    """``settings`` with the full enrolment path (watchlist/enrol_face.py) when asked for."""
    rec = settings.recognition
    if not full:
        return settings
    return settings.model_copy(update={"recognition": rec.model_copy(update={"enrol_detect_side": 0})})


def _enrolment(args: argparse.Namespace, settings: Settings, actor: str) -> Enrolment | None:
    from command_center.records.person_import import Enrolment

    if args.photos is None or args.no_watchlist:
        return None

    def make(engine: Engine) -> Enroller:
        from pipeline.face import FaceAnalyzer
        from pipeline.models.registry import ModelError
        from watchlist.enrol import Enroller
        from watchlist.store import WatchlistStore

        analyzer = FaceAnalyzer(settings)
        try:
            analyzer.load()
        except ModelError as exc:
            raise CommandError(f"{exc}; nothing of this batch was imported (or use --no-watchlist)") from None
        return Enroller(_face_settings(settings, args.full_faces), analyzer, WatchlistStore(engine))

    expires = datetime.now(UTC) + timedelta(days=args.expires_days)
    reference = args.legal_reference or f"CRO records import {args.file.name}"
    return Enrolment(make, reference, args.authorised_by or actor, expires)


def _importer(args: argparse.Namespace, settings: Settings, actor: str) -> PersonImport:
    from command_center.records.person_import import PersonImport, file_key
    from pipeline.adapters.database import make_engine
    from watchlist.store import WatchlistStore

    engine = make_engine(settings.resolved_database_url)
    importer = PersonImport(
        engine,
        settings,
        actor=actor,
        key=file_key(args.file),
        file_name=str(args.file),
        photos_dir=args.photos,
        enrolment=_enrolment(args, settings, actor),
    )
    importer.create_schema()
    WatchlistStore(engine).create_schema()  # before a batch's transaction holds the write lock
    return importer


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    from command_center.records.import_rows import CsvFormatError, row_numbers

    _check_args(args)
    actor = args.by or f"cli:{getpass.getuser()}"
    importer = _importer(args, settings, actor)
    after = importer.done_through()
    try:
        remaining = sum(1 for number in row_numbers(args.file) if number > after)
    except CsvFormatError as exc:
        raise CommandError(f"{args.file}: {exc}; nothing imported", EXIT_USAGE) from None
    if after:
        say(f"{args.file}: rows up to {after} were imported before; continuing after row {after}")
    report = ErrorReport(args.errors or args.file.with_name(args.file.name + ".errors.csv"), after > 0)
    totals, changes = Totals(), []
    wanted = remaining if args.limit is None else min(remaining, args.limit)
    bar = RowProgress("importing persons", wanted, shown=not args.no_progress)
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, _stop_after_batch(stop))
    try:
        with bar:
            changes = _batches(args, importer, after, report, totals, bar, stop)
    except KeyboardInterrupt:  # a second Ctrl-C: the batch under way is rolled back
        stop.set()
    finally:
        signal.signal(signal.SIGINT, previous)
        report.close()
        importer.close()
    return _finish(args, settings, importer, report, totals, bar, changes, stop.is_set(), remaining)


def _stop_after_batch(stop: threading.Event) -> Callable[[int, Any], None]:
    """Ctrl-C once: finish the batch under way (its rows and its report lines) and stop; twice: at once."""

    def handle(_signum: int, _frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        say("stopping after the batch under way (Ctrl-C again to stop at once)")

    return handle


def _batches(
    args: argparse.Namespace,
    importer: PersonImport,
    after: int,
    report: ErrorReport,
    totals: Totals,
    bar: RowProgress,
    stop: threading.Event,
) -> list[WatchlistChange]:
    """Read and write the rows after ``after`` batch by batch, until ``stop``; the watchlist changes made."""
    from itertools import islice

    from command_center.records.import_rows import read_rows
    from command_center.records.person_import import batches

    changes: list[WatchlistChange] = []
    rows = read_rows(args.file, after)
    if args.limit is not None:
        rows = islice(rows, args.limit)
    for batch in batches(rows, args.batch, args.photo_batch):
        if stop.is_set():
            break
        changes += _write(importer, batch, report, totals, bar)
    return changes


def _write(
    importer: PersonImport,
    batch: Sequence[ImportRow | RowProblem],
    report: ErrorReport,
    totals: Totals,
    bar: RowProgress,
) -> list[WatchlistChange]:
    from sqlalchemy.exc import SQLAlchemyError

    try:
        result = importer.write(batch, batch[-1].number)
    except SQLAlchemyError as exc:
        raise CommandError(
            f"rows {batch[0].number}-{batch[-1].number} not imported, nothing of them written ({exc}); "
            "the rows before are in: run the same command again to continue"
        ) from None
    report.write(result)
    totals.add(result, len(batch))
    bar.advance(len(batch))
    return result.changes


def _finish(
    args: argparse.Namespace,
    settings: Settings,
    importer: PersonImport,
    report: ErrorReport,
    totals: Totals,
    bar: RowProgress,
    changes: list[WatchlistChange],
    interrupted: bool,
    remaining: int,
) -> int:
    through = importer.done_through()
    complete = not interrupted and totals.rows >= remaining
    announced = _announce(settings, changes) if changes else True
    summary = bar.summary(
        file=str(args.file),
        rows=totals.rows,
        imported=totals.imported,
        skipped=totals.skipped,
        imported_with_notes=totals.noted,
        photos_enrolled=totals.enrolled,
        through_row=through,
        complete=complete,
        error_report=str(report.path) if report.lines or through else None,
        announced=announced,
    )
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")
    say(
        f"{totals.imported} persons imported, {totals.skipped} rows skipped, "
        f"{totals.enrolled} photos enrolled in {summary['seconds']} s ({summary['rows_per_s']} rows/s)"
        + ("" if not report.lines else f"; reasons in {report.path}")
    )
    if not complete:
        say(f"stopped after row {through}: run the same command again to continue")
        return EXIT_INTERRUPTED if interrupted else EXIT_OK
    return EXIT_OK


def _announce(settings: Settings, changes: list[WatchlistChange]) -> bool:
    """Tell the workers about the new profiles over one connection; False if NATS did not answer (they
    read the watchlist again when they next start)."""
    import nats

    from watchlist.announce import announce

    async def publish() -> None:
        nc = await nats.connect(
            servers=[url.strip() for url in settings.nats_url.split(",") if url.strip()],
            connect_timeout=ANNOUNCE_TIMEOUT_S,
            max_reconnect_attempts=0,
            allow_reconnect=False,
        )
        try:
            for change in changes:
                await announce(nc, settings.nats.subjects, change)
        finally:
            await nc.close()

    try:
        asyncio.run(asyncio.wait_for(publish(), ANNOUNCE_TIMEOUT_S + len(changes)))
    except Exception as exc:
        say(f"WARNING: {len(changes)} watchlist changes not announced on NATS ({exc or type(exc).__name__})")
        return False
    return True
