"""The visible signature prescribed for a digital copy of a paper document.

Decree 30/2020/NĐ-CP, Phụ lục I, Phần II, Mục I: the copying agency's
signature sits at the top right of the first page, without a signature image;
its text is the copy form ("SAO Y", "SAO LỤC", "TRÍCH SAO"), the agency's name
and the signing time (ISO 8601, Vietnam time zone), in Times New Roman, 10 pt,
upright, black. Liberation Serif has Times New Roman's metrics and is used here.

Where on page 1 (:func:`place_stamp`): the stamp covers nothing. Page 1's ink
(:mod:`signing.ink`) is searched in the top-right quarter for the free
rectangle of the stamp's size, :data:`INK_CLEARANCE` points from any ink and
:data:`EDGE_MARGIN` from the page's edges, nearest the usual place
(:data:`PAGE_MARGIN` from the top and right edges). When the quarter has no
such room, the page grows a blank band above the scan (its MediaBox is raised;
the scan stays where it is, at 100% scale) and the stamp sits in that band at
the top right.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from pyhanko.pdf_utils import layout
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.stamp import TextStampStyle

from digitize.models import VIETNAM, nfc
from signing.fonts import StampFont, StampFontFactory
from signing.ink import PageInk, free_rect

VIETNAM_TIME = VIETNAM
FONT_SIZE = 10
LEADING = 12
PADDING = 4  # points between the text and the widget's edge
DESCENT = 3  # points below the last baseline (Liberation Serif's descender is 2.2 pt at 10 pt)
PAGE_MARGIN = 28  # points (about 1 cm) from the top and right edges of the page: the usual place
EDGE_MARGIN = 6  # points: the stamp never comes closer to the page's edge
INK_CLEARANCE = 2  # points between the stamp's rectangle and the nearest ink of the page
BAND_MARGIN = 8  # points above and below the stamp in a band added above the scan
STAMP_TEXT = "%(copy_form)s\n%(agency)s\n%(signed_at)s"


@dataclass(frozen=True)
class StampLayout:
    """The stamp's lines and the widget rectangle (x1, y1, x2, y2) on page 1.

    ``page_box`` is set when page 1 must grow a band above the scan to hold the
    stamp: its new visible box (x0, y0, x1, y1).
    """

    lines: tuple[str, str, str]
    box: tuple[int, int, int, int]
    page_box: tuple[float, float, float, float] | None = None

    @property
    def text_params(self) -> dict[str, str]:
        """Values for :data:`STAMP_TEXT` (pyHanko interpolates them, '%' and all)."""
        copy_form, agency, signed_at = self.lines
        return {"copy_form": copy_form, "agency": agency, "signed_at": signed_at}


def vietnam_time_text(when: datetime) -> str:
    """``when`` as ISO 8601 in Vietnam time, e.g. ``2026-11-28T09:15:00+07:00``."""
    return when.astimezone(VIETNAM_TIME).isoformat(timespec="seconds")


def stamp_lines(copy_form: str, agency_name: str, when: datetime) -> tuple[str, str, str]:
    """The three lines of the stamp: copy form, agency, signing time."""
    return nfc(copy_form).strip(), nfc(agency_name).strip(), vietnam_time_text(when)


def stamp_size(lines: tuple[str, str, str], font: StampFont) -> tuple[int, int]:
    """The widget's width and height in whole points for ``lines`` in ``font`` at 10 pt."""
    widest = max(font.text_width(line, FONT_SIZE) for line in lines)
    # kerning only narrows Liberation Serif's lines; 2% covers rounding
    width = math.ceil(widest * 1.02) + 2 * PADDING
    height = LEADING * len(lines) + DESCENT + 2 * PADDING
    return width, height


def place_stamp(
    lines: tuple[str, str, str],
    font: StampFont,
    page_box: tuple[float, float, float, float],
    ink: PageInk,
) -> StampLayout:
    """Place the stamp at the top right of page 1 where it covers no ink (see the module's description).

    ``ink`` is page 1 rendered (:func:`signing.ink.render_ink`) over ``page_box``.
    Without room in the top-right quarter, the layout asks for a band above the
    scan (:attr:`StampLayout.page_box`).
    """
    width, height = stamp_size(lines, font)
    x0, y0, x1, y1 = page_box
    region = ((x0 + x1) / 2, (y0 + y1) / 2, x1 - EDGE_MARGIN, y1 - EDGE_MARGIN)
    anchor = (x1 - PAGE_MARGIN, y1 - PAGE_MARGIN)
    rect = free_rect(ink, (width, height), region=region, anchor=anchor, clearance=INK_CLEARANCE)
    if rect is None:
        return _in_band_above(lines, (width, height), page_box)
    # whole points; the shift (under a point) stays within the clearance
    left, top = math.ceil(rect[0]), math.floor(rect[3])
    return StampLayout(lines=lines, box=(left, top - height, left + width, top))


def _in_band_above(
    lines: tuple[str, str, str], size: tuple[int, int], page_box: tuple[float, float, float, float]
) -> StampLayout:
    """The stamp in a blank band added above the page's top edge, at the right."""
    width, height = size
    x0, y0, x1, y1 = page_box
    right = math.floor(x1 - PAGE_MARGIN)
    left = max(math.ceil(x0), right - width)
    bottom = math.ceil(y1) + BAND_MARGIN
    top = bottom + height
    return StampLayout(lines=lines, box=(left, bottom, left + width, top),
                       page_box=(x0, y0, x1, float(top + BAND_MARGIN)))


def stamp_style(font: StampFont) -> TextStampStyle:
    """Text-only stamp: embedded font, 10 pt, black (default colour), no border or image."""
    text_style = TextBoxStyle(
        font=StampFontFactory(font=font, font_size=FONT_SIZE),
        font_size=FONT_SIZE,
        leading=LEADING,
        border_width=0,
        box_layout_rule=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MIN,
            y_align=layout.AxisAlignment.ALIGN_MIN,
            margins=layout.Margins(bottom=DESCENT),
            inner_content_scaling=layout.InnerScaling.NO_SCALING,
        ),
    )
    return TextStampStyle(
        stamp_text=STAMP_TEXT,
        text_box_style=text_style,
        border_width=0,
        background=None,
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MIN,
            y_align=layout.AxisAlignment.ALIGN_MAX,
            margins=layout.Margins.uniform(PADDING),
            inner_content_scaling=layout.InnerScaling.NO_SCALING,
        ),
    )
