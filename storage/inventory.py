"""The inventory of issued results and the office registry: CSV import and the rate queries.

An import is validated whole before anything is written: every bad line is
reported with its line number and nothing is written; a good file is written
in one transaction. Rows are keyed (``(dossier_code, result_no)`` for results,
``code`` for offices), so importing the same file twice changes nothing, and a
corrected re-export updates the rows it changes.

The report does not read the inventory row by row. Its figures come from
the summary of schema version 2 (see :mod:`storage.catalog`): per office,
how many results were resolved, went out of force, were digitized, ... in each
month (``result_months``) and on each day (``result_days``), and the orphan
documents (``orphan_documents``), kept exact by triggers (an import counts its
rows set by set instead, :meth:`Catalog.inventory_counted_in_bulk`). A month
end checkpoint is a sum over months; the period end, when it is not a month
end, adds the days of its own month up to it. The backlog and orphan lists are
index walks that stop at their limit. Conditions are written so that SQLite's
planner cannot pick an index that would fetch a third of a table row by row
(see ``bench/rates.md``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from itertools import accumulate
from pathlib import Path

from digitize.errors import BadInputError, CatalogError, CsvImportError
from digitize.models import VIETNAM, check_code, check_office, nfc
from digitize.rates import (
    PACE_DAYS,
    BacklogItem,
    Office,
    OfficeTally,
    OrphanDocument,
    RatesReport,
    build_report,
    checkpoints,
)
from digitize.targets import Schedule
from storage.catalog import AREA_TYPES, DIGITIZED_STATUSES, OFFICE_STATUSES, RESULT_MEASURES, Catalog
from storage.catalog import PACE_DAYS as SUMMARY_PACE_DAYS

INVENTORY_COLUMNS = (
    "dossier_code", "procedure_code", "office_code", "level",
    "received_date", "resolved_date", "result_no", "valid_until",
)
OFFICE_COLUMNS = ("code", "name", "level", "area_type", "status", "merged_into")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# A result counts as digitized only through a document in this state (see digitize.rates).
_VERIFIED_RESULT = "d.kind = 'KQ' AND d.status = 'verified' AND d.signed_at IS NOT NULL AND d.archived_at IS NOT NULL"
_DIGITIZED_JOIN = f"LEFT JOIN documents d ON d.document_code = i.dossier_code || '-KQ' || i.result_no AND {_VERIFIED_RESULT}"
# Archived by the cut (written as a CASE so the planner walks the documents in code order instead of
# fetching a range of documents_archived_at row by row) and with no inventory row.
_ORPHAN = ("CASE WHEN d.archived_at < ? THEN 1 ELSE 0 END = 1 AND NOT EXISTS (SELECT 1 FROM inventory i "
           "WHERE i.dossier_code = d.dossier_code AND i.result_no = CAST(d.number AS TEXT))")


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
    errors += [(line, f"merged_into {r.merged_into!r} is not an office in the file or the catalog")
               for line, r in rows if r.merged_into is not None and r.merged_into not in known]
    errors += _duplicates([(line, (r.code,)) for line, r in rows], "office")
    _refuse(path, errors)
    values = [(r.code, r.name, r.level, r.area_type, r.status, r.merged_into) for _, r in rows]
    with catalog.transaction(f"import offices from {path}"):
        before = catalog.query("SELECT COUNT(*) FROM offices")[0][0]
        catalog.execute("PRAGMA defer_foreign_keys = ON")  # merged_into may name a later line
        changed = catalog.executemany(
            "INSERT INTO offices (code, name, level, area_type, status, merged_into) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level, "
            "area_type = excluded.area_type, status = excluded.status, merged_into = excluded.merged_into "
            "WHERE offices.name IS NOT excluded.name OR offices.level IS NOT excluded.level "
            "OR offices.area_type IS NOT excluded.area_type OR offices.status IS NOT excluded.status "
            "OR offices.merged_into IS NOT excluded.merged_into",
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
            errors.append((line, f"office {r.office_code!r} is not in the office registry "
                                 "(import it first: digitize offices import FILE.csv)"))
        elif registry[r.office_code] != r.level:
            errors.append((line, f"office {r.office_code} is a {registry[r.office_code]} office, "
                                 f"not {r.level}"))
    errors += _duplicates([(line, (r.dossier_code, r.result_no)) for line, r in rows], "result")
    _refuse(path, errors)
    values = [(r.dossier_code, r.procedure_code, r.office_code, r.level, r.received_date, r.resolved_date,
               r.result_no, r.valid_until) for _, r in rows]
    changing = ("procedure_code", "office_code", "level", "received_date", "resolved_date", "valid_until")
    counted = [(r.dossier_code, r.result_no, r.level, r.office_code, r.resolved_date, r.valid_until) for _, r in rows]
    with catalog.transaction(f"import inventory from {path}"), catalog.inventory_counted_in_bulk(counted):
        before = catalog.query("SELECT COUNT(*) FROM inventory")[0][0]
        changed = catalog.executemany(
            f"INSERT INTO inventory ({', '.join(INVENTORY_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (dossier_code, result_no) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in changing)
            + " WHERE " + " OR ".join(f"inventory.{c} IS NOT excluded.{c}" for c in changing),
            values,
        )
        inserted = catalog.query("SELECT COUNT(*) FROM inventory")[0][0] - before
    return ImportResult(Path(path), len(rows), inserted, changed - inserted)


def _parse(path, columns, convert):  # noqa: ANN001, ANN202 - private helper
    """Read a UTF-8 CSV with exactly ``columns``; returns ([(line, row)], [(line, error)])."""
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise BadInputError(f"cannot read {path}: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise CsvImportError(f"{path} is not UTF-8 text; nothing was imported",
                             [(text_line(e), "not UTF-8")]) from e
    reader = csv.reader(io.StringIO(nfc(text), newline=""))
    header = next(reader, None)
    if header is None:
        raise CsvImportError(f"{path} is empty; nothing was imported", [])
    header = [h.strip() for h in header]
    if sorted(header) != sorted(columns):
        raise CsvImportError(
            f"{path}: the header must name the columns {', '.join(columns)}; nothing was imported",
            [(1, f"found {', '.join(header) or '(nothing)'}")],
        )
    rows, errors = [], []
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            errors.append((line, f"{len(record)} fields, expected {len(header)}"))
            continue
        try:
            rows.append((line, convert(line, dict(zip(header, (c.strip() for c in record), strict=True)))))
        except BadInputError as e:
            errors.append((line, e.message))
    if not rows and not errors:
        raise CsvImportError(f"{path} has a header but no rows; nothing was imported", [])
    return rows, errors


def text_line(error: UnicodeDecodeError) -> int:
    """The line number of the first byte that is not UTF-8."""
    return error.object[: error.start].count(b"\n") + 1


def _refuse(path: Path, errors: list[tuple[int, str]]) -> None:
    if errors:
        errors.sort()
        raise CsvImportError(f"{path}: {len(errors)} bad line(s); nothing was imported", errors)


def _duplicates(keys: list[tuple[int, tuple[str, ...]]], what: str) -> list[tuple[int, str]]:
    seen: dict[tuple[str, ...], int] = {}
    errors = []
    for line, key in keys:
        if key in seen:
            errors.append((line, f"the same {what} {' / '.join(key)} as line {seen[key]}"))
        else:
            seen[key] = line
    return errors


def _office(rec: dict[str, str], levels: Sequence[str]) -> Office:
    code = check_office(rec["code"])
    if not rec["name"]:
        raise BadInputError("name is empty")
    level = _level(rec["level"], levels)
    if rec["area_type"] not in AREA_TYPES:
        raise BadInputError(f"area_type {rec['area_type']!r} must be one of {', '.join(AREA_TYPES)}")
    if rec["status"] not in OFFICE_STATUSES:
        raise BadInputError(f"status {rec['status']!r} must be one of {', '.join(OFFICE_STATUSES)}")
    merged_into = rec["merged_into"] or None
    if merged_into is not None:
        check_office(merged_into)
        if rec["status"] != "merged" or merged_into == code:
            raise BadInputError("merged_into is only for a merged office, and not itself")
    return Office(code, rec["name"], level, rec["area_type"], rec["status"], merged_into)


def _inventory(rec: dict[str, str], levels: Sequence[str]) -> InventoryRow:
    dossier = check_code(rec["dossier_code"])
    procedure = check_code(rec["procedure_code"], "procedure code") if rec["procedure_code"] else None
    office = check_office(rec["office_code"])
    level = _level(rec["level"], levels)
    received = _date(rec, "received_date", required=False)
    resolved = _date(rec, "resolved_date", required=True)
    valid_until = _date(rec, "valid_until", required=False)
    if received is not None and received > resolved:
        raise BadInputError(f"resolved_date {resolved} is before received_date {received}")
    if valid_until is not None and valid_until < resolved:
        raise BadInputError(f"valid_until {valid_until} is before resolved_date {resolved}")
    number = rec["result_no"]
    if not number.isdigit() or not 1 <= int(number) <= 9999:
        raise BadInputError(f"result_no {number!r} must be a whole number from 1 to 9999 (the n of -KQ<n>)")
    return InventoryRow(dossier, procedure, office, level, received, resolved, str(int(number)), valid_until)


def _level(value: str, levels: Sequence[str]) -> str:
    if value not in levels:
        raise BadInputError(f"level {value!r} must be one of {', '.join(levels)}")
    return value


def _date(rec: dict[str, str], column: str, *, required: bool) -> str | None:
    value = rec[column]
    if not value:
        if required:
            raise BadInputError(f"{column} is empty")
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise BadInputError(f"{column} {value!r} is not a date YYYY-MM-DD") from None


# --- queries for the report --------------------------------------------------------


def end_of_day_utc(day: date) -> str:
    """The first instant after the Vietnam day ``day``, as the catalog's UTC text (for ``archived_at <``)."""
    moment = datetime.combine(day + timedelta(days=1), time(0), VIETNAM).astimezone(timezone.utc)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def offices(catalog: Catalog) -> list[Office]:
    """The office registry, by level and code."""
    rows = catalog.query("SELECT code, name, level, area_type, status, merged_into FROM offices ORDER BY level, code")
    return [Office(*row) for row in rows]


