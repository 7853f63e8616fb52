"""PAdES signing of a finished PDF/A file, with the Decree 30 visible signature.

The signature is an incremental update (the PDF/A bytes stay as they are),
subfilter ``ETSI.CAdES.detached``. The levels:

- B-B: the CMS signature alone (the demo key, no timestamp authority);
- B-T: plus an RFC 3161 signature timestamp;
- B-LT: plus the certificates, OCSP responses and CRLs in the DSS;
- B-LTA: plus a document timestamp over the DSS.

B-T and above need a ``timestamper``; B-LT and B-LTA also a ``validation_context``
that fetches revocation data. :mod:`signing.session` keeps both for a batch.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path

from pyhanko.pdf_utils.generic import ArrayObject, FloatObject, NameObject, TextStringObject
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import LayoutError
from pyhanko.pdf_utils.metadata.model import VENDOR
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers.pdf_signer import PdfSigningSession
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko_certvalidator import ValidationContext

from digitize.errors import (
    BadInputError,
    EncryptedInputError,
    MissingToolError,
    SignedInputError,
    SigningError,
    TimestampUnavailableError,
    ToolError,
    ToolTimeoutError,
)
from digitize.files import write_atomically
from digitize.i18n import _, os_error
from digitize.models import PADES_LEVELS, nfc
from signing.appearance import (
    VIETNAM_TIME,
    StampLayout,
    place_stamp,
    stamp_lines,
    stamp_style,
)
from signing.fonts import default_font_path, load_stamp_font
from signing.identity import LoadedSigner
from signing.ink import PageInk, PageView, page_rotation, render_ink

TIME_CHARACTERS = "0123456789-:T+"
DIGEST = "sha256"
#: limit for rendering page 1 to find where the stamp covers nothing
RENDER_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class SignResult:
    """What was signed: the file, the SHA-256 of its exact bytes, by whom, when, at what level.

    ``validated_pdfa_sha256`` is the SHA-256 of the PDF/A the signature was
    made on when that PDF/A passed validation as it was written (the
    pipeline sets it from the scan; :func:`sign_pdf` knows nothing of it):
    verifying then validates only what signing added.
    """

    path: Path
    sha256: str
    signer: str
    signing_time: datetime
    pades_level: str
    validated_pdfa_sha256: str | None = None


def sign_pdf(
    src: Path,
    dst: Path,
    signer: LoadedSigner,
    *,
    agency_name: str | None = None,
    copy_form: str = "SAO Y",
    pades_level: str = "B-B",
    when: datetime | None = None,
    field_name: str = "Signature1",
    font_path: Path | None = None,
    font_cache_dir: Path | None = None,
    timestamper: TimeStamper | None = None,
    validation_context: ValidationContext | None = None,
    render_timeout: float = RENDER_TIMEOUT_SECONDS,
) -> SignResult:
    """Sign ``src`` into ``dst`` (PAdES, visible Decree 30 stamp on page 1).

    The stamp goes at the top right of page 1 where it covers no ink (page 1
    drawn from its scanned JPEG, or by pdftoppm within ``render_timeout`` seconds:
    :func:`signing.ink.render_ink`); a page without room
    there grows a blank band above the scan for it (see :mod:`signing.appearance`).

    ``dst`` is written atomically and ``src`` is never modified. ``when`` fixes
    the signing time (tests); by default it is now, in Vietnam time. The stamp
    font is Liberation Serif unless ``font_path`` names another TrueType font;
    its 1000-units-per-em copy is cached in ``font_cache_dir``. ``pades_level``
    ``"auto"`` means B-LTA with a ``timestamper``, else B-B. ``agency_name``
    left out (or empty) is the signing certificate's agency (O, else CN); a
    given one is printed as it is (:func:`signing.identity.resolve_agency`
    decides it for a session).

    Raises :class:`SignedInputError` for an input that already carries a
    signature, :class:`EncryptedInputError` for an encrypted one,
    :class:`BadInputError` for an unreadable PDF, :class:`TimestampUnavailableError`
    (transient) when the timestamp authority cannot be reached, and
    :class:`SigningError` for everything about the key, the level or the appearance.
    """
    pades_level = resolve_level(pades_level, timestamper)
    _check_level(pades_level, timestamper, validation_context)
    _check_destination(src, dst)
    signing_time = _signing_time(when)
    agency_name = agency_name or signer.agency
    if not agency_name.strip():
        raise SigningError(_("the signing certificate {subject} names no agency (O or CN) to print",
                             subject=signer.subject))
    lines = stamp_lines(copy_form, agency_name, signing_time)
    # the time's characters are fixed, so one cut-down font serves every signature of a batch
    font = load_stamp_font(font_path or default_font_path(), font_cache_dir, keep=lines[0] + lines[1] + TIME_CHARACTERS)
    missing = font.missing_characters("".join(lines))
    if missing:
        raise SigningError(_("the signature font {source} cannot write {missing!r}; use a font with Vietnamese",
                             source=font.source, missing=missing))

    writer = _open_for_signing(src)
    _align_producer_with_xmp(writer)
    page_box, rotate = _first_page_box(writer.prev), _first_page_rotation(writer.prev)
    ink = _first_page_ink(src, PageView(page_box, rotate).shown_box, render_timeout)
    stamp = place_stamp(lines, font, page_box, ink, rotate=rotate)
    if stamp.page_box is not None:
        _grow_first_page(writer, stamp.page_box)
    pdf_signer = _FixedTimePdfSigner(
        _signature_metadata(field_name, nfc(agency_name), nfc(copy_form), pades_level, validation_context),
        signer.signer,
        signing_time=signing_time,
        timestamper=timestamper if pades_level != "B-B" else None,
        stamp_style=stamp_style(font, stamp.rotate),
        new_field_spec=fields.SigFieldSpec(sig_field_name=field_name, on_page=0, box=stamp.box),
    )
    signed = _sign(pdf_signer, writer, stamp)
    try:
        write_atomically(dst, signed)
    except OSError as e:
        raise SigningError(_("could not write the signed file {dst}: {error}", dst=dst, error=os_error(e))) from e
    return SignResult(
        path=dst,
        sha256=hashlib.sha256(signed).hexdigest(),
        signer=signer.subject,
        signing_time=signing_time,
        pades_level=pades_level,
    )


class _FixedTimePdfSigner(signers.PdfSigner):
    """A PdfSigner whose signing time (/M, signingTime, stamp) is given, not read from the clock."""

    def __init__(self, *args, signing_time: datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self._signing_time = signing_time

    def init_signing_session(self, pdf_out, existing_fields_only=False) -> PdfSigningSession:
        session = super().init_signing_session(pdf_out, existing_fields_only=existing_fields_only)
        session.system_time = self._signing_time
        return session


def resolve_level(pades_level: str, timestamper: TimeStamper | None) -> str:
    """The level to sign at: ``"auto"`` is B-LTA with a timestamp authority, else B-B."""
    if pades_level == "auto":
        return "B-LTA" if timestamper is not None else "B-B"
    return pades_level


def is_long_term(pades_level: str) -> bool:
    """True for the levels that embed validation data (B-LT, B-LTA): they need a validation context."""
    return pades_level in PADES_LEVELS[PADES_LEVELS.index("B-LT"):]


def _check_level(pades_level: str, timestamper: TimeStamper | None, context: ValidationContext | None) -> None:
    if pades_level not in PADES_LEVELS:
        raise SigningError(_("unknown PAdES level {pades_level!r}; use one of {names}, auto",
                             pades_level=pades_level, names=', '.join(PADES_LEVELS)))
    if pades_level != "B-B" and timestamper is None:
        raise SigningError(
            _("PAdES level {pades_level} needs a timestamp authority; none is configured", pades_level=pades_level),
            hint=_("set signing.tsa_url, or signing.pades_level = 'B-B'"),
        )
    if is_long_term(pades_level) and context is None:
        raise SigningError(_("PAdES level {pades_level} needs a validation context to fetch revocation data",
                             pades_level=pades_level))


def _signature_metadata(
    field_name: str,
    agency_name: str,
    copy_form: str,
    pades_level: str,
    context: ValidationContext | None,
) -> signers.PdfSignatureMetadata:
    """PAdES signature metadata: B-LT embeds validation data, B-LTA adds a document timestamp."""
    long_term = is_long_term(pades_level)
    return signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm=DIGEST,
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=copy_form,
        location=agency_name,
        name=agency_name,
        validation_context=context if long_term else None,
        embed_validation_info=long_term,
        use_pades_lta=pades_level == "B-LTA",
    )


def _signing_time(when: datetime | None) -> datetime:
    if when is None:
        return datetime.now(VIETNAM_TIME).replace(microsecond=0)
    if when.tzinfo is None:
        raise SigningError(_("the signing time must carry a time zone"))
    return when.astimezone(VIETNAM_TIME)


def _check_destination(src: Path, dst: Path) -> None:
    if dst.resolve() == src.resolve():
        raise SigningError(_("the signed file must not replace its input {src}; give another destination", src=src))


def check_signable(src: Path) -> None:
    """Refuse ``src`` as :func:`sign_pdf` would: unreadable (:class:`BadInputError`), encrypted
    (:class:`EncryptedInputError`) or already signed (:class:`SignedInputError`)."""
    _open_for_signing(src)


def _open_for_signing(src: Path) -> IncrementalPdfFileWriter:
    """Open ``src`` for an incremental update, refusing encrypted or already signed files."""
    try:
        data = src.read_bytes()
    except OSError as e:
        raise BadInputError(_("could not read {src}: {error}", src=src, error=os_error(e))) from e
    try:
        writer = IncrementalPdfFileWriter(BytesIO(data), strict=False)
    except (PdfError, ValueError, KeyError, TypeError) as e:
        raise BadInputError(_("{src} is not a readable PDF: {error}", src=src, error=e)) from e
    if writer.prev.encrypted:
        raise EncryptedInputError(_("{src} is encrypted; it cannot be signed as it is", src=src))
    if _has_signatures(writer.prev):
        raise SignedInputError(
            _("{src} already carries a digital signature; signing it again is not supported yet", src=src),
            hint=_("send the original scan instead"),
        )
    return writer


def _has_signatures(reader: PdfFileReader) -> bool:
    try:
        return bool(reader.embedded_signatures)
    except (PdfError, ValueError, KeyError, TypeError) as e:
        raise BadInputError(_("the signature fields of the input cannot be read: {error}", error=e)) from e


def _align_producer_with_xmp(writer: IncrementalPdfFileWriter) -> None:
    """Keep Info /Producer equal to XMP pdf:Producer, as PDF/A wants.

    When signing, pyHanko sets XMP pdf:Producer to exactly "pyHanko <version>"
    but appends "; pyHanko <version>" to Info /Producer; giving Info the same
    value first (in the signed revision) makes pyHanko leave it alone.
    """
    try:
        info_ref = writer.trailer.raw_get("/Info")
        info = info_ref.get_object()
    except (KeyError, PdfError):
        return
    if "/Metadata" in writer.root and "/Producer" in info:
        info["/Producer"] = TextStringObject(VENDOR)
        writer.mark_update(info_ref)


def _first_page_box(reader: PdfFileReader) -> tuple[float, float, float, float]:
    """The visible box (CropBox, else MediaBox) of page 1, as (x0, y0, x1, y1)."""
    try:
        page = reader.root["/Pages"]
        while "/Kids" in page:
            page = page["/Kids"][0].get_object()
        box = page.get("/CropBox") or _inherited(page, "/MediaBox")
    except (PdfError, KeyError, IndexError, TypeError) as e:
        raise BadInputError(_("the first page of the input cannot be read: {error}", error=e)) from e
    if not isinstance(box, ArrayObject) or len(box) != 4:
        raise BadInputError(_("the first page of the input has no page size (MediaBox)"))
    x0, y0, x1, y1 = (float(v) for v in box)
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def _first_page_rotation(reader: PdfFileReader) -> int:
    """Page 1's ``/Rotate`` (inherited): 0, 90, 180 or 270."""
    try:
        page = reader.root["/Pages"]
        while "/Kids" in page:
            page = page["/Kids"][0].get_object()
        return page_rotation(_inherited(page, "/Rotate"))
    except (PdfError, KeyError, IndexError, TypeError):
        return 0


