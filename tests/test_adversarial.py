"""Adversarial acceptance of issue 11: what fell short when ~150 fresh bad and odd inputs, faults and
settings were tried through the real CLI, and the tests that pin the fixes.

Each test makes its inputs itself. The cases tried (expected / got; "F" = failed/ with a reason
a clerk can act on, "I" = left in the inbox, "D" = archived, input in done/):

Group A, one ``digitize run`` over one inbox of odd items (settle 0):
  A01 control PDF D/D · A02 NFD Vietnamese name F/F · A03 NFD folder name F/F · A04 ``CODE .pdf`` F/F
  A05 ``CODE (1).pdf`` F/F · A06 upper-case ``.PDF`` D/D · A07 PNG bytes named .pdf F/F (not a readable PDF)
  A08 zero-page PDF F/F · A09 0x0 MediaBox F/F · A10 1x1 px PNG F/**exit 1 OpenCV assertion** (fixed)
  A11 60000x40 strip F/**exit 1 OpenCV assertion** (fixed) · A12 empty folder F/F · A13 folder with only
  a .json F/F · A14 link deep in a nested folder F/F · A15 nested pages a/9, b/1 D/D · A16 hard link to a
  file outside D/D (a regular file) · A17 same scan under 3 codes: 1 D, 2 F naming it / same · A18 one
  dossier in two offices D+F naming the office / same · A19 QR cover with dossier ``...-XXXX`` D/D
  (a valid code by the project's code rule) · A20 QR number=1e999 F/F · A21 QR batch, two identical
  parts F naming the first / same · A22 QR batch, JSON payload D/D · A23-A35 sidecars (number, list,
  null, unknown key, BOM + NFD title, array, bad UTF-8, object, control char, 200 KB of brackets,
  true, UTF-16, empty) F or D as documented / same · A36 16-bit grey D/D · A37 CMYK JPEG D/D
  A38 alpha stored black D/D (readable) · A39 truncated JPEG F/F · A40 0-byte F/F · A41 .txt F/F
  A42 orphan sidecar I/I · A43 hidden file I/I · A44 KQ0 F/F · A45 HS10000 F/F · A46 144 Mpx TIFF F/F
  A47 encrypted PDF F/F · A48 link to a folder F/F · A49 named pipe F/F · A50 newline in name F/F
  A51 244-byte Vietnamese name F/**whole run crashed, exit 1, item stuck in .claimed** (fixed)
  A52 palette PNG D/D · A53 BMP F/F · A54 lower-case kq1 F/F · A55 code name without extension F/F
  A56 folder of a JPG and a PDF D/D · A57 PDF with text only F/F · A58 office sub-folder ``misc`` F/F
  A59 white page D (blank)/D · A60 uniform 16-bit page D (blank)/D

Group B, settings, secrets (``digitize run`` with one input; the input must stay in the inbox):
  B01-B06 dpi 0, nan, inf, jpeg 1000, workers 2.7 / -1: exit 3 naming the key / same
  B07-B10 password as list, table, int (demo key: unused), unterminated string: exit 3, not shown / same
  B11 misspelt DIGITIZE_ key with a secret value: exit 3 / same · B12 catalog.url (with password) to a
  PostgreSQL that is down: exit 12, I / **every input quarantined, exit 13** (fixed) · B13 mysql://
  URL: exit 3 / same · B14 wrong PKCS#12 password: exit 9, I, source named / same · B15 password file
  missing: exit 9 / same · B16 key path is a folder: exit 9 / same · B17-B20 settle -5, bool 1, max_file_mb 0,
  max_pages abc: exit 3 / same · B21 ``levels = []``: exit 3 / exit 0, nothing taken (not fixed)
  B22-B28 S3 down with AWS secret, TSA URL with password, unknown copy form, TOML with BOM, catalog
  path a folder, wrong password in a file, doctor: secret never shown / same (B26 see C05)

  B29 TOML in UTF-16: exit 3 / **exit 1 UnicodeDecodeError** (fixed) · B30 password file a folder: 9 / 9
  B31 untrusted self-signed key: 9 / 9 · B32 DIGITIZE_CONFIG missing: 3 / 3 · B25 TOML with a BOM: read /
  **"Invalid statement", exit 3** (fixed)

Group C/D/H/J, faults (one input unless said; "I" = stays in the inbox):
  TSA down: I, exit 13 / same, but the message said "failed; see var/failed" (fixed: "stay in the
  scanner folder") · archive on a read-only mount: I / I · work disk full (3 MB tmpfs): I, "no space
  ... var/work/..." / same · archive disk full: I / I · catalog.sqlite a folder: exit 12, I / same ·
  catalog disk full (new or existing catalog): exit 14, I / **exit 12** (fixed) · inbox disk full at the
  claim: I / **left in .claimed/ without owner** (fixed) · summary file on a full disk: outcome kept /
  **exit 1 traceback** (fixed) · SIGTERM at 5 s (own Prefect server starting) and at 7/25 s: 143, no
  process or work folder left, I or done / same · SIGKILL at 5-6 s: nothing left running, I; the next run
  archives each exactly once / same · two runs without PREFECT_API_URL: server started and gone / same ·
  two runs at once on 5 items: each archived once / same · a file still growing (settle 5 s): left,
  taken once settled / same · a failed input renamed to a new code: archived with its own identifier,
  verify VALID / same · same scan under a new code: F naming the first / same
  ``archive get`` onto a link into the archive, into the archive, onto an existing file: exit 2, nothing
  written / same · fixity with a stray object, a tampered one, a deleted one: 11 / 11 · verify tampered:
  10 / 10 · ``ocr -o`` = its input: exit 2, input kept / **input replaced by the output** (fixed) · ``ocr
  -o /proc/x.pdf``: exit 2 / **exit 1 traceback** (fixed) · ``ocr`` --metadata number "1", unknown field,
  BOM: 4, 4, read / same · SIGTERM of ``ocr``: 143, temp folder gone / same · ``run --inbox`` missing:
  exit 2 / **exit 0, nothing** (fixed) · ``--work-list`` of junk: exit 4 / **exit 0, nothing** (fixed)

Group E/G, more odd items in one run: QR batch with a truncated page in part 2 (13, part 1 archived,
batch in failed/), sidecar a link to /etc/passwd (F, never read), NFD page names, .JPG/.TIFF/.Tif/.PNG,
HS1 and KQ1 of one dossier, one code as .pdf and .jpg, or as file and folder (one archived, one F),
1,000-character NFD title, 1,001 characters (F), unknown level folder (left), office ``Phước-Lộc``
(F), an office folder that is a link (archived once), a file in the level folder (left), EXIF-rotated
JPEG, signed PDF (F 7), future mtime (left), 3-page LZW TIFF, GIF (F), WebP named .png: all as
expected; PNG stating 100,000 dpi: archived, dpi estimated / **exit 15 PDF/A MediaBox error** (fixed);
scan in a 5 m page box: F / **archived with no text read** (fixed); 249-byte folder name, 230-character
code: F / F.

Every archived file was checked with ``digitize verify`` (VALID, identity = its code) and pdftotext.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from cli.commands.run import batch_outcome, write_summary
from digitize import intake, pages
from digitize.errors import BadInputError, CatalogUnavailableError, ConfigError, ExitCode, StorageFullError
from digitize.settings import CatalogSettings, load_settings
from storage.catalog import open_catalog
from tests.cli_fixtures import ENGLISH
from tests.intake_fixtures import save_pdf, text_page
from tests.test_storage_full import tiny_fs  # noqa: F401 - a fixture

OFFICE = ("xa", "phuoc-loc")
LONG_NAME = "hồ sơ " + "ồ" * 78 + ".pdf"  # 244 bytes: the file system takes it, a name beside it must be cut


def fill(folder: Path) -> None:
    """Fill the file system holding ``folder`` to the last byte (unbuffered: nothing left to flush)."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as e:
        assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)


