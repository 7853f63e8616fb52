"""The visible signature prescribed for a digital copy of a paper document.

Decree 30/2020/NĐ-CP, Phụ lục I, Phần II, Mục I: the copying agency's
signature sits at the top right of the first page, without a signature image;
its text is the copy form ("SAO Y", "SAO LỤC", "TRÍCH SAO"), the agency's name
and the signing time (ISO 8601, Vietnam time zone), in Times New Roman, 10 pt,
upright, black. Liberation Serif has Times New Roman's metrics and is used here.
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

VIETNAM_TIME = VIETNAM
FONT_SIZE = 10
LEADING = 12
PADDING = 4  # points between the text and the widget's edge
DESCENT = 3  # points below the last baseline (Liberation Serif's descender is 2.2 pt at 10 pt)
PAGE_MARGIN = 28  # points (about 1 cm) from the top and right edges of the page
STAMP_TEXT = "%(copy_form)s\n%(agency)s\n%(signed_at)s"


@dataclass(frozen=True)
class StampLayout:
    """The stamp's lines and the widget rectangle (x1, y1, x2, y2) on page 1."""

    lines: tuple[str, str, str]
    box: tuple[int, int, int, int]

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


def layout_stamp(
    lines: tuple[str, str, str],
    font: StampFont,
    page_box: tuple[float, float, float, float],
) -> StampLayout:
    """Place the stamp at the top right of a page whose visible box is ``page_box``."""
    widest = max(font.text_width(line, FONT_SIZE) for line in lines)
    # kerning only narrows Liberation Serif's lines; 2% covers rounding
    width = math.ceil(widest * 1.02) + 2 * PADDING
    height = LEADING * len(lines) + DESCENT + 2 * PADDING
    x0, y0, x1, y1 = page_box
    right = math.floor(x1 - PAGE_MARGIN)
    top = math.floor(y1 - PAGE_MARGIN)
    left = max(math.ceil(x0), right - width)
    return StampLayout(lines=lines, box=(left, top - height, right, top))


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
