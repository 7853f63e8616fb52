"""Turn one input (an image-only PDF, a TIFF, JPEG or PNG, or a folder of them)
into page images at their native resolution.

Two steps, so that pages can be rendered in parallel worker processes:

- :func:`plan_pages` checks every input file (cheap: headers and PDF objects,
  no pixels) and returns one :class:`SourcePage` per page: where it comes
  from, its DPI and where that DPI came from. Bad inputs are refused here,
  before any work is done.
- :func:`render_page` writes one page's image into the work folder under a
  predictable name (``page-001.src.ppm``, or ``page-001.src.jpg`` for a PDF
  page that is one scanned JPEG, taken out as it is) or, for a single-frame
  JPEG or PNG, returns the file itself. It runs in a worker, one page at a time.

A PDF page is rasterized at the resolution of its largest embedded image:
never upsampled, never downsampled below it. An image's DPI comes from the
file when stated; else it is estimated from the paper size (A4, A5, A3 or
Letter, when the pixel size fits one of them) or it is the configured
default; :attr:`SourcePage.dpi_from` says which ("file", "estimated",
"default").

Bad inputs raise :class:`BadInputError` and its kin with a reason a clerk can
read; nothing is written outside ``work_dir``.
"""

from __future__ import annotations

import functools
import io
import os
import re
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pikepdf
from PIL import Image, ImageChops, ImageCms, UnidentifiedImageError

from digitize import files, tools
from digitize.errors import (
    BadInputError,
    EncryptedInputError,
    SignedInputError,
    ToolError,
    ToolTimeoutError,
)
from digitize.i18n import _, format_number

PDF_SUFFIXES = {".pdf"}
IMAGE_SUFFIXES = {".tif", ".tiff", ".jpg", ".jpeg", ".png"}
INPUT_SUFFIXES = PDF_SUFFIXES | IMAGE_SUFFIXES

#: Decompression-bomb guard: a page above this many pixels is refused (an A3
#: page at 600 dpi is ~70 Mpx; OCRmyPDF's enormous.pdf test page is 81 Mpx).
MAX_PIXELS = 100_000_000
#: Fewer pixels than this on a side is not a page scan (a 1 x 1 px image, a thin strip): the
#: cleanup steps work on images scaled down to about 1,000 px and need a few rows to work on.
MIN_SIDE_PIXELS = 32
#: A page longer than this many times its width (either way up) is a strip, not a page.
MAX_ASPECT = 20
#: A stated resolution outside this range is a mistake in the file (no scanner makes a page at
#: 100,000 dpi): it is not believed, and the DPI is estimated from the paper size instead.
STATED_DPI = (50, 2400)
#: A page less than this many inches (2.5 mm) on a side, at its resolution, is not a page, and PDF/A
#: forbids a page under 3 points (1 mm) on a side.
MIN_PAGE_INCHES = 0.1
#: Default limit of pages in one input (``intake.max_pages``): a larger one is refused before any work.
MAX_PAGES = 500
#: Paper sizes (inches, portrait) used to estimate a missing DPI.
PAPER_SIZES = {"A4": (8.27, 11.69), "A5": (5.83, 8.27), "A3": (11.69, 16.54), "Letter": (8.5, 11.0)}
#: Only DPIs a scanner uses are believed when estimating.
PLAUSIBLE_DPI = (150, 1200)


@dataclass(frozen=True)
class SourcePage:
    """One page of the input: where it comes from and at which resolution.

    ``action`` is "ocr" (render, clean, OCR) or "keep" (a PDF page that
    already has text, copied as it is when ``existing_text = "skip"``).
    """

    number: int
    file: Path
    index: int  # 0-based page (PDF) or frame (TIFF) in ``file``
    kind: str  # "pdf" or "image"
    dpi: float
    dpi_from: str  # "file", "estimated" or "default"
    origin: str  # e.g. "scan.pdf page 2"
    action: str = "ocr"


@dataclass(frozen=True)
class InputPlan:
    """Every page of the input(s) in order, and the signed originals to keep."""

    pages: tuple[SourcePage, ...]
    signed_originals: tuple[Path, ...] = field(default=())


#: What text a PDF page draws (:func:`drawn_text`): none (an image-only scan, even with font
#: resources or empty text objects), only invisible text (render mode 3 or 7: an earlier OCR
#: layer), or visible text (a born-digital page).
TEXT_NONE, TEXT_INVISIBLE, TEXT_VISIBLE = "none", "invisible", "visible"