def _office(root: Path) -> Path:
    folder = root / "var" / "inbox" / OFFICE[0] / OFFICE[1]
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# --- a name near the file system's limit ---------------------------------------------------------------------


def test_a_name_near_the_limit_is_claimed_put_back_and_quarantined_with_its_report(tmp_path):
    assert 240 <= len(LONG_NAME.encode()) <= 255
    folder = _office(tmp_path)
    save_pdf([text_page()], folder / LONG_NAME)
    ready, _ = intake.find_items(tmp_path / "var" / "inbox", [OFFICE[0]], settle_seconds=0)
    item = intake.claim(ready[0], intake.Owner("here", 999_999_999, 0.0))  # an owner that is not alive
    assert item is not None and item.name == LONG_NAME

    back = intake.release_stale_claims(tmp_path / "var" / "inbox", [OFFICE[0]], host="here",
                                       is_alive=lambda pid: False, timeout_seconds=3600, now=1.0)
    assert [b.name for b in back] == [LONG_NAME]
    assert not list((folder / intake.CLAIMED_DIR).iterdir())  # its owner file found and removed

    item = intake.claim(back[0], intake.Owner("here", os.getpid(), 0.0))
    with pytest.raises(BadInputError) as refused:
        intake.read_meta(item)
    report = intake.quarantine(item, tmp_path / "var" / "failed", refused.value, "intake")
    failed = tmp_path / "var" / "failed" / OFFICE[0] / OFFICE[1]
    assert (failed / LONG_NAME).is_file() and report.parent == failed
    assert len(report.name.encode()) <= 255 and report.name.endswith(intake.ERROR_SUFFIX)
    assert json.loads(report.read_text(encoding="utf-8"))["file"] == LONG_NAME
    assert not list((folder / intake.CLAIMED_DIR).iterdir())


