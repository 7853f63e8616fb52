"""Where the Decree 30 stamp goes: never over the page's content (issue 12, point 3).

Pages are drawn here (a Decree 30 layout with the national title at the top
right) or taken from samples/, made into PDF/A, signed for real, then drawn
again by pdftoppm without the stamp and measured under the stamp's rectangle.
The measure in these tests is their own (144 dpi, grey), not the 72-dpi map
the code places the stamp with.
"""

from __future__ import annotations

import io
import math
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import pikepdf
import pytest
from PIL import Image, ImageDraw, ImageFont

from digitize import cleanup
from signing import appearance, ink, sign
from signing.identity import ensure_demo_identity, load_signer, read_password
from signing.ink import PageInk, free_rect, ink_mask, render_ink
from signing.sign import sign_pdf
from signing.stamp_check import read_stamp
from signing.verify import verify_pdf
from tests.conftest import SAMPLES
from tests.engine_fixtures import font_file

pytestmark = pytest.mark.tools

AGENCY = "UBND xã Phước Lộc"
WHEN = datetime(2026, 11, 28, 9, 15, tzinfo=timezone(timedelta(hours=7)))
DPI = 150
MM = DPI / 25.4


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("stamp-place")


@pytest.fixture(scope="module")
def demo(folder):
    return ensure_demo_identity(folder / "keys", AGENCY)


@pytest.fixture(scope="module")
def signer(demo):
    return load_signer(demo.pkcs12, read_password(None, demo.password_file))


# --- pages made here ------------------------------------------------------------------


def nd30_page(top_margin_mm: float) -> np.ndarray:
    """An A4 page in the Decree 30 layout (RGB): agency top left, national title and motto top right,
    place and date, title, body; the first line ``top_margin_mm`` below the top edge."""
    width, height = round(210 * MM), round(297 * MM)
    image = Image.new("RGB", (width, height), (247, 245, 238))
    draw = ImageDraw.Draw(image)
    regular = str(font_file())
    bold = regular.replace("Regular", "Bold")
    size = round(13 * DPI / 72)
    font, heavy = ImageFont.truetype(regular, size), ImageFont.truetype(bold, size)
    left_centre, right_centre = 52 * MM, 140 * MM
    step = round(size * 1.4)

    def centred(text: str, x: float, y: float, face) -> None:
        draw.text((x - draw.textlength(text, font=face) / 2, y), text, font=face, fill=(25, 25, 25))

    y = top_margin_mm * MM
    centred("ỦY BAN NHÂN DÂN", left_centre, y, font)
    centred("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", right_centre, y, heavy)
    y += step
    centred("XÃ PHƯỚC LỘC", left_centre, y, heavy)
    centred("Độc lập - Tự do - Hạnh phúc", right_centre, y, heavy)
    y += 2 * step
    centred("Số: 125/UBND-XNTTHN", left_centre, y, font)
    centred("Phước Lộc, ngày 23 tháng 11 năm 2026", right_centre, y, font)
    y += 3 * step
    centred("GIẤY XÁC NHẬN TÌNH TRẠNG HÔN NHÂN", width / 2, y, heavy)
    for _ in range(20):
        y += step
        draw.text((30 * MM, y), "Xét đề nghị của bà Trần Thị Mỹ Hạnh về việc cấp giấy xác nhận tình trạng",
                  font=font, fill=(25, 25, 25))
    return np.asarray(image)


def dense_page() -> np.ndarray:
    """An A4 page (RGB) of text lines from 6 mm below the top edge to the bottom, 15 mm from each side:
    no room for the stamp anywhere in its top-right quarter."""
    width, height = round(210 * MM), round(297 * MM)
    image = Image.new("RGB", (width, height), (247, 245, 238))
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(font_file()), round(12 * DPI / 72))
    line = "Trần Thị Mỹ Hạnh, thôn Quảng Tín, xã Phước Lộc: đã đăng ký, chưa kết hôn; số 125/UBND-XNTTHN"
    y = 6 * MM
    while y < height - 15 * MM:
        draw.text((15 * MM, y), line, font=font, fill=(25, 25, 25))
        y += round(12 * 1.3 * DPI / 72)
    return np.asarray(image)