@dataclass(frozen=True)
class _PdfPage:
    dpi: float
    dpi_from: str
    text: str = TEXT_NONE  # TEXT_NONE, TEXT_INVISIBLE or TEXT_VISIBLE

    @property
    def has_text(self) -> bool:
        return self.text != TEXT_NONE


def input_files(path: Path) -> list[Path]:
    """The files of one input, in page order: the file itself, or a folder's files.

    A folder's files are taken from it and from its sub-folders alike, in the
    natural order of their paths inside it (``2.jpg`` before ``10.jpg``,
    ``a/9.jpg`` before ``b/1.jpg``); hidden files and folders (``.name``) and
    ``.json`` files are not pages. A link or a special file inside the folder is
    refused, never followed.
    """
    if not os.path.lexists(path):
        raise BadInputError(_("{name} does not exist", name=path.name))
    if not path.is_dir():
        return [path]
    files = []
    for file in _folder_files(path):
        if file.is_symlink() or not file.is_file():
            raise BadInputError(_("{name} is a link or a special file, not a page; put the page files themselves "
                                  "in the folder", name=path.name + "/" + file.relative_to(path).as_posix()))
        if file.suffix.lower() != ".json":
            files.append(file)
    if not files:
        raise BadInputError(_("folder {name} holds no page files", name=path.name))
    return sorted(files, key=lambda f: _natural_key(f.relative_to(path)))


def _folder_files(folder: Path) -> list[Path]:
    """Everything but folders under ``folder``, without following links or entering hidden folders."""
    found = []
    for entry in folder.iterdir():
        if entry.name.startswith("."):
            continue
        if entry.is_dir() and not entry.is_symlink():
            found.extend(_folder_files(entry))
        else:
            found.append(entry)
    return found


def _natural_key(relative: Path) -> tuple:
    """Sort key of a path: part by part, runs of digits compared as numbers, letters without case."""
    parts = tuple(
        tuple(int(chunk) if i % 2 else chunk.casefold() for i, chunk in enumerate(re.split(r"([0-9]+)", part)))
        for part in relative.parts
    )
    return parts, relative.as_posix()


def _without_path(error: Exception, file: Path) -> str:
    """A library's message about ``file`` with the file's full path (a work copy's) cut to its name."""
    return str(error).replace(str(file), file.name)


def plan_pages(
    paths: Path | list[Path],
    *,
    default_dpi: int,
    existing_text: str = "refuse",
    signed_input: str = "refuse",
    max_pages: int = MAX_PAGES,
) -> InputPlan:
    """Check every input file and list its pages, in order, without rendering any.

    ``existing_text`` ("refuse", "redo", "skip") and ``signed_input``
    ("refuse", "keep-original") say what to do with PDFs that already have a
    text layer or a digital signature. An input of more than ``max_pages``
    pages is refused (:class:`BadInputError`) as soon as its count is known.
    """
    sources = [f for p in ([paths] if isinstance(paths, Path) else paths) for f in input_files(p)]
    pages: list[SourcePage] = []
    signed: list[Path] = []
    try:
        for file in sources:
            _check_not_empty(file)
            suffix = file.suffix.lower()
            first = len(pages) + 1
            room = max_pages - len(pages)
            if suffix in PDF_SUFFIXES:
                infos, is_signed = inspect_pdf(file, default_dpi, signed_input=signed_input, max_pages=room)
                if is_signed:
                    signed.append(file)
                pages.extend(_pdf_plan(file, infos, first, existing_text, redo=is_signed))
            elif suffix in IMAGE_SUFFIXES:
                pages.extend(_image_plan(file, first, default_dpi, room))
            else:
                raise BadInputError(_("{name}: unsupported file type '{suffix}'; scan to PDF, TIFF, JPEG or PNG",
                                      name=file.name, suffix=file.suffix))
    except TooManyPages as e:
        counted = len(pages) + e.count
        count = format_number(counted) if file == sources[-1] else _("{count} or more", count=format_number(counted))
        raise BadInputError(_(
            "{name} has {count} pages, more than the limit of {limit} "
            "(intake.max_pages): split it into smaller documents and drop them again",
            name=_input_name(paths), count=count, limit=format_number(max_pages),
        )) from None
    return InputPlan(tuple(pages), tuple(signed))


class TooManyPages(Exception):  # noqa: N818 - internal signal, never leaves plan_pages
    """Raised inside :func:`plan_pages` when a file's pages do not fit under the limit."""

    def __init__(self, count: int):
        super().__init__(count)
        self.count = count


def _input_name(paths: Path | list[Path]) -> str:
    items = [paths] if isinstance(paths, Path) else paths
    return items[0].name if len(items) == 1 else _("{name} (with the other inputs)", name=items[0].name)


