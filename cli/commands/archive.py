"""``digitize archive``: list, fetch, export and check what the archive keeps.

- ``ls [--level] [--office] [--year]``: the catalog's documents, one a line;
- ``get <dossier code>-KQ<n> -o FILE [--force]``: the archived bytes, checked against the catalog's
  SHA-256; an existing FILE is replaced only with ``--force``, and never one inside the archive;
- ``export [-o FILE] [--kind KQ|HS|all]``: JSON lines for the national reuse store;
- ``fixity [--sample N]``: re-read objects and manifests; non-zero exit on any missing or corrupt.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from cli.commands import whole_number
from digitize.errors import ArchiveError, BadInputError, ExitCode, UsageError, VerificationError
from digitize.files import write_atomically
from digitize.settings import Settings

EXPORT_FORMAT = "digitize-reuse-v1"


def register(sub: argparse._SubParsersAction) -> None:
    archive = sub.add_parser("archive", help="list, fetch, export and fixity-check the archive")
    commands = archive.add_subparsers(dest="archive_command", required=True)

    ls = commands.add_parser("ls", help="list archived documents from the catalog")
    ls.add_argument("--level", help="only this level (tinh, huyen, xa)")
    ls.add_argument("--office", help="only this office code")
    ls.add_argument("--year", type=int, help="only documents filed under this year")
    ls.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    ls.set_defaults(func=cmd_ls)

    get = commands.add_parser("get", help="fetch one document, checking its SHA-256")
    get.add_argument("document", help="document code, e.g. 000.31.25.H08-261128-0001-KQ1")
    get.add_argument("-o", "--output", type=Path, required=True,
                     help="file to write (never inside the archive; an existing file only with --force)")
    get.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")
    get.set_defaults(func=cmd_get)

    export = commands.add_parser("export", help="JSON lines of archived documents for the national reuse store")
    export.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    export.add_argument("--kind", choices=("KQ", "HS", "all"), default="KQ", help="results (default), papers or all")
    export.set_defaults(func=cmd_export)

    fixity = commands.add_parser("fixity", help="re-read archived objects and compare SHA-256 with the catalog")
    fixity.add_argument("--sample", type=whole_number(1), help="check only this many documents, chosen at random")
    fixity.set_defaults(func=cmd_fixity)


def cmd_ls(args: argparse.Namespace, settings: Settings) -> int:
    from storage.catalog import open_catalog

    with open_catalog(settings.catalog) as catalog:
        rows = catalog.documents(level=args.level, office=args.office, year=args.year)
    if args.json:
        for row in rows:
            print(json.dumps(_document_json(row), ensure_ascii=False, sort_keys=True))
        return 0
    print(f"{'document':<40} {'level':<6} {'office':<16} {'status':<9} {'pages':>5}  {'signed (UTC)':<20} key")
    for row in rows:
        signed = row.signed_at.strftime("%Y-%m-%d %H:%M:%S") if row.signed_at else "-"
        print(
            f"{row.document_code:<40} {row.level:<6} {row.office_code:<16} {row.status:<9} "
            f"{row.page_count or 0:>5}  {signed:<20} {row.archive_key or '-'}"
        )
    print(f"{len(rows)} document(s)")
    return 0


def cmd_get(args: argparse.Namespace, settings: Settings) -> int:
    from digitize.models import parse_document_code
    from storage.archive import open_archive
    from storage.catalog import open_catalog
    from storage.hashing import sha256_bytes

    parse_document_code(args.document)
    check_output_path(args.output, settings, force=args.force)
    with open_catalog(settings.catalog) as catalog:
        row = catalog.find_document(args.document)
    if row is None or not row.archive_key or not row.output_sha256:
        raise ArchiveError(f"document {args.document} is not in the catalog", hint="see digitize archive ls")
    data = open_archive(settings.archive).get_bytes(row.archive_key)
    actual = sha256_bytes(data)
    if actual != row.output_sha256:
        raise VerificationError(
            f"the archived {row.archive_key} has SHA-256 {actual}, the catalog says {row.output_sha256}; "
            "nothing was written",
            hint="run digitize archive fixity and restore the object from a replica",
        )
    write_output(args.output, data, force=args.force)
    print(f"{args.output}: {len(data)} bytes, SHA-256 {actual} (matches the catalog)")
    return 0


def check_output_path(output: Path, settings: Settings, *, force: bool) -> None:
    """Refuse an output inside the local archive (symlinks resolved), and an existing one without ``force``."""
    target = output.resolve()
    if settings.archive.backend == "local" and settings.archive.root is not None:
        root = settings.archive.root.resolve()
        if target == root or target.is_relative_to(root):
            raise UsageError(
                f"-o {output} is inside the archive {root}; the archive is never written by 'archive get'",
                hint="choose a file outside the archive folder",
            )
    if (output.exists() or output.is_symlink()) and not force:
        raise UsageError(f"-o {output} already exists; nothing was written",
                         hint="choose another file, or add --force to replace it")


def write_output(output: Path, data: bytes, *, force: bool) -> None:
    """Write ``data`` to ``output`` whole; without ``force`` never over a file that appeared meanwhile."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(output, data, overwrite=force)
    except FileExistsError as e:
        raise UsageError(f"-o {output} already exists; nothing was written",
                         hint="choose another file, or add --force to replace it") from e
    except OSError as e:
        raise BadInputError(f"could not write -o {output}: {e.strerror or e}") from e


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from storage.catalog import DIGITIZED_STATUSES, open_catalog

    marks = ", ".join("?" * len(DIGITIZED_STATUSES))
    kinds = ("KQ", "HS") if args.kind == "all" else (args.kind,)
    sql = (
        "SELECT d.document_code, d.dossier_code, s.procedure_code, d.kind, d.number, d.level, d.office_code, "
        "d.title, d.output_sha256, d.archive_key, d.page_count, d.pades_level, d.signer, d.signed_at, "
        f"d.archived_at FROM documents d JOIN dossiers s ON s.dossier_code = d.dossier_code "
        f"WHERE d.status IN ({marks}) AND d.kind IN ({', '.join('?' * len(kinds))}) ORDER BY d.document_code"
    )
    names = ("document_code", "dossier_code", "procedure_code", "kind", "number", "level", "office", "title",
             "sha256", "archive_key", "page_count", "pades_level", "signer", "signed_at", "archived_at")
    count = 0
    with open_catalog(settings.catalog) as catalog, _output(args.output) as out:
        for row in catalog.query(sql, (*DIGITIZED_STATUSES, *kinds)):
            record = {"format": EXPORT_FORMAT, **dict(zip(names, row, strict=True))}
            out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    print(f"exported {count} document(s)", file=sys.stderr)
    return 0


def cmd_fixity(args: argparse.Namespace, settings: Settings) -> int:
    from storage.archive import open_archive
    from storage.catalog import open_catalog
    from storage.fixity import check_fixity, record_fixity_events

    archive = open_archive(settings.archive)
    with open_catalog(settings.catalog) as catalog:
        report = check_fixity(archive, catalog, args.sample)
        record_fixity_events(catalog, report)
    for problem in report.problems:
        print(f"{problem.problem.upper():<8} {problem.document_code}  {problem.key}: {problem.detail}")
    print(f"checked {report.checked} document(s): {report.missing} missing, {report.corrupt} corrupt, "
          f"{report.unrecorded} in the archive without a catalog row")
    return 0 if report.ok else int(ExitCode.archive)


def _document_json(row: Any) -> dict[str, Any]:
    values = dict(row.__dict__)
    for name in ("digitized_at", "signed_at", "archived_at"):
        values[name] = values[name].isoformat() if values[name] else None
    return values


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[IO[str]]:
    if path is None:
        yield sys.stdout
        return
    with path.open("w", encoding="utf-8") as f:
        yield f