def scan_pdfa(path: Path, pixels: np.ndarray, dpi: int = DPI, geometry=None, *, rotate: int = 0) -> Path:
    """A one-page PDF/A-2b showing ``pixels`` at 100% (``dpi``), as the engine assembles a scan: filling the
    page, or laid out by a :class:`digitize.cleanup.Geometry` (turned upright, deskewed, cropped); with
    ``rotate``, the scan is stored turned back and the page's /Rotate shows it as ``pixels`` again."""
    import pikepdf.pdfa

    pixels = np.ascontiguousarray(np.rot90(pixels, rotate // 90))  # counterclockwise: /Rotate turns clockwise
    jpeg = io.BytesIO()
    Image.fromarray(pixels).save(jpeg, "JPEG", quality=85)
    height_px, width_px = pixels.shape[:2]
    width, height = width_px * 72 / dpi, height_px * 72 / dpi
    matrix = f"{width:.4f} 0 0 {height:.4f} 0 0"
    if geometry is not None:
        width, height = (v * 72 / dpi for v in geometry.size)
        matrix = " ".join(f"{v:.6f}" for v in geometry.pdf_matrix(dpi))
    pdf = pikepdf.new()
    image = pikepdf.Stream(pdf, jpeg.getvalue())
    image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    image.Width, image.Height, image.BitsPerComponent = width_px, height_px, 8
    image.ColorSpace, image.Filter = pikepdf.Name.DeviceRGB, pikepdf.Name.DCTDecode
    pdf.pages.append(pikepdf.Page(pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=[0, 0, width, height],
        Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image)),
        Contents=pikepdf.Stream(pdf, f"q {matrix} cm /Im0 Do Q".encode()),
        **({"Rotate": rotate} if rotate else {}),
    )))
    pikepdf.pdfa.save(pdf, path, "2b")
    return path


def dark_under(pdf: Path, rect: tuple[float, float, float, float], dpi: int = 144) -> int:
    """Pixels clearly darker than the paper inside ``rect`` (points), page 1 drawn without annotations;
    a lone speck of dust (at most 1 pt², touching nothing) is not counted."""
    grey = subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-f", "1", "-l", "1", "-gray", "-hide-annotations", str(pdf)],
        capture_output=True, timeout=60, check=True,
    ).stdout
    image = cv2.imdecode(np.frombuffer(grey, np.uint8), cv2.IMREAD_GRAYSCALE)
    with pikepdf.open(pdf) as opened:
        x0, y0, x1, y1 = (float(v) for v in opened.pages[0].cropbox)
    scale = dpi / 72
    left, right = int((rect[0] - x0) * scale), int(np.ceil((rect[2] - x0) * scale))
    top, bottom = int((y1 - rect[3]) * scale), int(np.ceil((y1 - rect[1]) * scale))
    paper = int(np.median(image))
    dark = (image.astype(int) < paper - 48).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
    dust = [n for n in range(1, count) if stats[n, cv2.CC_STAT_AREA] <= scale**2]
    dark[np.isin(labels, dust)] = 0
    return int(dark[max(top, 0):max(bottom, 0), max(left, 0):max(right, 0)].sum())


def _sign(src: Path, dst: Path, signer, font_cache: Path):
    return sign_pdf(src, dst, signer, when=WHEN, font_cache_dir=font_cache)  # the certificate's agency


def _usual_place(signed: Path, stamp) -> tuple[int, int, int, int]:
    """Where the stamp went before issue 12: 28 pt from the top and right edges, whatever lay there."""
    with pikepdf.open(signed) as pdf:
        width, height = (float(v) for v in pdf.pages[0].mediabox[2:])
    w, h = stamp.rect[2] - stamp.rect[0], stamp.rect[3] - stamp.rect[1]
    return (width - 28 - w, height - 28 - h, width - 28, height - 28)


# --- the ink map and the search (no tools) ------------------------------------------


def test_ink_is_text_and_colour_not_paper_tone_uneven_light_or_dust():
    page = np.full((200, 200, 3), 235, np.uint8)
    page[:, 150:] = 200  # a darker strip: uneven light, not ink
    page[20:24, 20:60] = (20, 20, 20)  # a black stroke
    page[60:70, 20:30] = (35, 30, 215)  # red seal ink (BGR)
    page[90:100, 20:30] = (230, 150, 100)  # light blue pen (BGR)
    page[150, 120] = 40  # one dark pixel of dust
    ink = ink_mask(page, dust_pixels=1)
    assert ink[20:24, 20:60].all() and ink[60:70, 20:30].all() and ink[90:100, 20:30].all()
    assert not ink[:, 100:].any()  # neither the dust nor the darker strip
    assert ink.sum() == 4 * 40 + 100 + 100