def _check_not_empty(file: Path) -> None:
    if file.stat().st_size == 0:
        raise BadInputError(_("{name} is empty (0 bytes); scan it again", name=file.name))


def _pdf_plan(file: Path, infos: list[_PdfPage], first: int, existing_text: str, *, redo: bool) -> list[SourcePage]:
    pages = []
    for index, info in enumerate(infos):
        action = "ocr"
        if info.has_text and not redo:
            if existing_text == "refuse":
                raise BadInputError(_has_text_message(file.name, index + 1, info.text))
            action = "keep" if existing_text == "skip" else "ocr"
        pages.append(SourcePage(first + index, file, index, "pdf", info.dpi, info.dpi_from,
                                page_name(file.name, index + 1), action))
    return pages


def _has_text_message(name: str, number: int, kind: str) -> str:
    """Why a page with text is refused, in the clerk's words: an earlier OCR layer or born-digital text."""
    page = page_name(name, number)
    if kind == TEXT_INVISIBLE:
        return _("{page} already has an invisible text layer from an earlier OCR (it may be a copy that was "
                 "already digitized); check it is not archived already. To digitize it anyway, set "
                 "ocr.existing_text = \"redo\" (OCR the page again) or \"skip\" (keep such pages as they are)",
                 page=page)
    return _("{page} already has visible text (a born-digital page, not a scan); keep the electronic original "
             "as it is. To digitize it anyway, set ocr.existing_text = \"redo\" (OCR the page again) or "
             "\"skip\" (keep such pages as they are)", page=page)


def page_name(name: str, number: int) -> str:
    """Page ``number`` of the file ``name`` as a clerk reads it: ``scan.pdf page 2``."""
    return _("{name} page {number}", name=name, number=number)


def inspect_pdf(
    file: Path, default_dpi: int, *, signed_input: str = "refuse", max_pages: int | None = None
) -> tuple[list[_PdfPage], bool]:
    """Check a PDF can be digitized; return each page's native DPI and text flag, and whether it is signed.

    Refuses encrypted PDFs, signed PDFs (unless ``signed_input`` is
    "keep-original"), PDFs without pages and pages too large to be a scan.
    """
    try:
        pdf = pikepdf.open(file)
    except pikepdf.PasswordError as e:
        raise EncryptedInputError(_(
            "{name} is encrypted (password protected); save it without a password and scan again", name=file.name
        )) from e
    except pikepdf.PdfError as e:
        raise BadInputError(_unreadable_pdf(e, file)) from e
    with pdf:
        if pdf.is_encrypted:
            raise EncryptedInputError(_("{name} is encrypted; save it without encryption and scan again",
                                        name=file.name))
        signed = is_signed(pdf)
        if signed and signed_input != "keep-original":
            raise SignedInputError(_(
                "{name} already carries a digital signature; it is an electronic "
                "original, not a scan: keep it as it is (or set ocr.signed_input = \"keep-original\" "
                "to digitize it and keep the signed original beside the copy)", name=file.name,
            ))
        try:
            if len(pdf.pages) == 0:
                raise BadInputError(_("{name} has no pages", name=file.name))
            if max_pages is not None and len(pdf.pages) > max_pages:
                raise TooManyPages(len(pdf.pages))
            return [_page_info(file, page, n, default_dpi, vector_ok=signed)
                    for n, page in enumerate(pdf.pages, 1)], signed
        except pikepdf.PdfError as e:
            raise BadInputError(_unreadable_pdf(e, file)) from e


def _unreadable_pdf(error: Exception, file: Path) -> str:
    return _("{name} is not a readable PDF (corrupt or truncated): {error}", name=file.name,
             error=_without_path(error, file))


def is_signed(pdf: pikepdf.Pdf) -> bool:
    """Whether the PDF carries a digital signature (a signed field, or /Perms)."""
    root = pdf.Root
    if "/Perms" in root:
        return True
    acroform = root.get("/AcroForm")
    if acroform is None:
        return False
    return any(field.get("/FT") == "/Sig" and "/V" in field for field in acroform.get("/Fields", []))


