"""Draw a sample page (text, signature, seal) and age it into a scan.

:func:`render_page` returns the clean, upright page and the text lines exactly
as drawn; :func:`scan` adds what a real scanner and real paper add: skew,
paper tone, uneven light, speckle, blur, and a quarter or half turn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from layout import Block, Gap, Page, Scan, Text

A4_MM = (210.0, 297.0)
MARGIN_MM = {"left": 30.0, "right": 15.0, "top": 20.0, "bottom": 15.0}
HEADER_LEFT_MM = 72.0  # width of the issuing-body column; the motto takes the rest
FOOTER_LEFT_MM = 70.0
LINE_SPACING = 1.25
INK = (25, 25, 30)
SIGNATURE_BLUE = (30, 45, 150)
SEAL_RED = np.array([0.84, 0.12, 0.16])  # the stamp ink as a multiplier per channel
SEAL_DIAMETER_MM = 36.0
SENSOR_GRAIN = 0.006  # standard deviation of the per-pixel noise, in units of full scale
FONT_FILES = {
    "regular": "LiberationSerif-Regular.ttf",
    "bold": "LiberationSerif-Bold.ttf",
    "italic": "LiberationSerif-Italic.ttf",
    "bolditalic": "LiberationSerif-BoldItalic.ttf",
}
VIETNAMESE = "ĂÂĐÊÔƠƯăâđêôơưẠẢẤẦẨẪẬẮẰẲẴẶẸẺẼẾỀỂỄỆỈỊỌỎỐỒỔỖỘỚỜỞỠỢỤỦỨỪỬỮỰỲỴỶỸạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ"
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")


@dataclass(frozen=True)
class Box:
    """A rectangle in pixels."""

    x: int
    y: int
    width: int
    height: int

    @property
    def center(self) -> tuple[int, int]:
        return self.x + self.width // 2, self.y + self.height // 2


@dataclass(frozen=True)
class DrawnLine:
    """One line of text as drawn: its text, baseline and font size in pixels."""

    text: str
    baseline: int
    size: int


@dataclass
class Rendered:
    """A clean page: the image and its text, one entry per drawn line."""

    image: Image.Image
    lines: list[str]
    signatures: list[Box]  # where signatures go, in footer order (left column first)


def mm_to_px(mm: float, dpi: int) -> int:
    """Millimetres to pixels at ``dpi``."""
    return round(mm / 25.4 * dpi)


@lru_cache(maxsize=None)
def font_path(face: str) -> Path:
    """Find a Liberation Serif face that has the Vietnamese letters.

    Some systems carry both Liberation 1.x (no stacked-diacritic capitals such as
    'Ộ') and 2.x; only a file that draws every letter of :data:`VIETNAMESE` is used.
    """
    name = FONT_FILES[face]
    candidates = [path for folder in FONT_DIRS if folder.is_dir() for path in sorted(folder.rglob(name))]
    for path in candidates:
        if covers_vietnamese(path):
            return path
    raise FileNotFoundError(
        f"no {name} with Vietnamese glyphs under {', '.join(map(str, FONT_DIRS))}: install fonts-liberation2"
    )


def covers_vietnamese(path: Path) -> bool:
    """True if no letter of :data:`VIETNAMESE` falls back to the font's missing-glyph box."""
    font = ImageFont.truetype(str(path), 32, layout_engine=ImageFont.Layout.BASIC)
    missing = bytes(font.getmask("\ue000"))  # a private-use code point: always the missing-glyph box
    return all(bytes(font.getmask(letter)) != missing for letter in VIETNAMESE)


