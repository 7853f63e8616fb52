"""Batch scans split at QR cover sheets.

A clerk may scan many dossiers in one go, each preceded by a cover sheet whose
QR code names the document. Splitting is done in two steps, as paperless-ngx
does for barcodes: :func:`plan_split` turns what was read on each page into a
pure plan of segments, then :func:`cut` writes one input file per segment.
Cover pages are not part of any output.

A QR payload names a document in one of these forms::

    000.31.25.H08-261120-0003-KQ1                      (a document code)
    dossier_code=000.31.25.H08-261120-0003;kind=KQ;number=1;procedure_code=1.001193
    {"dossier_code": "...", "kind": "HS", "number": 2, "procedure_code": "..."}

A QR code that does not look like one of these (a web address, a product
code) is not a cover sheet; one that does but is wrong (a bad code, a number
that is not a whole number from 1 to 9999, text given as a JSON list...) is
refused with the page and what is wrong, never taken as a page of the
dossier before it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pikepdf
from PIL import Image

from digitize.errors import BadInputError, MissingToolError, SignedInputError, ToolTimeoutError
from digitize.files import storage_guard, written_whole
from digitize.i18n import _
from digitize.models import KINDS, check_code, check_number, json_kind, parse_document_code, shown
from digitize.pages import MAX_PIXELS, check_frame, is_signed, open_image, page_name, unreadable_image

#: Cover sheets are read at this resolution: enough for a QR code of a few cm.
QR_DPI = 150
#: Pages of a batch PDF drawn at once to read their QR codes (a grey A4 page at QR_DPI is ~2 MB).
RENDER_PAGES = 8
#: A QR text meant as a cover sheet's, well formed or not.
_COVER_LIKE = re.compile(r"dossier_code|(?:^|;)\s*(?:kind|number|procedure_code)\s*=|-(?:KQ|HS)[0-9]*$",
                         re.IGNORECASE)


@dataclass(frozen=True)
class Cover:
    """What a cover sheet's QR code says."""

    dossier_code: str
    kind: str = "HS"
    number: int = 1
    procedure_code: str | None = None

    @property
    def document_code(self) -> str:
        return f"{self.dossier_code}-{self.kind}{self.number}"


@dataclass(frozen=True)
class Segment:
    """The pages (0-based, in the batch file) of one document, and its cover."""

    cover: Cover
    pages: tuple[int, ...]


def parse_cover(payload: str) -> Cover | None:
    """The cover named by a QR payload, or None when the code is not a cover sheet's.

    Raises :class:`BadInputError` saying what is wrong when the payload is meant as a
    cover's (it names a ``dossier_code`` or ends like a document code) but is not a valid one.
    """
    payload = payload.strip()
    if not payload or not _COVER_LIKE.search(payload):
        return None
    try:
        return _cover(payload)
    except BadInputError as e:
        raise BadInputError(_("the cover sheet's QR code {value} is wrong: {reason}",
                              value=shown(payload), reason=e.message)) from e


def _cover(payload: str) -> Cover:
    if payload.startswith("{"):
        try:
            data = json.loads(payload)
        except RecursionError as e:
            raise BadInputError(_("it is nested too deeply")) from e
        except ValueError as e:
            raise BadInputError(_("it is not valid JSON ({error})", error=e)) from e
        if not isinstance(data, dict):
            raise BadInputError(_("it must be a JSON object, not {kind}", kind=json_kind(data)))
    elif "=" in payload:
        data = {key.strip(): value.strip() for key, _, value in
                (part.partition("=") for part in payload.split(";") if "=" in part)}
    else:
        try:
            code, kind, number = parse_document_code(payload)
        except BadInputError as e:
            raise BadInputError(_(
                "it does not read as a document code '<dossier code>-KQ<n>' or '<dossier code>-HS<n>' "
                "with n from 1 to 9999"
            )) from e
        return Cover(code, kind, number)
    return Cover(
        check_code(_text(data, "dossier_code", required=True)),
        _kind(data),
        _number(data.get("number", 1)),
        check_code(procedure, "procedure code") if (procedure := _text(data, "procedure_code")) else None,
    )


