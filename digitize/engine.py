"""The scan engine: one input (file or folder) to one searchable PDF/A-2b.

Steps, each "file in, file out" inside one work folder with predictable names
(a kept work folder explains a failure)::

    page-001.src.png      the page at its native DPI (pages.load_pages)
    page-001.osd.png      a small grey copy for orientation detection
    page-001.display.jpg  the visible page: colour, upright, deskewed
    page-001.ocr.png      the cleaned grey image Tesseract reads
    page-001.text.pdf     Tesseract's invisible text layer for the page
    page-001.text.tsv     its words and confidences
    output.pdfa.pdf       the assembled PDF/A-2b

Pages are processed one at a time so memory stays at about one page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2

from digitize import cleanup, ocr, pages, pdfa, tools
from digitize.errors import BadInputError
from digitize.models import DocumentMeta
from digitize.settings import OcrSettings

#: Decree 30/2020/NĐ-CP, Phụ lục I: a digital copy is scanned at 200 dpi or more.
MIN_DPI = 200


@dataclass(frozen=True)
class PageReport:
    """What happened to one page."""

    number: int
    origin: str
    dpi: float
    dpi_from: str
    rotation: int
    skew: float
    blank: bool
    confidence: float
    words: int

    @property
    def meets_decree30(self) -> bool:
        return self.dpi >= MIN_DPI


@dataclass(frozen=True)
class ScanResult:
    """The PDF/A written and a report per page."""

    pdf: Path
    pages: tuple[PageReport, ...]
    text: str

    @property
    def page_count(self) -> int:
        return len(self.pages)

    @property
    def confidence(self) -> float:
        """Mean word confidence over pages with words."""
        scored = [p for p in self.pages if p.words]
        return round(sum(p.confidence * p.words for p in scored) / sum(p.words for p in scored), 1) if scored else 0.0

    def review_pages(self, min_confidence: float) -> list[int]:
        """Pages whose confidence is below ``min_confidence`` and that are not blank."""
        return [p.number for p in self.pages if not p.blank and p.confidence < min_confidence]


def scan_to_pdfa(
    source: Path | list[Path], meta: DocumentMeta, work_dir: Path, settings: OcrSettings, *, default_dpi: int
) -> ScanResult:
    """Clean, OCR and assemble the pages of ``source`` (one input or several, in order)
    into ``work_dir/output.pdfa.pdf``."""
    tools.require("tesseract")
    tools.require_languages(settings.languages)
    sources = pages.load_pages(source, work_dir, default_dpi=default_dpi, timeout=settings.timeout_seconds)
    layers: list[pdfa.PageLayer] = []
    reports: list[PageReport] = []
    texts: list[str] = []
    for page in sources:
        layer, report, text = process_page(page, work_dir, settings)
        layers.append(layer)
        reports.append(report)
        texts.append(text)
    out = work_dir / "output.pdfa.pdf"
    producer = f"digitize (Tesseract {tools.probe('tesseract').version})"
    pdfa.assemble(layers, out, meta, producer=producer)
    return ScanResult(out, tuple(reports), "\n\f".join(texts))


def process_page(page: pages.SourcePage, work_dir: Path, settings: OcrSettings) -> tuple[pdfa.PageLayer, PageReport, str]:
    """Orient, clean and OCR one page; returns its layer files, its report and its text."""
    image = cv2.imread(str(page.path), cv2.IMREAD_COLOR)
    if image is None:
        raise BadInputError(f"{page.origin}: the page image could not be decoded")
    stem = work_dir / f"page-{page.number:03d}"
    rotation = ocr.detect_rotation(
        cleanup.ocr_gray(image), page.dpi, stem.with_suffix(".osd.png"), timeout=settings.timeout_seconds
    )
    clean = cleanup.clean_page(_maybe_gray(image), rotation)
    display = stem.with_suffix(".display.jpg")
    gray = pdfa.write_display_jpeg(clean.display, display, settings.jpeg_quality)
    ocr_image = stem.with_suffix(".ocr.png")
    cv2.imwrite(str(ocr_image), clean.ocr)
    result = ocr.ocr_page(
        ocr_image, page.number, page.dpi, work_dir / f"page-{page.number:03d}.text",
        languages=settings.languages, timeout=settings.timeout_seconds,
    )
    height, width = clean.display.shape[:2]
    layer = pdfa.PageLayer(display, result.text_pdf, width, height, page.dpi, gray)
    report = PageReport(
        page.number, page.origin, page.dpi, page.dpi_from, clean.rotation, clean.skew,
        clean.blank, result.confidence, result.words,
    )
    return layer, report, result.text


def _maybe_gray(image):
    """Keep colour scans in colour; store a scan with no colour as grey (smaller, same look)."""
    b, g, r = cv2.split(image)
    if cv2.absdiff(b, g).max() <= 8 and cv2.absdiff(g, r).max() <= 8:
        return g
    return image