@lru_cache(maxsize=None)
def load_font(face: str, size_pt: float, dpi: int) -> ImageFont.FreeTypeFont:
    """The face at ``size_pt`` points for a page of ``dpi`` (basic layout: same output everywhere)."""
    size_px = round(size_pt / 72 * dpi)
    return ImageFont.truetype(str(font_path(face)), size_px, layout_engine=ImageFont.Layout.BASIC)


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int, indent: int) -> list[str]:
    """Greedy word wrap: lines no wider than ``width`` (the first one ``indent`` narrower)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        limit = width - (indent if not lines else 0)
        if current and font.getlength(candidate) > limit:
            lines.append(current)
            current = word
        else:
            current = candidate
    lines.append(current)
    return lines


def draw_line(draw: ImageDraw.ImageDraw, line: str, item: Text, font: ImageFont.FreeTypeFont, x: int, width: int, baseline: int) -> None:
    """Draw one line of ``item`` aligned in [x, x+width]; a justified line spreads its words."""
    natural = font.getlength(line)
    if item.align == "justify" and " " in line:
        words = line.split(" ")
        gap = (width - sum(font.getlength(w) for w in words)) / (len(words) - 1)
        cursor = float(x)
        for word in words:
            draw.text((round(cursor), baseline), word, font=font, fill=INK, anchor="ls")
            cursor += font.getlength(word) + gap
        return
    offset = {"left": 0, "justify": 0, "center": (width - natural) / 2, "right": width - natural}[item.align]
    draw.text((round(x + offset), baseline), line, font=font, fill=INK, anchor="ls")
    if item.underline:
        rule_y = baseline + round(font.size * 0.25)
        start = x + offset + natural * 0.15
        draw.line([(round(start), rule_y), (round(start + natural * 0.7), rule_y)], fill=INK, width=max(1, font.size // 16))


def draw_block(draw: ImageDraw.ImageDraw, block: Block, column: Box, dpi: int) -> tuple[int, list[DrawnLine], list[Box]]:
    """Draw a column's paragraphs top-down; return the bottom y, the lines and signature boxes."""
    y = column.y
    lines: list[DrawnLine] = []
    signatures: list[Box] = []
    for item in block:
        if isinstance(item, Gap):
            height = mm_to_px(item.mm, dpi)
            if item.signature:
                signatures.append(Box(column.x, y, column.width, height))
            y += height
            continue
        font = load_font(item.face, item.size, dpi)
        indent = mm_to_px(item.indent_mm, dpi)
        wrapped = wrap(item.text, font, column.width, indent)
        for index, line in enumerate(wrapped):
            x = column.x + (indent if index == 0 else 0)
            width = column.width - (indent if index == 0 else 0)
            last = index == len(wrapped) - 1
            style = replace(item, align="left") if item.align == "justify" and last else item
            y += round(font.size * LINE_SPACING)
            baseline = y - round(font.size * 0.25)
            draw_line(draw, line, style, font, x, width, baseline)
            lines.append(DrawnLine(line, baseline, font.size))
        y += round(item.space_after_pt / 72 * dpi)
    return y, lines, signatures


def render_page(page: Page, dpi: int, rng: np.random.Generator) -> Rendered:
    """Lay out and draw ``page`` on white A4 at ``dpi``: text, signatures and seal."""
    width, height = mm_to_px(A4_MM[0], dpi), mm_to_px(A4_MM[1], dpi)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    left, top = mm_to_px(MARGIN_MM["left"], dpi), mm_to_px(MARGIN_MM["top"], dpi)
    content = width - left - mm_to_px(MARGIN_MM["right"], dpi)

    header_split = mm_to_px(HEADER_LEFT_MM, dpi) if page.header_left else 0
    y_left, lines_left, _ = draw_block(draw, page.header_left, Box(left, top, header_split, 0), dpi)
    y_right, lines_right, _ = draw_block(draw, page.header_right, Box(left + header_split, top, content - header_split, 0), dpi)
    y_body, lines_body, _ = draw_block(draw, page.body, Box(left, max(y_left, y_right, top), content, 0), dpi)

    footer_top = y_body + mm_to_px(4, dpi)
    footer_split = mm_to_px(FOOTER_LEFT_MM, dpi)
    y_foot_left, lines_foot_left, signs_left = draw_block(draw, page.footer_left, Box(left, footer_top, footer_split, 0), dpi)
    y_foot_right, lines_foot_right, signs_right = draw_block(
        draw, page.footer_right, Box(left + footer_split, footer_top, content - footer_split, 0), dpi
    )
    bottom = max(y_foot_left, y_foot_right)
    if bottom > height - mm_to_px(MARGIN_MM["bottom"], dpi):
        raise ValueError(f"page content overflows A4 at {dpi} dpi (ends at {bottom} px of {height})")

    signatures = signs_left + signs_right
    for box in signatures:
        draw_signature(draw, box, dpi, rng)
    if page.seal and signs_right:
        stamp_seal(image, page.seal, signs_right[-1], dpi, rng)
    lines = rows_in_order(lines_left, lines_right) + lines_body + rows_in_order(lines_foot_left, lines_foot_right)
    return Rendered(image, [line.text for line in lines if line.text], signatures)


