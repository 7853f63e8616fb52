"""The catalog: what was digitized, signed and archived, in SQLite (stdlib ``sqlite3``).

One SQLite file in WAL mode is the embedded default; PostgreSQL (a
``postgresql://`` ``catalog.url``, see :mod:`storage.postgres`) runs the same
plain SQL, translated where the two differ, so keep the SQL plain. The schema
is versioned: :data:`MIGRATIONS` is a list of SQL scripts applied in order, each in its own transaction, the version kept in
``PRAGMA user_version`` and logged in ``schema_migrations``; a script with
triggers is written apart for each dialect (:class:`Migration`). Append new
migrations; never edit one that has shipped (nor the helpers that write version 2).

Version 2 adds the rates report's summary: ``result_days`` and
``result_months`` (per-office counts by day and by month) and
``orphan_documents``, kept exact by triggers on ``inventory`` and
``documents`` (see :data:`_SUMMARY` and :mod:`storage.inventory`).

Times are stored as ISO 8601 UTC text (``2025-11-28T10:15:00Z``). Every
``sqlite3`` error is wrapped as :class:`CatalogError`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from digitize.errors import BadInputError, CatalogError, DocumentConflictError, StorageFullError
from digitize.i18n import _
from digitize.models import DocumentMeta, check_office, nfc
from digitize.settings import CatalogSettings
from storage.hashing import check_sha256
from storage.keys import check_key
from storage.times import from_utc_text, to_utc_text, utc_now_text

BUSY_TIMEOUT_SECONDS = 30
AREA_TYPES = ("urban", "rural", "remote")
OFFICE_STATUSES = ("active", "merged")
DOCUMENT_STATUSES = ("archived", "verified", "failed")
# Statuses that count as digitized in rates: the signed file is in the archive.
DIGITIZED_STATUSES = ("archived", "verified")
#: A document code held for an input this long without being recorded may be taken by another input.
RESERVATION_STALE_SECONDS = 24 * 3600

_V1 = """
CREATE TABLE schema_migrations (
    version     INTEGER PRIMARY KEY,
    applied_at  TEXT NOT NULL
);

CREATE TABLE offices (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    level       TEXT NOT NULL,
    area_type   TEXT NOT NULL DEFAULT 'urban' CHECK (area_type IN ('urban', 'rural', 'remote')),
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'merged')),
    merged_into TEXT NULL REFERENCES offices (code),
    CHECK (merged_into IS NULL OR (status = 'merged' AND merged_into <> code))
);
CREATE INDEX offices_level ON offices (level);

CREATE TABLE dossiers (
    dossier_code   TEXT PRIMARY KEY,
    procedure_code TEXT NULL,
    level          TEXT NOT NULL,
    office_code    TEXT NOT NULL,
    first_seen     TEXT NOT NULL
);
CREATE INDEX dossiers_level_office ON dossiers (level, office_code);
CREATE INDEX dossiers_office ON dossiers (office_code);

CREATE TABLE documents (
    id             INTEGER PRIMARY KEY,
    document_code  TEXT NOT NULL UNIQUE,
    dossier_code   TEXT NOT NULL REFERENCES dossiers (dossier_code),
    kind           TEXT NOT NULL CHECK (kind IN ('KQ', 'HS')),
    number         INTEGER NOT NULL CHECK (number BETWEEN 1 AND 9999),
    level          TEXT NOT NULL,
    office_code    TEXT NOT NULL,
    input_sha256   TEXT NOT NULL UNIQUE,
    output_sha256  TEXT NULL,
    archive_key    TEXT NULL,
    page_count     INTEGER NULL,
    ocr_confidence REAL NULL,
    pades_level    TEXT NULL,
    signer         TEXT NULL,
    status         TEXT NOT NULL CHECK (status IN ('archived', 'verified', 'failed')),
    digitized_at   TEXT NOT NULL,
    signed_at      TEXT NULL,
    archived_at    TEXT NULL,
    title          TEXT NULL,
    CHECK (document_code = dossier_code || '-' || kind || number)
);
CREATE INDEX documents_dossier ON documents (dossier_code);
CREATE INDEX documents_level_status ON documents (level, status, archived_at);
CREATE INDEX documents_office_status ON documents (office_code, status, archived_at);
CREATE INDEX documents_archived_at ON documents (archived_at);

CREATE TABLE inventory (
    id             INTEGER PRIMARY KEY,
    dossier_code   TEXT NOT NULL,
    procedure_code TEXT NULL,
    office_code    TEXT NOT NULL,
    level          TEXT NOT NULL,
    received_date  TEXT NULL,
    resolved_date  TEXT NULL,
    result_no      TEXT NOT NULL,
    valid_until    TEXT NULL,
    UNIQUE (dossier_code, result_no)
);
CREATE INDEX inventory_level_resolved ON inventory (level, resolved_date);
CREATE INDEX inventory_office_resolved ON inventory (office_code, resolved_date);
CREATE INDEX inventory_valid_until ON inventory (valid_until);

