"""Page cleanup with OpenCV: pure functions on arrays.

Each page yields two images of the same geometry:

- the **display image**, kept for the visible page: colour as scanned (Decree
  30/2020 asks for colour at 100% scale), only turned upright, deskewed and
  cropped (the dark strips a scanner lid leaves along the edges cut off);
- the **OCR image**, cleaned for recognition: grey from the red channel (so red
  seals and red ink fade to white), uneven illumination flattened, speckle
  removed.

Because both come from the same rotation, deskew and crop, the OCR text layer
lines up with the display image.

A page the blank detector is sure of (:func:`blank_page`, :func:`is_blank`: no
mark of a millimetre or more, only paper grain and dust) needs neither: the
engine keeps its display image and does not OCR it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
#: Pixels cut beyond a border strip (its blurred edge).
BORDER_CROP_MARGIN = 4
#: A dark region at the edge with more enclosed light pixels than this share of its own is content.
BORDER_MAX_HOLES = 0.02
#: The blank detector (see :func:`is_blank`): ink is darker than the flattened paper by at least
#: BLANK_MIN_CONTRAST grey levels (more on a grainy sheet: BLANK_NOISE_SIGMAS times its noise); a
#: mark is a connected piece of ink reaching BLANK_MARK_MM in either direction (a letter, a stroke
#: of a signature, the ring of a seal; dust is smaller); above BLANK_MAX_INK of the page in ink, or
#: with a single mark, the page is not blank.
BLANK_MIN_CONTRAST = 30
BLANK_NOISE_SIGMAS = 6.0
BLANK_MARK_MM = 1.0
BLANK_MAX_INK = 0.001
#: Ink on a half-size copy above which a page is surely not blank, without a look at the full page.
BLANK_SURE_INK = 10 * BLANK_MAX_INK
#: Paper long side assumed when no DPI is given (A4, inches).
ASSUMED_LONG_SIDE_IN = 11.69
#: The up/down test decides only on this many text lines or more, with a score at least this far
#: from 0 (the log of ink above over ink below the lines' cores; measured on Latin and Vietnamese
#: pages: upright 0.6 to 1.4, charts and sparse pages near 0 or wrong, see bench/ocr.md).
ORIENTATION_MIN_LINES = 5
ORIENTATION_MIN_SCORE = 0.5
#: Above this share of ink pixels the page is not text on paper (Otsu on an empty sheet's grain
#: marks half of it; text pages measured 0.3% to 19%).
ORIENTATION_MAX_INK = 0.3


@dataclass(frozen=True)
class Geometry:
    """How a page is made of its scan: turned upright by ``rotation`` (clockwise, a multiple of 90),
    then counter-clockwise by ``turn`` degrees about its centre (the deskew; 0: not turned), then cut
    to ``crop`` (top, bottom, left, right rows and columns of the turned image; None: not cut).

    The OCR image is made this way; the display need not be: the PDF draws the scan itself through
    :meth:`pdf_matrix`, so the colour scan is never resampled nor compressed a second time.
    """

    width: int  # the scan's, in pixels
    height: int
    rotation: int = 0
    turn: float = 0.0
    crop: tuple[int, int, int, int] | None = None

    @property
    def untouched(self) -> bool:
        """The page is the scan as it came: not turned, deskewed or cropped."""
        return self.rotation % 360 == 0 and self.turn == 0 and self.crop is None

    @property
    def upright_size(self) -> tuple[int, int]:
        return (self.height, self.width) if self.rotation % 180 else (self.width, self.height)

    @property
    def size(self) -> tuple[int, int]:
        """The page's width and height, in the scan's pixels."""
        if self.crop is None:
            return self.upright_size
        top, bottom, left, right = self.crop
        return right - left, bottom - top

    def apply(self, image: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """``image`` (the scan, or a copy of it shrunk by ``scale``) turned and cut into the page."""
        out = rotate_quarter(image, self.rotation)
        if self.turn:
            out = rotate_small(out, self.turn)
        if self.crop is not None:
            top, bottom, left, right = (round(v * scale) for v in self.crop)
            out = out[top:bottom, left:right]
        return out

    def matrix(self) -> np.ndarray:
        """The 3x3 affine map from a pixel of the scan (its centre, x right, y down) to where
        :meth:`apply` puts it on the page."""
        w, h = self.width, self.height
        quarter = {0: [[1, 0, 0], [0, 1, 0]], 90: [[0, -1, h - 1], [1, 0, 0]],
                   180: [[-1, 0, w - 1], [0, -1, h - 1]], 270: [[0, 1, 0], [-1, 0, w - 1]]}[self.rotation % 360]
        uw, uh = self.upright_size
        turn = cv2.getRotationMatrix2D((uw / 2, uh / 2), self.turn, 1.0) if self.turn else np.eye(2, 3)
        top, _, left, _ = self.crop or (0, 0, 0, 0)
        cut = [[1, 0, -left], [0, 1, -top]]
        return _affine(cut) @ _affine(turn) @ _affine(quarter)

    def pdf_matrix(self, dpi: float) -> tuple[float, float, float, float, float, float]:
        """The PDF matrix (``a b c d e f cm``, in points, the page's origin at its bottom left) that
        draws the scan, an image XObject, as :meth:`apply` lays it on a page of :attr:`size` at ``dpi``."""
        points = 72.0 / dpi
        page_height = self.size[1]
        edges = self.matrix()
        edges[:2, 2] += 0.5 - edges[:2, :2] @ [0.5, 0.5]  # pixel edges, not centres: (0, 0) is a corner

        def on_page(u: float, v: float) -> np.ndarray:  # the image's unit square, v up, to points
            x, y, _one = edges @ [u * self.width, (1 - v) * self.height, 1.0]
            return np.array([x * points, (page_height - y) * points])

        origin = on_page(0, 0)
        (a, b), (c, d) = on_page(1, 0) - origin, on_page(0, 1) - origin
        return (float(a), float(b), float(c), float(d), float(origin[0]), float(origin[1]))


def _affine(rows) -> np.ndarray:
    """A 2x3 affine matrix as 3x3."""
    return np.vstack([np.asarray(rows, np.float64).reshape(2, 3), [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class CleanPage:
    """The two images of a page and what was done to get them."""

    display: np.ndarray
    ocr: np.ndarray
    rotation: int
    skew: float
    blank: bool
    geometry: Geometry  # how both were made of the scan

    @property
    def untouched(self) -> bool:
        """The display image is the scan as it came: not turned, deskewed or cropped."""
        return self.geometry.untouched


@dataclass(frozen=True)
class OcrImage:
    """The cleaned image Tesseract reads, how it was made of the scan, and the skew found."""

    ocr: np.ndarray
    geometry: Geometry
    skew: float


def clean_page(
    image: np.ndarray, rotation: int = 0, dpi: float | None = None, *, blank: bool | None = None
) -> CleanPage:
    """Turn ``image`` by ``rotation`` (clockwise, a multiple of 90), deskew, crop the dark
    scanner borders off, and clean.

    ``rotation`` comes from orientation detection (see :mod:`digitize.ocr`),
    which needs Tesseract and so is not done here. ``dpi`` sizes the marks the
    blank detector looks for (see :func:`is_blank`); ``blank`` is its verdict when
    the caller has it already (a page :func:`blank_page` found not blank: the test
    costs ~0.05-0.15 s a page and is not made twice).

    The engine needs no turned colour image (:func:`clean_for_ocr`: the PDF turns the scan);
    this makes one, the same way, for whoever wants it.
    """
    cleaned = clean_for_ocr(ocr_gray(image), rotation)
    display = cleaned.geometry.apply(image)
    return CleanPage(display=display, ocr=cleaned.ocr, rotation=rotation % 360, skew=cleaned.skew,
                     blank=is_blank(display, dpi) if blank is None else blank,
                     geometry=cleaned.geometry)


def clean_for_ocr(
    gray: np.ndarray, rotation: int = 0, *, sketch: Sketch | None = None, borders: bool = True
) -> OcrImage:
    """The OCR image of a page whose grey for OCR (:func:`ocr_gray`) as scanned is ``gray``: turned by
    ``rotation``, deskewed, dark scanner borders cut off and whitened, light flattened, specks removed;
    and the :class:`Geometry` that lays the scan on the page the same way (the text layer lines up).

    ``sketch`` is the page's :class:`Sketch` when the caller has made it (the orientation guess):
    the skew search reuses it. ``borders=False`` says the scan has no dark border
    (:func:`dark_border_mask` found none on it): a turn of a few degrees about the centre brings
    none to the edges, so the turned image is not searched again.
    """
    upright = rotate_quarter(gray, rotation)
    skew = (sketch or Sketch(gray)).skew(rotation)
    turn = -skew if abs(skew) >= MIN_CORRECTION else 0.0
    # Turning the red channel alone: the same pixels as the red channel of the turned colour page.
    ocr = rotate_small(upright, turn) if turn else upright
    border = dark_border_mask(ocr) if borders else None
    crop = None
    if border is not None:  # cut the border strips off, whiten what is left of them
        rows, columns = border_crop(border)
        ocr, border = ocr[rows, columns].copy(), border[rows, columns]
        ocr[border > 0] = 255
        crop = (rows.start, rows.stop, columns.start, columns.stop)
    ocr = despeckle(flatten_illumination(ocr))
    height, width = gray.shape[:2]
    return OcrImage(ocr, Geometry(width, height, rotation % 360, turn, crop), skew)


def blank_page(image: np.ndarray, dpi: float | None = None, *, border: np.ndarray | None | bool = True
               ) -> CleanPage | None:
    """The page cleaned for display only, when the blank detector is sure it is blank; else None.

    Dark scanner borders are cut off first (they are not content); the page is
    neither turned nor deskewed (there is nothing to read). The OCR image is the
    cropped grey page: nothing reads it, a blank page is not OCR'd. ``border`` is
    :func:`dark_border_mask` of the page when the caller has it (None: no border),
    else found here.
    """
    if border is True:
        border = dark_border_mask(ocr_gray(image))
    display = image
    crop = None
    if border is not None:
        rows, columns = border_crop(border)
        display = image[rows, columns]
        crop = (rows.start, rows.stop, columns.start, columns.stop)
        if border[rows, columns].any():  # what is left of a border strip would count as marks
            display = display.copy()
            display[border[rows, columns] > 0] = 255
    if not is_blank(display, dpi):
        return None
    height, width = image.shape[:2]
    return CleanPage(display=display, ocr=ocr_gray(display), rotation=0, skew=0.0, blank=True,
                     geometry=Geometry(width, height, 0, 0.0, crop))


def maybe_gray(image: np.ndarray) -> np.ndarray:
    """Keep colour scans in colour; a scan with no colour becomes grey (smaller, same look)."""
    if image.ndim == 2:
        return image
    if _has_colour(image[::3, ::3]) or _has_colour(image):  # most scans are colour: a ninth of the pixels tells
        return image
    return image[:, :, 1].copy()


#: a page whose pixels all but this share (compression noise) are near-neutral is grey
GREY_NOISE_SHARE = 0.0005
#: channels within this many levels of each other: a near-neutral pixel (paper tone is beyond it)
NEUTRAL_LEVELS = 8


def is_grey(image: np.ndarray) -> bool:
    """True when ``image`` has no colour (Decree 30/2020 asks for colour scans): a grey image, or one
    whose pixels are all near-neutral but for a few (at most :data:`GREY_NOISE_SHARE`, noise)."""
    if image.ndim == 2:
        return True
    # a quarter of the pixels tells: every other one each way (a nearest-neighbour halving, contiguous, is
    # ~3x cheaper to split than a strided view)
    b, g, r = cv2.split(cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_NEAREST))
    spread = cv2.max(cv2.max(cv2.absdiff(b, g), cv2.absdiff(g, r)), cv2.absdiff(b, r))
    coloured = spread > NEUTRAL_LEVELS
    return int(np.count_nonzero(coloured)) <= GREY_NOISE_SHARE * coloured.size


def _has_colour(image: np.ndarray) -> bool:
    # all three pairs: cream paper (250, 248, 240) differs by 10 only between red and blue
    b, g, r = cv2.split(image)
    return bool(cv2.absdiff(b, g).max() > NEUTRAL_LEVELS or cv2.absdiff(g, r).max() > NEUTRAL_LEVELS
                or cv2.absdiff(b, r).max() > NEUTRAL_LEVELS)


def remove_dark_borders(gray: np.ndarray) -> np.ndarray:
    """Whiten the dark scanner borders (see :func:`dark_border_mask`)."""
    mask = dark_border_mask(gray)
    if mask is None:
        return gray
    out = gray.copy()
    out[mask > 0] = 255
    return out


def dark_border_mask(gray: np.ndarray) -> np.ndarray | None:
    """The dark scanner borders, as a mask of ``gray``'s size (1 = border), or None when there
    are none: dark regions that touch an edge of the page and run along it (at least a quarter
    of that edge), unlike text, which does not, and that are solid: a dark letterhead banner
    printed to the edge has light lettering in it, and is content, not border."""
    small = shrink(gray, BORDER_WORK_WIDTH / gray.shape[1])
    dark = (small < BORDER_DARK).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
    h, w = small.shape
    border = np.zeros_like(dark)
    for label in range(1, count):
        x, y, bw, bh, _area = stats[label]
        touches = x == 0 or y == 0 or x + bw == w or y + bh == h
        if touches and (bw >= w / 4 or bh >= h / 4) and _solid(labels[y:y + bh, x:x + bw] == label):
            border[labels == label] = 1
    if not border.any():
        return None
    mask = cv2.resize(border, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_NEAREST)
    return cv2.dilate(mask, np.ones((5, 5), np.uint8))


def _solid(region: np.ndarray) -> bool:
    """Whether the region (True inside) has almost no holes (light pixels it encloses, such as
    lettering). A hole larger than the region itself is the page inside a closed frame, not a hole."""
    outside = np.pad((~region).astype(np.uint8), 1, constant_values=1)
    cv2.floodFill(outside, None, (0, 0), 2)
    area = int(np.count_nonzero(region))
    count, _labels, stats, _ = cv2.connectedComponentsWithStats((outside == 1).astype(np.uint8), connectivity=4)
    holes = sum(int(a) for a in stats[1:count, cv2.CC_STAT_AREA] if a <= area)
    return holes <= BORDER_MAX_HOLES * area


def border_crop(mask: np.ndarray) -> tuple[slice, slice]:
    """Rows and columns that remain once the strips of border along the edges are cut off:
    from each edge inward, every row (column) that is at least half border. Never more than
    a quarter of the page from any side (a page is not mostly border)."""

    def cut(strip: np.ndarray) -> int:
        inner = len(strip) if strip.all() else int(np.argmin(strip))  # the first row that is not border
        return min(inner + BORDER_CROP_MARGIN, len(strip) // 4) if inner else 0

    def keep(border_share: np.ndarray) -> slice:
        strip = border_share >= 0.5
        return slice(cut(strip), len(strip) - cut(strip[::-1]))

    return keep(mask.mean(axis=1)), keep(mask.mean(axis=0))


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
    fine one around its best angle (see :meth:`Sketch.skew`).
    """
    return Sketch(gray).skew(0)


class Sketch:
    """A small binary copy of a page (ink 255, the longer side :data:`SKEW_WORK_WIDTH`), made once for
    the orientation guess and the deskew search, with the projection scores they share: the guess's
    coarse skew search is the first half of the deskew's."""

    def __init__(self, gray: np.ndarray) -> None:
        self.binary = _binary_small(gray)
        self._inks: dict[int, _Ink] = {}

    def ink(self, rotation: int) -> _Ink:
        """The ink of the page turned by ``rotation``; a half turn scores alike (lines keep their angle),
        so only the quarter matters."""
        quarter = rotation % 180
        if quarter not in self._inks:
            self._inks[quarter] = _Ink.of(rotate_quarter(self.binary, quarter))
        return self._inks[quarter]

    def coarse_skew(self, rotation: int = 0) -> float:
        """The best angle of the coarse search (:data:`COARSE_STEP`) for the page turned by ``rotation``."""
        ink = self.ink(rotation)
        if ink.empty:
            return 0.0
        return float(max(np.arange(-MAX_SKEW, MAX_SKEW + COARSE_STEP / 2, COARSE_STEP), key=ink.score))

    def skew(self, rotation: int = 0) -> float:
        """The skew of the page turned by ``rotation`` (see :func:`estimate_skew`)."""
        ink = self.ink(rotation)
        if ink.empty:
            return 0.0
        best = self.coarse_skew(rotation)
        fine = np.arange(best - COARSE_STEP, best + COARSE_STEP + FINE_STEP / 2, FINE_STEP)
        return float(round(max(fine, key=ink.score), 2))


def _looks_sideways(sketch: Sketch) -> bool:
    """True when the text of the page seems to run vertically (a page turned a quarter): the sharpest
    row profile over the skew range is weaker than the sharpest one of the page turned 90 degrees."""
    upright, turned = sketch.ink(0), sketch.ink(90)
    if upright.empty:
        return False
    angles = np.arange(-MAX_SKEW, MAX_SKEW + 0.5, 1.0)  # on the coarse search's grid: the scores are shared
    return max(map(turned.score, angles)) / turned.height > max(map(upright.score, angles)) / upright.height


@dataclass(frozen=True)
class OrientationGuess:
    """A cheap guess of the clockwise turn that makes a page upright (see :func:`guess_orientation`)."""

    rotation: int | None  # 0, 90, 180 or 270; None when the page does not tell
    sideways: bool  # the text seems to run vertically
    score: float
    lines: int


def guess_orientation(gray: np.ndarray | Sketch) -> OrientationGuess:
    """Guess which way is up without OCR (about 0.06 s a page instead of 0.7 s for Tesseract OSD).

    ``gray`` is the page's grey for OCR, or its :class:`Sketch` (then shared with the deskew).
    A quarter turn shows as text running vertically (:func:`_looks_sideways`).
    Up from down: in Latin script, and far more in Vietnamese with its tone
    marks, a text line carries more ink above its core (capitals, ascenders,
    diacritics) than below it (descenders, the dot below). The page is turned
    upright by the quarter turn, deskewed coarsely, cut into text lines by its
    row profile, and the ink above and below each line's core (the rows at
    least half as dark as the line's darkest) is summed. Too few lines or a
    weak score give ``rotation=None``: the caller then falls back to reading
    the page and to Tesseract OSD. The guess is a hint, to be confirmed by the
    reading's confidence (charts and tables can fool it).
    """
    sketch = gray if isinstance(gray, Sketch) else Sketch(gray)
    binary = sketch.binary
    sideways = _looks_sideways(sketch)
    quarter = 90 if sideways else 0
    ink = sketch.ink(quarter)
    if ink.empty or ink.xs.size > ORIENTATION_MAX_INK * binary.size:  # nothing, or the grain of an empty sheet
        return OrientationGuess(None, sideways, 0.0, 0)
    skew = sketch.coarse_skew(quarter)
    turned = rotate_quarter(binary, quarter)
    if abs(skew) >= MIN_CORRECTION:
        turned = rotate_small(turned, -skew, fill=0)
    score, lines = _above_below(turned)
    if lines < ORIENTATION_MIN_LINES or abs(score) < ORIENTATION_MIN_SCORE:
        return OrientationGuess(None, sideways, score, lines)
    return OrientationGuess((quarter + (0 if score > 0 else 180)) % 360, sideways, score, lines)


def _above_below(binary: np.ndarray) -> tuple[float, int]:
    """log((ink above the line cores + 1) / (ink below + 1)) over the text lines of an upright or
    upside-down ``binary`` page, and the number of lines. Ink is 255; the grey edges a rotation
    leaves count from half up (counting every grey pixel thickens strokes and blurs the line
    cores). Pictures, rules and seals (components much taller or wider than a letter) are left out."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats((binary > 127).astype(np.uint8), connectivity=8)
    if count < 2:
        return 0.0, 0
    heights, widths = stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_WIDTH]
    letter = max(float(np.median(heights)), 1.0)
    keep = np.zeros(count, bool)
    keep[1:] = (heights < 4 * letter) & (widths < 20 * letter)
    profile = keep[labels].sum(axis=1).astype(np.float64)
    edges = np.flatnonzero(np.diff(np.r_[0, (profile > 0).astype(np.int8), 0]))
    above = below = 0.0
    lines = 0
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        line = profile[start:end]
        if end - start < 3 or line.max() < 10:
            continue
        core = np.flatnonzero(line >= line.max() / 2)
        above += line[: core[0]].sum()
        below += line[core[-1] + 1:].sum()
        lines += 1
    return float(np.log((above + 1) / (below + 1))), lines


@dataclass(frozen=True)
class _Ink:
    """The ink pixels of a small binary page, to score projections at any angle without
    rotating the image: a pixel at (x, y) lands on row sin(a)(x - cx) + cos(a)(y - cy) + cy
    when the page is turned back by ``a`` degrees (what ``rotate_small(image, -a)`` does)."""

    xs: np.ndarray
    ys: np.ndarray
    height: int
    width: int
    scores: dict[float, float] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, binary: np.ndarray) -> _Ink:
        ys, xs = np.nonzero(binary)
        h, w = binary.shape
        return cls(xs.astype(np.float64) - w / 2, ys.astype(np.float64) - h / 2, h, w)

    @property
    def empty(self) -> bool:
        return self.xs.size == 0

    def score(self, angle: float) -> float:
        """Sharpness of the row profile after turning back by ``angle`` degrees (each angle scored once)."""
        key = round(float(angle), 6)
        if key not in self.scores:
            self.scores[key] = self._score(key)
        return self.scores[key]

    def _score(self, angle: float) -> float:
        rad = np.deg2rad(angle)
        rows = np.rint(np.sin(rad) * self.xs + np.cos(rad) * self.ys + self.height / 2).astype(np.int64)
        rows = rows[(rows >= 0) & (rows < self.height)]
        profile = np.bincount(rows, minlength=self.height).astype(np.float64)
        return float(np.sum(np.diff(profile) ** 2))


def _binary_small(gray: np.ndarray) -> np.ndarray:
    # A direct resize, not :func:`shrink`: the skew found moves by a step (0.05 degrees) on some pages with the
    # two-step average, and Tesseract reads those a little differently (the CER of the set is measured with this).
    scale = min(1.0, SKEW_WORK_WIDTH / max(gray.shape[:2]))
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    _, binary = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    return binary


def shrink(image: np.ndarray, scale: float) -> np.ndarray:
    """``image`` scaled down by ``scale`` (< 1; else itself), averaging the pixels (``INTER_AREA``).

    OpenCV averages fast only by a whole factor that divides both sides (2 fastest); by any other it
    is 3-5x slower. So: directly when the factor is whole and divides the sides, else halved (an even
    crop, a row or column dropped) while the result stays at least twice the size wanted, then the rest.
    """
    if scale >= 1.0:
        return image
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))  # as cv2.resize(fx=scale) makes it
    if width % size[0] == 0 and height % size[1] == 0 and width // size[0] == height // size[1]:
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA)  # a whole factor: OpenCV's fast path
    while image.shape[1] >= 2 * size[0] and image.shape[0] >= 2 * size[1]:
        height, width = image.shape[:2]
        image = cv2.resize(image[: height - height % 2, : width - width % 2], (width // 2, height // 2),
                           interpolation=cv2.INTER_AREA)
    return image if image.shape[1::-1] == size else cv2.resize(image, size, interpolation=cv2.INTER_AREA)


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


def is_blank(image: np.ndarray, dpi: float | None = None) -> bool:
    """True only when the page surely holds nothing to read: no mark at all.

    Works on the darkest channel of each pixel (a red seal or blue ink is as
    dark there as black text) with the light flattened, so a shadow or tinted
    paper is not ink. Ink is what lies clearly below the paper (at least
    :data:`BLANK_MIN_CONTRAST` grey levels, more on grainy paper). A page is
    blank when its ink covers less than :data:`BLANK_MAX_INK` of it and no
    connected piece of ink reaches :data:`BLANK_MARK_MM`: specks of dust and
    grain do not count, a short line of text, a page number, a signature or a
    seal does. ``dpi`` (else guessed from an A4 long side) sizes that mark.
    """
    # pairwise over the channel views: half the cost of cv2.min, which copies each strided view first
    darkest = image if image.ndim == 2 else np.minimum(np.minimum(image[..., 0], image[..., 1]), image[..., 2])
    # A page of text tells on a half-size copy (a quarter of the work): ten times the ink a blank page may
    # have. Grain is judged against its own noise at either size and dust keeps its share, so a blank page
    # never comes near that; anything less is looked at in full.
    half = cv2.resize(darkest, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    if cv2.countNonZero(_ink(half)) > BLANK_SURE_INK * half.size:
        return False
    ink = _ink(darkest)
    inked = cv2.countNonZero(ink)
    if inked == 0:
        return True
    if inked > BLANK_MAX_INK * ink.size:
        return False
    pixels_per_mm = (dpi or max(image.shape[:2]) / ASSUMED_LONG_SIDE_IN) / 25.4
    _count, _labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    sizes = np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT])
    return not bool((sizes >= BLANK_MARK_MM * pixels_per_mm).any())


def _ink(darkest: np.ndarray) -> np.ndarray:
    """The ink of :func:`is_blank` (1 = ink): clearly below the flattened paper, beyond its grain."""
    flat = flatten_illumination(darkest, always=True)
    sample = flat[::4, ::4].astype(np.float32)  # a sixteenth of the pixels tells the paper and its grain
    paper = float(np.median(sample))
    noise = 1.4826 * float(np.median(np.abs(sample - paper)))
    limit = paper - max(BLANK_MIN_CONTRAST, BLANK_NOISE_SIGMAS * noise)
    return (flat < limit).astype(np.uint8)
