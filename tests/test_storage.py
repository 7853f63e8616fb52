"""Storage: archive keys, the local archive, the SQLite catalog and manifests.

Real files and a real SQLite database under ``tmp_path``; no mocks.
"""

from __future__ import annotations

import json
import sqlite3
import stat
import unicodedata
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from digitize.errors import (
    ArchiveError,
    ArchiveUnavailableError,
    BadInputError,
    CatalogError,
    ConfigError,
    is_transient,
)
from digitize.models import DocumentMeta
from digitize.settings import ArchiveSettings
from storage.archive import LocalArchive, open_archive
from storage.backend import Archive
from storage.catalog import MIGRATIONS, Catalog
from storage.hashing import sha256_bytes, sha256_file
from storage.keys import archive_key, check_key, document_stem, manifest_key, manifest_key_of, renewed_key
from storage.manifest import build_manifest

DOSSIER = "000.31.25.H08-261128-0001"
TITLE = "Giấy chứng nhận quyền sử dụng đất"
OFFICE_NAME = "Bộ phận Một cửa UBND xã Phước Lộc"
SIGNER = "UBND xã Phước Lộc"
SIGNED_AT = datetime(2025, 11, 28, 17, 15, tzinfo=timezone(timedelta(hours=7)))
PDF = b"%PDF-1.7\n% signed bytes of a result\n%%EOF\n"
OTHER_PDF = b"%PDF-1.7\n% some other bytes\n%%EOF\n"


def meta(kind: str = "KQ", number: int = 1, dossier: str = DOSSIER, **changes: object) -> DocumentMeta:
    values = dict(
        dossier_code=dossier,
        kind=kind,
        number=number,
        level="xa",
        office="phuoc-loc",
        procedure_code="1.001234",
        title=TITLE,
    )
    values.update(changes)
    return DocumentMeta(**values)  # type: ignore[arg-type]


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.fixture
def archive(tmp_path: Path) -> LocalArchive:
    return LocalArchive(tmp_path / "archive")


@pytest.fixture
def catalog(tmp_path: Path):
    with Catalog.open(tmp_path / "var" / "catalog.sqlite") as cat:
        yield cat


def record(catalog: Catalog, m: DocumentMeta, data: bytes = PDF, **changes: object):
    values = dict(
        input_sha256=sha256_bytes(b"scan of " + m.document_code.encode()),
        output_sha256=sha256_bytes(data),
        archive_key=archive_key(m, 2025),
        page_count=3,
        ocr_confidence=91.5,
        pades_level="B-LT",
        signer=SIGNER,
        signed_at=SIGNED_AT,
    )
    values.update(changes)
    return catalog.record_document(m, **values)  # type: ignore[arg-type]


# --- keys --------------------------------------------------------------------


def test_archive_key_of_a_result_follows_the_bucket_layout():
    assert archive_key(meta("KQ", 1), 2025) == f"xa/phuoc-loc/2025/{DOSSIER}/{DOSSIER}-KQ1.pdf"


def test_archive_key_of_a_dossier_paper_follows_the_bucket_layout():
    assert archive_key(meta("HS", 12), 2024) == f"xa/phuoc-loc/2024/{DOSSIER}/{DOSSIER}-HS12.pdf"


def test_manifest_key_is_beside_the_pdf_and_named_after_the_document():
    m = meta()
    assert manifest_key(m, 2025) == f"xa/phuoc-loc/2025/{DOSSIER}/{DOSSIER}-KQ1.manifest.json"
    assert manifest_key(m, 2025).rpartition("/")[0] == archive_key(m, 2025).rpartition("/")[0]


def test_a_renewed_copy_and_its_manifest_are_named_from_the_original_key():
    m = DocumentMeta(DOSSIER, "KQ", 1, "xa", "phuoc-loc")
    when = datetime(2031, 5, 1, 20, 0, tzinfo=timezone.utc)  # 2 May in Vietnam time
    renewed = renewed_key(archive_key(m, 2025), when)
    assert renewed == f"xa/phuoc-loc/2025/{DOSSIER}/{DOSSIER}-KQ1.renewed-20310502.pdf"
    assert renewed_key(renewed, when.replace(year=2032)).endswith(f"{DOSSIER}-KQ1.renewed-20320502.pdf")
    assert manifest_key_of(archive_key(m, 2025)) == manifest_key(m, 2025)
    assert manifest_key_of(renewed).endswith("-KQ1.renewed-20310502.manifest.json")
    assert document_stem(renewed.rpartition("/")[2]) == document_stem(f"{DOSSIER}-KQ1.pdf") == f"{DOSSIER}-KQ1"


