"""The rates summary in a catalog: counted in bulk for an import, and recounted from scratch as the check.

The summary's tables and triggers are schema version 2 of the catalog
(:mod:`storage.summary_schema`); the triggers keep it exact row by row.
Here, through the catalog's plain SQL interface: :func:`inventory_counted_in_bulk`
(an import of many rows counted set by set) and :func:`recount` (the check,
and the repair, for a catalog written around the triggers).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from digitize.i18n import _
from storage import summary_schema as summary_sql
from storage.catalog import Catalog

_SUMMARY_TABLES = ("result_days", "result_months", "orphan_documents")


def recount(catalog: Catalog) -> int:
    """Count the summary (``result_days``, ``result_months``, ``orphan_documents``) again; how many had drifted."""
    db = summary_sql.dialect(catalog.dialect.name)
    with catalog.transaction(_("recount the rates summary")):
        kept = _summary(catalog)
        for table in _SUMMARY_TABLES:
            catalog.execute(f"DELETE FROM {table}")  # noqa: S608 - our table names
        for statement in catalog.dialect.statements(summary_sql.count_summary(db)):
            catalog.execute(statement)
        fresh = _summary(catalog)
    return sum(1 for key in kept.keys() | fresh.keys() if kept.get(key) != fresh.get(key))


@contextlib.contextmanager
def inventory_counted_in_bulk(catalog: Catalog, rows: list[tuple[Any, ...]]) -> Iterator[None]:
    """Inside :meth:`Catalog.transaction`: a block writing many inventory rows, counted in the summary set by set.

    ``rows`` are (dossier_code, result_no, level, office_code,
    resolved_date, valid_until) as the block will leave them; the block
    only inserts or updates those rows. Per-row triggers cost about 45 us a
    row (a 300,000-row import 2.7 times slower); here the inventory's
    triggers are off for the block (inside the transaction: a failure
    rolls that back too), the counts of the rows that change are taken
    away before it and added after it in a few statements, and the
    triggers are back on before the commit.
    """
    db = summary_sql.dialect(catalog.dialect.name)
    sqlite = db is summary_sql.SQLITE
    if not sqlite:  # first: what the block reads and counts must not move under it (see create_trigger)
        catalog.execute(f"SELECT pg_advisory_xact_lock({summary_sql.SUMMARY_LOCK})")
    changed = " OR ".join(f"i.{c} {db.distinct} b.{c}" for c in summary_sql.COUNTED_INVENTORY[2:])
    staged = "bulk_changed c JOIN inventory i ON i.dossier_code = c.dossier_code AND i.result_no = c.result_no"
    catalog.execute("CREATE TEMP TABLE bulk_rows (dossier_code TEXT, result_no TEXT, level TEXT, "
                    "office_code TEXT, resolved_date TEXT, valid_until TEXT)")
    catalog.executemany("INSERT INTO bulk_rows VALUES (?, ?, ?, ?, ?, ?)", rows)
    catalog.execute(
        "CREATE TEMP TABLE bulk_changed AS SELECT b.dossier_code, b.result_no FROM bulk_rows b "
        "LEFT JOIN inventory i ON i.dossier_code = b.dossier_code AND i.result_no = b.result_no "
        f"WHERE i.id IS NULL OR {changed}")
    catalog.execute("CREATE TEMP TABLE bulk_delta (day TEXT, level TEXT, office_code TEXT, measure TEXT, "
                    "n INTEGER)")
    delta = "INSERT INTO bulk_delta SELECT q.day, q.level, q.office_code, q.measure, {sign}q.n FROM ({rows}) q"
    catalog.execute(delta.format(sign="-", rows=summary_sql.result_days_count(db, staged)))
    # SQLite: dropped and created again (its readers are not blocked); PostgreSQL: disabled, which blocks
    # other writers of the inventory but not its readers (DROP TRIGGER would block them too).
    triggers = [t for t in summary_sql.triggers(db) if " ON inventory" in t[1]]
    for name, *_rest in triggers:
        catalog.execute(f"DROP TRIGGER {name}" if sqlite else f"ALTER TABLE inventory DISABLE TRIGGER {name}")
    yield
    for trigger in triggers:
        for statement in (summary_sql.create_trigger(db, *trigger) if sqlite else
                          [f"ALTER TABLE inventory ENABLE TRIGGER {trigger[0]}"]):
            catalog.execute(statement)
    catalog.execute(delta.format(sign="", rows=summary_sql.result_days_count(db, staged)))
    catalog.execute(
        "INSERT INTO result_days (day, level, office_code, measure, n) SELECT day, level, office_code, measure, "
        "SUM(n) FROM bulk_delta GROUP BY day, level, office_code, measure HAVING SUM(n) <> 0 "
        "ON CONFLICT (day, level, office_code, measure) DO UPDATE SET n = result_days.n + excluded.n")
    catalog.execute(
        "INSERT INTO result_months (level, office_code, measure, month, n) SELECT level, office_code, measure, "
        "substr(day, 1, 7), SUM(n) FROM bulk_delta GROUP BY level, office_code, measure, substr(day, 1, 7) "
        "HAVING SUM(n) <> 0 ON CONFLICT (level, office_code, measure, month) "
        "DO UPDATE SET n = result_months.n + excluded.n")
    # A new inventory row takes its document out of the orphans (a changed one had it already).
    catalog.execute("DELETE FROM orphan_documents WHERE document_code IN "
                    "(SELECT c.dossier_code || '-KQ' || c.result_no FROM bulk_changed c)")
    for table in ("bulk_rows", "bulk_changed", "bulk_delta"):
        catalog.execute(f"DROP TABLE {table}")


def _summary(catalog: Catalog) -> dict[tuple[str, ...], int]:
    rows = [
        *catalog.query("SELECT 'day', day, level, office_code, measure, n FROM result_days WHERE n <> 0"),
        *catalog.query("SELECT 'month', month, level, office_code, measure, n FROM result_months WHERE n <> 0"),
        *catalog.query("SELECT 'orphan', document_code, level, office_code, archived_at, 1 FROM orphan_documents"),
    ]
    return {tuple(row[:5]): row[5] for row in rows}
