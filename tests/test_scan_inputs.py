"""`digitize ocr` on each bad input of the issue: its exit code, a clear message, nothing half-written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from digitize.errors import ExitCode
from tests.cli_fixtures import ENGLISH
from tests.engine_fixtures import tesseract_double, text_page

pytestmark = pytest.mark.tools


def digitize(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITIZE_")} | ENGLISH
    return subprocess.run([sys.executable, "-m", "digitize", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _nothing_written(folder: Path) -> bool:
    return not any(p.name.startswith("out.pdf") or ".signed-original" in p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def scanned_pdf(tmp_path_factory) -> Path:
    """An image-only PDF of one generated page (as a scanner writes it)."""
    folder = tmp_path_factory.mktemp("scan")
    path = folder / "scan.pdf"
    Image.fromarray(text_page(dpi=200).pixels).save(path, resolution=200)
    return path


@pytest.fixture(scope="module")
def ocred_pdf(scanned_pdf, tmp_path_factory) -> Path:
    """A searchable PDF (one that already has a text layer): the engine's own output."""
    folder = tmp_path_factory.mktemp("ocred")
    result = digitize("ocr", str(scanned_pdf), "-o", str(folder / "ocred.pdf"), cwd=folder)
    assert result.returncode == 0, result.stderr
    return folder / "ocred.pdf"


def _bomb_pdf(path: Path) -> Path:
    """A one-page PDF whose image claims 40000 x 40000 pixels (1.6 Gpx once rendered)."""
    pdf = pikepdf.new()
    image = pikepdf.Stream(pdf, b"\x00" * 16, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image,
                           Width=40000, Height=40000, ColorSpace=pikepdf.Name.DeviceGray, BitsPerComponent=1)
    pdf.add_blank_page(page_size=(9600, 9600))
    pdf.pages[0].Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    pdf.pages[0].Contents = pdf.make_stream(b"q 9600 0 0 9600 0 0 cm /Im0 Do Q")
    pdf.save(path)
    return path