@dataclass(frozen=True)
class ResultCounts:
    """The report's figures: a tally per office with inventory results, and the orphan documents' count."""

    tallies: list[OfficeTally]
    orphans: int


def result_counts(
    catalog: Catalog, end: date, *, level: str | None = None, office: str | None = None
) -> ResultCounts:
    """Every office's results in force and digitized at each checkpoint of ``end``, and the orphan count at ``end``.

    Reads the summary only: ``result_months`` up to the month before
    ``end``'s, then ``result_months`` for ``end``'s month when ``end`` is its
    last day, else ``result_days`` from its first day to ``end`` (see
    :mod:`storage.catalog` for the measures); orphans from ``orphan_documents``.
    """
    if PACE_DAYS != SUMMARY_PACE_DAYS:
        raise CatalogError(f"the catalog counts a pace window of {SUMMARY_PACE_DAYS} days, not {PACE_DAYS}",
                           hint="a new schema migration must count it again")
    points = checkpoints(end)
    k = len(points)
    months = [p.isoformat()[:7] for p in points]
    # A month's count at index j counts at every checkpoint from j on; months before the first at index 0.
    index = {"": 0, **{m: j for j, m in enumerate(months[:-1])}}
    where, args = _where(level, office, prefix="r")
    rows = catalog.query(
        "SELECT r.level, r.office_code, r.measure, CASE WHEN r.month < ? THEN '' ELSE r.month END, SUM(r.n) "
        f"FROM result_months r WHERE r.n <> 0{where} GROUP BY 1, 2, 3, 4", [months[0], *args])
    if (end + timedelta(days=1)).day == 1:
        index[months[-1]] = k - 1
    else:  # end's month up to end, by day ("end" is no month)
        index["end"] = k - 1
        rows += [(lv, code, measure, "end", n) for lv, code, measure, n in catalog.query(
            "SELECT r.level, r.office_code, r.measure, SUM(r.n) FROM result_days r "
            f"WHERE r.day >= ? AND r.day <= ?{where} GROUP BY 1, 2, 3",
            [end.replace(day=1).isoformat(), end.isoformat(), *args])]
    steps: dict[tuple[str, str], dict[str, list[int]]] = {}
    results: dict[tuple[str, str], int] = {}  # every result counts once as resolved: the offices to show
    for lv, code, measure, month, n in rows:
        if measure == "resolved":
            results[lv, code] = results.get((lv, code), 0) + n
        j = index.get(month)
        if j is not None:
            steps.setdefault((lv, code), {}).setdefault(measure, [0] * k)[j] += n
    # At the checkpoints: in force = resolved - ended, digitized = digitized - digitized_ended; the pace
    # (digitized in the window ending on the period end) = digitized - (digitized_early - digitized_early_ended).
    tallies = []
    for key in sorted(key for key, n in results.items() if n > 0):
        count = {m: list(accumulate(steps.get(key, {}).get(m, [0] * k))) for m in RESULT_MEASURES}
        digitized = [a - b for a, b in zip(count["digitized"], count["digitized_ended"], strict=True)]
        early = count["digitized_early"][-1] - count["digitized_early_ended"][-1]
        tallies.append(OfficeTally(
            *key,
            in_force=tuple(a - b for a, b in zip(count["resolved"], count["ended"], strict=True)),
            digitized=tuple(digitized),
            recent=digitized[-1] - early,
        ))
    where, args = _where(level, office, prefix="o")
    orphans_total = catalog.query(f"SELECT COUNT(*) FROM orphan_documents o WHERE o.archived_at < ?{where}",
                                  [end_of_day_utc(end), *args])[0][0]
    return ResultCounts(tallies, orphans_total)


