"""The rates summary's SQL: schema version 2 of the catalog, as text for each dialect (no database here).

Version 2 adds ``result_days`` and ``result_months`` (per-office counts by
day and by month) and ``orphan_documents``, kept exact by triggers on
``inventory`` and ``documents``, so that the rates report reads a few hundred
rows whatever the size of the inventory (see ``bench/rates.md``). The catalog
lists :func:`migration_script` among its migrations (:mod:`storage.schema`):
the triggers fire on every document written, whoever writes it. The code that
counts in bulk and recounts is :mod:`rates.summary`.

This module imports nothing of the project but the pace window, so the
catalog can take the script without the rest of the rates package. The SQLite
script is the one shipped in version 2; never edit what it produces.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Days of the pace window the summary counts (results digitized in the last 30 days), for the forecast.
PACE_DAYS = 30


SUMMARY_LOCK = 45_2021
"""PostgreSQL advisory lock key the writers of the rates summary take in turn (transaction-scoped)."""
NEVER = "9999-12-01"
"""The day under which a result with no resolved date counts as ``resolved``: after every real day."""
RESULT_MEASURES = ("resolved", "ended", "digitized", "digitized_ended", "digitized_early", "digitized_early_ended")
"""The measures of ``result_days`` and ``result_months`` (see the comment under :data:`_SUMMARY`)."""

_SUMMARY = """
CREATE TABLE result_months (
    level       TEXT NOT NULL,
    office_code TEXT NOT NULL,
    measure     TEXT NOT NULL,
    month       TEXT NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (level, office_code, measure, month)
){without_rowid};
CREATE TABLE result_days (
    day         TEXT NOT NULL,
    level       TEXT NOT NULL,
    office_code TEXT NOT NULL,
    measure     TEXT NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (day, level, office_code, measure)
){without_rowid};
CREATE TABLE orphan_documents (
    document_code TEXT PRIMARY KEY,
    level         TEXT NOT NULL,
    office_code   TEXT NOT NULL,
    archived_at   TEXT NOT NULL
){without_rowid};
"""
# result_days: per (Vietnam day, level, office, measure), how many inventory results have the measure's day on
# that day; result_months: the same per month ('YYYY-MM'). For a result with resolved date R, first day out of
# force E = valid_until + 1 (none: in force indefinitely), D the day its verified KQ document was archived
# (none: not digitized) and W = D + PACE_DAYS, the measures' days are: resolved R, ended max(R, E), digitized
# max(R, D), digitized_ended max(R, D, E), digitized_early max(R, W), digitized_early_ended max(R, W, E); none
# when any part is none (not counted); a result with no R counts as resolved on NEVER, so that its office still
# shows. So at a day p: in force = #(resolved <= p) - #(ended <= p); digitized (and in
# force) = #(digitized <= p) - #(digitized_ended <= p); digitized before the pace window ending on p (and in
# force) = #(digitized_early <= p) - #(digitized_early_ended <= p). Rows may reach 0 and stay.
# orphan_documents: the verified KQ documents with no inventory row (the rates report's orphans).


@dataclass(frozen=True)
class SummaryDialect:
    """How one database spells the day arithmetic the summary needs."""

    name: str
    latest: str  # latest(a, b[, c]) of ISO days, none when any is none
    plus_days: str  # the ISO day {n} days after the ISO day {day}
    vietnam_day: str  # the Vietnam (UTC+7) ISO day of the UTC text {}
    distinct: str  # null-safe inequality: a {distinct} b
    functions: str = ""  # definitions, when the database lacks them

    def max(self, *days: str) -> str:
        return f"{self.latest}({', '.join(days)})"

    def after(self, day: str, n: int) -> str:
        return self.plus_days.format(day=day, n=n)


SQLITE = SummaryDialect("sqlite", "max", "date({day}, '+{n} days')", "date({}, '+7 hours')", "IS NOT")
POSTGRESQL = SummaryDialect("postgresql", "result_latest", "result_plus_days({day}, {n})", "result_vietnam_day({})",
                            "IS DISTINCT FROM", """
