"""Generated Vietnamese test pages for the scan engine: known text at known places.

A page is drawn with Pillow in Liberation Serif (fonts-liberation2 covers every
Vietnamese letter), so a test knows each word's box in pixels; it can then be
turned, skewed, stamped with a red seal or framed by a dark scanner border.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from digitize import cleanup

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf"),
    Path("/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf"),
)

LINES = (
    "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    "Độc lập - Tự do - Hạnh phúc",
    "GIẤY XÁC NHẬN TÌNH TRẠNG HÔN NHÂN",
    "Ủy ban nhân dân xã Phước Lộc, huyện Tuy Phước, tỉnh Bình Định",
    "Xét đề nghị của ông Nguyễn Văn Hùng về việc cấp giấy xác nhận",
    "tình trạng hôn nhân để làm thủ tục đăng ký kết hôn.",
    "Người được cấp giấy: Trần Thị Thu Hương, sinh ngày 12 tháng 5",
    "năm 1994, nơi cư trú: thôn Quảng Tín, xã Phước Lộc.",
    "Tình trạng hôn nhân: chưa đăng ký kết hôn với ai.",
    "Giấy này có giá trị sử dụng trong thời hạn sáu tháng.",
)


@dataclass(frozen=True)
class Word:
    text: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, top-left origin


@dataclass(frozen=True)
class Page:
    pixels: np.ndarray  # RGB, uint8
    dpi: int
    words: tuple[Word, ...]

    @property
    def bgr(self) -> np.ndarray:
        return self.pixels[:, :, ::-1].copy()

    def save(self, path: Path) -> Path:
        Image.fromarray(self.pixels).save(path, dpi=(self.dpi, self.dpi))
        return path


def font_file() -> Path:
    for candidate in FONT_CANDIDATES:
        if candidate.is_file():
            return candidate
    pytest.skip("needs Liberation Serif (apt-get install fonts-liberation2)")


def text_page(dpi: int = 200, lines: tuple[str, ...] = LINES, size_pt: float = 12) -> Page:
    """An A5 portrait page (148 x 210 mm) of ``lines`` in 12 pt, with each word's box."""
    width, height = round(5.83 * dpi), round(8.27 * dpi)
    image = Image.new("RGB", (width, height), (250, 248, 240))
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(font_file()), round(size_pt * dpi / 72))
    margin, y = round(0.6 * dpi), round(0.8 * dpi)
    space = draw.textlength(" ", font=font)
    words = []
    for line in lines:
        x = float(margin)
        for word in line.split():
            draw.text((x, y), word, font=font, fill=(20, 20, 20))
            x0, y0, x1, y1 = draw.textbbox((x, y), word, font=font)
            words.append(Word(word, (x0, y0, x1, y1)))
            x += draw.textlength(word, font=font) + space
        y += round(size_pt * 1.8 * dpi / 72)
    return Page(np.asarray(image).copy(), dpi, tuple(words))


def blank_page(dpi: int = 200) -> Page:
    """An empty sheet: paper tone, a little grain and a few specks of dust."""
    rng = np.random.default_rng(7)
    width, height = round(5.83 * dpi), round(8.27 * dpi)
    pixels = np.clip(rng.normal(245, 4, (height, width, 3)), 0, 255).astype(np.uint8)
    for _ in range(30):
        y, x = rng.integers(0, height - 2), rng.integers(0, width - 2)
        pixels[y:y + 2, x:x + 2] = 40
    return Page(pixels, dpi, ())


def skewed(page: Page, degrees: float) -> np.ndarray:
    """The page turned counter-clockwise by ``degrees`` (as it lay on the glass), BGR."""
    return cleanup.rotate_small(page.bgr, degrees)


def with_red_seal(page: Page) -> Page:
    """The page with a solid red seal (ring and star) stamped over its text."""
    image = Image.fromarray(page.pixels)
    draw = ImageDraw.Draw(image)
    cx, cy, r = page.pixels.shape[1] // 2, round(1.5 * page.dpi), round(0.6 * page.dpi)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(215, 30, 35), width=max(4, page.dpi // 25))
    draw.ellipse((cx - r // 3, cy - r // 3, cx + r // 3, cy + r // 3), fill=(215, 30, 35))
    return Page(np.asarray(image).copy(), page.dpi, page.words)


def with_dark_border(page: Page, width_px: int = 40) -> Page:
    """The page with the black strips a scanner lid leaves on the left and bottom edges."""
    pixels = page.pixels.copy()
    pixels[:, :width_px] = 15
    pixels[-width_px:, :] = 15
    return Page(pixels, page.dpi, page.words)


def tesseract_double(bin_dir: Path, *, passthrough: str, then: str) -> Path:
    """A fault double for Tesseract in ``bin_dir`` (with poppler's tools beside it, so PATH can be just it and
    the system's): calls whose arguments match the shell pattern ``passthrough`` go to the real Tesseract,
    any other runs the shell lines ``then``. Returns ``bin_dir``."""
    import os
    import shutil

    bin_dir.mkdir()
    for tool in ("pdftoppm", "pdftotext"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    fake = bin_dir / "tesseract"
    fake.write_text(f'#!/bin/sh\ncase "$*" in {passthrough}) exec {shutil.which("tesseract")} "$@";; esac\n{then}\n')
    fake.chmod(0o755)
    return bin_dir


def gone(pid: int) -> bool:
    """True when ``pid`` is neither running nor a zombie (it was reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
