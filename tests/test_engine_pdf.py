"""The whole engine with the real Tesseract and poppler: orientation, text layer, PDF/A, XMP."""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pikepdf
import pytesseract
import pytest
from PIL import Image

from digitize import cleanup, engine, pages, pdfa, tools
from digitize.models import DocumentMeta
from digitize.settings import OcrSettings
from tests.engine_fixtures import LINES, text_page

pytestmark = pytest.mark.tools

META = DocumentMeta("000.31.25.H08-261120-0001", "KQ", 1, "xa", "phuoc-loc", procedure_code="1.001193")


@pytest.fixture(scope="module")
def upright(tmp_path_factory):
    """One straight page scanned through the engine: (page, result)."""
    work = tmp_path_factory.mktemp("upright")
    page = text_page(dpi=200)
    result = engine.scan_to_pdfa(page.save(work / "page.png"), META, work / "work", OcrSettings(), default_dpi=300)
    return page, result


def _words_with_boxes(pdf: Path) -> list[tuple[str, float, float, float, float]]:
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    import re

    found = re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', html)
    return [(unicodedata.normalize("NFC", w), float(a), float(b), float(c), float(d)) for a, b, c, d, w in found]


def test_text_layer_lines_up_with_the_words_in_the_image(upright):
    page, result = upright
    _assert_words_line_up(page, result.pdf)


def _assert_words_line_up(page, pdf: Path) -> None:
    """The words of the text layer of ``pdf`` lie over the words of the generated ``page`` (upright)."""
    scale = 72 / page.dpi
    counts = Counter(word.text for word in page.words)
    truth = {word.text: word.box for word in page.words if counts[word.text] == 1}  # words that occur once
    matched = 0
    for text, x0, y0, x1, y1 in _words_with_boxes(pdf):
        if text not in truth:
            continue
        tx0, ty0, tx1, ty1 = (v * scale for v in truth[text])
        # Tesseract's invisible font stretches each word to its width, from its left edge:
        # compare left edges and vertical centres.
        assert abs(x0 - tx0) < 4, text
        assert abs((y0 + y1) / 2 - (ty0 + ty1) / 2) < 4, text
        assert x1 > tx0 and tx1 > x0, text  # and the boxes overlap
        matched += 1
    assert matched >= len(truth) * 0.7


def test_diacritics_survive_copy_out_as_nfc(upright):
    _page, result = upright
    text = subprocess.run(["pdftotext", str(result.pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert unicodedata.is_normalized("NFC", result.text)
    for phrase in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "Phước Lộc"):
        assert phrase in unicodedata.normalize("NFC", text)
        assert phrase in result.text


def test_output_is_pdfa_2b_with_the_dossier_metadata(upright):
    _page, result = upright
    assert pdfa.check_pdfa(result.pdf).passed
    found = pdfa.read_dossier_metadata(result.pdf)
    assert found["pdfaid:part"] == "2"
    assert found["dc:identifier"] == "000.31.25.H08-261120-0001-KQ1"
    assert found["dossier_code"] == "000.31.25.H08-261120-0001"
    assert found["procedure_code"] == "1.001193"
    assert (found["level"], found["office"], found["kind"], found["pages"]) == ("xa", "phuoc-loc", "KQ", "1")
    with pikepdf.open(result.pdf) as pdf:
        assert "/OutputIntents" in pdf.Root and "/ID" in pdf.trailer
        assert not pdf.is_encrypted and pdf.pdf_version >= "1.4"
        xmp = pdf.open_metadata()
        assert "dossier:000.31.25.H08-261120-0001" in xmp["dc:relation"]
        assert str(xmp["xmpMM:DocumentID"]).startswith("uuid:")


def test_the_text_layers_of_a_document_share_one_font(upright, tmp_path):
    page, result = upright
    work = result.pdf.parent
    (display,), (text,) = list(work.glob("page-001*.display.jpg")), list(work.glob("page-001-r*.text.pdf"))
    layers = []
    for n in range(3):  # three pages, each with Tesseract's own copy of its GlyphLessFont
        shutil.copyfile(text, tmp_path / f"page-{n}.text.pdf")
        layers.append(pdfa.PageLayer(display, tmp_path / f"page-{n}.text.pdf", page.pixels.shape[1],
                                     page.pixels.shape[0], 200, False))
    out = tmp_path / "three.pdf"
    assert pdfa.assemble(layers, out, META, producer="test").passed
    with pikepdf.open(out) as pdf:
        fonts = [o for o in pdf.objects if isinstance(o, pikepdf.Dictionary) and o.get("/Type") == "/Font"
                 and o.get("/Subtype") == "/Type0"]
        programs = [o for o in pdf.objects if isinstance(o, pikepdf.Stream) and "/Length1" in o]
    assert len(fonts) == 1 and len(programs) == 1
    assert pdfa.check_pdfa(out).passed
    texts = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    assert [LINES[0] in unicodedata.normalize("NFC", t) for t in texts.split("\f")[:3]] == [True] * 3


def test_fonts_that_differ_are_not_shared(tmp_path):
    pdf = pikepdf.new()
    for size in (10, 10, 12):
        font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                    BaseFont=pikepdf.Name.Helvetica, Widths=[size] * 3))
        form = pdf.make_stream(b"BT /F1 10 Tf (a) Tj ET", Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form,
                               BBox=[0, 0, 10, 10], Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)))
        pdf.add_blank_page()
        pdf.pages[-1].Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Fx=form))
    assert pdfa.share_text_fonts(pdf) == 1
    shared = [p.Resources.XObject.Fx.Resources.Font.F1.objgen for p in pdf.pages]
    assert shared[0] == shared[1] != shared[2]