def test_free_rect_keeps_clear_of_ink_and_is_nearest_the_usual_place():
    mask = np.zeros((842, 595), bool)
    mask[60:80, 300:560] = True  # a title line 60-80 pt from the top
    ink = PageInk(mask, (0, 0, 595, 842), 1.0)
    rect = free_rect(ink, (130, 47), region=(297, 421, 589, 836), anchor=(567, 814), clearance=2)
    assert rect is not None
    assert rect[1] >= 842 - 58  # above the title, 2 pt clear of it
    assert rect[3] <= 836 and rect[2] <= 589
    assert ink.ink_in(rect) == 0
    mask[:, 297:] = True
    assert free_rect(ink, (130, 47), region=(297, 421, 589, 836), anchor=(567, 814), clearance=2) is None


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_a_rectangle_turns_with_the_page_and_back(rotate):
    view = ink.PageView((10, 20, 605.28, 861.89), rotate)
    rect = (400, 780, 530, 827)  # top right of the page's own coordinates
    shown = view.to_shown(rect)
    assert view.to_page(shown) == pytest.approx(rect)
    assert shown[2] - shown[0] == pytest.approx(130 if rotate in (0, 180) else 47)
    x0, y0, x1, y1 = view.shown_box
    assert (x1 - x0, y1 - y0) == pytest.approx((595.28, 841.89) if rotate in (0, 180) else (841.89, 595.28))
    # where the reader sees the top-right corner of the page as stored: top right (0), bottom right (90 turns it
    # clockwise), bottom left (180), top left (270)
    corner = view.to_shown((600, 855, 600, 855))[:2]
    expected = {0: (600, 855), 90: (845, 25.28), 180: (15.28, 26.89), 270: (16.89, 610)}[rotate]
    assert corner == pytest.approx(expected)
    assert ink.page_rotation(-90) == 270 and ink.page_rotation(45) == 0 and ink.page_rotation("x") == 0


def test_the_ink_map_lines_up_with_a_page_whose_crop_box_is_smaller(tmp_path):
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    page = pdf.pages[0]
    page.CropBox = [0, 0, 595, 742]  # the top 100 pt are not shown
    page.Contents = pdf.make_stream(b"0 g 300 700 295 42 re f")  # a black bar at the top of what is shown
    pdf.save(tmp_path / "cropped.pdf")
    ink = render_ink(tmp_path / "cropped.pdf", (0, 0, 595, 742), timeout=60)
    assert ink.mask.shape[0] == 742 * 2
    assert ink.ink_in((310, 705, 580, 735)) > 0.95 * 270 * 30
    assert ink.ink_in((310, 600, 580, 690)) == 0


def with_text_layer(src: Path, dst: Path, mode: int) -> Path:
    """``src`` with a text layer over page 1 as the engine grafts Tesseract's (a form of text objects),
    its text drawn in render ``mode`` (3: invisible)."""
    with pikepdf.open(src) as pdf:
        font = pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica)
        form = pikepdf.Stream(pdf, f"BT {mode} Tr 1 0 0 1 300 700 Tm /F1 40 Tf [ (GIAY XAC NHAN) ] TJ ET".encode())
        form.Type, form.Subtype = pikepdf.Name.XObject, pikepdf.Name.Form
        form.BBox = pdf.pages[0].mediabox
        form.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        page = pdf.pages[0]
        page.add_overlay(form, pikepdf.Rectangle(*(float(v) for v in page.mediabox)))
        pdf.save(dst)
    return dst


def test_a_scanned_page_is_drawn_from_its_jpeg_with_the_ink_pdftoppm_finds(folder, monkeypatch):
    src = with_text_layer(scan_pdfa(folder / "jpeg.pdf", nd30_page(top_margin_mm=20)), folder / "jpeg-ocr.pdf", 3)
    assert_drawn_from_jpeg_as_pdftoppm_draws_it(src, monkeypatch)


