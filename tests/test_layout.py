"""Reading order of the Decree 30 layout (issue 14): header and closing columns read block by block,
every word of the text layer left at its place."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from digitize import layout, ocr
from tests.engine_fixtures import font_file

LEFT_HEAD = ("ỦY BAN NHÂN DÂN", "PHƯỜNG NHƠN BÌNH", "Số: 412/QĐ-UBND")
RIGHT_HEAD = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "Nhơn Bình, ngày 27 tháng 11 năm 2026")
BODY = ("Căn cứ Luật Tổ chức chính quyền địa phương ngày 16 tháng 6 năm 2025 của Quốc hội;",
        "Xét đề nghị của công chức Văn hóa - Xã hội phường Nhơn Bình về trợ cấp hàng tháng.")
LEFT_FOOT = ("Nơi nhận:", "- Như Điều 3;", "- Lưu: VT.")
RIGHT_FOOT = ("CHỦ TỊCH", "Trần Văn Hùng")


def _word(text: str, left: int, top: int, line: int, width: int = 80) -> ocr.Word:
    return ocr.Word(text, 95.0, left, top, width, 30, (1, 1, line))


def test_header_and_closing_columns_are_read_left_then_right_and_the_body_in_between():
    words = [
        _word("ỦY", 100, 100, 1), _word("BAN", 190, 100, 1), _word("CỘNG", 900, 100, 1), _word("HÒA", 990, 100, 1),
        _word("PHƯỜNG", 100, 150, 2), _word("Độc", 900, 150, 2), _word("lập", 990, 150, 2),
        *(_word(w, 100 + 150 * k, 300, 3) for k, w in enumerate("Căn cứ Luật Tổ chức chính quyền".split())),
        _word("Nơi", 100, 500, 4), _word("nhận:", 190, 500, 4), _word("CHỦ", 900, 500, 4), _word("TỊCH", 990, 500, 4),
        _word("-", 100, 550, 5), _word("Lưu.", 190, 550, 5), _word("Hùng", 900, 600, 6),
    ]
    order = layout.reading_order(words, page_width=1400)
    lines = [" ".join(words[i].text for i in line) for line in order]
    assert lines == ["ỦY BAN", "PHƯỜNG", "CỘNG HÒA", "Độc lập", "Căn cứ Luật Tổ chức chính quyền", "Nơi nhận:", "- Lưu.", "CHỦ TỊCH",
                     "Hùng"]


def test_fields_side_by_side_in_the_body_stay_row_by_row():
    words = [
        *(_word(w, 100 + 150 * k, 100, 1) for k, w in enumerate("Điều 1. trợ cấp hàng tháng cho".split())),
        _word("Họ", 100, 200, 2), _word("tên:", 190, 200, 2), _word("Giới", 900, 200, 2), _word("tính:", 990, 200, 2),
        _word("Ngày", 100, 250, 3), _word("sinh:", 190, 250, 3), _word("Dân", 900, 250, 3), _word("tộc:", 990, 250, 3),
        *(_word(w, 100 + 150 * k, 350, 4) for k, w in enumerate("Điều 2. thi hành kể từ ngày ký".split())),
    ]
    lines = [" ".join(words[i].text for i in line) for line in layout.reading_order(words, page_width=1400)]
    assert lines == ["Điều 1. trợ cấp hàng tháng cho", "Họ tên:", "Giới tính:", "Ngày sinh:", "Dân tộc:",
                     "Điều 2. thi hành kể từ ngày ký"]


def nd30_page(path: Path, dpi: int = 200) -> Path:
    """An A4 page of the Decree 30 layout, Liberation Serif (Times New Roman metrics) 13 pt, as a 200-dpi scan."""
    width, height = round(8.27 * dpi), round(11.69 * dpi)
    image = Image.new("RGB", (width, height), (252, 251, 247))
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(font_file()), round(13 * dpi / 72))
    step = round(0.28 * dpi)

    def column(lines, x_centre, y):
        for line in lines:
            draw.text((x_centre - draw.textlength(line, font=font) / 2, y), line, fill=(20, 20, 20), font=font)
            y += step
        return y

    column(LEFT_HEAD, round(2.0 * dpi), round(0.8 * dpi))
    y = column(RIGHT_HEAD, round(5.4 * dpi), round(0.8 * dpi)) + step
    for line in BODY:
        draw.text((round(1.0 * dpi), y), line, fill=(20, 20, 20), font=font)
        y += step
    y += step
    column(LEFT_FOOT, round(2.0 * dpi), y)
    column(RIGHT_FOOT, round(5.4 * dpi), y)
    image.save(path, dpi=(dpi, dpi))
    return path


def _words_and_boxes(pdf: Path) -> list[tuple[str, str]]:
    """Each word of a PDF's text with its box (pdftotext -bbox), sorted."""
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return sorted(line.strip() for line in html.splitlines() if line.strip().startswith("<word"))