def backlog(
    catalog: Catalog, end: date, *, level: str | None = None, office: str | None = None, limit: int | None = 100
) -> list[BacklogItem]:
    """Results in force at ``end`` not digitized by then, oldest resolved first (at most ``limit``).

    One walk per level of the index ``inventory_level_resolved`` (or of
    ``inventory_office_resolved`` for one office), oldest first, each stopping
    at ``limit``; the walks are merged.
    """
    sql = (
        "SELECT i.dossier_code || '-KQ' || i.result_no, i.level, i.office_code, i.procedure_code, "
        f"i.resolved_date, i.valid_until, i.dossier_code, i.result_no FROM inventory i {_DIGITIZED_JOIN} "
        "AND d.archived_at < ? WHERE d.id IS NULL{where} AND i.resolved_date <= ? "
        "AND (i.valid_until IS NULL OR i.valid_until >= ?) ORDER BY i.resolved_date, i.dossier_code, i.result_no"
        + ("" if limit is None else f" LIMIT {int(limit):d}")
    )
    day = end.isoformat()
    walks = [(level, office)] if level is not None or office is not None else \
        [(each, None) for each in _inventory_levels(catalog)]
    rows = []
    for each_level, each_office in walks:
        where, args = _where(each_level, each_office)
        rows += catalog.query(sql.replace("{where}", where), [end_of_day_utc(end), *args, day, day])
    rows.sort(key=lambda row: (row[4], row[6], row[7]))
    return [BacklogItem(*row[:6]) for row in rows[:limit]]


