"""``digitize run``: the Prefect flow over the scanner folders, and its summary.

The signing key is opened and checked first (a wrong password stops the run
before any input is taken; the run signs with that session); then, unless
``PREFECT_API_URL`` points at a server, a Prefect server is started for the run
(see :mod:`cli.prefect_server`) and stopped at its end. While it
starts, the flows are imported, the page workers started, and the scans of the
run's first documents begun (:func:`flows.dossier.early_scans`).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import ctypes
import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from cli.commands import table_lines, whole_number
from cli.prefect_server import one_run_client, prefect_api
from digitize.errors import BadInputError, BatchError, ConfigError, StorageFullError, UsageError
from digitize.files import write_atomically
from digitize.i18n import _, format_number, os_error
from digitize.models import parse_document_code
from digitize.settings import Settings, mask_secrets, secret_values


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help=_("digitize what is ready in the scanner folders (a Prefect flow)"))
    p.add_argument("--level", help=_("only this level (tinh, huyen, xa); default: every level"))
    p.add_argument("--office", help=_("only this office code"))
    p.add_argument("--inbox", type=Path, help=_("scanner folder root (default: paths.inbox)"))
    p.add_argument("--limit", type=whole_number(1), help=_("at most this many items"))
    p.add_argument("--dry-run", action="store_true", help=_("list what would be taken; change nothing"))
    p.add_argument("--work-list", type=Path, metavar="FILE",
                   help=_("only these documents: a CSV with a 'document' column (digitize report --backlog "
                          "--format csv) or one document code per line"))
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    few_malloc_arenas()
    if args.level and args.level not in settings.intake.levels:
        raise ConfigError(_("unknown level {level!r}; configured levels: {levels}",
                            level=args.level, levels=", ".join(settings.intake.levels)))
    if args.inbox is not None and not args.inbox.is_dir():
        raise UsageError(_("--inbox {inbox} is not a folder; name the scanner folder holding <level>/<office>/",
                           inbox=args.inbox))
    only = read_work_list(args.work_list) if args.work_list else None
    config = str(args.config) if args.config else None
    with contextlib.ExitStack() as stack:
        session = None
        if not args.dry_run:
            # a wrong password stops the run here (exit 9, nothing taken); the flow signs with this session
            session = stack.enter_context(open_session(settings))
            check_catalog(settings)  # an unreachable or unusable catalog too: exit 12, nothing taken
        _quiet_prefect_defaults()
        pool: list = []

        def start_up() -> None:
            """While the Prefect server starts: import the flows (Prefect's import is ~1-2 s of CPU) and
            start the page workers, so the first document's pages are read as soon as the server answers."""
            import flows.dossier  # noqa: F401

            if not args.dry_run:
                pool.append(stack.enter_context(start_page_pool(settings)))
                # the first documents' pages start now, not when the server answers (~5 s later)
                from flows.dossier import early_scans

                stack.enter_context(early_scans(settings, pool[0], args.inbox, args.level, args.office,
                                                args.limit, only))

        server = stack.enter_context(prefect_api(settings.paths.var_dir, meanwhile=start_up))
        from flows.dossier import PROGRESS_LISTENERS, prepared_run, process_inbox

        stack.enter_context(prepared_run(config, session, pool[0] if pool else None))
        stack.enter_context(one_run_client(server))
        started = time.monotonic()
        with _progress_bar() as listener:
            PROGRESS_LISTENERS.append(listener)
            try:
                results = process_inbox(
                    level=args.level, office=args.office, inbox=str(args.inbox) if args.inbox else None,
                    limit=args.limit, config=config, dry_run=args.dry_run,
                    only=only,
                )
            finally:
                PROGRESS_LISTENERS.remove(listener)
        elapsed = time.monotonic() - started
    print_summary(results)
    if args.dry_run:
        print(_("dry run: nothing was changed"))
        return 0
    print_totals(results, elapsed, server.seconds)
    summary_path = write_summary(results, settings)
    print()
    print_locations(settings, summary_path)
    failed = [r for r in results if r["status"] == "failed"]
    later = [r for r in results if r["status"] == "retry-later"]
    if failed or later:
        raise BatchError(batch_outcome(len(results), len(failed), len(later), settings.paths.failed))
    return 0


#: glibc's mallopt parameter for the number of malloc arenas (malloc.h).
_M_ARENA_MAX = -8


def few_malloc_arenas(arenas: int = 2) -> bool:
    """Let this process's threads share ``arenas`` malloc arenas; True when set (glibc only).

    glibc gives threads their own arenas, up to 8 per core, and each keeps what
    was freed in it: with the documents in flight as threads (assembling,
    signing, verifying), the run's own process peaked at ~390 MB PSS on 16
    documents, ~240 MB with 2 arenas (what ``MALLOC_ARENA_MAX=2`` does, set
    here because the variable is read only when a process starts). Threads
    made before the call keep their arenas: call it first.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False  # not glibc: its allocator is its own business
    return bool(libc.mallopt(_M_ARENA_MAX, arenas))


def batch_outcome(total: int, failed: int, later: int, failed_dir: Path) -> str:
    """What a run that did not finish everything says: failed items are in ``failed_dir``, items
    that met a transient fault (a full disk, an unreachable archive or TSA) are still in the inbox."""
    parts = []
    if failed:
        parts.append(_("{failed} of {total} item(s) failed; see {folder}", failed=failed, total=total,
                       folder=failed_dir))
    if later:
        parts.append(_("{later} of {total} item(s) met a passing fault (see the reasons above) and stay in the "
                       "scanner folder for the next run", later=later, total=total))
    return "; ".join(parts)


def print_locations(settings: Settings, summary_path: Path | str) -> None:
    """Where the run's results are, as set up: the archive's folder or bucket (and endpoint), the
    catalog's file or database (never its password), and the summary file."""
    from storage.archive import describe_archive
    from storage.catalog import describe_catalog

    lines = [(_("Signed PDFs:"), describe_archive(settings.archive)),
             (_("Catalog:"), describe_catalog(settings.catalog)),
             (_("Summary:"), str(summary_path))]
    width = max(len(label) for label, _value in lines)
    for label, value in lines:
        print(f"{label:<{width}} {value}")


def open_session(settings: Settings):
    """Open the signing key and check its certificate before any input is taken; the session signs the run.

    A wrong password or PIN, an unreadable key, an expired or revoked
    certificate raise :class:`SigningError` (exit 9) saying where the secret
    came from; the inbox is left as it is. Use as a context manager.
    """
    from signing.session import open_signing_session

    return open_signing_session(settings.signing, font_cache_dir=settings.paths.font_cache)


def start_page_pool(settings: Settings):
    """The run's page workers (:class:`digitize.engine.PagePool`), or a null context when one process
    reads the pages; use as a context manager."""
    from digitize import engine

    workers = engine.worker_count(settings.ocr, 1 << 16)
    return engine.PagePool(workers) if workers > 1 else contextlib.nullcontext()


def check_catalog(settings: Settings) -> None:
    """Open the catalog once before any input is taken.

    A catalog that cannot be opened (a server down, a wrong password, a path
    that is a folder) raises :class:`CatalogError` (exit 12) here, with every
    input still in the inbox, instead of failing each document in turn.
    """
    from storage.catalog import open_catalog

    with open_catalog(settings.catalog):
        pass


def read_work_list(path: Path) -> list[str]:
    """Document codes from a backlog CSV (its 'document' column) or a plain list, one per line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise BadInputError(_("--work-list {path}: {error}", path=path, error=e)) from e
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and "document" in next(csv.reader([lines[0]])):
        codes = [row["document"].strip() for row in csv.DictReader(lines) if row.get("document")]
    else:
        codes = lines
    for number, code in enumerate(codes, 1):
        try:
            parse_document_code(code)
        except BadInputError as e:
            raise BadInputError(_("--work-list {path}: entry {number} is not a document code: {error}",
                                  path=path, number=number, error=e.message)) from e
    return codes


def _quiet_prefect_defaults() -> None:
    """Prefect settings for a machine with no internet; the user's own values win.

    The library's loggers are sent to the run logs, so operators see them in the UI.
    """
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "digitize,signing,storage")


@contextlib.contextmanager
def _progress_bar() -> Iterator[Callable[[int, int, list[dict]], None]]:
    """A progress bar on the terminal (stderr), fed by the flow as items finish."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(TextColumn(_("digitizing")), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=console, transient=True,
                  disable=not console.is_terminal) as progress:
        task = progress.add_task("", total=None)

        def listener(done: int, total: int, summaries: list[dict]) -> None:
            last = summaries[-1] if summaries else {}
            progress.update(task, completed=done, total=total,
                            description=f"{last.get('document', '')} {status_label(last.get('status', ''))}")

        yield listener


