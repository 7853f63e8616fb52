"""Read the visible signature back and check it has the Decree 30/2020 form.

Decree 30/2020/NĐ-CP, Phụ lục I, Phần II, Mục I.3: the copying agency's
signature is at the top right of the first page, has no signature image, and
its text is the copy form, the agency's name and the signing time (ISO 8601,
Vietnam time), in a Times New Roman style font at 10 pt, black.

The text is decoded from the appearance stream's glyph codes through the
font's ToUnicode map, as a PDF reader would extract it, not taken from the
signature dictionary, so what is checked is what is printed.

:func:`check_stamp_clear` checks that the stamp covers nothing: page 1 is drawn
without its annotations (from its scanned JPEG when it is only that, else by
pdftoppm) and the ink under the stamp's rectangle is measured (:mod:`signing.ink`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

import pikepdf
from asn1crypto import cms
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfReadError

from digitize.errors import DigitizeError
from digitize.i18n import _, format_number
from digitize.models import COPY_FORMS, nfc
from signing.appearance import FONT_SIZE, VIETNAM_TIME
from signing.identity import certificate_names, same_agency
from signing.ink import PageView, page_rotation, render_ink
from signing.report import Check
from signing.trust import embedded_certificates, signer_certificate

_ISO_VIETNAM = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+07:00")
_COLOUR_OPERATORS = {"rg", "RG", "k", "K", "sc", "SC", "scn", "SCN", "cs", "CS"}


@dataclass(frozen=True)
class StampText:
    """What the stamp shows: its lines, font sizes, where it is, and the signing time claimed.

    ``rect`` and ``page_size`` are the page's own (the widget's /Rect, the MediaBox); ``shown_rect``
    and ``shown_size`` the same as the reader sees them on a page with ``/Rotate`` (``rotate``).
    """

    lines: tuple[str, ...]
    font_sizes: frozenset[float]
    rect: tuple[float, float, float, float]
    page_size: tuple[float, float]
    signed_at: datetime | None
    has_image: bool
    has_colour: bool
    signer_names: tuple[str, ...] = ()  # the signing certificate's O and CN (empty: unreadable)
    rotate: int = 0
    shown_rect: tuple[float, float, float, float] | None = None
    shown_size: tuple[float, float] | None = None


#: what reading a damaged stamp or page raises inside pikepdf and the decoding
_READ_ERRORS = (pikepdf.PdfError, KeyError, ValueError, IndexError, AttributeError, TypeError)


def check_stamp(data: bytes, *, agency_name: str | None = None) -> Check:
    """The ``stamp`` check of a signed file.

    The stamp must name ``agency_name`` when it is given (a signing session's
    agency, bound to its key when it was opened), else the agency of the
    certificate that made the signature (its O or CN).
    """
    try:
        stamp = read_stamp(data)
    except _READ_ERRORS as e:
        return Check("stamp", False, _unreadable(e))
    return _form_check(stamp, agency_name)


def check_stamp_clear(data: bytes, *, timeout: float = 60.0) -> Check:
    """The ``stamp_clear`` check: the stamp's rectangle covers no ink of page 1.

    Page 1 is drawn without annotations (so without the stamp; :func:`signing.ink.render_ink`), and
    the ink (:func:`signing.ink.ink_mask`) inside the stamp's rectangle is counted.
    """
    try:
        stamp = read_stamp(data)
    except _READ_ERRORS as e:
        return Check("stamp_clear", False, _unreadable(e))
    return _clear_check(data, stamp, timeout)


def stamp_checks(data: bytes, *, agency_name: str | None = None, timeout: float = 60.0) -> tuple[Check, Check]:
    """The ``stamp`` and ``stamp_clear`` checks (:func:`check_stamp`, :func:`check_stamp_clear`), the
    stamp read and decoded once for both."""
    try:
        stamp = read_stamp(data)
    except _READ_ERRORS as e:
        return Check("stamp", False, _unreadable(e)), Check("stamp_clear", False, _unreadable(e))
    return _form_check(stamp, agency_name), _clear_check(data, stamp, timeout)


def _unreadable(error: Exception) -> str:
    return _("the visible signature cannot be read: {error}", error=error)


def _form_check(stamp: StampText | None, agency_name: str | None) -> Check:
    if stamp is None:
        return Check("stamp", False, _("no visible signature on page 1 (Decree 30/2020 wants one at the top right)"))
    problems = stamp_problems(stamp, agency_name=agency_name)
    if problems:
        return Check("stamp", False, "; ".join(problems))
    return Check("stamp", True, _("Decree 30/2020 form at the top right of page 1: {lines}",
                                  lines=" / ".join(stamp.lines)))


def _clear_check(data: bytes, stamp: StampText | None, timeout: float) -> Check:
    try:
        view = _visible_page(data)
    except _READ_ERRORS as e:
        return Check("stamp_clear", False, _unreadable(e))
    if stamp is None:
        return Check("stamp_clear", False, _("no visible signature on page 1"))
    try:
        ink = render_ink(data, view.shown_box, timeout=timeout, hide_annotations=True)
    except DigitizeError as e:
        return Check("stamp_clear", False, _("page 1 could not be drawn to look under the stamp: {error}",
                                                   error=e.message))
    rect = ", ".join(f"{v:g}" for v in stamp.rect)
    covered = ink.ink_in(view.to_shown(stamp.rect))
    if covered:
        return Check("stamp_clear", False, _("the stamp at [{rect}] is printed over the page's content ({area} pt² of "
                                             "ink under it)", rect=rect, area=format_number(covered, 1)))
    return Check("stamp_clear", True, _("the stamp at [{rect}] covers no ink of page 1", rect=rect))


def _visible_page(data: bytes) -> PageView:
    """Page 1's CropBox (else MediaBox) and its /Rotate: what pdftoppm draws."""
    with pikepdf.open(_bytes_io(data)) as pdf:
        page = pdf.pages[0]
        x0, y0, x1, y1 = (float(v) for v in page.cropbox)
        return PageView((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), _rotation(page))


