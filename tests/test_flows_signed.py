"""A PDF that already carries a digital signature, through the pipeline: under
``ocr.signed_input = "keep-original"`` its exact bytes are archived beside the
digitized copy and named in the manifest; by default it is refused and set aside."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from digitize.errors import ExitCode
from digitize.models import DocumentMeta
from storage.archive import LocalArchive
from storage.catalog import Catalog
from storage.fixity import CORRUPT, ArchivedDocument, check_documents, check_fixity
from storage.keys import signed_original_keys
from tests import storage_fixtures
from tests.storage_fixtures import new_bucket, s3_settings, unique_bucket

LEVEL, OFFICE = "xa", "phuoc-loc"
CODE = "000.31.25.H08-261120-0701-KQ1"
DOSSIER = CODE.removesuffix("-KQ1")

s3_endpoint = storage_fixtures.s3_endpoint
s3_credentials = storage_fixtures.s3_credentials


@pytest.fixture(scope="module")
def signed_input(tmp_path_factory) -> Path:
    """A one-page PDF signed with the demo key (as a government office sends an electronic original)."""
    from signing.identity import ensure_demo_identity, load_signer, read_password
    from signing.sign import sign_pdf
    from tests.signing_helpers import make_pdf

    folder = tmp_path_factory.mktemp("signed")
    demo = ensure_demo_identity(folder / "keys", "UBND xã Phước Lộc (DEMO)")
    signer = load_signer(demo.pkcs12, read_password(None, demo.password_file))
    signed = folder / f"{CODE}.pdf"
    sign_pdf(make_pdf(folder / "plain.pdf"), signed, signer, agency_name="UBND xã Phước Lộc (DEMO)",
             font_cache_dir=folder / "fonts")
    return signed


def _setup(root: Path, signed_input: Path, extra: str = "") -> Path:
    config = root / "digitize.toml"
    config.write_text("[intake]\nsettle_seconds = 0\n" + extra, encoding="utf-8")
    office = root / "var" / "inbox" / LEVEL / OFFICE
    office.mkdir(parents=True)
    shutil.copy2(signed_input, office)
    return config


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _original_key(archived_key: str) -> str:
    return archived_key.removesuffix(".pdf") + ".signed-original.pdf"


@pytest.mark.slow
@pytest.mark.tools
def test_signed_input_under_keep_original_is_archived_untouched_beside_the_copy_and_rerun_is_a_no_op(
    prefect_harness, tmp_path, signed_input
):
    from flows.dossier import process_inbox

    # The crash below is staged after the fact: keep the work folder as a crash before the catalog would have.
    config = _setup(tmp_path, signed_input, '[ocr]\nsigned_input = "keep-original"\n[paths]\nkeep_work = true\n')

    [result] = process_inbox(level=LEVEL, config=str(config))

    assert result["status"] == "archived", result
    archive = tmp_path / "var" / "archive"
    original = archive / _original_key(result["key"])
    assert original.read_bytes() == signed_input.read_bytes()
    assert (archive / result["key"]).read_bytes() != signed_input.read_bytes()  # the digitized, re-signed copy
    manifest = json.loads((archive / result["key"].replace(".pdf", ".manifest.json")).read_text(encoding="utf-8"))
    assert manifest["signed_originals"] == [
        {"key": _original_key(result["key"]), "sha256": _sha256(signed_input.read_bytes())}
    ]
    assert manifest["input_sha256"] == _sha256(signed_input.read_bytes())
    assert (tmp_path / "var" / "done" / LEVEL / OFFICE / signed_input.name).is_file()

    # A crash after the archive, before the catalog row: the re-run re-puts the same bytes (no-op, no refusal).
    with sqlite3.connect(tmp_path / "var" / "catalog.sqlite") as db:
        db.execute("DELETE FROM documents")
    shutil.copy2(signed_input, tmp_path / "var" / "inbox" / LEVEL / OFFICE)
    archived_before = sorted(p.relative_to(archive) for p in archive.rglob("*") if p.is_file())

    [again] = process_inbox(level=LEVEL, config=str(config))

    assert (again["status"], again["key"]) == ("archived", result["key"])
    assert sorted(p.relative_to(archive) for p in archive.rglob("*") if p.is_file()) == archived_before
    assert original.read_bytes() == signed_input.read_bytes()

    # Fixity re-reads the original too: a changed byte in it is reported, under its own key.
    with Catalog.open(tmp_path / "var" / "catalog.sqlite") as catalog:
        assert check_fixity(LocalArchive(archive), catalog).ok
        original.chmod(0o644)
        original.write_bytes(original.read_bytes().replace(b"%%EOF", b"%%EOX"))
        report = check_fixity(LocalArchive(archive), catalog)
    assert [(p.key, p.problem) for p in report.problems] == [(_original_key(result["key"]), CORRUPT)]


@pytest.mark.slow
@pytest.mark.tools
def test_signed_input_is_refused_by_default_and_nothing_is_archived(prefect_harness, tmp_path, signed_input):
    from flows.dossier import process_inbox

    config = _setup(tmp_path, signed_input)

    [result] = process_inbox(level=LEVEL, config=str(config))

    assert result["status"] == "failed", result
    failed = tmp_path / "var" / "failed" / LEVEL / OFFICE
    assert (failed / signed_input.name).read_bytes() == signed_input.read_bytes()
    report = json.loads((failed / f"{signed_input.name}.error.json").read_text(encoding="utf-8"))
    assert report["exit_code"] == ExitCode.signed_input
    assert "đã có chữ ký số" in report["reason"]  # the run's language: Vietnamese by default
    archive = tmp_path / "var" / "archive"
    assert not archive.exists() or not [p for p in archive.rglob("*") if p.is_file()]


@pytest.mark.slow
@pytest.mark.tools
def test_signed_original_goes_to_the_s3_bucket_beside_the_copy(
    prefect_harness, tmp_path, signed_input, s3_endpoint, s3_credentials
):
    from flows.dossier import process_inbox
    from storage.s3 import S3Archive

    bucket = unique_bucket("signed")
    store = S3Archive(s3_settings(s3_endpoint.url, bucket))
    new_bucket(store)
    config = _setup(tmp_path, signed_input, (
        '[ocr]\nsigned_input = "keep-original"\n'
        f'[archive]\nbackend = "s3"\nbucket = "{bucket}"\nendpoint_url = "{s3_endpoint.url}"\n'
        'addressing_style = "path"\n'
    ))

    [result] = process_inbox(level=LEVEL, config=str(config))

    assert result["status"] == "archived", result
    key = _original_key(result["key"])
    assert store.get_bytes(key) == signed_input.read_bytes()
    assert store.verify(key, _sha256(signed_input.read_bytes()))
    manifest = json.loads(store.get_bytes(result["key"].replace(".pdf", ".manifest.json")))
    assert manifest["signed_originals"] == [{"key": key, "sha256": _sha256(signed_input.read_bytes())}]
    assert sorted(store.iter_keys(f"{LEVEL}/{OFFICE}/")) == sorted(
        [result["key"], key, result["key"].replace(".pdf", ".manifest.json")]
    )


def test_signed_original_keys_sit_beside_the_document_and_are_numbered_when_several():
    meta = DocumentMeta(DOSSIER, "KQ", 1, LEVEL, OFFICE)
    folder = f"{LEVEL}/{OFFICE}/2026/{DOSSIER}"
    assert signed_original_keys(meta, 2026, 0) == []
    assert signed_original_keys(meta, 2026, 1) == [f"{folder}/{CODE}.signed-original.pdf"]
    assert signed_original_keys(meta, 2026, 2) == [
        f"{folder}/{CODE}.signed-original-1.pdf", f"{folder}/{CODE}.signed-original-2.pdf"
    ]
    with pytest.raises(ValueError):
        signed_original_keys(meta, 2026, -1)


@pytest.mark.parametrize("entry", [{"sha256": "0" * 64}, "not an object", {"key": "../x.pdf", "sha256": "0" * 64},
                                   {"key": f"xa/{CODE}.signed-original.pdf", "sha256": "not hex"}])
def test_fixity_reports_a_malformed_signed_original_entry_against_the_manifest(tmp_path, entry):
    archive = LocalArchive(tmp_path / "archive")
    pdf, key = b"%PDF-1.7 signed copy", f"xa/phuoc-loc/2026/{DOSSIER}/{CODE}.pdf"
    archive.put_bytes(key, pdf, _sha256(pdf))
    manifest = json.dumps({"output_sha256": _sha256(pdf), "signed_originals": [entry]}).encode()
    manifest_key = key.replace(".pdf", ".manifest.json")
    archive.put_bytes(manifest_key, manifest, _sha256(manifest))
    report = check_documents(archive, [ArchivedDocument(CODE, key, _sha256(pdf))])
    assert [(p.key, p.problem) for p in report.problems] == [(manifest_key, CORRUPT)]
    assert "signed original" in report.problems[0].detail
