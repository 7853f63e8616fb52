"""The document pipeline: work folders keyed by identity, codes held before archiving, strays found by fixity."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pikepdf
import pytest

from digitize.errors import DocumentConflictError, SigningError
from digitize.models import DocumentMeta
from digitize.settings import CatalogSettings, Settings, load_settings
from pipeline import FILE_MODE, FOLDER_MODE, WorkFolder, prune_work, settings_fingerprint
from signing.document_check import check_document_identity
from storage.archive import LocalArchive
from storage.catalog import Catalog, open_catalog
from storage.fixity import UNRECORDED, check_fixity
from tests.cli_fixtures import ENGLISH
from tests.intake_fixtures import save_pdf, text_page

SHA_A = "a" * 64
SHA_B = "b" * 64
DOSSIER = "000.31.25.H08-261120-0223"


def _meta(number: int = 1, office: str = "phuoc-loc", dossier: str = DOSSIER) -> DocumentMeta:
    return DocumentMeta(dossier, "KQ", number, "xa", office)


@pytest.fixture
def catalog(tmp_path) -> Catalog:
    with open_catalog(CatalogSettings(path=tmp_path / "catalog.sqlite")) as c:
        yield c


def _record(catalog: Catalog, meta: DocumentMeta, input_sha: str, key: str | None = None) -> None:
    catalog.record_document(
        meta, input_sha256=input_sha, output_sha256="c" * 64,
        archive_key=key or f"xa/{meta.office}/2026/{meta.dossier_code}/{meta.document_code}.pdf",
        page_count=1, ocr_confidence=90.0, pades_level="B-B", signer="x", signed_at=datetime.now(UTC),
    )


# --- work folders -------------------------------------------------------------------


def test_work_folder_differs_by_document_code_input_and_output_settings(tmp_path):
    settings = Settings()
    fingerprint = settings_fingerprint(settings)
    first = WorkFolder.for_document(tmp_path, _meta(1), SHA_A, fingerprint)
    assert WorkFolder.for_document(tmp_path, _meta(1), SHA_A, fingerprint).root == first.root
    renamed = WorkFolder.for_document(tmp_path, _meta(2), SHA_A, fingerprint)
    rescanned = WorkFolder.for_document(tmp_path, _meta(1), SHA_B, fingerprint)
    other_ocr = settings_fingerprint(dataclasses.replace(settings, ocr=dataclasses.replace(settings.ocr, languages="vie+eng")))
    other_agency = settings_fingerprint(
        dataclasses.replace(settings, signing=dataclasses.replace(settings.signing, copy_form="TRÍCH SAO")))
    assert len({first.root, renamed.root, rescanned.root,
                WorkFolder.for_document(tmp_path, _meta(1), SHA_A, other_ocr).root,
                WorkFolder.for_document(tmp_path, _meta(1), SHA_A, other_agency).root}) == 5
    assert first.root.name.startswith(_meta(1).document_code + "-")


def test_settings_fingerprint_ignores_secrets_and_timeouts():
    settings = Settings()
    with_secret = dataclasses.replace(settings, signing=dataclasses.replace(
        settings.signing, pkcs12_password="mật-khẩu-bí-mật", tsa_timeout_seconds=99.0))
    assert settings_fingerprint(with_secret) == settings_fingerprint(settings)


def test_settings_fingerprint_ignores_where_a_setting_was_read(tmp_path):
    config = tmp_path / "digitize.toml"
    config.write_text('[signing]\npkcs12_password = "mật-khẩu"\n', encoding="utf-8")
    from_file = load_settings(config, environ={}, base_dir=tmp_path)
    from_variable = load_settings(tmp_path / "digitize.toml", environ={"DIGITIZE_SIGNING__PKCS12_PASSWORD": "khác"},
                                  base_dir=tmp_path)
    assert from_file.signing.source_of("pkcs12_password") != from_variable.signing.source_of("pkcs12_password")
    assert settings_fingerprint(from_file) == settings_fingerprint(from_variable)


def test_work_folder_is_private_to_its_owner(tmp_path):
    work = WorkFolder(tmp_path / "work" / "doc").create()
    (work.root / "page-001.png").write_bytes(b"png")
    (work.root / "sub").mkdir()
    (work.root / "sub" / "x.txt").write_text("x")
    work.finish("scan", {"pdf": "output.pdfa.pdf"})
    for path in [work.root.parent, work.root, work.root / "sub"]:
        assert stat.S_IMODE(path.stat().st_mode) == FOLDER_MODE, path
    for path in [work.root / "page-001.png", work.root / "sub" / "x.txt", work.root / "scan.json"]:
        assert stat.S_IMODE(path.stat().st_mode) == FILE_MODE, path
    assert work.checkpoint("scan") == {"pdf": "output.pdfa.pdf"}
    assert work.checkpoint("sign") is None


def test_prune_removes_only_work_folders_older_than_the_limit(tmp_path):
    old = WorkFolder(tmp_path / "old").create()
    (old.root / "f").write_text("x")
    fresh = WorkFolder(tmp_path / "fresh").create()
    (fresh.root / "f").write_text("x")
    long_ago = time.time() - 20 * 86400
    for path in (old.root / "f", old.root):
        os.utime(path, (long_ago, long_ago))
    removed = prune_work(tmp_path, max_age_seconds=14 * 86400, now=time.time())
    assert removed == [old.root]
    assert not old.root.exists() and (fresh.root / "f").exists()


# --- codes held before anything is archived ----------------------------------------------


def test_the_same_scan_under_a_second_code_is_refused_naming_the_first(catalog):
    _record(catalog, _meta(1), SHA_A)
    with pytest.raises(DocumentConflictError, match=f"archived as {DOSSIER}-KQ1") as e:
        catalog.reserve_document(_meta(2), SHA_A)
    assert e.value.exit_code == 4


def test_the_same_scan_under_its_own_code_again_is_a_duplicate(catalog):
    _record(catalog, _meta(1), SHA_A)
    row = catalog.reserve_document(_meta(1), SHA_A)
    assert row is not None and row.document_code == f"{DOSSIER}-KQ1"


def test_a_code_held_or_recorded_for_another_scan_is_refused(catalog):
    assert catalog.reserve_document(_meta(1), SHA_A) is None
    assert catalog.reserve_document(_meta(1), SHA_A) is None  # the same input again: a re-run
    with pytest.raises(DocumentConflictError, match="another scan named"):
        catalog.reserve_document(_meta(1), SHA_B)
    with pytest.raises(DocumentConflictError, match="being digitized as"):
        catalog.reserve_document(_meta(2), SHA_A)
    _record(catalog, _meta(1), SHA_A)
    assert catalog.reserved_documents() == []
    with pytest.raises(DocumentConflictError, match="already archived from another scan"):
        catalog.reserve_document(_meta(1), SHA_B)


def test_a_dossier_of_one_office_dropped_in_another_is_refused_before_any_work(catalog):
    catalog.reserve_document(_meta(1, office="phuoc-loc"), SHA_A)
    assert catalog.reserve_document(_meta(3, office="phuoc-loc"), "e" * 64) is None  # same dossier, same office
    with pytest.raises(DocumentConflictError, match="belongs to xa/phuoc-loc"):
        catalog.reserve_document(_meta(2, office="phuoc-son"), SHA_B)
    _record(catalog, _meta(1, office="phuoc-loc"), SHA_A)
    with pytest.raises(DocumentConflictError, match="belongs to xa/phuoc-loc"):
        catalog.reserve_document(_meta(1, office="phuoc-son"), SHA_B)


def test_a_released_or_stale_hold_frees_the_code(catalog):
    catalog.reserve_document(_meta(1), SHA_A)
    catalog.release_document(_meta(1).document_code, SHA_A)
    assert catalog.reserve_document(_meta(1), SHA_B) is None
    assert catalog.reserve_document(_meta(1), SHA_A, stale_after_seconds=0) is None
    assert catalog.reserved_documents() == [(_meta(1).document_code, SHA_A)]


# --- fixity walks the store ------------------------------------------------------------


def test_fixity_reports_an_object_without_a_catalog_row_and_spares_one_in_flight(tmp_path, catalog):
    store = LocalArchive(tmp_path / "archive")
    recorded, stray, held = _meta(1), _meta(2), _meta(3)
    key = f"xa/phuoc-loc/2026/{DOSSIER}/{recorded.document_code}.pdf"
    data = b"%PDF-1.7 signed"
    from storage.hashing import sha256_bytes

    store.put_bytes(key, data, sha256_bytes(data))
    manifest = json.dumps({"output_sha256": sha256_bytes(data)}).encode()
    store.put_bytes(key.removesuffix(".pdf") + ".manifest.json", manifest, sha256_bytes(manifest))
    catalog.record_document(recorded, input_sha256=SHA_A, output_sha256=sha256_bytes(data), archive_key=key,
                            page_count=1, ocr_confidence=None, pades_level="B-B", signer="x",
                            signed_at=datetime.now(UTC))
    assert check_fixity(store, catalog).ok
    for meta in (stray, held):
        other = f"xa/phuoc-loc/2026/{DOSSIER}/{meta.document_code}.pdf"
        store.put_bytes(other, b"other", sha256_bytes(b"other"))
    catalog.reserve_document(held, "d" * 64)
    report = check_fixity(store, catalog)
    assert [(p.problem, p.document_code) for p in report.problems] == [(UNRECORDED, stray.document_code)]
    assert report.unrecorded == 1 and not report.ok


# --- identity ---------------------------------------------------------------------------


def test_identity_check_catches_a_file_naming_another_document(tmp_path):
    path = save_pdf([text_page("x")], tmp_path / "doc.pdf")
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        with pdf.open_metadata() as xmp:
            xmp["dc:identifier"] = f"{DOSSIER}-KQ1"
            xmp["pdf:Keywords"] = f"dossier_code={DOSSIER}; document_code={DOSSIER}-KQ1"
        pdf.save(path)
    assert check_document_identity(path, f"{DOSSIER}-KQ1").ok
    wrong = check_document_identity(path, f"{DOSSIER}-KQ2")
    assert not wrong.ok and f"says {DOSSIER}-KQ1" in wrong.detail


# --- the flow ---------------------------------------------------------------------------


def _inbox(root: Path, office: str = "phuoc-loc") -> Path:
    folder = root / "var" / "inbox" / "xa" / office
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _config(root: Path, extra: str = "") -> Path:
    config = root / "digitize.toml"
    config.write_text("[intake]\nsettle_seconds = 0\n" + extra, encoding="utf-8")
    return config


@pytest.mark.slow
@pytest.mark.tools
def test_a_renamed_redrop_gets_its_own_scan_and_signature(prefect_harness, tmp_path):
    """A clerk renames a failed input to a new number: the archive must say the new number, not the old."""
    from flows.dossier import process_inbox

    config = _config(tmp_path)
    office = _inbox(tmp_path)
    first = save_pdf([text_page("Giấy chứng nhận số 0223")], office / f"{DOSSIER}-KQ1.pdf")
    scan_bytes = first.read_bytes()
    # The archive key of KQ1 already holds other bytes: KQ1 fails at the archive, after its scan and signature.
    taken = tmp_path / "var" / "archive" / "xa" / "phuoc-loc" / str(datetime.now().year) / DOSSIER
    taken.mkdir(parents=True)
    (taken / f"{DOSSIER}-KQ1.pdf").write_bytes(b"someone else's bytes")

    results = process_inbox(level="xa", config=str(config))
    assert [r["status"] for r in results] == ["failed"]
    kept = [p for p in (tmp_path / "var" / "work").iterdir()]
    assert len(kept) == 1 and (kept[0] / "sign.json").is_file()  # kept for diagnosis
    assert stat.S_IMODE(kept[0].stat().st_mode) == FOLDER_MODE
    assert all(stat.S_IMODE(p.stat().st_mode) == FILE_MODE for p in kept[0].rglob("*") if p.is_file())

    (office / f"{DOSSIER}-KQ2.pdf").write_bytes(scan_bytes)  # renamed, as the error advised
    results = process_inbox(level="xa", config=str(config))
    assert [(r["document"], r["status"]) for r in results] == [(f"{DOSSIER}-KQ2", "archived")]
    archived = tmp_path / "var" / "archive" / results[0]["key"]
    assert check_document_identity(archived, f"{DOSSIER}-KQ2").ok
    with pikepdf.open(archived) as pdf:
        assert str(pdf.open_metadata()["dc:identifier"]) == f"{DOSSIER}-KQ2"
    # The done input's work folder is gone; the failed one's is still there.
    assert [p.name for p in (tmp_path / "var" / "work").iterdir()] == [kept[0].name]


@pytest.mark.slow
@pytest.mark.tools
def test_the_same_code_in_two_offices_is_refused_before_anything_is_archived(prefect_harness, tmp_path):
    from flows.dossier import process_inbox

    config = _config(tmp_path)
    save_pdf([text_page("Phước Lộc")], _inbox(tmp_path, "phuoc-loc") / f"{DOSSIER}-KQ1.pdf")
    save_pdf([text_page("Phước Sơn")], _inbox(tmp_path, "phuoc-son") / f"{DOSSIER}-KQ1.pdf")
    results = process_inbox(level="xa", config=str(config))
    assert sorted(r["status"] for r in results) == ["archived", "failed"]
    refused = next(r for r in results if r["status"] == "failed")
    error = json.loads((tmp_path / "var" / "failed" / "xa" / refused["office"] / f"{DOSSIER}-KQ1.pdf.error.json")
                       .read_text(encoding="utf-8"))
    assert error["exit_code"] == 4 and "thuộc xa/" in error["reason"]  # ui.language: Vietnamese by default
    settings = load_settings(str(config))
    objects = list(LocalArchive(settings.archive.root).iter_keys())
    assert all(f"/{refused['office']}/" not in key for key in objects)
    with open_catalog(settings.catalog) as c:
        assert check_fixity(LocalArchive(settings.archive.root), c).ok
    assert not list((tmp_path / "var" / "work").iterdir())  # the refused one never got a work folder


@pytest.mark.slow
def test_a_wrong_key_password_stops_the_run_before_any_input_is_taken(prefect_harness, tmp_path):
    from flows.dossier import process_inbox
    from tests.signing_helpers import make_ca, make_p12

    now = datetime.now(UTC)
    key = make_p12(tmp_path / "agency.p12", b"right", not_before=now - timedelta(days=1),
                   not_after=now + timedelta(days=30), ca=make_ca("CA thử"))
    config = _config(tmp_path, f'[signing]\npkcs12 = "{key.name}"\npkcs12_password = "wrong"\n')
    office = _inbox(tmp_path)
    dropped = save_pdf([text_page("x")], office / f"{DOSSIER}-KQ1.pdf")
    with pytest.raises(SigningError):
        process_inbox(level="xa", config=str(config))
    assert dropped.is_file()
    assert not (tmp_path / "var" / "failed").exists()
    assert not (tmp_path / "var" / "work").exists() or not list((tmp_path / "var" / "work").iterdir())


def test_verify_command_fails_identity_for_a_document_filed_under_another_code(tmp_path):
    """An archived copy of KQ1 put where KQ2 belongs: signature intact, identity caught."""
    import shutil
    import subprocess
    import sys

    from signing.identity import ensure_demo_identity
    from tests.signing_helpers import make_pdfa

    source = make_pdfa(tmp_path / "src.pdf")
    with pikepdf.open(source, allow_overwriting_input=True) as pdf:
        with pdf.open_metadata(set_pikepdf_as_editor=False) as xmp:
            xmp["dc:identifier"] = f"{DOSSIER}-KQ1"
        pdf.save(source)
    ensure_demo_identity(tmp_path / "var" / "keys", "UBND xã Phước Lộc (DEMO)")

    def digitize(*args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITIZE_")} | ENGLISH
        return subprocess.run([sys.executable, "-m", "digitize", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)

    signed = digitize("sign", "src.pdf", "-o", f"{DOSSIER}-KQ1.pdf")
    assert signed.returncode == 0, signed.stderr
    shutil.copy(tmp_path / f"{DOSSIER}-KQ1.pdf", tmp_path / f"{DOSSIER}-KQ2.pdf")
    right = digitize("verify", f"{DOSSIER}-KQ1.pdf")
    assert right.returncode == 0 and "[ok  ] identity" in right.stdout, right.stdout
    wrong = digitize("verify", f"{DOSSIER}-KQ2.pdf")
    assert wrong.returncode == 10, wrong.stdout
    assert "[FAIL] identity" in wrong.stdout and f"says {DOSSIER}-KQ1" in wrong.stdout


# --- sign and verify ----------------------------------------------------------------------


@pytest.mark.tools
def test_the_pdfa_is_validated_once_at_assembly_and_verify_checks_only_what_signing_added(tmp_path, monkeypatch):
    import pikepdf.pdfa
    from PIL import Image

    import pipeline
    from signing.session import open_signing_session
    from storage.hashing import sha256_file
    from tests.engine_fixtures import blank_page

    (tmp_path / "digitize.toml").write_text("", encoding="utf-8")
    settings = load_settings(tmp_path / "digitize.toml", environ={}, base_dir=tmp_path)
    meta = _meta(7)
    Image.fromarray(blank_page().pixels).save(tmp_path / "trang.jpg", dpi=(200, 200))  # no OCR: a quick scan
    work = WorkFolder(tmp_path / "work" / meta.document_code).create()
    scanned = pipeline.scan(tmp_path / "trang.jpg", meta, work, settings)
    assert scanned.pdfa_sha256 == sha256_file(scanned.pdf)
    assert pipeline.ScanSummary.from_json(work.checkpoint("scan")) == scanned

    validations = []
    validate = pikepdf.pdfa.validate_written
    monkeypatch.setattr(pikepdf.pdfa, "validate_written", lambda *a, **k: validations.append(1) or validate(*a, **k))
    with open_signing_session(settings.signing, font_cache_dir=tmp_path / "fonts") as session:
        signed = pipeline.sign(scanned, work, session)
        assert signed.validated_pdfa_sha256 == scanned.pdfa_sha256
        assert pipeline.sign(scanned, work, session) == signed  # from its checkpoint, digest and all
        report = pipeline.verify(signed, meta, session)
        assert "validated when it was written" in report.check("pdfa").detail
        assert validations == []
        # a scan checkpoint from before the digest was kept: the signed file's PDF/A is validated in full
        older = dataclasses.replace(signed, validated_pdfa_sha256=None)
        assert pipeline.verify(older, meta, session).check("pdfa").ok
        assert validations == [1]