def _bad_inputs(tmp_path: Path, scanned_pdf: Path) -> dict[str, tuple[Path, int, str]]:
    data = scanned_pdf.read_bytes()
    (tmp_path / "empty.pdf").write_bytes(b"")
    (tmp_path / "cut.pdf").write_bytes(data[: len(data) // 3])
    (tmp_path / "corrupt.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(2000))
    (tmp_path / "notes.png").write_text("this is not an image", encoding="utf-8")
    (tmp_path / "letter.docx").write_bytes(b"PK\x03\x04 not a scan")
    Image.new("1", (12000, 9000), 1).save(tmp_path / "bomb.png")
    with pikepdf.open(scanned_pdf) as pdf:
        pdf.save(tmp_path / "locked.pdf", encryption=pikepdf.Encryption(owner="o", user="u"))
    _bad_images(tmp_path)
    return {
        "empty": (tmp_path / "empty.pdf", ExitCode.bad_input, "empty"),
        "truncated": (tmp_path / "cut.pdf", ExitCode.bad_input, "corrupt or truncated"),
        "corrupt": (tmp_path / "corrupt.pdf", ExitCode.bad_input, "corrupt or truncated"),
        "not an image": (tmp_path / "notes.png", ExitCode.bad_input, "not an image"),
        "unsupported type": (tmp_path / "letter.docx", ExitCode.bad_input, "unsupported file type"),
        "image bomb": (tmp_path / "bomb.png", ExitCode.bad_input, "too large"),
        "pdf bomb": (_bomb_pdf(tmp_path / "bomb.pdf"), ExitCode.bad_input, "too large"),
        "encrypted": (tmp_path / "locked.pdf", ExitCode.encrypted_input, "encrypted"),
        "truncated jpeg": (tmp_path / "cut.jpg", ExitCode.bad_input, "cut.jpg is not a readable image"),
        "png with a bad crc": (tmp_path / "crc.png", ExitCode.bad_input, "crc.png"),
        "tiff of no page": (tmp_path / "none.tif", ExitCode.bad_input, "none.tif"),
        "oversized tiff page": (tmp_path / "huge.tif", ExitCode.bad_input, "huge.tif page 2 is too large"),
        "16-bit decoding flat": (tmp_path / "faint16.png", ExitCode.bad_input, "could not be read as it is"),
    }


def _bad_images(tmp_path: Path) -> None:
    """Image files that are cut short, corrupt, empty, oversized or that decode to nothing."""
    import numpy as np

    page = Image.fromarray(text_page(dpi=200).pixels)
    page.save(tmp_path / "whole.jpg", quality=90)
    data = (tmp_path / "whole.jpg").read_bytes()
    (tmp_path / "whole.jpg").unlink()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    page.convert("L").save(tmp_path / "crc.png")
    png = bytearray((tmp_path / "crc.png").read_bytes())
    png[png.index(b"IDAT") + 8] ^= 0xFF
    (tmp_path / "crc.png").write_bytes(bytes(png))
    (tmp_path / "none.tif").write_bytes(b"II*\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00")
    Image.new("1", (800, 600), 1).save(tmp_path / "huge.tif", save_all=True, compression="group4",
                                       append_images=[Image.new("1", (12000, 9000), 1)])
    faint = np.full((1654, 1166), 65535, np.uint16)
    faint[400:420, 200:900] = 65500  # varies, but by less than one 8-bit level
    Image.fromarray(faint).save(tmp_path / "faint16.png")


def test_each_bad_input_has_its_exit_code_and_message_and_leaves_nothing(tmp_path, scanned_pdf):
    for name, (path, code, words) in _bad_inputs(tmp_path, scanned_pdf).items():
        result = digitize("ocr", path.name, "-o", "out.pdf", cwd=tmp_path)
        assert result.returncode == code, f"{name}: {result.returncode} {result.stderr}"
        assert words in result.stderr, f"{name}: {result.stderr}"
        assert "Traceback" not in result.stderr, name
        assert _nothing_written(tmp_path), name


def test_pdf_with_a_text_layer_is_refused_by_default_and_redone_or_kept_on_request(tmp_path, ocred_pdf):
    refused = digitize("ocr", str(ocred_pdf), "-o", "out.pdf", cwd=tmp_path)
    assert refused.returncode == ExitCode.bad_input
    assert "already has an invisible text layer from an earlier OCR" in refused.stderr
    assert _nothing_written(tmp_path)

    redone = digitize("ocr", str(ocred_pdf), "-o", "out.pdf", "--redo-ocr", cwd=tmp_path)
    assert redone.returncode == 0, redone.stderr
    assert "Phước Lộc" in subprocess.run(["pdftotext", "out.pdf", "-"], cwd=tmp_path,
                                         capture_output=True, text=True).stdout

    kept = digitize("ocr", str(ocred_pdf), "-o", "kept.pdf", "--skip-text", cwd=tmp_path)
    assert kept.returncode == 0, kept.stderr
    assert "kept as it is" in kept.stdout


def _signed_pdf(tmp_path: Path) -> Path:
    from signing.identity import ensure_demo_identity, load_signer, read_password
    from signing.sign import sign_pdf
    from tests.signing_helpers import make_pdf

    demo = ensure_demo_identity(tmp_path / "keys", "UBND xã Phước Lộc (DEMO)")
    signer = load_signer(demo.pkcs12, read_password(None, demo.password_file))
    signed = tmp_path / "signed.pdf"
    sign_pdf(make_pdf(tmp_path / "plain.pdf"), signed, signer, agency_name="UBND xã Phước Lộc (DEMO)",
             font_cache_dir=tmp_path / "fonts")
    return signed


def test_signed_pdf_is_refused_or_digitized_with_the_original_kept_untouched(tmp_path):
    signed = _signed_pdf(tmp_path)
    refused = digitize("ocr", "signed.pdf", "-o", "out.pdf", cwd=tmp_path)
    assert refused.returncode == ExitCode.signed_input
    assert "digital signature" in refused.stderr
    assert _nothing_written(tmp_path)

    kept = digitize("ocr", "signed.pdf", "-o", "out.pdf", "--keep-signed-original", cwd=tmp_path)
    assert kept.returncode == 0, kept.stderr
    original = tmp_path / "out.signed-original.pdf"
    assert original.read_bytes() == signed.read_bytes()
    assert (tmp_path / "out.pdf").is_file()


@pytest.mark.parametrize(("language", "words"), [("vi", "không xử lý xong trong 3 giây"),
                                                  ("en", "did not finish within 3 s")])
def test_page_past_its_timeout_stops_the_document_with_exit_8_and_nothing_written(tmp_path, language, words):
    # The timeout is raised inside a page worker process, which never read the settings: it still
    # speaks the run's language.
    # A fault double: answers the probes and orientation detection, hangs on recognition.
    bin_dir = tesseract_double(tmp_path / "bin", passthrough="--version*|--list-langs*|*osd*", then="sleep 60")
    page = text_page(dpi=200)
    frames = [Image.fromarray(page.pixels)] * 2
    frames[0].save(tmp_path / "two.tif", save_all=True, append_images=frames[1:], dpi=(200, 200))
    (tmp_path / "digitize.toml").write_text("[ocr]\npage_timeout_seconds = 3\nworkers = 2\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITIZE_")} | ENGLISH
    env["PATH"] = f"{bin_dir}:/usr/bin:/bin"
    env["DIGITIZE_UI__LANGUAGE"] = language
    result = subprocess.run([sys.executable, "-m", "digitize", "ocr", "two.tif", "-o", "out.pdf"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == ExitCode.tool_failed, result.stderr
    assert f"two.tif {'trang' if language == 'vi' else 'page'} 1 {words}" in result.stderr, result.stderr
    assert _nothing_written(tmp_path)


def test_input_of_more_pages_than_intake_max_pages_is_refused_before_any_work(tmp_path):
    frames = [Image.fromarray(text_page(dpi=200).pixels)] * 3
    frames[0].save(tmp_path / "three.tif", save_all=True, append_images=frames[1:], dpi=(200, 200))
    (tmp_path / "digitize.toml").write_text("[intake]\nmax_pages = 2\n", encoding="utf-8")
    result = digitize("ocr", "three.tif", "-o", "out.pdf", cwd=tmp_path)
    assert result.returncode == ExitCode.bad_input, result.stderr
    assert "three.tif has 3 pages, more than the limit of 2 (intake.max_pages)" in result.stderr
    assert _nothing_written(tmp_path)
