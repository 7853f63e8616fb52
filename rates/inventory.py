"""The inventory of issued results and the office registry: their CSV import.

An import is validated whole before anything is written: every bad line is
reported with its line number and nothing is written; a good file is written
in one transaction. Rows are keyed (``(dossier_code, result_no)`` for results,
``code`` for offices), so importing the same file twice changes nothing, and a
corrected re-export updates the rows it changes.
The summary of the report counts an import's rows set by set
(:func:`rates.summary.inventory_counted_in_bulk`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from digitize.errors import BadInputError, CsvImportError
from digitize.i18n import N_, _, ngettext, os_error
from digitize.models import check_code, check_office, nfc
from digitize.offices import Office
from rates.summary import inventory_counted_in_bulk
from storage.catalog import Catalog

INVENTORY_COLUMNS = (
    "dossier_code", "procedure_code", "office_code", "level",
    "received_date", "resolved_date", "result_no", "valid_until",
)
OFFICE_COLUMNS = ("code", "name", "level", "area_type", "status", "merged_into")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class ImportResult:
    """What an import did: rows read, new rows, changed rows, rows already there as they are."""

    path: Path
    rows: int
    inserted: int
    updated: int

    @property
    def unchanged(self) -> int:
        """Rows already in the catalog exactly as in the file."""
        return self.rows - self.inserted - self.updated


@dataclass(frozen=True)
class InventoryRow:
    """One validated line of an inventory CSV."""

    dossier_code: str
    procedure_code: str | None
    office_code: str
    level: str
    received_date: str | None
    resolved_date: str
    result_no: str
    valid_until: str | None


# --- import ----------------------------------------------------------------------


def import_offices(catalog: Catalog, path: Path, levels: Sequence[str]) -> ImportResult:
    """Import the office registry CSV at ``path`` (all or nothing, idempotent)."""
    rows, errors = _parse(path, OFFICE_COLUMNS, lambda line, rec: _office(rec, levels))
    known = {row[0] for row in catalog.query("SELECT code FROM offices")} | {r.code for _, r in rows}
    errors += [(line, _("merged_into {office!r} is not an office in the file or the office registry",
                        office=r.merged_into))
               for line, r in rows if r.merged_into is not None and r.merged_into not in known]
    errors += _duplicates([(line, (r.code,)) for line, r in rows], N_("the same office {key} as line {first}"))
    _refuse(path, errors)
    values = [(r.code, r.name, r.level, r.area_type, r.status, r.merged_into) for _, r in rows]
    with catalog.transaction(_("import the office registry from {file}", file=path)):
        before = catalog.query("SELECT COUNT(*) FROM offices")[0][0]
        catalog.defer_foreign_keys()  # merged_into may name a later line
        changed = catalog.executemany(
            "INSERT INTO offices (code, name, level, area_type, status, merged_into) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level, "
            "area_type = excluded.area_type, status = excluded.status, merged_into = excluded.merged_into "
            "WHERE " + " OR ".join(f"offices.{c} {catalog.dialect.distinct} excluded.{c}" for c in OFFICE_COLUMNS[1:]),
            values,
        )
        inserted = catalog.query("SELECT COUNT(*) FROM offices")[0][0] - before
    return ImportResult(Path(path), len(rows), inserted, changed - inserted)


def import_inventory(catalog: Catalog, path: Path, levels: Sequence[str]) -> ImportResult:
    """Import the results CSV at ``path`` (all or nothing, idempotent); offices must be in the registry."""
    rows, errors = _parse(path, INVENTORY_COLUMNS, lambda line, rec: _inventory(rec, levels))
    registry = {code: level for code, level in catalog.query("SELECT code, level FROM offices")}
    for line, r in rows:
        if r.office_code not in registry:
            errors.append((line, _("office {office!r} is not in the office registry "
                                   "(import it first: digitize offices import FILE.csv)", office=r.office_code)))
        elif registry[r.office_code] != r.level:
            errors.append((line, _("office {office} is of level {registered} in the office registry, not {level}",
                                   office=r.office_code, registered=registry[r.office_code], level=r.level)))
    errors += _duplicates([(line, (r.dossier_code, r.result_no)) for line, r in rows],
                          N_("the same result {key} as line {first}"))
    _refuse(path, errors)
    values = [(r.dossier_code, r.procedure_code, r.office_code, r.level, r.received_date, r.resolved_date,
               r.result_no, r.valid_until) for _, r in rows]
    changing = ("procedure_code", "office_code", "level", "received_date", "resolved_date", "valid_until")
    counted = [(r.dossier_code, r.result_no, r.level, r.office_code, r.resolved_date, r.valid_until) for _, r in rows]
    with catalog.transaction(_("import the results issued from {file}", file=path)), inventory_counted_in_bulk(catalog, counted):
        before = catalog.query("SELECT COUNT(*) FROM inventory")[0][0]
        changed = catalog.executemany(
            f"INSERT INTO inventory ({', '.join(INVENTORY_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (dossier_code, result_no) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in changing)
            + " WHERE " + " OR ".join(f"inventory.{c} {catalog.dialect.distinct} excluded.{c}" for c in changing),
            values,
        )
        inserted = catalog.query("SELECT COUNT(*) FROM inventory")[0][0] - before
    return ImportResult(Path(path), len(rows), inserted, changed - inserted)


def _parse(path, columns, convert):  # noqa: ANN001, ANN202 - private helper
    """Read a UTF-8 CSV with exactly ``columns``; returns ([(line, row)], [(line, error)])."""
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise BadInputError(_("cannot read {file}: {error}", file=path, error=os_error(e))) from e
    except UnicodeDecodeError as e:
        raise CsvImportError(_("{file} is not UTF-8 text; nothing was imported: export the CSV again as UTF-8",
                               file=path), [(text_line(e), _("not UTF-8"))]) from e
    reader = csv.reader(io.StringIO(nfc(text), newline=""))
    header = next(reader, None)
    if header is None:
        raise CsvImportError(_("{file} is empty; nothing was imported", file=path), [])
    header = [h.strip() for h in header]
    if sorted(header) != sorted(columns):
        raise CsvImportError(
            _("{file}: the header must name the columns {columns}; nothing was imported", file=path,
              columns=", ".join(columns)),
            [(1, _("found {columns}", columns=", ".join(header) or _("(nothing)")))],
        )
    rows, errors = [], []
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            errors.append((line, _("{found} fields, expected {expected}", found=len(record), expected=len(header))))
            continue
        try:
            rows.append((line, convert(line, dict(zip(header, (c.strip() for c in record), strict=True)))))
        except BadInputError as e:
            errors.append((line, e.message))
    if not rows and not errors:
        raise CsvImportError(_("{file} has a header but no rows; nothing was imported", file=path), [])
    return rows, errors


def text_line(error: UnicodeDecodeError) -> int:
    """The line number of the first byte that is not UTF-8."""
    return error.object[: error.start].count(b"\n") + 1


def _refuse(path: Path, errors: list[tuple[int, str]]) -> None:
    if errors:
        errors.sort()
        # The action is part of the headline: a hint would be shown after the list, as if of its last line.
        raise CsvImportError(ngettext("{file}: {n} bad line; nothing was imported: correct it and import the "
                                      "whole file again",
                                      "{file}: {n} bad lines; nothing was imported: correct them and import the "
                                      "whole file again", len(errors), file=path, n=len(errors)), errors)


def _duplicates(keys: list[tuple[int, tuple[str, ...]]], message: str) -> list[tuple[int, str]]:
    """``message`` (marked, with ``{key}`` and ``{first}``) for each line whose key an earlier line had."""
    seen: dict[tuple[str, ...], int] = {}
    errors = []
    for line, key in keys:
        if key in seen:
            errors.append((line, _(message, key=" / ".join(key), first=seen[key])))
        else:
            seen[key] = line
    return errors


def _office(rec: dict[str, str], levels: Sequence[str]) -> Office:
    return Office(rec["code"], rec["name"], _level(rec["level"], levels), rec["area_type"], rec["status"],
                  rec["merged_into"] or None)


def _inventory(rec: dict[str, str], levels: Sequence[str]) -> InventoryRow:
    dossier = check_code(rec["dossier_code"])
    procedure = check_code(rec["procedure_code"], "procedure code") if rec["procedure_code"] else None
    office = check_office(rec["office_code"])
    level = _level(rec["level"], levels)
    received = _date(rec, "received_date", required=False)
    resolved = _date(rec, "resolved_date", required=True)
    valid_until = _date(rec, "valid_until", required=False)
    if received is not None and received > resolved:
        raise BadInputError(_("resolved_date {resolved} is before received_date {received}",
                              resolved=resolved, received=received))
    if valid_until is not None and valid_until < resolved:
        raise BadInputError(_("valid_until {valid_until} is before resolved_date {resolved}",
                              valid_until=valid_until, resolved=resolved))
    number = rec["result_no"]
    if not number.isdigit() or not 1 <= int(number) <= 9999:
        raise BadInputError(_("result_no {number!r} must be a whole number from 1 to 9999 (the n of -KQ<n>)",
                              number=number))
    return InventoryRow(dossier, procedure, office, level, received, resolved, str(int(number)), valid_until)


def _level(value: str, levels: Sequence[str]) -> str:
    if value not in levels:
        raise BadInputError(_("level {value!r} must be one of {levels}", value=value, levels=", ".join(levels)))
    return value


def _date(rec: dict[str, str], column: str, *, required: bool) -> str | None:
    value = rec[column]
    if not value:
        if required:
            raise BadInputError(_("{column} is empty", column=column))
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise BadInputError(_("{column} {value!r} is not a date YYYY-MM-DD", column=column, value=value)) from None