def _page_info(file: Path, page: pikepdf.Page, number: int, default_dpi: int, *, vector_ok: bool = False) -> _PdfPage:
    """The resolution of the largest image on the page (or the default), and whether it has text.

    A page with neither image nor text is refused unless ``vector_ok`` (a signed
    electronic original digitized under "keep-original": it is rendered at the default DPI).
    """
    text = drawn_text(page)
    has_text = text != TEXT_NONE
    box = page.mediabox
    width_in, height_in = float(box[2] - box[0]) / 72, float(box[3] - box[1]) / 72
    if int(page.obj.get("/Rotate", 0)) % 180:
        width_in, height_in = height_in, width_in
    if width_in <= 0 or height_in <= 0:
        raise BadInputError(_("{page} has an empty page box", page=page_name(file.name, number)))
    _check_page_size(page_name(file.name, number), width_in, height_in)
    widest = max((int(image.get("/Width", 0)) for image in page.get_images().values()), default=0)
    if not widest and not has_text and not vector_ok:
        raise BadInputError(_("{page} holds no scanned image", page=page_name(file.name, number)))
    dpi, dpi_from = (float(round(widest / width_in)), "file") if widest else (float(default_dpi), "default")
    if dpi_from == "file" and dpi < STATED_DPI[0]:
        raise BadInputError(_(
            "{page}: its scan is only {dpi} dpi for a page of {width} x {height} mm, too coarse to read; "
            "scan it again (at least 200 dpi, Decree 30)", page=page_name(file.name, number),
            dpi=format(dpi, ".0f"), width=format(width_in * 25.4, ".0f"), height=format(height_in * 25.4, ".0f"),
        ))
    _check_pixels(page_name(file.name, number), width_in * dpi, height_in * dpi)
    return _PdfPage(dpi, dpi_from, text)


#: Operators that show text, and the text render modes that draw nothing visible (3: invisible,
#: as an OCR layer; 7: clip only).
_SHOW_TEXT = frozenset({"Tj", "TJ", "'", '"'})
_INVISIBLE_MODES = frozenset({3, 7})
#: Operators of a text object that draws nothing (no text shown): left aside when looking for a lone scan.
_EMPTY_TEXT_OBJECT = frozenset({"BT", "ET", "Tf", "TL", "Td", "TD", "Tm", "T*", "Tr", "Tc", "Tw", "Tz", "Ts"})
_TEXT_OPERATORS = " ".join(["Tj", "TJ", "'", '"', "Tr", "q", "Q", "Do"])


def drawn_text(page: pikepdf.Page) -> str:
    """What text the page actually draws: :data:`TEXT_NONE`, :data:`TEXT_INVISIBLE` or :data:`TEXT_VISIBLE`.

    Counts text-showing operators (``Tj``, ``TJ``, ``'``, ``"``) with a non-empty
    string, in the page's content and the forms it draws, under the text render mode
    then in force. A font resource or an empty text object (``BT /F1 12 Tf ET``, as
    scanner and portal software write on image-only pages) is no text.
    """
    return _walk_text(page, page.resources, 0, 0)


def _walk_text(content: pikepdf.Page | pikepdf.Stream, resources: object, mode: int, depth: int) -> str:
    """The text kind drawn by one content stream, starting in render mode ``mode``."""
    found = TEXT_NONE
    stack: list[int] = []
    try:
        instructions = pikepdf.parse_content_stream(content, _TEXT_OPERATORS)
    except pikepdf.PdfError:
        return TEXT_NONE  # unreadable content: rendering will say what is wrong
    for operands, operator in instructions:
        op = str(operator)
        if op == "q":
            stack.append(mode)
        elif op == "Q":
            mode = stack.pop() if stack else mode
        elif op == "Tr" and operands:
            mode = int(operands[0])
        elif op in _SHOW_TEXT and _shows_something(operands):
            if mode not in _INVISIBLE_MODES:
                return TEXT_VISIBLE
            found = TEXT_INVISIBLE
        elif op == "Do" and operands and depth < 8:
            form = _form(resources, operands[0])
            if form is not None:
                inner = _walk_text(form, form.get("/Resources", resources), mode, depth + 1)
                if inner == TEXT_VISIBLE:
                    return TEXT_VISIBLE
                if inner == TEXT_INVISIBLE:
                    found = TEXT_INVISIBLE
    return found


def _shows_something(operands: list) -> bool:
    """Whether a text-showing operator's operands hold a non-empty string (``TJ``: any in its array)."""
    last = operands[-1] if operands else None
    if isinstance(last, pikepdf.Array):
        return any(isinstance(x, pikepdf.String) and len(bytes(x)) > 0 for x in last)
    return isinstance(last, pikepdf.String) and len(bytes(last)) > 0


def _form(resources: object, name: object) -> pikepdf.Stream | None:
    """The form XObject ``name`` of ``resources``, or None (an image, or missing)."""
    if not isinstance(resources, pikepdf.Dictionary):
        return None
    xobjects = resources.get("/XObject")
    if not isinstance(xobjects, pikepdf.Dictionary):
        return None
    x = xobjects.get(str(name))
    return x if isinstance(x, pikepdf.Stream) and x.get("/Subtype") == "/Form" else None