def _rotation(page) -> int:
    """A page's /Rotate, inherited from its parents when it has none."""
    node = page.obj
    while node is not None:
        if "/Rotate" in node:
            return page_rotation(node.Rotate)
        node = node.get("/Parent")
    return 0


def stamp_problems(stamp: StampText, *, agency_name: str | None = None) -> list[str]:
    """What in ``stamp`` departs from the Decree 30 form (empty when nothing)."""
    problems = []
    x0, y0, x1, y1 = stamp.shown_rect or stamp.rect
    width, height = stamp.shown_size or stamp.page_size
    if x0 < width / 2 or y0 < height / 2:
        problems.append(_("the stamp at {rect} is not in the top right quarter of page 1", rect=stamp.rect))
    if len(stamp.lines) != 3:
        return [*problems, _("the stamp has {n} lines, not 3: {lines}", n=len(stamp.lines),
                             lines=" / ".join(stamp.lines))]
    form, agency, when = stamp.lines
    if form not in COPY_FORMS:
        problems.append(_("the copy form {form!r} is not one of {forms}", form=form, forms=", ".join(COPY_FORMS)))
    problems.extend(_agency_problems(agency, stamp.signer_names, agency_name))
    if not _ISO_VIETNAM.fullmatch(when):
        problems.append(_("the time {when!r} is not ISO 8601 in Vietnam time (+07:00)", when=when))
    elif stamp.signed_at is not None and datetime.fromisoformat(when) != stamp.signed_at:
        problems.append(_("the time {when} differs from the signing time {signed}", when=when,
                          signed=stamp.signed_at.isoformat()))
    if stamp.font_sizes != {float(FONT_SIZE)}:
        problems.append(_("font size {sizes} pt, not {size} pt", sizes=sorted(stamp.font_sizes), size=FONT_SIZE))
    if stamp.has_image:
        problems.append(_("the stamp contains an image (Decree 30/2020: no signature image)"))
    if stamp.has_colour:
        problems.append(_("the stamp sets a colour (Decree 30/2020: black)"))
    return problems


def _agency_problems(agency: str, signer_names: tuple[str, ...], expected: str | None) -> list[str]:
    """The stamp's agency against the expected name, else against the signing certificate."""
    if not agency:
        return [_("the stamp names no agency")]
    if expected is not None:
        return [] if agency == nfc(expected).strip() else [_("the agency {agency!r} is not {expected!r}", agency=agency,
                                                             expected=expected)]
    if not signer_names:
        return [_("the signing certificate cannot be read to compare the stamp's agency with it")]
    if any(same_agency(agency, name) for name in signer_names):
        return []
    return [_("the stamp names {agency!r} but the signing certificate is of {signers}: the agency printed is not "
              "the key's", agency=agency, signers=" / ".join(signer_names))]


def _signer_names(field) -> tuple[str, ...]:
    """O and CN of the certificate that made the signature in ``field`` (empty if unreadable)."""
    try:
        signed_data = cms.ContentInfo.load(bytes(field.V.Contents))["content"]
        cert = signer_certificate(signed_data, embedded_certificates(signed_data))
    except (ValueError, TypeError, KeyError, AttributeError):
        return ()
    if cert is None:
        return ()
    names = certificate_names(cert)
    return tuple(dict.fromkeys(n for n in (names["organization_name"], names["common_name"]) if n))


