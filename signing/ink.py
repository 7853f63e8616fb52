"""Where page 1 has ink, and the free rectangle nearest a chosen point.

The visible signature must cover nothing on the page (it used to be printed
over the national title). Page 1 is rendered by pdftoppm at 144 dpi (two pixels
per point; ~0.1 s), and a pixel is *ink* when its darkest colour channel is
clearly darker than the paper (the page's median): black text, a red seal, a
blue signature or a yellow highlight all count; the paper's tone, uneven light
and a lone speck of dust (at most 1 pt², touching no other ink) do not. Signing places the stamp
with this map (:mod:`signing.appearance`) and ``verify`` measures it again
under the stamp (:func:`signing.stamp_check.check_stamp_clear`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from digitize import tools
from digitize.errors import ToolError
from digitize.i18n import _

RENDER_DPI = 144
#: how much darker than the paper (darkest channel, 0-255) a pixel must be to be ink
INK_CONTRAST = 64
#: a dark spot of at most this area (pt²), touching no other ink, is dust
DUST_AREA = 1.0

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class PageInk:
    """The ink of one rendered page: ``mask`` (True = ink, row 0 at the top) over ``box`` (PDF points)."""

    mask: np.ndarray
    box: Box
    scale: float  # pixels per point

    def pixels_of(self, rect: Box) -> tuple[slice, slice]:
        """The rows and columns of ``mask`` that ``rect`` (x0, y0, x1, y1 in points) touches, clipped."""
        x0, y0, x1, y1 = self.box
        left = max(0, math.floor((rect[0] - x0) * self.scale))
        right = min(self.mask.shape[1], math.ceil((rect[2] - x0) * self.scale))
        top = max(0, math.floor((y1 - rect[3]) * self.scale))
        bottom = min(self.mask.shape[0], math.ceil((y1 - rect[1]) * self.scale))
        return slice(top, max(top, bottom)), slice(left, max(left, right))

    def ink_in(self, rect: Box) -> float:
        """How much ink (pt²) lies inside ``rect`` (the part of it on the page)."""
        rows, columns = self.pixels_of(rect)
        return int(self.mask[rows, columns].sum()) / self.scale**2

    def rect_of(self, row: int, column: int, rows: int, columns: int) -> Box:
        """The rectangle in points covered by a block of pixels (top-left ``row``, ``column``)."""
        x0, _, _, y1 = self.box
        return (x0 + column / self.scale, y1 - (row + rows) / self.scale,
                x0 + (column + columns) / self.scale, y1 - row / self.scale)


def render_ink(pdf: Path | bytes, box: Box, *, timeout: float, hide_annotations: bool = False) -> PageInk:
    """Render page 1 of ``pdf`` (a file, or its bytes) and return its ink over ``box``.

    ``box`` is the page's visible box (CropBox, else MediaBox) in points, the
    one pdftoppm renders. ``hide_annotations`` leaves out annotations (the
    stamp itself, when measuring what lies under it). Raises the errors of
    :func:`digitize.tools.run` (missing pdftoppm, failure, timeout).
    """
    args = ["pdftoppm", "-r", str(RENDER_DPI), "-f", "1", "-l", "1", "-cropbox"]
    if hide_annotations:
        args.append("-hide-annotations")
    if isinstance(pdf, bytes):
        proc = tools.run([*args, "-"], timeout=timeout, input=pdf)
    else:
        proc = tools.run([*args, str(pdf)], timeout=timeout)
    image = cv2.imdecode(np.frombuffer(proc.stdout, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ToolError(_("pdftoppm gave no image of page 1"))
    scale = RENDER_DPI / 72
    return PageInk(ink_mask(image, dust_pixels=round(DUST_AREA * scale**2)), box, scale)


def ink_mask(image: np.ndarray, *, dust_pixels: int) -> np.ndarray:
    """True where ``image`` (BGR or grey) has ink: see the module's description.
    Lone dark spots of at most ``dust_pixels`` pixels are dust."""
    # The darkest channel, taken pairwise: numpy's min over the interleaved channel axis is ~100x slower
    # (0.05-0.25 s a page, twice per document: signing places the stamp, verify checks under it).
    darkest = np.minimum(np.minimum(image[..., 0], image[..., 1]), image[..., 2]) if image.ndim == 3 else image
    paper = int(np.median(darkest))
    ink = (darkest.astype(np.int16) < paper - INK_CONTRAST).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    dust = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] <= dust_pixels)
    dust = dust[dust != 0]  # label 0 is the background
    if dust.size:
        ink[np.isin(labels, dust)] = 0
    return ink.astype(bool)


def free_rect(
    ink: PageInk,
    size: tuple[float, float],
    *,
    region: Box,
    anchor: tuple[float, float],
    clearance: float,
) -> Box | None:
    """The ``size`` (width, height in points) rectangle inside ``region`` that keeps ``clearance``
    points from every ink pixel, whose top-right corner is nearest ``anchor``; None if none fits.

    Outside the rendered page counts as free (nothing is drawn there).
    """
    scale = ink.scale
    reach = max(0, math.ceil(clearance * scale))
    blocked = ink.mask.astype(np.uint8)
    if reach:
        blocked = cv2.dilate(blocked, np.ones((2 * reach + 1, 2 * reach + 1), np.uint8))
    rows, columns = ink.pixels_of(region)
    width, height = math.ceil(size[0] * scale), math.ceil(size[1] * scale)
    area = blocked[rows, columns]
    if area.shape[0] < height or area.shape[1] < width:
        return None
    sums = cv2.integral(area)  # (h+1, w+1), int32
    inked = sums[height:, width:] - sums[:-height, width:] - sums[height:, :-width] + sums[:-height, :-width]
    free_rows, free_columns = np.nonzero(inked == 0)
    if free_rows.size == 0:
        return None
    x0, _, _, y1 = ink.box
    corner_x = x0 + (columns.start + free_columns + width) / scale
    corner_y = y1 - (rows.start + free_rows) / scale
    best = int(np.argmin(np.hypot(corner_x - anchor[0], corner_y - anchor[1])))
    return ink.rect_of(rows.start + int(free_rows[best]), columns.start + int(free_columns[best]), height, width)
