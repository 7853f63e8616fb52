"""The catalog: what was digitized, signed and archived: documents, dossiers, offices and events.

One SQLite file in WAL mode (stdlib ``sqlite3``) is the embedded default;
PostgreSQL (a ``postgresql://`` ``catalog.url``, see :mod:`storage.postgres`)
is the other. The catalog takes its :class:`~storage.dialect.Dialect` in its
constructor; its statements are written where the two agree, and what differs
is the dialect's (never rewritten SQL). The schema is versioned: the
migrations of :mod:`storage.schema` are applied in order, each in its own
transaction, and logged in ``schema_migrations``. The rates feature
(:mod:`rates`) keeps its own tables (the inventory, the summary of
version 2) through :meth:`Catalog.query` and :meth:`Catalog.transaction`.

Times are stored as ISO 8601 UTC text (``2025-11-28T10:15:00Z``). Every
``sqlite3`` error is wrapped as :class:`CatalogError`.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from digitize.errors import BadInputError, CatalogError, DocumentConflictError, StorageFullError
from digitize.i18n import _
from digitize.models import DocumentMeta, nfc
from digitize.offices import Office
from digitize.settings import CatalogSettings
from storage.dialect import BUSY_TIMEOUT_SECONDS, SQLITE, Dialect
from storage.hashing import check_sha256
from storage.keys import check_key
from storage.rows import DIGITIZED_STATUSES, DOCUMENT_STATUSES, DocumentRow, EventRow, document_row
from storage.schema import MIGRATIONS, Migration
from storage.times import from_utc_text, to_utc_text, utc_now_text

#: A document code held for an input this long without being recorded may be taken by another input.
RESERVATION_STALE_SECONDS = 24 * 3600


_DOCUMENT_COLUMNS = ", ".join(DocumentRow.__dataclass_fields__)
_OFFICE_COLUMNS = ", ".join(Office.__dataclass_fields__)


class Catalog:
    """The catalog database. Open with :func:`open_catalog` (or :meth:`Catalog.open`); use as a context manager.

    ``connection`` is a ``sqlite3`` connection, or the PostgreSQL adapter of
    :mod:`storage.postgres` (the same ``execute`` interface); ``dialect`` says
    which, and ``migrations`` are the schema versions it knows (a test may give
    fewer, to make an old catalog). :meth:`prepare` configures the session and
    brings the schema up to date.
    """

    def __init__(self, connection: Any, path: Path | str, dialect: Dialect = SQLITE,
                 migrations: Sequence[Migration] = MIGRATIONS) -> None:
        self._db = connection
        self.path = path
        self.dialect = dialect
        self.migrations = tuple(migrations)

    @classmethod
    def open(cls, path: Path, migrations: Sequence[Migration] = MIGRATIONS) -> Catalog:
        """Open (creating if needed) the SQLite catalog at ``path`` and bring its schema up to date."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        except (OSError, sqlite3.Error) as e:
            raise CatalogError(_("cannot open the catalog {path}: {error}", path=path, error=e)) from e
        return cls(connection, path, SQLITE, migrations).prepare()

    def prepare(self) -> Catalog:
        """Configure the session and apply the migrations the database lacks; closes the connection on failure."""
        try:
            with self._errors(_("set up its tables")):
                self.dialect.configure(self._db, str(self.path))
            self._migrate()
        except BaseException:
            self._db.close()
            raise
        return self

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
        """The schema version of the open database."""
        with self._errors(_("read the schema version")):
            return self.dialect.schema_version(self._db)

    # --- offices -------------------------------------------------------------

    def upsert_office(
        self,
        code: str,
        name: str,
        level: str,
        area_type: str = "urban",
        status: str = "active",
        merged_into: str | None = None,
    ) -> Office:
        """Add the office ``code`` or update its name, level, area type and status."""
        row = Office(code, name, level, area_type, status, merged_into)
        with self._transaction(_("save office {code}", code=code)):
            self._db.execute(
                f"INSERT INTO offices ({_OFFICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level, "
                "area_type = excluded.area_type, status = excluded.status, merged_into = excluded.merged_into",
                (row.code, row.name, row.level, row.area_type, row.status, row.merged_into),
            )
        return row

    def find_office(self, code: str) -> Office | None:
        """The office ``code``, or None."""
        with self._errors(_("read office {code}", code=code)):
            found = self._db.execute(f"SELECT {_OFFICE_COLUMNS} FROM offices WHERE code = ?", (code,)).fetchone()
        return None if found is None else Office(*found)

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
        return [document_row(row) for row in rows]

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

    def _migrate(self) -> None:
        """Apply the migrations this database lacks, each in its own transaction."""
        self._refuse_newer_schema()
        if self.schema_version == len(self.migrations):
            return
        for version, migration in enumerate(self.migrations, start=1):
            with self._transaction(_("migrate the catalog {path} to schema version {version}",
                                   path=self.path, version=version)):
                # Read again under the write lock: another process may have migrated meanwhile.
                if self.dialect.schema_version(self._db) >= version:
                    continue
                for statement in self.dialect.statements(migration.script(self.dialect.name)):
                    self._db.execute(statement)
                self._db.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", (version, utc_now_text())
                )
                self.dialect.record_version(self._db, version)

    def _refuse_newer_schema(self) -> None:
        if self.schema_version > len(self.migrations):
            raise CatalogError(
                _("the catalog {path} has schema version {schema_version}, newer than this program knows ({count})",
                  path=self.path, schema_version=self.schema_version, count=len(self.migrations)),
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
        return None if row is None else document_row(row)

    # --- plain SQL for other modules (the rates package) ----------------------

    def query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only statement (``?`` placeholders)."""
        with self._errors(_("query")):
            return self._db.execute(sql, tuple(params)).fetchall()

    @contextlib.contextmanager
    def transaction(self, action: str | None = None) -> Iterator[Catalog]:
        """One write transaction; inside it use :meth:`execute` and :meth:`executemany`. ``action``
        (what the caller does, in the reader's language) names it in an error."""
        with self._transaction(action or _("write")):
            yield self

    def defer_foreign_keys(self) -> None:
        """Inside :meth:`transaction`: check foreign keys at the commit (a row may name one written later)."""
        with self._errors(_("defer foreign keys")):
            self._db.execute(self.dialect.defer_foreign_keys)

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
            self._db.execute(self.dialect.begin)
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
        except self.dialect.errors as e:
            if self.dialect.disk_full(e, self.path):
                raise StorageFullError(_("no space left for the catalog {path} (could not {action})",
                                         path=self.path, action=action),
                                       hint=_("free space on that disk and run again; the inputs stay in the "
                                              "scanner folders")) from e
            raise CatalogError(_("could not {action} in the catalog {path}: {error}",
                                 action=action, path=self.path, error=e)) from e


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


def open_catalog(settings: CatalogSettings, migrations: Sequence[Migration] = MIGRATIONS) -> Catalog:
    """The catalog named by ``settings``: the SQLite file ``path``, or PostgreSQL when ``url`` is set."""
    if settings.url:
        from storage.postgres import connect  # psycopg is imported only when used

        connection, shown, dialect = connect(settings.url)
        return Catalog(connection, shown, dialect, migrations).prepare()
    if settings.path is None:
        raise CatalogError(_("catalog.path is not set"), hint=_("set catalog.path or catalog.url"))
    return Catalog.open(settings.path, migrations)


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
