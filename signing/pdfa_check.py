"""The PDF/A-2b check of a signed file.

pikepdf.pdfa reports any file with an AcroForm or /Perms (every signed file) as
"not checked". A signature is an incremental update, though: the bytes before
it are the PDF/A file as it was written, and the update adds a known, small set
of objects. So the check has two halves:

1. the revision the first signature was made on (the bytes up to its end-of-file
   marker) is validated by ``pikepdf.pdfa.validate_written``, unchanged; or,
   when the caller knows the SHA-256 of bytes that passed that validation
   already (the pipeline validates every PDF/A as it writes it), those bytes
   are recognised by their digest and not validated a second time: a file
   whose unsigned revision is not exactly them is validated in full;
2. what the signing revisions add is checked against the PDF/A rules it can
   break: every annotation printable and not hidden, with only a normal
   appearance; every font used by an appearance embedded, with a ToUnicode map,
   and with ``/W`` widths equal to the embedded program's advances (in 1/1000 em);
   no image in the stamp; the catalog's XMP still declaring PDF/A-2B (for
   PDF/A-1 also its ``pdf:Producer`` equal to Info's: a PDF/A-1 rule only);
   no ``NeedAppearances``.

pikepdf's "unsupported" findings (constructs it does not check) are named in
the detail, not counted as failures.

That the signing revisions add nothing else (no content, no page change) is
what pyHanko's modification analysis proves; :mod:`signing.verify` reports it
as the ``modifications`` check.
"""

from __future__ import annotations

import hashlib
import re
from io import BytesIO

import pikepdf
import pikepdf.pdfa
from fontTools.ttLib import TTFont, TTLibError

from digitize.i18n import _
from signing.report import Check

FLAVOUR = "2b"
_EOF = re.compile(rb"%%EOF[ \t]*(\r\n|\r|\n)?")
_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)")
_PRINT, _HIDDEN, _INVISIBLE, _NOVIEW = 4, 2, 1, 32
_WIDTH_TOLERANCE = 1.0  # 1/1000 em: rounding


def check_signed_pdfa(data: bytes, flavour: str = FLAVOUR, *, validated_sha256: str | None = None) -> Check:
    """The ``pdfa`` check of a signed (or unsigned) file.

    ``validated_sha256`` is the SHA-256 of a file known to have passed
    ``pikepdf.pdfa`` validation as PDF/A-``flavour`` (the pipeline's assembled
    PDF/A): when the unsigned revision of ``data`` is exactly those bytes it
    is not validated again, and only what the signing revisions add is
    checked; any other unsigned revision is validated in full. The detail
    then lists nothing pikepdf "did not check", as the full validation of
    those bytes would not: the engine writes its PDF/A with
    ``pikepdf.pdfa.save``, which accepts only a "pass" verdict, a report
    without any finding (a construct it does not check makes it raise).
    """
    base = unsigned_revision(data)
    known = validated_sha256 is not None and hashlib.sha256(base).hexdigest() == validated_sha256.lower()
    if known:
        unchecked = ""
    else:
        report = pikepdf.pdfa.validate_written(BytesIO(base), flavour)
        if report.violations:
            findings = "; ".join(str(f) for f in report.violations[:5])
            return Check("pdfa", False, _("the document before signing is not PDF/A-{flavour}: {findings}",
                                          flavour=flavour, findings=findings))
        unchecked = _unchecked_note(report)
    if base == data:
        return Check("pdfa", True, _("PDF/A-{flavour} (pikepdf.pdfa; the file is not signed)", flavour=flavour)
                     + unchecked)
    try:
        problems = signing_update_problems(data, flavour)
    except (pikepdf.PdfError, KeyError, ValueError, AttributeError, TypeError) as e:
        return Check("pdfa", False, _("the signing revisions cannot be read: {error}", error=e))
    if problems:
        return Check("pdfa", False, _("the signing revisions break PDF/A: {problems}", problems="; ".join(problems)))
    if known:
        return Check("pdfa", True, _("PDF/A-{flavour}: the unsigned revision is the file pikepdf.pdfa validated "
                                     "when it was written (SHA-256 {digest}) and the signature objects keep the "
                                     "rules (fonts, widths, annotations, XMP)", flavour=flavour,
                                     digest=validated_sha256.lower()))
    return Check("pdfa", True, _("PDF/A-{flavour}: the unsigned revision passes pikepdf.pdfa and the signature "
                                 "objects keep the rules (fonts, widths, annotations, XMP)", flavour=flavour)
                 + unchecked)


def _unchecked_note(report) -> str:
    """pikepdf's "unsupported" findings: constructs it does not check, which are not violations."""
    if not report.unsupported:
        return ""
    shown = "; ".join(f.message for f in report.unsupported[:3])
    return " " + _("(not checked by pikepdf.pdfa: {findings})", findings=shown)


def unsigned_revision(data: bytes) -> bytes:
    """The bytes of the file as it was before its first signature (all of it when unsigned)."""
    match = _BYTE_RANGE.search(data)
    if match is None:
        return data
    signature_start = min(int(m.group(2)) for m in _BYTE_RANGE.finditer(data))
    end = 0
    for eof in _EOF.finditer(data, 0, signature_start):
        end = eof.end()
    return data[:end] if end else data


def signing_update_problems(data: bytes, flavour: str = FLAVOUR) -> list[str]:
    """What in the whole signed file breaks the PDF/A rules a signature update can break."""
    problems: list[str] = []
    with pikepdf.open(BytesIO(data)) as pdf:
        problems += _metadata_problems(pdf, flavour)
        acroform = pdf.Root.get("/AcroForm")
        if acroform is not None and bool(acroform.get("/NeedAppearances", False)):
            problems.append("AcroForm /NeedAppearances is true")
        for number, page in enumerate(pdf.pages, start=1):
            for annot in page.obj.get("/Annots", []):
                problems += _annotation_problems(annot, number)
    return problems


