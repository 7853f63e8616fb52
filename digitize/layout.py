"""Reading order of the Decree 30/2020 layout (Phụ lục I) from Tesseract's word boxes.

An administrative document opens with a header in two columns (issuing body
and number on the left; national title, motto, place and date on the right)
and closes with two columns (recipients, "Nơi nhận", on the left; the
signature block on the right). Tesseract reads such rows across both columns,
so their lines come out interleaved ("ỦY BAN NHÂN DÂN CỘNG HÒA XÃ HỘI ...").

Here each Tesseract line is cut where a gap between two words is far wider
than a space, into segments; a segment lies in the left column (a piece of a cut line whose
middle is left of the page's, or a whole line ending before the middle), the
right one, or spans the middle (body text, a centred title). The rows above the first spanning
segment are the header, those below the last one the closing blocks: in each,
the left column is read top to bottom, then the right one. Everything between
stays in Tesseract's order, so forms with fields side by side are still read
row by row. Only the order changes; every word keeps its box.

Red seals (:func:`seal_boxes`) are found on the colour page image; words read
inside one with a low confidence (ring letters, the signature under the seal)
are left out of the text layer by :func:`outside_seals`: the image keeps them.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median
from typing import Protocol

import cv2
import numpy as np


class Word(Protocol):
    """What the layout needs of a word Tesseract read (:class:`digitize.ocr.Word` is one): its box
    in pixels, its confidence and its (block, paragraph, line) as Tesseract numbered them."""

    @property
    def conf(self) -> float: ...
    @property
    def left(self) -> int: ...
    @property
    def top(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def line(self) -> tuple[int, int, int]: ...
    @property
    def right(self) -> int: ...
    @property
    def bottom(self) -> int: ...

#: A gap between two words of a line wider than this many word heights (and than
#: :data:`MIN_GAP_FRACTION` of the page) separates two columns.
GAP_HEIGHTS = 2.5
MIN_GAP_FRACTION = 0.04
#: Left column: ends before this fraction of the page width; right: starts after 1 - this.
COLUMN_EDGE = 0.55


def segments(words: Sequence[Word]) -> list[list[int]]:
    """Tesseract's lines (in its order) cut at wide gaps: lists of word indexes, left to right."""
    return [part for line in _cut_lines(words) for part in line]


def _cut_lines(words: Sequence[Word]) -> list[list[list[int]]]:
    """Each Tesseract line (in its order) as its segments (see :func:`segments`)."""
    lines: dict[tuple[int, int, int], list[int]] = {}
    for i, word in enumerate(words):
        lines.setdefault(word.line, []).append(i)
    page_width = max((w.right for w in words), default=0)
    out = []
    for line in lines.values():
        line = sorted(line, key=lambda i: words[i].left)
        height = median(words[i].height for i in line)
        gap = max(GAP_HEIGHTS * height, MIN_GAP_FRACTION * page_width)
        parts, current = [], [line[0]]
        for before, after in zip(line, line[1:], strict=False):
            if words[after].left - words[before].right > gap:
                parts.append(current)
                current = []
            current.append(after)
        parts.append(current)
        out.append(parts)
    return out


def reading_order(words: Sequence[Word], page_width: int) -> list[list[int]]:
    """The page's lines in reading order, each a list of word indexes (see the module doc)."""
    lines = _cut_lines(words)
    parts = [part for line in lines for part in line]
    if not parts or page_width <= 0:
        return parts

    def side(part: list[int], cut: bool) -> str:
        left, right = words[part[0]].left, words[part[-1]].right
        if cut:  # a piece of a line cut at a wide gap lies in one column, even a wide title
            return "left" if left + right < page_width else "right"
        if right <= COLUMN_EDGE * page_width:
            return "left"
        if left >= (1 - COLUMN_EDGE) * page_width:
            return "right"
        return "span"

    sides = [side(part, len(line) > 1) for line in lines for part in line]
    spanning = [i for i, s in enumerate(sides) if s == "span"]
    if not spanning:
        return _columns(parts, sides, words)
    first, last = spanning[0], spanning[-1]
    # the header: segments above the first spanning one (by position, not Tesseract's order)
    top = words[parts[first][0]].top
    bottom = max(words[i].bottom for i in parts[last])
    head = [k for k, p in enumerate(parts) if sides[k] != "span" and _bottom(p, words) <= top]
    tail = [k for k, p in enumerate(parts) if sides[k] != "span" and words[p[0]].top >= bottom and k not in head]
    middle = [k for k in range(len(parts)) if k not in head and k not in tail]
    return (_columns([parts[k] for k in head], [sides[k] for k in head], words)
            + [parts[k] for k in middle]
            + _columns([parts[k] for k in tail], [sides[k] for k in tail], words))