CREATE TABLE events (
    id            INTEGER PRIMARY KEY,
    at            TEXT NOT NULL,
    document_code TEXT NULL,
    kind          TEXT NOT NULL,
    detail        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail))
);
CREATE INDEX events_document ON events (document_code, at);
CREATE INDEX events_kind_at ON events (kind, at);
"""

# --- schema version 2: the rates report's summary, kept exact by triggers ----------------------

SUMMARY_LOCK = 45_2021
"""PostgreSQL advisory lock key the writers of the rates summary take in turn (transaction-scoped)."""
NEVER = "9999-12-01"
"""The day under which a result with no resolved date counts as ``resolved``: after every real day."""
PACE_DAYS = 30
"""digitize.rates.PACE_DAYS when version 2 was written (the ``digitized_early`` measures depend on it)."""
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
class _Dialect:
    """How one database spells the day arithmetic the summary needs."""

    name: str
    latest: str  # latest(a, b[, c]) of ISO days, none when any is none
    plus_days: str  # the ISO day {n} days after the ISO day {day}
    vietnam_day: str  # the Vietnam (UTC+7) ISO day of the UTC text {}
    functions: str = ""  # definitions, when the database lacks them

    def max(self, *days: str) -> str:
        return f"{self.latest}({', '.join(days)})"

    def after(self, day: str, n: int) -> str:
        return self.plus_days.format(day=day, n=n)


SQLITE = _Dialect("sqlite", "max", "date({day}, '+{n} days')", "date({}, '+7 hours')")
POSTGRESQL = _Dialect("postgresql", "result_latest", "result_plus_days({day}, {n})", "result_vietnam_day({})", """
CREATE FUNCTION result_latest(a TEXT, b TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT GREATEST(a COLLATE "C", b COLLATE "C") $$;
CREATE FUNCTION result_latest(a TEXT, b TEXT, c TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT GREATEST(a COLLATE "C", b COLLATE "C", c COLLATE "C") $$;
CREATE FUNCTION result_plus_days(d TEXT, n INTEGER) RETURNS TEXT LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT to_char(d::date + n, 'YYYY-MM-DD') $$;
CREATE FUNCTION result_vietnam_day(moment TEXT) RETURNS TEXT LANGUAGE sql STABLE STRICT
AS $$ SELECT to_char((moment::timestamptz AT TIME ZONE 'UTC') + interval '7 hours', 'YYYY-MM-DD') $$;
""")
# A result document counts in this state (see digitize.rates); ``{row}`` is NEW, OLD or a table alias.
_VERIFIED = ("{row}.kind = 'KQ' AND {row}.status = 'verified' AND {row}.signed_at IS NOT NULL "
             "AND {row}.archived_at IS NOT NULL")
_DIGITIZED_MEASURES = RESULT_MEASURES[2:]  # the ones that depend on D


def _measures(names: tuple[str, ...]) -> str:
    return f"CROSS JOIN (VALUES {', '.join(f'({name!r})' for name in names)}) m"


def _measure_day(db: _Dialect, r: str, e: str, v: str) -> str:
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


def _inventory_rows(row: str, sign: int, db: _Dialect) -> str:
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


def _document_rows(row: str, sign: int, db: _Dialect) -> str:
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


def result_days_count(db: _Dialect, rows: str = "inventory i") -> str:
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
_COUNTED_INVENTORY = ("dossier_code", "result_no", "level", "office_code", "resolved_date", "valid_until")
_COUNTED_DOCUMENT = ("document_code", "dossier_code", "kind", "number", "level", "office_code", "status",
                     "signed_at", "archived_at")


def _count_summary(db: _Dialect) -> str:
    return _COUNT_SUMMARY.format(days=result_days_count(db), verified=_VERIFIED.format(row="d"))


def _changed(columns: tuple[str, ...]) -> str:
    return " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)


def _triggers(db: _Dialect) -> list[tuple[str, str, str, str]]:
    """(name, event, condition or "", body) of the triggers keeping the summary exact."""
    inventory_update = f"UPDATE OF {', '.join(_COUNTED_INVENTORY)} ON inventory"
    document_update = f"UPDATE OF {', '.join(_COUNTED_DOCUMENT)} ON documents"
    old, new = _VERIFIED.format(row="OLD"), _VERIFIED.format(row="NEW")
    # An update counts as the old row taken away, then the new one added (in this order: one trigger).
    return [
        ("inventory_counted", "INSERT ON inventory", "", _inventory_rows("NEW", 1, db)),
        ("inventory_uncounted", "DELETE ON inventory", "", _inventory_rows("OLD", -1, db)),
        ("inventory_recounted", inventory_update, _changed(_COUNTED_INVENTORY),
         _inventory_rows("OLD", -1, db) + "\n" + _inventory_rows("NEW", 1, db)),
        ("documents_counted", "INSERT ON documents", new, _document_rows("NEW", 1, db)),
        ("documents_uncounted", "DELETE ON documents", old, _document_rows("OLD", -1, db)),
        ("documents_recounted", document_update, f"({old} OR {new}) AND ({_changed(_COUNTED_DOCUMENT)})",
         _document_rows("OLD", -1, db) + "\n" + _document_rows("NEW", 1, db)),
    ]


def _create_trigger(db: _Dialect, name: str, event: str, condition: str, body: str) -> list[str]:
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


def _v2(db: _Dialect) -> str:
    """Schema version 2 in ``db``'s dialect: the summary tables, their triggers, and their rows counted."""
    script = [db.functions, _SUMMARY.format(without_rowid=" WITHOUT ROWID" if db is SQLITE else "")]
    for trigger in _triggers(db):
        script += _create_trigger(db, *trigger)
    script.append(_count_summary(db))
    return "\n".join(script)


@dataclass(frozen=True)
class Migration:
    """A migration written apart for each dialect (triggers: SQLite's ``BEGIN ... END``, PostgreSQL's plpgsql)."""

    sqlite: str
    postgresql: str


# --- schema version 3: a document code held for its input before anything is archived under it ----

_V3 = """
CREATE TABLE reservations (
    document_code TEXT PRIMARY KEY,
    dossier_code  TEXT NOT NULL,
    level         TEXT NOT NULL,
    office_code   TEXT NOT NULL,
    input_sha256  TEXT NOT NULL UNIQUE,
    reserved_at   TEXT NOT NULL
);
CREATE INDEX reservations_dossier ON reservations (dossier_code);
"""

MIGRATIONS: tuple[str | Migration, ...] = (_V1, Migration(_v2(SQLITE), _v2(POSTGRESQL)), _V3)
"""Schema migrations in order; ``MIGRATIONS[n - 1]`` brings the schema to version ``n``."""


@dataclass(frozen=True)
class OfficeRow:
    """One row of ``offices``."""

    code: str
    name: str
    level: str
    area_type: str
    status: str
    merged_into: str | None


@dataclass(frozen=True)
class DocumentRow:
    """One row of ``documents``: a digitized, signed and archived document."""

    id: int
    document_code: str
    dossier_code: str
    kind: str
    number: int
    level: str
    office_code: str
    input_sha256: str
    output_sha256: str | None
    archive_key: str | None
    page_count: int | None
    ocr_confidence: float | None
    pades_level: str | None
    signer: str | None
    status: str
    digitized_at: datetime
    signed_at: datetime | None
    archived_at: datetime | None
    title: str | None


@dataclass(frozen=True)
class EventRow:
    """One row of ``events``; ``detail`` is the decoded JSON object."""

    id: int
    at: datetime
    document_code: str | None
    kind: str
    detail: dict[str, Any]


_DOCUMENT_COLUMNS = ", ".join(DocumentRow.__dataclass_fields__)
_OFFICE_COLUMNS = ", ".join(OfficeRow.__dataclass_fields__)


class Catalog:
    """The catalog database. Open with :func:`open_catalog` (or :meth:`Catalog.open`); use as a context manager.

    ``connection`` is a ``sqlite3`` connection, or the PostgreSQL adapter of
    :mod:`storage.postgres` (same ``execute`` interface, with its own errors).
    """

    _db_errors: tuple[type[Exception], ...] = (sqlite3.Error,)
    dialect: _Dialect = SQLITE

    def __init__(self, connection: Any, path: Path | str) -> None:
        self._db = connection
        self.path = path

    @classmethod
    def open(cls, path: Path) -> Catalog:
        """Open (creating if needed) the SQLite catalog at ``path`` and bring its schema up to date."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        except (OSError, sqlite3.Error) as e:
            raise CatalogError(_("cannot open the catalog {path}: {error}", path=path, error=e)) from e
        catalog = cls(connection, path)
        try:
            catalog._configure()
            catalog._migrate()
        except BaseException:
            connection.close()
            raise
        return catalog

    def close(self) -> None:
        """Close the database connection."""
        with self._errors(_("close the catalog")):
            self._db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        """The schema version of the open database (``PRAGMA user_version``)."""
        with self._errors(_("read the schema version")):
            return self._db.execute("PRAGMA user_version").fetchone()[0]

    # --- offices -------------------------------------------------------------

    def upsert_office(
        self,
        code: str,
        name: str,
        level: str,
        area_type: str = "urban",
        status: str = "active",
        merged_into: str | None = None,
    ) -> OfficeRow:
        """Add the office ``code`` or update its name, level, area type and status."""
        row = _office_row(code, name, level, area_type, status, merged_into)
        with self._transaction(_("save office {code}", code=code)):
            self._db.execute(
                f"INSERT INTO offices ({_OFFICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level, "
                "area_type = excluded.area_type, status = excluded.status, merged_into = excluded.merged_into",
                (row.code, row.name, row.level, row.area_type, row.status, row.merged_into),
            )
        return row

    def find_office(self, code: str) -> OfficeRow | None:
        """The office ``code``, or None."""
        with self._errors(_("read office {code}", code=code)):
            found = self._db.execute(f"SELECT {_OFFICE_COLUMNS} FROM offices WHERE code = ?", (code,)).fetchone()
        return None if found is None else OfficeRow(*found)

    # --- documents -----------------------------------------------------------

    def find_by_input_sha256(self, sha256: str) -> DocumentRow | None:
        """The document made from the input with SHA-256 ``sha256``, or None."""
        return self._find_document("input_sha256", check_sha256(sha256))

    def find_document(self, document_code: str) -> DocumentRow | None:
        """The document ``document_code`` (e.g. ``...-KQ1``), or None."""
        return self._find_document("document_code", document_code)

    def record_document(
        self,
        meta: DocumentMeta,
        *,
        input_sha256: str,
        output_sha256: str,
        archive_key: str,
        page_count: int,
        ocr_confidence: float | None,
        pades_level: str,
        signer: str,
        signed_at: datetime,
        status: str = "verified",
        digitized_at: datetime | None = None,
        archived_at: datetime | None = None,
    ) -> DocumentRow:
        """Record an archived document (and its dossier); idempotent on ``input_sha256``.

        Recording the same input again under the same document code returns the
        row already there, unchanged. The same input under another document
        code, or another input under a recorded document code, is refused with
        :class:`CatalogError`. ``digitized_at`` and ``archived_at`` default to now.
        """
        now, input_sha256 = utc_now_text(), check_sha256(input_sha256)
        values = _document_values(
            meta,
            input_sha256=input_sha256,
            output_sha256=check_sha256(output_sha256),
            archive_key=check_key(archive_key),
            page_count=page_count,
            ocr_confidence=ocr_confidence,
            pades_level=pades_level,
            signer=nfc(signer),
            status=_check_status(status),
            digitized_at=to_utc_text(digitized_at) if digitized_at else now,
            signed_at=to_utc_text(signed_at),
            archived_at=to_utc_text(archived_at) if archived_at else now,
        )
        with self._transaction(_("record document {code}", code=meta.document_code)):
            existing = self._existing_document(meta.document_code, input_sha256)
            if existing is not None:
                return existing
            self._ensure_dossier(meta, now)
            columns = ", ".join(values)
            marks = ", ".join("?" * len(values))
            self._db.execute(f"INSERT INTO documents ({columns}) VALUES ({marks})", tuple(values.values()))
            self._db.execute("DELETE FROM reservations WHERE document_code = ?", (meta.document_code,))
            return self._find_document("document_code", meta.document_code)  # type: ignore[return-value]

    def reserve_document(
        self, meta: DocumentMeta, input_sha256: str, *, stale_after_seconds: float = RESERVATION_STALE_SECONDS
    ) -> DocumentRow | None:
        """Hold ``meta.document_code`` for this input before anything is archived under it.

        Returns the row already recorded when this very input was archived under
        this code before (a re-drop: a duplicate), else None once the code is held.
        Holding it again for the same input (a re-run after a crash) is a no-op.
        Raises :class:`DocumentConflictError` (bad input, with a reason for the
        clerk) when the same scan is archived or being digitized under another
        code, the code belongs to another scan, or the dossier belongs to another
        office. A hold older than ``stale_after_seconds`` from another input
        (its run died and its input was put right) is given up.
        """
        code, input_sha256 = meta.document_code, check_sha256(input_sha256)
        now = utc_now_text()
        with self._transaction(_("reserve document {code}", code=code)):
            recorded = self._recorded_for(meta, input_sha256)
            if recorded is not None:
                return recorded
            held = self._db.execute(
                "SELECT document_code, input_sha256, level, office_code, reserved_at FROM reservations "
                "WHERE document_code = ? OR input_sha256 = ? OR dossier_code = ?",
                (code, input_sha256, meta.dossier_code),
            ).fetchall()
            for other_code, other_sha, level, office, at in held:
                if (other_code, other_sha) == (code, input_sha256):
                    if (level, office) == (meta.level, meta.office):
                        return None
                    raise DocumentConflictError(
                        _("{code} is being digitized from {level}/{office}; the same scan was dropped again in "
                          "{dropped_level}/{dropped_office}", code=code, level=level, office=office,
                          dropped_level=meta.level, dropped_office=meta.office),
                        hint=_("keep one copy, in the folder of the office it belongs to"))
                if other_code != code and other_sha != input_sha256 and (level, office) == (meta.level, meta.office):
                    continue  # another document of the same dossier, in the same office
                stale = (_age_seconds(at, now) >= stale_after_seconds and other_sha != input_sha256
                         and other_code == code)
                if stale:
                    self._db.execute("DELETE FROM reservations WHERE document_code = ?", (other_code,))
                    continue
                raise _held_conflict(meta, input_sha256, other_code, other_sha, level, office)
            self._db.execute(
                "INSERT INTO reservations (document_code, dossier_code, level, office_code, input_sha256, reserved_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (code, meta.dossier_code, meta.level, meta.office, input_sha256, now),
            )
        return None

    def release_document(self, document_code: str, input_sha256: str) -> None:
        """Give up the hold on ``document_code`` for this input (its input was set aside as failed)."""
        with self._transaction(_("release document {code}", code=document_code)):
            self._db.execute("DELETE FROM reservations WHERE document_code = ? AND input_sha256 = ?",
                             (document_code, check_sha256(input_sha256)))

    def reserved_documents(self) -> list[tuple[str, str]]:
        """(document code, input SHA-256) of every code held for an input not yet recorded."""
        with self._errors(_("list reservations")):
            return [tuple(row) for row in self._db.execute(
                "SELECT document_code, input_sha256 FROM reservations ORDER BY document_code").fetchall()]

    def _recorded_for(self, meta: DocumentMeta, input_sha256: str) -> DocumentRow | None:
        """The row recorded for this input under this code, or None; conflicts raise for the clerk."""
        code = meta.document_code
        by_input = self._find_document("input_sha256", input_sha256)
        if by_input is not None and by_input.document_code != code:
            raise DocumentConflictError(
                _("this scan is byte for byte the one already archived as {document_code} ({archive_key}); it is "
                  "not archived again as {code}",
                  document_code=by_input.document_code, archive_key=by_input.archive_key, code=code),
                hint=_("if it is another paper, scan that paper; if the name is wrong, nothing needs doing"),
            )
        if by_input is not None:
            return by_input
        dossier = self._db.execute(
            "SELECT level, office_code FROM dossiers WHERE dossier_code = ?", (meta.dossier_code,)
        ).fetchone()
        if dossier is not None and tuple(dossier) != (meta.level, meta.office):
            raise _office_conflict(meta, *dossier)
        by_code = self._find_document("document_code", code)
        if by_code is not None:
            raise DocumentConflictError(
                _("{code} is already archived from another scan ({archive_key})",
                  code=code, archive_key=by_code.archive_key),
                hint=_("a new version of a paper needs a new document number"),
            )
        return None

    def documents(
        self, level: str | None = None, office: str | None = None, year: int | None = None
    ) -> list[DocumentRow]:
        """All recorded documents, optionally of one level, one office and/or one archive year, by code."""
        where, args = _filters(level=level, office_code=office)
        if year is not None:
            # The year is the third segment of the key: {level}/{office}/{yyyy}/...
            where += (" AND " if where else " WHERE ") + "archive_key LIKE ?"
            args = (*args, f"%/%/{int(year):04d}/%")
        with self._errors(_("list documents")):
            rows = self._db.execute(
                f"SELECT {_DOCUMENT_COLUMNS} FROM documents{where} ORDER BY document_code", args
            ).fetchall()
        return [_document_row(row) for row in rows]

    def counts_by_level(self) -> dict[str, int]:
        """How many documents per level are digitized (status archived or verified; failed ones not)."""
        marks = ", ".join("?" * len(DIGITIZED_STATUSES))
        with self._errors(_("count documents by level")):
            rows = self._db.execute(
                f"SELECT level, COUNT(*) FROM documents WHERE status IN ({marks}) GROUP BY level ORDER BY level",
                DIGITIZED_STATUSES,
            ).fetchall()
        return dict(rows)

    # --- events --------------------------------------------------------------

    def record_renewal(self, document_code: str, *, archive_key: str, output_sha256: str) -> DocumentRow:
        """Point a document at its renewed archived copy (a new key: the old copy stays as it was)."""
        key, sha = check_key(archive_key), check_sha256(output_sha256)
        with self._transaction(_("record the renewal of {code}", code=document_code)):
            old = self._find_document("document_code", document_code)
            if old is None:
                raise CatalogError(_("document {document_code} is not in the catalog", document_code=document_code))
            self._db.execute(
                "UPDATE documents SET archive_key = ?, output_sha256 = ? WHERE document_code = ?",
                (key, sha, document_code),
            )
            self._db.execute(
                "INSERT INTO events (at, document_code, kind, detail) VALUES (?, ?, ?, ?)",
                (utc_now_text(), document_code, "renewed",
                 json.dumps({"old_key": old.archive_key, "old_sha256": old.output_sha256, "key": key,
                             "sha256": sha}, ensure_ascii=False)),
            )
        return self._find_document("document_code", document_code)  # type: ignore[return-value]

    def add_event(self, kind: str, document_code: str | None = None, **detail: Any) -> int:
        """Log an event (``detail`` stored as JSON text); returns its id."""
        if not isinstance(kind, str) or not kind:
            raise BadInputError(_("an event needs a kind (e.g. 'archived')"))
        try:
            text = json.dumps(detail, ensure_ascii=False, sort_keys=True, default=_json_value)
        except (TypeError, ValueError) as e:
            raise CatalogError(_("event {kind!r}: detail cannot be stored as JSON: {error}", kind=kind, error=e)) from e
        with self._transaction(_("log event {kind}", kind=kind)):
            (event_id,) = self._db.execute(
                "INSERT INTO events (at, document_code, kind, detail) VALUES (?, ?, ?, ?) RETURNING id",
                (utc_now_text(), document_code, kind, nfc(text)),
            ).fetchone()
        return int(event_id)

    def events(self, document_code: str | None = None) -> list[EventRow]:
        """Logged events, optionally of one document, oldest first."""
        where, args = _filters(document_code=document_code)
        with self._errors(_("list events")):
            rows = self._db.execute(
                f"SELECT id, at, document_code, kind, detail FROM events{where} ORDER BY id", args
            ).fetchall()
        return [EventRow(id, from_utc_text(at), code, kind, json.loads(detail)) for id, at, code, kind, detail in rows]

    # --- internals -----------------------------------------------------------

    def _configure(self) -> None:
        with self._errors(_("set up its tables")):
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
        if str(mode).lower() != "wal":
            raise CatalogError(_("the catalog {path} cannot use WAL mode (journal mode is {mode})",
                                 path=self.path, mode=mode))

    def _migrate(self) -> None:
        """Apply the migrations this database lacks, each in its own transaction."""
        self._refuse_newer_schema()
        if self.schema_version == len(MIGRATIONS):
            return
        for version, migration in enumerate(MIGRATIONS, start=1):
            with self._transaction(_("migrate the catalog {path} to schema version {version}",
                                              path=self.path, version=version)):
                # Read again under the write lock: another process may have migrated meanwhile.
                if self._db.execute("PRAGMA user_version").fetchone()[0] >= version:
                    continue
                script = migration if isinstance(migration, str) else getattr(migration, self.dialect.name)
                split = _statements if self.dialect is SQLITE else _dollar_quoted_statements
                for statement in split(script):
                    self._db.execute(statement)
                self._db.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", (version, utc_now_text())
                )
                self._db.execute(f"PRAGMA user_version = {version:d}")

    def _refuse_newer_schema(self) -> None:
        if self.schema_version > len(MIGRATIONS):
            raise CatalogError(
                _("the catalog {path} has schema version {schema_version}, newer than this program knows ({count})",
                  path=self.path, schema_version=self.schema_version, count=len(MIGRATIONS)),
                hint=_("upgrade digitize before using this catalog"),
            )

    def _existing_document(self, document_code: str, input_sha256: str) -> DocumentRow | None:
        """The row already recorded for this input, or None; refuse conflicting records."""
        by_input = self._find_document("input_sha256", input_sha256)
        if by_input is not None and by_input.document_code != document_code:
            raise CatalogError(
                _("input {input_sha256} is already recorded as document {document_code}; refusing to record it "
                  "again as {new_code}",
                  input_sha256=input_sha256, document_code=by_input.document_code, new_code=document_code)
            )
        if by_input is not None:
            return by_input
        by_code = self._find_document("document_code", document_code)
        if by_code is not None:
            raise CatalogError(
                _("document {document_code} is already recorded from a different input (SHA-256 {input_sha256}, "
                  "not {new_sha256}); refusing to replace it",
                  document_code=document_code, input_sha256=by_code.input_sha256, new_sha256=input_sha256),
                hint=_("a new version of a paper needs a new document number"),
            )
        return None

    def _ensure_dossier(self, meta: DocumentMeta, now: str) -> None:
        """Insert the dossier of ``meta`` or check it against the one recorded."""
        self._db.execute(
            "INSERT INTO dossiers (dossier_code, procedure_code, level, office_code, first_seen) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (dossier_code) DO UPDATE SET "
            "procedure_code = COALESCE(dossiers.procedure_code, excluded.procedure_code)",
            (meta.dossier_code, meta.procedure_code, meta.level, meta.office, now),
        )
        procedure, level, office = self._db.execute(
            "SELECT procedure_code, level, office_code FROM dossiers WHERE dossier_code = ?", (meta.dossier_code,)
        ).fetchone()
        mismatch = (level, office) != (meta.level, meta.office) or (
            meta.procedure_code is not None and procedure != meta.procedure_code
        )
        if mismatch:
            raise CatalogError(
                _("dossier {dossier_code} is recorded for {level}/{office} with procedure {procedure}; document "
                  "{document_code} says {dropped_level}/{dropped_office} with procedure {procedure_code}",
                  dossier_code=meta.dossier_code, level=level, office=office, procedure=procedure,
                  document_code=meta.document_code, dropped_level=meta.level, dropped_office=meta.office,
                  procedure_code=meta.procedure_code)
            )

    def _find_document(self, column: str, value: str) -> DocumentRow | None:
        with self._errors(_("find a document by {column}", column=column)):
            row = self._db.execute(
                f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE {column} = ?", (value,)
            ).fetchone()
        return None if row is None else _document_row(row)

    # --- the rates summary ----------------------------------------------------

    def recount_rates_summary(self) -> int:
        """Count the rates summary (``result_days``, ``result_months``) again; returns how many counts had drifted.

        The triggers keep it exact; this is the check (and the repair) for a
        catalog written by something that went around them.
        """
        with self._transaction(_("recount the rates summary")):
            kept = self._summary()
            for table in ("result_days", "result_months", "orphan_documents"):
                self._db.execute(f"DELETE FROM {table}")  # noqa: S608 - our table names
            for statement in _dollar_quoted_statements(_count_summary(self.dialect)):
                self._db.execute(statement)
            fresh = self._summary()
        return sum(1 for key in kept.keys() | fresh.keys() if kept.get(key) != fresh.get(key))

    @contextlib.contextmanager
    def inventory_counted_in_bulk(self, rows: list[tuple[Any, ...]]) -> Iterator[None]:
        """Inside :meth:`transaction`: a block writing many inventory rows, counted in the summary set by set.

        ``rows`` are (dossier_code, result_no, level, office_code,
        resolved_date, valid_until) as the block will leave them; the block
        only inserts or updates those rows. Per-row triggers cost about 45 us a
        row (a 300,000-row import 2.7 times slower); here the inventory's
        triggers are off for the block (inside the transaction: a failure
        rolls that back too), the counts of the rows that change are taken
        away before it and added after it in a few statements, and the
        triggers are back on before the commit.
        """
        db = self.dialect
        if db is not SQLITE:  # first: what the block reads and counts must not move under it (see _create_trigger)
            self._db.execute(f"SELECT pg_advisory_xact_lock({SUMMARY_LOCK})")
        changed = " OR ".join(f"i.{c} IS NOT b.{c}" for c in _COUNTED_INVENTORY[2:])
        staged = "bulk_changed c JOIN inventory i ON i.dossier_code = c.dossier_code AND i.result_no = c.result_no"
        self._db.execute("CREATE TEMP TABLE bulk_rows (dossier_code TEXT, result_no TEXT, level TEXT, "
                         "office_code TEXT, resolved_date TEXT, valid_until TEXT)")
        self._db.executemany("INSERT INTO bulk_rows VALUES (?, ?, ?, ?, ?, ?)", rows)
        self._db.execute(
            "CREATE TEMP TABLE bulk_changed AS SELECT b.dossier_code, b.result_no FROM bulk_rows b "
            "LEFT JOIN inventory i ON i.dossier_code = b.dossier_code AND i.result_no = b.result_no "
            f"WHERE i.id IS NULL OR {changed}")
        self._db.execute("CREATE TEMP TABLE bulk_delta (day TEXT, level TEXT, office_code TEXT, measure TEXT, "
                         "n INTEGER)")
        delta = "INSERT INTO bulk_delta SELECT q.day, q.level, q.office_code, q.measure, {sign}q.n FROM ({rows}) q"
        self._db.execute(delta.format(sign="-", rows=result_days_count(db, staged)))
        # SQLite: dropped and created again (its readers are not blocked); PostgreSQL: disabled, which blocks
        # other writers of the inventory but not its readers (DROP TRIGGER would block them too).
        triggers = [t for t in _triggers(db) if " ON inventory" in t[1]]
        for name, *_ in triggers:
            self._db.execute(f"DROP TRIGGER {name}" if db is SQLITE else
                             f"ALTER TABLE inventory DISABLE TRIGGER {name}")
        yield
        for trigger in triggers:
            for statement in (_create_trigger(db, *trigger) if db is SQLITE else
                              [f"ALTER TABLE inventory ENABLE TRIGGER {trigger[0]}"]):
                self._db.execute(statement)
        self._db.execute(delta.format(sign="", rows=result_days_count(db, staged)))
        self._db.execute(
            "INSERT INTO result_days (day, level, office_code, measure, n) SELECT day, level, office_code, measure, "
            "SUM(n) FROM bulk_delta GROUP BY day, level, office_code, measure HAVING SUM(n) <> 0 "
            "ON CONFLICT (day, level, office_code, measure) DO UPDATE SET n = result_days.n + excluded.n")
        self._db.execute(
            "INSERT INTO result_months (level, office_code, measure, month, n) SELECT level, office_code, measure, "
            "substr(day, 1, 7), SUM(n) FROM bulk_delta GROUP BY level, office_code, measure, substr(day, 1, 7) "
            "HAVING SUM(n) <> 0 ON CONFLICT (level, office_code, measure, month) "
            "DO UPDATE SET n = result_months.n + excluded.n")
        # A new inventory row takes its document out of the orphans (a changed one had it already).
        self._db.execute("DELETE FROM orphan_documents WHERE document_code IN "
                         "(SELECT c.dossier_code || '-KQ' || c.result_no FROM bulk_changed c)")
        for table in ("bulk_rows", "bulk_changed", "bulk_delta"):
            self._db.execute(f"DROP TABLE {table}")

    def _summary(self) -> dict[tuple[str, ...], int]:
        days = self._db.execute("SELECT 'day', day, level, office_code, measure, n FROM result_days WHERE n <> 0")
        months = self._db.execute(
            "SELECT 'month', month, level, office_code, measure, n FROM result_months WHERE n <> 0")
        orphans = self._db.execute(
            "SELECT 'orphan', document_code, level, office_code, archived_at, 1 FROM orphan_documents")
        return {tuple(row[:5]): row[5] for row in [*days.fetchall(), *months.fetchall(), *orphans.fetchall()]}

    # --- plain SQL for other modules (rates, inventory) -------------------------

    def query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only statement (``?`` placeholders)."""
        with self._errors(_("query")):
            return self._db.execute(sql, tuple(params)).fetchall()

    @contextlib.contextmanager
    def transaction(self, action: str = "write") -> Iterator[Catalog]:
        """One write transaction; inside it use :meth:`execute` and :meth:`executemany`."""
        with self._transaction(_(action)):  # the callers' words, translated when they are marked
            yield self

    def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> int:
        """Run one statement (``?`` placeholders); returns the number of rows changed."""
        with self._errors(_("write")):
            return self._db.execute(sql, tuple(params)).rowcount

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> int:
        """Run one statement for many rows; returns the number of rows changed."""
        with self._errors(_("write")):
            return self._db.executemany(sql, rows).rowcount

    @contextlib.contextmanager
    def _transaction(self, action: str) -> Iterator[None]:
        """One write transaction (taken at once, so concurrent writers queue on the busy timeout)."""
        with self._errors(action):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except self._db_errors as e:
            if _disk_full(e, self.path):
                raise StorageFullError(_("no space left for the catalog {path} (could not {action})",
                                         path=self.path, action=action),
                                       hint=_("free space on that disk and run again; the inputs stay in the "
                                              "scanner folders")) from e
            raise CatalogError(_("could not {action} in the catalog {path}: {error}",
                                 action=action, path=self.path, error=e)) from e


#: SQLite's "database or disk is full" and PostgreSQL's disk_full (SQLSTATE 53100).
_SQLITE_FULL = 13
_PG_DISK_FULL = "53100"


_SQLITE_IOERR = 10


def _disk_full(error: Exception, path: Path | str) -> bool:
    """Whether a database error comes from a full disk (or quota) under the catalog: SQLite says so, or
    (in WAL mode) reports an I/O error while the catalog's disk has no free block left."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None and code & 0xFF == _SQLITE_FULL or getattr(error, "sqlstate", None) == _PG_DISK_FULL:
        return True
    if code is None or code & 0xFF != _SQLITE_IOERR or not isinstance(path, Path):
        return False
    try:
        return os.statvfs(path.parent).f_bavail == 0
    except OSError:
        return False


def _dollar_quoted_statements(script: str) -> Iterator[str]:
    """Split a PostgreSQL script into statements (each ends with ``;`` at the end of a line, outside ``$$``)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if line.rstrip().endswith(";") and pending.count("$$") % 2 == 0:
            yield pending.strip()
            pending = ""
    if pending.strip():
        raise CatalogError(_("migration script ends with an incomplete statement: {statement!r}",
                             statement=pending.strip()[:80]))


def _statements(script: str) -> Iterator[str]:
    """Split a migration script into statements (each ends at the end of a line)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
    if pending.strip():
        raise CatalogError(_("migration script ends with an incomplete statement: {statement!r}",
                             statement=pending.strip()[:80]))


def _held_conflict(
    meta: DocumentMeta, input_sha256: str, other_code: str, other_sha: str, level: str, office: str
) -> DocumentConflictError:
    """Why ``meta`` cannot take its code while ``other_code`` is held for ``other_sha`` in ``level/office``."""
    if other_sha == input_sha256:
        return DocumentConflictError(
            _("this scan is byte for byte the one being digitized as {other_code}; it is not archived again as "
              "{document_code}",
              other_code=other_code, document_code=meta.document_code),
            hint=_("if it is another paper, scan that paper"))
    if (level, office) != (meta.level, meta.office):
        return _office_conflict(meta, level, office)
    if other_code == meta.document_code:
        return DocumentConflictError(
            _("another scan named {document_code} is being digitized (from {level}/{office})",
              document_code=meta.document_code, level=level, office=office),
            hint=_("two scans carry this name: keep the one that is right; a new version of a paper needs a new "
                   "document number"))
    return _office_conflict(meta, level, office)


def _office_conflict(meta: DocumentMeta, level: str, office: str) -> DocumentConflictError:
    return DocumentConflictError(
        _("dossier {dossier_code} belongs to {level}/{office}, but {document_code} was dropped in "
          "{dropped_level}/{dropped_office}", dossier_code=meta.dossier_code, level=level, office=office,
          document_code=meta.document_code, dropped_level=meta.level, dropped_office=meta.office),
        hint=_("put the scan in the folder of the office that holds the dossier"))


def _age_seconds(then: str, now: str) -> float:
    return (from_utc_text(now) - from_utc_text(then)).total_seconds()


def _document_values(meta: DocumentMeta, **fields: object) -> dict[str, object]:
    """The ``documents`` columns of ``meta`` and the checked ``fields``, in table order."""
    values = {
        "document_code": meta.document_code,
        "dossier_code": meta.dossier_code,
        "kind": meta.kind,
        "number": meta.number,
        "level": meta.level,
        "office_code": meta.office,
        "title": meta.title,
        **fields,
    }
    return {name: values[name] for name in DocumentRow.__dataclass_fields__ if name != "id"}


def _check_status(status: str) -> str:
    if status not in DOCUMENT_STATUSES:
        raise BadInputError(_("document status {status!r} must be one of {names}",
                              status=status, names=', '.join(DOCUMENT_STATUSES)))
    return status


def _office_row(
    code: str, name: str, level: str, area_type: str, status: str, merged_into: str | None
) -> OfficeRow:
    check_office(code)
    check_office(level)
    if merged_into is not None:
        check_office(merged_into)
    if not isinstance(name, str) or not name.strip():
        raise BadInputError(_("office {code} needs a name", code=code))
    if area_type not in AREA_TYPES:
        raise BadInputError(_("office {code}: area type {area_type!r} must be one of {names}",
                              code=code, area_type=area_type, names=', '.join(AREA_TYPES)))
    if status not in OFFICE_STATUSES:
        raise BadInputError(_("office {code}: status {status!r} must be one of {names}",
                              code=code, status=status, names=', '.join(OFFICE_STATUSES)))
    return OfficeRow(code, nfc(name.strip()), level, area_type, status, merged_into)


def _document_row(row: tuple[Any, ...]) -> DocumentRow:
    values = dict(zip(DocumentRow.__dataclass_fields__, row, strict=True))
    for name in ("digitized_at", "signed_at", "archived_at"):
        values[name] = from_utc_text(values[name])
    return DocumentRow(**values)


def _filters(**conditions: str | None) -> tuple[str, tuple[str, ...]]:
    """A ``WHERE`` clause (column names are ours, values bound) for the conditions that are set."""
    used = {column: value for column, value in conditions.items() if value is not None}
    if not used:
        return "", ()
    return " WHERE " + " AND ".join(f"{column} = ?" for column in used), tuple(used.values())


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return to_utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def open_catalog(settings: CatalogSettings) -> Catalog:
    """The catalog named by ``settings``: the SQLite file ``path``, or PostgreSQL when ``url`` is set."""
    if settings.url:
        from storage.postgres import open_postgres_catalog  # psycopg is imported only when used

        return open_postgres_catalog(settings.url)
    if settings.path is None:
        raise CatalogError(_("catalog.path is not set"))
    return Catalog.open(settings.path)


def describe_catalog(settings: CatalogSettings) -> str:
    """Where the catalog is, for a person: the SQLite file, or PostgreSQL's database, host and user
    (never the password, nor the URL's query, which may carry one)."""
    if not settings.url:
        return _("SQLite file {path}", path=settings.path)
    parts = urlsplit(settings.url)
    host = parts.hostname or _("the local socket")
    if parts.port:
        host = f"{host}:{parts.port}"
    database = parts.path.lstrip("/") or parts.username or "postgres"
    if parts.username:
        return _("PostgreSQL database {database} on {host} (user {user})",
                 database=database, host=host, user=parts.username)
    return _("PostgreSQL database {database} on {host}", database=database, host=host)
