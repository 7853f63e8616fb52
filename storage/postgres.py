"""The catalog on PostgreSQL: a psycopg 3 connection behind the ``sqlite3`` connection interface.

:func:`connect` gives :class:`storage.catalog.Catalog` what it needs to run
on PostgreSQL: a connection with ``execute`` / ``executemany`` returning rows
as ``sqlite3`` does, the PostgreSQL :class:`~storage.dialect.Dialect` (with
psycopg's error classes) and the URL without its password, for messages. No
SQL is rewritten here: statements that differ are written per dialect where
they are made (:mod:`storage.schema`, :mod:`storage.dialect`,
:mod:`storage.summary_schema`). The one thing translated is the
paramstyle: ``?`` placeholders are passed to psycopg as ``%s`` (and a literal
``%`` as ``%%``, which psycopg would otherwise read as one).

Times stay ISO 8601 UTC text, as on SQLite, so rows read back identically.
Only this module imports psycopg.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from digitize.errors import CatalogError, CatalogUnavailableError, ConfigError
from digitize.i18n import _
from storage.dialect import Dialect, postgresql


def connect(url: str) -> tuple[PostgresConnection, str, Dialect]:
    """Connect to the PostgreSQL catalog at ``url``: (connection, ``url`` without password, dialect)."""
    try:
        import psycopg
    except ImportError as e:
        raise ConfigError(_("a postgresql:// catalog.url needs psycopg (pip install 'psycopg[binary]')")) from e
    shown = redact(url)
    try:
        raw = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as e:  # server down, unreachable, refusing connections
        raise CatalogUnavailableError(_("cannot open the catalog {catalog}: {error}", catalog=shown, error=e)) from e
    except psycopg.Error as e:
        raise CatalogError(_("cannot open the catalog {catalog}: {error}", catalog=shown, error=e)) from e
    return PostgresConnection(raw), shown, postgresql((psycopg.Error,))


def redact(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


class _Rows:
    """What ``sqlite3`` gives back from ``execute``: ``fetchone``, ``fetchall``, ``rowcount``."""

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows


class PostgresConnection:
    """A psycopg connection (autocommit; explicit BEGIN/COMMIT) behind the ``sqlite3`` connection interface."""

    def __init__(self, connection: Any) -> None:
        self._raw = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Rows:
        """Run one statement with ``?`` placeholders."""
        with self._raw.cursor() as cursor:
            cursor.execute(placeholders(sql), tuple(params))
            rows = cursor.fetchall() if cursor.description else []
            return _Rows(rows, cursor.rowcount)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> _Rows:
        """Run one statement for many rows; ``rowcount`` is the total changed."""
        with self._raw.cursor() as cursor:
            cursor.executemany(placeholders(sql), [tuple(r) for r in rows])
            return _Rows([], cursor.rowcount)

    def close(self) -> None:
        self._raw.close()


def placeholders(sql: str) -> str:
    """``?`` outside quotes becomes ``%s``; every ``%`` becomes ``%%`` (psycopg reads them everywhere)."""
    out, quote = [], None
    for char in sql:
        if char == "%":
            out.append("%%")
            continue
        if quote:
            quote = None if char == quote else quote
        elif char in ("'", '"'):
            quote = char
        elif char == "?":
            out.append("%s")
            continue
        out.append(char)
    return "".join(out)
