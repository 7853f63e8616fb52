"""Turn one input (an image-only PDF, a TIFF, JPEG or PNG, or a folder of them)
into page images at their native resolution.

Every page image is written into the work folder under a predictable name
(``page-001.src.png``) or, for a single-frame JPEG or PNG, read from where it
is. Its DPI comes from the file when the file states it, else it is the
configured default, and :class:`SourcePage` says which.

Bad inputs raise :class:`BadInputError` and its kin with a reason a clerk can
read; nothing is written outside ``work_dir``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from PIL import Image, UnidentifiedImageError

from digitize import tools
from digitize.errors import (
    BadInputError,
    EncryptedInputError,
    SignedInputError,
    ToolError,
    ToolTimeoutError,
)

PDF_SUFFIXES = {".pdf"}
IMAGE_SUFFIXES = {".tif", ".tiff", ".jpg", ".jpeg", ".png"}
INPUT_SUFFIXES = PDF_SUFFIXES | IMAGE_SUFFIXES

#: Pillow refuses images above this many pixels (a decompression bomb guard):
#: an A3 page at 600 dpi is ~70 Mpx.
MAX_PIXELS = 200_000_000


@dataclass(frozen=True)
class SourcePage:
    """One page image ready for cleanup."""

    number: int
    path: Path
    dpi: float
    dpi_from: str  # "file" or "default"
    origin: str  # e.g. "scan.pdf page 2"


def input_files(path: Path) -> list[Path]:
    """The files of one input, in page order: the file itself, or a folder's files sorted by name."""
    if not path.exists():
        raise BadInputError(f"{path} does not exist")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        files = [p for p in files if p.suffix.lower() != ".json"]
        if not files:
            raise BadInputError(f"folder {path.name} holds no page files")
        return files
    return [path]


def load_pages(
    paths: Path | list[Path], work_dir: Path, *, default_dpi: int, timeout: float
) -> list[SourcePage]:
    """Write or locate every page image of the input(s) at ``paths``, in order."""
    work_dir.mkdir(parents=True, exist_ok=True)
    pages: list[SourcePage] = []
    files = [f for p in ([paths] if isinstance(paths, Path) else paths) for f in input_files(p)]
    for file in files:
        for page in _pages_of(file, work_dir, len(pages) + 1, default_dpi, timeout):
            pages.append(page)
    return pages


def _pages_of(file: Path, work_dir: Path, first: int, default_dpi: int, timeout: float) -> Iterator[SourcePage]:
    _check_not_empty(file)
    suffix = file.suffix.lower()
    if suffix in PDF_SUFFIXES:
        yield from _pdf_pages(file, work_dir, first, default_dpi, timeout)
    elif suffix in IMAGE_SUFFIXES:
        yield from _image_pages(file, work_dir, first, default_dpi)
    else:
        raise BadInputError(
            f"{file.name}: unsupported file type '{file.suffix}'; "
            "scan to PDF, TIFF, JPEG or PNG"
        )


def _check_not_empty(file: Path) -> None:
    if file.stat().st_size == 0:
        raise BadInputError(f"{file.name} is empty (0 bytes); scan it again")


def inspect_pdf(file: Path, default_dpi: int) -> list[float]:
    """Check a PDF can be digitized and return each page's native DPI.

    Refuses encrypted PDFs, PDFs that already carry a signature, and PDFs that
    already have text (an electronic document, not a scan).
    """
    try:
        pdf = pikepdf.open(file)
    except pikepdf.PasswordError as e:
        raise EncryptedInputError(
            f"{file.name} is encrypted (password protected); save it without a password and scan again"
        ) from e
    except pikepdf.PdfError as e:
        raise BadInputError(f"{file.name} is not a readable PDF (corrupt or truncated): {e}") from e
    with pdf:
        if pdf.is_encrypted:
            raise EncryptedInputError(f"{file.name} is encrypted; save it without encryption and scan again")
        if _is_signed(pdf):
            raise SignedInputError(
                f"{file.name} already carries a digital signature; it is an electronic "
                "original, not a scan: keep it as it is"
            )
        if len(pdf.pages) == 0:
            raise BadInputError(f"{file.name} has no pages")
        return [_page_dpi(file, page, number, default_dpi) for number, page in enumerate(pdf.pages, 1)]