def _check_page_size(what: str, width_in: float, height_in: float) -> None:
    """Refuse a page smaller than :data:`MIN_PAGE_INCHES` on a side (its size in inches)."""
    if min(width_in, height_in) < MIN_PAGE_INCHES:
        raise BadInputError(_(
            "{what} is too small to be a page ({width} x {height} mm at the "
            "resolution it states): scan the page again at its real size",
            what=what, width=format_number(width_in * 25.4, 1), height=format_number(height_in * 25.4, 1),
        ))


def _check_pixels(what: str, width: float, height: float) -> None:
    short, long = sorted((width, height))
    if short < MIN_SIDE_PIXELS:
        raise BadInputError(_(
            "{what} is too small to be a page scan ({width} x {height} pixels; a page needs at "
            "least {limit} on each side): scan the page again",
            what=what, width=format(width, ".0f"), height=format(height, ".0f"), limit=MIN_SIDE_PIXELS,
        ))
    if long > MAX_ASPECT * short:
        raise BadInputError(_(
            "{what} is a strip, not a page ({width} x {height} pixels, more than {limit} times "
            "longer than wide): scan each page on its own",
            what=what, width=format(width, ".0f"), height=format(height, ".0f"), limit=MAX_ASPECT,
        ))
    if width * height > MAX_PIXELS:
        raise BadInputError(_(
            "{what} is too large to be a page scan ({width} x {height} pixels, more than "
            "{limit} million): split it or scan at a lower resolution",
            what=what, width=format(width, ".0f"), height=format(height, ".0f"), limit=MAX_PIXELS // 1_000_000,
        ))


def _image_plan(file: Path, first: int, default_dpi: int, room: int) -> list[SourcePage]:
    """The frames of an image file as pages; more than ``room`` frames raise :class:`TooManyPages`."""
    try:
        with open_image(file) as image:
            frames = getattr(image, "n_frames", 1)
            if frames < 1:
                raise BadInputError(_("{name} holds no page (an image file with no frames); scan it again",
                                      name=file.name))
            if frames > room:
                raise TooManyPages(frames)
            pages = []
            for index in range(frames):
                image.seek(index)
                origin = page_name(file.name, index + 1) if frames > 1 else file.name
                _check_frame(origin, image)
                dpi, dpi_from = _image_dpi(image, default_dpi)
                _check_page_size(origin, image.size[0] / dpi, image.size[1] / dpi)
                pages.append(SourcePage(first + index, file, index, "image", dpi, dpi_from, origin))
            return pages
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, Image.DecompressionBombError) as e:
        raise BadInputError(unreadable_image(file.name, e)) from e


def unreadable_image(what: str, error: BaseException) -> str:
    """Why an image file or page (``what``, as the clerk dropped it) was refused: corrupt or truncated."""
    return _("{what} is not a readable image (corrupt or truncated): {error}", what=what, error=error)


def render_page(page: SourcePage, work_dir: Path, *, timeout: float) -> Path:
    """Write the page image of ``page`` into ``work_dir`` (or return the file when it is one) and return its path.

    An image file is decoded in full here (a truncated or corrupt one is refused
    with :class:`BadInputError`) and written as 8-bit RGB or grey, as it looks
    (see :func:`page_pixels`); a single-frame JPEG or PNG that is already plain
    8-bit sRGB or grey is returned as it is.
    """
    out = work_dir / f"page-{page.number:03d}.src.ppm"  # uncompressed: fast to write and read
    if page.kind == "pdf":
        return _render_pdf_page(page, out, timeout)
    try:
        with open_image(page.file) as image:
            image.seek(page.index)
            _check_frame(page.origin, image)
            image.load()  # decodes it all: a truncated or corrupt file fails here, not as a grey page
            single = getattr(image, "n_frames", 1) == 1
            if single and page.file.suffix.lower() in {".jpg", ".jpeg", ".png"} and _is_plain(image):
                return page.file
            pixels = page_pixels(image, page.origin)
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, Image.DecompressionBombError) as e:
        raise BadInputError(unreadable_image(page.origin, e)) from e
    files.save_image(pixels, out, dpi=(page.dpi, page.dpi))
    return out


