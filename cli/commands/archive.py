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

from cli.commands import table_lines, whole_number
from digitize.errors import ArchiveError, BadInputError, ExitCode, UsageError, VerificationError
from digitize.files import write_atomically
from digitize.i18n import N_, _, format_datetime, format_number, ngettext, os_error
from digitize.settings import Settings

EXPORT_FORMAT = "digitize-reuse-v1"
#: The kinds of fixity problem (storage.fixity) as a person reads them.
FIXITY_LABELS = {"missing": N_("missing"), "corrupt": N_("corrupt"), "unrecorded": N_("unrecorded")}


def register(sub: argparse._SubParsersAction) -> None:
    archive = sub.add_parser("archive", help=_("list, fetch, export and fixity-check the archive"))
    commands = archive.add_subparsers(dest="archive_command", required=True)

    ls = commands.add_parser("ls", help=_("list archived documents from the catalog"))
    ls.add_argument("--level", help=_("only this level (tinh, huyen, xa)"))
    ls.add_argument("--office", help=_("only this office code"))
    ls.add_argument("--year", type=int, help=_("only documents filed under this year"))
    ls.add_argument("--json", action="store_true", help=_("JSON lines instead of a table (times in UTC, ISO 8601)"))
    ls.set_defaults(func=cmd_ls)

    get = commands.add_parser("get", help=_("fetch one document, checking its SHA-256"))
    get.add_argument("document", help=_("document code, e.g. 000.31.25.H08-261128-0001-KQ1"))
    get.add_argument("-o", "--output", type=Path, required=True,
                     help=_("file to write (never inside the archive; an existing file only with --force)"))
    get.add_argument("--force", action="store_true", help=_("replace OUTPUT if it exists"))
    get.set_defaults(func=cmd_get)

    export = commands.add_parser("export", help=_("JSON lines of archived documents for the national reuse store"))
    export.add_argument("-o", "--output", type=Path, help=_("file to write (default: standard output)"))
    export.add_argument("--kind", choices=("KQ", "HS", "all"), default="KQ",
                        help=_("results (default), papers or all"))
    export.set_defaults(func=cmd_export)

    fixity = commands.add_parser("fixity", help=_("re-read archived objects and compare SHA-256 with the catalog"))
    fixity.add_argument("--sample", type=whole_number(1), help=_("check only this many documents, chosen at random"))
    fixity.set_defaults(func=cmd_fixity)


def cmd_ls(args: argparse.Namespace, settings: Settings) -> int:
    from storage.catalog import open_catalog

    with open_catalog(settings.catalog) as catalog:
        rows = catalog.documents(level=args.level, office=args.office, year=args.year)
    if args.json:
        for row in rows:
            print(json.dumps(_document_json(row), ensure_ascii=False, sort_keys=True))
        return 0
    header = (_("document"), _("level"), _("office"), _("status"), _("pages"), _("signed (Vietnam time)"),
              _("archive key"))
    lines = [
        (row.document_code, row.level, row.office_code, document_status_label(row.status),
         str(row.page_count or 0), format_datetime(row.signed_at, seconds=True) if row.signed_at else "-",
         row.archive_key or "-")
        for row in rows
    ]
    for line in table_lines(header, lines, right=(4,)):
        print(line)
    print(ngettext("{n} document", "{n} documents", len(rows), n=len(rows)))
    return 0


#: The catalog's document statuses as a person reads them (``--json`` keeps the keys).
DOCUMENT_STATUS_LABELS = {"archived": N_("archived"), "verified": N_("verified"), "failed": N_("failed")}


def document_status_label(status: str) -> str:
    """A document's status in the catalog (``archived``, ``verified``, ``failed``) in the reader's language."""
    return _(DOCUMENT_STATUS_LABELS[status]) if status in DOCUMENT_STATUS_LABELS else status


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
        raise ArchiveError(_("document {document} is not in the catalog", document=args.document),
                           hint=_("see digitize archive ls"))
    data = open_archive(settings.archive).get_bytes(row.archive_key)
    actual = sha256_bytes(data)
    if actual != row.output_sha256:
        raise VerificationError(
            _("the archived {key} has SHA-256 {actual}, the catalog says {expected}; nothing was written",
              key=row.archive_key, actual=actual, expected=row.output_sha256),
            hint=_("run digitize archive fixity and restore the object from a replica"),
        )
    write_output(args.output, data, force=args.force)
    print(_("{output}: {size} bytes, SHA-256 {sha256} (matches the catalog)",
            output=args.output, size=format_number(len(data)), sha256=actual))
    return 0


def check_output_path(output: Path, settings: Settings, *, force: bool) -> None:
    """Refuse an output inside the local archive (symlinks resolved), and an existing one without ``force``."""
    target = output.resolve()
    if settings.archive.backend == "local" and settings.archive.root is not None:
        root = settings.archive.root.resolve()
        if target == root or target.is_relative_to(root):
            raise UsageError(
                _("-o {output} is inside the archive {root}; the archive is never written by 'archive get'",
                  output=output, root=root),
                hint=_("choose a file outside the archive folder"),
            )
    if (output.exists() or output.is_symlink()) and not force:
        raise _exists(output)


def write_output(output: Path, data: bytes, *, force: bool) -> None:
    """Write ``data`` to ``output`` whole; without ``force`` never over a file that appeared meanwhile."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(output, data, overwrite=force)
    except FileExistsError as e:
        raise _exists(output) from e
    except OSError as e:
        raise BadInputError(_("could not write -o {output}: {error}", output=output, error=os_error(e))) from e


def _exists(output: Path) -> UsageError:
    return UsageError(_("-o {output} already exists; nothing was written", output=output),
                      hint=_("choose another file, or add --force to replace it"))


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
    print(ngettext("exported {n} document", "exported {n} documents", count, n=count), file=sys.stderr)
    return 0


def cmd_fixity(args: argparse.Namespace, settings: Settings) -> int:
    from rich.cells import cell_len

    from storage.archive import open_archive
    from storage.catalog import open_catalog
    from storage.fixity import check_fixity, record_fixity_events

    archive = open_archive(settings.archive)
    with open_catalog(settings.catalog) as catalog:
        report = check_fixity(archive, catalog, args.sample)
        record_fixity_events(catalog, report)
    labels = {kind: _(label).upper() for kind, label in FIXITY_LABELS.items()}
    for problem in report.problems:
        label = labels.get(problem.problem, problem.problem.upper())
        print(f"{label}{' ' * max(0, 8 - cell_len(label))} {problem.document_code}  {problem.key}: {problem.detail}")
    print(_("checked {checked} document(s): {missing} missing, {corrupt} corrupt, {unrecorded} in the archive "
            "without a catalog row", checked=report.checked, missing=report.missing, corrupt=report.corrupt,
            unrecorded=report.unrecorded))
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