def rows_in_order(left: list[DrawnLine], right: list[DrawnLine]) -> list[DrawnLine]:
    """Merge two side-by-side columns into visual rows, left before right on the same row.

    This is the order a reader (and Tesseract) takes through the two-column header
    and footer of these forms: "UBND XÃ ..." then "CỘNG HÒA ...", row by row.
    """
    merged: list[DrawnLine] = []
    left, right = list(left), list(right)
    while left and right:
        same_row = abs(left[0].baseline - right[0].baseline) <= max(left[0].size, right[0].size) / 2
        merged.append(left.pop(0) if same_row or left[0].baseline < right[0].baseline else right.pop(0))
    return merged + left + right


def draw_signature(draw: ImageDraw.ImageDraw, box: Box, dpi: int, rng: np.random.Generator) -> None:
    """A looping pen stroke in blue ink, centred in ``box``."""
    cx, cy = box.center
    span = mm_to_px(32, dpi)
    loop = mm_to_px(4, dpi)
    turns = rng.uniform(4.0, 6.0)
    phase = rng.uniform(0, math.tau)
    t = np.linspace(0.0, 1.0, 400)
    x = cx - span / 2 + span * t + loop * np.cos(math.tau * turns * t + phase)
    y = cy + loop * 1.6 * np.sin(math.tau * turns * t) * (1.2 - t) - mm_to_px(5, dpi) * (t - 0.5)
    tail = [(cx - span * 0.45, cy + loop * 2.2), (cx + span * 0.55, cy + loop * 1.2)]
    points = list(zip(x.round().astype(int).tolist(), y.round().astype(int).tolist()))
    stroke = max(2, mm_to_px(0.4, dpi))
    draw.line(points, fill=SIGNATURE_BLUE, width=stroke, joint="curve")
    draw.line([tuple(map(round, p)) for p in tail], fill=SIGNATURE_BLUE, width=stroke)


def seal_mask(ring_text: str, dpi: int, rng: np.random.Generator) -> np.ndarray:
    """Ink coverage (0..1) of a round seal: two rings, text around, a star in the middle."""
    size = mm_to_px(SEAL_DIAMETER_MM, dpi)
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    c = size / 2
    for radius_mm, width_mm in ((SEAL_DIAMETER_MM / 2 - 0.4, 0.7), (SEAL_DIAMETER_MM / 2 - 6.2, 0.45)):
        r = mm_to_px(radius_mm, dpi)
        draw.ellipse([c - r, c - r, c + r, c + r], outline=255, width=max(1, mm_to_px(width_mm, dpi)))
    draw_ring_text(mask, ring_text, mm_to_px(SEAL_DIAMETER_MM / 2 - 3.4, dpi), dpi)
    draw_star(draw, c, c, mm_to_px(6, dpi))
    coverage = np.asarray(mask, dtype=np.float32) / 255.0
    pressure = smooth_field(rng, coverage.shape, cells=4, low=0.55, high=1.0)
    return coverage * pressure


def draw_ring_text(mask: Image.Image, text: str, radius: int, dpi: int) -> None:
    """Set ``text`` clockwise around the circle, spread evenly over the whole ring."""
    font = load_font("bold", 8.5, dpi)
    widths = [font.getlength(ch) for ch in text]
    scale = math.tau * radius / sum(widths)
    angle = 0.0
    cx, cy = mask.size[0] / 2, mask.size[1] / 2
    for ch, w in zip(text, widths):
        theta = angle + w * scale / 2 / radius
        angle += w * scale / radius
        if ch == " ":
            continue
        glyph = Image.new("L", (font.size * 2, font.size * 2), 0)
        ImageDraw.Draw(glyph).text((font.size, font.size), ch, font=font, fill=255, anchor="mm")
        glyph = glyph.rotate(-math.degrees(theta), resample=Image.Resampling.BICUBIC)
        x = cx + radius * math.sin(theta) - glyph.size[0] / 2
        y = cy - radius * math.cos(theta) - glyph.size[1] / 2
        mask.paste(255, (round(x), round(y)), glyph)


