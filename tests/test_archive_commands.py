"""``digitize archive ls|get|export|fixity`` on a real local archive and SQLite catalog (and one S3 fixity run)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli.main import main
from digitize.errors import ExitCode
from digitize.models import DocumentMeta
from digitize.settings import ArchiveSettings, CatalogSettings
from storage.archive import LocalArchive
from storage.backend import Archive
from storage.catalog import Catalog, open_catalog
from storage.fixity import check_fixity
from storage.hashing import sha256_bytes
from storage.keys import archive_key, manifest_key
from storage.manifest import build_manifest
from storage.s3 import S3Archive
from tests import storage_fixtures
from tests.storage_fixtures import new_bucket, s3_settings, unique_bucket

s3_endpoint = storage_fixtures.s3_endpoint
s3_credentials = storage_fixtures.s3_credentials

SIGNED_AT = datetime(2025, 11, 28, 10, 15, tzinfo=UTC)


def pdf_of(code: str) -> bytes:
    return f"%PDF-1.7\n% signed {code}\n%%EOF\n".encode()


def store(archive: Archive, catalog: Catalog, m: DocumentMeta, year: int = 2025) -> str:
    """Archive a document and its manifest, then record it, as the flow does."""
    data = pdf_of(m.document_code)
    key = archive_key(m, year)
    archive.put_bytes(key, data, sha256_bytes(data))
    manifest = build_manifest(
        m, page_count=2, ocr_confidence=90.0, pades_level="B-B", signer="UBND xã Phước Lộc",
        signing_time=SIGNED_AT, tool_versions={"tesseract": "5.3.0"},
        input_sha256=sha256_bytes(b"scan " + data), output_sha256=sha256_bytes(data),
    )
    archive.put_bytes(manifest_key(m, year), manifest, sha256_bytes(manifest))
    catalog.record_document(
        m, input_sha256=sha256_bytes(b"scan " + data), output_sha256=sha256_bytes(data), archive_key=key,
        page_count=2, ocr_confidence=90.0, pades_level="B-B", signer="UBND xã Phước Lộc", signed_at=SIGNED_AT,
    )
    return key


def meta(dossier: str, kind: str = "KQ", office: str = "phuoc-loc", level: str = "xa") -> DocumentMeta:
    return DocumentMeta(dossier_code=dossier, kind=kind, number=1, level=level, office=office,
                        procedure_code="1.001234", title="Giấy chứng nhận")


@pytest.fixture
def setup(tmp_path: Path):
    """A config whose var_dir is under tmp_path, with three documents archived and catalogued."""
    config = tmp_path / "digitize.toml"
    config.write_text('[paths]\nvar_dir = "var"\n\n[ui]\nlanguage = "en"\n')
    archive = LocalArchive(tmp_path / "var" / "archive")
    with Catalog.open(tmp_path / "var" / "catalog.sqlite") as catalog:
        keys = {
            "D1-KQ1": store(archive, catalog, meta("D1")),
            "D1-HS1": store(archive, catalog, meta("D1", kind="HS")),
            "D2-KQ1": store(archive, catalog, meta("D2", office="tan-an", level="huyen"), year=2024),
        }
    return config, archive, keys


def run(config: Path, *args: str) -> int:
    return main(["--config", str(config), "archive", *args])


def tamper(archive: LocalArchive, key: str, data: bytes = b"%PDF-1.7\n% forged\n%%EOF\n") -> None:
    path = archive.root / key
    os.chmod(path, 0o644)
    path.write_bytes(data)


def test_ls_lists_every_document_with_its_key(setup, capsys):
    config, _, keys = setup
    assert run(config, "ls") == 0
    out = capsys.readouterr().out
    assert all(key in out for key in keys.values())
    assert "3 documents" in out


def _in_vietnamese(config: Path) -> None:
    config.write_text(config.read_text().replace('language = "en"', 'language = "vi"'))


def test_ls_prints_signing_times_in_vietnam_time_and_json_keeps_utc(setup, capsys):
    config, _, _ = setup  # signed 28/11/2025 10:15 UTC: 17:15 in Vietnam
    assert run(config, "ls") == 0
    out = capsys.readouterr().out
    assert "signed (Vietnam time)" in out and "2025-11-28 17:15:00 +07:00" in out and "UTC" not in out
    assert run(config, "ls", "--json") == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["signed_at"] for r in records} == {"2025-11-28T10:15:00+00:00"}


def test_ls_in_vietnamese_reads_dates_dd_mm_yyyy_and_its_columns_line_up(setup, capsys):
    from rich.cells import cell_len

    config, _, keys = setup
    _in_vietnamese(config)
    assert run(config, "ls") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("mã hồ sơ") and "thời điểm ký (giờ Việt Nam)" in lines[0]
    assert lines[-1] == "3 hồ sơ"
    rows = lines[1:-1]
    assert all("28/11/2025 17:15:00" in row and "đã kiểm tra" in row for row in rows)  # verified
    # every column starts at the same display column in the header and each row: the key's column
    starts = {cell_len(line[: line.index(marker)]) for line, marker in
              [(lines[0], "khóa lưu trữ"), *((row, key) for row in rows for key in keys.values() if key in row)]}
    assert len(starts) == 1, lines


@pytest.mark.parametrize(
    ("filters", "expected"),
    [(["--year", "2024"], ["D2-KQ1"]), (["--office", "phuoc-loc"], ["D1-HS1", "D1-KQ1"]),
     (["--level", "xa", "--year", "2024"], [])],
)
def test_ls_filters_by_level_office_and_year(setup, capsys, filters, expected):
    config, _, _ = setup
    assert run(config, "ls", "--json", *filters) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["document_code"] for line in lines] == expected


def test_get_writes_the_document_after_checking_its_sha256(setup, tmp_path, capsys):
    config, _, _ = setup
    out = tmp_path / "out" / "D1-KQ1.pdf"
    assert run(config, "get", "D1-KQ1", "-o", str(out)) == 0
    assert out.read_bytes() == pdf_of("D1-KQ1")
    assert "matches the catalog" in capsys.readouterr().out


def test_get_of_a_tampered_document_fails_and_writes_nothing(setup, tmp_path, capsys):
    config, archive, keys = setup
    tamper(archive, keys["D1-KQ1"])
    out = tmp_path / "D1-KQ1.pdf"
    assert run(config, "get", "D1-KQ1", "-o", str(out)) == ExitCode.verification
    assert not out.exists()
    assert "nothing was written" in capsys.readouterr().err


def test_get_refuses_an_existing_output_without_force_and_replaces_it_with_force(setup, tmp_path, capsys):
    config, _, _ = setup
    out = tmp_path / "báo cáo.pdf"
    out.write_bytes(b"the clerk's own file")
    assert run(config, "get", "D1-KQ1", "-o", str(out)) == ExitCode.usage
    assert out.read_bytes() == b"the clerk's own file"
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err
    assert run(config, "get", "D1-KQ1", "-o", str(out), "--force") == 0
    assert out.read_bytes() == pdf_of("D1-KQ1")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_get_never_writes_inside_the_archive_even_with_force(setup, tmp_path, capsys):
    config, archive, keys = setup
    other = archive.root / keys["D2-KQ1"]
    before = other.read_bytes()
    assert run(config, "get", "D1-KQ1", "-o", str(other)) == ExitCode.usage
    assert run(config, "get", "D1-KQ1", "-o", str(other), "--force") == ExitCode.usage
    new_in_archive = archive.root / "xa" / "new.pdf"
    assert run(config, "get", "D1-KQ1", "-o", str(new_in_archive), "--force") == ExitCode.usage
    assert other.read_bytes() == before
    assert not new_in_archive.exists()
    assert "inside the archive" in capsys.readouterr().err


def test_get_resolves_symlinks_before_deciding_where_it_writes(setup, tmp_path):
    config, archive, keys = setup
    other = archive.root / keys["D2-KQ1"]
    before = other.read_bytes()
    into_archive = tmp_path / "shortcut"
    into_archive.symlink_to(other.parent, target_is_directory=True)
    assert run(config, "get", "D1-KQ1", "-o", str(into_archive / "D1-KQ1.pdf"), "--force") == ExitCode.usage
    link_to_object = tmp_path / "link.pdf"
    link_to_object.symlink_to(other)
    assert run(config, "get", "D1-KQ1", "-o", str(link_to_object), "--force") == ExitCode.usage
    assert other.read_bytes() == before
    assert not (other.parent / "D1-KQ1.pdf").exists()


def test_get_of_an_unknown_document_is_an_archive_error(setup, tmp_path):
    config, _, _ = setup
    assert run(config, "get", "D9-KQ1", "-o", str(tmp_path / "x.pdf")) == ExitCode.archive


def test_get_refuses_a_code_that_is_not_a_document_code(setup, tmp_path):
    config, _, _ = setup
    assert run(config, "get", "../../etc/passwd", "-o", str(tmp_path / "x.pdf")) == ExitCode.bad_input


def test_export_writes_json_lines_of_results_for_the_reuse_store(setup, tmp_path):
    config, _, keys = setup
    out = tmp_path / "reuse.jsonl"
    assert run(config, "export", "-o", str(out)) == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["document_code"] for r in records] == ["D1-KQ1", "D2-KQ1"]
    first = records[0]
    assert first["sha256"] == sha256_bytes(pdf_of("D1-KQ1"))
    assert first["archive_key"] == keys["D1-KQ1"]
    assert (first["procedure_code"], first["signer"], first["format"]) == ("1.001234", "UBND xã Phước Lộc",
                                                                          "digitize-reuse-v1")


def test_export_all_kinds_includes_dossier_papers(setup, capsys):
    config, _, _ = setup
    assert run(config, "export", "--kind", "all") == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_fixity_of_an_intact_archive_exits_zero_and_logs_an_event(setup, tmp_path, capsys):
    config, _, _ = setup
    assert run(config, "fixity") == 0
    assert "checked 3 document(s): 0 missing, 0 corrupt" in capsys.readouterr().out
    with Catalog.open(tmp_path / "var" / "catalog.sqlite") as catalog:
        assert [e.kind for e in catalog.events() if e.kind.startswith("fixity")] == ["fixity_checked"]


def test_fixity_catches_a_tampered_local_file_and_exits_non_zero(setup, capsys):
    config, archive, keys = setup
    tamper(archive, keys["D1-KQ1"])
    assert run(config, "fixity") == ExitCode.archive
    out = capsys.readouterr().out
    assert f"CORRUPT  D1-KQ1  {keys['D1-KQ1']}" in out
    assert "0 missing, 1 corrupt" in out


def test_fixity_reports_a_missing_object_and_a_tampered_manifest(setup, capsys):
    config, archive, keys = setup
    (archive.root / keys["D2-KQ1"]).unlink()
    manifest = keys["D1-HS1"].removesuffix(".pdf") + ".manifest.json"
    tamper(archive, manifest, b'{"output_sha256": "0000"}')
    assert run(config, "fixity") == ExitCode.archive
    out = capsys.readouterr().out
    assert "MISSING  D2-KQ1" in out and "CORRUPT  D1-HS1" in out
    assert "1 missing, 1 corrupt" in out


def test_archive_errors_and_fixity_speak_vietnamese_by_default(setup, tmp_path, capsys):
    config, archive, keys = setup
    _in_vietnamese(config)
    assert run(config, "get", "D9-KQ1", "-o", str(tmp_path / "x.pdf")) == ExitCode.archive
    assert "digitize: lỗi: hồ sơ D9-KQ1 không có trong danh mục (xem digitize archive ls)" in capsys.readouterr().err
    tamper(archive, keys["D1-KQ1"])
    assert run(config, "fixity") == ExitCode.archive
    out = capsys.readouterr().out
    assert f"HỎNG     D1-KQ1  {keys['D1-KQ1']}: nội dung đã lưu không khớp SHA-256" in out
    assert "đã kiểm tra 3 hồ sơ: 0 bị thiếu, 1 bị hỏng" in out


def test_fixity_sample_checks_only_that_many_documents(setup, capsys):
    config, _, _ = setup
    assert run(config, "fixity", "--sample", "2") == 0
    assert "checked 2 document(s)" in capsys.readouterr().out


def test_open_catalog_opens_the_sqlite_file_of_the_settings(tmp_path):
    with open_catalog(CatalogSettings(path=tmp_path / "c.sqlite")) as catalog:
        assert catalog.schema_version >= 1
    assert (tmp_path / "c.sqlite").is_file()


def test_fixity_catches_an_object_overwritten_behind_the_archive_in_a_bucket(s3_endpoint, s3_credentials, tmp_path):
    archive = S3Archive(s3_settings(s3_endpoint.url, unique_bucket("fixity")))
    new_bucket(archive)
    with Catalog.open(tmp_path / "catalog.sqlite") as catalog:
        key = store(archive, catalog, meta("D1"))
        store(archive, catalog, meta("D2"))
        assert check_fixity(archive, catalog).ok
        # Someone with raw bucket access (no object lock here) replaces the bytes:
        archive.client.put_object(Bucket=archive.bucket, Key=key, Body=b"forged")
        report = check_fixity(archive, catalog)
    assert (report.checked, report.corrupt, report.missing) == (2, 1, 0)
    assert report.problems[0].key == key


def test_archive_settings_have_no_credentials_to_leak():
    names = {f for f in ArchiveSettings.__dataclass_fields__}
    assert not any(word in name for name in names for word in ("secret", "access_key", "password", "token"))
