"""Assemble the searchable PDF/A-2b and check PDF/A.

Each output page is the display image (JPEG, at the scan's resolution, 100%
scale) with Tesseract's text-only page laid over it as a Form XObject: the
text is invisible (rendering mode 3) and lines up with the image because both
were made from the same cleaned geometry and DPI. The display image is the
scan as it lay on the glass, drawn upright, deskewed and cropped by its
placement matrix: the scanner's JPEG is shown as it is, never resampled nor
compressed a second time. Every text-only page brings the same font
(Tesseract's GlyphLessFont: six objects, among them a 128 KB CID-to-glyph map
once inflated); the document keeps one copy that all its pages share, as
OCRmyPDF does, so the file is smaller and the PDF/A check reads the font once.

Writing and checking PDF/A is ``pikepdf.pdfa``'s job: it installs the sRGB
OutputIntent and the XMP declaration, writes, and validates the written bytes
against rules imported from veraPDF's profiles.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pikepdf

from digitize import files
from digitize.errors import BadInputError, PdfaError
from digitize.i18n import _
from digitize.models import DocumentMeta, nfc

FLAVOUR = "2b"


@dataclass(frozen=True)
class PageLayer:
    """The two files that make one output page, or (``source_pdf``) a page copied as it is.

    ``text_pdf`` is None for a blank page, which has no text layer.
    """

    display_jpeg: Path | None
    text_pdf: Path | None
    width_px: int
    height_px: int
    dpi: float
    gray: bool
    source_pdf: Path | None = None
    source_index: int = 0
    #: Where the image lies on the page, a PDF matrix (``a b c d e f``, points) mapping the image's unit square:
    #: the scan drawn turned, deskewed and cropped (:meth:`digitize.cleanup.Geometry.pdf_matrix`). None: the
    #: image fills the page, ``width_px`` x ``height_px``.
    placement: tuple[float, float, float, float, float, float] | None = None
    #: The image's own pixel size (width, height) when it is placed; else the page's.
    image_px: tuple[int, int] | None = None


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
        raise BadInputError(_("could not encode the page image {name}", name=path.name))
    files.write_bytes(path, data.tobytes())
    return gray


def assemble(
    layers: list[PageLayer], out: Path, meta: DocumentMeta, *, producer: str, flavour: str = FLAVOUR
) -> PdfaReport:
    """Write the searchable PDF/A (``flavour``: "2b", or "1b" for checkers that know only
    PDF/A-1) at ``out`` (atomically) and return its check.

    Raises :class:`PdfaError` naming the broken rules if the written file is
    not that PDF/A; ``out`` is then not created.
    """
    pdf = pikepdf.new()
    sources: dict[Path, pikepdf.Pdf] = {}
    try:
        for layer in layers:
            if layer.source_pdf is not None:
                _copy_page(pdf, layer, sources)
            else:
                _add_page(pdf, layer)
        share_text_fonts(pdf)
        return _save(pdf, layers, out, meta, producer, flavour)
    finally:
        for source in sources.values():
            source.close()


def _save(
    pdf: pikepdf.Pdf, layers: list[PageLayer], out: Path, meta: DocumentMeta, producer: str, flavour: str
) -> PdfaReport:
    _set_metadata(pdf, meta, len(layers), producer)
    import pikepdf.pdfa  # here, not at the top: 0.2 s of imports the page workers never need

    try:
        with files.storage_guard(out), files.written_whole(out) as tmp:
            report = pikepdf.pdfa.save(pdf, tmp, flavour)
    except pikepdf.pdfa.PdfaError as e:
        raise PdfaError(_("the assembled PDF is not PDF/A-{flavour}: {error}", flavour=flavour, error=e)) from e
    except pikepdf.PdfError as e:  # qpdf reports a failed write as its own error, not an OSError
        if files.is_short_of_space(out.parent):
            raise files.storage_full(out) from e
        raise
    return PdfaReport(out, flavour, report.passed, tuple(str(f) for f in report.findings))


def _add_page(pdf: pikepdf.Pdf, layer: PageLayer) -> None:
    width = layer.width_px * 72 / layer.dpi
    height = layer.height_px * 72 / layer.dpi
    image = pikepdf.Stream(pdf, layer.display_jpeg.read_bytes())
    image.Type = pikepdf.Name.XObject
    image.Subtype = pikepdf.Name.Image
    image.Width, image.Height = layer.image_px or (layer.width_px, layer.height_px)
    image.ColorSpace = pikepdf.Name.DeviceGray if layer.gray else pikepdf.Name.DeviceRGB
    image.BitsPerComponent = 8
    image.Filter = pikepdf.Name.DCTDecode
    if layer.placement is None:
        content = f"q {width:.4f} 0 0 {height:.4f} 0 0 cm /Im0 Do Q".encode()
    else:  # turned: six decimals keep a 4000-pixel side within a hundredth of a pixel
        content = ("q " + " ".join(f"{v:.6f}" for v in layer.placement) + " cm /Im0 Do Q").encode()
    page = pikepdf.Page(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=[0, 0, width, height],
            Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image)),
            Contents=pikepdf.Stream(pdf, content),
        )
    )
    pdf.pages.append(page)
    if layer.text_pdf is None:  # a blank page: no text layer
        return
    with pikepdf.open(layer.text_pdf) as text:
        pdf.pages[-1].add_overlay(text.pages[0], pikepdf.Rectangle(0, 0, width, height))


def share_text_fonts(pdf: pikepdf.Pdf) -> int:
    """Make the text layers' fonts that are the same, object for object, one shared font; returns how
    many copies were dropped.

    Only the fonts of the Form XObjects drawn directly on a page (the text layers) are looked at;
    fonts are the same when their whole object trees are (dictionaries, arrays, stream bytes).
    """
    kept: dict[tuple, pikepdf.Object] = {}
    dropped = 0
    for page in pdf.pages:
        for xobject in page.obj.get("/Resources", pikepdf.Dictionary()).get("/XObject", pikepdf.Dictionary()).values():
            if xobject.get("/Subtype") != "/Form" or "/Font" not in xobject.get("/Resources", pikepdf.Dictionary()):
                continue
            fonts = xobject.Resources.Font
            for name, font in list(fonts.items()):
                if not font.is_indirect:
                    continue
                same = kept.setdefault(_object_key(font), font)
                if same.objgen != font.objgen:
                    fonts[name] = same
                    dropped += 1
    return dropped


def _object_key(obj: pikepdf.Object, depth: int = 0) -> tuple:
    """A hashable value equal for two objects exactly when their trees are equal (indirect objects
    compared by content; streams by their dictionaries and their raw bytes)."""
    if depth > 16:  # fonts are shallow; anything deeper is not shared
        return ("deep", obj.objgen)
    if isinstance(obj, pikepdf.Stream):
        entries = tuple(sorted((k, _object_key(v, depth + 1)) for k, v in obj.stream_dict.items() if k != "/Length"))
        return ("stream", entries, obj.read_raw_bytes())
    if isinstance(obj, pikepdf.Dictionary):
        return ("dict", tuple(sorted((k, _object_key(v, depth + 1)) for k, v in obj.items())))
    if isinstance(obj, pikepdf.Array):
        return ("array", tuple(_object_key(v, depth + 1) for v in obj))
    if isinstance(obj, pikepdf.Object):  # names, strings
        return (type(obj).__name__, bytes(obj.unparse()))
    return (type(obj).__name__, str(obj))  # numbers and booleans come back as Python values


def _copy_page(pdf: pikepdf.Pdf, layer: PageLayer, sources: dict[Path, pikepdf.Pdf]) -> None:
    """Append page ``layer.source_index`` of ``layer.source_pdf`` unchanged (it already has text)."""
    assert layer.source_pdf is not None
    if layer.source_pdf not in sources:
        sources[layer.source_pdf] = pikepdf.open(layer.source_pdf)
    pdf.pages.append(sources[layer.source_pdf].pages[layer.source_index])


#: Names of the kinds of paper (Decree 45/2020 Art. 14).
KIND_NAMES = {"KQ": "Kết quả giải quyết thủ tục hành chính", "HS": "Thành phần hồ sơ"}
_DOCUMENT_IDS = uuid.UUID("6f1d7a52-0c1e-4a53-9d2f-2b8c0d0a4e11")


def dossier_properties(meta: DocumentMeta, pages: int) -> dict[str, str | int]:
    """The dossier metadata recorded in the XMP packet, as ``name -> value``."""
    values: dict[str, str | int | None] = {
        "dossier_code": meta.dossier_code,
        "document_code": meta.document_code,
        "procedure_code": meta.procedure_code,
        "level": meta.level,
        "office": meta.office,
        "kind": meta.kind,
        "pages": pages,
    }
    return {k: v for k, v in values.items() if v is not None}


def _set_metadata(pdf: pikepdf.Pdf, meta: DocumentMeta, pages: int, producer: str) -> None:
    """Dublin Core and the dossier metadata, in properties PDF/A-2 predefines.

    ``pikepdf.pdfa`` rewrites the packet with only the properties of the
    XMP 2005 schemas PDF/A-2 predefines (it writes no extension schema, and
    its validator rejects other namespaces), so the dossier's fields are
    carried by Dublin Core and ``pdf:Keywords``: ``dc:identifier`` the
    document code, ``dc:relation`` ``dossier:``/``procedure:`` URNs,
    ``dc:coverage`` level/office, ``dc:type`` the kind of paper,
    ``dc:subject`` and ``pdf:Keywords`` every field as ``name=value``
    (including ``pages=N``).
    """
    props = dossier_properties(meta, pages)
    pairs = [f"{k}={v}" for k, v in props.items()]
    relation = [f"dossier:{meta.dossier_code}"]
    if meta.procedure_code:
        relation.append(f"procedure:{meta.procedure_code}")
    with pdf.open_metadata(set_pikepdf_as_editor=False) as xmp:
        xmp["dc:title"] = meta.title or meta.document_code
        xmp["dc:identifier"] = meta.document_code
        xmp["dc:description"] = nfc(f"Bản số hóa {meta.document_code} ({pages} trang)")
        xmp["dc:subject"] = pairs
        xmp["dc:relation"] = relation
        xmp["dc:coverage"] = f"{meta.level}/{meta.office}"
        xmp["dc:type"] = [meta.kind, KIND_NAMES.get(meta.kind, meta.kind)]
        xmp["dc:language"] = ["vi"]
        xmp["dc:format"] = "application/pdf"
        xmp["pdf:Keywords"] = "; ".join(pairs)
        xmp["xmp:CreatorTool"] = producer
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        xmp["xmp:CreateDate"] = now
        xmp["xmp:ModifyDate"] = now
        xmp["xmpMM:DocumentID"] = f"uuid:{uuid.uuid5(_DOCUMENT_IDS, meta.document_code)}"
        xmp["xmpMM:InstanceID"] = f"uuid:{uuid.uuid4()}"


def read_dossier_metadata(path: Path) -> dict[str, str]:
    """The ``name=value`` dossier fields and PDF/A identification read back from a PDF's XMP."""
    with pikepdf.open(path) as pdf:
        xmp = pdf.open_metadata()
        found = {"pdfaid:part": str(xmp.get("pdfaid:part", "")), "dc:identifier": str(xmp.get("dc:identifier", ""))}
        for pair in str(xmp.get("pdf:Keywords", "")).split("; "):
            if "=" in pair:
                key, value = pair.split("=", 1)
                found[key] = value
        return found


def check_pdfa(path: Path, flavour: str = FLAVOUR) -> PdfaReport:
    """Check a written file against PDF/A ``flavour``; never raises for a bad file.

    Signed files (with an AcroForm or /Perms) are reported by pikepdf as not
    checked; validate before signing.
    """
    if not path.is_file():
        raise BadInputError(_("{name} does not exist", name=path))
    import pikepdf.pdfa  # see _save

    report = pikepdf.pdfa.validate_written(path, flavour)
    return PdfaReport(path, flavour, report.passed, tuple(str(f) for f in report.findings))