# --- pages that are not page-shaped ---------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "said"), [((1, 1), "too small"), ((60_000, 40), "a strip"),
                                            ((20_000, 400), "a strip"), ((20, 300), "too small")])
def test_an_image_that_is_no_page_is_refused_before_any_cleanup(tmp_path, size, said):
    file = tmp_path / "000.31.25.H08-261120-0001-KQ1.png"
    Image.new("L", size, 255).save(file, dpi=(300, 300))
    with pytest.raises(BadInputError, match=said) as refused:
        pages.plan_pages(file, default_dpi=300)
    assert refused.value.exit_code == ExitCode.bad_input and file.name in str(refused.value)


def test_a_pdf_page_a_few_points_wide_is_refused_as_too_small(tmp_path):
    file = tmp_path / "000.31.25.H08-261120-0001-KQ1.pdf"
    Image.new("RGB", (20, 2000), "white").save(file, "PDF", resolution=300)
    with pytest.raises(BadInputError, match="too small"):
        pages.plan_pages(file, default_dpi=300)


def test_a_normal_page_still_passes(tmp_path):
    file = save_pdf([text_page()], tmp_path / "000.31.25.H08-261120-0001-KQ1.pdf")
    assert len(pages.plan_pages(file, default_dpi=300).pages) == 1


# --- the catalog, checked before anything is taken -------------------------------------------------------------


def test_a_catalog_server_that_is_down_is_transient_and_its_password_not_shown():
    with pytest.raises(CatalogUnavailableError) as down:
        open_catalog(CatalogSettings(url="postgresql://clerk:S3cr3tPW@127.0.0.1:1/catalog"))
    assert down.value.transient and down.value.exit_code == ExitCode.catalog
    assert "S3cr3tPW" not in str(down.value) and "127.0.0.1" in str(down.value)