def _first_page_ink(src: Path, page_box: tuple[float, float, float, float], timeout: float) -> PageInk:
    """Page 1 of ``src`` rendered, as ink; a page poppler cannot draw is bad input."""
    try:
        return render_ink(src, page_box, timeout=timeout)
    except (MissingToolError, ToolTimeoutError):
        raise
    except ToolError as e:
        raise BadInputError(
            _("page 1 of {name} cannot be drawn to find a free place for the signature: {error}",
              name=src.name, error=e.message)
        ) from e


def _grow_first_page(writer: IncrementalPdfFileWriter, page_box: tuple[float, float, float, float]) -> None:
    """Grow page 1 (MediaBox, and CropBox if any) to take in ``page_box``, in the signed revision: its top
    edge raised, or on a page with /Rotate the edge the reader sees at the top.

    Only the box grows: the page's content, the scan at 100% scale, stays where it was.
    """
    page_ref, _resources = writer.find_page_for_modification(0)
    page = page_ref.get_object()
    for key in ("/MediaBox", "/CropBox"):
        box = page.get(key) if key == "/CropBox" else _inherited(page, key)
        if box is None:
            continue
        x0, y0, x1, y1 = (float(v) for v in box)
        page[NameObject(key)] = ArrayObject(
            [FloatObject(min(x0, x1, page_box[0])), FloatObject(min(y0, y1, page_box[1])),
             FloatObject(max(x0, x1, page_box[2])), FloatObject(max(y0, y1, page_box[3]))]
        )
    writer.mark_update(page_ref)