def print_totals(results: list[dict], elapsed: float, server_seconds: float = 0.0) -> None:
    """Processed, quarantined with reasons, duplicates, pages and pages per minute (with and
    without the start of a Prefect server for the run)."""
    archived = [r for r in results if r["status"] == "archived"]
    failed = [r for r in results if r["status"] == "failed"]
    pages = sum(r.get("pages") or 0 for r in archived)
    rate = pages / (elapsed / 60) if elapsed > 0 else 0.0
    total = elapsed + server_seconds
    counts = {"archived": len(archived), "failed": len(failed), "pages": pages, "seconds": format_number(elapsed),
              "duplicates": sum(r["status"] == "duplicate" for r in results), "rate": format_number(rate, 1)}
    if server_seconds:
        line = _("processed {archived}, quarantined {failed}, duplicates {duplicates}, {pages} page(s) in "
                 "{seconds} s ({rate} pages/min; {rate_with_server} pages/min with the {server_seconds} s "
                 "Prefect server start)", **counts,
                 rate_with_server=format_number(pages / (total / 60) if total > 0 else 0.0, 1),
                 server_seconds=format_number(server_seconds))
    else:
        line = _("processed {archived}, quarantined {failed}, duplicates {duplicates}, {pages} page(s) in "
                 "{seconds} s ({rate} pages/min)", **counts)
    print(line)
    for r in failed:
        print("  " + _("quarantined {document}: {reason}", document=r["document"], reason=r.get("reason")))
    for r in archived:
        if r.get("grey_pages"):
            print("  " + _("no colour in {document} page(s) {pages} (Decree 30/2020 asks for a colour scan)",
                           document=r["document"], pages=", ".join(str(n) for n in r["grey_pages"])))