@pytest.mark.parametrize(
    "key",
    [
        "../etc/passwd",
        "xa/../../etc/passwd",
        "xa/x..y/a.pdf",
        "/xa/phuoc-loc/a.pdf",
        "xa\\phuoc-loc\\a.pdf",
        "xa//a.pdf",
        "xa/a.pdf/",
        "xa/.hidden.pdf",
        "xa/a b.pdf",
        "xã/a.pdf",
        "xa/a.pdf\n",
        "",
    ],
)
def test_unsafe_archive_keys_are_refused(key: str):
    with pytest.raises(BadInputError):
        check_key(key)


@pytest.mark.parametrize(
    "changes",
    [{"dossier": "../../etc"}, {"dossier": "a/b"}, {"office": "Phuoc Loc"}, {"level": "../xa"}],
)
def test_bad_codes_never_become_keys(changes: dict[str, str]):
    with pytest.raises(BadInputError):
        archive_key(meta(**changes), 2025)


@pytest.mark.parametrize("year", [25, 10000, True, "2025"])
def test_a_year_that_is_not_four_digits_is_refused(year: object):
    with pytest.raises(BadInputError):
        archive_key(meta(), year)  # type: ignore[arg-type]


# --- local archive ---------------------------------------------------------------


def test_local_archive_implements_the_archive_protocol(archive: LocalArchive):
    assert isinstance(archive, Archive)


def test_put_file_stores_the_bytes_under_the_key_and_head_and_verify_agree(archive, tmp_path):
    source = tmp_path / "signed.pdf"
    source.write_bytes(PDF)
    key = archive_key(meta(), 2025)

    receipt = archive.put_file(key, source, sha256_file(source))

    stored = archive.root / key
    assert receipt.created is True
    assert (receipt.key, receipt.sha256, receipt.size) == (key, sha256_bytes(PDF), len(PDF))
    assert receipt.uri == stored.as_uri()
    assert stored.read_bytes() == PDF
    assert archive.head(key) == replace(receipt, created=False)
    assert archive.verify(key, sha256_bytes(PDF)) is True
    assert archive.get_bytes(key) == PDF


def test_putting_the_same_bytes_again_is_a_noop(archive, tmp_path):
    key = archive_key(meta(), 2025)
    first = archive.put_bytes(key, PDF, sha256_bytes(PDF))
    source = tmp_path / "again.pdf"
    source.write_bytes(PDF)

    again_bytes = archive.put_bytes(key, PDF, sha256_bytes(PDF))
    again_file = archive.put_file(key, source, sha256_bytes(PDF))

    assert first.created is True
    assert again_bytes.created is False and again_file.created is False
    assert again_bytes.sha256 == again_file.sha256 == first.sha256
    assert files_under(archive.root) == [key]


def test_different_bytes_under_an_existing_key_are_refused_and_the_original_kept(archive):
    key = archive_key(meta(), 2025)
    archive.put_bytes(key, PDF, sha256_bytes(PDF))

    with pytest.raises(ArchiveError, match="already holds different content; refusing to overwrite") as caught:
        archive.put_bytes(key, OTHER_PDF, sha256_bytes(OTHER_PDF))

    assert not is_transient(caught.value)
    assert archive.get_bytes(key) == PDF
    assert files_under(archive.root) == [key]


def test_the_stored_file_is_read_only(archive):
    key = archive_key(meta(), 2025)
    archive.put_bytes(key, PDF, sha256_bytes(PDF))

    assert stat.S_IMODE((archive.root / key).stat().st_mode) == 0o444


