"""One real sample dossier through the whole chain, as a Prefect flow, on the embedded defaults."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

from tests.conftest import SAMPLES

pytestmark = [pytest.mark.slow, pytest.mark.tools]

SAMPLE = "000.31.25.H08-261120-0001-KQ1"
SAMPLE_DIR = SAMPLES / "inbox" / "xa" / "phuoc-loc"


def _drop_sample(inbox: Path) -> Path:
    target = inbox / "xa" / "phuoc-loc"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(SAMPLE_DIR / f"{SAMPLE}.pdf", target)
    shutil.copy2(SAMPLE_DIR / f"{SAMPLE}.json", target)
    return target / f"{SAMPLE}.pdf"


def _truth_words() -> set[str]:
    words = set()
    for page in sorted((SAMPLES / "truth" / SAMPLE).glob("page-*.txt")):
        words |= {w for w in page.read_text(encoding="utf-8").split() if len(w) > 3 and w.isalpha()}
    return words


@pytest.fixture(scope="module")
def first_run(prefect_harness, tmp_path_factory):
    """The sample run once for the module: every path under a fresh folder, set by its digitize.toml."""
    from flows.dossier import process_inbox

    root = tmp_path_factory.mktemp("e2e")
    (root / "digitize.toml").write_text("[intake]\nsettle_seconds = 0\n", encoding="utf-8")
    dropped = _drop_sample(root / "var" / "inbox")
    results = process_inbox(level="xa", config=str(root / "digitize.toml"))
    return root, dropped, results


def test_sample_is_archived_signed_and_searchable(first_run):
    root, dropped, results = first_run
    assert [r["status"] for r in results] == ["archived"]
    result = results[0]
    assert result["pages"] == 2
    archived = root / "var" / "archive" / result["key"]
    assert archived.is_file()

    # The text layer holds the sample's Vietnamese words, diacritics and all (NFC).
    text = subprocess.run(["pdftotext", str(archived), "-"], capture_output=True, text=True, check=True).stdout
    text = unicodedata.normalize("NFC", text)
    found = set(text.split())
    truth = _truth_words()
    assert {"XÁC", "NHẬN", "HÔN", "NHÂN", "Phước", "Lộc"} <= found
    assert len(truth & found) / len(truth) > 0.9


def test_signature_validates_against_the_demo_ca(first_run):
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    root, _dropped, results = first_run
    archived = root / "var" / "archive" / results[0]["key"]
    ca = load_cert_from_pemder(str(root / "var" / "keys" / "demo-ca.pem"))
    with archived.open("rb") as f:
        reader = PdfFileReader(f)
        [signature] = reader.embedded_signatures
        status = validate_pdf_signature(signature, ValidationContext(trust_roots=[ca]))
    assert status.intact and status.valid and status.trusted
    assert status.bottom_line


def test_archive_catalog_and_manifest_agree_and_input_left_inbox_only_after(first_run):
    from storage.catalog import Catalog

    root, dropped, results = first_run
    key = results[0]["key"]
    archived = root / "var" / "archive" / key
    digest = hashlib.sha256(archived.read_bytes()).hexdigest()
    with Catalog.open(root / "var" / "catalog.sqlite") as catalog:
        row = catalog.find_document(SAMPLE)
    assert row is not None
    assert row.output_sha256 == digest
    assert row.archive_key == key
    assert row.input_sha256 == hashlib.sha256((SAMPLE_DIR / f"{SAMPLE}.pdf").read_bytes()).hexdigest()
    manifest = json.loads(archived.with_name(f"{SAMPLE}.manifest.json").read_text(encoding="utf-8"))
    assert manifest["output_sha256"] == digest
    assert manifest["title"] == "Giấy xác nhận tình trạng hôn nhân"

    assert not dropped.exists()
    done = root / "var" / "done" / "xa" / "phuoc-loc" / dropped.name
    assert done.is_file()
    # The move out of the inbox (a rename: it sets ctime) came after the archive write and the catalog row.
    assert done.stat().st_ctime >= archived.stat().st_mtime
    assert done.stat().st_ctime >= row.archived_at.timestamp() - 1


def test_same_content_dropped_again_is_not_archived_twice_and_bad_file_is_set_aside(first_run):
    from flows.dossier import process_inbox

    root, _dropped, first = first_run
    inbox = root / "var" / "inbox"
    again = _drop_sample(inbox)
    broken = again.with_name("000.31.25.H08-261120-0009-KQ1.pdf")
    broken.write_bytes(b"%PDF-1.4\n% truncated by the scanner\n")
    misnamed = again.with_name("scan 0001.pdf")
    shutil.copy2(again, misnamed)

    results = {r["document"]: r for r in process_inbox(level="xa", config=str(root / "digitize.toml"))}

    assert results[SAMPLE]["status"] == "duplicate"
    assert results[SAMPLE]["key"] == first[0]["key"]
    assert results[broken.name]["status"] == "failed"
    assert results[misnamed.name]["status"] == "failed"
    archived = list((root / "var" / "archive").rglob("*.pdf"))
    assert len(archived) == 1
    failed_dir = root / "var" / "failed" / "xa" / "phuoc-loc"
    report = json.loads((failed_dir / f"{broken.name}.error.json").read_text(encoding="utf-8"))
    assert report["exit_code"] == 4
    assert report["stage"] == "ocr"
    assert "không phải tệp PDF đọc được" in report["reason"]  # the run's language: Vietnamese by default
    assert (failed_dir / broken.name).read_bytes().startswith(b"%PDF-1.4")
    misnamed_report = json.loads((failed_dir / f"{misnamed.name}.error.json").read_text(encoding="utf-8"))
    assert misnamed_report["stage"] == "intake"
    assert "KQ<n>" in misnamed_report["reason"]
    assert not any(p.is_file() for p in (inbox / "xa" / "phuoc-loc").iterdir())