def _metadata_problems(pdf: pikepdf.Pdf, flavour: str) -> list[str]:
    """The catalog's XMP, read by pikepdf (``open_metadata``), must still declare the flavour."""
    if "/Metadata" not in pdf.Root:
        return [_("the catalog has no XMP metadata")]
    xmp = pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False)
    problems = []
    part, conformance = flavour[0], flavour[1:].upper()
    if (str(xmp.get("pdfaid:part", "")).strip() != part
            or str(xmp.get("pdfaid:conformance", "")).strip() != conformance):
        problems.append(_("the XMP no longer declares PDF/A-{part}{conformance}", part=part, conformance=conformance))
    if part == "1":  # Info/XMP equivalence is a PDF/A-1 rule; PDF/A-2 and 3 dropped it
        problems += _producer_problems(pdf, xmp)
    return problems


def _producer_problems(pdf: pikepdf.Pdf, xmp) -> list[str]:
    producer = xmp.get("pdf:Producer")
    info = pdf.trailer.get("/Info")
    if producer is None or info is None or "/Producer" not in info:
        return []
    if str(info.Producer) != str(producer):
        return [_("Info /Producer {info!r} differs from XMP pdf:Producer {xmp!r}", info=str(info.Producer),
                  xmp=str(producer))]
    return []


def _annotation_problems(annot: pikepdf.Dictionary, page: int) -> list[str]:
    name = _("annotation {name} on page {page}", name=annot.get("/T", annot.get("/Subtype", "")), page=page)
    problems = []
    flags = int(annot.get("/F", 0))
    if annot.get("/Subtype") != "/Popup" and (not flags & _PRINT or flags & (_HIDDEN | _INVISIBLE | _NOVIEW)):
        problems.append(_("{name} is not printable or is hidden (/F {flags})", name=name, flags=flags))
    rect = [float(v) for v in annot.get("/Rect", [0, 0, 0, 0])]
    visible = rect[2] - rect[0] > 0 and rect[3] - rect[1] > 0
    appearance = annot.get("/AP")
    if appearance is not None and set(appearance.keys()) - {"/N"}:
        problems.append(_("{name} has appearances other than /N", name=name))
    if visible and annot.get("/Subtype") == "/Widget" and appearance is None:
        problems.append(_("{name} has no appearance stream", name=name))
    if appearance is not None and isinstance(appearance.get("/N"), pikepdf.Stream):
        problems += _resource_problems(appearance.N, name, depth=0)
    return problems


def _resource_problems(stream: pikepdf.Stream, name: str, depth: int) -> list[str]:
    resources = stream.get("/Resources", pikepdf.Dictionary())
    problems = []
    for font_name, font in resources.get("/Font", pikepdf.Dictionary()).items():
        problems += [_("{name}, font {font}: {problem}", name=name, font=font_name, problem=p)
                     for p in font_problems(font)]
    for xobject in resources.get("/XObject", pikepdf.Dictionary()).values():
        if xobject.get("/Subtype") == "/Form" and depth < 8:
            problems += _resource_problems(xobject, name, depth + 1)
    return problems


def font_problems(font: pikepdf.Dictionary) -> list[str]:
    """PDF/A font rules a signature appearance can break: embedded, ToUnicode, consistent widths."""
    if font.get("/Subtype") != "/Type0":
        descriptor = font.get("/FontDescriptor")
        if descriptor is None or not any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")):
            return [_("{font} is not embedded", font=font.get("/BaseFont"))]
        return []
    problems = []
    if "/ToUnicode" not in font:
        problems.append(_("no ToUnicode map"))
    cid_font = font.DescendantFonts[0]
    descriptor = cid_font.get("/FontDescriptor")
    program = descriptor.get("/FontFile2") if descriptor is not None else None
    if program is None:
        return [*problems, _("{font} is not embedded as TrueType (FontFile2)", font=cid_font.get("/BaseFont"))]
    if cid_font.get("/CIDToGIDMap", pikepdf.Name.Identity) != pikepdf.Name.Identity:
        return problems  # widths by CID need the map; pyHanko always writes Identity
    problems += _width_problems(cid_font, program.read_bytes())
    return problems


def _width_problems(cid_font: pikepdf.Dictionary, program: bytes) -> list[str]:
    try:
        tt = TTFont(BytesIO(program), lazy=True)
        scale = 1000 / tt["head"].unitsPerEm
        order = tt.getGlyphOrder()
        hmtx = tt["hmtx"]
    except (TTLibError, KeyError, AssertionError, ValueError) as e:
        return [_("the embedded font program cannot be read: {error}", error=e)]
    wrong = []
    for cid, width in _widths_by_cid(cid_font.get("/W", pikepdf.Array())).items():
        if cid >= len(order):
            wrong.append(_("CID {cid} is not in the embedded font", cid=cid))
            continue
        expected = hmtx[order[cid]][0] * scale
        if abs(width - expected) > _WIDTH_TOLERANCE:
            wrong.append(_("glyph {glyph} /W {width:g} but the font says {expected:g}", glyph=order[cid], width=width,
                           expected=expected))
    return wrong[:5]


def _widths_by_cid(w_array) -> dict[int, float]:
    widths, items, i = {}, list(w_array), 0
    while i + 1 < len(items):
        first, nxt = int(items[i]), items[i + 1]
        if isinstance(nxt, pikepdf.Array):
            widths.update({first + k: float(v) for k, v in enumerate(nxt)})
            i += 2
        else:
            widths.update({cid: float(items[i + 2]) for cid in range(first, int(nxt) + 1)})
            i += 3
    return widths