def test_pdfa_check_names_the_broken_rule(upright, tmp_path):
    _page, result = upright
    broken = tmp_path / "broken.pdf"
    with pikepdf.open(result.pdf) as pdf:
        del pdf.Root["/OutputIntents"]
        pdf.save(broken)
    report = pdfa.check_pdfa(broken)
    assert not report.passed
    assert any("6.2." in f or "OutputIntent" in f for f in report.findings), report.findings


def test_sideways_and_upside_down_pages_come_out_upright_in_parallel(tmp_path):
    page = text_page(dpi=200)
    frames = [Image.fromarray(cleanup.rotate_quarter(page.pixels, turn)) for turn in (90, 180, 270)]
    tif = tmp_path / "turned.tif"
    frames[0].save(tif, save_all=True, append_images=frames[1:], dpi=(200, 200), compression="tiff_lzw")
    result = engine.scan_to_pdfa(tif, META, tmp_path / "work", OcrSettings(workers=2), default_dpi=300)
    assert [p.rotation for p in result.pages] == [270, 180, 90]
    for text in result.text.split("\f"):
        assert LINES[0] in text
    assert all(p.confidence > 80 for p in result.pages)


def _count_tesseract_runs(monkeypatch) -> Counter:
    """Tesseract runs in this process: orientation (through the tool wrapper) and reading (through pytesseract)."""
    runs: Counter = Counter()
    real_run, real_read = tools.run, pytesseract.pytesseract.run_tesseract

    def counting(argv, **kwargs):
        if argv[0] == "tesseract":
            runs["osd" if "osd" in argv else "other"] += 1
        return real_run(argv, **kwargs)

    def reading(*args, **kwargs):
        runs["ocr"] += 1
        return real_read(*args, **kwargs)

    monkeypatch.setattr(tools, "run", counting)
    monkeypatch.setattr(pytesseract.pytesseract, "run_tesseract", reading)
    return runs


def test_an_upside_down_page_is_read_once_without_tesseract_osd(tmp_path, monkeypatch):
    runs = _count_tesseract_runs(monkeypatch)
    scan = Image.fromarray(cleanup.rotate_quarter(text_page(dpi=200).pixels, 180))
    scan.save(tmp_path / "turned.png", dpi=(200, 200))
    result = engine.scan_to_pdfa(tmp_path / "turned.png", META, tmp_path / "work", OcrSettings(), default_dpi=300)
    assert result.pages[0].rotation == 180 and result.pages[0].confidence > 80
    assert LINES[0] in result.text
    assert runs == Counter(ocr=1)


def test_a_wrong_orientation_guess_is_caught_by_the_reading_and_corrected(tmp_path, monkeypatch):
    wrong = cleanup.OrientationGuess(rotation=180, sideways=False, score=-1.0, lines=10)
    monkeypatch.setattr(cleanup, "guess_orientation", lambda gray: wrong)
    runs = _count_tesseract_runs(monkeypatch)
    text_page(dpi=200).save(tmp_path / "page.png")
    result = engine.scan_to_pdfa(tmp_path / "page.png", META, tmp_path / "work", OcrSettings(), default_dpi=300)
    assert result.pages[0].rotation == 0 and result.pages[0].confidence > 80
    assert LINES[0] in result.text
    assert runs == Counter(ocr=2)  # read upside down (low confidence), then as it is (good: no OSD needed)


def test_a_scanned_jpeg_page_is_taken_out_of_the_pdf_as_it_is(tmp_path):
    scan = tmp_path / "scan.pdf"
    Image.fromarray(text_page(dpi=200).pixels).save(scan, resolution=200)  # one DCTDecode image per page
    page = pages.plan_pages(scan, default_dpi=300).pages[0]
    out = pages.render_page(page, tmp_path, timeout=60)
    with pikepdf.open(scan) as pdf:
        (embedded,) = pdf.pages[0].get_images().values()
        assert out.suffix == ".jpg" and out.read_bytes() == embedded.read_raw_bytes()
    # A page that is more than its image is rendered: turned, annotated, or stretched to another shape.
    with pikepdf.open(scan) as pdf:
        pdf.pages[0].Rotate = 90
        pdf.save(tmp_path / "turned.pdf")
    with pikepdf.open(scan) as pdf:
        note = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Square,
                                                    Rect=[10, 10, 60, 60], C=[0, 0, 1]))
        pdf.pages[0].Annots = pdf.make_indirect(pikepdf.Array([note]))
        pdf.save(tmp_path / "annotated.pdf")
    with pikepdf.open(scan) as pdf:
        width, height = (float(x) for x in pdf.pages[0].mediabox[2:])
        pdf.pages[0].MediaBox = [0, 0, width, height * 2]
        pdf.pages[0].Contents = pdf.make_stream(f"q {width:g} 0 0 {height * 2:g} 0 0 cm /image Do Q".encode())
        pdf.save(tmp_path / "stretched.pdf")
    for name in ("turned", "annotated", "stretched"):
        other = pages.plan_pages(tmp_path / f"{name}.pdf", default_dpi=300).pages[0]
        assert pages.render_page(other, tmp_path, timeout=60).suffix == ".ppm", name