@pytest.mark.parametrize("hard_links", [True, False])
def test_every_object_of_a_document_is_read_only_and_stays_readable_and_verifiable(archive, monkeypatch,
                                                                                   hard_links):
    import errno
    import os

    from storage.backend import ArchiveItem

    if not hard_links:  # a file system without link(): published by a checked rename instead

        def no_link(*args):
            raise OSError(errno.EPERM, "no hard links here")

        monkeypatch.setattr(os, "link", no_link)
    key = archive_key(meta(), 2025)
    manifest = b'{"document": "000.31.25.H08-251128-0001-KQ1"}'
    original = key.removesuffix(".pdf") + ".signed-original.pdf"
    items = [ArchiveItem(key, sha256_bytes(PDF), data=PDF),
             ArchiveItem(manifest_key_of(key), sha256_bytes(manifest), data=manifest),
             ArchiveItem(original, sha256_bytes(OTHER_PDF), data=OTHER_PDF)]
    assert all(r.created for r in archive.put_many(items))
    for stored in (key, manifest_key_of(key), original):
        assert stat.S_IMODE((archive.root / stored).stat().st_mode) == 0o444, stored
    folder = (archive.root / key).parent
    assert stat.S_IMODE(folder.stat().st_mode) & 0o700 == 0o700  # folders stay as they are: new objects go in
    assert archive.get_bytes(key) == PDF and archive.verify(original, sha256_bytes(OTHER_PDF))  # read, fixity
    assert not any(r.created for r in archive.put_many(items))  # the same bytes again: a no-op, nothing rewritten
    renewed = renewed_key(key, datetime(2026, 11, 30, tzinfo=timezone.utc))
    assert archive.put_bytes(renewed, OTHER_PDF, sha256_bytes(OTHER_PDF)).created  # a renewal beside it
    assert sorted(archive.iter_keys()) == sorted([key, manifest_key_of(key), original, renewed])


def test_a_wrong_sha256_is_refused_and_nothing_is_left_behind(archive, tmp_path):
    key = archive_key(meta(), 2025)
    source = tmp_path / "signed.pdf"
    source.write_bytes(PDF)

    with pytest.raises(ArchiveError, match="nothing was archived"):
        archive.put_bytes(key, PDF, sha256_bytes(OTHER_PDF))
    with pytest.raises(ArchiveError, match="nothing was archived"):
        archive.put_file(key, source, sha256_bytes(OTHER_PDF))

    assert files_under(archive.root) == []
    assert archive.head(key) is None


def test_a_wrong_sha256_is_refused_even_when_the_key_already_holds_it(archive):
    key = archive_key(meta(), 2025)
    archive.put_bytes(key, PDF, sha256_bytes(PDF))

    with pytest.raises(ArchiveError, match="nothing was archived"):
        archive.put_bytes(key, OTHER_PDF, sha256_bytes(PDF))


def test_a_tampered_stored_file_fails_verification(archive):
    key = archive_key(meta(), 2025)
    archive.put_bytes(key, PDF, sha256_bytes(PDF))
    stored = archive.root / key
    stored.chmod(0o644)
    stored.write_bytes(PDF.replace(b"result", b"RESULT"))

    assert archive.verify(key, sha256_bytes(PDF)) is False


def test_a_missing_object_has_no_head_does_not_verify_and_cannot_be_read(archive):
    key = archive_key(meta(), 2025)

    assert archive.head(key) is None
    assert archive.verify(key, sha256_bytes(PDF)) is False
    with pytest.raises(ArchiveError, match="nothing is archived"):
        archive.get_bytes(key)


def test_a_bad_key_is_refused_before_anything_is_written(archive):
    with pytest.raises(BadInputError):
        archive.put_bytes("../outside.pdf", PDF, sha256_bytes(PDF))
    assert not (archive.root.parent / "outside.pdf").exists()


def test_a_malformed_sha256_is_refused(archive):
    with pytest.raises(BadInputError):
        archive.put_bytes(archive_key(meta(), 2025), PDF, "not-a-hash")


def test_a_missing_source_file_is_a_permanent_archive_error(archive, tmp_path):
    with pytest.raises(ArchiveError, match="does not exist") as caught:
        archive.put_file(archive_key(meta(), 2025), tmp_path / "gone.pdf", sha256_bytes(PDF))
    assert not is_transient(caught.value)


