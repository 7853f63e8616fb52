"""Small real inputs for intake and flow tests: text pages, QR cover sheets, batches."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT = Path("/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf")
DPI = 200
#: A5 at 200 dpi: big enough for Tesseract, small enough to keep tests quick.
PAGE = (1165, 1654)

LINES = (
    "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    "Độc lập - Tự do - Hạnh phúc",
    "GIẤY CHỨNG NHẬN",
    "Ủy ban nhân dân xã Phước Lộc chứng nhận",
    "hộ kinh doanh Nguyễn Thị Hồng Nhung",
    "tại thôn Tân Điền, tỉnh Bình Định.",
)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.truetype(str(FONT), size) if FONT.is_file() else ImageFont.load_default()


def text_page(title: str = "", lines: tuple[str, ...] = LINES) -> Image.Image:
    """A clean A5 page of Vietnamese text at 200 dpi."""
    page = Image.new("RGB", PAGE, (250, 249, 244))
    draw = ImageDraw.Draw(page)
    font = _font(34)
    y = 140
    for line in (*lines, title):
        if line:
            draw.text((110, y), line, fill=(25, 25, 25), font=font)
        y += 70
    return page


def cover_page(payload: str) -> Image.Image:
    """A cover sheet: a QR code carrying ``payload`` and a caption."""
    qr = cv2.QRCodeEncoder.create().encode(payload)
    qr = cv2.resize(qr, None, fx=10, fy=10, interpolation=cv2.INTER_NEAREST)
    page = Image.new("RGB", PAGE, (255, 255, 255))
    page.paste(Image.fromarray(qr).convert("RGB"), (200, 200))
    ImageDraw.Draw(page).text((200, 200 + qr.shape[0] + 40), "PHIẾU TÁCH HỒ SƠ", fill=(0, 0, 0), font=_font(40))
    return page


def save_pdf(pages: list[Image.Image], path: Path) -> Path:
    """An image-only PDF of ``pages`` at 200 dpi."""
    pages[0].save(path, "PDF", save_all=True, append_images=pages[1:], resolution=DPI)
    return path


def as_array(page: Image.Image) -> np.ndarray:
    return cv2.cvtColor(np.asarray(page), cv2.COLOR_RGB2BGR)
