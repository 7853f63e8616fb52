"""Has-text detection (issue 14): text actually drawn counts, font resources and empty text objects do not."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from digitize import pages
from digitize.errors import ExitCode
from tests.cli_fixtures import ENGLISH
from tests.engine_fixtures import text_page


def _scan_pdf(path: Path, text_ops: bytes = b"", *, in_form: bool = False) -> Path:
    """A one-page A5 PDF: a 200-dpi JPEG scan, a font resource, and ``text_ops`` drawn over it."""
    page = text_page(dpi=200)
    jpeg = io.BytesIO()
    Image.fromarray(page.pixels).save(jpeg, "JPEG", quality=85)
    height, width = page.pixels.shape[:2]
    w_pt, h_pt = width * 72 / 200, height * 72 / 200
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(w_pt, h_pt))
    image = pikepdf.Stream(pdf, jpeg.getvalue(), Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image,
                           Width=width, Height=height, ColorSpace=pikepdf.Name.DeviceRGB, BitsPerComponent=8,
                           Filter=pikepdf.Name.DCTDecode)
    font = pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica)
    fonts = pikepdf.Dictionary(F1=font)
    xobjects = pikepdf.Dictionary(Im0=image)
    content = b"q %g 0 0 %g 0 0 cm /Im0 Do Q\n" % (w_pt, h_pt)
    if in_form:
        form = pikepdf.Stream(pdf, text_ops, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form,
                              BBox=[0, 0, w_pt, h_pt], Resources=pikepdf.Dictionary(Font=fonts))
        xobjects.Fm0 = form
        content += b"q /Fm0 Do Q\n"
    else:
        content += text_ops
    pdf.pages[0].Resources = pikepdf.Dictionary(XObject=xobjects, Font=fonts)
    pdf.pages[0].Contents = pdf.make_stream(content)
    pdf.save(path)
    return path


def _kind(path: Path) -> str:
    with pikepdf.open(path) as pdf:
        return pages.drawn_text(pdf.pages[0])


EMPTY_TEXT_OBJECT = b"BT /F1 12 Tf 14.4 TL ET"
VISIBLE = b"BT /F1 12 Tf 72 500 Td (Born digital) Tj ET"
INVISIBLE = b"BT 3 Tr /F1 12 Tf 72 500 Td (Read by OCR) Tj ET"


@pytest.mark.parametrize(("ops", "in_form", "kind"), [
    (b"", False, pages.TEXT_NONE),
    (EMPTY_TEXT_OBJECT, False, pages.TEXT_NONE),
    (b"BT /F1 12 Tf 72 500 Td () Tj [()] TJ ET", False, pages.TEXT_NONE),
    (VISIBLE, False, pages.TEXT_VISIBLE),
    (b"BT /F1 12 Tf 72 500 Td [(Born) -250 (digital)] TJ ET", False, pages.TEXT_VISIBLE),
    (b"BT /F1 12 Tf 14 TL (line) ' ET", False, pages.TEXT_VISIBLE),
    (INVISIBLE, False, pages.TEXT_INVISIBLE),
    (b"BT 7 Tr /F1 12 Tf (clip) Tj ET", False, pages.TEXT_INVISIBLE),
    (INVISIBLE, True, pages.TEXT_INVISIBLE),
    (VISIBLE, True, pages.TEXT_VISIBLE),
    # the render mode is restored by Q: text after it is visible again
    (b"q BT 3 Tr /F1 12 Tf (ocr) Tj ET Q BT /F1 12 Tf (seen) Tj ET", False, pages.TEXT_VISIBLE),
    (b"BT 3 Tr /F1 12 Tf (ocr) Tj 0 Tr (seen) Tj ET", False, pages.TEXT_VISIBLE),
])
def test_drawn_text_counts_text_shown_and_its_render_mode(tmp_path, ops, in_form, kind):
    assert _kind(_scan_pdf(tmp_path / "p.pdf", ops, in_form=in_form)) == kind


def test_plan_takes_an_empty_text_object_page_as_a_scan_and_names_each_kind_it_refuses(tmp_path):
    empty = _scan_pdf(tmp_path / "empty.pdf", EMPTY_TEXT_OBJECT)
    plan = pages.plan_pages(empty, default_dpi=300)
    assert [(p.action, p.dpi) for p in plan.pages] == [("ocr", 200.0)]

    with pytest.raises(pages.BadInputError, match="earlier OCR") as ocr_layer:
        pages.plan_pages(_scan_pdf(tmp_path / "ocred.pdf", INVISIBLE), default_dpi=300)
    assert "born-digital" not in str(ocr_layer.value)
    with pytest.raises(pages.BadInputError, match="visible text .a born-digital page") as born:
        pages.plan_pages(_scan_pdf(tmp_path / "born.pdf", VISIBLE), default_dpi=300)
    assert "born.pdf page 1" in str(born.value)
    assert str(tmp_path) not in str(born.value)

    redo = pages.plan_pages(_scan_pdf(tmp_path / "born2.pdf", VISIBLE), default_dpi=300, existing_text="redo")
    assert [p.action for p in redo.pages] == ["ocr"]


def _digitize(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITIZE_")} | ENGLISH
    return subprocess.run([sys.executable, "-m", "digitize", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.tools
def test_digitize_ocr_reads_an_empty_text_object_pdf_and_still_refuses_a_born_digital_one(tmp_path):
    _scan_pdf(tmp_path / "portal.pdf", EMPTY_TEXT_OBJECT)
    done = _digitize("ocr", "portal.pdf", "-o", "out.pdf", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = subprocess.run(["pdftotext", "out.pdf", "-"], cwd=tmp_path, capture_output=True, text=True).stdout
    assert "Phước Lộc" in text

    _scan_pdf(tmp_path / "born.pdf", VISIBLE)
    refused = _digitize("ocr", "born.pdf", "-o", "born-out.pdf", cwd=tmp_path)
    assert refused.returncode == ExitCode.bad_input, refused.stderr
    assert "born.pdf page 1 already has visible text" in refused.stderr
    assert not (tmp_path / "born-out.pdf").exists()


def test_the_scanned_jpeg_under_an_empty_text_object_is_taken_out_as_it_is(tmp_path):
    source = _scan_pdf(tmp_path / "portal.pdf", EMPTY_TEXT_OBJECT)
    page = pages.plan_pages(source, default_dpi=300).pages[0]
    taken = pages._extract_scan(page, tmp_path / "page-001.src.jpg")
    with pikepdf.open(source) as pdf:
        embedded = pdf.pages[0].Resources.XObject.Im0.read_raw_bytes()
    assert taken is not None and taken.read_bytes() == embedded  # the scanner's JPEG, not a second compression

    born = pages.plan_pages(_scan_pdf(tmp_path / "born.pdf", VISIBLE), default_dpi=300, existing_text="redo").pages[0]
    assert pages._extract_scan(born, tmp_path / "born.src.jpg") is None  # rendering draws its text: not the JPEG