def write_summary(results: list[dict], settings: Settings) -> Path | str:
    """Write the run's summary to ``var/reports/run-<time>.json`` (secrets masked) and return its path.

    The documents are done by now: a summary that cannot be written (a full disk) is said in place
    of its path, and the run's outcome stands.
    """
    reports = settings.paths.var_dir / "reports"
    path = reports / f"run-{datetime.now().strftime('%Y%m%dT%H%M%S')}.json"
    text = json.dumps(results, ensure_ascii=False, indent=2, default=str) + "\n"
    try:
        reports.mkdir(parents=True, exist_ok=True)
        write_atomically(path, mask_secrets(text, secret_values(settings)).encode("utf-8"))
    except (OSError, StorageFullError) as e:
        return _("not written ({path}: {error})", path=path, error=os_error(e) if isinstance(e, OSError) else e.message)
    return path


def status_label(status: str) -> str:
    """An outcome of the flow (``archived``, ``retry-later``...) in the reader's language: the pipeline's
    term (:data:`pipeline.STATUS_LABELS`, which the Prefect UI shows too)."""
    from pipeline import status_label as term

    return term(status)


def print_summary(results: list[dict]) -> None:
    """One line per item (document, level, office, outcome, pages, OCR confidence, archive key or
    reason), then the count of each outcome and the pages digitized."""
    from pipeline import counts_in_words

    header = (_("document"), _("level"), _("office"), _("status"), _("pages"), _("conf"),
              _("archive key / reason"))
    rows = [
        (
            r["document"], r["level"], r["office"], status_label(r["status"]),
            "" if r.get("pages") is None else str(r["pages"]),
            "" if r.get("confidence") is None else format_number(r["confidence"], 1),
            r.get("key") or r.get("reason") or "",
        )
        for r in results
    ]
    for line in table_lines(header, rows, max_last=90):
        print(line)
    counts: dict[str, int] = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    pages = sum(r.get("pages") or 0 for r in results if r["status"] == "archived")
    print(counts_in_words(counts) + "; " + _("{pages} page(s) digitized", pages=pages))