def page_pixels(image: Image.Image, origin: str) -> Image.Image:
    """The loaded frame ``image`` as 8-bit RGB or grey ("L"), as it looks on paper.

    - 1-bit becomes grey; 16-bit (and 32-bit) grey is scaled to 8 bits (65535 is white),
      never clipped; 16-bit RGB is read at 8 bits by Pillow itself;
    - palette images, with or without a transparent colour, and images with an alpha
      channel (LA, RGBA, PA) or a transparent colour (tRNS) are laid on white paper:
      a transparent pixel is paper whatever colour it stores;
    - CMYK (JPEG, including Adobe's inverted CMYK, and TIFF) and RGB with an embedded
      ICC profile are converted to sRGB through the profile (Pillow ImageCms); a
      profile LittleCMS cannot read is ignored (plain conversion);
    - CIE L*a*b* is converted to sRGB.

    A result of one flat colour from a source whose samples vary (a bit depth or
    colour space read wrongly) raises :class:`BadInputError`: such a page is never
    passed on as "blank".
    """
    source = image
    if image.mode == "1":
        out = image.convert("L")
    elif image.mode.startswith("I") or image.mode == "F":
        out = _to_8_bit(image)
    else:
        out = _to_srgb(_on_white(_cmyk_as_stored(image)))
        if out.mode not in ("RGB", "L"):
            out = out.convert("RGB")
    _check_not_flattened(source, out, origin)
    return out


def _is_plain(image: Image.Image) -> bool:
    """8-bit RGB or grey with nothing to apply: no transparency, no ICC profile other than sRGB."""
    if image.mode not in ("RGB", "L") or "transparency" in image.info:
        return False
    icc = image.info.get("icc_profile")
    return not icc or image.mode == "L" or _is_srgb(icc)


def _to_8_bit(image: Image.Image) -> Image.Image:
    """Grey of more than 8 bits (I;16, I;16B, I, F) scaled to 0-255."""
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        top = 1.0 if values.size and float(np.nanmax(values)) <= 1.0 else 255.0
    else:
        values = np.asarray(image.convert("I") if image.mode != "I" else image, dtype=np.float64)
        peak = float(values.max()) if values.size else 0.0
        top = 65535.0 if peak <= 65535 else peak
    scaled = np.clip(np.nan_to_num(values) * (255.0 / top), 0, 255)
    return Image.fromarray(np.rint(scaled).astype(np.uint8), "L")


def _cmyk_as_stored(image: Image.Image) -> Image.Image:
    """A CMYK JPEG as its samples mean: Pillow reads every CMYK JPEG as Adobe's inverted kind;
    one without Adobe's marker (APP14) stores plain CMYK and is inverted back."""
    if image.mode == "CMYK" and image.format == "JPEG" and "adobe" not in image.info:
        inverted = ImageChops.invert(image)
        inverted.info = dict(image.info)
        return inverted
    return image


def _on_white(image: Image.Image) -> Image.Image:
    """``image`` laid on white paper when it has an alpha channel, a transparent colour or a palette."""
    if image.mode == "P":
        transparent = "transparency" in image.info or (image.palette is not None and image.palette.mode == "RGBA")
        image = image.convert("RGBA" if transparent else "RGB")
    elif image.mode in ("L", "RGB") and "transparency" in image.info:
        image = image.convert("LA" if image.mode == "L" else "RGBA")
    elif image.mode in ("PA", "RGBa", "La"):
        image = image.convert("RGBA" if image.mode != "La" else "LA")
    if image.mode not in ("LA", "RGBA"):
        return image
    colour = image.mode[0] if image.mode == "LA" else "RGB"
    paper = Image.new(colour, image.size, 255 if colour == "L" else (255, 255, 255))
    paper.paste(image.convert(colour), mask=image.getchannel("A"))
    paper.info = {k: v for k, v in image.info.items() if k != "transparency"}
    return paper