def test_an_os_error_while_writing_is_transient(tmp_path):
    root = tmp_path / "archive"
    root.write_bytes(b"a file where the archive folder should be")
    archive = LocalArchive(root)

    with pytest.raises(ArchiveUnavailableError) as caught:
        archive.put_bytes(archive_key(meta(), 2025), PDF, sha256_bytes(PDF))
    assert is_transient(caught.value)
    assert isinstance(caught.value.__cause__, OSError)


def test_iter_keys_lists_stored_keys_by_prefix_and_skips_writes_in_progress(archive):
    keys = [archive_key(meta("KQ", 1), 2025), archive_key(meta("HS", 1), 2025), manifest_key(meta(), 2025)]
    other = archive_key(meta(office="an-nhon"), 2025)
    for key in [*keys, other]:
        archive.put_bytes(key, key.encode(), sha256_bytes(key.encode()))
    (archive.root / keys[0]).with_name(".in-progress.part").write_bytes(b"partial")

    assert sorted(archive.iter_keys("xa/phuoc-loc/")) == sorted(keys)
    assert sorted(archive.iter_keys("xa/phuoc")) == sorted(keys)
    assert sorted(archive.iter_keys()) == sorted([*keys, other])
    assert list(archive.iter_keys("tinh/")) == []


def test_open_archive_gives_a_local_archive_at_the_configured_root(tmp_path):
    archive = open_archive(ArchiveSettings(backend="local", root=tmp_path / "a"))
    assert isinstance(archive, LocalArchive)
    assert archive.root == (tmp_path / "a").resolve()


def test_open_archive_refuses_an_unknown_backend(tmp_path):
    with pytest.raises(ConfigError):
        open_archive(ArchiveSettings(backend="ftp", root=tmp_path))


def test_open_archive_refuses_an_s3_backend_without_a_bucket(tmp_path):
    with pytest.raises(ConfigError):
        open_archive(ArchiveSettings(backend="s3", root=tmp_path))


# --- catalog -----------------------------------------------------------------------


def test_opening_a_catalog_creates_its_folder_applies_migrations_and_uses_wal(tmp_path):
    path = tmp_path / "var" / "sub" / "catalog.sqlite"
    with Catalog.open(path) as catalog:
        assert catalog.schema_version == len(MIGRATIONS)
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"offices", "dossiers", "documents", "inventory", "events", "schema_migrations"} <= tables
    finally:
        db.close()


def test_reopening_a_catalog_does_not_reapply_migrations(tmp_path):
    path = tmp_path / "catalog.sqlite"
    with Catalog.open(path):
        pass
    applied = _migration_rows(path)

    with Catalog.open(path) as catalog:
        assert catalog.schema_version == len(MIGRATIONS)

    assert _migration_rows(path) == applied
    assert [version for version, _ in applied] == list(range(1, len(MIGRATIONS) + 1))


def _migration_rows(path: Path) -> list[tuple[int, str]]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT version, applied_at FROM schema_migrations ORDER BY version").fetchall()
    finally:
        db.close()


def test_a_failing_migration_is_rolled_back_whole(tmp_path):
    from storage.schema import Migration

    path = tmp_path / "catalog.sqlite"
    broken = "CREATE TABLE extra (x TEXT);\nTHIS IS NOT SQL;\n"
    with pytest.raises(CatalogError, match=f"schema version {len(MIGRATIONS) + 1}"):
        Catalog.open(path, (*MIGRATIONS, Migration("broken", broken, broken)))

    with Catalog.open(path) as catalog:
        assert catalog.schema_version == len(MIGRATIONS)
    db = sqlite3.connect(path)
    try:
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'extra'").fetchall() == []
    finally:
        db.close()
    assert [version for version, _ in _migration_rows(path)] == list(range(1, len(MIGRATIONS) + 1))


def test_a_catalog_from_a_newer_program_is_refused(tmp_path):
    path = tmp_path / "catalog.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()

    with pytest.raises(CatalogError, match="newer"):
        Catalog.open(path)


def test_a_file_that_is_not_a_database_gives_a_catalog_error(tmp_path):
    path = tmp_path / "catalog.sqlite"
    path.write_bytes(b"this is not SQLite " * 100)

    with pytest.raises(CatalogError) as caught:
        Catalog.open(path)
    assert isinstance(caught.value.__cause__, sqlite3.Error)