def _is_signed(pdf: pikepdf.Pdf) -> bool:
    root = pdf.Root
    if "/Perms" in root:
        return True
    acroform = root.get("/AcroForm")
    if acroform is None:
        return False
    return any(field.get("/FT") == "/Sig" and "/V" in field for field in acroform.get("/Fields", []))


def _page_dpi(file: Path, page: pikepdf.Page, number: int, default_dpi: int) -> float:
    """The resolution of the largest image on the page, or the default."""
    fonts = page.resources.get("/Font")
    if fonts is not None and len(fonts.keys()) > 0:
        raise BadInputError(
            f"{file.name} page {number} already has text (fonts); it is not an image-only scan"
        )
    box = page.mediabox
    width_in = float(box[2] - box[0]) / 72
    best = None
    for image in page.get_images().values():
        width = int(image.get("/Width", 0))
        if best is None or width > best:
            best = width
    if not best or width_in <= 0:
        raise BadInputError(f"{file.name} page {number} holds no scanned image")
    if int(page.obj.get("/Rotate", 0)) % 180:
        width_in = float(box[3] - box[1]) / 72
    return round(best / width_in) if best else float(default_dpi)


def _pdf_pages(file: Path, work_dir: Path, first: int, default_dpi: int, timeout: float) -> Iterator[SourcePage]:
    dpis = inspect_pdf(file, default_dpi)
    for index, dpi in enumerate(dpis, 1):
        number = first + index - 1
        base = work_dir / f"page-{number:03d}.src"
        try:
            tools.run(
                ["pdftoppm", "-r", str(dpi), "-f", str(index), "-l", str(index),
                 "-png", "-singlefile", str(file), str(base)],
                timeout=timeout,
            )
        except ToolTimeoutError:
            raise
        except ToolError as e:
            raise BadInputError(f"{file.name} page {index} could not be rendered: {e.message}") from e
        yield SourcePage(number, base.with_suffix(".src.png"), float(dpi), "file", f"{file.name} page {index}")


def _image_pages(file: Path, work_dir: Path, first: int, default_dpi: int) -> Iterator[SourcePage]:
    try:
        with _open_image(file) as image:
            frames = getattr(image, "n_frames", 1)
            single = frames == 1 and file.suffix.lower() in {".jpg", ".jpeg", ".png"}
            for index in range(frames):
                image.seek(index)
                dpi, dpi_from = _image_dpi(image, default_dpi)
                number = first + index
                origin = f"{file.name}" + (f" page {index + 1}" if frames > 1 else "")
                if single and image.mode in ("RGB", "L"):
                    path = file
                else:
                    path = work_dir / f"page-{number:03d}.src.png"
                    _normalise_mode(image).save(path, dpi=(dpi, dpi))
                yield SourcePage(number, path, dpi, dpi_from, origin)
    except (OSError, SyntaxError, ValueError) as e:
        raise BadInputError(f"{file.name} is not a readable image (corrupt or truncated): {e}") from e


def _open_image(file: Path) -> Image.Image:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(file)
            image.size  # noqa: B018 - forces the header to be read
            return image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise BadInputError(
            f"{file.name} is too large to be a page scan ({e}); split it or scan at a lower resolution"
        ) from e
    except UnidentifiedImageError as e:
        raise BadInputError(f"{file.name} is not an image Pillow can read; scan to PDF, TIFF, JPEG or PNG") from e


def _image_dpi(image: Image.Image, default_dpi: int) -> tuple[float, str]:
    dpi = image.info.get("dpi")
    if dpi and dpi[0] and float(dpi[0]) >= 50:
        return round(float(dpi[0])), "file"
    return float(default_dpi), "default"


def _normalise_mode(image: Image.Image) -> Image.Image:
    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("1", "I;16", "I"):
        return image.convert("L")
    return image.convert("RGB")