def _inventory_levels(catalog: Catalog) -> list[str]:
    """The levels in the inventory: one index step each (a skip scan of ``inventory_level_resolved``)."""
    rows = catalog.query(
        "WITH RECURSIVE found (level) AS (SELECT MIN(level) FROM inventory UNION ALL "
        "SELECT (SELECT MIN(i.level) FROM inventory i WHERE i.level > found.level) FROM found "
        "WHERE found.level IS NOT NULL) SELECT level FROM found WHERE level IS NOT NULL"
    )
    return [level for (level,) in rows]


def orphans(
    catalog: Catalog, end: date, *, level: str | None = None, office: str | None = None, limit: int | None = 100
) -> tuple[list[OrphanDocument], int]:
    """Digitized result documents archived by ``end`` with no inventory row (at most ``limit``), and their count.

    Straight from ``documents`` and ``inventory`` (an anti-join walk of the
    documents): the check of ``orphan_documents``, which the report reads.
    """
    indexed = level is None or office is not None or _small_level(catalog, level)
    where, args = _where(level, office, prefix="d", level_index=indexed)
    # Only kind and status as index terms (a range of documents_archived_at would fetch every row);
    # archived_at < ? implies IS NOT NULL.
    sql = (f"SELECT COUNT(*) FROM documents d WHERE d.kind = 'KQ' AND d.status = 'verified'{where} "
           f"AND d.signed_at IS NOT NULL AND {_ORPHAN}")
    count = catalog.query(sql, [*args, end_of_day_utc(end)])[0][0]
    if not count:
        return [], 0
    sql = (
        f"SELECT d.document_code, d.level, d.office_code, d.archived_at FROM documents d WHERE {_VERIFIED_RESULT}"
        f"{where} AND {_ORPHAN} ORDER BY d.document_code" + ("" if limit is None else f" LIMIT {int(limit):d}")
    )
    return [OrphanDocument(*row) for row in catalog.query(sql, [*args, end_of_day_utc(end)])], count