def draw_star(draw: ImageDraw.ImageDraw, cx: float, cy: float, radius: int) -> None:
    """A filled five-pointed star (the emblem's star, simplified)."""
    points = []
    for k in range(10):
        r = radius if k % 2 == 0 else radius * 0.4
        a = math.pi * k / 5 - math.pi / 2
        points.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    draw.polygon(points, fill=255)


def stamp_seal(image: Image.Image, ring_text: str, signature: Box, dpi: int, rng: np.random.Generator) -> None:
    """Stamp the red seal over the left part of the signature, as offices do."""
    mask = seal_mask(ring_text, dpi, rng)
    turned = Image.fromarray((mask * 255).astype(np.uint8)).rotate(float(rng.uniform(-25, 25)), Image.Resampling.BICUBIC)
    mask = np.asarray(turned, dtype=np.float32) / 255.0
    cx, cy = signature.center
    x0 = cx - mm_to_px(14, dpi) - mask.shape[1] // 2
    y0 = cy - mask.shape[0] // 2 + mm_to_px(1, dpi)
    pixels = np.asarray(image, dtype=np.float32)
    region = pixels[y0 : y0 + mask.shape[0], x0 : x0 + mask.shape[1]]
    coverage = mask[..., None] * 0.9
    region *= 1.0 - coverage * (1.0 - SEAL_RED)
    image.paste(Image.fromarray(pixels.clip(0, 255).astype(np.uint8)))


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], cells: int, low: float, high: float) -> np.ndarray:
    """A slowly varying random field in [low, high] (uneven light, stamp pressure)."""
    coarse = rng.uniform(low, high, size=(cells, cells)).astype(np.float32)
    field = Image.fromarray(coarse, mode="F").resize((shape[1], shape[0]), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(field), low, high)


def scan(rendered: Rendered, spec: Scan, dpi: int, rng: np.random.Generator) -> Image.Image:
    """Turn a clean page into a scan: optics blur, skew, paper, light, speckle, turn."""
    page = rendered.image.filter(ImageFilter.GaussianBlur(radius=0.45 * dpi / 200))
    page = page.rotate(spec.skew_deg, resample=Image.Resampling.BICUBIC, fillcolor="white")
    pixels = np.asarray(page, dtype=np.float32) / 255.0
    grain = 0.0 if spec.image_format == "png" else SENSOR_GRAIN  # lossless pages: scanner denoising on
    pixels = apply_paper(pixels, grain, rng)
    pixels = add_speckle(pixels, dpi, rng)
    image = Image.fromarray((pixels * 255).round().clip(0, 255).astype(np.uint8))
    if spec.grayscale:
        image = image.convert("L")
    return turn(image, spec.rotation)


def apply_paper(pixels: np.ndarray, grain_sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Multiply by a greyish paper tone under uneven scanner light, plus fine sensor grain."""
    tone = np.array([0.93, 0.915, 0.88], dtype=np.float32) + rng.uniform(-0.02, 0.02)
    light = smooth_field(rng, pixels.shape[:2], cells=5, low=0.9, high=1.0)
    grain = rng.normal(0.0, grain_sigma, size=pixels.shape[:2]).astype(np.float32)
    return pixels * tone * light[..., None] + grain[..., None]


def add_speckle(pixels: np.ndarray, dpi: int, rng: np.random.Generator) -> np.ndarray:
    """Scatter small dark dust specks over the page."""
    height, width = pixels.shape[:2]
    count = int(rng.integers(150, 300))
    ys = rng.integers(0, height - 3, size=count)
    xs = rng.integers(0, width - 3, size=count)
    sizes = rng.integers(1, max(2, dpi // 100) + 1, size=count)
    darkness = rng.uniform(0.35, 0.75, size=count).astype(np.float32)
    for y, x, s, d in zip(ys, xs, sizes, darkness):
        pixels[y : y + s, x : x + s] *= d
    return pixels


def turn(image: Image.Image, rotation: int) -> Image.Image:
    """Turn the stored image clockwise by 0, 90 or 180 degrees (a page fed sideways or upside down)."""
    transposes = {0: None, 90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180}
    if rotation not in transposes:
        raise ValueError(f"rotation must be 0, 90 or 180, not {rotation}")
    method = transposes[rotation]
    return image if method is None else image.transpose(method)