def assert_drawn_from_jpeg_as_pdftoppm_draws_it(src: Path, monkeypatch) -> None:
    """Page 1 of ``src`` (one JPEG and invisible text) drawn from its JPEG has the ink pdftoppm finds, and
    signing's ink map is that drawing, pdftoppm never run."""
    with pikepdf.open(src) as pdf:
        box = tuple(float(v) for v in pdf.pages[0].mediabox)
    drawn = ink._pdftoppm(src, timeout=60, hide_annotations=False)
    from_jpeg = ink.scan_image(src, box)
    assert from_jpeg is not None and from_jpeg.shape == drawn.shape
    expected, found = ink_mask(drawn, dust_pixels=4), ink_mask(from_jpeg, dust_pixels=4)
    # Within a pixel or two (a point, half the stamp's clearance): poppler lays the image ~1 px further right.
    near = np.ones((5, 5), np.uint8)
    assert found.sum() == pytest.approx(expected.sum(), rel=0.15)
    assert (found & ~cv2.dilate(expected.astype(np.uint8), near).astype(bool)).sum() < 0.01 * expected.sum()
    assert (expected & ~cv2.dilate(found.astype(np.uint8), near).astype(bool)).sum() < 0.01 * expected.sum()

    def no_pdftoppm(*args, **kwargs):
        raise AssertionError("pdftoppm was run for a page that is one JPEG and invisible text")

    monkeypatch.setattr(ink.tools, "run", no_pdftoppm)
    assert render_ink(src.read_bytes(), box, timeout=60).mask.sum() == found.sum()


@pytest.mark.parametrize(("rotation", "turn", "crop"), [(180, 3.0, None), (0, -2.5, (20, 1640, 30, 1150)),
                                                       (90, 1.5, None)])
def test_a_scan_drawn_turned_and_cropped_is_drawn_from_its_jpeg_as_pdftoppm_draws_it(folder, monkeypatch, rotation,
                                                                                      turn, crop):
    pixels = cleanup.rotate_quarter(nd30_page(top_margin_mm=20), (360 - rotation) % 360)  # as it lay on the glass
    height, width = pixels.shape[:2]
    geometry = cleanup.Geometry(width, height, rotation, turn, crop)
    src = with_text_layer(scan_pdfa(folder / f"turned-{rotation}.pdf", pixels, geometry=geometry),
                          folder / f"turned-{rotation}-ocr.pdf", 3)
    assert_drawn_from_jpeg_as_pdftoppm_draws_it(src, monkeypatch)


def test_a_page_with_visible_text_over_its_scan_is_drawn_by_pdftoppm(folder):
    scan = scan_pdfa(folder / "visible.pdf", nd30_page(top_margin_mm=60))
    src = with_text_layer(scan, folder / "visible-text.pdf", 0)
    with pikepdf.open(src) as pdf:
        box = tuple(float(v) for v in pdf.pages[0].mediabox)
    assert ink.scan_image(src, box) is None
    drawn = render_ink(src, box, timeout=60)
    assert drawn.ink_in((300, 700, 500, 730)) > 100  # the visible text is ink: only a real drawing shows it


def test_signing_and_verifying_a_scan_draw_its_first_page_once(folder, signer, monkeypatch):
    src = scan_pdfa(folder / "once.pdf", nd30_page(top_margin_mm=20))
    drawn = []
    draw = ink._draw_scan
    monkeypatch.setattr(ink, "_draw_scan", lambda scan, box: drawn.append(box) or draw(scan, box))
    ink._kept.clear()
    result = _sign(src, folder / "once.signed.pdf", signer, folder / "fonts")
    report = verify_pdf(result.path, [], check_pdfa=False)
    assert report.check("stamp_clear").ok, report.check("stamp_clear").detail
    assert len(drawn) == 1  # placing the stamp drew it; looking under the stamp reused that drawing
    ink._kept.clear()
    assert verify_pdf(result.path, [], check_pdfa=False).check("stamp_clear").ok  # drawn again: the same verdict
    assert len(drawn) == 2


# --- signing a page drawn here --------------------------------------------------------


