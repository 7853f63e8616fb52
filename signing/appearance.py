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

A page with ``/Rotate`` is read turned: the stamp is placed on the page as the
reader sees it (the top right of the turned page, its band above the turned
page's top edge) and drawn upright there: its appearance is turned back by the
page's rotation (the form's ``/Matrix``, and ``/MK /R`` on the widget).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.stamp import TextStamp, TextStampStyle

from digitize.models import VIETNAM, nfc
from signing.fonts import StampFont, StampFontFactory
from signing.ink import PageInk, PageView, free_rect

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
    """The stamp's lines and the widget rectangle (x1, y1, x2, y2) on page 1, in the page's coordinates.

    ``page_box`` is set when page 1 must grow a band above the scan to hold the
    stamp: its new visible box (x0, y0, x1, y1). ``rotate`` is page 1's ``/Rotate``,
    which the appearance turns back (:func:`stamp_style`).
    """

    lines: tuple[str, str, str]
    box: tuple[float, float, float, float]
    page_box: tuple[float, float, float, float] | None = None
    rotate: int = 0

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
    *,
    rotate: int = 0,
) -> StampLayout:
    """Place the stamp at the top right of page 1 where it covers no ink (see the module's description).

    ``page_box`` is page 1's visible box and ``rotate`` its ``/Rotate``; ``ink`` is page 1
    rendered as the reader sees it (:func:`signing.ink.render_ink` over
    :attr:`signing.ink.PageView.shown_box`). Without room in the top-right quarter, the
    layout asks for a band above the scan (:attr:`StampLayout.page_box`).
    """
    view = PageView(page_box, rotate)
    width, height = stamp_size(lines, font)
    x0, y0, x1, y1 = view.shown_box
    region = ((x0 + x1) / 2, (y0 + y1) / 2, x1 - EDGE_MARGIN, y1 - EDGE_MARGIN)
    anchor = (x1 - PAGE_MARGIN, y1 - PAGE_MARGIN)
    rect = free_rect(ink, (width, height), region=region, anchor=anchor, clearance=INK_CLEARANCE)
    if rect is None:
        box, grown = _in_band_above((width, height), view.shown_box)
        return StampLayout(lines=lines, box=view.to_page(box), page_box=view.to_page(grown), rotate=view.rotate)
    # whole points; the shift (under a point) stays within the clearance
    left, top = math.ceil(rect[0]), math.floor(rect[3])
    return StampLayout(lines=lines, box=view.to_page((left, top - height, left + width, top)), rotate=view.rotate)


def _in_band_above(
    size: tuple[int, int], page_box: tuple[float, float, float, float]
) -> tuple[tuple[float, float, float, float], tuple[float, float, float, float]]:
    """The stamp's rectangle in a blank band added above the page's top edge, at the right, and the
    page's box grown by that band."""
    width, height = size
    x0, y0, x1, y1 = page_box
    right = math.floor(x1 - PAGE_MARGIN)
    left = max(math.ceil(x0), right - width)
    bottom = math.ceil(y1) + BAND_MARGIN
    top = bottom + height
    return (left, bottom, left + width, top), (x0, y0, x1, float(top + BAND_MARGIN))


def stamp_style(font: StampFont, rotate: int = 0) -> TextStampStyle:
    """Text-only stamp: embedded font, 10 pt, black (default colour), no border or image; upright
    on a page turned by ``rotate`` degrees (its ``/Rotate``)."""
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
    return UprightTextStampStyle(
        rotate=rotate,
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


#: The appearance's /Matrix that turns it back by a page's /Rotate (counterclockwise, as the page turns clockwise).
_TURN_BACK = {90: (0, 1, -1, 0, 0, 0), 180: (-1, 0, 0, -1, 0, 0), 270: (0, -1, 1, 0, 0, 0)}


@dataclass(frozen=True)
class UprightTextStampStyle(TextStampStyle):
    """A text stamp drawn upright on a page with ``/Rotate``: laid out in the reader's width and
    height, its form turned back by the page's rotation (no rotation: pyHanko's own stamp)."""

    rotate: int = 0

    def create_stamp(self, writer, box: layout.BoxConstraints, text_params: dict) -> TextStamp:
        """The stamp for a widget of ``box`` (the page's width and height of its /Rect)."""
        if not self.rotate:
            return super().create_stamp(writer, box, text_params)
        if self.rotate in (90, 270):
            box = layout.BoxConstraints(width=box.height, height=box.width)
        return _TurnedTextStamp(writer=writer, style=self, box=box, text_params=text_params)


class _TurnedTextStamp(TextStamp):
    """pyHanko's text stamp whose form carries a /Matrix turning it back by the page's /Rotate: the
    viewer maps the turned form onto the widget's /Rect, then turns the page, and the text is upright."""

    def as_form_xobject(self) -> generic.StreamObject:
        form = super().as_form_xobject()
        form[generic.NameObject("/Matrix")] = generic.ArrayObject(
            generic.NumberObject(v) for v in _TURN_BACK[self.style.rotate])
        return form

    def apply_appearance(self, annot_dict: generic.DictionaryObject) -> None:
        super().apply_appearance(annot_dict)
        annot_dict[generic.NameObject("/MK")] = generic.DictionaryObject(
            {generic.NameObject("/R"): generic.NumberObject(self.style.rotate)})