def test_record_document_stores_the_document_and_its_dossier(catalog):
    m = meta()
    row = record(catalog, m)

    assert row.document_code == f"{DOSSIER}-KQ1"
    assert (row.dossier_code, row.kind, row.number, row.level, row.office_code) == (DOSSIER, "KQ", 1, "xa", "phuoc-loc")
    assert row.output_sha256 == sha256_bytes(PDF)
    assert row.archive_key == archive_key(m, 2025)
    assert row.status == "verified" and row.title == TITLE and row.signer == SIGNER
    assert row.signed_at == SIGNED_AT and row.signed_at.utcoffset() == timedelta(0)
    assert row.digitized_at.tzinfo is not None
    assert catalog.find_document(m.document_code) == row
    assert catalog.find_by_input_sha256(row.input_sha256) == row


def test_recording_the_same_input_twice_returns_the_existing_row(catalog):
    m = meta()
    first = record(catalog, m)
    second = record(catalog, m, signed_at=SIGNED_AT + timedelta(hours=1))

    assert second == first
    assert len(catalog.documents()) == 1


def test_another_input_under_a_recorded_document_code_is_refused(catalog):
    m = meta()
    first = record(catalog, m)

    with pytest.raises(CatalogError, match="already recorded from a different input"):
        record(catalog, m, input_sha256=sha256_bytes(b"a different scan"))

    assert catalog.documents() == [first]


def test_the_same_input_under_another_document_code_is_refused(catalog):
    first = record(catalog, meta("KQ", 1))

    with pytest.raises(CatalogError, match="already recorded as document"):
        record(catalog, meta("KQ", 2), input_sha256=first.input_sha256)


def test_a_dossier_recorded_for_another_office_is_refused(catalog):
    record(catalog, meta("KQ", 1))

    with pytest.raises(CatalogError, match="dossier"):
        record(catalog, meta("HS", 1, office="an-nhon"))


def test_vietnamese_office_names_round_trip_in_nfc(catalog):
    decomposed = unicodedata.normalize("NFD", OFFICE_NAME)
    assert decomposed != OFFICE_NAME

    catalog.upsert_office("phuoc-loc", decomposed, "xa", area_type="rural")

    office = catalog.find_office("phuoc-loc")
    assert office is not None
    assert office.name == OFFICE_NAME
    assert unicodedata.is_normalized("NFC", office.name)
    assert office.area_type == "rural" and office.status == "active"


def test_upsert_office_updates_an_existing_office_and_records_a_merger(catalog):
    catalog.upsert_office("phuoc-loc", "UBND xã Phước Lộc", "xa")
    catalog.upsert_office("tuy-phuoc", "UBND xã Tuy Phước", "xa")
    catalog.upsert_office("phuoc-loc", "UBND xã Phước Lộc (cũ)", "xa", status="merged", merged_into="tuy-phuoc")

    office = catalog.find_office("phuoc-loc")
    assert office is not None
    assert (office.name, office.status, office.merged_into) == ("UBND xã Phước Lộc (cũ)", "merged", "tuy-phuoc")


def test_merging_into_an_unknown_office_is_a_catalog_error(catalog):
    with pytest.raises(CatalogError, match="FOREIGN KEY"):
        catalog.upsert_office("phuoc-loc", "UBND xã Phước Lộc", "xa", status="merged", merged_into="nowhere")


@pytest.mark.parametrize("changes", [{"area_type": "island"}, {"status": "closed"}, {"code": "Phuoc Loc"}])
def test_bad_office_values_are_refused(catalog, changes):
    values = {"code": "phuoc-loc", "name": "UBND xã Phước Lộc", "level": "xa", **changes}
    with pytest.raises(BadInputError):
        catalog.upsert_office(**values)


def test_documents_filter_by_level_and_office_and_counts_skip_failures(catalog):
    record(catalog, meta("KQ", 1))
    record(catalog, meta("HS", 1))
    record(catalog, meta("KQ", 1, dossier="H08-2025-0002", office="an-nhon"))
    record(catalog, meta("KQ", 1, dossier="000.00.31.H08-2025-0003", level="tinh", office="ttphcc"))
    record(catalog, meta("KQ", 1, dossier="H08-2025-0004"), status="failed")

    assert len(catalog.documents()) == 5
    assert [r.document_code for r in catalog.documents(level="tinh")] == ["000.00.31.H08-2025-0003-KQ1"]
    assert len(catalog.documents(level="xa", office="phuoc-loc")) == 3
    assert catalog.documents(office="an-nhon")[0].dossier_code == "H08-2025-0002"
    assert catalog.counts_by_level() == {"tinh": 1, "xa": 3}