def _bottom(part: list[int], words: Sequence[Word]) -> int:
    return max(words[i].bottom for i in part)


def _columns(parts: list[list[int]], sides: list[str], words: Sequence[Word]) -> list[list[int]]:
    """Left-column segments top to bottom, then the right column's (a zone without spanning lines)."""
    def top(part: list[int]) -> int:
        return min(words[i].top for i in part)

    left = sorted((p for p, s in zip(parts, sides, strict=False) if s == "left"), key=top)
    right = sorted((p for p, s in zip(parts, sides, strict=False) if s != "left"), key=top)
    return left + right


#: Red ink: the red channel this much above green and blue (a seal's red, not cream paper).
RED_OVER_GREEN, RED_OVER_BLUE = 60, 40
#: A seal's red area is at least this wide and high (office seals are 30-42 mm across).
SEAL_MIN_MM = 15.0
#: Resolution the red mask is worked at (enough for a seal; cheap).
SEAL_DPI = 50.0


def seal_boxes(image_bgr: np.ndarray, dpi: float) -> list[tuple[int, int, int, int]]:
    """Boxes (left, top, right, bottom, in the image's pixels) of red seals on a colour page image.

    A seal is a connected area of red ink at least :data:`SEAL_MIN_MM` wide and
    high, found on a copy scaled to :data:`SEAL_DPI`. A grey image has none."""
    if image_bgr.ndim != 3 or dpi <= 0:
        return []
    scale = min(1.0, SEAL_DPI / dpi)
    small = cv2.resize(image_bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image_bgr
    b, g, r = (small[:, :, k].astype(np.int16) for k in range(3))
    red = ((r - g > RED_OVER_GREEN) & (r - b > RED_OVER_BLUE)).astype(np.uint8)
    side = max(1, round(2 * SEAL_DPI / 25.4 * (dpi * scale / SEAL_DPI)))  # about 2 mm: join a seal's ring and text
    red = cv2.morphologyEx(red, cv2.MORPH_CLOSE, np.ones((side, side), np.uint8))
    count, _labels, stats, _centres = cv2.connectedComponentsWithStats(red, connectivity=8)
    least = SEAL_MIN_MM / 25.4 * dpi * scale
    boxes = []
    for k in range(1, count):
        x, y, w, h = (int(v) for v in stats[k][:4])
        if w >= least and h >= least:
            boxes.append((round(x / scale), round(y / scale), round((x + w) / scale), round((y + h) / scale)))
    return _merged(boxes)


def _merged(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Overlapping boxes (a seal's inner and outer rings) as one."""
    out: list[tuple[int, int, int, int]] = []
    for box in sorted(boxes):
        for k, have in enumerate(out):
            if box[0] <= have[2] and have[0] <= box[2] and box[1] <= have[3] and have[1] <= box[3]:
                out[k] = (min(box[0], have[0]), min(box[1], have[1]), max(box[2], have[2]), max(box[3], have[3]))
                break
        else:
            out.append(box)
    return out


def outside_seals(words: Sequence[Word], order: list[list[int]], boxes: Sequence[tuple[int, int, int, int]],
                  below: float) -> list[list[int]]:
    """``order`` without the words read with a confidence under ``below`` whose centre lies in a seal box
    (a seal's ring letters and a signature under it read as stray characters; the image keeps them)."""
    if not boxes:
        return order

    def in_seal(word: Word) -> bool:
        x, y = (word.left + word.right) / 2, (word.top + word.bottom) / 2
        return any(x0 <= x <= x1 and y0 <= y <= y1 for x0, y0, x1, y1 in boxes)

    kept = [[i for i in line if not (words[i].conf < below and in_seal(words[i]))] for line in order]
    return [line for line in kept if line]