def _text(data: dict, key: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise BadInputError(_("{key} must be text, not {kind}", key=key, kind=json_kind(value)))
    return value


def _kind(data: dict) -> str:
    kind = (_text(data, "kind") or "HS").upper()
    if kind not in KINDS:
        raise BadInputError(_("kind {value} must be KQ (result) or HS (dossier paper)", value=shown(kind)))
    return kind


def _number(value: object) -> int:
    if isinstance(value, str):
        if not re.fullmatch(r"[0-9]{1,4}", value):
            raise BadInputError(_("document number {value} must be a whole number from 1 to 9999",
                                  value=shown(value)))
        value = int(value)
    return check_number(value)


def plan_split(covers: list[Cover | None]) -> list[Segment]:
    """Cut a batch where a page is a cover sheet; ``covers[i]`` is page i's cover or None.

    Pages before the first cover belong to no document: the batch is refused,
    since guessing their owner would file papers under the wrong dossier.
    """
    if not covers or covers[0] is None:
        raise BadInputError(_("the batch does not start with a QR cover sheet; put one before each dossier"))
    segments: list[Segment] = []
    current: Cover | None = None
    pages: list[int] = []
    for index, cover in enumerate(covers):
        if cover is not None:
            if current is not None:
                segments.append(_segment(current, pages))
            current, pages = cover, []
        else:
            pages.append(index)
    segments.append(_segment(current, pages))  # type: ignore[arg-type]
    codes = [s.cover.document_code for s in segments]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise BadInputError(_("the batch names the same document twice: {codes}", codes=", ".join(duplicates)))
    return segments


def _segment(cover: Cover, pages: list[int]) -> Segment:
    if not pages:
        raise BadInputError(_("the cover sheet of {code} is followed by no page", code=cover.document_code))
    return Segment(cover, tuple(pages))


def read_qr(image: np.ndarray) -> str | None:
    """The text of the QR code on a page image, or None."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    for detector in (cv2.QRCodeDetectorAruco(), cv2.QRCodeDetector()):
        try:
            text, _points, _straight = detector.detectAndDecode(gray)
        except cv2.error:
            continue
        if text:
            return text
    return None


def read_covers(path: Path, *, timeout: float) -> list[Cover | None]:
    """Read each page of a batch file (PDF or multi-page TIFF) for a cover sheet.

    Pages are read a few at a time (:data:`RENDER_PAGES` of a PDF; a TIFF frame by frame), so a
    batch of hundreds of pages never sits whole in memory. A cover sheet whose QR code is wrong
    stops the batch (:class:`BadInputError` naming the file and the page).
    """
    return [_page_cover(path, number, text) for number, text in enumerate(_page_qr_texts(path, timeout), 1)]


def _page_cover(path: Path, number: int, text: str | None) -> Cover | None:
    try:
        return parse_cover(text) if text else None
    except BadInputError as e:
        raise BadInputError(_("{page}: {reason}; print that cover sheet again",
                              page=page_name(path.name, number), reason=e.message)) from e


def _render(
    path: Path, timeout: float, *, first_page: int, last_page: int, checked: bool = False
) -> list[Image.Image]:
    """Pages ``first_page`` to ``last_page`` of a PDF at :data:`QR_DPI` in grey (pdf2image, i.e. poppler's
    pdftoppm); their size is checked first unless the caller has (``checked``)."""
    from pdf2image import convert_from_path

    if not checked:
        _check_render_size(path, first_page, last_page)
    with _poppler_errors(path, timeout):
        return convert_from_path(str(path), dpi=QR_DPI, grayscale=True, timeout=timeout, first_page=first_page,
                                 last_page=last_page)


def _pdf_qr_texts(path: Path, timeout: float) -> Iterator[str | None]:
    """The QR text of each page of a PDF batch, rendered :data:`RENDER_PAGES` at a time."""
    from pdf2image import pdfinfo_from_path

    _check_render_size(path, None, None)
    with _poppler_errors(path, timeout):
        count = int(pdfinfo_from_path(str(path), timeout=timeout)["Pages"])
    for first in range(1, count + 1, RENDER_PAGES):
        images = _render(path, timeout, first_page=first, last_page=min(count, first + RENDER_PAGES - 1),
                         checked=True)
        for image in images:
            yield read_qr(np.asarray(image))
        del images  # before the next pages are drawn


@contextlib.contextmanager
def _poppler_errors(path: Path, timeout: float) -> Iterator[None]:
    """pdf2image's errors as the product's: a missing poppler, a timeout, a PDF it cannot draw."""
    from pdf2image.exceptions import (
        PDFInfoNotInstalledError,
        PDFPageCountError,
        PDFPopplerTimeoutError,
        PDFSyntaxError,
        PopplerNotInstalledError,
    )

    try:
        yield
    except Image.DecompressionBombError as e:
        raise BadInputError(_("{name}: a page is too large to be a page scan ({error})", name=path.name,
                              error=e)) from e
    except (PDFInfoNotInstalledError, PopplerNotInstalledError) as e:
        raise MissingToolError(_("{program} is not installed", program="poppler"),
                               hint=_("install it with: {command}", command="apt-get install poppler-utils")) from e
    except PDFPopplerTimeoutError as e:
        raise ToolTimeoutError(_("{name}: rendering the batch took more than {seconds} s", name=path.name,
                                 seconds=format(timeout, "g"))) from e
    except (PDFPageCountError, PDFSyntaxError) as e:
        reason = str(e).replace(str(path), path.name)
        raise BadInputError(_("{name}: the batch could not be rendered to read its cover sheets: {error}",
                              name=path.name, error=reason)) from e


def _check_render_size(path: Path, first: int | None, last: int | None) -> None:
    """Refuse, before pdftoppm writes it, a page that would be more than :data:`pages.MAX_PIXELS`
    at :data:`QR_DPI` (a 200-inch page is 900 Mpx: gigabytes and a decompression-bomb error)."""
    try:
        with pikepdf.open(path) as pdf:
            numbers = range(first or 1, min(last or len(pdf.pages), len(pdf.pages)) + 1)
            for number in numbers:
                page = pdf.pages[number - 1]
                x0, y0, x1, y1 = (float(v) for v in page.mediabox)
                scale = float(page.obj.get("/UserUnit", 1)) * QR_DPI / 72
                if abs(x1 - x0) * scale * abs(y1 - y0) * scale > MAX_PIXELS:
                    raise BadInputError(_(
                        "{page} is too large to be a page scan ({width} x {height} inches); split it or scan it again",
                        page=page_name(path.name, number), width=format(abs(x1 - x0) / 72, ".0f"),
                        height=format(abs(y1 - y0) / 72, ".0f"),
                    ))
    except (pikepdf.PdfError, ValueError, TypeError):
        return  # an unreadable or odd file: pdftoppm says what is wrong with it


def _page_qr_texts(path: Path, timeout: float) -> Iterator[str | None]:
    """The QR text (or None) of each page of a batch, one page after the other."""
    if path.suffix.lower() == ".pdf":
        yield from _pdf_qr_texts(path, timeout)
        return
    with open_image(path) as tiff:
        for index in range(getattr(tiff, "n_frames", 1)):
            origin = page_name(path.name, index + 1)
            try:
                tiff.seek(index)
                check_frame(origin, tiff)  # before decoding: an oversized page is refused, not loaded
                text = read_qr(np.asarray(tiff.convert("L")))
            except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as e:
                raise BadInputError(unreadable_image(origin, e)) from e
            yield text


def has_cover_first(path: Path, *, timeout: float) -> bool:
    """True when the first page of ``path`` is a QR cover sheet (so the file is a batch).

    A link or special file is no batch (it is refused, unopened, by the normal path);
    a first page whose QR code is a wrong cover's raises :class:`BadInputError`.
    """
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return False
    except FileNotFoundError:
        return False
    if path.suffix.lower() == ".pdf":
        try:
            images = _render(path, timeout, first_page=1, last_page=1)
        except BadInputError:
            return False  # an unreadable file is reported, with its reason, by the normal path
        return bool(images) and _page_cover(path, 1, read_qr(np.asarray(images[0]))) is not None
    if path.suffix.lower() in (".tif", ".tiff"):
        with open_image(path) as tiff:  # a file Pillow cannot open, or too large, is refused with its reason
            check_frame(page_name(path.name, 1), tiff)
            try:
                text = read_qr(np.asarray(tiff.convert("L")))
            except (OSError, SyntaxError, ValueError, EOFError):
                return False  # an undecodable page is reported, with its reason, by the normal path
        return _page_cover(path, 1, text) is not None
    return False


def cut(path: Path, segments: list[Segment], out_dir: Path) -> list[Path]:
    """Write one file per segment (``<document code>.pdf`` or ``.tif``) into ``out_dir``.

    A signed batch PDF is refused (:class:`SignedInputError`), whatever ``ocr.signed_input``
    says: its parts would not carry the signature, and no part is the signed original.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".pdf":
        with pikepdf.open(path) as batch:
            if is_signed(batch):
                raise SignedInputError(_(
                    "{name} carries a digital signature: cutting it at its cover sheets would leave "
                    "documents without it; send each document as its own file", name=path.name,
                ))
        return [_cut_pdf(path, s, out_dir) for s in segments]
    return [_cut_tiff(path, s, out_dir) for s in segments]


def _cut_pdf(path: Path, segment: Segment, out_dir: Path) -> Path:
    target = out_dir / f"{segment.cover.document_code}.pdf"
    with pikepdf.open(path) as batch, pikepdf.new() as part:
        for index in segment.pages:
            part.pages.append(batch.pages[index])
        with storage_guard(target), written_whole(target) as tmp:
            part.save(tmp, deterministic_id=True)
    return target


def _cut_tiff(path: Path, segment: Segment, out_dir: Path) -> Path:
    target = out_dir / f"{segment.cover.document_code}.tif"
    frames = []
    with open_image(path) as tiff:
        for index in segment.pages:
            tiff.seek(index)
            frame = tiff.copy()
            frame.info["dpi"] = tiff.info.get("dpi", frame.info.get("dpi"))
            frames.append(frame)
    dpi = frames[0].info.get("dpi")
    kwargs = {"dpi": dpi} if dpi else {}
    with storage_guard(target), written_whole(target) as tmp:
        frames[0].save(tmp, format="TIFF", save_all=True, append_images=frames[1:], compression="tiff_lzw", **kwargs)
    return target