def test_a_naive_signing_time_is_refused(catalog):
    with pytest.raises(BadInputError, match="timezone"):
        record(catalog, meta(), signed_at=datetime(2025, 11, 28, 10, 0))


def test_events_keep_their_detail_as_json(catalog):
    event_id = catalog.add_event("archived", f"{DOSSIER}-KQ1", key="xa/a.pdf", signer=SIGNER, pages=3)
    catalog.add_event("batch-started", level="xa")

    events = catalog.events()
    assert [e.id for e in events][0] == event_id
    assert events[0].detail == {"key": "xa/a.pdf", "pages": 3, "signer": SIGNER}
    assert events[0].at.tzinfo is not None
    assert [e.kind for e in catalog.events(f"{DOSSIER}-KQ1")] == ["archived"]


def test_an_event_detail_that_is_not_json_is_a_catalog_error(catalog):
    with pytest.raises(CatalogError, match="JSON"):
        catalog.add_event("archived", blob=object())


# --- manifest ----------------------------------------------------------------------


def _manifest(m: DocumentMeta, **changes: object) -> bytes:
    values = dict(
        page_count=3,
        ocr_confidence=91.5,
        pades_level="B-LT",
        signer=unicodedata.normalize("NFD", SIGNER),
        signing_time=SIGNED_AT,
        tool_versions={"tesseract": "5.3.0", "pyhanko": "0.38.0"},
        input_sha256=sha256_bytes(b"scan"),
        output_sha256=sha256_bytes(PDF),
    )
    values.update(changes)
    return build_manifest(m, **values)  # type: ignore[arg-type]


def test_manifest_has_the_document_fields_and_keeps_diacritics(tmp_path):
    m = meta()
    data = _manifest(m)
    manifest = json.loads(data.decode("utf-8"))

    assert manifest["dossier_code"] == DOSSIER
    assert manifest["procedure_code"] == "1.001234"
    assert (manifest["level"], manifest["office"], manifest["kind"], manifest["number"]) == ("xa", "phuoc-loc", "KQ", 1)
    assert manifest["document_code"] == f"{DOSSIER}-KQ1"
    assert manifest["title"] == TITLE
    assert manifest["signer"] == SIGNER  # given decomposed, stored NFC
    assert manifest["signing_time"] == "2025-11-28T10:15:00Z"
    assert manifest["tool_versions"] == {"pyhanko": "0.38.0", "tesseract": "5.3.0"}
    assert manifest["output_sha256"] == sha256_bytes(PDF)
    assert TITLE.encode("utf-8") in data  # not \\u escapes
    assert unicodedata.is_normalized("NFC", data.decode("utf-8"))


def test_manifest_is_sorted_indented_and_deterministic():
    data = _manifest(meta())
    text = data.decode("utf-8")

    assert data == _manifest(meta())
    assert text == json.dumps(json.loads(text), ensure_ascii=False, sort_keys=True, indent=2) + "\n"


def test_manifest_round_trips_through_the_archive(archive):
    m = meta()
    data = _manifest(m)
    key = manifest_key(m, 2025)

    assert archive.put_bytes(key, data, sha256_bytes(data)).created is True
    assert archive.put_bytes(key, _manifest(m), sha256_bytes(data)).created is False
    assert json.loads(archive.get_bytes(key))["title"] == TITLE


def test_every_document_of_a_dossier_gets_its_own_manifest(archive):
    documents = [meta("HS", 1), meta("HS", 2), meta("KQ", 1)]
    for m in documents:
        data = _manifest(m)
        assert archive.put_bytes(manifest_key(m, 2025), data, sha256_bytes(data)).created is True

    folder = f"xa/phuoc-loc/2025/{DOSSIER}/"
    assert len([k for k in archive.iter_keys(folder) if k.endswith(".manifest.json")]) == 3