#: Apache PDFBox Preflight and what it needs at run time (Debian: libpdfbox2-java, libactivation-java,
#: libjaxb-api-java), an independent PDF/A-1b checker.
PREFLIGHT_JARS = ("preflight", "pdfbox2", "fontbox2", "xmpbox", "commons-logging", "javax.activation", "jaxb-api")


def _preflight(pdf: Path) -> subprocess.CompletedProcess[str]:
    jars = [Path("/usr/share/java") / f"{name}.jar" for name in PREFLIGHT_JARS]
    if shutil.which("java") is None or not all(jar.is_file() for jar in jars):
        pytest.skip("needs Java and PDFBox Preflight (apt-get install libpdfbox2-java libactivation-java "
                    "libjaxb-api-java openjdk-17-jre-headless)")
    return subprocess.run(["java", "-cp", ":".join(map(str, jars)), "org.apache.pdfbox.preflight.Validator_A1b",
                           str(pdf)], capture_output=True, text=True, timeout=120)


def test_pdfbox_preflight_agrees_with_our_check_on_a_pdfa_1b_variant(tmp_path):
    scan = text_page(dpi=200).save(tmp_path / "page.png")
    done = engine.run_pages(pages.plan_pages(scan, default_dpi=300).pages, tmp_path, OcrSettings())
    good = tmp_path / "good-1b.pdf"
    assert pdfa.assemble([d.layer for d in done], good, META, producer="test", flavour="1b").passed
    checked = _preflight(good)
    assert checked.returncode == 0 and "is a valid PDF/A-1b file" in checked.stdout, checked.stdout + checked.stderr
    broken = tmp_path / "broken-1b.pdf"
    with pikepdf.open(good) as pdf:
        del pdf.Root["/OutputIntents"]
        pdf.save(broken)
    checked = _preflight(broken)
    assert "not a valid PDF/A-1b" in checked.stdout and "DestOutputProfile is missing" in checked.stdout
    assert not pdfa.check_pdfa(broken, "1b").passed


def test_a_scanned_jpeg_is_shown_as_it_is_and_a_skewed_one_drawn_turned_under_its_text(tmp_path):
    def embedded(pdf_path: Path) -> bytes:
        with pikepdf.open(pdf_path) as pdf:
            (image,) = pdf.pages[0].get_images().values()
            return image.read_raw_bytes()

    page = text_page(dpi=200)
    straight = tmp_path / "straight.jpg"
    Image.fromarray(page.pixels).save(straight, quality=80, dpi=(200, 200))
    result = engine.scan_to_pdfa(straight, META, tmp_path / "work", OcrSettings(), default_dpi=300)
    assert abs(result.pages[0].skew) < cleanup.MIN_CORRECTION and embedded(result.pdf) == straight.read_bytes()
    assert LINES[0] in result.text

    # A skewed scan is not resampled nor compressed again: the page draws the scanner's JPEG turned upright
    # (its placement matrix), and the text layer lies over the words as they are seen.
    for turn, angle in ((0, 2.0), (180, -3.0)):
        skewed_jpeg = tmp_path / f"skewed-{turn}.jpg"
        pixels = cleanup.rotate_quarter(cleanup.rotate_small(page.pixels, angle), turn)
        Image.fromarray(pixels).save(skewed_jpeg, quality=80, dpi=(200, 200))
        result = engine.scan_to_pdfa(skewed_jpeg, META, tmp_path / f"work-{turn}", OcrSettings(), default_dpi=300)
        assert result.pages[0].rotation == (360 - turn) % 360 and abs(result.pages[0].skew - angle) < 0.3
        assert embedded(result.pdf) == skewed_jpeg.read_bytes()
        shown = subprocess.run(["pdftoppm", "-r", "200", "-gray", str(result.pdf)], capture_output=True,
                               check=True).stdout
        drawn = cv2.imdecode(np.frombuffer(shown, np.uint8), cv2.IMREAD_GRAYSCALE)
        assert drawn.shape == page.pixels.shape[:2]
        assert abs(cleanup.estimate_skew(drawn)) < 0.3  # drawn straight
        _assert_words_line_up(page, result.pdf)
        assert pdfa.check_pdfa(result.pdf).passed
