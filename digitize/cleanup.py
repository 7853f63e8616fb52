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
#: Width the skew search works at; large enough for text lines, small enough to be fast.
SKEW_WORK_WIDTH = 1000
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
    display = rotate_small(upright, -skew) if abs(skew) >= FINE_STEP else upright
    ocr = rotate_small(gray, -skew) if abs(skew) >= FINE_STEP else gray
    ocr = flatten_illumination(ocr)
    ocr = despeckle(ocr)
    return CleanPage(display=display, ocr=ocr, rotation=rotation % 360, skew=skew, blank=is_blank(ocr))


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
    """Skew of the text lines in degrees (positive: lines rise to the right... as drawn
    counter-clockwise), found by maximising the sharpness of the horizontal projection.
    """
    small = _binary_small(gray)
    if not small.any():
        return 0.0
    coarse = np.arange(-MAX_SKEW, MAX_SKEW + COARSE_STEP / 2, COARSE_STEP)
    best = max(coarse, key=lambda a: _projection_score(small, a))
    fine = np.arange(best - COARSE_STEP, best + COARSE_STEP + FINE_STEP / 2, FINE_STEP)
    best = max(fine, key=lambda a: _projection_score(small, a))
    return float(round(best, 2))


def _binary_small(gray: np.ndarray) -> np.ndarray:
    scale = min(1.0, SKEW_WORK_WIDTH / gray.shape[1])
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    _, binary = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    return binary


def _projection_score(binary: np.ndarray, angle: float) -> float:
    rotated = rotate_small(binary, -angle, fill=0)
    profile = rotated.sum(axis=1, dtype=np.float64)
    return float(np.sum(np.diff(profile) ** 2))


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


def flatten_illumination(gray: np.ndarray) -> np.ndarray:
    """Divide by a blurred background so shadows and paper tone become white."""
    kernel = max(15, (min(gray.shape) // 40) | 1)
    background = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (kernel, kernel)))
    background = cv2.GaussianBlur(background, (0, 0), kernel / 3)
    flat = cv2.divide(gray, np.maximum(background, 1), scale=255)
    return flat


def despeckle(gray: np.ndarray) -> np.ndarray:
    """Remove isolated specks smaller than a dot of text."""
    return cv2.medianBlur(gray, 3)


def is_blank(gray: np.ndarray) -> bool:
    """True when the page holds (almost) no ink."""
    _, binary = cv2.threshold(gray, 160, 255, cv2.THRESH_BINARY_INV)
    opened = cv2.morphologyEx(binary, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return float(np.count_nonzero(opened)) / opened.size < BLANK_INK_RATIO