def test_stamp_on_a_decree30_page_sits_above_the_national_title_and_covers_no_ink(folder, signer):
    src = scan_pdfa(folder / "nd30.pdf", nd30_page(top_margin_mm=20))
    result = _sign(src, folder / "nd30.signed.pdf", signer, folder / "fonts")
    stamp = read_stamp(result.path.read_bytes())
    assert dark_under(result.path, stamp.rect) == 0
    assert dark_under(result.path, _usual_place(result.path, stamp)) > 100  # the old place covered the title
    width, height = stamp.page_size
    assert stamp.rect[0] >= width / 2 and stamp.rect[1] >= height / 2
    assert stamp.page_size == pytest.approx((595.28, 841.89), abs=0.1)  # the page did not grow
    report = verify_pdf(result.path, [], check_pdfa=False)
    assert report.check("stamp_clear").ok, report.check("stamp_clear").detail


def _signed_tight(folder, signer, name: str, rotate: int = 0):
    """A dense page (no room for the stamp) signed: the result, and its page box before and after. The scan is
    drawn as before: same place, same scale."""
    src = scan_pdfa(folder / f"{name}.pdf", dense_page(), rotate=rotate)
    with pikepdf.open(src) as pdf:
        before = [float(v) for v in pdf.pages[0].mediabox]
        content = pdf.pages[0].Contents.read_bytes()
    result = _sign(src, folder / f"{name}.signed.pdf", signer, folder / "fonts")
    with pikepdf.open(result.path) as pdf:
        page = pdf.pages[0]
        after = [float(v) for v in page.mediabox]
        assert page.Contents.read_bytes() == content  # the scan is drawn as before: same place, same scale
    return result, before, after


def test_a_page_without_room_grows_a_band_above_the_scan_which_stays_at_full_scale(folder, signer, demo):
    result, before, after = _signed_tight(folder, signer, "tight")
    stamp = read_stamp(result.path.read_bytes())
    assert after[:3] == before[:3] and after[3] > before[3] + 47
    assert stamp.rect[1] >= before[3]  # wholly above the scan
    assert dark_under(result.path, stamp.rect) == 0
    report = verify_pdf(result.path, [demo.ca_cert], expected_sha256=result.sha256)
    assert report.ok, report.to_dict()


def _drawn(pdf: Path, dpi: int, *, annotations: bool) -> np.ndarray:
    """Page 1 as a viewer shows it (turned by its /Rotate), in grey, by pdftoppm."""
    args = ["pdftoppm", "-r", str(dpi), "-f", "1", "-l", "1", "-gray", *([] if annotations else ["-hide-annotations"])]
    out = subprocess.run([*args, str(pdf)], capture_output=True, timeout=60, check=True).stdout
    return cv2.imdecode(np.frombuffer(out, np.uint8), cv2.IMREAD_GRAYSCALE)


def _stamp_as_seen(pdf: Path, dpi: int = 200) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """Page 1 drawn with and without its annotations, and the box (left, top, right, bottom; pixels) of
    what the stamp adds."""
    shown, bare = _drawn(pdf, dpi, annotations=True), _drawn(pdf, dpi, annotations=False)
    rows, columns = np.nonzero(shown.astype(int) < bare.astype(int) - 64)
    assert rows.size, "the stamp draws nothing"
    return shown, bare, (int(columns.min()), int(rows.min()), int(columns.max()) + 1, int(rows.max()) + 1)


def _read_by_tesseract(image: np.ndarray, folder: Path) -> str:
    path = folder / "stamp-crop.png"
    cv2.imwrite(str(path), cv2.copyMakeBorder(image, 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=255))
    return subprocess.run(["tesseract", str(path), "-", "--psm", "6", "-l", "vie"], capture_output=True, text=True,
                          timeout=60, env={"OMP_THREAD_LIMIT": "1", "PATH": "/usr/bin:/bin"}).stdout


@pytest.mark.parametrize("rotate", [90, 180, 270])
def test_on_a_turned_page_the_stamp_is_upright_at_the_top_right_the_reader_sees_and_covers_no_ink(
        folder, signer, demo, rotate):
    src = scan_pdfa(folder / f"turned-{rotate}.pdf", nd30_page(top_margin_mm=20), rotate=rotate)
    result = _sign(src, folder / f"turned-{rotate}.signed.pdf", signer, folder / "fonts")
    shown, bare, (left, top, right, bottom) = _stamp_as_seen(result.path)
    height, width = shown.shape
    assert width < height  # the portrait page, as the reader sees it
    assert left >= width / 2 and bottom <= height / 2  # the top-right quarter of the page as seen
    assert right - left > 2 * (bottom - top)  # three lines of text across, not up the page
    text = _read_by_tesseract(shown[top:bottom, left:right], folder)
    assert "SAO" in text and "Phước Lộc" in text and "2026-11-28T09:15" in text, text  # upright: it reads
    paper = int(np.median(bare))
    assert int((bare[top:bottom, left:right].astype(int) < paper - 48).sum()) == 0  # nothing under it
    report = verify_pdf(result.path, [demo.ca_cert], expected_sha256=result.sha256)
    assert report.ok, report.to_dict()


