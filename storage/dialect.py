"""The two SQL dialects the catalog runs on: what differs is said here, explicitly, never rewritten.

The catalog's statements are written once where SQLite and PostgreSQL agree
(``ON CONFLICT``, ``RETURNING``, ``IS DISTINCT FROM``, ``substr``, ``||``), and
a migration that cannot be is written once per dialect
(:class:`storage.schema.Migration`). A :class:`Dialect` holds the rest: how a
write transaction begins, how foreign keys are deferred, where the schema
version is kept, how a script splits into statements, and the driver's error
classes. Placeholders are ``?`` in the code; the PostgreSQL connection adapter
(:mod:`storage.postgres`) passes them to psycopg as ``%s`` (a paramstyle, not
SQL).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digitize.errors import CatalogError
from digitize.i18n import _

BUSY_TIMEOUT_SECONDS = 30
#: PostgreSQL advisory lock key held while a process reads the schema version and migrates (Decree 45/2020).
MIGRATION_LOCK = 45_2020
#: SQLite's "database or disk is full" and I/O error result codes; PostgreSQL's disk_full SQLSTATE.
_SQLITE_FULL = 13
_SQLITE_IOERR = 10
_PG_DISK_FULL = "53100"


@dataclass(frozen=True)
class Dialect:
    """One database's spelling of what the catalog needs beyond plain SQL."""

    name: str
    begin: str
    defer_foreign_keys: str
    distinct: str  # null-safe inequality: ``a {distinct} b``
    errors: tuple[type[Exception], ...]

    def configure(self, db: Any, where: str) -> None:
        """Session settings, once per connection."""

    def schema_version(self, db: Any) -> int:
        """The schema version of the database (0 when empty)."""
        raise NotImplementedError

    def record_version(self, db: Any, version: int) -> None:
        """Remember ``version`` besides its row in ``schema_migrations`` (inside the migration's transaction)."""

    def statements(self, script: str) -> Iterator[str]:
        """``script`` split into statements (each ends with ``;`` at the end of a line)."""
        raise NotImplementedError

    def disk_full(self, error: Exception, path: Path | str) -> bool:
        """Whether ``error`` comes from a full disk (or quota) under the catalog."""
        return False


class _Sqlite(Dialect):
    def configure(self, db: Any, where: str) -> None:
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        db.execute("PRAGMA foreign_keys = ON")
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
        if str(mode).lower() != "wal":
            raise CatalogError(_("the catalog {path} cannot use WAL mode (journal mode is {mode})", path=where, mode=mode))

    def schema_version(self, db: Any) -> int:
        return int(db.execute("PRAGMA user_version").fetchone()[0])

    def record_version(self, db: Any, version: int) -> None:
        db.execute(f"PRAGMA user_version = {int(version):d}")

    def disk_full(self, error: Exception, path: Path | str) -> bool:
        # SQLite says so, or (in WAL mode) reports an I/O error while the catalog's disk has no free block left.
        code = getattr(error, "sqlite_errorcode", None)
        if code is not None and code & 0xFF == _SQLITE_FULL:
            return True
        if code is None or code & 0xFF != _SQLITE_IOERR or not isinstance(path, Path):
            return False
        try:
            return os.statvfs(path.parent).f_bavail == 0
        except OSError:
            return False

    def statements(self, script: str) -> Iterator[str]:
        pending = ""
        for line in script.splitlines(keepends=True):
            pending += line
            if sqlite3.complete_statement(pending):
                yield pending.strip()
                pending = ""
        _nothing_left(pending)


class _Postgres(Dialect):
    def disk_full(self, error: Exception, path: Path | str) -> bool:
        return getattr(error, "sqlstate", None) == _PG_DISK_FULL

    def schema_version(self, db: Any) -> int:
        # Inside a transaction (a migration) the lock makes any other migrating process wait its turn.
        db.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
        if db.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is None:
            return 0
        return int(db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0])

    def statements(self, script: str) -> Iterator[str]:
        pending = ""  # a function body between $$ quotes holds ';' at line ends too
        for line in script.splitlines(keepends=True):
            pending += line
            if line.rstrip().endswith(";") and pending.count("$$") % 2 == 0:
                yield pending.strip()
                pending = ""
        _nothing_left(pending)


def _nothing_left(pending: str) -> None:
    if pending.strip():
        raise CatalogError(_("migration script ends with an incomplete statement: {statement!r}",
                             statement=pending.strip()[:80]))


SQLITE: Dialect = _Sqlite("sqlite", "BEGIN IMMEDIATE", "PRAGMA defer_foreign_keys = ON", "IS NOT", (sqlite3.Error,))


def postgresql(errors: tuple[type[Exception], ...]) -> Dialect:
    """The PostgreSQL dialect, with the driver's error classes (psycopg is imported by :mod:`storage.postgres`)."""
    return _Postgres("postgresql", "BEGIN", "SET CONSTRAINTS ALL DEFERRED", "IS DISTINCT FROM", errors)