CREATE FUNCTION result_latest(a TEXT, b TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT GREATEST(a COLLATE "C", b COLLATE "C") $$;
CREATE FUNCTION result_latest(a TEXT, b TEXT, c TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT GREATEST(a COLLATE "C", b COLLATE "C", c COLLATE "C") $$;
CREATE FUNCTION result_plus_days(d TEXT, n INTEGER) RETURNS TEXT LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT to_char(d::date + n, 'YYYY-MM-DD') $$;
CREATE FUNCTION result_vietnam_day(moment TEXT) RETURNS TEXT LANGUAGE sql STABLE STRICT
AS $$ SELECT to_char((moment::timestamptz AT TIME ZONE 'UTC') + interval '7 hours', 'YYYY-MM-DD') $$;
""")
# A result document counts in this state (see rates.model); ``{row}`` is NEW, OLD or a table alias.
_VERIFIED = ("{row}.kind = 'KQ' AND {row}.status = 'verified' AND {row}.signed_at IS NOT NULL "
             "AND {row}.archived_at IS NOT NULL")
_DIGITIZED_MEASURES = RESULT_MEASURES[2:]  # the ones that depend on D


def _measures(names: tuple[str, ...]) -> str:
    return f"CROSS JOIN (VALUES {', '.join(f'({name!r})' for name in names)}) m"


def _measure_day(db: SummaryDialect, r: str, e: str, v: str) -> str:
    """The day of measure ``m.column1`` of a result with days R ``r``, E ``e`` and D ``v``."""
    w = db.after(v, PACE_DAYS)
    return (f"CASE m.column1 WHEN 'resolved' THEN COALESCE({r}, '{NEVER}') WHEN 'ended' THEN {db.max(r, e)} "
            f"WHEN 'digitized' THEN {db.max(r, v)} WHEN 'digitized_ended' THEN {db.max(r, v, e)} "
            f"WHEN 'digitized_early' THEN {db.max(r, w)} ELSE {db.max(r, w, e)} END")


def _bump(rows: str, n: int) -> str:
    """Statements adding ``n`` to the day and the month of each (level, office_code, measure, day) of ``rows``."""
    return f"""INSERT INTO result_days (day, level, office_code, measure, n)
SELECT s.day, s.level, s.office_code, s.measure, {n} FROM ({rows}) s WHERE s.day IS NOT NULL
ON CONFLICT (day, level, office_code, measure) DO UPDATE SET n = result_days.n + excluded.n;
INSERT INTO result_months (level, office_code, measure, month, n)
SELECT s.level, s.office_code, s.measure, substr(s.day, 1, 7), {n} FROM ({rows}) s WHERE s.day IS NOT NULL
ON CONFLICT (level, office_code, measure, month) DO UPDATE SET n = result_months.n + excluded.n;"""


def _inventory_rows(row: str, sign: int, db: SummaryDialect) -> str:
    """Statements adding (``sign`` 1) or taking away (-1) the counts of the inventory row ``row``.

    Its verified document, if any, stops (or starts again) being an orphan.
    """
    code = f"{row}.dossier_code || '-KQ' || {row}.result_no"
    document = f"d.document_code = {code} AND {_VERIFIED.format(row='d')}"
    result = (f"SELECT {row}.level AS level, {row}.office_code AS office_code, m.column1 AS measure, "
              f"{_measure_day(db, 'x.r', 'x.e', 'x.v')} AS day "
              f"FROM (SELECT {row}.resolved_date AS r, {db.after(row + '.valid_until', 1)} AS e, "
              f"(SELECT {db.vietnam_day.format('d.archived_at')} FROM documents d WHERE {document}) AS v) x "
              + _measures(RESULT_MEASURES))
    orphan = (f"DELETE FROM orphan_documents WHERE document_code = {code};" if sign > 0 else
              "INSERT INTO orphan_documents (document_code, level, office_code, archived_at) "
              f"SELECT d.document_code, d.level, d.office_code, d.archived_at FROM documents d WHERE {document} "
              "ON CONFLICT (document_code) DO NOTHING;")
    return _bump(result, sign) + "\n" + orphan


def _document_rows(row: str, sign: int, db: SummaryDialect) -> str:
    """Statements adding (1) or taking away (-1) the counts of ``row``, when it is a verified KQ document."""
    verified = _VERIFIED.format(row=row)
    matches = f"i.dossier_code = {row}.dossier_code AND i.result_no = CAST({row}.number AS TEXT)"
    day = db.vietnam_day.format(f"{row}.archived_at")
    result = (f"SELECT i.level AS level, i.office_code AS office_code, m.column1 AS measure, "
              f"{_measure_day(db, 'i.resolved_date', db.after('i.valid_until', 1), 'x.v')} AS day "
              f"FROM inventory i CROSS JOIN (SELECT {day} AS v) x {_measures(_DIGITIZED_MEASURES)} "
              f"WHERE {matches} AND {verified}")
    orphan = ("INSERT INTO orphan_documents (document_code, level, office_code, archived_at) "
              f"SELECT {row}.document_code, {row}.level, {row}.office_code, {row}.archived_at "
              f"WHERE {verified} AND NOT EXISTS (SELECT 1 FROM inventory i WHERE {matches}) "
              "ON CONFLICT (document_code) DO NOTHING;" if sign > 0 else
              f"DELETE FROM orphan_documents WHERE document_code = {row}.document_code;")
    return _bump(result, sign) + "\n" + orphan


def result_days_count(db: SummaryDialect, rows: str = "inventory i") -> str:
    """A SELECT of the ``result_days`` rows of the inventory rows ``rows`` (``i``), counted from scratch."""
    verified = _VERIFIED.format(row="d")
    return f"""SELECT s.day AS day, s.level AS level, s.office_code AS office_code, s.measure AS measure, COUNT(*) AS n
FROM (
  SELECT x.level AS level, x.office_code AS office_code, m.column1 AS measure,
         {_measure_day(db, 'x.r', 'x.e', 'x.v')} AS day
  FROM (SELECT i.level AS level, i.office_code AS office_code, i.resolved_date AS r,
               {db.after('i.valid_until', 1)} AS e, {db.vietnam_day.format('d.archived_at')} AS v
        FROM {rows} LEFT JOIN documents d
          ON d.document_code = i.dossier_code || '-KQ' || i.result_no AND {verified}) x
  {_measures(RESULT_MEASURES)}
) s WHERE s.day IS NOT NULL GROUP BY s.day, s.level, s.office_code, s.measure"""


_COUNT_SUMMARY = """INSERT INTO result_days (day, level, office_code, measure, n)
{days};
INSERT INTO result_months (level, office_code, measure, month, n)
SELECT level, office_code, measure, substr(day, 1, 7), SUM(n) FROM result_days
GROUP BY level, office_code, measure, substr(day, 1, 7);
INSERT INTO orphan_documents (document_code, level, office_code, archived_at)
SELECT d.document_code, d.level, d.office_code, d.archived_at FROM documents d
WHERE {verified} AND NOT EXISTS (SELECT 1 FROM inventory i
                                 WHERE i.dossier_code = d.dossier_code AND i.result_no = CAST(d.number AS TEXT));
"""
COUNTED_INVENTORY = ("dossier_code", "result_no", "level", "office_code", "resolved_date", "valid_until")
_COUNTED_DOCUMENT = ("document_code", "dossier_code", "kind", "number", "level", "office_code", "status",
                     "signed_at", "archived_at")


def count_summary(db: SummaryDialect) -> str:
    return _COUNT_SUMMARY.format(days=result_days_count(db), verified=_VERIFIED.format(row="d"))


def _changed(db: SummaryDialect, columns: tuple[str, ...]) -> str:
    return " OR ".join(f"OLD.{c} {db.distinct} NEW.{c}" for c in columns)


def triggers(db: SummaryDialect) -> list[tuple[str, str, str, str]]:
    """(name, event, condition or "", body) of the triggers keeping the summary exact."""
    inventory_update = f"UPDATE OF {', '.join(COUNTED_INVENTORY)} ON inventory"
    document_update = f"UPDATE OF {', '.join(_COUNTED_DOCUMENT)} ON documents"
    old, new = _VERIFIED.format(row="OLD"), _VERIFIED.format(row="NEW")
    # An update counts as the old row taken away, then the new one added (in this order: one trigger).
    return [
        ("inventory_counted", "INSERT ON inventory", "", _inventory_rows("NEW", 1, db)),
        ("inventory_uncounted", "DELETE ON inventory", "", _inventory_rows("OLD", -1, db)),
        ("inventory_recounted", inventory_update, _changed(db, COUNTED_INVENTORY),
         _inventory_rows("OLD", -1, db) + "\n" + _inventory_rows("NEW", 1, db)),
        ("documents_counted", "INSERT ON documents", new, _document_rows("NEW", 1, db)),
        ("documents_uncounted", "DELETE ON documents", old, _document_rows("OLD", -1, db)),
        ("documents_recounted", document_update, f"({old} OR {new}) AND ({_changed(db, _COUNTED_DOCUMENT)})",
         _document_rows("OLD", -1, db) + "\n" + _document_rows("NEW", 1, db)),
    ]


def create_trigger(db: SummaryDialect, name: str, event: str, condition: str, body: str) -> list[str]:
    """The statements creating one trigger of :func:`triggers` (PostgreSQL: a plpgsql function and its trigger)."""
    if db is SQLITE:
        when = f" WHEN {condition}" if condition else ""
        return [f"CREATE TRIGGER {name} AFTER {event} FOR EACH ROW{when} BEGIN\n{body}\nEND;"]
    when = f" WHEN ({condition})" if condition else ""
    # Under READ COMMITTED a trigger on one table would miss the other table's row written by a concurrent
    # transaction (an inventory row and its document, both uncommitted): the summary's writers take turns, as
    # SQLite's writers do. Each statement after the lock sees what the transaction before it committed.
    lock = f"PERFORM pg_advisory_xact_lock({SUMMARY_LOCK});"
    return [f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n{lock}\n{body}\n"
            "RETURN NULL;\nEND\n$$;",
            f"CREATE TRIGGER {name} AFTER {event} FOR EACH ROW{when} EXECUTE FUNCTION {name}();"]


def dialect(name: str) -> SummaryDialect:
    """The day arithmetic of the catalog dialect ``name`` (``sqlite`` or ``postgresql``)."""
    return {"sqlite": SQLITE, "postgresql": POSTGRESQL}[name]


def migration_script(name: str) -> str:
    """Schema version 2 in the dialect ``name``: the summary tables, their triggers, and their rows counted."""
    db = dialect(name)
    script = [db.functions, _SUMMARY.format(without_rowid=" WITHOUT ROWID" if db is SQLITE else "")]
    for trigger in triggers(db):
        script += create_trigger(db, *trigger)
    script.append(count_summary(db))
    return "\n".join(script)