def test_a_turned_page_without_room_grows_its_band_above_the_top_the_reader_sees(folder, signer, demo):
    result, before, after = _signed_tight(folder, signer, "turned-tight", rotate=90)
    # /Rotate 90: the reader's top edge is the page's left edge, which moved out; the others stay
    assert after[0] < before[0] - 47 and after[1:] == before[1:]
    shown, bare, (left, top, right, bottom) = _stamp_as_seen(result.path)
    scale = 200 / 72
    band = (before[0] - after[0]) * scale
    assert bottom <= band and right - left > 2 * (bottom - top)  # wholly in the band, upright
    assert shown.shape[0] == pytest.approx((after[2] - after[0]) * scale, abs=2)  # the page as seen grew upward
    report = verify_pdf(result.path, [demo.ca_cert], expected_sha256=result.sha256)
    assert report.ok, report.to_dict()

def _top_right_whatever_lies_there(lines, font, page_box, ink, *, rotate=0) -> appearance.StampLayout:
    """A fault double of ``place_stamp``: the stamp at the page's top right even over the scan's ink."""
    width, height = appearance.stamp_size(lines, font)
    right = math.floor(page_box[2] - appearance.PAGE_MARGIN)
    top = math.floor(page_box[3] - appearance.PAGE_MARGIN)
    left = max(math.ceil(page_box[0]), right - width)
    return appearance.StampLayout(lines=lines, box=(left, top - height, right, top))


def test_verify_fails_a_stamp_printed_over_the_page(folder, signer, demo, monkeypatch):
    monkeypatch.setattr(sign, "place_stamp", _top_right_whatever_lies_there)
    src = scan_pdfa(folder / "old.pdf", nd30_page(top_margin_mm=12))
    result = _sign(src, folder / "old.signed.pdf", signer, folder / "fonts")
    report = verify_pdf(result.path, [demo.ca_cert])
    check = report.check("stamp_clear")
    assert not check.ok and "printed over the page's content" in check.detail
    assert not report.ok


# --- every sample, through the real engine ------------------------------------------


SAMPLE_INPUTS = (
    "xa/phuoc-loc/000.31.25.H08-261120-0001-KQ1.pdf",
    "xa/phuoc-loc/000.31.25.H08-261120-0002-HS1",
    "xa/nhon-binh/000.31.26.H08-261121-0001-KQ1.tif",
    "huyen/tuy-phuoc/000.20.30.H08-261118-0007-KQ1.pdf",
    "tinh/ttpvhcc/000.00.12.H08-261115-0003-KQ1.pdf",
)


def _document(sample: str) -> str:
    return sample.rsplit("/", 1)[-1].removesuffix(".pdf").removesuffix(".tif")


@pytest.mark.slow
@pytest.mark.parametrize("sample", SAMPLE_INPUTS, ids=_document)
def test_stamp_covers_no_ink_on_any_sample(folder, signer, sample):
    from digitize import engine
    from digitize.models import DocumentMeta, parse_document_code
    from digitize.settings import OcrSettings

    level, office, _ = sample.split("/")
    document = _document(sample)
    code, kind, number = parse_document_code(document)
    scanned = engine.scan_to_pdfa(
        SAMPLES / "inbox" / sample, DocumentMeta(code, kind, number, level, office),
        folder / document, OcrSettings(workers=1), default_dpi=300,
    )
    result = _sign(scanned.pdf, folder / f"{document}.signed.pdf", signer, folder / "fonts")
    stamp = read_stamp(result.path.read_bytes())
    assert dark_under(result.path, stamp.rect) == 0
    assert dark_under(result.path, _usual_place(result.path, stamp)) > 100  # where it was, it covered the title
    width, height = stamp.page_size
    assert stamp.rect[0] >= width / 2 and stamp.rect[1] >= height / 2
