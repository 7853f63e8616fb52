"""Page cleanup with OpenCV: pure functions on arrays.

Each page yields two images of the same geometry:

- the **display image**, kept for the visible page: colour as scanned (Decree
  30/2020 asks for colour at 100% scale), only turned upright and deskewed;
- the **OCR image**, cleaned for recognition: grey from the red channel (so red
  seals and red ink fade to white), uneven illumination flattened, speckle
  removed.

Because both come from the same rotation and deskew, the OCR text layer lines
up with the display image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Deskew search range and precision, in degrees.
MAX_SKEW = 15.0
COARSE_STEP = 0.5
FINE_STEP = 0.05
#: Illumination is flattened unless the paper is white (the background's 95th percentile at
#: least WHITE_PAPER) and even (5th to 95th percentile within UNEVEN_BACKGROUND grey levels).
WHITE_PAPER = 250
UNEVEN_BACKGROUND = 40
#: Smaller skews are left alone (resampling would cost more than it brings).
MIN_CORRECTION = 0.15
#: Width the skew search works at; large enough for text lines, small enough to be fast.
SKEW_WORK_WIDTH = 1000  # the longer side
#: Border search: working width and the grey level below which a pixel is "dark".
BORDER_WORK_WIDTH = 600
BORDER_DARK = 70
#: A page whose share of ink pixels is below this is reported as blank.
BLANK_INK_RATIO = 0.002


@dataclass(frozen=True)
class CleanPage:
    """The two images of a page and what was done to get them."""

    display: np.ndarray
    ocr: np.ndarray
    rotation: int
    skew: float
    blank: bool


def clean_page(image: np.ndarray, rotation: int = 0) -> CleanPage:
    """Turn ``image`` by ``rotation`` (clockwise, a multiple of 90), deskew, and clean.

    ``rotation`` comes from orientation detection (see :mod:`digitize.ocr`),
    which needs Tesseract and so is not done here.
    """
    upright = rotate_quarter(image, rotation)
    gray = ocr_gray(upright)
    skew = estimate_skew(gray)
    turn = abs(skew) >= MIN_CORRECTION
    display = rotate_small(upright, -skew) if turn else upright
    ocr = rotate_small(gray, -skew) if turn else gray
    ocr = remove_dark_borders(ocr)
    ocr = flatten_illumination(ocr)
    ocr = despeckle(ocr)
    return CleanPage(display=display, ocr=ocr, rotation=rotation % 360, skew=skew, blank=is_blank(ocr))


def maybe_gray(image: np.ndarray) -> np.ndarray:
    """Keep colour scans in colour; a scan with no colour becomes grey (smaller, same look)."""
    if image.ndim == 2:
        return image
    b, g, r = cv2.split(image)
    if cv2.absdiff(b, g).max() <= 8 and cv2.absdiff(g, r).max() <= 8:
        return g
    return image


def remove_dark_borders(gray: np.ndarray) -> np.ndarray:
    """Whiten the dark scanner borders: dark regions that touch an edge of the page and
    run along it (at least a quarter of that edge), unlike text, which does not."""
    scale = min(1.0, BORDER_WORK_WIDTH / gray.shape[1])
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    dark = (small < BORDER_DARK).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
    h, w = small.shape
    border = np.zeros_like(dark)
    for label in range(1, count):
        x, y, bw, bh, _area = stats[label]
        touches = x == 0 or y == 0 or x + bw == w or y + bh == h
        if touches and (bw >= w / 4 or bh >= h / 4):
            border[labels == label] = 1
    if not border.any():
        return gray
    mask = cv2.resize(border, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_NEAREST)
    mask = cv2.dilate(mask, np.ones((5, 5), np.uint8))
    out = gray.copy()
    out[mask > 0] = 255
    return out


def rotate_quarter(image: np.ndarray, degrees: int) -> np.ndarray:
    """Rotate clockwise by 0, 90, 180 or 270 degrees without loss."""
    codes = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    degrees %= 360
    if degrees == 0:
        return image
    if degrees not in codes:
        raise ValueError(f"rotation must be a multiple of 90, not {degrees}")
    return cv2.rotate(image, codes[degrees])


def ocr_gray(image: np.ndarray) -> np.ndarray:
    """Grey image for OCR in which red seals and red ink are suppressed.

    Black text is dark in every channel; red ink is bright in the red channel.
    Taking the red channel keeps the text and fades the seal.
    """
    if image.ndim == 2:
        return image
    return image[:, :, 2].copy()  # OpenCV arrays are BGR


def estimate_skew(gray: np.ndarray) -> float:
    """Skew of the text lines in degrees, counter-clockwise as the paper lay on the glass,
    found by maximising the sharpness of the horizontal projection: a coarse search, then a
    fine one around its best angle.
    """
    ink = _Ink.of(_binary_small(gray))
    if ink.empty:
        return 0.0
    coarse = np.arange(-MAX_SKEW, MAX_SKEW + COARSE_STEP / 2, COARSE_STEP)
    best = max(coarse, key=ink.score)
    fine = np.arange(best - COARSE_STEP, best + COARSE_STEP + FINE_STEP / 2, FINE_STEP)
    best = max(fine, key=ink.score)
    return float(round(best, 2))


def looks_sideways(gray: np.ndarray) -> bool:
    """True when the text seems to run vertically (a page turned a quarter): the sharpest
    row profile over the skew range is weaker than the sharpest one of the page turned 90
    degrees. Cheap; a hint for running orientation detection.
    """
    small = _binary_small(gray)
    upright, turned = _Ink.of(small), _Ink.of(rotate_quarter(small, 90))
    if upright.empty:
        return False
    angles = np.arange(-MAX_SKEW, MAX_SKEW + 0.5, 1.0)
    return max(map(turned.score, angles)) / turned.height > max(map(upright.score, angles)) / upright.height


@dataclass(frozen=True)
class _Ink:
    """The ink pixels of a small binary page, to score projections at any angle without
    rotating the image: a pixel at (x, y) lands on row sin(a)(x - cx) + cos(a)(y - cy) + cy
    when the page is turned back by ``a`` degrees (what ``rotate_small(image, -a)`` does)."""

    xs: np.ndarray
    ys: np.ndarray
    height: int
    width: int

    @classmethod
    def of(cls, binary: np.ndarray) -> _Ink:
        ys, xs = np.nonzero(binary)
        h, w = binary.shape
        return cls(xs.astype(np.float64) - w / 2, ys.astype(np.float64) - h / 2, h, w)

    @property
    def empty(self) -> bool:
        return self.xs.size == 0

    def score(self, angle: float) -> float:
        """Sharpness of the row profile after turning back by ``angle`` degrees."""
        rad = np.deg2rad(angle)
        rows = np.rint(np.sin(rad) * self.xs + np.cos(rad) * self.ys + self.height / 2).astype(np.int64)
        rows = rows[(rows >= 0) & (rows < self.height)]
        profile = np.bincount(rows, minlength=self.height).astype(np.float64)
        return float(np.sum(np.diff(profile) ** 2))


def _binary_small(gray: np.ndarray) -> np.ndarray:
    scale = min(1.0, SKEW_WORK_WIDTH / max(gray.shape[:2]))
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    _, binary = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    return binary


def rotate_small(image: np.ndarray, degrees: float, fill: int | None = None) -> np.ndarray:
    """Rotate counter-clockwise by ``degrees`` about the centre, keeping the size.

    Corners uncovered by the turn are filled with white (or ``fill``).
    """
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    value = 255 if fill is None else fill
    border = (value, value, value) if image.ndim == 3 else value
    return cv2.warpAffine(
        image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=border
    )


def flatten_illumination(gray: np.ndarray, *, always: bool = False) -> np.ndarray:
    """Divide by the page's background so shadows and paper tone become white.

    Skipped (unless ``always``) when the paper is already white and even:
    measured on clean bilevel and grey scans (OCRmyPDF's kcs.pdf,
    baiona_gray.png), dividing such a page costs Tesseract 14-17 points of
    confidence (bench/ocr.md).
    """
    # The background varies slowly: estimate it on a quarter-size copy (16x less work).
    small = cv2.resize(gray, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    kernel = max(5, (min(small.shape) // 40) | 1)
    background = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (kernel, kernel)))
    background = cv2.GaussianBlur(background, (0, 0), kernel / 3)
    low, high = np.percentile(background, (5, 95))
    if not always and high >= WHITE_PAPER and high - low <= UNEVEN_BACKGROUND:
        return gray
    background = cv2.resize(background, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_LINEAR)
    return cv2.divide(gray, np.maximum(background, 1), scale=255)


def despeckle(gray: np.ndarray) -> np.ndarray:
    """Remove isolated specks smaller than a dot of text."""
    return cv2.medianBlur(gray, 3)


def is_blank(gray: np.ndarray) -> bool:
    """True when the page holds (almost) no ink."""
    _, binary = cv2.threshold(gray, 160, 255, cv2.THRESH_BINARY_INV)
    opened = cv2.morphologyEx(binary, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return float(np.count_nonzero(opened)) / opened.size < BLANK_INK_RATIO