def read_stamp(data: bytes) -> StampText | None:
    """The first signature widget with an appearance on page 1, decoded; None if there is none."""
    with pikepdf.open(_bytes_io(data)) as pdf:
        page = pdf.pages[0]
        for annot in page.obj.get("/Annots", []):
            field = _signature_field(annot)
            if field is None or "/AP" not in annot:
                continue
            rect = tuple(float(v) for v in annot.Rect)
            if rect[2] - rect[0] <= 0 or rect[3] - rect[1] <= 0:
                continue  # an invisible widget (document timestamp)
            return _decode(annot, field, rect, tuple(float(v) for v in page.mediabox), _rotation(page))
    return None


def _bytes_io(data: bytes):
    from io import BytesIO

    return BytesIO(data)


def _signature_field(annot):
    field = annot
    while field is not None:
        if field.get("/FT") == "/Sig":
            value = field.get("/V")
            return field if value is not None and value.get("/Type", "/Sig") == "/Sig" else None
        field = field.get("/Parent")
    return None


def _decode(annot, field, rect, mediabox, rotate: int = 0) -> StampText:
    appearance = annot.AP.N
    fonts = appearance.Resources.get("/Font", {})
    maps = {str(name): _to_unicode(font) for name, font in fonts.items()}
    lines, sizes, colour, current = [], set(), False, None
    for operands, operator in pikepdf.parse_content_stream(appearance):
        op = str(operator)
        if op == "Tf":
            current, size = str(operands[0]), float(operands[1])
            sizes.add(size)
        elif op in ("Tj", "TJ"):
            lines.append(_text(operands[0], maps.get(current, {})))
        elif op in _COLOUR_OPERATORS or (op in ("g", "G") and float(operands[0]) != 0):
            colour = True
    x0, y0, x1, y1 = mediabox
    view = PageView((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), rotate)
    sx0, sy0, sx1, sy1 = view.shown_box
    return StampText(
        lines=tuple(nfc(line) for line in lines),
        font_sizes=frozenset(sizes),
        rect=rect,
        page_size=(x1 - x0, y1 - y0),
        signed_at=_pdf_date(str(field.V.get("/M", ""))),
        has_image="/XObject" in appearance.Resources and _has_image(appearance.Resources.XObject),
        has_colour=colour,
        signer_names=_signer_names(field),
        rotate=rotate,
        shown_rect=view.to_shown(rect),
        shown_size=(sx1 - sx0, sy1 - sy0),
    )


def _has_image(xobjects) -> bool:
    return any(x.get("/Subtype") == "/Image" or ("/Resources" in x and "/XObject" in x.Resources
                                                and _has_image(x.Resources.XObject))
               for _, x in xobjects.items())


def _text(operand, cmap: dict[int, str]) -> str:
    parts = operand if isinstance(operand, pikepdf.Array) else [operand]
    out = []
    for part in parts:
        if isinstance(part, pikepdf.String):
            raw = bytes(part)
            out.extend(cmap.get(int.from_bytes(raw[i:i + 2], "big"), "\ufffd") for i in range(0, len(raw) - 1, 2))
    return "".join(out)


def _to_unicode(font) -> dict[int, str]:
    """Glyph code -> text, from the font's ToUnicode CMap (``bfchar`` and ``bfrange`` sections).

    The CMap is tokenized by pikepdf's own content-stream parser (it groups each
    section's operands before its ``end...`` operator, hex strings and arrays
    decoded); a range's target is incremented in its last byte, as ISO 32000-1
    9.10.3 says.
    """
    if "/ToUnicode" not in font:
        return {}
    cmap: dict[int, str] = {}
    for operands, operator in pikepdf.parse_content_stream(font.ToUnicode):
        op = str(operator)
        if op == "endbfchar":
            for src, dst in zip(operands[0::2], operands[1::2], strict=True):
                cmap[_code(src)] = _utf16(bytes(dst))
        elif op == "endbfrange":
            for lo, hi, dst in zip(operands[0::3], operands[1::3], operands[2::3], strict=True):
                cmap.update(_bfrange(_code(lo), _code(hi), dst))
    return cmap


def _code(operand) -> int:
    return int.from_bytes(bytes(operand), "big")


def _bfrange(lo: int, hi: int, dst) -> dict[int, str]:
    """One ``bfrange`` line: each code of ``lo..hi`` to the array's item, or to ``dst`` counted up."""
    if isinstance(dst, pikepdf.Array):
        return {lo + offset: _utf16(bytes(item)) for offset, item in enumerate(dst)}
    start = bytes(dst)
    first = int.from_bytes(start, "big")
    return {lo + offset: _utf16((first + offset).to_bytes(len(start), "big")) for offset in range(hi - lo + 1)}


def _utf16(raw: bytes) -> str:
    return raw.decode("utf-16-be")


def _pdf_date(text: str) -> datetime | None:
    """A PDF date (the signature's /M) in Vietnam time, read by pyHanko's ``parse_pdf_date``;
    a date without a time zone is taken as UTC; None when it is not a PDF date."""
    try:
        when = generic.parse_pdf_date(text)
    except (PdfReadError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(VIETNAM_TIME)
