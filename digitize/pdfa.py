"""Assemble the searchable PDF/A-2b and check PDF/A.

Each output page is the display image (JPEG, at the scan's resolution, 100%
scale) with Tesseract's text-only page laid over it as a Form XObject: the
text is invisible (rendering mode 3) and lines up with the image because both
were made from the same cleaned geometry and DPI.

Writing and checking PDF/A is ``pikepdf.pdfa``'s job: it installs the sRGB
OutputIntent and the XMP declaration, writes, and validates the written bytes
against rules imported from veraPDF's profiles.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pikepdf
import pikepdf.pdfa

from digitize.errors import BadInputError, PdfaError
from digitize.models import DocumentMeta

FLAVOUR = "2b"


@dataclass(frozen=True)
class PageLayer:
    """The two files that make one output page."""

    display_jpeg: Path
    text_pdf: Path
    width_px: int
    height_px: int
    dpi: float
    gray: bool


@dataclass(frozen=True)
class PdfaReport:
    """The outcome of a PDF/A check, rule by rule."""

    path: Path
    flavour: str
    passed: bool
    findings: tuple[str, ...] = field(default=())


def write_display_jpeg(image: np.ndarray, path: Path, quality: int) -> bool:
    """Write the display image as JPEG; returns True when it is greyscale."""
    gray = image.ndim == 2
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise BadInputError(f"could not encode page image {path.name}")
    path.write_bytes(data.tobytes())
    return gray


def assemble(layers: list[PageLayer], out: Path, meta: DocumentMeta, *, producer: str) -> PdfaReport:
    """Write the searchable PDF/A-2b at ``out`` (atomically) and return its check.

    Raises :class:`PdfaError` naming the broken rules if the written file is
    not PDF/A-2b; ``out`` is then not created.
    """
    pdf = pikepdf.new()
    for layer in layers:
        _add_page(pdf, layer)
    _set_metadata(pdf, meta, len(layers), producer)
    tmp = out.with_name(out.name + ".part")
    try:
        report = pikepdf.pdfa.save(pdf, tmp, FLAVOUR)
    except pikepdf.pdfa.PdfaError as e:
        tmp.unlink(missing_ok=True)
        raise PdfaError(f"the assembled PDF is not PDF/A-{FLAVOUR}: {e}") from e
    os.replace(tmp, out)
    return PdfaReport(out, FLAVOUR, report.passed, tuple(str(f) for f in report.findings))


def _add_page(pdf: pikepdf.Pdf, layer: PageLayer) -> None:
    width = layer.width_px * 72 / layer.dpi
    height = layer.height_px * 72 / layer.dpi
    image = pikepdf.Stream(pdf, layer.display_jpeg.read_bytes())
    image.Type = pikepdf.Name.XObject
    image.Subtype = pikepdf.Name.Image
    image.Width = layer.width_px
    image.Height = layer.height_px
    image.ColorSpace = pikepdf.Name.DeviceGray if layer.gray else pikepdf.Name.DeviceRGB
    image.BitsPerComponent = 8
    image.Filter = pikepdf.Name.DCTDecode
    content = f"q {width:.4f} 0 0 {height:.4f} 0 0 cm /Im0 Do Q".encode()
    page = pikepdf.Page(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=[0, 0, width, height],
            Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image)),
            Contents=pikepdf.Stream(pdf, content),
        )
    )
    pdf.pages.append(page)
    with pikepdf.open(layer.text_pdf) as text:
        pdf.pages[-1].add_overlay(text.pages[0], pikepdf.Rectangle(0, 0, width, height))


def _set_metadata(pdf: pikepdf.Pdf, meta: DocumentMeta, pages: int, producer: str) -> None:
    title = meta.title or meta.document_code
    keywords = "; ".join(
        f"{k}={v}"
        for k, v in (
            ("dossier_code", meta.dossier_code),
            ("document_code", meta.document_code),
            ("procedure_code", meta.procedure_code),
            ("level", meta.level),
            ("office", meta.office),
            ("kind", meta.kind),
            ("pages", pages),
        )
        if v is not None
    )
    with pdf.open_metadata(set_pikepdf_as_editor=False) as xmp:
        xmp["dc:title"] = title
        xmp["dc:identifier"] = meta.document_code
        xmp["dc:description"] = f"Bản số hóa {meta.document_code} ({pages} trang)"
        xmp["pdf:Keywords"] = keywords
        xmp["pdf:Producer"] = producer
        xmp["xmp:CreatorTool"] = producer


def check_pdfa(path: Path, flavour: str = FLAVOUR) -> PdfaReport:
    """Check a written file against PDF/A ``flavour``; never raises for a bad file.

    Signed files (with an AcroForm or /Perms) are reported by pikepdf as not
    checked; validate before signing.
    """
    if not path.is_file():
        raise BadInputError(f"{path} does not exist")
    report = pikepdf.pdfa.validate_written(path, flavour)
    return PdfaReport(path, flavour, report.passed, tuple(str(f) for f in report.findings))
