"""Blank pages: kept in the PDF and reported, never read by Tesseract; pages with any mark are read.

The detector must be sure: a duplex scan's empty back (paper grain, dust specks,
the scanner lid's dark border) is blank; a page with only a short line of text, a
page number, a seal or a signature is not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from PIL import Image, ImageDraw, ImageFont

from digitize import cleanup, engine, pdfa
from digitize.models import DocumentMeta
from digitize.settings import OcrSettings
from tests.cli_fixtures import ENGLISH
from tests.engine_fixtures import font_file, tesseract_double, text_page

DPI = 300
META = DocumentMeta("000.31.25.H08-261120-0001", "KQ", 1, "xa", "phuoc-loc")


def empty_back(dpi: int = DPI, seed: int = 3) -> np.ndarray:
    """An A4 sheet as a scanner gives an empty back: grainy paper and specks of dust (RGB)."""
    rng = np.random.default_rng(seed)
    height, width = round(11.69 * dpi), round(8.27 * dpi)
    pixels = np.clip(rng.normal(244, 5, (height, width, 3)), 0, 255).astype(np.uint8)
    for _ in range(120):
        y, x = rng.integers(0, height - 5), rng.integers(0, width - 5)
        size = int(rng.integers(1, 5))  # up to 0.4 mm
        pixels[y:y + size, x:x + size] = int(rng.integers(10, 120))
    return pixels


def drawn(draw) -> np.ndarray:
    """The empty back with something drawn on it (BGR, as the engine holds pages)."""
    image = Image.fromarray(empty_back())
    draw(ImageDraw.Draw(image))
    return np.asarray(image)[:, :, ::-1].copy()


def font(points: float = 11) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_file()), round(points * DPI / 72))


def test_empty_back_with_grain_and_specks_is_surely_blank():
    page = empty_back()[:, :, ::-1].copy()
    assert cleanup.is_blank(page, DPI)
    assert cleanup.blank_page(page, DPI) is not None


def test_empty_back_with_the_scanner_lids_dark_border_is_blank_and_cropped():
    page = empty_back()[:, :, ::-1].copy()
    page[:, :70] = 15
    page[-70:, :] = 15
    blank = cleanup.blank_page(page, DPI)
    assert blank is not None and blank.blank
    assert blank.display.shape[1] < page.shape[1] - 60 and blank.display[:, :5].min() > 150


@pytest.mark.parametrize("what, draw", [
    ("a short line of text", lambda d: d.text((300, 3000), "Trang 2", font=font(), fill=(30, 30, 30))),
    ("a page number", lambda d: d.text((1200, 3300), "2", font=font(), fill=(30, 30, 30))),
    ("a faint pencilled line", lambda d: d.text((300, 1000), "Bản sao", font=font(), fill=(195, 195, 195))),
    ("a red seal", lambda d: d.ellipse((900, 900, 1400, 1400), outline=(215, 30, 35), width=12)),
    ("a pale red seal", lambda d: d.ellipse((900, 900, 1400, 1400), outline=(235, 150, 150), width=8)),
    ("a signature in blue ink", lambda d: d.line([(800, 2000), (900, 1950), (1000, 2050), (1100, 1980),
                                                  (1200, 2020)], fill=(30, 50, 150), width=3)),
])
def test_a_page_with_one_mark_is_not_blank(what, draw):
    page = drawn(draw)
    assert not cleanup.is_blank(page, DPI), what
    assert cleanup.blank_page(page, DPI) is None, what
    assert not cleanup.clean_page(page, 0, DPI).blank, what


def _fault_tesseract(bin_dir: Path, log: Path) -> dict[str, str]:
    """A tesseract double on PATH: answers the version and language probes with the real one, and
    fails (logging the call) if anything is read."""
    tesseract_double(bin_dir, passthrough="--version*|--list-langs*", then=f'echo "$*" >> {log}\nexit 1')
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITIZE_")} | ENGLISH
    env["PATH"] = f"{bin_dir}:/usr/bin:/bin"
    return env


@pytest.mark.tools
def test_blank_page_is_kept_and_reported_without_running_tesseract(tmp_path):
    Image.fromarray(empty_back()).save(tmp_path / "back.png", dpi=(DPI, DPI))
    log = tmp_path / "tesseract-calls.log"
    env = _fault_tesseract(tmp_path / "bin", log)
    result = subprocess.run([sys.executable, "-m", "digitize", "ocr", "back.png", "-o", "out.pdf"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert not log.exists(), f"tesseract was run on a blank page: {log.read_text()}"
    assert "page 1: 300 dpi, confidence 0.0, 0 words blank" in result.stdout
    with pikepdf.open(tmp_path / "out.pdf") as pdf:
        assert len(pdf.pages) == 1
        page = pdf.pages[0]
        assert page.get_images() and "/Font" not in page.resources  # the image, no text layer
        assert not any(x.get("/Subtype") == "/Form" for x in page.resources.get("/XObject", {}).values())
    text = subprocess.run(["pdftotext", str(tmp_path / "out.pdf"), "-"], capture_output=True, text=True).stdout
    assert not text.strip()


@pytest.mark.tools
def test_page_with_only_a_short_line_is_read_not_taken_for_blank(tmp_path):
    page = text_page(dpi=DPI, lines=("Trang số 2 của hồ sơ",))
    result = engine.scan_to_pdfa(page.save(tmp_path / "short.png"), META, tmp_path / "work", OcrSettings(),
                                 default_dpi=DPI)
    (report,) = result.pages
    assert not report.blank and report.words >= 4
    assert "Trang" in result.text and "hồ sơ" in result.text


@pytest.mark.tools
def test_blank_back_of_a_two_page_scan_stays_as_its_page_and_is_not_read(tmp_path):
    front = Image.fromarray(text_page(dpi=DPI).pixels)
    back = Image.fromarray(empty_back(seed=11)).resize(front.size)
    front.save(tmp_path / "duplex.tif", save_all=True, append_images=[back], dpi=(DPI, DPI))
    result = engine.scan_to_pdfa(tmp_path / "duplex.tif", META, tmp_path / "work", OcrSettings(workers=1),
                                 default_dpi=DPI)
    assert [p.blank for p in result.pages] == [False, True]
    assert result.pages[1].words == 0 and result.review_pages(60) == []
    assert not list((tmp_path / "work").glob("page-002*.text.*"))  # no Tesseract output for the back
    assert "Phước Lộc" in result.text
    with pikepdf.open(result.pdf) as pdf:
        assert len(pdf.pages) == 2
    assert pdfa.check_pdfa(result.pdf).passed  # a page without a text layer is still PDF/A-2b