def _inherited(page, key: str):
    node = page
    while node is not None:
        if key in node:
            return node[key]
        node = node.get("/Parent")
    raise KeyError(key)


def _sign(pdf_signer: signers.PdfSigner, writer: IncrementalPdfFileWriter, stamp: StampLayout) -> bytes:
    out = BytesIO()
    try:
        pdf_signer.sign_pdf(
            writer,
            output=out,
            appearance_text_params=stamp.text_params,
            bytes_reserved=_bytes_reserved(pdf_signer),
        )
    except TimestampRequestError as e:
        raise TimestampUnavailableError(_("the timestamp authority did not answer: {error}", error=_cause(e))) from e
    except (PyHankoSigningError, PdfError, LayoutError, ValueError, TypeError, KeyError) as e:
        raise SigningError(_("pyHanko could not sign the document: {error}", error=_cause(e))) from e
    return out.getvalue()


def _cause(e: BaseException) -> str:
    """The message of ``e`` and of the error under it (pyHanko wraps network errors)."""
    inner = e.__cause__ or e.__context__
    return f"{e} ({inner})" if inner is not None and str(inner) not in str(e) else str(e)


def _bytes_reserved(pdf_signer: signers.PdfSigner) -> int | None:
    """Room for the CMS blob (hex digits), so pyHanko need not sign a dummy to measure it.

    Without a timestamper the size is the certificates plus a few KB (signature
    value, signed attributes); with one, pyHanko's own estimate is used.
    """
    if pdf_signer.default_timestamper is not None:
        return None
    signer = pdf_signer.signer
    certs = [signer.signing_cert, *signer.cert_registry]
    return 2 * (sum(len(c.dump()) for c in certs) + 4096)


__all__ = ["PADES_LEVELS", "SignResult", "check_signable", "is_long_term", "resolve_level", "sign_pdf"]