def _cli(args: list[str], cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGITIZE_", "PREFECT_API_URL"))} | ENGLISH
    env.update(DIGITIZE_INTAKE__SETTLE_SECONDS="0", PREFECT_HOME=str(cwd / "prefect-home"), **extra)
    return subprocess.run([sys.executable, "-m", "digitize", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("catalog", ["folder", "server down"])
def test_run_with_an_unusable_catalog_stops_at_once_and_takes_nothing(tmp_path, catalog):
    folder = _office(tmp_path)
    scan = save_pdf([text_page()], folder / "000.31.25.H08-261120-0001-KQ1.pdf")
    if catalog == "folder":
        (tmp_path / "var" / "catalog.sqlite").mkdir(parents=True)
        result = _cli(["run"], tmp_path)
    else:
        result = _cli(["run"], tmp_path, DIGITIZE_CATALOG__URL="postgresql://u:S3cr3tPW@127.0.0.1:1/db")

    assert result.returncode == ExitCode.catalog, result.stderr[-2000:]
    assert "catalog" in result.stderr and "S3cr3tPW" not in result.stdout + result.stderr
    assert scan.is_file() and not (folder / intake.CLAIMED_DIR).exists()
    assert not (tmp_path / "var" / "failed").exists() and not (tmp_path / "var" / "work").exists()
    assert not (tmp_path / "prefect-home").exists()  # stopped before any Prefect server was started


# --- through the real CLI: the three crashes of the acceptance run --------------------------------------------


@pytest.mark.slow
@pytest.mark.tools
def test_run_over_a_tiny_image_a_strip_and_a_long_name_quarantines_them_and_archives_the_rest(tmp_path):
    folder = _office(tmp_path)
    good = "000.31.25.H08-261120-0001-KQ1"
    save_pdf([text_page("Hộ kinh doanh")], folder / f"{good}.pdf")
    Image.new("RGB", (1, 1), "black").save(folder / "000.31.25.H08-261120-0002-KQ1.png")
    Image.new("L", (60_000, 40), 255).save(folder / "000.31.25.H08-261120-0003-KQ1.png")
    save_pdf([text_page()], folder / LONG_NAME)

    result = _cli(["run"], tmp_path)

    assert result.returncode == ExitCode.partial, result.stdout[-3000:] + result.stderr[-3000:]
    var = tmp_path / "var"
    failed = var / "failed" / OFFICE[0] / OFFICE[1]
    assert sorted(p.name for p in (var / "done" / OFFICE[0] / OFFICE[1]).iterdir()) == [f"{good}.pdf"]
    reasons = {json.loads(p.read_text(encoding="utf-8"))["file"]: json.loads(p.read_text(encoding="utf-8"))
               for p in failed.glob("*" + intake.ERROR_SUFFIX)}
    assert set(reasons) == {"000.31.25.H08-261120-0002-KQ1.png", "000.31.25.H08-261120-0003-KQ1.png", LONG_NAME}
    for name, report in reasons.items():
        assert (failed / name).is_file() and report["exit_code"] == ExitCode.bad_input, report
        assert "var/work" not in report["reason"] and "unexpected" not in report["reason"], report
    assert "is too small to be a page scan" in reasons["000.31.25.H08-261120-0002-KQ1.png"]["reason"]
    assert [p for p in folder.rglob("*")] == [folder / intake.CLAIMED_DIR]  # nothing left, nothing lost
    with sqlite3.connect(var / "catalog.sqlite") as db:
        rows = db.execute("SELECT document_code, status FROM documents").fetchall()
    assert rows == [(good, "verified")]
    archived = sorted(p.name for p in (var / "archive").rglob("*.pdf"))
    assert archived == [f"{good}.pdf"]


# --- settings: a TOML file with a byte order mark, no levels ---------------------------------------------------


def test_a_toml_file_saved_with_a_byte_order_mark_is_read(tmp_path):
    config = tmp_path / "digitize.toml"
    config.write_bytes("\ufeff[signing]\ncopy_form = \"SAO LỤC\"\n".encode("utf-8"))
    assert load_settings(config, environ={}).signing.copy_form == "SAO LỤC"


def test_a_toml_file_not_in_utf8_is_a_config_error_not_a_crash(tmp_path):
    config = tmp_path / "digitize.toml"
    config.write_bytes("[signing]\ncopy_form = \"SAO LỤC\"\n".encode("utf-16"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(config, environ={})


def test_no_levels_at_all_is_a_config_error_not_a_run_that_takes_nothing(tmp_path):
    config = tmp_path / "digitize.toml"
    config.write_text("[intake]\nlevels = []\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="intake.levels"):
        load_settings(config, environ={})


def test_a_run_with_items_left_for_later_does_not_send_the_clerk_to_failed(tmp_path):
    said = batch_outcome(3, 0, 2, tmp_path / "failed")
    assert "failed" not in said and "2 of 3" in said and "scanner folder" in said
    said = batch_outcome(3, 1, 1, tmp_path / "failed")
    assert f"1 of 3 item(s) failed; see {tmp_path / 'failed'}" in said and "next run" in said


def test_an_image_stating_an_impossible_resolution_gets_its_dpi_from_the_paper_size(tmp_path):
    file = tmp_path / "000.31.25.H08-261120-0001-KQ1.png"
    text_page().save(file, dpi=(100_000, 100_000))  # A5 at 200 dpi, saying 100,000 dpi (a 0.3 mm page)
    page = pages.plan_pages(file, default_dpi=300).pages[0]
    assert (page.dpi, page.dpi_from) == (200.0, "estimated")


def test_a_pdf_page_smaller_than_a_few_millimetres_is_refused_before_it_fails_pdfa(tmp_path):
    file = tmp_path / "000.31.25.H08-261120-0001-KQ1.pdf"
    text_page().save(file, "PDF", resolution=20_000)  # a 1.5 x 2.1 mm page box
    with pytest.raises(BadInputError, match=r"too small to be a page \(1\.5 x 2\.1 mm"):
        pages.plan_pages(file, default_dpi=300)


# --- digitize ocr: the output never replaces an input -------------------------------------------------------


@pytest.mark.parametrize("output", ["same", "inside", "unwritable"])
def test_ocr_refuses_an_output_that_would_replace_its_input_or_cannot_be_written(tmp_path, output):
    scan = save_pdf([text_page()], tmp_path / "hồ sơ.pdf")
    folder = tmp_path / "trang"
    folder.mkdir()
    text_page().save(folder / "1.png", dpi=(200, 200))
    before = scan.read_bytes()
    target, source = {"same": (scan, scan), "inside": (folder / "out.pdf", folder),
                      "unwritable": (Path("/proc/hồ-sơ.pdf"), scan)}[output]

    result = _cli(["ocr", str(source), "-o", str(target)], tmp_path)

    assert result.returncode == ExitCode.usage, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "-o" in result.stderr
    assert scan.read_bytes() == before and not (folder / "out.pdf").exists()
    assert sorted(p.name for p in folder.iterdir()) == ["1.png"]


def test_a_pdf_scan_stretched_over_a_huge_page_box_is_refused_not_archived_unreadable(tmp_path):
    file = tmp_path / "000.31.25.H08-261120-0001-KQ1.pdf"
    save_pdf([text_page()], file)
    with pikepdf.open(file, allow_overwriting_input=True) as pdf:
        pdf.pages[0].MediaBox = pikepdf.Array([0, 0, 14400, 14400])  # a 5 m page: the scan at 6 dpi
        pdf.save(file)
    with pytest.raises(BadInputError, match=r"only 6 dpi for a page of 5080 x 5080 mm"):
        pages.plan_pages(file, default_dpi=300)


# --- digitize run: a mistyped --inbox or --work-list is said, not a run that quietly takes nothing ---------------


def test_run_with_an_inbox_that_does_not_exist_is_a_usage_error(tmp_path):
    result = _cli(["run", "--inbox", str(tmp_path / "hộp thư")], tmp_path)
    assert result.returncode == ExitCode.usage and "is not a folder" in result.stderr
    assert not (tmp_path / "prefect-home").exists()


def test_a_work_list_that_holds_no_document_codes_is_refused_naming_the_entry(tmp_path):
    junk = tmp_path / "danh sách.txt"
    junk.write_text("000.31.25.H08-261120-0001-KQ1\nhồ sơ số 2\n", encoding="utf-8")
    result = _cli(["run", "--work-list", str(junk)], tmp_path)
    assert result.returncode == ExitCode.bad_input, result.stderr[-2000:]
    assert "entry 2 is not a document code" in result.stderr
    assert not (tmp_path / "prefect-home").exists()


# --- a full disk under the catalog ------------------------------------------------------------------------------


@pytest.mark.parametrize("catalog", ["new", "existing"])
def test_run_with_its_catalog_on_a_full_disk_stops_at_once_as_full_storage_and_takes_nothing(tmp_path, tiny_fs,
                                                                                          catalog):
    folder = _office(tmp_path)
    scan = save_pdf([text_page()], folder / "000.31.25.H08-261120-0001-KQ1.pdf")
    if catalog == "existing":  # made before the disk filled up: SQLite (WAL) then says "disk I/O error"
        open_catalog(CatalogSettings(path=tiny_fs / "catalog.sqlite")).close()
    fill(tiny_fs)

    result = _cli(["run"], tmp_path, DIGITIZE_CATALOG__PATH=str(tiny_fs / "catalog.sqlite"))

    assert result.returncode == ExitCode.storage_full, result.stderr[-2000:]
    assert "no space left for the catalog" in result.stderr and str(tiny_fs) in result.stderr
    assert scan.is_file() and not (folder / intake.CLAIMED_DIR).exists()
    assert not (tmp_path / "var" / "failed").exists()


def test_a_claim_on_a_full_disk_is_undone_so_the_item_stays_in_the_scanner_folder(tmp_path, tiny_fs):
    folder = tiny_fs / "inbox" / OFFICE[0] / OFFICE[1]
    (folder / intake.CLAIMED_DIR).mkdir(parents=True)
    scan = save_pdf([text_page()], folder / "000.31.25.H08-261120-0001-KQ1.pdf")
    (folder / "000.31.25.H08-261120-0001-KQ1.json").write_text('{"title": "Giấy chứng nhận"}', encoding="utf-8")
    ready, _ = intake.find_items(tiny_fs / "inbox", [OFFICE[0]], settle_seconds=0)
    fill(tiny_fs)

    with pytest.raises(StorageFullError):
        intake.claim(ready[0], intake.Owner("here", os.getpid(), 0.0))

    assert scan.is_file() and (folder / "000.31.25.H08-261120-0001-KQ1.json").is_file()
    assert list((folder / intake.CLAIMED_DIR).iterdir()) == []


def test_a_run_summary_that_cannot_be_written_is_said_and_the_run_still_ends_with_its_own_outcome(tmp_path, tiny_fs):
    settings = load_settings(environ={"DIGITIZE_PATHS__VAR_DIR": str(tiny_fs / "var")}, base_dir=tmp_path)
    fill(tiny_fs)
    said = write_summary([{"document": "000.31.25.H08-261120-0001-KQ1.pdf", "status": "archived"}], settings)
    assert isinstance(said, str) and said.startswith("not written") and "run-" in said
    assert not list((tiny_fs / "var" / "reports").glob("*.part"))


def test_a_scan_dropped_without_an_extension_is_told_so_not_called_an_odd_file_type(tmp_path):
    folder = _office(tmp_path)
    save_pdf([text_page()], folder / "000.31.25.H08-261120-0001-KQ1")
    ready, _ = intake.find_items(tmp_path / "var" / "inbox", [OFFICE[0]], settle_seconds=0)
    with pytest.raises(BadInputError) as refused:
        intake.read_meta(ready[0])
    assert "does not end with a file type" in str(refused.value) and "H08-261120" not in str(refused.value)[40:]
