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
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from digitize.ocr import Word

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
        for before, after in zip(line, line[1:]):
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

    left = sorted((p for p, s in zip(parts, sides) if s == "left"), key=top)
    right = sorted((p for p, s in zip(parts, sides) if s != "left"), key=top)
    return left + right