def _to_srgb(image: Image.Image) -> Image.Image:
    """RGB or CMYK with an embedded ICC profile, and CIE L*a*b*, converted to sRGB; CMYK without one plainly."""
    icc = image.info.get("icc_profile")
    if image.mode == "LAB":
        return ImageCms.applyTransform(image, ImageCms.buildTransform(
            ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB"))
    if icc and image.mode in ("RGB", "CMYK") and not (image.mode == "RGB" and _is_srgb(icc)):
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(image, profile, ImageCms.createProfile("sRGB"), outputMode="RGB",
                                                  renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            converted = None  # an unreadable profile: the colours as stored are the best there is
        if converted is not None:
            return converted
    return image.convert("RGB") if image.mode == "CMYK" else image


@functools.lru_cache(maxsize=32)
def _is_srgb(icc: bytes) -> bool:
    """Whether an embedded RGB ICC profile is sRGB in effect (converting through it changes no colour by
    more than 3 levels). Judged by converting test colours, not by the profile's name."""
    probe = Image.frombytes("RGB", (len(_PROBE_COLOURS), 1), bytes(c for colour in _PROBE_COLOURS for c in colour))
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(probe, profile, ImageCms.createProfile("sRGB"), outputMode="RGB",
                                              renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return False
    if converted is None:
        return False
    difference = np.abs(np.asarray(converted, dtype=np.int16) - np.asarray(probe, dtype=np.int16))
    return int(difference.max()) <= 3


#: Colours through which an embedded profile is compared with sRGB.
_PROBE_COLOURS = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0), (128, 128, 128),
                  (200, 60, 40), (30, 90, 200))


def _check_not_flattened(source: Image.Image, out: Image.Image, origin: str) -> None:
    """Refuse a page that decodes to one flat colour while its samples vary (see :func:`page_pixels`)."""
    extrema = out.getextrema()
    bands = extrema if isinstance(extrema[0], tuple) else (extrema,)
    if any(low != high for low, high in bands):
        return
    alpha = source.mode in ("LA", "La", "PA", "RGBA", "RGBa") or "transparency" in source.info or source.mode == "P"
    if alpha:
        return  # transparent everywhere, or one palette colour: it does look flat
    source_extrema = source.getextrema()
    source_bands = source_extrema if isinstance(source_extrema[0], tuple) else (source_extrema,)
    if any(low != high for low, high in source_bands):
        raise BadInputError(_(
            "{what} could not be read as it is: its pixels vary ({mode} image) but they come out as "
            "one flat colour; save the scan as an 8-bit grey or colour PNG, TIFF or JPEG and drop it again",
            what=origin, mode=source.mode,
        ))


def _render_pdf_page(page: SourcePage, out: Path, timeout: float) -> Path:
    """The page's scan itself when the page is nothing else (see :func:`_extract_scan`), else a rendering."""
    return _extract_scan(page, out.with_suffix("").with_suffix(".src.jpg")) or _rasterize(page, out, timeout)


def _extract_scan(page: SourcePage, out: Path) -> Path | None:
    """Write the JPEG a scanner put on this page, as it is, when the page is that image and nothing else.

    That is the page at its native resolution with no decoding and re-rendering
    (pdftoppm costs ~0.2 s of CPU a 300-dpi page). It is taken only when
    drawing it is exactly showing it: one baseline or progressive JPEG
    (``/DCTDecode`` alone) whose components match its 8-bit ``/DeviceRGB`` or
    ``/DeviceGray``, no mask, no ``/Decode``, drawn once over the whole page
    box (``q W 0 0 H x y cm /Im Do Q``) at the same resolution both ways, no
    page rotation, no annotations, no other content. Anything else returns
    None and the page is rasterized.
    """
    try:
        with pikepdf.open(page.file) as pdf:
            pdf_page = pdf.pages[page.index]
            image = _single_full_page_image(pdf_page)
            if image is None:
                return None
            data = image.read_raw_bytes()
            mode = {"/DeviceRGB": "RGB", "/DeviceGray": "L"}[str(image.ColorSpace)]
            size = (int(image.Width), int(image.Height))
    except (pikepdf.PdfError, ValueError, IndexError, KeyError):
        return None  # pdftoppm then says what is wrong
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fits = probe.format == "JPEG" and probe.mode == mode and probe.size == size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    if not fits:
        return None
    if not data.rstrip(b"\0\r\n\t ").endswith(b"\xff\xd9"):  # no end-of-image marker: cut short
        raise BadInputError(_(
            "{what}: its scanned image is cut short (the JPEG in the PDF is truncated); scan it again",
            what=page.origin,
        ))
    files.write_bytes(out, data)
    return out


def _single_full_page_image(page: pikepdf.Page) -> pikepdf.Stream | None:
    """The one JPEG image the page consists of (see :func:`_extract_scan`), or None."""
    if int(page.obj.get("/Rotate", 0)) % 360 or page.obj.get("/Annots"):
        return None  # turned, or with annotations (stamps, notes) that rendering would draw
    if page.resources.get("/Font") is not None and drawn_text(page) != TEXT_NONE:
        return None  # with text that rendering would draw (fonts alone and empty text objects draw nothing)
    xobjects = page.resources.get("/XObject")
    if not isinstance(xobjects, pikepdf.Dictionary) or len(xobjects.keys()) != 1:
        return None
    name, image = next(iter(xobjects.items()))
    if not (isinstance(image, pikepdf.Stream) and image.get("/Subtype") == "/Image"
            and image.get("/Filter") == "/DCTDecode" and image.get("/ColorSpace") in ("/DeviceRGB", "/DeviceGray")
            and image.get("/BitsPerComponent") == 8
            and not any(k in image for k in ("/SMask", "/Mask", "/Decode", "/ImageMask", "/DecodeParms"))):
        return None
    operators = [(str(op), list(operands)) for operands, op in pikepdf.parse_content_stream(page)
                 if str(op) not in _EMPTY_TEXT_OBJECT]
    if [op for op, _ in operators] != ["q", "cm", "Do", "Q"] or str(operators[2][1][0]) != name:
        return None
    a, b, c, d, e, f = (float(x) for x in operators[1][1])
    box = [float(x) for x in page.mediabox]
    if abs(b) > 1e-6 or abs(c) > 1e-6 or any(abs(x - y) > 0.01 for x, y in
                                             ((a, box[2] - box[0]), (d, box[3] - box[1]), (e, box[0]), (f, box[1]))):
        return None
    across, down = int(image.Width) / a, int(image.Height) / d  # pixels per point each way
    if abs(across - down) > 0.01 * across:
        return None  # stretched (scanned at two resolutions): the page's shape is not the image's
    return image


def _rasterize(page: SourcePage, out: Path, timeout: float) -> Path:
    """Rasterize with pdftoppm to an uncompressed PPM: writing PNG costs ~3 s of CPU per
    300-dpi A4 page (zlib), PPM ~0.2 s, and the file lives only until it is read."""
    base = out.with_suffix("").with_suffix("")  # page-001; pdftoppm adds ".ppm"
    out = base.with_suffix(".src.ppm")
    number = str(page.index + 1)
    try:
        tools.run(
            ["pdftoppm", "-r", f"{page.dpi:g}", "-f", number, "-l", number, "-singlefile",
             str(page.file), str(base.with_suffix(".src"))],
            timeout=timeout,
            output_dir=out.parent,
        )
    except ToolTimeoutError:
        raise
    except ToolError as e:
        raise BadInputError(_("{what} could not be rendered: {error}", what=page.origin, error=e.message)) from e
    tools.check_output(out, "pdftoppm")
    return out


def jpeg_is_gray(file: Path) -> bool:
    """Whether the JPEG at ``file`` has one (grey) component."""
    with Image.open(file) as image:
        return image.mode == "L"


def open_image(file: Path) -> Image.Image:
    """Open an image file (headers only), refusing decompression bombs and what Pillow cannot read.

    Raises :class:`BadInputError` naming the file; later decoding errors are the caller's to wrap.
    """
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(file)
            image.size  # noqa: B018 - forces the header to be read
            return image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise BadInputError(_(
            "{name} is too large to be a page scan ({error}); split it or scan at a lower resolution",
            name=file.name, error=e,
        )) from e
    except UnidentifiedImageError as e:
        raise BadInputError(_("{name} is not an image that can be read; scan to PDF, TIFF, JPEG or PNG",
                              name=file.name)) from e
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as e:
        raise BadInputError(unreadable_image(file.name, e)) from e


def check_frame(origin: str, image: Image.Image) -> None:
    """Refuse the current frame of ``image`` when it has no pixels or too many to be a page."""
    _check_frame(origin, image)


def _check_frame(origin: str, image: Image.Image) -> None:
    width, height = image.size
    if width <= 0 or height <= 0:
        raise BadInputError(_("{what} has no pixels ({width} x {height}); scan it again",
                              what=origin, width=width, height=height))
    _check_pixels(origin, width, height)


def _image_dpi(image: Image.Image, default_dpi: int) -> tuple[float, str]:
    dpi = image.info.get("dpi")
    if dpi and dpi[0] and STATED_DPI[0] <= float(dpi[0]) <= STATED_DPI[1]:
        return float(round(float(dpi[0]))), "file"
    estimated = estimate_dpi(*image.size)
    if estimated is not None:
        return estimated, "estimated"
    return float(default_dpi), "default"


def estimate_dpi(width: int, height: int) -> float | None:
    """The DPI of a ``width`` x ``height`` pixel scan of a standard paper size, or None.

    The aspect ratio must match A4, A5, A3 or Letter within 2% (either way
    up) and the result must be a DPI scanners use; it is rounded to 10.
    """
    short, long = sorted((width, height))
    for paper_short, paper_long in PAPER_SIZES.values():
        if abs((long / short) / (paper_long / paper_short) - 1) <= 0.02:
            dpi = round(short / paper_short / 10) * 10
            if PLAUSIBLE_DPI[0] <= dpi <= PLAUSIBLE_DPI[1]:
                return float(dpi)
    return None
