"""The catalog on a real PostgreSQL server (a throwaway cluster; skipped with the reason when none can start)."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from digitize.errors import CatalogError
from digitize.models import DocumentMeta
from digitize.settings import CatalogSettings
from rates.summary import recount
from storage.archive import LocalArchive
from storage.catalog import MIGRATIONS, Catalog, open_catalog
from storage.fixity import check_fixity
from storage.hashing import sha256_bytes
from storage.keys import archive_key
from storage.postgres import placeholders, redact
from tests import storage_fixtures
from tests.test_archive_commands import store

postgres_server = storage_fixtures.postgres_server
postgres_url = storage_fixtures.postgres_url
SIGNED_AT = datetime(2025, 11, 28, 10, 15, tzinfo=UTC)
SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def meta(dossier: str = "D1", kind: str = "KQ", office: str = "phuoc-loc", level: str = "xa") -> DocumentMeta:
    return DocumentMeta(dossier_code=dossier, kind=kind, number=1, level=level, office=office,
                        procedure_code="1.001234", title="Giấy chứng nhận quyền sử dụng đất")


def record(catalog: Catalog, m: DocumentMeta, data: bytes = b"%PDF signed", **changes: object):
    values = dict(input_sha256=sha256_bytes(b"scan " + m.document_code.encode()), output_sha256=sha256_bytes(data),
                  archive_key=archive_key(m, 2025), page_count=2, ocr_confidence=88.5, pades_level="B-LT",
                  signer="UBND xã Phước Lộc", signed_at=SIGNED_AT)
    values.update(changes)
    return catalog.record_document(m, **values)  # type: ignore[arg-type]


@pytest.fixture
def pg(postgres_url: str):
    with open_catalog(CatalogSettings(url=postgres_url)) as catalog:
        yield catalog


def test_question_mark_placeholders_are_passed_to_psycopg_as_its_paramstyle():
    assert placeholders("SELECT a FROM t WHERE b = ? AND c LIKE 'x%' AND d IS NOT e") == (
        "SELECT a FROM t WHERE b = %s AND c LIKE 'x%%' AND d IS NOT e"  # the SQL itself is never rewritten
    )
    assert placeholders("SELECT '?' , ?") == "SELECT '?' , %s"


def test_a_password_in_the_url_never_shows_in_messages():
    assert redact("postgresql://clerk:s3cret@db.example:5432/catalog") == "postgresql://clerk:***@db.example:5432/catalog"


def test_open_catalog_on_postgresql_applies_the_migrations_once(postgres_url):
    with open_catalog(CatalogSettings(url=postgres_url)) as catalog:
        assert catalog.schema_version == len(MIGRATIONS)
    with open_catalog(CatalogSettings(url=postgres_url)) as catalog:
        assert catalog.schema_version == len(MIGRATIONS)
        assert catalog.query("SELECT COUNT(*) FROM schema_migrations") == [(len(MIGRATIONS),)]


def test_an_unreachable_postgresql_is_a_catalog_error():
    from tests.storage_fixtures import free_port

    with pytest.raises(CatalogError, match="cannot open the catalog"):
        open_catalog(CatalogSettings(url=f"postgresql://nobody:pw@127.0.0.1:{free_port()}/x?connect_timeout=2"))


def test_documents_round_trip_and_recording_is_idempotent_on_postgresql(pg):
    first = record(pg, meta())
    assert record(pg, meta()) == first
    found = pg.find_document("D1-KQ1")
    assert found == first
    assert (found.title, found.signer, found.ocr_confidence) == (
        "Giấy chứng nhận quyền sử dụng đất", "UBND xã Phước Lộc", 88.5)
    assert found.signed_at == SIGNED_AT


def test_conflicting_records_are_refused_on_postgresql(pg):
    record(pg, meta())
    with pytest.raises(CatalogError, match="different input"):
        record(pg, meta(), input_sha256=sha256_bytes(b"another scan"))
    with pytest.raises(CatalogError, match="already recorded as document"):
        record(pg, meta("D2"), input_sha256=sha256_bytes(b"scan D1-KQ1"))
    with pytest.raises(CatalogError, match="recorded for"):
        record(pg, meta("D1", kind="HS", office="tan-an"))


def test_offices_merge_and_a_merger_into_an_unknown_office_is_refused_on_postgresql(pg):
    pg.upsert_office("phuoc-loc", "UBND xã Phước Lộc", "xa", area_type="rural")
    pg.upsert_office("tan-an", "UBND xã Tân An", "xa", status="merged", merged_into="phuoc-loc")
    assert pg.find_office("tan-an").merged_into == "phuoc-loc"
    with pytest.raises(CatalogError):
        pg.upsert_office("old", "Old", "xa", status="merged", merged_into="nowhere")


def test_filters_counts_and_events_on_postgresql(pg):
    record(pg, meta("D1"))
    record(pg, meta("D2", office="tan-an", level="huyen"))
    record(pg, meta("D3"), status="failed")
    assert [d.document_code for d in pg.documents(level="xa")] == ["D1-KQ1", "D3-KQ1"]
    assert [d.document_code for d in pg.documents(office="tan-an", year=2025)] == ["D2-KQ1"]
    assert pg.documents(year=2024) == []
    assert pg.counts_by_level() == {"huyen": 1, "xa": 1}
    first = pg.add_event("archived", "D1-KQ1", key="k", at=date(2025, 11, 28))
    second = pg.add_event("fixity_checked", checked=3)
    assert second > first
    assert [(e.kind, e.detail) for e in pg.events("D1-KQ1")] == [("archived", {"at": "2025-11-28", "key": "k"})]


def test_plain_sql_helpers_take_question_mark_placeholders_on_postgresql(pg):
    with pg.transaction("test"):
        pg.executemany("INSERT INTO offices (code, name, level) VALUES (?, ?, ?)",
                       [("a-1", "A 100%", "xa"), ("b-1", "B", "xa")])
        assert pg.execute("UPDATE offices SET area_type = ? WHERE code LIKE 'a%'", ("remote",)) == 1
    assert pg.query("SELECT code, name, area_type FROM offices WHERE level = ? ORDER BY code", ["xa"]) == [
        ("a-1", "A 100%", "remote"), ("b-1", "B", "urban")]


def test_a_failed_transaction_is_rolled_back_whole_on_postgresql(pg):
    with pytest.raises(CatalogError), pg.transaction("test"):
        pg.execute("INSERT INTO offices (code, name, level) VALUES (?, ?, ?)", ("a-1", "A", "xa"))
        pg.execute("INSERT INTO offices (code, name, level) VALUES (?, ?, ?)", ("a-1", "A again", "xa"))
    assert pg.query("SELECT COUNT(*) FROM offices") == [(0,)]


def test_fixity_with_a_postgresql_catalog_catches_a_tampered_file(pg, tmp_path):
    archive = LocalArchive(tmp_path / "archive")
    key = store(archive, pg, meta("D1"))
    store(archive, pg, meta("D2"))
    assert check_fixity(archive, pg).ok
    path = archive.root / key
    os.chmod(path, 0o644)
    path.write_bytes(b"forged")
    report = check_fixity(archive, pg)
    assert (report.checked, report.corrupt) == (2, 1)


def _sample_rates_catalog(catalog: Catalog) -> None:
    """The sample offices and inventory, one result digitized, one orphan result and one dossier paper."""
    from rates import inventory

    levels = ("tinh", "huyen", "xa")
    assert inventory.import_offices(catalog, SAMPLES / "offices.csv", levels).inserted == 5
    assert inventory.import_inventory(catalog, SAMPLES / "inventory.csv", levels).inserted == 42
    assert inventory.import_inventory(catalog, SAMPLES / "inventory.csv", levels).inserted == 0
    day = datetime(2026, 6, 1, 3, tzinfo=UTC)
    for m in (meta("000.31.25.H08-240116-0039"), meta("ORPHAN-1"), meta("000.31.25.H08-240116-0039", kind="HS")):
        record(catalog, m, signed_at=day, archived_at=day, status="verified")


def test_the_rate_queries_give_on_postgresql_what_they_give_on_sqlite(pg, tmp_path):
    from rates import queries

    _sample_rates_catalog(pg)
    with Catalog.open(tmp_path / "catalog.sqlite") as lite:
        _sample_rates_catalog(lite)
        end = date(2026, 11, 28)
        got = [queries.result_counts(pg, end), queries.backlog(pg, end, limit=None), queries.orphans(pg, end),
               queries.intake_offices(pg, end)]
        assert got == [queries.result_counts(lite, end), queries.backlog(lite, end, limit=None),
                       queries.orphans(lite, end), queries.intake_offices(lite, end)]
    counts, backlog, (orphans, orphan_count), intake = got
    in_force = sum(t.in_force[-1] for t in counts.tallies)
    assert sum(t.digitized[-1] for t in counts.tallies) == 1 and in_force > 1
    assert len(backlog) == in_force - 1
    assert "000.31.25.H08-240116-0039-KQ1" not in {b.document_code for b in backlog}
    assert ([o.document_code for o in orphans], orphan_count) == (["ORPHAN-1-KQ1"], 1)
    assert intake == {"phuoc-loc"}


def test_the_rates_summary_is_kept_exact_by_the_postgresql_triggers(pg, tmp_path):
    from tests.test_rates_summary import build_random_catalog, check_reports_match_the_reference

    build_random_catalog(pg, tmp_path, 3, results=150)
    check_reports_match_the_reference(pg)


def test_an_inventory_row_and_its_document_written_at_once_are_counted_together_on_postgresql(postgres_url):
    """Two writers, each in its own uncommitted transaction: the triggers take turns, so neither misses the
    other's row (without that, the document stays an orphan and the result is not counted as digitized)."""
    with open_catalog(CatalogSettings(url=postgres_url)) as first, \
            open_catalog(CatalogSettings(url=postgres_url)) as second:
        first.upsert_office("phuoc-loc", "UBND xã Phước Lộc", "xa")
        first._db.execute("BEGIN")
        first._db.execute("INSERT INTO inventory (dossier_code, office_code, level, resolved_date, result_no) "
                          "VALUES ('D1', 'phuoc-loc', 'xa', '2025-01-02', '1')")

        def document() -> None:
            record(second, meta("D1"), status="verified")

        writer = threading.Thread(target=document)
        writer.start()
        # Until the writer waits for the first transaction's lock (unprotected, it would finish instead).
        with open_catalog(CatalogSettings(url=postgres_url)) as watcher:
            for _ in range(200):
                if not writer.is_alive() or watcher.query(
                        "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")[0][0]:
                    break
                time.sleep(0.05)
        first._db.execute("COMMIT")
        writer.join(timeout=30)
        assert not writer.is_alive()
        assert first.query("SELECT document_code FROM orphan_documents") == []
        assert first.query("SELECT SUM(n) FROM result_months WHERE measure = 'digitized'") == [(1,)]
        assert recount(first) == 0
