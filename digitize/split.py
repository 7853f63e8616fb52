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
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pikepdf
from PIL import Image

from digitize.errors import BadInputError, MissingToolError, SignedInputError, ToolTimeoutError
from digitize.files import storage_guard
from digitize.models import KINDS, check_code, parse_document_code
from digitize.pages import check_frame, is_signed, open_image

#: Cover sheets are read at this resolution: enough for a QR code of a few cm.
QR_DPI = 150


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
    """The cover named by a QR payload, or None when the code is not a cover sheet's."""
    payload = payload.strip()
    if not payload:
        return None
    try:
        if payload.startswith("{"):
            data = json.loads(payload)
        elif "=" in payload:
            data = dict(part.split("=", 1) for part in payload.split(";") if "=" in part)
        else:
            code, kind, number = parse_document_code(payload)
            return Cover(code, kind, number)
        kind = str(data.get("kind", "HS")).upper()
        if kind not in KINDS:
            return None
        procedure = data.get("procedure_code")
        return Cover(
            check_code(str(data["dossier_code"])),
            kind,
            int(data.get("number", 1)),
            check_code(str(procedure), "procedure code") if procedure else None,
        )
    except (KeyError, ValueError, json.JSONDecodeError, BadInputError):
        return None


def plan_split(covers: list[Cover | None]) -> list[Segment]:
    """Cut a batch where a page is a cover sheet; ``covers[i]`` is page i's cover or None.

    Pages before the first cover belong to no document: the batch is refused,
    since guessing their owner would file papers under the wrong dossier.
    """
    if not covers or covers[0] is None:
        raise BadInputError("the batch does not start with a QR cover sheet; put one before each dossier")
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
        raise BadInputError(f"the batch names the same document twice: {', '.join(duplicates)}")
    return segments


def _segment(cover: Cover, pages: list[int]) -> Segment:
    if not pages:
        raise BadInputError(f"the cover sheet of {cover.document_code} is followed by no page")
    return Segment(cover, tuple(pages))


def read_qr(image: np.ndarray) -> str | None:
    """The text of the QR code on a page image, or None."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    for detector in (cv2.QRCodeDetectorAruco(), cv2.QRCodeDetector()):
        try:
            text, _points, _ = detector.detectAndDecode(gray)
        except cv2.error:
            continue
        if text:
            return text
    return None


def read_covers(path: Path, *, timeout: float) -> list[Cover | None]:
    """Read each page of a batch file (PDF or multi-page TIFF) for a cover sheet."""
    return [parse_cover(text) if text else None for text in _page_qr_texts(path, timeout)]


def _render(path: Path, timeout: float, **pages: int) -> list[Image.Image]:
    """The pages of a PDF at :data:`QR_DPI` in grey (pdf2image, i.e. poppler's pdftoppm)."""
    from pdf2image import convert_from_path
    from pdf2image.exceptions import (
        PDFInfoNotInstalledError,
        PDFPageCountError,
        PDFPopplerTimeoutError,
        PDFSyntaxError,
        PopplerNotInstalledError,
    )

    try:
        return convert_from_path(str(path), dpi=QR_DPI, grayscale=True, timeout=timeout, **pages)
    except (PDFInfoNotInstalledError, PopplerNotInstalledError) as e:
        raise MissingToolError("poppler is not installed", hint="install it with: apt-get install poppler-utils") from e
    except PDFPopplerTimeoutError as e:
        raise ToolTimeoutError(f"{path.name}: rendering the batch took more than {timeout:g} s") from e
    except (PDFPageCountError, PDFSyntaxError) as e:
        raise BadInputError(f"{path.name}: the batch could not be rendered to read its cover sheets: {e}") from e


def _page_qr_texts(path: Path, timeout: float) -> list[str | None]:
    if path.suffix.lower() == ".pdf":
        return [read_qr(np.asarray(image)) for image in _render(path, timeout)]
    with open_image(path) as tiff:
        texts = []
        for index in range(getattr(tiff, "n_frames", 1)):
            origin = f"{path.name} page {index + 1}"
            try:
                tiff.seek(index)
                check_frame(origin, tiff)  # before decoding: an oversized page is refused, not loaded
                texts.append(read_qr(np.asarray(tiff.convert("L"))))
            except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as e:
                raise BadInputError(f"{origin} is not a readable image (corrupt or truncated): {e}") from e
        return texts


def has_cover_first(path: Path, *, timeout: float) -> bool:
    """True when the first page of ``path`` is a QR cover sheet (so the file is a batch)."""
    if path.suffix.lower() == ".pdf":
        try:
            images = _render(path, timeout, first_page=1, last_page=1)
        except BadInputError:
            return False  # an unreadable file is reported, with its reason, by the normal path
        return bool(images) and parse_cover(read_qr(np.asarray(images[0])) or "") is not None
    if path.suffix.lower() in (".tif", ".tiff"):
        with open_image(path) as tiff:  # a file Pillow cannot open, or too large, is refused with its reason
            check_frame(f"{path.name} page 1", tiff)
            try:
                return parse_cover(read_qr(np.asarray(tiff.convert("L"))) or "") is not None
            except (OSError, SyntaxError, ValueError, EOFError):
                return False  # an undecodable page is reported, with its reason, by the normal path
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
                raise SignedInputError(
                    f"{path.name} carries a digital signature: cutting it at its cover sheets would leave "
                    "documents without it; send each document as its own file"
                )
        return [_cut_pdf(path, s, out_dir) for s in segments]
    return [_cut_tiff(path, s, out_dir) for s in segments]


def _cut_pdf(path: Path, segment: Segment, out_dir: Path) -> Path:
    target = out_dir / f"{segment.cover.document_code}.pdf"
    with pikepdf.open(path) as batch, pikepdf.new() as part:
        for index in segment.pages:
            part.pages.append(batch.pages[index])
        tmp = target.with_name(target.name + ".part")
        with storage_guard(tmp):
            part.save(tmp, deterministic_id=True)
    tmp.replace(target)
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
    tmp = target.with_name(target.name + ".part")
    dpi = frames[0].info.get("dpi")
    kwargs = {"dpi": dpi} if dpi else {}
    with storage_guard(tmp):
        frames[0].save(tmp, format="TIFF", save_all=True, append_images=frames[1:], compression="tiff_lzw", **kwargs)
    tmp.replace(target)
    return target