@pytest.mark.tools
def test_a_generated_two_column_page_reads_in_block_order_with_every_word_at_its_place(tmp_path):
    page = nd30_page(tmp_path / "nd30.png")
    plain = ocr.ocr_page(page, 1, 200, tmp_path / "plain", languages="vie", timeout=120)
    ordered = ocr.ocr_page(page, 1, 200, tmp_path / "ordered", languages="vie", timeout=120, layout_order=True)

    def position(text: str, line: str) -> int:
        at = text.find(line)
        assert at >= 0, f"{line!r} not in {text!r}"
        return at

    # Tesseract alone reads across the columns; in block order each column is read whole
    assert position(plain.text, "CỘNG HÒA") < position(plain.text, "PHƯỜNG NHƠN BÌNH")
    for text in (ordered.text, subprocess.run(["pdftotext", "-raw", str(ordered.text_pdf), "-"],
                                              capture_output=True, text=True, check=True).stdout):
        blocks = [*LEFT_HEAD, *RIGHT_HEAD, BODY[0][:20], BODY[1][:20], *LEFT_FOOT, *RIGHT_FOOT]
        positions = [position(text, line) for line in blocks]
        assert positions == sorted(positions), text
    assert _words_and_boxes(ordered.text_pdf) == _words_and_boxes(plain.text_pdf)


def _sealed_page(dpi: int = 200) -> "np.ndarray":
    """A white page (BGR) with black text lines and a red seal ring 36 mm across, as office seals are."""
    import cv2
    import numpy as np

    page = np.full((round(8.27 * dpi), round(5.83 * dpi), 3), 250, np.uint8)
    for y in range(200, 1400, 60):
        cv2.line(page, (120, y), (1000, y), (20, 20, 20), 12)
    radius = round(18 / 25.4 * dpi)
    cv2.circle(page, (700, 1200), radius, (40, 40, 210), 8)  # BGR red
    cv2.circle(page, (700, 1200), radius - 40, (40, 40, 210), 4)
    cv2.circle(page, (300, 300), 6, (40, 40, 210), -1)  # a red dot of ink is no seal
    return page


def test_a_red_seal_is_found_and_only_unsure_words_inside_it_leave_the_text_layer():
    page = _sealed_page()
    boxes = layout.seal_boxes(page, 200)
    assert len(boxes) == 1
    x0, y0, x1, y1 = boxes[0]
    assert abs((x0 + x1) / 2 - 700) < 10 and abs((y0 + y1) / 2 - 1200) < 10 and 250 < x1 - x0 < 320
    assert layout.seal_boxes(page[:, :, :1].repeat(3, axis=2), 200) == []  # grey: no seal

    words = [ocr.Word("CHỦ", 96.0, 600, 1100, 80, 30, (1, 1, 1)), ocr.Word("@;", 22.0, 690, 1190, 30, 30, (1, 1, 1)),
             ocr.Word("tịch", 30.0, 100, 1190, 60, 30, (1, 1, 1))]
    order = layout.outside_seals(words, [[0, 1, 2]], boxes, below=50)
    assert order == [[0, 2]]  # the sure word in the seal and the unsure one outside it stay
