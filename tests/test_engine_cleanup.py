"""Cleanup: pure functions on generated pages (no Tesseract)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from digitize import cleanup, pages
from digitize.settings import OcrSettings
from tests.engine_fixtures import LINES, blank_page, skewed, text_page, with_dark_border, with_red_seal


@pytest.fixture(scope="module")
def page():
    return text_page(dpi=200)


@pytest.mark.parametrize("angle", [-15.0, -9.3, -4.0, -0.7, 0.0, 1.2, 3.65, 8.0, 12.5, 15.0])
def test_deskew_finds_the_angle_within_a_third_of_a_degree(page, angle):
    gray = cleanup.ocr_gray(skewed(page, angle))
    assert abs(cleanup.estimate_skew(gray) - angle) < 0.3


def test_clean_page_straightens_the_display_and_the_ocr_image_alike(page):
    clean = cleanup.clean_page(skewed(page, 6.0))
    assert abs(clean.skew - 6.0) < 0.3
    assert clean.display.shape[:2] == clean.ocr.shape
    assert abs(cleanup.estimate_skew(clean.ocr)) < 0.3


@pytest.mark.parametrize("turn", [0, 90, 180, 270])
@pytest.mark.parametrize("angle", [0.0, -4.0, 7.5])
def test_which_way_is_up_is_guessed_without_ocr_for_every_quarter_turn(page, turn, angle):
    scan = cleanup.rotate_quarter(skewed(page, angle), turn)  # as it lay on the glass
    guess = cleanup.guess_orientation(cleanup.ocr_gray(scan))
    assert guess.rotation == (360 - turn) % 360, guess
    assert guess.sideways == (turn in (90, 270))


def test_orientation_guess_abstains_on_a_blank_page_and_on_a_page_of_two_lines(page):
    assert cleanup.guess_orientation(cleanup.ocr_gray(blank_page().bgr)).rotation is None
    short = text_page(dpi=200, lines=LINES[:2])
    guess = cleanup.guess_orientation(cleanup.ocr_gray(cleanup.rotate_quarter(short.bgr, 180)))
    assert guess.rotation is None and guess.lines < cleanup.ORIENTATION_MIN_LINES


def test_blank_page_is_detected_and_text_page_is_not(page):
    assert cleanup.clean_page(blank_page().bgr).blank
    assert not cleanup.clean_page(page.bgr).blank


def test_red_seal_fades_from_the_ocr_image_but_stays_in_the_display(page):
    sealed = with_red_seal(page)
    clean = cleanup.clean_page(sealed.bgr)
    cy, cx = round(1.5 * page.dpi), page.pixels.shape[1] // 2
    centre = (slice(cy - 10, cy + 10), slice(cx - 10, cx + 10))
    assert clean.ocr[centre].min() > 200  # the seal's solid centre is white for Tesseract
    assert clean.display[centre][..., 2].mean() > 150 > clean.display[centre][..., 1].mean()  # still red


@pytest.mark.parametrize("angle", [0.0, 2.5])
def test_dark_scanner_border_is_cut_off_both_images_alike(page, angle):
    framed = with_dark_border(page, width_px=40)  # left and bottom strips
    clean = cleanup.clean_page(skewed(framed, angle))
    height, width = page.pixels.shape[:2]
    assert clean.display.shape[:2] == clean.ocr.shape
    assert height - 80 < clean.ocr.shape[0] <= height - 40 and width - 80 < clean.ocr.shape[1] <= width - 40
    assert clean.ocr[:, :30].min() > 200 and clean.ocr[-30:, :].min() > 200
    assert np.median(clean.display[:, :3]) > 200 and np.median(clean.display[-3:, :]) > 200  # no dark strip left
    assert (clean.ocr < 128).any()  # the text is still there


def with_frame(sheet):
    pixels = sheet.bgr.copy()
    pixels[:40], pixels[-40:], pixels[:, :40], pixels[:, -40:] = 15, 15, 15, 15
    return pixels


def test_a_closed_dark_frame_on_all_four_sides_is_cut_off(page):
    clean = cleanup.clean_page(with_frame(page))
    height, width = page.pixels.shape[:2]
    assert height - 100 < clean.display.shape[0] <= height - 80 and width - 100 < clean.display.shape[1] <= width - 80
    assert cleanup.clean_page(with_frame(blank_page())).blank


def test_a_dark_letterhead_banner_at_the_edge_is_content_not_border(page):
    bannered = page.bgr.copy()
    width = bannered.shape[1]
    bannered[:120, : width * 3 // 4] = 40  # printed to the top edge, three quarters across
    cv2.putText(bannered, "UBND TINH BINH DINH", (30, 80), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 4)
    clean = cleanup.clean_page(bannered)
    assert clean.display.shape == bannered.shape  # nothing cut off
    assert (clean.ocr[:120, : width * 3 // 4] == 255).mean() < 0.5  # not whitened away for OCR either


def test_a_page_with_no_border_keeps_its_size(page):
    assert cleanup.clean_page(page.bgr).display.shape == page.bgr.shape


def test_turning_a_quarter_is_lossless(page):
    turned = cleanup.rotate_quarter(page.bgr, 90)
    assert np.array_equal(cleanup.rotate_quarter(turned, 270), page.bgr)


@pytest.mark.parametrize(("size", "expected"), [((1654, 2339), 200.0), ((2480, 3508), 300.0), ((1000, 1000), None)])
def test_missing_dpi_is_estimated_from_a_standard_paper_size(size, expected):
    assert pages.estimate_dpi(*size) == expected


@pytest.mark.parametrize(("confidences", "kept"), [
    ({180: 95.0, 0: 20.0}, 180),  # the guess reads well: one reading
    ({180: 16.6, 0: 44.2}, 0),  # a chart the guess turned: the reading without the guess wins
    ({180: 60.0, 0: 20.0}, 180),  # the guess's reading is clearly better: kept
    ({180: 50.0, 0: 45.0}, 0),  # not clearly better: the page stays as scanned
])
def test_a_badly_read_guess_is_weighed_against_the_reading_without_it(monkeypatch, tmp_path, confidences, kept):
    """The decision alone (readings faked by their confidence; the real ones are in test_engine_pdf)."""
    from digitize import engine

    read = []

    def fake_read(scan, rotation, page, stem, settings, *reader):
        read.append(rotation)
        report = engine.PageReport(1, "p", 200, "file", rotation, 0.0, False, confidences[rotation], 10)
        return engine._PageDone(None, report, "")

    monkeypatch.setattr(cleanup, "guess_orientation", lambda gray: cleanup.OrientationGuess(180, False, -1.3, 9))
    monkeypatch.setattr(engine, "_clean_and_read", fake_read)
    monkeypatch.setattr(engine, "_osd", lambda *args: 0)
    source = tmp_path / "page.png"
    text_page(dpi=100).save(source)
    page = pages.plan_pages(source, default_dpi=300).pages[0]
    done = engine.process_page(page, tmp_path, OcrSettings())
    assert done.report.rotation == kept
    assert read == ([180] if confidences[180] >= 70 else [180, 0])


def test_the_ocr_image_of_a_turned_page_is_the_same_as_turning_its_red_channel(page):
    scan = skewed(page, 3.0)
    clean = cleanup.clean_page(scan)
    assert abs(clean.skew - 3.0) < 0.3
    turned_red = cleanup.rotate_small(cleanup.ocr_gray(scan), -clean.skew)
    expected = cleanup.despeckle(cleanup.flatten_illumination(turned_red))
    assert np.array_equal(clean.ocr, expected)


def test_a_verdict_already_given_spares_the_blank_test(page, monkeypatch):
    calls = []
    is_blank = cleanup.is_blank
    monkeypatch.setattr(cleanup, "is_blank", lambda *a, **k: calls.append(1) or is_blank(*a, **k))
    assert not cleanup.clean_page(skewed(page, 2.0), 0, page.dpi, blank=False).blank
    assert calls == []
    assert not cleanup.clean_page(skewed(page, 2.0), 0, page.dpi).blank
    assert calls == [1]


def test_a_page_of_text_is_told_not_blank_from_a_half_size_copy(page, monkeypatch):
    looked_at = []
    ink = cleanup._ink
    monkeypatch.setattr(cleanup, "_ink", lambda darkest: looked_at.append(darkest.shape) or ink(darkest))
    assert not cleanup.is_blank(page.bgr, page.dpi)
    assert len(looked_at) == 1 and looked_at[0][0] <= (page.bgr.shape[0] + 1) // 2  # the full page was not needed
    looked_at.clear()
    assert cleanup.is_blank(blank_page(dpi=200).bgr, 200)
    assert len(looked_at) == 2  # an empty sheet is looked at in full before it is called blank


@pytest.mark.parametrize(("rotation", "turn", "crop"), [
    (0, 0.0, None), (0, 3.5, None), (90, -2.0, None), (180, 4.0, (30, 1400, 20, 980)), (270, 0.0, (0, 900, 10, 1200)),
])
def test_the_page_geometry_says_where_each_pixel_of_the_scan_lands(rotation, turn, crop):
    """The matrix the PDF draws the scan with puts every pixel where the OCR image (made by turning) has it."""
    scan = np.full((1500, 1000), 255, np.uint8)
    scan[200:220, 700:730] = 0  # a dark mark, off the centre
    geometry = cleanup.Geometry(1000, 1500, rotation, turn, crop)
    page = geometry.apply(scan)
    assert page.shape[1::-1] == geometry.size
    ys, xs = np.nonzero(page < 128)
    seen = np.array([xs.mean(), ys.mean()])
    assert np.allclose((geometry.matrix() @ [714.5, 209.5, 1.0])[:2], seen, atol=1.0)
    # the PDF's matrix: the mark's centre in the image's unit square, drawn on a page of the same pixels at 72 dpi
    a, b, c, d, e, f = geometry.pdf_matrix(72.0)
    u, v = 715.0 / 1000, 1 - 210.0 / 1500
    x, y = a * u + c * v + e, b * u + d * v + f
    assert np.allclose([x - 0.5, geometry.size[1] - y - 0.5], seen, atol=1.0)


def test_cleaning_for_ocr_turns_only_the_grey_image_and_matches_the_colour_page(page):
    scan = skewed(page, 3.0)
    cleaned = cleanup.clean_for_ocr(cleanup.ocr_gray(scan), 180)
    whole = cleanup.clean_page(scan, 180)
    assert np.array_equal(cleaned.ocr, whole.ocr) and cleaned.geometry == whole.geometry
    assert cleaned.skew == pytest.approx(3.0, abs=0.3) and cleaned.geometry.turn == -cleaned.skew
    assert cleaned.geometry.rotation == 180
    assert np.array_equal(cleanup.ocr_gray(cleaned.geometry.apply(scan)), cleanup.ocr_gray(whole.display))


def test_one_sketch_serves_the_guess_and_the_deskew_with_each_angle_scored_once(page, monkeypatch):
    scores = []
    real = cleanup._Ink._score
    monkeypatch.setattr(cleanup._Ink, "_score", lambda self, angle: scores.append(angle) or real(self, angle))
    sketch = cleanup.Sketch(cleanup.ocr_gray(skewed(page, -2.5)))
    assert cleanup.guess_orientation(sketch).rotation == 0
    after_guess = len(scores)
    assert sketch.skew(0) == pytest.approx(-2.5, abs=0.3) and sketch.skew(180) == sketch.skew(0)
    assert len(scores) - after_guess <= 21  # only the fine search is left: the coarse one was the guess's
    assert all(scores.count(a) <= 2 for a in scores)  # at most once on the upright and once on the turned ink


def test_shrinking_by_halvings_gives_the_size_and_look_of_a_direct_resize(page):
    gray = cleanup.ocr_gray(page.bgr)
    for scale in (0.5, 0.3, 0.2417, 1000 / max(gray.shape)):
        direct = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        fast = cleanup.shrink(gray, scale)
        assert fast.shape == direct.shape
        assert np.abs(fast.astype(int) - direct.astype(int)).mean() < 3
    assert cleanup.shrink(gray, 1.0) is gray


@pytest.mark.parametrize(("turn", "angle"), [(0, 0.0), (180, 3.0)])
def test_a_seal_is_found_where_the_ocr_image_has_it_without_turning_the_colour_scan(page, turn, angle):
    from digitize import engine, layout

    sealed = with_red_seal(page)
    scan = cleanup.rotate_quarter(skewed(sealed, angle), turn)  # as it lay on the glass
    whole = cleanup.clean_page(scan, (360 - turn) % 360)
    ((left, top, right, bottom),) = engine._seal_boxes(scan, whole.geometry, page.dpi)
    ((l0, t0, r0, b0),) = layout.seal_boxes(whole.display, page.dpi)  # found on the turned colour page
    cx, cy, r = page.pixels.shape[1] // 2, round(1.5 * page.dpi), round(0.6 * page.dpi)
    assert left <= cx - 0.9 * r and right >= cx + 0.9 * r and top <= cy - 0.9 * r and bottom >= cy + 0.9 * r
    near = 0.1 * page.dpi
    assert max(abs(left - l0), abs(top - t0), abs(right - r0), abs(bottom - b0)) < near