def orphan_list(
    catalog: Catalog, end: date, level: str | None = None, office: str | None = None, limit: int | None = 100
) -> list[OrphanDocument]:
    """The first ``limit`` orphan documents archived by ``end``, by code (a walk of ``orphan_documents``)."""
    where, args = _where(level, office, prefix="o")
    sql = ("SELECT o.document_code, o.level, o.office_code, o.archived_at FROM orphan_documents o "
           f"WHERE o.archived_at < ?{where} ORDER BY o.document_code"
           + ("" if limit is None else f" LIMIT {int(limit):d}"))
    return [OrphanDocument(*row) for row in catalog.query(sql, [end_of_day_utc(end), *args])]


def intake_offices(catalog: Catalog, end: date) -> set[str]:
    """Offices with at least one dossier paper (HS document) archived from 1 January of ``end``'s year to ``end``."""
    marks = ", ".join("?" * len(DIGITIZED_STATUSES))
    rows = catalog.query(
        f"SELECT DISTINCT office_code FROM documents WHERE kind = 'HS' AND status IN ({marks}) "
        "AND archived_at >= ? AND archived_at < ?",
        [*DIGITIZED_STATUSES, end_of_day_utc(date(end.year - 1, 12, 31)), end_of_day_utc(end)],
    )
    return {code for (code,) in rows}


def _small_level(catalog: Catalog, level: str) -> bool:
    """Whether ``level`` holds under a fifth of the inventory, so that reading it by index beats a table scan.

    Fetching rows one by one in index order costs about four times a scan's row (bench/rates.md).
    """
    rows, top = catalog.query("SELECT (SELECT COUNT(*) FROM inventory WHERE level = ?), "
                              "(SELECT MAX(id) FROM inventory)", [level])[0]
    return rows * 5 < (top or 0)


def _where(
    level: str | None, office: str | None, prefix: str = "i", *, level_index: bool = True
) -> tuple[str, list[str]]:
    parts, args = [], []
    if level is not None and not level_index:
        # Not indexable on purpose: a range of a level index would fetch a large level's rows one by one.
        parts.append(f" AND CASE WHEN {prefix}.level = ? THEN 1 ELSE 0 END = 1")
        args.append(level)
    elif level is not None:
        parts.append(f" AND {prefix}.level = ?")
        args.append(level)
    if office is not None:
        parts.append(f" AND {prefix}.office_code = ?")
        args.append(office)
    return "".join(parts), args


def rates_report(
    catalog: Catalog,
    end: date,
    schedule: Schedule,
    levels: Sequence[str],
    *,
    level: str | None = None,
    office: str | None = None,
    list_limit: int | None = 100,
) -> RatesReport:
    """Run the report's queries at period end ``end`` and add them up (see :func:`digitize.rates.build_report`).

    The figures come from :func:`result_counts`; the backlog and orphan lists
    are index walks that stop at ``list_limit``, skipped when the counts show
    there is nothing to list.
    """
    registry = [o for o in offices(catalog)
                if (level is None or o.level == level) and (office is None or o.code == office)]
    counts = result_counts(catalog, end, level=level, office=office)
    missing = sum(t.in_force[-1] - t.digitized[-1] for t in counts.tallies)
    found = orphan_list(catalog, end, level, office, list_limit) if counts.orphans else []
    return build_report(
        end,
        counts.tallies,
        registry,
        schedule,
        intake_offices=intake_offices(catalog, end),
        levels=[level] if level else list(levels),
        points=checkpoints(end),
        backlog=backlog(catalog, end, level=level, office=office, limit=list_limit) if missing else [],
        orphans=found,
        orphans_total=counts.orphans,
        filters={k: v for k, v in (("level", level), ("office", office)) if v},
    )
